//! Compact JWS (RFC 7515): signing with dingo's keys, verifying what dingo signed.

use std::borrow::Borrow;

use serde::Serialize;

use super::{Alg, KeyError, KeySet, SigningKey, b64url};

/// Signs `claims` as a JWT with `key` (a `&SigningKey` or an `Arc<SigningKey>`), under the key's
/// own algorithm; `typ` goes into the header (e.g. "JWT").
pub fn sign<C: Serialize>(claims: &C, key: impl Borrow<SigningKey>, typ: &str) -> Result<String, KeyError> {
    let key = key.borrow();
    let header = serde_json::json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": typ});
    let header = serde_json::to_vec(&header).map_err(|_| KeyError::Signing)?;
    let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Signing)?;
    let mut token = b64url(header);
    token.push('.');
    token.push_str(&b64url(payload));
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&b64url(signature));
    Ok(token)
}

/// `at_hash` / `c_hash` (OIDC Core 3.1.3.6, 3.3.2.11) of `value` for a token signed with `alg`:
/// base64url of the left half of the algorithm's hash — SHA-256 for RS256 and ES256, SHA-512
/// for EdDSA with Ed25519 (what relying parties such as the `openidconnect` crate check).
pub fn half_hash(alg: Alg, value: &str) -> String {
    use aws_lc_rs::digest::{SHA256, SHA512, digest};
    let algorithm = match alg {
        Alg::RS256 | Alg::ES256 => &SHA256,
        Alg::EdDSA => &SHA512,
    };
    let hash = digest(algorithm, value.as_bytes());
    let bytes = hash.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

/// The `jsonwebtoken` verification key and algorithm for a published key.
pub fn decoding_key(key: &SigningKey) -> Option<(jsonwebtoken::DecodingKey, jsonwebtoken::Algorithm)> {
    use jsonwebtoken::{Algorithm, DecodingKey};
    let jwk = key.public_jwk();
    let member = |name: &str| jwk[name].as_str();
    match key.alg() {
        Alg::RS256 => Some((
            DecodingKey::from_rsa_components(member("n")?, member("e")?).ok()?,
            Algorithm::RS256,
        )),
        Alg::ES256 => Some((
            DecodingKey::from_ec_components(member("x")?, member("y")?).ok()?,
            Algorithm::ES256,
        )),
        Alg::EdDSA => Some((DecodingKey::from_ed_components(member("x")?).ok()?, Algorithm::EdDSA)),
    }
}

/// The `typ` of the ID tokens dingo signs; its access tokens are `at+jwt` and its logout tokens
/// `logout+jwt` (RFC 8725 §3.11: one token cannot pass for another).
pub const ID_TOKEN_TYP: &str = "JWT";

/// Verifies an ID token this provider signed (with any published key of `keys`, of any
/// algorithm) and returns its claims; a JWT access token or logout token is refused. The
/// header's `alg` must be the key's. Expiry is not checked: an ID token used as a hint may have
/// expired (OIDC Core 3.1.2.1).
pub fn verify_own_id_token(token: &str, keys: &KeySet, issuer: &str) -> Option<serde_json::Value> {
    use jsonwebtoken::{Validation, decode, decode_header};
    let header = decode_header(token).ok()?;
    if header.typ.as_deref() != Some(ID_TOKEN_TYP) {
        return None;
    }
    let key = keys.find(header.kid.as_deref()?)?;
    let (decoding, algorithm) = decoding_key(&key)?;
    if header.alg != algorithm {
        return None;
    }
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer]);
    let claims = decode::<serde_json::Value>(token, &decoding, &validation).ok()?.claims;
    // Belt and braces for tokens signed before `typ` told them apart.
    let not_an_id_token = claims.get("events").is_some() || claims.get("client_id").is_some();
    (!not_an_id_token).then_some(claims)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::crypto::{KeyTimes, ScheduledKey};
    use jsonwebtoken::{Validation, decode, decode_header};

    fn claims() -> serde_json::Value {
        serde_json::json!({"iss": "https://sso.example.com", "sub": "zhangsan", "aud": "app", "exp": 4_000_000_000u64})
    }

    #[test]
    fn a_signed_token_of_each_algorithm_verifies_with_the_published_public_key() {
        for alg in Alg::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let token = sign(&claims(), &key, "JWT").unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
            assert_eq!(format!("{:?}", header.alg), alg.as_str());
            let (decoding, algorithm) = decoding_key(&key).unwrap();
            let mut validation = Validation::new(algorithm);
            validation.set_audience(&["app"]);
            let decoded = decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(decoded.claims["sub"], "zhangsan", "{alg}");

            let tampered = token.replacen('.', ".e30", 1);
            assert!(
                decode::<serde_json::Value>(&tampered, &decoding, &validation).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn es256_signatures_are_the_fixed_64_byte_form() {
        let key = SigningKey::generate(Alg::ES256).unwrap();
        let token = sign(&claims(), Arc::new(key), "JWT").unwrap();
        let signature = crate::crypto::b64url_decode(token.rsplit('.').next().unwrap()).unwrap();
        assert_eq!(signature.len(), 64);
    }

    #[test]
    fn half_hashes_use_the_hash_of_the_algorithm() {
        // OIDC Core A.3's access token and its at_hash (RS256).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(half_hash(Alg::RS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(half_hash(Alg::ES256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        let sha512 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, token.as_bytes());
        assert_eq!(half_hash(Alg::EdDSA, token), b64url(&sha512.as_ref()[..32]));
        assert_eq!(half_hash(Alg::EdDSA, token).len(), 43);
    }

    fn key_set() -> (KeySet, Vec<Arc<SigningKey>>) {
        let keys: Vec<_> = Alg::ALL
            .into_iter()
            .map(|alg| Arc::new(SigningKey::generate(alg).unwrap()))
            .collect();
        let scheduled = keys
            .iter()
            .map(|key| ScheduledKey {
                key: key.clone(),
                times: KeyTimes {
                    created_at: 0,
                    activates_at: 0,
                    retires_at: None,
                    removed_at: None,
                },
            })
            .collect();
        (KeySet::new(scheduled, 10, 60).unwrap(), keys)
    }

    #[test]
    fn verify_own_accepts_tokens_of_every_published_key_and_checks_the_issuer() {
        let (set, keys) = key_set();
        for key in &keys {
            let token = sign(&claims(), key.clone(), "JWT").unwrap();
            let verified = verify_own_id_token(&token, &set, "https://sso.example.com");
            assert_eq!(verified.unwrap()["sub"], "zhangsan", "{}", key.alg());
            assert!(verify_own_id_token(&token, &set, "https://other.example.com").is_none());
        }
    }

    #[test]
    fn verify_own_refuses_unknown_keys_and_forged_headers() {
        let (set, keys) = key_set();
        let stranger = SigningKey::generate(Alg::ES256).unwrap();
        let token = sign(&claims(), &stranger, "JWT").unwrap();
        assert!(verify_own_id_token(&token, &set, "https://sso.example.com").is_none());
        // A header naming a published kid but another algorithm.
        let ed = &keys[2];
        let header = serde_json::json!({"alg": "ES256", "kid": ed.kid(), "typ": "JWT"});
        let mut forged = format!(
            "{}.{}",
            b64url(serde_json::to_vec(&header).unwrap()),
            b64url(serde_json::to_vec(&claims()).unwrap())
        );
        let signature = ed.sign(forged.as_bytes()).unwrap();
        forged = format!("{forged}.{}", b64url(signature));
        assert!(verify_own_id_token(&forged, &set, "https://sso.example.com").is_none());
        assert!(verify_own_id_token("not.a.jwt", &set, "https://sso.example.com").is_none());
    }

    #[test]
    fn only_id_tokens_pass_as_id_tokens() {
        let (set, keys) = key_set();
        let issuer = "https://sso.example.com";
        for typ in ["at+jwt", "logout+jwt", "jwt"] {
            let token = sign(&claims(), keys[0].clone(), typ).unwrap();
            assert!(verify_own_id_token(&token, &set, issuer).is_none(), "{typ}");
        }
        let mut access = claims();
        access["client_id"] = "app".into();
        let token = sign(&access, keys[0].clone(), ID_TOKEN_TYP).unwrap();
        assert!(
            verify_own_id_token(&token, &set, issuer).is_none(),
            "claims of an access token"
        );
    }
}
