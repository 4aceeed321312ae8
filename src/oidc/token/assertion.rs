//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OIDC Core 9).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::super::error::{ErrorCode, OidcError};
use super::super::{Client, ClientKeys, ClientKind, Provider, paths};
use crate::crypto::b64url_decode;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Where `jwks_uri` documents come from (the HTTP fetching lives outside the protocol code).
pub trait JwksSource: Send + Sync + std::fmt::Debug {
    /// The JWKS document at `uri`; `fresh` bypasses any cache (a key may have been added).
    fn fetch<'a>(
        &'a self,
        uri: &'a str,
        fresh: bool,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;
}

fn invalid_client(why: &str) -> OidcError {
    let mut e = OidcError::new(ErrorCode::InvalidClient, "client authentication failed");
    e.cause = Some(why.to_owned());
    e
}

impl Provider {
    /// Authenticates the client whose signed assertion this is.
    pub(crate) async fn authenticate_assertion(
        &self,
        assertion: &str,
        client_id: Option<&str>,
    ) -> Result<Arc<Client>, OidcError> {
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| invalid_client("malformed assertion header"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA) {
            return Err(invalid_client("assertion algorithm not accepted"));
        }
        let issuer = unverified_issuer(assertion).ok_or_else(|| invalid_client("assertion without iss"))?;
        if client_id.is_some_and(|id| id != issuer) {
            return Err(OidcError::new(
                ErrorCode::InvalidRequest,
                "client_id does not match the assertion",
            ));
        }
        let client = self
            .clients
            .get(&issuer)
            .ok_or_else(|| invalid_client("unknown client"))?;
        let ClientKind::PrivateKeyJwt(keys) = &client.kind else {
            return Err(invalid_client("the client is not registered for private_key_jwt"));
        };
        let key = self.assertion_key(keys, header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = 30;
        validation.set_issuer(&[&client.id]);
        validation.set_audience(&[self.url(paths::TOKEN), self.issuer.clone()]);
        validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
        let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
            .map_err(|e| invalid_client(&format!("assertion rejected: {e}")))?
            .claims;
        if claims["sub"].as_str() != Some(client.id.as_str()) {
            return Err(invalid_client("assertion sub is not the client"));
        }
        let jti = claims["jti"]
            .as_str()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| invalid_client("assertion without jti"))?;
        let exp = claims["exp"].as_i64().unwrap_or_default();
        if !self.db.record_client_assertion(&client.id, jti, exp + 60).await? {
            tracing::warn!(client = %client.id, "a client assertion was replayed");
            return Err(invalid_client("assertion replayed"));
        }
        Ok(client)
    }

    /// The client's key for `kid` (or its only key fitting `alg`); a `jwks_uri` is fetched
    /// again once when the key is not found, since clients add keys when they rotate.
    async fn assertion_key(
        &self,
        keys: &ClientKeys,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, OidcError> {
        let find = |document: &str| -> Option<DecodingKey> {
            let set: JwkSet = serde_json::from_str(document).ok()?;
            let fits = |jwk: &&Jwk| match kid {
                Some(kid) => jwk.common.key_id.as_deref() == Some(kid),
                None => jwk.is_supported() && DecodingKey::from_jwk(jwk).is_ok_and(|_| key_fits(jwk, alg)),
            };
            set.keys
                .iter()
                .find(fits)
                .and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
        };
        match keys {
            ClientKeys::Inline(document) => find(document).ok_or_else(|| invalid_client("no matching client key")),
            ClientKeys::Uri(uri) => {
                for fresh in [false, true] {
                    let document = self.jwks_source.fetch(uri, fresh).await.map_err(|e| {
                        let mut err = OidcError::new(ErrorCode::InvalidClient, "the client's keys cannot be fetched");
                        err.cause = Some(e);
                        err
                    })?;
                    if let Some(key) = find(&document) {
                        return Ok(key);
                    }
                }
                Err(invalid_client("no matching client key"))
            }
        }
    }
}

fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    matches!(
        (&jwk.algorithm, alg),
        (P::RSA(_), Algorithm::RS256)
            | (P::EllipticCurve(_), Algorithm::ES256)
            | (P::OctetKeyPair(_), Algorithm::EdDSA)
    )
}

/// The `iss` of a JWT before its signature is checked: only to know whose keys to check it with.
fn unverified_issuer(jwt: &str) -> Option<String> {
    let payload = b64url_decode(jwt.split('.').nth(1)?)?;
    let claims: Value = serde_json::from_slice(&payload).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}
