//! The device authorization grant (RFC 8628): a device without a browser (a command-line tool,
//! a meeting-room screen) gets a device code to poll with and a short user code; a person opens
//! the device page on their phone or computer — typing the code, or scanning the QR code of
//! `verification_uri_complete`, which DingTalk's scanner opens inside the DingTalk client —
//! logs in with DingTalk as for any app, and approves the device by name. A code that someone
//! else sent therefore never logs anyone in without their say.

use serde::Serialize;

use super::audit::Audit;
use super::authorize::{AuthorizationRequest, PageError};
use super::error::{ErrorCode, OidcError};
use super::login::{AuthorizeOutcome, Refusal, RefusalReason};
use super::params::Params;
use super::reply::{ClientReply, ResponseMode};
use super::session::form_token;
use super::token::GrantType;
use super::{Client, Provider, Scopes, paths};
use crate::crypto::{TokenHash, constant_time_eq, fill_random, random_token};
use crate::identity::Upstream;
use crate::store::{DeviceApproval, DeviceGrant, DeviceStatus, NewDeviceGrant};

/// The letters of user codes: consonants only (RFC 8628 §6.1), so that no code spells a word,
/// and none of them is mistaken for another or for a digit.
const USER_CODE_LETTERS: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (20⁸ ≈ 2.6 × 10¹⁰ codes), shown as two groups of four.
const USER_CODE_LEN: usize = 8;

/// The answer to a device authorization request (RFC 8628 §3.2).
#[derive(Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// What the device page shows for a user code.
#[derive(Debug)]
pub enum DevicePage {
    /// No such code waits for a decision (mistyped, expired, or decided already).
    Unknown,
    /// The person is logged in: ask them to approve the device.
    Confirm(DeviceConfirmation),
    /// Nobody is logged in here: the DingTalk login first, then back to the page.
    LogIn(AuthorizeOutcome),
    /// The session's person may not use the device's app.
    Refused(Refusal),
    Failed(PageError),
}

/// The confirmation form's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfirmation {
    pub user_code: String,
    pub client_name: String,
    /// Who is about to approve it, as DingTalk names them.
    pub person: String,
    pub scope: Vec<String>,
    /// The form token, bound to the session and the code.
    pub form_token: String,
}

/// What came of a person's decision.
#[derive(Debug)]
pub enum DeviceDecision {
    Approved {
        client_name: String,
    },
    Denied {
        client_name: String,
    },
    Unknown,
    /// No live session (it ended, or the form came without its cookie): log in again.
    LoggedOut,
    /// The form's token does not belong to this session and code.
    Forged,
    Refused(Refusal),
    Failed(PageError),
}

/// A user code as a person may type it (any case, with or without the dash or spaces), in its
/// one written form `BCDF-GHJK`; `None` if it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let letters: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = letters.len() == USER_CODE_LEN && letters.bytes().all(|b| USER_CODE_LETTERS.contains(&b));
    valid.then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

fn new_user_code() -> String {
    let mut letters = String::with_capacity(USER_CODE_LEN);
    let mut random = [0u8; 16];
    while letters.len() < USER_CODE_LEN {
        fill_random(&mut random);
        // Bytes from 240 up are dropped, so that each of the 20 letters is equally likely.
        for b in random.iter().filter(|b| **b < 240) {
            if letters.len() < USER_CODE_LEN {
                letters.push(char::from(USER_CODE_LETTERS[usize::from(*b) % USER_CODE_LETTERS.len()]));
            }
        }
    }
    format!("{}-{}", &letters[..4], &letters[4..])
}

impl Provider {
    /// Starts a device login for an authenticated client allowed the device grant.
    pub async fn device_authorization(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<DeviceAuthorization, OidcError> {
        if let Some(name) = form.duplicate() {
            return Err(OidcError::new(
                ErrorCode::InvalidRequest,
                format!("parameter `{name}` appears more than once"),
            ));
        }
        let client = self.authenticate_client(form, basic).await?;
        if !client.may_use(GrantType::DeviceCode) {
            return Err(OidcError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not use the device authorization grant",
            ));
        }
        let scope = granted_scope(form.get("scope").unwrap_or("openid"), &client)?;
        let device_code = random_token();
        let now = self.clock.now();
        // A user code already in use is drawn again (a collision is rare: 2.6 × 10¹⁰ codes).
        for _ in 0..4 {
            let user_code = new_user_code();
            let grant = NewDeviceGrant {
                device_code_hash: TokenHash::of(&device_code).as_str().to_owned(),
                user_code_hash: TokenHash::of(&user_code).as_str().to_owned(),
                client_id: client.id.to_string(),
                scope: scope.clone(),
                poll_interval: self.ttl.device_poll_interval,
                expires_at: now + self.ttl.device_code_ttl,
            };
            if self.db.insert_device_grant(&grant).await? {
                let verification_uri = self.url(paths::DEVICE);
                return Ok(DeviceAuthorization {
                    verification_uri_complete: self.verification_uri_complete(&user_code),
                    verification_uri,
                    device_code,
                    user_code,
                    expires_in: self.ttl.device_code_ttl,
                    interval: self.ttl.device_poll_interval,
                });
            }
        }
        Err(OidcError::internal("no free user code after four draws"))
    }

    /// What the device page shows for `user_code`: the confirmation when the browser's session
    /// may use the device's app, else a DingTalk login that comes back here.
    pub async fn device_page(
        &self,
        user_code: &str,
        browser: &str,
        session_cookie: Option<&str>,
        in_dingtalk: bool,
        upstream: &impl Upstream,
    ) -> DevicePage {
        let Some(user_code) = normalize_user_code(user_code) else {
            return DevicePage::Unknown;
        };
        let (grant, client) = match self.waiting_grant(&user_code).await {
            Ok(Some(found)) => found,
            Ok(None) => return DevicePage::Unknown,
            Err(page) => return DevicePage::Failed(page),
        };
        let session = self.current_session(session_cookie).await;
        let person = match &session {
            Some(session) => match self.db.find_user(&session.userid).await {
                Ok(user) => user,
                Err(e) => return DevicePage::Failed(PageError::of_store(&e)),
            },
            None => None,
        };
        let (Some(cookie), Some(person)) = (session_cookie, person) else {
            let request = self.device_login_request(&user_code, &grant);
            return DevicePage::LogIn(self.send_to_dingtalk(&request, browser, in_dingtalk, upstream).await);
        };
        if let Err(refusal) = self.admits(&client, &person.identity).await {
            return DevicePage::Refused(self.device_refusal(&client, RefusalReason::Denied(refusal)));
        }
        DevicePage::Confirm(DeviceConfirmation {
            form_token: form_token(&format!("device:{user_code}"), cookie),
            client_name: client.display_name().to_owned(),
            person: person.identity.name.clone(),
            scope: grant.scope.split(' ').map(str::to_owned).collect(),
            user_code,
        })
    }

    /// Records the decision of the browser's person on `user_code`, posted with `token`.
    pub async fn decide_device(
        &self,
        user_code: &str,
        session_cookie: Option<&str>,
        token: &str,
        approve: bool,
    ) -> DeviceDecision {
        let Some(user_code) = normalize_user_code(user_code) else {
            return DeviceDecision::Unknown;
        };
        let (Some(cookie), Some(session)) = (session_cookie, self.current_session(session_cookie).await) else {
            return DeviceDecision::LoggedOut;
        };
        let expected = form_token(&format!("device:{user_code}"), cookie);
        if !constant_time_eq(expected.as_bytes(), token.as_bytes()) {
            return DeviceDecision::Forged;
        }
        let (_, client) = match self.waiting_grant(&user_code).await {
            Ok(Some(found)) => found,
            Ok(None) => return DeviceDecision::Unknown,
            Err(page) => return DeviceDecision::Failed(page),
        };
        let person = match self.db.find_user(&session.userid).await {
            Ok(Some(person)) => person,
            Ok(None) => return DeviceDecision::LoggedOut,
            Err(e) => return DeviceDecision::Failed(PageError::of_store(&e)),
        };
        if approve && let Err(refusal) = self.admits(&client, &person.identity).await {
            return DeviceDecision::Refused(self.device_refusal(&client, RefusalReason::Denied(refusal)));
        }
        let approval = approve.then(|| DeviceApproval {
            userid: session.userid.clone(),
            sid: session.sid.clone(),
            route: session.route.clone(),
            auth_time: session.auth_time,
        });
        let now = self.clock.now();
        match self
            .db
            .decide_device_grant(&TokenHash::of(&user_code), &session.userid, approval.as_ref(), now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return DeviceDecision::Unknown,
            Err(e) => {
                tracing::error!(cause = %e, "cannot record a device decision");
                return DeviceDecision::Failed(PageError::of_store(&e));
            }
        }
        let outcome = if approve { "approved" } else { "denied" };
        self.audit(Audit {
            kind: "device",
            outcome,
            userid: Some(&session.userid),
            client_id: Some(&client.id),
            route: Some(&session.route),
            ..Default::default()
        })
        .await;
        let client_name = client.display_name().to_owned();
        if approve {
            self.metrics.record_login("device", "success");
            DeviceDecision::Approved { client_name }
        } else {
            DeviceDecision::Denied { client_name }
        }
    }

    /// The device page with `user_code` filled in (`verification_uri_complete`).
    pub fn verification_uri_complete(&self, user_code: &str) -> String {
        super::authorize::with_query(&self.url(paths::DEVICE), &[("user_code", user_code)])
    }

    /// The grant of `user_code` while it waits for a decision, with its client.
    async fn waiting_grant(&self, user_code: &str) -> Result<Option<(DeviceGrant, std::sync::Arc<Client>)>, PageError> {
        let grant = self
            .db
            .find_device_grant(&TokenHash::of(user_code))
            .await
            .map_err(|e| {
                tracing::error!(cause = %e, "cannot read a device grant");
                PageError::of_store(&e)
            })?;
        Ok(grant
            .filter(|g| g.status == DeviceStatus::Pending && g.expires_at > self.clock.now())
            .and_then(|g| self.clients.get(&g.client_id).map(|client| (g, client))))
    }

    /// The login a device page starts: for the device's app, coming back to the same page
    /// (where the person then approves), never issuing a code.
    fn device_login_request(&self, user_code: &str, grant: &DeviceGrant) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: grant.client_id.clone(),
            redirect_uri: self.verification_uri_complete(user_code),
            scope: grant.scope.split(' ').map(str::to_owned).collect(),
            state: None,
            nonce: None,
            code_challenge: None,
            max_age: None,
            prompt_none: false,
            prompt_login: false,
            login_hint: None,
            hinted_subject: None,
            response_mode: ResponseMode::Query,
            prompt_consent: false,
            consent_sid: None,
            retries: 0,
            device: true,
        }
    }

    fn device_refusal(&self, client: &Client, reason: RefusalReason) -> Refusal {
        Refusal {
            reason,
            client_name: client.display_name().to_owned(),
            back: ClientReply::new(&self.url(paths::DEVICE), ResponseMode::Query, &[]),
        }
    }
}

/// The scopes asked for that the client may have, `openid` first; `openid` is required, as at
/// `/authorize` (the device gets an ID token).
fn granted_scope(requested: &str, client: &Client) -> Result<String, OidcError> {
    let requested = Scopes::parse(requested);
    if !requested.contains("openid") {
        return Err(OidcError::new(ErrorCode::InvalidScope, "scope must include openid"));
    }
    Ok(super::authorize::granted(&requested, client).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_two_groups_of_four_unambiguous_consonants() {
        for _ in 0..200 {
            let code = new_user_code();
            assert_eq!(code.len(), 9);
            assert_eq!(&code[4..5], "-");
            assert!(
                code.bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| USER_CODE_LETTERS.contains(&b)),
                "{code}"
            );
            assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
        }
        for ambiguous in [b'A', b'E', b'I', b'O', b'U', b'Y', b'0', b'1'] {
            assert!(!USER_CODE_LETTERS.contains(&ambiguous));
        }
    }

    #[test]
    fn typed_codes_are_read_in_any_case_with_or_without_separators() {
        assert_eq!(normalize_user_code("bcdf-ghjk").as_deref(), Some("BCDF-GHJK"));
        assert_eq!(normalize_user_code(" BCDF GHJK ").as_deref(), Some("BCDF-GHJK"));
        assert_eq!(normalize_user_code("bcdfghjk").as_deref(), Some("BCDF-GHJK"));
        assert_eq!(normalize_user_code("BCDF-GHJ"), None, "too short");
        assert_eq!(normalize_user_code("BCDF-GHJA"), None, "a vowel is never in a code");
        assert_eq!(normalize_user_code("BCDF-GHJKL"), None, "too long");
        assert_eq!(normalize_user_code("ВCDF-GHJK"), None, "a Cyrillic letter");
    }
}
