//! The login round trip: an authorization request goes to DingTalk (its web login page, or the
//! in-app login page inside the DingTalk client), and the person's return becomes an
//! authorization code for the client.

use super::audit::{Audit, log_audit_event};
use super::authorize::{self, AuthorizationRequest, Checked, PageError, error_reply};
use super::consent::ConsentAsk;
use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::reply::{ClientReply, ResponseMode};
use super::{Provider, paths};
use crate::config::InApp;
use crate::crypto::{TokenHash, constant_time_eq, random_token, token_hash};
use crate::identity::{self, Identity, LoginRoute, Upstream, UpstreamCode, UpstreamError};
use crate::store::{CompletedLogin, NewAuthorizationCode, PendingLogin, Session};

/// Where the browser goes after `/authorize`.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// To DingTalk's login page.
    Redirect(String),
    /// Back to the client, with a code or an error.
    ToClient(ClientReply),
    Page(PageError),
    /// Inside the DingTalk client: the in-app login page, which gets a code from the client.
    InApp(InAppLogin),
    /// The session's person may not use this client.
    Refused(Refusal),
}

/// What the in-app login page needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InAppLogin {
    /// The login's single-use state, posted back with the code.
    pub state: String,
    /// `prompt=none`: on failure, report back instead of offering the web login.
    pub silent: bool,
    pub method: InApp,
}

/// What the web login page sent back to the callback.
#[derive(Debug, Default)]
pub struct UpstreamReply {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// What the in-app login page posted back.
#[derive(Debug, Default)]
pub struct InAppReply {
    pub state: Option<String>,
    pub code: Option<String>,
    /// `request_auth_code` or `open_auth`: which JSAPI produced the code.
    pub method: Option<String>,
    /// Set when the JSAPI failed (only a silent login reports failures).
    pub error: Option<String>,
}

/// Where the browser goes after DingTalk.
#[derive(Debug)]
pub enum LoginOutcome {
    /// Back to the client with an error.
    ToClient(ClientReply),
    /// Logged in: a new dingo session (its cookie value) and the way back to the client.
    LoggedIn {
        reply: ClientReply,
        session_cookie: crate::config::Secret,
    },
    /// The person may not continue: show why, with a way back to the app.
    Refused(Refusal),
    Page(PageError),
    /// DingTalk could not be reached: offer to try again.
    TryAgain(super::RetryOffer),
    /// DingTalk could not be reached from inside the DingTalk client: the in-app page again,
    /// which tries once more by itself.
    InAppAgain(InAppLogin),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub client_name: String,
    /// The way back to the client, carrying `error=access_denied`.
    pub back: ClientReply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The organisation's policy does not let this person in.
    Denied(identity::Refusal),
    /// The person took longer than the login may last.
    LoginExpired,
    /// DingTalk did not accept the login code (used twice, expired).
    CodeRejected,
}

impl RefusalReason {
    fn description(self) -> &'static str {
        match self {
            Self::Denied(refusal) => refusal.describe(),
            Self::LoginExpired => "the login took too long; start again",
            Self::CodeRejected => "DingTalk did not accept the login; start again",
        }
    }
}

impl Provider {
    /// Checks an authorization request and, when valid, sends the person to log in with
    /// DingTalk, remembering the request under a single-use state bound to `browser`.
    /// `in_dingtalk` is true when the browser is the DingTalk client.
    pub async fn authorize(
        &self,
        params: &Params,
        browser: &str,
        session_cookie: Option<&str>,
        in_dingtalk: bool,
        upstream: &impl Upstream,
    ) -> AuthorizeOutcome {
        let pushed = match params.get("request_uri") {
            Some(request_uri) => match self.take_pushed(params, request_uri).await {
                Ok(taken) => Some(taken),
                Err(page) => return AuthorizeOutcome::Page(page),
            },
            None => None,
        };
        let params = pushed.as_ref().unwrap_or(params);
        let mut request = match authorize::check(params, &self.clients, &self.issuer) {
            Checked::Valid(request) => request,
            Checked::ErrorRedirect(reply) => return AuthorizeOutcome::ToClient(reply),
            Checked::Page(page) => return AuthorizeOutcome::Page(page),
        };
        if pushed.is_none() && self.clients.get(&request.client_id).is_some_and(|c| self.must_push(&c)) {
            let e = OidcError::new(
                ErrorCode::InvalidRequest,
                "this client must push its authorization requests first (PAR, RFC 9126)",
            );
            return AuthorizeOutcome::ToClient(self.error_reply(&request, &e));
        }
        if let Some(hint) = params.get("id_token_hint") {
            match crate::crypto::jwt::verify_own_id_token(hint, &self.keys, &self.issuer) {
                Some(claims) => request.hinted_subject = claims["sub"].as_str().map(str::to_owned),
                None => {
                    let e = OidcError::new(
                        ErrorCode::InvalidRequest,
                        "id_token_hint is not an ID token of this provider",
                    );
                    return AuthorizeOutcome::ToClient(self.error_reply(&request, &e));
                }
            }
        }
        if let Some(outcome) = self.reuse_session(&request, session_cookie, browser).await {
            return outcome;
        }
        self.send_to_dingtalk(&request, browser, in_dingtalk, upstream).await
    }

    /// Sends the person to log in with DingTalk for `request`, remembered under a single-use
    /// state bound to `browser`: the in-app login inside the DingTalk client, else the web login.
    pub(super) async fn send_to_dingtalk(
        &self,
        request: &AuthorizationRequest,
        browser: &str,
        in_dingtalk: bool,
        upstream: &impl Upstream,
    ) -> AuthorizeOutcome {
        let in_app = in_dingtalk && self.in_app != InApp::Off;
        if request.prompt_none && !(in_app && self.in_app == InApp::RequestAuthCode) {
            // Only password-free login inside the DingTalk client needs no interaction.
            let e = OidcError::new(ErrorCode::LoginRequired, "the person must log in with DingTalk");
            return AuthorizeOutcome::ToClient(self.error_reply(request, &e));
        }
        let state = random_token();
        if let Err(e) = self.save_pending_login(request, &state, browser).await {
            tracing::error!(cause = e.cause.as_deref().unwrap_or_default(), "cannot start a login");
            return AuthorizeOutcome::ToClient(self.error_reply(request, &e));
        }
        if in_app {
            AuthorizeOutcome::InApp(InAppLogin {
                state,
                silent: request.prompt_none,
                method: self.in_app,
            })
        } else {
            AuthorizeOutcome::Redirect(upstream.login_url(&self.url(paths::DINGTALK_CALLBACK), &state, in_dingtalk))
        }
    }

    /// Answers from the browser's dingo session when it may be used for this request.
    async fn reuse_session(
        &self,
        request: &AuthorizationRequest,
        cookie: Option<&str>,
        browser: &str,
    ) -> Option<AuthorizeOutcome> {
        let session = self.current_session(cookie).await?;
        let now = self.clock.now();
        let user = match self.db.find_user(&session.userid).await {
            Ok(Some(user)) => user,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(cause = %e, "cannot read the user of a session");
                return None;
            }
        };
        let client = self.clients.get(&request.client_id)?;
        let subject = super::claims::subject(&user.identity, &self.identity, &client.id);
        // max_age=0 asks for a login now, like prompt=login, whatever part of a second has
        // passed since the last one (OIDC Core §3.1.2.1).
        let fresh_enough = request
            .max_age
            .is_none_or(|max_age| max_age > 0 && now - session.auth_time <= max_age);
        let same_person = request
            .login_hint
            .as_ref()
            .is_none_or(|hint| hint == &user.identity.userid)
            && request.hinted_subject.as_ref().is_none_or(|hinted| hinted == &subject);
        if request.prompt_login || !fresh_enough || !same_person {
            return None;
        }
        if let Err(refusal) = self.admits(&client, &user.identity).await {
            return Some(into_authorize(
                self.refuse(request, refusal, "session", Some(&user.identity.userid))
                    .await,
            ));
        }
        match self
            .consent_step(request, &client, &user.identity.userid, &session, browser)
            .await
        {
            Ok(None) => {}
            Ok(Some(ask)) => return Some(self.consent_redirect(request, ask)),
            Err(e) => return Some(AuthorizeOutcome::ToClient(self.error_reply(request, &e))),
        }
        Some(match self.issue_code(request, &user.identity, &session).await {
            Ok(reply) => {
                self.login_outcome("session", "success", &client.id, Some(&user.identity.userid), None)
                    .await;
                AuthorizeOutcome::ToClient(reply)
            }
            Err(e) => AuthorizeOutcome::ToClient(self.error_reply(request, &e)),
        })
    }

    /// Sends a login that started on the in-app page to DingTalk's web login instead (the
    /// in-app page's fallback). The state stays the same and is still single use.
    pub async fn web_fallback(&self, state: &str, browser: Option<&str>, upstream: &impl Upstream) -> AuthorizeOutcome {
        match self.find_pending(state, browser, false).await {
            Ok(_) => AuthorizeOutcome::Redirect(upstream.login_url(&self.url(paths::DINGTALK_CALLBACK), state, true)),
            Err(outcome) => into_authorize(outcome),
        }
    }

    /// Completes a login when the person returns from DingTalk's web login page.
    /// `session_cookie` is the browser's session before this login, which the new one replaces.
    pub async fn finish_login(
        &self,
        reply: UpstreamReply,
        browser: Option<&str>,
        session_cookie: Option<&str>,
        upstream: &impl Upstream,
    ) -> LoginOutcome {
        let request = match self.take_pending(reply.state.as_deref(), browser, false).await {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        if reply.error.is_some() {
            let e = OidcError::new(ErrorCode::AccessDenied, "the person declined the login at DingTalk");
            return LoginOutcome::ToClient(self.error_reply(&request, &e));
        }
        let Some(code) = reply.code else {
            let e = OidcError::new(ErrorCode::AccessDenied, "DingTalk returned no login code");
            return LoginOutcome::ToClient(self.error_reply(&request, &e));
        };
        let code = UpstreamCode {
            route: upstream.web_route(),
            code,
        };
        self.complete(&request, &code, browser, session_cookie, upstream).await
    }

    /// Completes a login from the in-app login page (see [`Provider::finish_login`]).
    pub async fn finish_in_app(
        &self,
        reply: InAppReply,
        browser: Option<&str>,
        session_cookie: Option<&str>,
        upstream: &impl Upstream,
    ) -> LoginOutcome {
        let request = match self.take_pending(reply.state.as_deref(), browser, false).await {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        let route = match reply.method.as_deref() {
            Some("open_auth") if self.in_app == InApp::OpenAuth => LoginRoute::OpenAuth,
            Some("request_auth_code") if self.in_app == InApp::RequestAuthCode => LoginRoute::InApp,
            _ => {
                let e = OidcError::new(ErrorCode::InvalidRequest, "the in-app login used an unknown method");
                return LoginOutcome::ToClient(self.error_reply(&request, &e));
            }
        };
        let code = match (reply.code, reply.error) {
            (Some(code), None) => code,
            (_, error) => {
                tracing::info!(error = error.as_deref().unwrap_or("no code"), "in-app login failed");
                let e = if request.prompt_none {
                    OidcError::new(
                        ErrorCode::LoginRequired,
                        "the DingTalk client could not log the person in silently",
                    )
                } else {
                    OidcError::new(ErrorCode::AccessDenied, "the DingTalk client did not log the person in")
                };
                return LoginOutcome::ToClient(self.error_reply(&request, &e));
            }
        };
        self.complete(
            &request,
            &UpstreamCode { route, code },
            browser,
            session_cookie,
            upstream,
        )
        .await
    }

    /// Resolves the code, applies the policy and issues the client's authorization code.
    async fn complete(
        &self,
        request: &AuthorizationRequest,
        code: &UpstreamCode,
        browser: Option<&str>,
        previous_session: Option<&str>,
        upstream: &impl Upstream,
    ) -> LoginOutcome {
        let route = code.route.amr();
        let identity = match upstream.resolve(code).await {
            Ok(identity) => identity,
            Err(UpstreamError::NotMember) => {
                return self.refuse(request, identity::Refusal::NotMember, route, None).await;
            }
            Err(UpstreamError::NotVisible) => {
                return self.refuse(request, identity::Refusal::NotVisible, route, None).await;
            }
            Err(UpstreamError::InvalidCode) => {
                self.login_outcome(route, "code_rejected", &request.client_id, None, None)
                    .await;
                return self.refusal(request, RefusalReason::CodeRejected);
            }
            Err(UpstreamError::Unavailable(why)) => {
                self.login_outcome(route, "upstream_error", &request.client_id, None, Some(why.as_str()))
                    .await;
                tracing::warn!(cause = %why, route, "DingTalk unavailable during login");
                return self.offer_retry(request, code.route, browser).await;
            }
            Err(refused @ UpstreamError::Refused { .. }) => {
                let detail = refused.to_string();
                self.login_outcome(route, "upstream_refused", &request.client_id, None, Some(&detail))
                    .await;
                tracing::error!(cause = %refused, route, "DingTalk refused a call: check the app's credentials and permissions");
                return LoginOutcome::ToClient(self.error_reply(request, &OidcError::internal(refused)));
            }
        };
        let Some(client) = self.clients.get(&request.client_id) else {
            return LoginOutcome::Page(PageError::UnknownClient);
        };
        if let Err(refusal) = self.allows(&client, &identity) {
            return self.refuse(request, refusal, route, Some(&identity.userid)).await;
        }
        // The person, the session, the code and the audit entry are written together; a person
        // an administrator disabled is refused then.
        let (session_cookie, session) = self.new_session(&identity.userid, code.route);
        let consent = match self
            .consent_step(
                request,
                &client,
                &identity.userid,
                &session,
                browser.unwrap_or_default(),
            )
            .await
        {
            Ok(None) => None,
            Ok(Some(ConsentAsk::Required(e))) => return LoginOutcome::ToClient(self.error_reply(request, &e)),
            Ok(Some(ConsentAsk::Page(url))) => Some(url),
            Err(e) => return LoginOutcome::ToClient(self.error_reply(request, &e)),
        };
        // A device page's login ends with the session: the person approves on that page. One
        // waiting for consent goes to the consent page, which issues the code.
        let (new_code, reply) = if let Some(url) = consent {
            (None, ClientReply::new(&url, ResponseMode::Query, &[]))
        } else if request.device {
            (
                None,
                ClientReply::new(&request.redirect_uri, request.response_mode, &[]),
            )
        } else {
            let (code, reply) = self.new_code(request, &identity, &session);
            (Some(code), reply)
        };
        let audit = self.audit_event(&Audit {
            kind: "login",
            outcome: "success",
            userid: Some(&identity.userid),
            client_id: Some(&request.client_id),
            route: Some(route),
            ..Default::default()
        });
        let login = CompletedLogin {
            identity: &identity,
            session: &session,
            code: new_code.as_ref(),
            audit: &audit,
            now: self.clock.now(),
        };
        match self.db.record_login(&login).await {
            Ok(Some(_)) => {
                self.metrics.record_login(route, "success");
                log_audit_event(&audit);
                self.end_replaced_session(previous_session).await;
                LoginOutcome::LoggedIn {
                    reply,
                    session_cookie: crate::config::Secret::new(session_cookie),
                }
            }
            Ok(None) => {
                self.refuse(request, identity::Refusal::Disabled, route, Some(&identity.userid))
                    .await
            }
            Err(e) => {
                let e = OidcError::from(e);
                tracing::error!(cause = e.cause.as_deref().unwrap_or_default(), "cannot issue a code");
                LoginOutcome::ToClient(self.error_reply(request, &e))
            }
        }
    }

    /// The browser's session before a new login replaced it ends (its apps are told): the old
    /// cookie stops working even where it was copied. A failure is logged; the login stands.
    async fn end_replaced_session(&self, previous: Option<&str>) {
        let Some(old) = self.current_session(previous).await else {
            return;
        };
        if let Err(e) = self.end_session(&old).await {
            tracing::error!(
                cause = e.cause.as_deref().unwrap_or_default(),
                "cannot end a replaced session"
            );
        }
    }

    pub(super) async fn save_pending_login(
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

    /// Consumes the pending login of `state`; see [`Provider::pending`].
    pub(super) async fn take_pending(
        &self,
        state: Option<&str>,
        browser: Option<&str>,
        consent: bool,
    ) -> Result<AuthorizationRequest, LoginOutcome> {
        self.pending(state, browser, consent, true).await
    }

    /// The pending login of `state`, left in place; see [`Provider::pending`].
    pub(super) async fn find_pending(
        &self,
        state: &str,
        browser: Option<&str>,
        consent: bool,
    ) -> Result<AuthorizationRequest, LoginOutcome> {
        self.pending(Some(state), browser, consent, false).await
    }

    /// The request waiting under `state` (consumed when `take`), checked to belong to
    /// `browser`, to be fresh, and to be a login's (or, with `consent`, a consent page's).
    async fn pending(
        &self,
        state: Option<&str>,
        browser: Option<&str>,
        consent: bool,
        take: bool,
    ) -> Result<AuthorizationRequest, LoginOutcome> {
        let state = state.ok_or(LoginOutcome::Page(PageError::LoginStateMissing))?;
        let hash = TokenHash::of(state);
        let found = if take {
            self.db.take_pending_login(&hash).await
        } else {
            self.db.find_pending_login(&hash).await
        };
        let pending = match found {
            Ok(Some(pending)) => pending,
            Ok(None) => return Err(LoginOutcome::Page(PageError::LoginStateUnknown)),
            Err(e) => {
                tracing::error!(cause = %e, "cannot read a pending login");
                return Err(LoginOutcome::Page(PageError::of_store(&e)));
            }
        };
        if !same_browser(browser, &pending) {
            return Err(LoginOutcome::Page(PageError::LoginStateOtherBrowser));
        }
        let request: AuthorizationRequest = serde_json::from_str(&pending.request).map_err(|e| {
            tracing::error!(cause = %e, "a pending login is unreadable");
            LoginOutcome::Page(PageError::Internal)
        })?;
        if request.consent_sid.is_some() != consent {
            // A consent page's state is no login state, nor the other way round.
            return Err(LoginOutcome::Page(PageError::LoginStateUnknown));
        }
        if pending.expires_at <= self.clock.now() {
            return Err(self.refusal(&request, RefusalReason::LoginExpired));
        }
        Ok(request)
    }

    /// Issues a code for `request` in `session`: the response carrying it to the client.
    pub(super) async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        identity: &Identity,
        session: &Session,
    ) -> Result<ClientReply, OidcError> {
        let (code, reply) = self.new_code(request, identity, session);
        self.db.insert_authorization_code(&code).await?;
        Ok(reply)
    }

    /// A new code for `request` in `session`, to be stored, and the response carrying it.
    fn new_code(
        &self,
        request: &AuthorizationRequest,
        identity: &Identity,
        session: &Session,
    ) -> (NewAuthorizationCode, ClientReply) {
        let now = self.clock.now();
        let code = random_token();
        let row = NewAuthorizationCode {
            code_hash: token_hash(&code),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            userid: identity.userid.to_string(),
            scope: request.scope.join(" "),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            sid: Some(session.sid.clone()),
            route: session.route.clone(),
            auth_time: session.auth_time,
            expires_at: now + self.ttl.authorization_code_ttl,
        };
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = request.state.as_deref() {
            pairs.push(("state", state));
        }
        pairs.push(("iss", self.issuer.as_str()));
        (
            row,
            ClientReply::new(&request.redirect_uri, request.response_mode, &pairs),
        )
    }

    /// The error `e`, for the client of `request`, the way it asked to be answered.
    pub(super) fn error_reply(&self, request: &AuthorizationRequest, e: &OidcError) -> ClientReply {
        error_reply(
            &request.redirect_uri,
            request.response_mode,
            e,
            request.state.as_deref(),
            &self.issuer,
        )
    }

    /// Whether `client` may be used by `person`: not disabled here, and allowed by the client's
    /// policy (or the global one).
    pub(super) async fn admits(&self, client: &super::Client, person: &Identity) -> Result<(), identity::Refusal> {
        match self.db.is_user_disabled(&person.userid).await {
            Ok(false) => {}
            Ok(true) => return Err(identity::Refusal::Disabled),
            Err(e) => {
                // Fail closed: without knowing, nobody is let in.
                tracing::error!(cause = %e, "cannot read whether a person is disabled");
                return Err(identity::Refusal::Disabled);
            }
        }
        self.allows(client, person)
    }

    /// Whether the policy of `client` (or the global one) lets `person` in.
    pub(super) fn allows(&self, client: &super::Client, person: &Identity) -> Result<(), identity::Refusal> {
        client.policy.as_ref().unwrap_or(&self.policy).check(person)
    }

    async fn refuse(
        &self,
        request: &AuthorizationRequest,
        refusal: identity::Refusal,
        route: &str,
        userid: Option<&str>,
    ) -> LoginOutcome {
        let outcome = refusal.metric_label();
        self.login_outcome(route, outcome, &request.client_id, userid, Some(refusal.describe()))
            .await;
        self.refusal(request, RefusalReason::Denied(refusal))
    }

    /// A refusal is explained to the person on a page, except when the client asked for no
    /// interaction (`prompt=none`): then it goes straight back with `access_denied`.
    pub(super) fn refusal(&self, request: &AuthorizationRequest, reason: RefusalReason) -> LoginOutcome {
        let e = OidcError::new(ErrorCode::AccessDenied, reason.description());
        if request.prompt_none {
            return LoginOutcome::ToClient(self.error_reply(request, &e));
        }
        let client_name = self
            .clients
            .get(&request.client_id)
            .map_or_else(|| request.client_id.clone(), |c| c.display_name().to_owned());
        LoginOutcome::Refused(Refusal {
            reason,
            client_name,
            back: self.error_reply(request, &e),
        })
    }
}

fn same_browser(browser: Option<&str>, pending: &PendingLogin) -> bool {
    browser.is_some_and(|b| constant_time_eq(token_hash(b).as_bytes(), pending.browser_hash.as_bytes()))
}

/// A login's outcome where no login happens (no session cookie is set).
pub(super) fn into_authorize(outcome: LoginOutcome) -> AuthorizeOutcome {
    match outcome {
        LoginOutcome::ToClient(reply) => AuthorizeOutcome::ToClient(reply),
        LoginOutcome::Refused(refusal) => AuthorizeOutcome::Refused(refusal),
        LoginOutcome::Page(page) => AuthorizeOutcome::Page(page),
        LoginOutcome::InAppAgain(login) => AuthorizeOutcome::InApp(login),
        LoginOutcome::LoggedIn { .. } | LoginOutcome::TryAgain(_) => AuthorizeOutcome::Page(PageError::Internal),
    }
}
