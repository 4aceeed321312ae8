//! `/authorize` and the DingTalk callback.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{browser, no_store, pages};
use crate::oidc::{AuthorizeOutcome, LoginOutcome, Params, UpstreamReply};
use crate::state::AppState;

pub async fn authorize_get(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    authorize(&state, &request, Params::parse(request.query_string())).await
}

/// OIDC Core 3.1.2.1: the request may also be a form POST.
pub async fn authorize_post(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = Params::parse(&String::from_utf8_lossy(&body));
    authorize(&state, &request, params).await
}

async fn authorize(state: &AppState, request: &HttpRequest, params: Params) -> HttpResponse {
    let (browser, cookie) = browser::id_or_new(request, state.secure_cookies);
    let mut response = match state
        .provider
        .authorize(&params, &browser, &state.dingtalk)
        .await
    {
        AuthorizeOutcome::Redirect(url) => redirect(&url),
        AuthorizeOutcome::Page(error) => pages::error_page(&error),
    };
    if let Some(cookie) = cookie {
        // A freshly built cookie always encodes to a valid header.
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// DingTalk sends `authCode` (documented) and `code` (observed); both are read (§6.2).
pub async fn dingtalk_callback(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let params = Params::parse(request.query_string());
    let reply = UpstreamReply {
        state: params.get("state").map(str::to_owned),
        code: params
            .get("authCode")
            .or_else(|| params.get("code"))
            .map(str::to_owned),
        error: params.get("error").map(str::to_owned),
    };
    let browser = browser::id(&request);
    match state
        .provider
        .finish_login(reply, browser.as_deref(), &state.dingtalk)
        .await
    {
        LoginOutcome::Redirect(url) => redirect(&url),
        LoginOutcome::Refused(refusal) => pages::refusal_page(&refusal),
        LoginOutcome::Page(error) => pages::error_page(&error),
    }
}

fn redirect(url: &str) -> HttpResponse {
    no_store(&mut HttpResponse::Found())
        .insert_header((LOCATION, url))
        .finish()
}
