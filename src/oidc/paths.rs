//! Every protocol path, defined once: the router mounts these and discovery advertises them.

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks.json";
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
/// Where DingTalk's web login sends the person back.
pub const DINGTALK_CALLBACK: &str = "/login/dingtalk/callback";
