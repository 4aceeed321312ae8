//! AppState: the one place where the running service's dependencies are held.

use std::sync::Arc;

use crate::dingtalk::DingTalk;
use crate::membership::{HttpPush, Inbox};
use crate::oidc::Provider;
use crate::telemetry::Metrics;

#[derive(Debug)]
pub struct AppState {
    pub provider: Arc<Provider>,
    pub dingtalk: Arc<DingTalk>,
    /// Where DingTalk's organisation-change events are recorded, however they came.
    pub inbox: Inbox,
    /// The receiver of HTTP event pushes, when `events.mode = "http"`.
    pub http_push: Option<HttpPush>,
    /// Whether cookies get the `Secure` attribute (false only for an http loopback issuer).
    pub secure_cookies: bool,
    pub in_app_page: InAppPage,
    /// The Prometheus series (also held by the DingTalk client and the request middleware).
    pub metrics: Arc<Metrics>,
}

/// What the in-app login page tells the DingTalk client.
#[derive(Debug, Clone)]
pub struct InAppPage {
    pub corp_id: String,
    /// The DingTalk app's Client ID (AppKey).
    pub client_id: String,
    pub jsapi_url: String,
    pub open_auth_script_url: String,
    pub open_auth_scope: String,
    /// The CSP `frame-ancestors` sources of the in-app page.
    pub frame_ancestors: String,
}
