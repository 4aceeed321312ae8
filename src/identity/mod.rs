//! The canonical identity of a person, as resolved from DingTalk. Every login route ends here;
//! the store keeps it, the OIDC layer turns it into claims.

mod ids;
mod policy;

use serde::{Deserialize, Serialize};

pub use ids::{ClientId, UserId};
pub use policy::{Policy, Refusal};

/// A member of the organisation, from `topapi/v2/user/get` (plus `users/me` where it says more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The member id within the organisation: immutable, and dingo's `sub`.
    pub userid: UserId,
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
    /// The departments the person belongs to, with their place in the organisation.
    #[serde(default)]
    pub departments: Vec<Department>,
    /// Some of the departments, or of their parents, could not be read from DingTalk (the app
    /// lacks the department permission, or its contact scope leaves them out): `departments`
    /// holds what could be read, and department rules that depend on the rest fail closed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub departments_partial: bool,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub boss: bool,
}

/// A department a person belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: i64,
    pub name: String,
    /// Ids from the root (1) down to this department, itself included.
    pub lineage: Vec<i64>,
    /// Names along `lineage`, joined with `/`: 示例科技/研发部/平台组.
    pub path: String,
}

/// Which DingTalk route authenticated the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginRoute {
    /// DingTalk's web OAuth2 login page (QR code or password).
    Web,
    /// The legacy scan-login app (sns).
    Legacy,
    /// Password-free login inside the DingTalk client (免登, `requestAuthCode`).
    InApp,
    /// Delegated authorization inside the client (`openAuth`).
    OpenAuth,
}

impl LoginRoute {
    /// The `amr` value of this route.
    pub fn amr(self) -> &'static str {
        match self {
            Self::Web => "dingtalk_web",
            Self::Legacy => "dingtalk_sns",
            Self::InApp => "dingtalk_inapp",
            Self::OpenAuth => "dingtalk_openauth",
        }
    }
}

/// A login code from DingTalk, tagged with the route that produced it (each is redeemed
/// differently).
#[derive(Debug, Clone)]
pub struct UpstreamCode {
    pub route: LoginRoute,
    pub code: String,
}

/// Why an upstream login did not produce an identity, in the terms the login flow decides on.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The account is not a member of the configured organisation (DingTalk 60121, external contact).
    #[error("not a member of the organisation")]
    NotMember,
    /// The member is outside the app's visible range in the contacts (DingTalk 50002).
    #[error("outside the app's visible range")]
    NotVisible,
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
    /// The web login page; `in_client` when the browser is the DingTalk client itself.
    fn login_url(&self, callback: &str, state: &str, in_client: bool) -> String;

    /// The route the web login page's callback code belongs to.
    fn web_route(&self) -> LoginRoute;

    /// The identity of member `userid` as DingTalk knows it now (to re-check on refresh).
    fn identity_of(&self, userid: &str) -> impl std::future::Future<Output = Result<Identity, UpstreamError>> + Send;

    /// Resolves a login code into an identity.
    fn resolve(&self, code: &UpstreamCode)
    -> impl std::future::Future<Output = Result<Identity, UpstreamError>> + Send;
}
