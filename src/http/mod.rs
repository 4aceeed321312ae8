//! actix-web only: routes, extractors, pages and how each endpoint presents its errors.
//! Handlers adapt: extract, make one call inward, map the result.

mod browser;
mod login;
mod logout;
mod metadata;
mod observe;
pub mod ops;
pub mod pages;
mod token;
mod userinfo;

use actix_web::web;

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
