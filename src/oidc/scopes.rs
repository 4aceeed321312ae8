//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive names, read once into a set that
//! keeps the order they were first given in and no repeats. Stored and sent as their text.

use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// The scopes of a `scope` parameter or a stored scope string (empty names are skipped).
    pub fn parse(text: &str) -> Self {
        let mut scopes = Self::default();
        for name in text.split(' ').filter(|s| !s.is_empty()) {
            scopes.insert(name);
        }
        scopes
    }

    /// Adds `name` unless it is there already.
    pub fn insert(&mut self, name: &str) {
        if !self.contains(name) {
            self.0.push(name.to_owned());
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|s| s == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_keep_their_first_order_and_drop_repeats_and_empty_names() {
        let scopes = Scopes::parse("openid  profile openid email ");
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["openid", "profile", "email"]);
        assert_eq!(scopes.to_string(), "openid profile email");
        assert!(
            scopes.contains("profile") && !scopes.contains("Profile"),
            "case-sensitive"
        );
        assert!(Scopes::parse("").is_empty());
    }
}
