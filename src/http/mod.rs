//! actix-web only: routes, extractors, pages and how each endpoint presents its errors.
//! Handlers adapt: extract, make one call inward, map the result.

mod browser;
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

pub use limit::{Limits, bound_query};
pub use observe::log_request;

use crate::oidc::paths;

/// Mounts every dingo route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(metadata::home))
        .route(paths::DISCOVERY, web::get().to(metadata::discovery))
        .route(paths::JWKS, web::get().to(metadata::jwks))
        .route(paths::AUTHORIZE, web::get().to(login::authorize_get))
        .route(paths::AUTHORIZE, web::post().to(login::authorize_post))
        .route(paths::DINGTALK_CALLBACK, web::get().to(login::dingtalk_callback))
        .route(paths::DINGTALK_IN_APP, web::post().to(login::dingtalk_in_app))
        .route(
            paths::DINGTALK_WEB_FALLBACK,
            web::get().to(login::dingtalk_web_fallback),
        )
        .route(paths::IN_APP_SCRIPT, web::get().to(pages::in_app_script))
        .route(paths::TOKEN, web::post().to(token::token))
        .route(paths::REVOKE, web::post().to(token::revoke))
        .route(paths::INTROSPECT, web::post().to(token::introspect))
        .route(paths::LOGOUT, web::get().to(logout::logout_get))
        .route(paths::LOGOUT, web::post().to(logout::logout_post))
        .route(paths::USERINFO, web::get().to(userinfo::userinfo))
        .route(paths::USERINFO, web::post().to(userinfo::userinfo));
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, for every response that carries a token
/// or a code (RFC 6749 §5.1).
fn no_store(builder: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    builder
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
}

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

/// A form posted from a page of another origin than dingo's: its `Origin` header (which
/// browsers send with every POST) names another one. Requests without `Origin` (not from a
/// browser, or a very old one) are not refused here; their other defences apply.
fn cross_origin(request: &actix_web::HttpRequest, issuer: &str) -> bool {
    let Some(origin) = request.headers().get(actix_web::http::header::ORIGIN) else {
        return false;
    };
    let ours = url::Url::parse(issuer).map(|u| u.origin().ascii_serialization());
    match (origin.to_str(), ours) {
        (Ok(origin), Ok(ours)) => !origin.eq_ignore_ascii_case(&ours),
        _ => true,
    }
}
