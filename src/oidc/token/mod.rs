//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; OIDC Core 3.1.3, 12): client authentication,
//! the authorization_code and refresh_token grants, and what both issue.

mod assertion;
mod client_auth;
mod client_credentials;
mod code;
mod device_code;
mod grant_type;
mod refresh;
mod token_exchange;

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::audit::Audit;
use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::{Client, Provider, Scopes, claims};
use crate::crypto::{Alg, KeyError, SigningKey, b64url, jwt, random_token, token_hash};
use crate::identity::Upstream;
use crate::store::{Checkout, NewAccessToken, RefreshToken, UserRecord};
pub use assertion::{ASSERTION_TYPE, JwksSource};
pub use grant_type::GrantType;

#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    /// Only when a person logged in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// What a token exchange issued (RFC 8693 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

/// Shows what was issued, never the tokens themselves.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]"))
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn invalid_request(description: impl Into<String>) -> OidcError {
    OidcError::new(ErrorCode::InvalidRequest, description)
}

fn invalid_grant(description: &str) -> OidcError {
    OidcError::new(ErrorCode::InvalidGrant, description)
}

/// Whom a grant's tokens are about.
#[derive(Clone, Copy)]
enum Subject<'a> {
    /// A person who logged in: the tokens carry them, and an ID token describes them.
    Person(&'a UserRecord),
    /// The client itself (client credentials): no person, no ID token.
    Client,
    /// A person's access token traded for this client (token exchange): the tokens carry the
    /// person, but nobody logged in here, so no ID token.
    OnBehalfOf(&'a UserRecord),
}

impl<'a> Subject<'a> {
    fn person(&self) -> Option<&'a UserRecord> {
        match *self {
            Subject::Person(user) | Subject::OnBehalfOf(user) => Some(user),
            Subject::Client => None,
        }
    }
}

/// What a grant hands out, whatever the grant.
struct Grant<'a> {
    client: &'a Client,
    subject: Subject<'a>,
    scope: &'a str,
    auth_time: i64,
    nonce: Option<&'a str>,
    sid: Option<&'a str>,
    route: &'a str,
    code_hash: Option<&'a str>,
    refresh: Option<GrantedRefresh>,
    /// The resource server a JWT access token is for (its `aud`, RFC 9068 §3); the client
    /// itself when none is named.
    audience: Option<&'a str>,
}

/// The refresh token a grant returns.
struct GrantedRefresh {
    token: String,
    family_id: String,
    /// Its row, when it is new and stored with the access token (a rotated successor is stored
    /// before the rotation instead).
    new_row: Option<RefreshToken>,
}

/// The `resource` asked for (RFC 8707), which must be one the client registered in
/// `resources`; without one, the first of those (its default audience), if any.
fn audience(form: &Params, client: &Client) -> Result<Option<String>, OidcError> {
    let Some(resource) = form.get("resource") else {
        return Ok(client.resources.first().cloned());
    };
    let absolute = url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
    if !absolute {
        return Err(OidcError::new(
            ErrorCode::InvalidTarget,
            "resource must be an absolute URI without a fragment",
        ));
    }
    if !client.resources.iter().any(|r| r == resource) {
        return Err(OidcError::new(
            ErrorCode::InvalidTarget,
            "this client may not ask for tokens for that resource",
        ));
    }
    Ok(Some(resource.to_owned()))
}

impl Provider {
    /// Handles a token request. `basic` is the decoded `Authorization: Basic` header, if any.
    pub async fn token(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
        upstream: &impl Upstream,
    ) -> Result<TokenResponse, OidcError> {
        if let Some(name) = form.duplicate() {
            return Err(invalid_request(format!("parameter `{name}` appears more than once")));
        }
        let client = self.authenticate_client(form, basic).await?;
        let grant = match form.get("grant_type") {
            None => return Err(invalid_request("grant_type is missing")),
            Some(name) => GrantType::parse(name).ok_or_else(|| {
                OidcError::new(
                    ErrorCode::UnsupportedGrantType,
                    format!("supported grants: {}", GrantType::names().join(", ")),
                )
            })?,
        };
        if !client.may_use(grant) {
            return Err(OidcError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {} grant", grant.as_str()),
            ));
        }
        let audience = audience(form, &client)?;
        let audience = audience.as_deref();
        let issued = match grant {
            GrantType::AuthorizationCode => self.authorization_code_grant(form, &client, audience).await,
            GrantType::RefreshToken => self.refresh_token_grant(form, &client, upstream, audience).await,
            GrantType::ClientCredentials => self.client_credentials_grant(form, &client, audience).await,
            GrantType::TokenExchange => self.token_exchange_grant(form, &client).await,
            GrantType::DeviceCode => self.device_code_grant(form, &client, audience).await,
        };
        if let (Err(e), GrantType::RefreshToken) = (&issued, grant) {
            self.audit(Audit {
                kind: "refresh",
                outcome: e.code.as_str(),
                client_id: Some(&client.id),
                detail: Some(&e.description),
                ..Default::default()
            })
            .await;
        }
        let tokens = issued?;
        self.metrics.record_token(grant.as_str());
        Ok(tokens)
    }

    /// Issues the access token and ID token of a grant (and returns its refresh token), storing
    /// its tokens through the grant's connection and giving that back before the ID token is
    /// signed.
    async fn issue(&self, grant: Grant<'_>, mut store: Checkout) -> Result<TokenResponse, OidcError> {
        let now = self.clock.now();
        let access_token = if grant.client.jwt_access_tokens {
            self.jwt_access_token(&grant, now).await?
        } else {
            random_token()
        };
        let record = NewAccessToken {
            token_hash: token_hash(&access_token),
            client_id: grant.client.id.to_string(),
            userid: grant.subject.person().map(|user| user.identity.userid.to_string()),
            scope: grant.scope.to_owned(),
            code_hash: grant.code_hash.map(str::to_owned),
            family_id: grant.refresh.as_ref().map(|r| r.family_id.clone()),
            sid: grant.sid.map(str::to_owned),
            audience: grant.audience.map(str::to_owned),
            created_at: now,
            expires_at: now + self.ttl.access_token_ttl,
        };
        let new_refresh = grant.refresh.as_ref().and_then(|r| r.new_row.as_ref());
        store.record_tokens(&record, new_refresh).await?;
        drop(store);
        let id_token = match grant.subject {
            Subject::Person(user) => Some(self.id_token(&grant, user, &access_token, now).await?),
            Subject::Client | Subject::OnBehalfOf(_) => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.ttl.access_token_ttl,
            id_token,
            refresh_token: grant.refresh.map(|r| r.token),
            scope: grant.scope.to_owned(),
            issued_token_type: None,
        })
    }

    /// The ID token of a person's grant (OIDC Core 2), with `at_hash` of its access token.
    async fn id_token(
        &self,
        grant: &Grant<'_>,
        user: &UserRecord,
        access_token: &str,
        now: i64,
    ) -> Result<String, OidcError> {
        let scopes = Scopes::parse(grant.scope);
        let scopes: Vec<&str> = scopes.iter().collect();
        let mut id_claims = claims::for_scopes(user, &scopes, grant.client, &self.identity);
        let mut put = |name: &str, value: Value| {
            id_claims.insert(name.to_owned(), value);
        };
        put("iss", json!(self.issuer));
        put("aud", json!(grant.client.id));
        put("iat", json!(now));
        put("exp", json!(now + self.ttl.id_token_ttl));
        put("auth_time", json!(grant.auth_time));
        let alg = grant.client.id_token_alg;
        put("at_hash", json!(jwt::half_hash(alg, access_token)));
        put("amr", json!([grant.route]));
        if let Some(sid) = grant.sid {
            put("sid", json!(sid));
        }
        if let Some(nonce) = grant.nonce {
            put("nonce", json!(nonce));
        }
        let key = self
            .keys
            .signing_key_for(alg)
            .ok_or(crate::crypto::KeyError::NoSigningKey(alg))?;
        Ok(sign(id_claims, key, crate::crypto::jwt::ID_TOKEN_TYP).await?)
    }

    /// An RFC 9068 access token: a JWT with `typ: at+jwt` that resource servers can verify with
    /// the JWKS. It is stored by hash like an opaque one, so revocation and introspection work.
    async fn jwt_access_token(&self, grant: &Grant<'_>, now: i64) -> Result<String, OidcError> {
        let sub = match grant.subject.person() {
            Some(user) => claims::subject(&user.identity, &self.identity, &grant.client.id),
            None => grant.client.id.to_string(),
        };
        let mut claims = json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": grant.audience.unwrap_or(grant.client.id.as_str()),
            "client_id": grant.client.id,
            "iat": now,
            "exp": now + self.ttl.access_token_ttl,
            "jti": random_token(),
            "scope": grant.scope,
        });
        if grant.subject.person().is_some() {
            claims["auth_time"] = json!(grant.auth_time);
        }
        if let Some(sid) = grant.sid {
            claims["sid"] = json!(sid);
        }
        Ok(sign(claims, self.keys.signing_key(), "at+jwt").await?)
    }

    /// The row of a new refresh token of `family`; its successor can later be derived from it.
    #[allow(clippy::too_many_arguments)]
    fn refresh_token_row(
        &self,
        token: &str,
        family_id: &str,
        client: &Client,
        userid: &str,
        scope: &str,
        sid: Option<&str>,
        route: &str,
        auth_time: i64,
        family_expires_at: i64,
    ) -> RefreshToken {
        let now = self.clock.now();
        let idle = client.refresh_token_idle_ttl.unwrap_or(self.ttl.refresh_token_idle_ttl);
        RefreshToken {
            token_hash: token_hash(token),
            family_id: family_id.to_owned(),
            client_id: client.id.to_string(),
            userid: userid.to_owned(),
            scope: scope.to_owned(),
            sid: sid.map(str::to_owned),
            route: route.to_owned(),
            auth_time,
            successor_key: random_token(),
            created_at: now,
            expires_at: (now + idle).min(family_expires_at),
            family_expires_at,
        }
    }
}

/// Signs `claims` as a JWT with `key`. An RS256 signature takes a good part of a millisecond of
/// CPU, during which an HTTP worker could serve nothing else: it is made on the blocking pool,
/// and the worker goes on with its other requests meanwhile. ES256 and EdDSA sign in place.
pub(super) async fn sign<C>(claims: C, key: Arc<SigningKey>, typ: &'static str) -> Result<String, KeyError>
where
    C: Serialize + Send + 'static,
{
    if key.alg() != Alg::RS256 {
        return jwt::sign(&claims, key, typ);
    }
    tokio::task::spawn_blocking(move || jwt::sign(&claims, key, typ))
        .await
        .map_err(|_| KeyError::Signing)?
}

/// The refresh token that follows `token` in its family: derived, so that a concurrent refresh
/// within the grace window receives the same one without tokens being stored in clear.
fn successor(token: &str, successor_key: &str) -> String {
    b64url(crate::crypto::hmac_sha256(successor_key.as_bytes(), token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_credentials_never_show_in_debug_output() {
        let response = TokenResponse {
            access_token: "live-access-token".into(),
            token_type: "Bearer",
            expires_in: 3600,
            id_token: Some("live.id.token".into()),
            refresh_token: Some("live-refresh-token".into()),
            scope: "openid".into(),
            issued_token_type: None,
        };
        let refresh = RefreshToken {
            token_hash: "h".into(),
            family_id: "f".into(),
            client_id: "app".into(),
            userid: "zhangsan".into(),
            scope: "openid".into(),
            sid: None,
            route: "dingtalk_web".into(),
            auth_time: 1,
            successor_key: "live-successor-key".into(),
            created_at: 1,
            expires_at: 2,
            family_expires_at: 3,
        };
        let outcome = crate::oidc::LoginOutcome::LoggedIn {
            reply: crate::oidc::ClientReply::new(
                "https://app.example.com/cb",
                crate::oidc::ResponseMode::Query,
                &[("code", "live-code")],
            ),
            session_cookie: crate::config::Secret::new("live-session-cookie"),
        };
        let printed = format!("{response:?} {refresh:?} {outcome:?}");
        assert!(!printed.contains("live"), "{printed}");
    }

    #[test]
    fn successors_are_stable_for_a_key_and_differ_across_keys() {
        assert_eq!(successor("r1", "k1"), successor("r1", "k1"));
        assert_ne!(successor("r1", "k1"), successor("r1", "k2"));
        assert_ne!(successor("r1", "k1"), successor("r2", "k1"));
        assert_eq!(successor("r1", "k1").len(), 43);
    }
}
