//! Pushed authorization requests (RFC 9126): a client posts its authorization request, checked
//! as `/authorize` would check it, and gets a `request_uri` valid once for a minute; the person's
//! browser then carries only that to `/authorize`.

use super::authorize::{self, PageError};
use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::{Client, Provider};
use crate::crypto::{TokenHash, random_token};

/// What every `request_uri` dingo hands out begins with (RFC 9126 §2.2).
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Seconds a pushed request may wait for the person's browser.
const PUSHED_TTL: i64 = 60;
/// Client authentication, which is not part of the authorization request kept.
const CLIENT_AUTH: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// The answer to a push (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

impl Provider {
    /// Checks and keeps an authorization request pushed by an authenticated client.
    pub async fn push_request(&self, form: &Params, basic: Option<(String, String)>) -> Result<Pushed, OidcError> {
        let invalid = |d: &str| OidcError::new(ErrorCode::InvalidRequest, d);
        if let Some(name) = form.duplicate() {
            return Err(OidcError::new(
                ErrorCode::InvalidRequest,
                format!("parameter `{name}` appears more than once"),
            ));
        }
        let client = self.authenticate_client(form, basic).await?;
        if form.get("request_uri").is_some() {
            return Err(invalid("request_uri cannot be pushed"));
        }
        let redirect_uri = form
            .get("redirect_uri")
            .ok_or_else(|| invalid("redirect_uri is missing"))?;
        if !client.has_redirect_uri(redirect_uri) {
            return Err(invalid("redirect_uri is not registered for this client"));
        }
        authorize::validate(form, &client)?;
        let mut kept = form.encode_without(&[CLIENT_AUTH, &["client_id"]].concat());
        kept.push_str(&format!(
            "&{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", &client.id)
                .finish()
        ));
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token());
        let now = self.clock.now();
        self.db
            .push_request(&TokenHash::of(&request_uri), &client.id, &kept, now + PUSHED_TTL)
            .await?;
        Ok(Pushed {
            request_uri,
            expires_in: PUSHED_TTL,
        })
    }

    /// The pushed request `/authorize` names with `request_uri`, taken (it cannot be used
    /// again); only its parameters count (RFC 9126 §4).
    pub(super) async fn take_pushed(&self, params: &Params, request_uri: &str) -> Result<Params, PageError> {
        let client_id = params.get("client_id").ok_or(PageError::MissingClientId)?;
        let taken = self
            .db
            .take_pushed_request(&TokenHash::of(request_uri), client_id, self.clock.now())
            .await
            .map_err(|e| PageError::of_store(&e))?;
        taken
            .map(|text| Params::parse(&text))
            .ok_or(PageError::PushedRequestUnknown)
    }

    /// Whether `client` may send its authorization requests only by pushing them.
    pub(super) fn must_push(&self, client: &Client) -> bool {
        self.require_pushed_requests || client.requires_pushed_requests
    }
}
