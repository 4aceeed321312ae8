//! The UserInfo endpoint (OIDC Core 5.3) and bearer token errors (RFC 6750 §3).

use serde_json::{Map, Value};

use super::claims;
use super::{Provider, Scopes};
use crate::crypto::TokenHash;

/// Why a bearer token was not accepted; the `WWW-Authenticate` challenge follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No token at all: the challenge carries no error code (RFC 6750 §3.1).
    Missing,
    /// More than one way of sending the token was used.
    InvalidRequest(&'static str),
    InvalidToken(&'static str),
    InsufficientScope(&'static str),
    /// Our failure; the log has the cause.
    Internal,
    /// The database cannot be reached right now.
    Unavailable,
}

impl BearerError {
    fn of_store(e: &crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable
        } else {
            Self::Internal
        }
    }
}

impl Provider {
    /// The claims the access token's scopes release about its person.
    pub async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, BearerError> {
        let now = self.clock.now();
        let record = self
            .db
            .find_access_token(&TokenHash::of(access_token), now)
            .await
            .map_err(|e| {
                tracing::error!(cause = %e, "cannot look up an access token");
                BearerError::of_store(&e)
            })?;
        let record = record.ok_or(BearerError::InvalidToken("the access token is invalid or has expired"))?;
        let scopes = Scopes::parse(&record.scope);
        if !scopes.contains("openid") {
            return Err(BearerError::InsufficientScope(
                "the access token was not issued for openid",
            ));
        }
        let userid = record.userid.as_deref().ok_or(BearerError::InvalidToken(
            "the access token is a client's own: it describes no person",
        ))?;
        let user = self.db.find_user(userid).await.map_err(|e| {
            tracing::error!(cause = %e, "cannot read the user of an access token");
            BearerError::of_store(&e)
        })?;
        let user = user.ok_or(BearerError::InvalidToken("the access token's person is unknown"))?;
        let client = self.clients.get(&record.client_id).ok_or(BearerError::InvalidToken(
            "the access token's client is no longer registered",
        ))?;
        let scopes: Vec<&str> = scopes.iter().collect();
        Ok(claims::for_scopes(&user, &scopes, &client, &self.identity))
    }
}
