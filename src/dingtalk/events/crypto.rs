//! The crypto of DingTalk's HTTP event push (DINGTALK-EVENTS.md §2.3–2.5): a SHA-1 signature
//! over the sorted `[token, timestamp, nonce, encrypt]`, and AES-256-CBC over
//! `random(16) ‖ len(4, big-endian) ‖ message ‖ owner key`, padded PKCS#7-style to 32 bytes.
//! The simulator pushes with the same code; the published vectors (§2.8) keep both honest.

use aws_lc_rs::cipher::{
    AES_256, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::digest;
use aws_lc_rs::iv::FixedLength;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose::STANDARD};

use crate::config::Secret;

/// DingTalk pads to 32-byte blocks, not AES's 16 (§2.3.4).
const BLOCK: usize = 32;
const RANDOM_LEN: usize = 16;

/// Real EncodingAESKeys often carry stray bits in their last character (§2.3.1): they are
/// discarded, as DingTalk's own libraries do.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a push could not be read. Never holds the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the EncodingAESKey must be 43 letters or digits")]
    BadAesKey,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the ciphertext is not valid base64 of whole AES blocks")]
    BadCiphertext,
    #[error("the decrypted message is malformed")]
    Malformed,
    /// The message was encrypted for another app or organisation (DingTalk's 900010).
    #[error("the message names another owner key")]
    WrongOwner,
}

/// A decrypted push: its message and the owner key it was encrypted for.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    pub message: String,
    pub owner: String,
}

/// The token and AES key of an app's event subscription.
#[derive(Clone)]
pub struct CallbackCrypto {
    token: Secret,
    key: [u8; 32],
}

impl std::fmt::Debug for CallbackCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackCrypto").finish_non_exhaustive()
    }
}

impl CallbackCrypto {
    /// `token` and the 43-character `EncodingAESKey` from the developer console.
    pub fn new(token: &str, encoding_aes_key: &str) -> Result<Self, CryptoError> {
        if encoding_aes_key.len() != 43 || !encoding_aes_key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CryptoError::BadAesKey);
        }
        let bytes = LENIENT
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::BadAesKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadAesKey)?;
        Ok(Self {
            token: Secret::new(token),
            key,
        })
    }

    /// Lowercase hex SHA-1 of the four strings sorted and joined (§2.4).
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        let mut parts = [self.token.expose(), timestamp, nonce, encrypt];
        parts.sort_unstable();
        let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, parts.concat().as_bytes());
        hash.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks `signature` over the raw `encrypt`, then decrypts it.
    pub fn open(&self, signature: &str, timestamp: &str, nonce: &str, encrypt: &str) -> Result<Opened, CryptoError> {
        let expected = self.signature(timestamp, nonce, encrypt);
        if !crate::crypto::constant_time_eq(expected.as_bytes(), signature.to_ascii_lowercase().as_bytes()) {
            return Err(CryptoError::BadSignature);
        }
        self.decrypt(encrypt)
    }

    /// Decrypts `encrypt` (base64; whitespace ignored) and splits the plaintext (§2.3.3).
    pub fn decrypt(&self, encrypt: &str) -> Result<Opened, CryptoError> {
        let compact: String = encrypt.chars().filter(|c| !c.is_whitespace()).collect();
        let mut buffer = STANDARD.decode(compact).map_err(|_| CryptoError::BadCiphertext)?;
        if buffer.is_empty() || buffer.len() % 16 != 0 {
            return Err(CryptoError::BadCiphertext);
        }
        let key = UnboundCipherKey::new(&AES_256, &self.key).map_err(|_| CryptoError::BadAesKey)?;
        let decrypting = DecryptingKey::cbc(key).map_err(|_| CryptoError::BadAesKey)?;
        let plain = decrypting
            .decrypt(&mut buffer, DecryptionContext::Iv128(FixedLength::from(self.iv())))
            .map_err(|_| CryptoError::BadCiphertext)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::Malformed)?);
        if pad == 0 || pad > BLOCK || pad > plain.len() {
            return Err(CryptoError::Malformed);
        }
        let body = &plain[..plain.len() - pad];
        let (header, rest) = body.split_at_checked(RANDOM_LEN + 4).ok_or(CryptoError::Malformed)?;
        let length = u32::from_be_bytes([header[16], header[17], header[18], header[19]]) as usize;
        let (message, owner) = rest.split_at_checked(length).ok_or(CryptoError::Malformed)?;
        Ok(Opened {
            message: String::from_utf8(message.to_vec()).map_err(|_| CryptoError::Malformed)?,
            owner: String::from_utf8(owner.to_vec()).map_err(|_| CryptoError::Malformed)?,
        })
    }

    /// Decrypts and checks that the message was meant for one of `owners` (in order; the
    /// first that matches is returned with the message).
    pub fn open_for<'a>(
        &self,
        owners: &[&'a str],
        signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<(String, &'a str), CryptoError> {
        let opened = self.open(signature, timestamp, nonce, encrypt)?;
        owners
            .iter()
            .find(|owner| **owner == opened.owner)
            .map(|owner| (opened.message, *owner))
            .ok_or(CryptoError::WrongOwner)
    }

    /// Encrypts `message` for `owner` with the 16-byte `random` prefix, padded to 32 bytes.
    pub fn encrypt_with(&self, random: &[u8; RANDOM_LEN], message: &str, owner: &str) -> String {
        let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
        let mut buffer = Vec::with_capacity(RANDOM_LEN + 4 + message.len() + owner.len() + BLOCK);
        buffer.extend_from_slice(random);
        buffer.extend_from_slice(&length.to_be_bytes());
        buffer.extend_from_slice(message.as_bytes());
        buffer.extend_from_slice(owner.as_bytes());
        let pad = BLOCK - buffer.len() % BLOCK;
        buffer.resize(buffer.len() + pad, pad as u8);
        let encrypted = UnboundCipherKey::new(&AES_256, &self.key)
            .and_then(EncryptingKey::cbc)
            .and_then(|key| key.less_safe_encrypt(&mut buffer, EncryptionContext::Iv128(FixedLength::from(self.iv()))));
        match encrypted {
            Ok(_) => STANDARD.encode(&buffer),
            // A 32-byte key and whole blocks cannot fail; an empty answer fails verification.
            Err(_) => String::new(),
        }
    }

    /// Encrypts `message` for `owner` with a random prefix of 16 letters and digits, as
    /// DingTalk's libraries do.
    pub fn encrypt(&self, message: &str, owner: &str) -> String {
        let mut random = [0u8; RANDOM_LEN];
        crate::crypto::fill_random(&mut random);
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        for byte in &mut random {
            *byte = ALPHABET[usize::from(*byte) % ALPHABET.len()];
        }
        self.encrypt_with(&random, message, owner)
    }

    /// The reply DingTalk expects (§2.5): `success`, encrypted for `owner` and signed.
    pub fn success_reply(&self, owner: &str, timestamp: &str, nonce: &str) -> serde_json::Value {
        let encrypt = self.encrypt("success", owner);
        serde_json::json!({
            "msg_signature": self.signature(timestamp, nonce, &encrypt),
            "timeStamp": timestamp,
            "nonce": nonce,
            "encrypt": encrypt,
        })
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }
}

#[cfg(test)]
mod tests;
