//! Numbers, booleans and lists that also accept their text form, because environment overrides
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

/// A present value is a [`u32`] (a field with `#[serde(default)]` is `None` when absent).
pub fn some_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    u32(d).map(Some)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrText {
    Bool(bool),
    Text(String),
}

/// `true`/`false`, also as text (`DINGO_…=true`, `1`, `0`, `yes`, `no`).
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match BoolOrText::deserialize(d)? {
        BoolOrText::Bool(b) => Ok(b),
        BoolOrText::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(D::Error::custom(format!("expected true or false, found {t:?}"))),
        },
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrText {
    List(Vec<String>),
    Text(String),
}

/// A list of values parsed with `FromStr`, also given as text separated by commas or spaces
/// (`DINGO_KEYS__ALGORITHMS="RS256,ES256"`).
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err: std::fmt::Display>,
{
    let items = match ListOrText::deserialize(d)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    items
        .iter()
        .map(|item| item.trim().parse().map_err(D::Error::custom))
        .collect()
}
