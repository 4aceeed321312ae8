//! The login round trip: an authorization request goes to the upstream login page, and the
//! person's return becomes an authorization code for the client.

use super::authorize::{
    self, AuthorizationRequest, Checked, PageError, error_redirect, with_query,
};
use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::{Provider, paths};
use crate::crypto::{constant_time_eq, random_token, token_hash};
use crate::identity::{Upstream, UpstreamError};
use crate::store::{NewAuthorizationCode, PendingLogin};

/// Where the browser goes after `/authorize`.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    Redirect(String),
    Page(PageError),
}

/// What the upstream login page sent back to the callback.
#[derive(Debug, Default)]
pub struct UpstreamReply {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// Where the browser goes after the upstream callback.
#[derive(Debug)]
pub enum LoginOutcome {
    Redirect(String),
    /// The person may not continue: show why, with a way back to the app.
    Refused(Refusal),
    Page(PageError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub client_name: String,
    /// The client's redirect URI carrying `error=access_denied`.
    pub return_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The DingTalk account is not a member of the organisation.
    NotMember,
    /// The person took longer than the login may last.
    LoginExpired,
    /// DingTalk did not accept the login code (used twice, expired).
    CodeRejected,
}

impl RefusalReason {
    fn description(self) -> &'static str {
        match self {
            Self::NotMember => "the DingTalk account is not a member of this organisation",
            Self::LoginExpired => "the login took too long; start again",
            Self::CodeRejected => "DingTalk did not accept the login; start again",
        }
    }
}

impl Provider {
    /// Checks an authorization request and, when valid, sends the person to the upstream login,
    /// remembering the request under a single-use state bound to `browser`.
    pub async fn authorize(
        &self,
        params: &Params,
        browser: &str,
        upstream: &impl Upstream,
    ) -> AuthorizeOutcome {
        let request = match authorize::check(params, &self.clients, &self.issuer) {
            Checked::Valid(request) => request,
            Checked::ErrorRedirect(url) => return AuthorizeOutcome::Redirect(url),
            Checked::Page(page) => return AuthorizeOutcome::Page(page),
        };
        let state = random_token();
        match self.save_pending_login(&request, &state, browser).await {
            Ok(()) => AuthorizeOutcome::Redirect(
                upstream.login_url(&self.url(paths::DINGTALK_CALLBACK), &state),
            ),
            Err(e) => {
                tracing::error!(
                    cause = e.cause.as_deref().unwrap_or_default(),
                    "cannot start a login"
                );
                AuthorizeOutcome::Redirect(error_redirect(
                    &request.redirect_uri,
                    &e,
                    request.state.as_deref(),
                    &self.issuer,
                ))
            }
        }
    }

    async fn save_pending_login(
        &self,
        request: &AuthorizationRequest,
        state: &str,
        browser: &str,
    ) -> Result<(), OidcError> {
        let login = PendingLogin {
            state_hash: token_hash(state),
            browser_hash: token_hash(browser),
            request: serde_json::to_string(request).map_err(OidcError::internal)?,
            expires_at: self.clock.now() + self.ttl.login_ttl,
        };
        Ok(self.db.insert_pending_login(&login).await?)
    }

    /// Completes a login when the person returns from the upstream login page.
    pub async fn finish_login(
        &self,
        reply: UpstreamReply,
        browser: Option<&str>,
        upstream: &impl Upstream,
    ) -> LoginOutcome {
        let Some(state) = reply.state.as_deref() else {
            return LoginOutcome::Page(PageError::LoginStateMissing);
        };
        let pending = match self.db.take_pending_login(&token_hash(state)).await {
            Ok(Some(pending)) => pending,
            Ok(None) => return LoginOutcome::Page(PageError::LoginStateUnknown),
            Err(e) => {
                tracing::error!(cause = %e, "cannot read a pending login");
                return LoginOutcome::Page(PageError::Internal);
            }
        };
        let same_browser = browser.is_some_and(|b| {
            constant_time_eq(token_hash(b).as_bytes(), pending.browser_hash.as_bytes())
        });
        if !same_browser {
            return LoginOutcome::Page(PageError::LoginStateOtherBrowser);
        }
        let request: AuthorizationRequest = match serde_json::from_str(&pending.request) {
            Ok(request) => request,
            Err(e) => {
                tracing::error!(cause = %e, "a pending login is unreadable");
                return LoginOutcome::Page(PageError::Internal);
            }
        };
        if pending.expires_at <= self.clock.now() {
            return self.refuse(&request, RefusalReason::LoginExpired);
        }
        if reply.error.is_some() {
            let e = OidcError::new(
                ErrorCode::AccessDenied,
                "the person declined the login at DingTalk",
            );
            return self.redirect_error(&request, &e);
        }
        let Some(code) = reply.code.as_deref() else {
            let e = OidcError::new(ErrorCode::AccessDenied, "DingTalk returned no login code");
            return self.redirect_error(&request, &e);
        };
        match upstream.resolve_web_login(code).await {
            Ok(identity) => match self.issue_code(&request, &identity).await {
                Ok(url) => LoginOutcome::Redirect(url),
                Err(e) => {
                    tracing::error!(
                        cause = e.cause.as_deref().unwrap_or_default(),
                        "cannot issue a code"
                    );
                    self.redirect_error(&request, &e)
                }
            },
            Err(UpstreamError::NotMember) => {
                tracing::info!(client = %request.client_id, "login refused: not a member of the organisation");
                self.refuse(&request, RefusalReason::NotMember)
            }
            Err(UpstreamError::InvalidCode) => self.refuse(&request, RefusalReason::CodeRejected),
            Err(UpstreamError::Unavailable(why)) => {
                tracing::warn!(cause = %why, "DingTalk unavailable during login");
                let e = OidcError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "DingTalk cannot be reached; try again shortly",
                );
                self.redirect_error(&request, &e)
            }
            Err(refused @ UpstreamError::Refused { .. }) => {
                tracing::error!(cause = %refused, "DingTalk refused a call: check the app's credentials and permissions");
                self.redirect_error(&request, &OidcError::internal(refused))
            }
        }
    }

    async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        identity: &crate::identity::Identity,
    ) -> Result<String, OidcError> {
        let now = self.clock.now();
        self.db.upsert_user(identity, now).await?;
        let code = random_token();
        self.db
            .insert_authorization_code(&NewAuthorizationCode {
                code_hash: token_hash(&code),
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                userid: identity.userid.clone(),
                scope: request.scope.join(" "),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                auth_time: now,
                expires_at: now + self.ttl.authorization_code_ttl,
            })
            .await?;
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = request.state.as_deref() {
            pairs.push(("state", state));
        }
        pairs.push(("iss", self.issuer.as_str()));
        Ok(with_query(&request.redirect_uri, &pairs))
    }

    fn redirect_error(&self, request: &AuthorizationRequest, e: &OidcError) -> LoginOutcome {
        LoginOutcome::Redirect(error_redirect(
            &request.redirect_uri,
            e,
            request.state.as_deref(),
            &self.issuer,
        ))
    }

    fn refuse(&self, request: &AuthorizationRequest, reason: RefusalReason) -> LoginOutcome {
        let e = OidcError::new(ErrorCode::AccessDenied, reason.description());
        let client_name = self
            .clients
            .get(&request.client_id)
            .map_or(request.client_id.as_str(), |c| c.display_name())
            .to_owned();
        LoginOutcome::Refused(Refusal {
            reason,
            client_name,
            return_url: error_redirect(
                &request.redirect_uri,
                &e,
                request.state.as_deref(),
                &self.issuer,
            ),
        })
    }
}
