//! actix-web only: routes, extractors, pages and how each endpoint presents its errors.
//! Handlers adapt: extract, make one call inward, map the result.

mod browser;
mod consent;
mod cors;
mod device;
mod endpoint;
mod events;
mod limit;
mod login;
mod logout;
mod metadata;
mod observe;
pub mod ops;
pub mod pages;
mod token;
mod userinfo;

use actix_web::web;

use endpoint::Endpoint;

pub use cors::cors;
pub use limit::{Limits, bound_query};
pub use observe::log_request;

use crate::oidc::paths;

/// Mounts every dingo route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/").get(metadata::home).done())
        .service(Endpoint::new(paths::DISCOVERY).get(metadata::discovery).done())
        .service(Endpoint::new(paths::JWKS).get(metadata::jwks).done())
        .service(
            Endpoint::new(paths::AUTHORIZE)
                .get(login::authorize_get)
                .post(login::authorize_post)
                .done(),
        )
        .service(
            Endpoint::new(paths::DINGTALK_CALLBACK)
                .get(login::dingtalk_callback)
                .done(),
        )
        .service(
            Endpoint::new(paths::DINGTALK_IN_APP)
                .post(login::dingtalk_in_app)
                .done(),
        )
        .service(
            Endpoint::new(paths::DINGTALK_WEB_FALLBACK)
                .get(login::dingtalk_web_fallback)
                .done(),
        )
        .service(
            Endpoint::new(paths::CONSENT)
                .get(consent::consent_get)
                .post(consent::consent_post)
                .done(),
        )
        .service(Endpoint::new(paths::DINGTALK_AGAIN).get(login::dingtalk_again).done())
        .service(Endpoint::new(paths::IN_APP_SCRIPT).get(pages::in_app_script).done())
        .service(Endpoint::new(paths::TOKEN).post(token::token).done())
        .service(Endpoint::new(paths::PAR).post(token::par).done())
        .service(
            Endpoint::new(paths::DEVICE_AUTHORIZATION)
                .post(token::device_authorization)
                .done(),
        )
        .service(
            Endpoint::new(paths::DEVICE)
                .get(device::device_get)
                .post(device::device_post)
                .done(),
        )
        .service(Endpoint::new(paths::DEVICE_QR).get(device::device_qr).done())
        .service(Endpoint::new(paths::REVOKE).post(token::revoke).done())
        .service(Endpoint::new(paths::INTROSPECT).post(token::introspect).done())
        .service(
            Endpoint::new(paths::LOGOUT)
                .get(logout::logout_get)
                .post(logout::logout_post)
                .done(),
        )
        .service(
            Endpoint::new(paths::USERINFO)
                .get(userinfo::userinfo)
                .post(userinfo::userinfo)
                .done(),
        )
        .service(Endpoint::new(paths::DINGTALK_EVENTS).post(events::push).done());
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for every response that carries a token
/// or a code (RFC 6749 §5.1).
use crate::html::no_store;

/// Headers on every response: no MIME sniffing, no referrer leaving dingo (URLs can carry codes),
/// no framing.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
}

/// Whether the request body is `application/x-www-form-urlencoded`.
fn is_form(request: &actix_web::HttpRequest) -> bool {
    request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyError {
    /// Larger than `limits.max_body_bytes` (actix stops reading at the limit).
    TooLarge,
    /// Broken off, or wrongly encoded.
    Unreadable,
}

/// The body the `web::Bytes` extractor read, or why it did not.
fn body(read: Result<web::Bytes, actix_web::Error>) -> Result<web::Bytes, BodyError> {
    read.map_err(|e| {
        if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            tracing::info!(cause = %e, "cannot read a request body");
            BodyError::Unreadable
        }
    })
}

/// The form of one of dingo's own pages, posted back (`what` names it in the log): refused with
/// a page when the body is too large or unreadable, or the post comes from another site.
fn own_form(
    request: &actix_web::HttpRequest,
    issuer: &str,
    body: Result<web::Bytes, actix_web::Error>,
    what: &str,
) -> Result<crate::oidc::Params, Box<actix_web::HttpResponse>> {
    let lang = pages::Lang::of(request);
    let body = self::body(body).map_err(|e| Box::new(pages::body_error_page(e, lang)))?;
    if cross_site(request, issuer) {
        tracing::warn!(form = what, "refused a form posted from another site");
        return Err(Box::new(pages::cross_site_page(lang)));
    }
    Ok(crate::oidc::Params::parse(&String::from_utf8_lossy(&body)))
}

/// A form posted from a page that is not dingo's own. Browsers say where a request comes from in
/// `Sec-Fetch-Site` (`same-origin`, `same-site`, `cross-site`, or `none` when the person typed or
/// bookmarked it); a sibling site is refused too, since `SameSite=Lax` cookies do not stop it.
/// Browsers without it are judged by `Origin`, which is `null` on dingo's own pages (they are
/// served with `Referrer-Policy: no-referrer`) and so refuses only another named origin. A
/// request with neither header (not from a browser) is not refused here; its other defences apply.
fn cross_site(request: &actix_web::HttpRequest, issuer: &str) -> bool {
    let header = |name: &str| request.headers().get(name).map(|v| v.to_str().unwrap_or("?"));
    match header("sec-fetch-site") {
        Some("same-origin" | "none") => return false,
        Some("same-site" | "cross-site") => return true,
        _ => {}
    }
    match header("origin") {
        None | Some("null") => false,
        Some(origin) => {
            let ours = url::Url::parse(issuer).ok().map(|u| u.origin().ascii_serialization());
            ours.is_none_or(|ours| !origin.eq_ignore_ascii_case(&ours))
        }
    }
}
