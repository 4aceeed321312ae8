//! Signing keys of the three JWS algorithms dingo signs with, each parsed once and signing
//! through aws-lc-rs; their public JWKs carry the RFC 7638 thumbprint as `kid`.

use std::path::PathBuf;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use serde_json::json;

use super::{b64url, pem, sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot use key directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a usable key: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{0} key generation failed")]
    Generation(Alg),
    #[error("signing failed")]
    Signing,
    #[error("cannot serialize the private key")]
    Export,
    #[error("encryption under the key-encryption key failed")]
    Seal,
    #[error(
        "cannot decrypt a private key: the key-encryption key is not the one it was sealed with, or the data was altered"
    )]
    Unseal,
    #[error("no {0} key signs at this time")]
    NoSigningKey(Alg),
}

/// A JWS signing algorithm dingo signs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048: what every relying party supports (the default).
    #[default]
    RS256,
    /// ECDSA on P-256 with SHA-256; the signature is r‖s, 64 bytes.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// Every algorithm, in the order keys are listed and published.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name (`alg` header and JWK member).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = String;

    /// The JOSE name, exactly (`RS256`, `ES256`, `EdDSA`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown signing algorithm {s:?} (RS256, ES256 or EdDSA)"))
    }
}

impl serde::Serialize for Alg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Alg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key, parsed once, with its public JWK.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    public_jwk: serde_json::Value,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key: RSA-2048, P-256 or Ed25519.
    pub fn generate(alg: Alg) -> Result<Self, KeyError> {
        let failed = |_| KeyError::Generation(alg);
        let pair = match alg {
            Alg::RS256 => Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?),
            Alg::ES256 => Pair::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?),
            Alg::EdDSA => Pair::Ed(Ed25519KeyPair::generate().map_err(failed)?),
        };
        Self::from_pair(pair).map_err(|_| KeyError::Generation(alg))
    }

    /// Parses an unencrypted PKCS#8 key of `alg`.
    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> Result<Self, String> {
        let pair = match alg {
            Alg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| format!("not an RSA PKCS#8 key: {e}"))?;
                if pair.public_modulus_len() < 256 {
                    return Err("RSA keys must have at least 2048 bits".into());
                }
                Pair::Rsa(pair)
            }
            Alg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| format!("not a P-256 PKCS#8 key: {e}"))?,
            ),
            Alg::EdDSA => {
                Pair::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}"))?)
            }
        };
        Self::from_pair(pair)
    }

    /// Parses an unencrypted PKCS#8 key of whichever of the three algorithms it is.
    pub fn from_pkcs8_any(der: &[u8]) -> Result<Self, String> {
        Alg::ALL
            .into_iter()
            .find_map(|alg| Self::from_pkcs8(alg, der).ok())
            .ok_or_else(|| "not an RSA (2048 bits or more), P-256 or Ed25519 PKCS#8 key".into())
    }

    /// Parses a PEM `PRIVATE KEY` (PKCS#8) of `alg`, or of any algorithm when `alg` is `None`.
    pub fn from_pem(text: &str, alg: Option<Alg>) -> Result<Self, String> {
        let der = pem::decode_private_key(text)?;
        match alg {
            Some(alg) => Self::from_pkcs8(alg, &der),
            None => Self::from_pkcs8_any(&der),
        }
    }

    fn from_pair(pair: Pair) -> Result<Self, String> {
        let (alg, kid, public_jwk) = match &pair {
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                let n = b64url(public.modulus().big_endian_without_leading_zero());
                let e = b64url(public.exponent().big_endian_without_leading_zero());
                let kid = rsa_thumbprint(&n, &e);
                let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
                (Alg::RS256, kid, jwk)
            }
            Pair::Ec(pair) => {
                // X9.62 uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each on P-256.
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err("unexpected P-256 public key encoding".into());
                }
                let (x, y) = (b64url(&point[1..33]), b64url(&point[33..]));
                let kid = ec_thumbprint(&x, &y);
                let jwk = json!({
                    "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256", "x": x, "y": y
                });
                (Alg::ES256, kid, jwk)
            }
            Pair::Ed(pair) => {
                let x = b64url(pair.public_key().as_ref());
                let kid = okp_thumbprint(&x);
                let jwk = json!({"kty": "OKP", "use": "sig", "alg": "EdDSA", "kid": kid, "crv": "Ed25519", "x": x});
                (Alg::EdDSA, kid, jwk)
            }
        };
        Ok(Self {
            kid,
            alg,
            pair,
            public_jwk,
            rng: SystemRandom::new(),
        })
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public JWK (no private member), with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// The JWS signature of `message` under this key's algorithm.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
                    .map_err(|_| KeyError::Signing)?;
                Ok(signature)
            }
            Pair::Ec(pair) => Ok(pair
                .sign(&self.rng, message)
                .map_err(|_| KeyError::Signing)?
                .as_ref()
                .to_vec()),
            Pair::Ed(pair) => Ok(pair.try_sign(message).map_err(|_| KeyError::Signing)?.as_ref().to_vec()),
        }
    }

    /// The private key as unencrypted PKCS#8 v1 DER. Handle with care.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        let der = match &self.pair {
            Pair::Rsa(pair) => pair.as_der().map_err(|_| KeyError::Export)?.as_ref().to_vec(),
            Pair::Ec(pair) => pair.to_pkcs8v1().map_err(|_| KeyError::Export)?.as_ref().to_vec(),
            Pair::Ed(pair) => pair.to_pkcs8v1().map_err(|_| KeyError::Export)?.as_ref().to_vec(),
        };
        Ok(der)
    }

    /// The private key as a PEM `PRIVATE KEY` block (what OpenSSL and `dingo keys import` read).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        Ok(pem::encode_private_key(&self.to_pkcs8()?))
    }
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    b64url(sha256(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#)))
}

/// RFC 7638 thumbprint of a P-256 public key (members `crv`, `kty`, `x`, `y`).
pub fn ec_thumbprint(x: &str, y: &str) -> String {
    b64url(sha256(format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)))
}

/// RFC 7638 thumbprint of an Ed25519 public key (members `crv`, `kty`, `x`; RFC 8037 §2).
pub fn okp_thumbprint(x: &str) -> String {
    b64url(sha256(format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#)))
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
    fn okp_thumbprint_matches_the_rfc_8037_example() {
        // RFC 8037 Appendix A.3.
        assert_eq!(
            okp_thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn ec_thumbprint_hashes_crv_kty_x_y_in_that_order() {
        // The RFC 7517 Appendix A.1 EC key, hashed by hand from its canonical form.
        let (x, y) = (
            "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        );
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        assert_eq!(ec_thumbprint(x, y), b64url(sha256(canonical)));
        assert_eq!(ec_thumbprint(x, y), "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
    }

    /// jsonwebtoken's own RFC 7638 implementation agrees with ours for every key type.
    #[test]
    fn every_kid_is_the_thumbprint_jsonwebtoken_computes() {
        use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let jwk: Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
            assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256), key.kid(), "{alg}");
        }
    }

    #[test]
    fn public_jwks_carry_the_members_of_their_key_type_and_no_private_part() {
        let members = |alg| {
            let key = SigningKey::generate(alg).unwrap();
            let mut names: Vec<String> = key.public_jwk().as_object().unwrap().keys().cloned().collect();
            names.sort();
            (key.public_jwk().clone(), names.join(","))
        };
        let (rsa, names) = members(Alg::RS256);
        assert_eq!(names, "alg,e,kid,kty,n,use");
        assert_eq!((rsa["kty"].as_str(), rsa["alg"].as_str()), (Some("RSA"), Some("RS256")));
        let (ec, names) = members(Alg::ES256);
        assert_eq!(names, "alg,crv,kid,kty,use,x,y");
        assert_eq!((ec["kty"].as_str(), ec["crv"].as_str()), (Some("EC"), Some("P-256")));
        let (okp, names) = members(Alg::EdDSA);
        assert_eq!(names, "alg,crv,kid,kty,use,x");
        assert_eq!(
            (okp["kty"].as_str(), okp["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
    }

    #[test]
    fn a_key_survives_pkcs8_and_pem_with_its_kid() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let again = SigningKey::from_pkcs8(alg, &key.to_pkcs8().unwrap()).unwrap();
            assert_eq!(again.kid(), key.kid());
            let detected = SigningKey::from_pem(&key.to_pem().unwrap(), None).unwrap();
            assert_eq!((detected.alg(), detected.kid()), (alg, key.kid()));
        }
    }

    #[test]
    fn a_key_of_another_algorithm_is_refused() {
        let ec = SigningKey::generate(Alg::ES256).unwrap().to_pkcs8().unwrap();
        assert!(SigningKey::from_pkcs8(Alg::RS256, &ec).is_err());
        assert!(SigningKey::from_pkcs8(Alg::EdDSA, &ec).is_err());
        assert!(SigningKey::from_pkcs8_any(b"junk").is_err());
    }

    #[test]
    fn signatures_have_the_jws_sizes() {
        let size = |alg| {
            let key = SigningKey::generate(alg).unwrap();
            key.sign(b"message").unwrap().len()
        };
        assert_eq!(size(Alg::RS256), 256);
        assert_eq!(size(Alg::ES256), 64, "ES256 is r||s, not DER");
        assert_eq!(size(Alg::EdDSA), 64);
    }

    #[test]
    fn algorithm_names_round_trip_exactly() {
        for alg in Alg::ALL {
            assert_eq!(alg.as_str().parse::<Alg>().unwrap(), alg);
        }
        assert!("rs256".parse::<Alg>().is_err());
        assert!("HS256".parse::<Alg>().is_err());
    }
}
