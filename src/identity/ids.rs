//! Names of people and apps, as types: a userid cannot be passed where a unionid or a client id
//! is meant. Both are text on the wire and in the database.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }
    };
}

text_id!(
    /// A member's id within the organisation: immutable for one employment, dingo's default `sub`.
    UserId
);

text_id!(
    /// A registered app's `client_id`.
    ClientId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_text_on_the_wire_and_compare_with_text() {
        let userid = UserId::from("zhangsan");
        assert_eq!(
            serde_json::to_string(&userid).unwrap(),
            "\"zhangsan\"",
            "stored profiles keep their shape"
        );
        assert_eq!(serde_json::from_str::<UserId>("\"zhangsan\"").unwrap(), userid);
        let owned = String::from("zhangsan");
        assert_eq!(userid, "zhangsan");
        assert_eq!(*"zhangsan", userid);
        assert_eq!(userid, owned);
        assert_eq!(owned, userid);
        assert_eq!(ClientId::new("web-app").to_string(), "web-app");
    }
}
