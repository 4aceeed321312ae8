//! Ending sessions: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the
//! back-channel logout tokens every participating client receives (Back-Channel Logout 1.0).

use serde_json::json;

use super::audit::Audit;
use super::authorize::with_query;
use super::error::OidcError;
use super::params::Params;
use super::{Provider, claims};
use crate::crypto::{constant_time_eq, jwt, random_token, token_hash};
use crate::store::{LogoutDelivery, Session};

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What the end-session endpoint answers.
#[derive(Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// No proof that the client asked: the person confirms with this form token first.
    Confirm { csrf: String },
    /// Logged out: back to the client.
    Redirect(String),
    /// Logged out (or was not logged in): say so.
    LoggedOut,
    /// The request cannot be honoured; nothing was done.
    Invalid(LogoutError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutError {
    DuplicateParameter,
    UnknownClient,
    InvalidIdTokenHint,
    /// `client_id` names another client than the hint's audience.
    ClientMismatch,
    /// `post_logout_redirect_uri` without a client, or not registered for it.
    UnregisteredRedirectUri,
}

impl Provider {
    /// Handles an end-session request. `confirmation` is the form token of a confirmed logout.
    pub async fn logout(
        &self,
        params: &Params,
        session_cookie: Option<&str>,
        confirmation: Option<&str>,
    ) -> LogoutOutcome {
        if params.duplicate().is_some() {
            return LogoutOutcome::Invalid(LogoutError::DuplicateParameter);
        }
        let hint = match params.get("id_token_hint") {
            None => None,
            Some(token) => match jwt::verify_own(token, &self.keys, &self.issuer) {
                Some(claims) => Some(claims),
                None => return LogoutOutcome::Invalid(LogoutError::InvalidIdTokenHint),
            },
        };
        let hinted_client = hint.as_ref().and_then(|c| c["aud"].as_str().map(str::to_owned));
        let client_id = match (params.get("client_id"), hinted_client.as_deref()) {
            (Some(a), Some(b)) if a != b => return LogoutOutcome::Invalid(LogoutError::ClientMismatch),
            (Some(id), _) | (None, Some(id)) => Some(id.to_owned()),
            (None, None) => None,
        };
        let client = match &client_id {
            Some(id) => match self.clients.get(id) {
                Some(client) => Some(client),
                None => return LogoutOutcome::Invalid(LogoutError::UnknownClient),
            },
            None => None,
        };
        let back_to = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) if client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri)) => Some(uri),
            Some(_) => return LogoutOutcome::Invalid(LogoutError::UnregisteredRedirectUri),
        };
        let session = self.current_session(session_cookie).await;
        if let Some(session) = &session {
            let hint_matches = hint.as_ref().is_some_and(|claims| match claims["sid"].as_str() {
                Some(sid) => sid == session.sid,
                None => false,
            });
            let confirmed = match (session_cookie, confirmation) {
                (Some(cookie), Some(token)) => {
                    constant_time_eq(confirmation_token(cookie).as_bytes(), token.as_bytes())
                }
                _ => false,
            };
            if !hint_matches && !confirmed {
                return LogoutOutcome::Confirm {
                    csrf: session_cookie.map(confirmation_token).unwrap_or_default(),
                };
            }
            if let Err(e) = self.end_session(session).await {
                tracing::error!(cause = e.cause.as_deref().unwrap_or_default(), "cannot end a session");
            }
        }
        match back_to {
            Some(uri) => {
                let pairs: Vec<(&str, &str)> = params.get("state").map(|s| ("state", s)).into_iter().collect();
                LogoutOutcome::Redirect(with_query(uri, &pairs))
            }
            None => LogoutOutcome::LoggedOut,
        }
    }

    /// Ends a session and queues a logout token for every client that took part in it.
    pub async fn end_session(&self, session: &Session) -> Result<(), OidcError> {
        let clients = self.db.end_session(&session.sid).await?;
        let Some(user) = self.db.find_user(&session.userid).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        for client in clients.iter().filter_map(|id| self.clients.get(id)) {
            let Some(uri) = &client.backchannel_logout_uri else {
                continue;
            };
            let claims = json!({
                "iss": self.issuer,
                "aud": client.id,
                "iat": now,
                "exp": now + 120,
                "jti": random_token(),
                "sub": claims::subject(&user.identity, &self.identity, &client.id),
                "sid": session.sid,
                "events": { BACKCHANNEL_EVENT: {} },
            });
            let logout_token = jwt::sign(&claims, self.keys.signing_key(), "logout+jwt")?;
            let delivery = LogoutDelivery {
                id: random_token(),
                client_id: client.id.clone(),
                uri: uri.clone(),
                logout_token,
                attempts: 0,
                next_attempt_at: now,
            };
            self.db.enqueue_logout_delivery(&delivery, now).await?;
        }
        self.logout_deliveries.notify_one();
        let detail = format!("session ended; {} client(s) took part", clients.len());
        self.audit(Audit {
            kind: "logout",
            outcome: "success",
            userid: Some(&session.userid),
            detail: Some(&detail),
            ..Default::default()
        })
        .await;
        Ok(())
    }

    /// Ends every session of a person (they left, were refused, or were disabled).
    pub async fn end_sessions_of(&self, userid: &str) -> Result<(), OidcError> {
        for session in self.db.sessions_of_user(userid).await? {
            self.end_session(&session).await?;
        }
        Ok(())
    }
}

/// The logout confirmation form's token: bound to the session cookie, which pages of other
/// sites can neither read nor forge.
fn confirmation_token(session_cookie: &str) -> String {
    token_hash(&format!("logout-confirmation:{session_cookie}"))
}
