//! The key-encryption key: private signing keys are stored only sealed under it, with
//! AES-256-GCM (a fresh random 96-bit nonce per seal) and the key's identity as associated data.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::{KeyError, b64url, b64url_decode, fill_random};

/// Length of a key-encryption key, in bytes.
pub const KEK_LEN: usize = 32;

/// Prefix of the sealed form, so that a later format can be told apart.
const VERSION: &str = "v1.";

/// AES-256-GCM key that seals and opens private keys.
pub struct Kek {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

impl Kek {
    /// A key from its 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != KEK_LEN {
            return Err(format!("must be {KEK_LEN} bytes, found {}", bytes.len()));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| "not an AES-256 key".to_owned())?;
        Ok(Self { key })
    }

    /// A key from base64 (standard or URL-safe, padding optional) of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| "not base64".to_owned())?;
        Self::new(&bytes)
    }

    /// 32 fresh random bytes, base64: a new key-encryption key in the form `from_base64` reads.
    pub fn generate_base64() -> String {
        let mut bytes = [0u8; KEK_LEN];
        fill_random(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// Encrypts `plaintext`, bound to `aad`: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, KeyError> {
        let mut in_out = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| KeyError::Seal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(nonce.as_ref());
        sealed.extend_from_slice(&in_out);
        Ok(format!("{VERSION}{}", b64url(sealed)))
    }

    /// Decrypts what [`Kek::seal`] produced with the same `aad`; any alteration is refused.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, KeyError> {
        let body = sealed.strip_prefix(VERSION).ok_or(KeyError::Unseal)?;
        let mut bytes = b64url_decode(body).ok_or(KeyError::Unseal)?;
        if bytes.len() < NONCE_LEN {
            return Err(KeyError::Unseal);
        }
        let mut in_out = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| KeyError::Unseal)?;
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| KeyError::Unseal)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> Kek {
        Kek::from_base64(&Kek::generate_base64()).unwrap()
    }

    #[test]
    fn sealing_round_trips_and_never_repeats() {
        let kek = kek();
        let a = kek.seal(b"private key", b"kid-1").unwrap();
        let b = kek.seal(b"private key", b"kid-1").unwrap();
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(a.starts_with("v1."));
        assert_eq!(kek.open(&a, b"kid-1").unwrap(), b"private key");
        assert_eq!(kek.open(&b, b"kid-1").unwrap(), b"private key");
    }

    #[test]
    fn a_tampered_ciphertext_is_refused() {
        let kek = kek();
        let sealed = kek.seal(b"private key", b"kid-1").unwrap();
        let mut bytes = b64url_decode(&sealed[3..]).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let altered = format!("v1.{}", b64url(&bytes));
            assert!(
                matches!(kek.open(&altered, b"kid-1"), Err(KeyError::Unseal)),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert!(kek.open(&sealed[..sealed.len() - 4], b"kid-1").is_err(), "truncated");
        assert!(kek.open("v1.", b"kid-1").is_err());
        assert!(kek.open("v2.AAAA", b"kid-1").is_err());
    }

    #[test]
    fn a_ciphertext_moved_to_another_key_id_or_opened_with_another_kek_is_refused() {
        let kek = kek();
        let sealed = kek.seal(b"private key", b"kid-1").unwrap();
        assert!(kek.open(&sealed, b"kid-2").is_err());
        assert!(self::kek().open(&sealed, b"kid-1").is_err());
    }

    #[test]
    fn only_32_bytes_of_base64_make_a_kek() {
        assert!(Kek::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(Kek::from_base64(&URL_SAFE_NO_PAD.encode([7u8; 32])).is_ok());
        assert!(
            Kek::from_base64(&STANDARD.encode([7u8; 16]))
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(Kek::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", kek()), "Kek([redacted])");
    }
}
