//! The browser's cookies: the binding that ties a login's upstream `state` to the browser that
//! started it, and the dingo session.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

use crate::crypto::random_token;

/// The cookies' names. Over https they carry the `__Host-` prefix: the browser then accepts them
/// only from dingo's own host, Secure, for path `/` and without a domain, so a sibling subdomain
/// cannot plant one (cookie tossing) and defeat the login's browser binding. Loopback http
/// cannot use the prefix.
fn browser_name(secure: bool) -> &'static str {
    if secure {
        "__Host-dingo_browser"
    } else {
        "dingo_browser"
    }
}

fn session_name(secure: bool) -> &'static str {
    if secure {
        "__Host-dingo_session"
    } else {
        "dingo_session"
    }
}

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
pub fn id(request: &HttpRequest, secure: bool) -> Option<String> {
    read(request, browser_name(secure))
}

/// The browser's id, and the cookie to set when it had none.
pub fn id_or_new(request: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(id) = id(request, secure) {
        return (id, None);
    }
    let id = random_token();
    (id.clone(), Some(build(browser_name(secure), id, secure)))
}

/// The session cookie's value, if the browser has one.
pub fn session(request: &HttpRequest, secure: bool) -> Option<String> {
    read(request, session_name(secure))
}

/// A session cookie living as long as the session.
pub fn session_cookie(value: String, secure: bool, max_age_seconds: i64) -> Cookie<'static> {
    let mut cookie = build(session_name(secure), value, secure);
    cookie.set_max_age(Duration::seconds(max_age_seconds));
    cookie
}

/// Removes the session cookie.
pub fn cleared_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = build(session_name(secure), String::new(), secure);
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const VALUE: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

    #[test]
    fn over_https_only_host_prefixed_cookies_are_read_and_set() {
        let planted = TestRequest::default()
            .cookie(Cookie::new("dingo_browser", VALUE))
            .cookie(Cookie::new("dingo_session", VALUE))
            .to_http_request();
        assert_eq!(id(&planted, true), None, "a cookie a sibling subdomain could set");
        assert_eq!(session(&planted, true), None);
        assert_eq!(id(&planted, false).as_deref(), Some(VALUE), "loopback http");
        let own = TestRequest::default()
            .cookie(Cookie::new("__Host-dingo_browser", VALUE))
            .cookie(Cookie::new("__Host-dingo_session", VALUE))
            .to_http_request();
        assert_eq!(id(&own, true).as_deref(), Some(VALUE));
        assert_eq!(session(&own, true).as_deref(), Some(VALUE));

        let (_, set) = id_or_new(&planted, true);
        let set = set.expect("a new browser id");
        assert_eq!(set.name(), "__Host-dingo_browser");
        // What the prefix requires of the cookie, or the browser drops it.
        assert_eq!((set.secure(), set.path(), set.domain()), (Some(true), Some("/"), None));
        let session = session_cookie(VALUE.to_owned(), true, 60);
        assert_eq!(session.name(), "__Host-dingo_session");
        assert_eq!(cleared_session_cookie(true).name(), "__Host-dingo_session");
        assert_eq!(session_cookie(VALUE.to_owned(), false, 60).name(), "dingo_session");
    }
}
