//! The canonical identity of a person, as resolved from DingTalk. Every login route ends here;
//! the store keeps it, the OIDC layer turns it into claims.

use serde::{Deserialize, Serialize};

/// A member of the organisation, from `topapi/v2/user/get` (plus `users/me` where it says more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The member id within the organisation: immutable, and dingo's `sub`.
    pub userid: String,
    pub unionid: String,
    pub corp_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Mobile number without country code, as DingTalk stores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// Country calling code, e.g. "86".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_code: Option<String>,
    /// The enterprise mailbox assigned by the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_email: Option<String>,
    /// A mailbox the person entered themselves (not verified by the organisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub dept_ids: Vec<i64>,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub boss: bool,
}

/// Which DingTalk route authenticated the person (reported as `amr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginRoute {
    /// DingTalk's web OAuth2 login page (QR code or password).
    Web,
}

/// Why an upstream login did not produce an identity, in the terms the login flow decides on.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The account is not a member of the configured organisation (DingTalk 60121, external contact).
    #[error("not a member of the organisation")]
    NotMember,
    /// The upstream did not accept the login code (used, expired or forged).
    #[error("the login code was refused")]
    InvalidCode,
    /// The upstream could not be reached, timed out, or answered that it is busy.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// The upstream refused the call for another reason, most often configuration or permissions.
    #[error("upstream refused {api}: {detail}")]
    Refused { api: &'static str, detail: String },
}

/// Where people authenticate: the login page to send them to, and how to read what comes back.
pub trait Upstream: Send + Sync {
    /// The page to send the person to; `callback` is dingo's own callback URL.
    fn login_url(&self, callback: &str, state: &str) -> String;

    /// Resolves the code the person came back with into an identity.
    fn resolve_web_login(
        &self,
        code: &str,
    ) -> impl std::future::Future<Output = Result<Identity, UpstreamError>> + Send;
}
