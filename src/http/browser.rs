//! The browser-binding cookie: a random id that ties a login's upstream `state` to the browser
//! that started it, so a login link cannot be completed elsewhere.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::crypto::random_token;

const NAME: &str = "dingo_browser";

/// The browser's id from its cookie, when it has a well-formed one.
pub fn id(request: &HttpRequest) -> Option<String> {
    request
        .cookie(NAME)
        .map(|c| c.value().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The browser's id, and the cookie to set when it had none.
pub fn id_or_new(request: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(id) = id(request) {
        return (id, None);
    }
    let id = random_token();
    let cookie = Cookie::build(NAME, id.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        // Lax: the cookie comes back on DingTalk's top-level redirect to the callback.
        .same_site(SameSite::Lax)
        .finish();
    (id, Some(cookie))
}
