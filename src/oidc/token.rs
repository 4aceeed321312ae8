//! The token endpoint: client authentication and the authorization_code grant (RFC 6749 §4.1.3,
//! OIDC Core 3.1.3).

use serde::Serialize;
use serde_json::{Value, json};

use super::claims;
use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::{Client, Provider};
use crate::crypto::{b64url, constant_time_eq, jwt, random_token, sha256, token_hash};
use crate::store::{CodeRedemption, NewAccessToken};

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub scope: String,
}

fn invalid_request(description: impl Into<String>) -> OidcError {
    OidcError::new(ErrorCode::InvalidRequest, description)
}

fn invalid_grant(description: &str) -> OidcError {
    OidcError::new(ErrorCode::InvalidGrant, description)
}

impl Provider {
    /// Handles a token request. `basic` is the decoded `Authorization: Basic` header, if any.
    pub async fn token(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<TokenResponse, OidcError> {
        if let Some(name) = form.duplicate() {
            return Err(invalid_request(format!(
                "parameter `{name}` appears more than once"
            )));
        }
        let client = self.authenticate_client(form, basic)?;
        match form.get("grant_type") {
            None => Err(invalid_request("grant_type is missing")),
            Some("authorization_code") => self.authorization_code_grant(form, client).await,
            Some(_) => Err(OidcError::new(
                ErrorCode::UnsupportedGrantType,
                "only authorization_code is supported",
            )),
        }
    }

    /// RFC 6749 §2.3: exactly one method; public clients identify themselves without a secret.
    fn authenticate_client(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<&Client, OidcError> {
        let invalid_client =
            || OidcError::new(ErrorCode::InvalidClient, "client authentication failed");
        let (client_id, secret) = match (basic, form.get("client_secret")) {
            (Some(_), Some(_)) => {
                return Err(invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            (Some((id, secret)), None) => {
                if form.get("client_id").is_some_and(|form_id| form_id != id) {
                    return Err(invalid_request(
                        "client_id does not match the Authorization header",
                    ));
                }
                (id, Some(secret))
            }
            (None, secret) => {
                let id = form
                    .get("client_id")
                    .ok_or_else(|| invalid_request("client_id is missing"))?;
                (id.to_owned(), secret.map(str::to_owned))
            }
        };
        let client = self.clients.get(&client_id).ok_or_else(invalid_client)?;
        let authenticated = match (client.is_public(), secret) {
            (true, None) => true,
            (false, Some(secret)) => client.secret_matches(&secret),
            _ => false,
        };
        if authenticated {
            Ok(client)
        } else {
            Err(invalid_client())
        }
    }

    async fn authorization_code_grant(
        &self,
        form: &Params,
        client: &Client,
    ) -> Result<TokenResponse, OidcError> {
        let code = form
            .get("code")
            .ok_or_else(|| invalid_request("code is missing"))?;
        let now = self.clock.now();
        let redeemed = match self
            .db
            .redeem_authorization_code(&token_hash(code), now)
            .await?
        {
            CodeRedemption::Redeemed(redeemed) => redeemed,
            CodeRedemption::Replayed => {
                tracing::warn!(client = %client.id, "an authorization code was used twice; its tokens are revoked");
                return Err(invalid_grant(
                    "the authorization code has already been used",
                ));
            }
            CodeRedemption::Unknown => {
                return Err(invalid_grant("the authorization code is invalid"));
            }
        };
        if redeemed.client_id != client.id {
            return Err(invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if redeemed.expires_at <= now {
            return Err(invalid_grant("the authorization code has expired"));
        }
        if form.get("redirect_uri") != Some(redeemed.redirect_uri.as_str()) {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&redeemed.code_challenge, form.get("code_verifier")) {
            (Some(challenge), Some(verifier)) => {
                if !pkce_s256_matches(verifier, challenge) {
                    return Err(invalid_grant(
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "code_verifier given but no code_challenge was",
                ));
            }
            (None, None) => {}
        }
        let user = self.db.find_user(&redeemed.userid).await?.ok_or_else(|| {
            OidcError::internal(format!("user {} of a code is gone", redeemed.userid))
        })?;

        let access_token = random_token();
        self.db
            .insert_access_token(&NewAccessToken {
                token_hash: token_hash(&access_token),
                client_id: client.id.clone(),
                userid: redeemed.userid.clone(),
                scope: redeemed.scope.clone(),
                code_hash: Some(redeemed.code_hash.clone()),
                created_at: now,
                expires_at: now + self.ttl.access_token_ttl,
            })
            .await?;

        let scopes: Vec<&str> = redeemed.scope.split(' ').collect();
        let mut id_claims = claims::for_scopes(&user, &scopes, client, &self.identity);
        let mut put = |name: &str, value: Value| {
            id_claims.insert(name.to_owned(), value);
        };
        put("iss", json!(self.issuer));
        put("aud", json!(client.id));
        put("iat", json!(now));
        put("exp", json!(now + self.ttl.id_token_ttl));
        put("auth_time", json!(redeemed.auth_time));
        put("at_hash", json!(at_hash(&access_token)));
        if let Some(nonce) = &redeemed.nonce {
            put("nonce", json!(nonce));
        }
        let id_token = jwt::sign(&id_claims, self.keys.signing_key(), "JWT")?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.ttl.access_token_ttl,
            id_token,
            scope: redeemed.scope,
        })
    }
}

/// RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && constant_time_eq(b64url(sha256(verifier)).as_bytes(), challenge.as_bytes())
}

/// OIDC Core 3.1.3.6: base64url of the left half of SHA-256 of the access token (RS256).
fn at_hash(access_token: &str) -> String {
    b64url(&sha256(access_token)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_the_rfc_7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_s256_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_s256_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_s256_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // OIDC Core Appendix A.3 example.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
