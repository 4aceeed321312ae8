//! Compact JWS (RFC 7515) signing.

use serde::Serialize;

use super::{KeyError, SigningKey, b64url};

/// Signs `claims` as a JWT with `key`; `typ` goes into the header (e.g. "JWT").
pub fn sign<C: Serialize>(claims: &C, key: &SigningKey, typ: &str) -> Result<String, KeyError> {
    let header = serde_json::json!({"alg": key.alg(), "kid": key.kid(), "typ": typ});
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

/// Verifies a JWT this provider signed (with any key of `keys`) and returns its claims. Expiry
/// is not checked: an ID token used as a hint may have expired (OIDC Core 3.1.2.1).
pub fn verify_own(token: &str, keys: &super::KeySet, issuer: &str) -> Option<serde_json::Value> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let header = decode_header(token).ok()?;
    let kid = header.kid?;
    let key = keys.keys().iter().find(|k| k.kid() == kid)?;
    let jwk = key.public_jwk();
    let decoding = DecodingKey::from_rsa_components(jwk["n"].as_str()?, jwk["e"].as_str()?).ok()?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer]);
    decode::<serde_json::Value>(token, &decoding, &validation)
        .ok()
        .map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

    #[test]
    fn a_signed_token_verifies_with_the_published_public_key() {
        let key = SigningKey::generate().unwrap();
        let claims = serde_json::json!({"sub": "zhangsan", "aud": "app", "exp": 4_000_000_000u64});
        let token = sign(&claims, &key, "JWT").unwrap();
        let jwk = key.public_jwk();
        let decoding =
            DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["app"]);
        let decoded = decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(decoded.claims["sub"], "zhangsan");
        assert_eq!(decode_header(&token).unwrap().kid.as_deref(), Some(key.kid()));

        let tampered = token.replacen('.', ".e30", 1);
        assert!(decode::<serde_json::Value>(&tampered, &decoding, &validation).is_err());
    }
}
