//! One click back to success: when a login fails because DingTalk could not be reached, the same
//! authorization request (same app, `state`, `nonce` and PKCE challenge) waits under a new
//! single-use state, and the person is offered to try again — or, inside the DingTalk client,
//! the in-app page simply tries once more by itself.

use super::authorize::{AuthorizationRequest, with_query};
use super::error::{ErrorCode, OidcError};
use super::login::{AuthorizeOutcome, InAppLogin, LoginOutcome, into_authorize};
use super::reply::ClientReply;
use super::{Provider, paths};
use crate::config::InApp;
use crate::crypto::random_token;
use crate::identity::{LoginRoute, Upstream};

/// What the "try again" page needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOffer {
    /// Restarts the DingTalk login for the same request.
    pub again: String,
    pub client_name: String,
    /// The way back to the app, carrying `temporarily_unavailable`.
    pub back: ClientReply,
}

impl Provider {
    /// The outcome of a login that failed because DingTalk could not be reached: another try
    /// for the same request where a person can take it, else the error for the client.
    pub(super) async fn offer_retry(
        &self,
        request: &AuthorizationRequest,
        route: LoginRoute,
        browser: Option<&str>,
    ) -> LoginOutcome {
        let e = OidcError::new(
            ErrorCode::TemporarilyUnavailable,
            "DingTalk cannot be reached; try again shortly",
        );
        let back = self.error_reply(request, &e);
        let in_app = matches!(route, LoginRoute::InApp | LoginRoute::OpenAuth);
        // The in-app page tries once more by itself, silently if need be; a web login needs the
        // person, whom prompt=none forbids to ask.
        let automatic = in_app && request.retries == 0;
        let (Some(browser), true) = (browser, automatic || !request.prompt_none) else {
            return LoginOutcome::ToClient(back);
        };
        let again = AuthorizationRequest {
            retries: request.retries.saturating_add(1),
            ..request.clone()
        };
        let state = random_token();
        if let Err(e) = self.save_pending_login(&again, &state, browser).await {
            tracing::error!(
                cause = e.cause.as_deref().unwrap_or_default(),
                "cannot keep a login for a retry"
            );
            return LoginOutcome::ToClient(back);
        }
        if automatic {
            return LoginOutcome::InAppAgain(InAppLogin {
                state,
                silent: request.prompt_none,
                method: self.in_app,
            });
        }
        LoginOutcome::TryAgain(RetryOffer {
            again: with_query(&self.url(paths::DINGTALK_AGAIN), &[("state", &state)]),
            client_name: self
                .clients
                .get(&request.client_id)
                .map_or_else(|| request.client_id.clone(), |c| c.display_name().to_owned()),
            back,
        })
    }

    /// "Try again": the DingTalk login for the request waiting under `state` — the in-app page
    /// inside the DingTalk client, else DingTalk's login page. The state stays single use.
    pub async fn login_again(
        &self,
        state: &str,
        browser: Option<&str>,
        in_dingtalk: bool,
        upstream: &impl Upstream,
    ) -> AuthorizeOutcome {
        if let Err(outcome) = self.find_pending(state, browser, false).await {
            return into_authorize(outcome);
        }
        if in_dingtalk && self.in_app != InApp::Off {
            return AuthorizeOutcome::InApp(InAppLogin {
                state: state.to_owned(),
                silent: false,
                method: self.in_app,
            });
        }
        AuthorizeOutcome::Redirect(upstream.login_url(&self.url(paths::DINGTALK_CALLBACK), state, in_dingtalk))
    }
}
