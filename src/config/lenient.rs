//! Numbers and booleans that also accept their text form, because environment overrides
//! always arrive as strings.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(i64),
    Text(String),
}

fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match NumberOrText::deserialize(d)? {
        NumberOrText::Number(n) => Ok(n),
        NumberOrText::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| D::Error::custom(format!("expected an integer, found {t:?}"))),
    }
}

pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    integer(d)
}

pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = integer(d)?;
    u64::try_from(n).map_err(|_| D::Error::custom(format!("expected a non-negative integer, found {n}")))
}

pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = integer(d)?;
    u32::try_from(n).map_err(|_| D::Error::custom(format!("expected a small non-negative integer, found {n}")))
}
