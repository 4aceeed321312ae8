//! Signing keys: loaded from (or generated into) the key directory once, then held in memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

use super::{b64url, pem, sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use key directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a usable key: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("RSA key generation failed")]
    Generation,
    #[error("signing failed")]
    Signing,
}

/// An RS256 signing key, parsed once.
pub struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    public_jwk: serde_json::Value,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
        Ok(Self::from_pair(pair))
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| format!("not an RSA PKCS#8 key: {e}"))?;
        if pair.public_modulus_len() < 256 {
            return Err("RSA keys must have at least 2048 bits".into());
        }
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: RsaKeyPair) -> Self {
        let public = pair.public_key();
        let n = b64url(public.modulus().big_endian_without_leading_zero());
        let e = b64url(public.exponent().big_endian_without_leading_zero());
        let kid = rsa_thumbprint(&n, &e);
        let public_jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
        Self {
            kid,
            pair,
            public_jwk,
            rng: SystemRandom::new(),
        }
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> &'static str {
        "RS256"
    }

    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| KeyError::Signing)?;
        Ok(signature)
    }

    fn to_pem(&self) -> Result<String, KeyError> {
        let der = self.pair.as_der().map_err(|_| KeyError::Generation)?;
        Ok(pem::encode_private_key(der.as_ref()))
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    b64url(sha256(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#)))
}

/// Every key in the key directory; the newest (last by file name) signs.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
    jwks_json: Vec<u8>,
}

impl KeySet {
    /// Loads every `*.pem` in `dir`, generating one RSA-2048 key (mode 0600) when there is none.
    pub fn load_or_generate(dir: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        };
        create_private_dir(dir).map_err(io)?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .collect();
        paths.sort();
        let mut keys = Vec::with_capacity(paths.len().max(1));
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Io {
                path: path.clone(),
                source,
            })?;
            let key = pem::decode_private_key(&text)
                .and_then(|der| SigningKey::from_pkcs8(&der))
                .map_err(|reason| KeyError::Invalid { path, reason })?;
            keys.push(key);
        }
        if keys.is_empty() {
            let key = SigningKey::generate()?;
            let path = dir.join(format!("signing-{}.pem", &key.kid()[..12]));
            write_private_file(&path, &key.to_pem()?).map_err(|source| KeyError::Io { path, source })?;
            keys.push(key);
        }
        Ok(Self::from_keys(keys))
    }

    /// A key set of freshly generated keys that lives only in memory.
    pub fn generate_ephemeral() -> Result<Self, KeyError> {
        Ok(Self::from_keys(vec![SigningKey::generate()?]))
    }

    fn from_keys(keys: Vec<SigningKey>) -> Self {
        let jwks: Vec<_> = keys.iter().map(|k| k.public_jwk().clone()).collect();
        let jwks_json = serde_json::to_vec(&json!({ "keys": jwks })).unwrap_or_default();
        Self { keys, jwks_json }
    }

    /// The key that signs new tokens.
    pub fn signing_key(&self) -> &SigningKey {
        // `from_keys` is only ever given a non-empty list.
        &self.keys[self.keys.len() - 1]
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The JWKS document (RFC 7517), serialized once.
    pub fn jwks_json(&self) -> &[u8] {
        &self.jwks_json
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `contents` to `path` with mode 0600, through a temporary file and a rename so that a
/// crash never leaves half a key behind.
fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("pem.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(rsa_thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn a_key_is_generated_once_with_mode_0600_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        let first = KeySet::load_or_generate(&keys_dir).unwrap();
        let files: Vec<_> = std::fs::read_dir(&keys_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = KeySet::load_or_generate(&keys_dir).unwrap();
        assert_eq!(first.signing_key().kid(), again.signing_key().kid());
        let jwks: serde_json::Value = serde_json::from_slice(again.jwks_json()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], first.signing_key().kid());
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
    }

    #[test]
    fn a_broken_key_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
        let err = KeySet::load_or_generate(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.pem"), "{err}");
    }
}
