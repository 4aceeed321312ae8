//! Request parameters as sent: a list of pairs, so that repeated parameters can be refused
//! (RFC 6749 §3.1, §3.2).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

#[derive(Debug, Clone, Default)]
pub struct Params {
    values: HashMap<String, String>,
    /// The first parameter that appeared more than once.
    duplicate: Option<String>,
}

impl Params {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut params = Params::default();
        for (name, value) in pairs {
            match params.values.entry(name) {
                Entry::Occupied(seen) => {
                    params.duplicate.get_or_insert_with(|| seen.key().clone());
                }
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        }
        params
    }

    /// Parses an `application/x-www-form-urlencoded` string (a query or a form body).
    pub fn parse(encoded: &str) -> Self {
        Self::from_pairs(url::form_urlencoded::parse(encoded.as_bytes()).into_owned())
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn duplicate(&self) -> Option<&str> {
        self.duplicate.as_deref()
    }

    /// Every parameter but those named in `leave_out`, form-encoded (in no particular order).
    pub fn encode_without(&self, leave_out: &[&str]) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self
            .values
            .iter()
            .filter(|(name, _)| !leave_out.contains(&name.as_str()))
        {
            form.append_pair(name, value);
        }
        form.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_repeats_are_noticed() {
        let p = Params::parse("a=1&b=&c=x%20y&a=2");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert_eq!(p.duplicate(), Some("a"));
        assert_eq!(Params::parse("a=1").duplicate(), None);
    }
}
