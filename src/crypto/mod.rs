//! Keys, JWTs, randomness and hashing. Every private-key operation goes through aws-lc-rs, over
//! keys parsed once when loaded.

pub mod jwt;
pub mod kek;
pub mod keys;
mod keyset;
mod pem;
pub mod schedule;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use kek::Kek;
pub use keys::{Alg, KeyError, SigningKey};
pub use keyset::{KeySet, ScheduledKey};
pub use schedule::{KeyState, KeyTimes, Schedule};

/// base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// SHA-256 of `data`, raw.
pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    let d = digest(&SHA256, data.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let tag = aws_lc_rs::hmac::sign(&key, message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// SHA-256 of `data` as lower-case hex: how client secrets are configured.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    sha256(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The form in which codes, tokens and browser bindings are stored: base64url(SHA-256).
pub fn token_hash(token: &str) -> String {
    b64url(sha256(token))
}

/// The stored form of a code, token, session cookie or login state, which is what the store looks
/// them up by: made from the presented value ([`TokenHash::of`]), so that a raw token can never
/// be passed where its hash is meant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// The hash of a presented code, token, cookie or state.
    pub fn of(presented: &str) -> Self {
        Self(token_hash(presented))
    }

    /// A value that already is a hash: read back from a row.
    pub fn stored(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh unguessable token: 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    b64url(bytes)
}

/// Fills `out` from the operating system's generator. A failing generator leaves the process
/// unable to issue anything safely, so this is the one place that aborts.
pub fn fill_random(out: &mut [u8]) {
    if SystemRandom::new().fill(out).is_err() {
        // Aborting beats issuing predictable tokens.
        std::process::abort();
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_hash_is_made_from_the_presented_value_and_is_what_is_stored() {
        let presented = "a-presented-code";
        assert_eq!(TokenHash::of(presented).as_str(), token_hash(presented));
        assert_ne!(TokenHash::of(presented).as_str(), presented);
        assert_eq!(TokenHash::stored(token_hash(presented)), TokenHash::of(presented));
    }

    #[test]
    fn sha256_hex_matches_the_known_digest_of_abc() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_tells_equal_from_different() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
    }
}
