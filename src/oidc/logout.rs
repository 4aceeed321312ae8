//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). Ending the session and telling
//! its clients is `lifecycle`'s.

use super::Provider;
use super::authorize::with_query;
use super::params::Params;
use super::session::form_token;
use crate::crypto::{constant_time_eq, jwt};

/// What the logout confirmation form's token confirms.
const LOGOUT_FORM: &str = "logout-confirmation";

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
            Some(token) => match jwt::verify_own_id_token(token, &self.keys, &self.issuer) {
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
                    constant_time_eq(form_token(LOGOUT_FORM, cookie).as_bytes(), token.as_bytes())
                }
                _ => false,
            };
            if !hint_matches && !confirmed {
                return LogoutOutcome::Confirm {
                    csrf: session_cookie
                        .map(|cookie| form_token(LOGOUT_FORM, cookie))
                        .unwrap_or_default(),
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
}
