//! AppState: the one place where the running service's dependencies are held.

use crate::dingtalk::DingTalk;
use crate::oidc::Provider;

#[derive(Debug)]
pub struct AppState {
    pub provider: Provider,
    pub dingtalk: DingTalk,
    /// Whether cookies get the `Secure` attribute (false only for an http loopback issuer).
    pub secure_cookies: bool,
}
