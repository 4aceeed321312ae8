//! Discovery, JWKS and the home page.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use super::pages;
use crate::oidc::paths;
use crate::state::AppState;

/// How long relying parties may cache discovery and keys.
const METADATA_MAX_AGE: &str = "public, max-age=300";

pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    json_bytes(state.provider.discovery_json())
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    json_bytes(state.provider.keys().jwks_json())
}

fn json_bytes(bytes: &[u8]) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, METADATA_MAX_AGE))
        .body(bytes.to_vec())
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
