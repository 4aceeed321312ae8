//! Consent (OIDC Core §3.1.2.4): before an app registered with `consent = "once"` receives
//! anything about a person for the first time — or more than they agreed to — and whenever a
//! request says `prompt=consent`, the person is shown which app asks for what and agrees or
//! declines. `prompt=none` cannot ask: it gets `consent_required`. The request waits meanwhile
//! as a pending login bound to the browser and the session; agreeing issues its code.

use super::audit::Audit;
use super::authorize::{AuthorizationRequest, PageError, with_query};
use super::error::{ErrorCode, OidcError};
use super::login::{AuthorizeOutcome, into_authorize};
use super::session::form_token;
use super::{Client, Provider, Scopes, paths};
use crate::crypto::{constant_time_eq, random_token};
use crate::store::Session;

/// How a request that needs the person's consent goes on.
pub(super) enum ConsentAsk {
    /// To the consent page at this URL.
    Page(String),
    /// It may not ask (`prompt=none`): this error goes to the client.
    Required(OidcError),
}

/// What the consent page shows.
#[derive(Debug)]
pub enum ConsentPage {
    Ask(ConsentPrompt),
    /// No consent to ask for here (an unknown or expired state, another browser or session).
    Elsewhere(AuthorizeOutcome),
}

/// The consent form's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPrompt {
    pub client_name: String,
    /// What the app asks for, `openid` first.
    pub scope: Vec<String>,
    /// The waiting request's single-use state.
    pub state: String,
    /// The form token, bound to the session and the state.
    pub form_token: String,
}

impl Provider {
    /// Whether `request` must wait for the consent of `userid`, and if so how it goes on: a
    /// pending consent bound to `browser` and `session` is stored.
    pub(super) async fn consent_step(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        userid: &str,
        session: &Session,
        browser: &str,
    ) -> Result<Option<ConsentAsk>, OidcError> {
        // A device login is confirmed on the device page, which names the app.
        if request.device || !self.needs_consent(request, client, userid).await? {
            return Ok(None);
        }
        if request.prompt_none {
            return Ok(Some(ConsentAsk::Required(OidcError::new(
                ErrorCode::ConsentRequired,
                "the person has not agreed to what this app receives",
            ))));
        }
        let state = random_token();
        let waiting = AuthorizationRequest {
            consent_sid: Some(session.sid.clone()),
            ..request.clone()
        };
        self.save_pending_login(&waiting, &state, browser).await?;
        Ok(Some(ConsentAsk::Page(with_query(
            &self.url(paths::CONSENT),
            &[("state", &state)],
        ))))
    }

    /// `prompt=consent` asks always; a client with `consent = "once"` asks unless the person
    /// agreed to every scope of the request before.
    async fn needs_consent(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        userid: &str,
    ) -> Result<bool, OidcError> {
        if request.prompt_consent {
            return Ok(true);
        }
        if !client.asks_consent {
            return Ok(false);
        }
        let agreed = self.db.find_consent(userid, &client.id).await?;
        let agreed = Scopes::parse(agreed.as_deref().unwrap_or_default());
        Ok(!request.scope.iter().all(|s| agreed.contains(s)))
    }

    /// Where a request that asks for consent goes from `/authorize`.
    pub(super) fn consent_redirect(&self, request: &AuthorizationRequest, ask: ConsentAsk) -> AuthorizeOutcome {
        match ask {
            ConsentAsk::Page(url) => AuthorizeOutcome::Redirect(url),
            ConsentAsk::Required(e) => AuthorizeOutcome::ToClient(self.error_reply(request, &e)),
        }
    }

    /// The consent page of the request waiting under `state`, for the browser and session that
    /// started it.
    pub async fn consent_page(&self, state: &str, browser: Option<&str>, session_cookie: Option<&str>) -> ConsentPage {
        let request = match self.find_pending(state, browser, true).await {
            Ok(request) => request,
            Err(outcome) => return ConsentPage::Elsewhere(into_authorize(outcome)),
        };
        let session = self.current_session(session_cookie).await;
        let (Some(cookie), Some(session)) = (session_cookie, session) else {
            return ConsentPage::Elsewhere(AuthorizeOutcome::Page(PageError::LoginStateUnknown));
        };
        if request.consent_sid.as_deref() != Some(session.sid.as_str()) {
            return ConsentPage::Elsewhere(AuthorizeOutcome::Page(PageError::LoginStateUnknown));
        }
        let Some(client) = self.clients.get(&request.client_id) else {
            return ConsentPage::Elsewhere(AuthorizeOutcome::Page(PageError::UnknownClient));
        };
        ConsentPage::Ask(ConsentPrompt {
            client_name: client.display_name().to_owned(),
            scope: request.scope.clone(),
            form_token: form_token(&format!("consent:{state}"), cookie),
            state: state.to_owned(),
        })
    }

    /// The person's answer on the consent page: agreeing records it and sends the client its
    /// code; declining sends it `access_denied`.
    pub async fn decide_consent(
        &self,
        state: &str,
        browser: Option<&str>,
        session_cookie: Option<&str>,
        token: &str,
        agree: bool,
    ) -> AuthorizeOutcome {
        let expected = session_cookie.map(|cookie| form_token(&format!("consent:{state}"), cookie));
        if !expected.is_some_and(|e| constant_time_eq(e.as_bytes(), token.as_bytes())) {
            return AuthorizeOutcome::Page(PageError::LoginStateUnknown);
        }
        let request = match self.take_pending(Some(state), browser, true).await {
            Ok(request) => request,
            Err(outcome) => return into_authorize(outcome),
        };
        let session = self
            .current_session(session_cookie)
            .await
            .filter(|s| request.consent_sid.as_deref() == Some(s.sid.as_str()));
        let (Some(session), Some(client)) = (session, self.clients.get(&request.client_id)) else {
            return AuthorizeOutcome::Page(PageError::LoginStateUnknown);
        };
        let person = match self.db.find_user(&session.userid).await {
            Ok(Some(person)) => person,
            Ok(None) => return AuthorizeOutcome::Page(PageError::LoginStateUnknown),
            Err(e) => return AuthorizeOutcome::Page(PageError::of_store(&e)),
        };
        self.audit(Audit {
            kind: "consent",
            outcome: if agree { "granted" } else { "declined" },
            userid: Some(&session.userid),
            client_id: Some(&client.id),
            detail: Some(&request.scope.join(" ")),
            ..Default::default()
        })
        .await;
        if !agree {
            let e = OidcError::new(ErrorCode::AccessDenied, "the person did not agree");
            return AuthorizeOutcome::ToClient(self.error_reply(&request, &e));
        }
        if let Err(refusal) = self.admits(&client, &person.identity).await {
            return into_authorize(self.refusal(&request, super::RefusalReason::Denied(refusal)));
        }
        if let Err(e) = self.remember_consent(&session.userid, &client, &request.scope).await {
            return AuthorizeOutcome::ToClient(self.error_reply(&request, &e));
        }
        match self.issue_code(&request, &person.identity, &session).await {
            Ok(reply) => AuthorizeOutcome::ToClient(reply),
            Err(e) => AuthorizeOutcome::ToClient(self.error_reply(&request, &e)),
        }
    }

    /// Adds `scope` to what `userid` agreed `client` may receive.
    async fn remember_consent(&self, userid: &str, client: &Client, scope: &[String]) -> Result<(), OidcError> {
        let agreed = self.db.find_consent(userid, &client.id).await?;
        let mut agreed = Scopes::parse(agreed.as_deref().unwrap_or_default());
        for s in scope {
            agreed.insert(s);
        }
        self.db
            .record_consent(userid, &client.id, &agreed.to_string(), self.clock.now())
            .await?;
        Ok(())
    }
}
