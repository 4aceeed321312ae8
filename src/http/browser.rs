//! The browser's cookies: the binding that ties a login's upstream `state` to the browser that
//! started it, and the dingo session.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

use crate::crypto::random_token;

const BROWSER: &str = "dingo_browser";
const SESSION: &str = "dingo_session";

/// A cookie value dingo issued: 43 base64url characters.
fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn read(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| well_formed(v))
}

/// HttpOnly; Secure unless dingo runs on loopback http; Lax, so that it comes back on the
/// top-level redirects from DingTalk and from apps.
fn build(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

/// The browser's id from its cookie, when it has a well-formed one.
pub fn id(request: &HttpRequest) -> Option<String> {
    read(request, BROWSER)
}

/// The browser's id, and the cookie to set when it had none.
pub fn id_or_new(request: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(id) = id(request) {
        return (id, None);
    }
    let id = random_token();
    (id.clone(), Some(build(BROWSER, id, secure)))
}

/// The session cookie's value, if the browser has one.
pub fn session(request: &HttpRequest) -> Option<String> {
    read(request, SESSION)
}

/// A session cookie living as long as the session.
pub fn session_cookie(value: String, secure: bool, max_age_seconds: i64) -> Cookie<'static> {
    let mut cookie = build(SESSION, value, secure);
    cookie.set_max_age(Duration::seconds(max_age_seconds));
    cookie
}

/// Removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = build(SESSION, String::new(), secure);
    cookie.make_removal();
    cookie
}
