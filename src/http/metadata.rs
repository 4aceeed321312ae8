//! Discovery, JWKS and the home page.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use super::pages;
use crate::oidc::paths;
use crate::state::AppState;

/// How long relying parties may cache discovery.
const DISCOVERY_MAX_AGE: u64 = 300;

pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    json_bytes(state.provider.discovery_json().to_vec(), DISCOVERY_MAX_AGE)
}

/// The published keys (next, signing, retiring), cacheable for at most half the time a new key
/// is published before it signs, so that a caching relying party has it before its first use.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let keys = state.provider.keys();
    json_bytes(keys.jwks_json().to_vec(), keys.jwks_max_age())
}

fn json_bytes(bytes: Vec<u8>, max_age: u64) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, format!("public, max-age={max_age}")))
        .body(bytes)
}

pub async fn home(state: web::Data<AppState>) -> HttpResponse {
    let discovery = pages::escape(&state.provider.url(paths::DISCOVERY));
    let body = format!(
        "<h1>dingo · 钉钉登录</h1><p class=\"en\" lang=\"en\">dingo · DingTalk login</p>\
         <p>这是组织的单点登录服务，请从应用中登录。</p>\
         <p class=\"en\" lang=\"en\">This is the organisation's single sign-on service. Log in from an application.</p>\
         <p><a href=\"{discovery}\">OpenID Connect discovery</a></p>"
    );
    pages::page(StatusCode::OK, "dingo", &body)
}
