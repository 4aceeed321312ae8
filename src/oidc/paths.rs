//! Every protocol path, defined once: the router mounts these and discovery advertises them.

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks.json";
pub const AUTHORIZE: &str = "/authorize";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/par";
pub const TOKEN: &str = "/token";
/// Where a device starts a login (RFC 8628 §3.1).
pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
/// The page where a person enters or scans a device's user code (`verification_uri`).
pub const DEVICE: &str = "/device";
/// The QR code of a device page with its user code (SVG), for devices with a screen.
pub const DEVICE_QR: &str = "/device/qr.svg";
pub const USERINFO: &str = "/userinfo";
/// Where DingTalk's web login sends the person back.
pub const DINGTALK_CALLBACK: &str = "/login/dingtalk/callback";
/// Where the in-app login page posts the code the DingTalk client gave it.
pub const DINGTALK_IN_APP: &str = "/login/dingtalk/inapp";
/// The in-app page's way out: the same login through DingTalk's web login page.
pub const DINGTALK_WEB_FALLBACK: &str = "/login/dingtalk/web";
/// "Try again" after DingTalk could not be reached: the same request's login once more.
pub const DINGTALK_AGAIN: &str = "/login/dingtalk/again";
/// Where DingTalk pushes organisation-change events (`events.mode = "http"`).
pub const DINGTALK_EVENTS: &str = "/dingtalk/events";
/// Where a person agrees to what an app receives (clients with `consent = "once"`,
/// `prompt=consent`).
pub const CONSENT: &str = "/consent";
/// The in-app login page's script.
pub const IN_APP_SCRIPT: &str = "/assets/inapp.js";
pub const REVOKE: &str = "/revoke";
pub const INTROSPECT: &str = "/introspect";
/// RP-initiated logout (`end_session_endpoint`).
pub const LOGOUT: &str = "/logout";
