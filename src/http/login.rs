//! `/authorize`, the DingTalk callback, and the in-app login page's endpoints.

use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, USER_AGENT};
use actix_web::{HttpRequest, HttpResponse, web};

use super::limit::Limits;
use super::{browser, no_store, pages};
use crate::oidc::{
    AuthorizeOutcome, ClientReply, InAppReply, LoginOutcome, Params, ResponseMode, UpstreamReply, paths,
};
use crate::state::AppState;

pub async fn authorize_get(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
) -> HttpResponse {
    if let Err(limited) = limits.authorize(&request) {
        return pages::too_many_requests_page(limited.retry_after, pages::Lang::of(&request));
    }
    authorize(&state, &request, Params::parse(request.query_string())).await
}

/// OIDC Core 3.1.2.1: the request may also be a form POST.
/// A cross-site post here is no forgery: relying parties send people here from their own sites,
/// and it can do no more than the same request as a GET.
pub async fn authorize_post(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    if let Err(limited) = limits.authorize(&request) {
        return pages::too_many_requests_page(limited.retry_after, pages::Lang::of(&request));
    }
    let body = match super::body(body) {
        Ok(body) => body,
        Err(e) => return pages::body_error_page(e, pages::Lang::of(&request)),
    };
    let params = Params::parse(&String::from_utf8_lossy(&body));
    see_other(authorize(&state, &request, params).await)
}

/// The DingTalk client says so in its user agent (DINGTALK-API.md §4.1).
pub(super) fn in_dingtalk(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(USER_AGENT)
        .and_then(|ua| ua.to_str().ok())
        .is_some_and(|ua| ua.to_ascii_lowercase().contains("dingtalk"))
}

async fn authorize(state: &AppState, request: &HttpRequest, params: Params) -> HttpResponse {
    let (browser, cookie) = browser::id_or_new(request, state.secure_cookies);
    let session = browser::session(request, state.secure_cookies);
    let outcome = state
        .provider
        .authorize(
            &params,
            &browser,
            session.as_deref(),
            in_dingtalk(request),
            state.dingtalk.as_ref(),
        )
        .await;
    let mut response = authorize_response(state, outcome, pages::Lang::of(request));
    if let Some(cookie) = cookie {
        // A freshly built cookie always encodes to a valid header.
        let _ = response.add_cookie(&cookie);
    }
    response
}

pub(super) fn authorize_response(state: &AppState, outcome: AuthorizeOutcome, lang: pages::Lang) -> HttpResponse {
    match outcome {
        AuthorizeOutcome::Redirect(url) => redirect(&url),
        AuthorizeOutcome::ToClient(reply) => to_client(&reply),
        AuthorizeOutcome::Page(error) => pages::error_page(&error, lang),
        AuthorizeOutcome::Refused(refusal) => pages::refusal_page(&refusal, lang),
        AuthorizeOutcome::InApp(login) => {
            let urls = pages::InAppUrls {
                post: state.provider.url(paths::DINGTALK_IN_APP),
                web_fallback: state.provider.url(paths::DINGTALK_WEB_FALLBACK),
                script: state.provider.url(paths::IN_APP_SCRIPT),
            };
            pages::in_app_page(&login, &state.in_app_page, &urls)
        }
    }
}

/// DingTalk sends `authCode` (documented) and `code` (observed and legacy); both are read (§6.2).
pub async fn dingtalk_callback(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
) -> HttpResponse {
    if let Err(limited) = limits.login(&request) {
        return pages::too_many_requests_page(limited.retry_after, pages::Lang::of(&request));
    }
    let params = Params::parse(request.query_string());
    let reply = UpstreamReply {
        state: params.get("state").map(str::to_owned),
        code: params.get("authCode").or_else(|| params.get("code")).map(str::to_owned),
        error: params.get("error").map(str::to_owned),
    };
    let browser = browser::id(&request, state.secure_cookies);
    let session = browser::session(&request, state.secure_cookies);
    let outcome = state
        .provider
        .finish_login(reply, browser.as_deref(), session.as_deref(), state.dingtalk.as_ref())
        .await;
    login_response(&state, outcome, pages::Lang::of(&request))
}

/// The in-app login page posts the code from the DingTalk client (or, when silent, its failure).
/// Forged posts fail twice over: the form's `state` is single-use and bound to the browser that
/// opened the page (whose cookie is `SameSite=Lax`, so not sent with a cross-site post), and a
/// post that the browser says comes from another site is refused outright.
pub async fn dingtalk_in_app(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let lang = pages::Lang::of(&request);
    if let Err(limited) = limits.login(&request) {
        return pages::too_many_requests_page(limited.retry_after, lang);
    }
    let form = match super::own_form(&request, state.provider.issuer(), body, "in-app login") {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let reply = InAppReply {
        state: form.get("state").map(str::to_owned),
        code: form.get("code").map(str::to_owned),
        method: form.get("method").map(str::to_owned),
        error: form.get("error").map(str::to_owned),
    };
    let browser = browser::id(&request, state.secure_cookies);
    let session = browser::session(&request, state.secure_cookies);
    let outcome = state
        .provider
        .finish_in_app(reply, browser.as_deref(), session.as_deref(), state.dingtalk.as_ref())
        .await;
    see_other(login_response(&state, outcome, lang))
}

/// "Try again" after DingTalk could not be reached: the same pending login's DingTalk login.
pub async fn dingtalk_again(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
) -> HttpResponse {
    let lang = pages::Lang::of(&request);
    if let Err(limited) = limits.login(&request) {
        return pages::too_many_requests_page(limited.retry_after, lang);
    }
    let params = Params::parse(request.query_string());
    let Some(login_state) = params.get("state") else {
        return pages::error_page(&crate::oidc::PageError::LoginStateMissing, lang);
    };
    let browser = browser::id(&request, state.secure_cookies);
    let outcome = state
        .provider
        .login_again(
            login_state,
            browser.as_deref(),
            in_dingtalk(&request),
            state.dingtalk.as_ref(),
        )
        .await;
    authorize_response(&state, outcome, lang)
}

/// The in-app page's fallback to DingTalk's web login, for the same pending login.
pub async fn dingtalk_web_fallback(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
) -> HttpResponse {
    if let Err(limited) = limits.login(&request) {
        return pages::too_many_requests_page(limited.retry_after, pages::Lang::of(&request));
    }
    let params = Params::parse(request.query_string());
    let Some(login_state) = params.get("state") else {
        return pages::error_page(&crate::oidc::PageError::LoginStateMissing, pages::Lang::of(&request));
    };
    let browser = browser::id(&request, state.secure_cookies);
    let outcome = state
        .provider
        .web_fallback(login_state, browser.as_deref(), state.dingtalk.as_ref())
        .await;
    authorize_response(&state, outcome, pages::Lang::of(&request))
}

fn login_response(state: &AppState, outcome: LoginOutcome, lang: pages::Lang) -> HttpResponse {
    match outcome {
        LoginOutcome::ToClient(reply) => to_client(&reply),
        LoginOutcome::LoggedIn { reply, session_cookie } => {
            let mut response = to_client(&reply);
            let cookie = browser::session_cookie(
                session_cookie.expose().to_owned(),
                state.secure_cookies,
                state.provider.session_ttl(),
            );
            // A freshly built cookie always encodes to a valid header.
            let _ = response.add_cookie(&cookie);
            response
        }
        LoginOutcome::Refused(refusal) => pages::refusal_page(&refusal, lang),
        LoginOutcome::Page(error) => pages::error_page(&error, lang),
        LoginOutcome::TryAgain(offer) => pages::try_again_page(&offer, lang),
        LoginOutcome::InAppAgain(login) => authorize_response(state, AuthorizeOutcome::InApp(login), lang),
    }
}

/// The authorization response, as the client asked: a redirect (query or fragment), or a form
/// that posts itself.
fn to_client(reply: &ClientReply) -> HttpResponse {
    match reply.mode {
        ResponseMode::Query | ResponseMode::Fragment => redirect(&reply.location()),
        ResponseMode::FormPost => pages::form_post_page(reply),
    }
}

fn redirect(url: &str) -> HttpResponse {
    no_store(&mut HttpResponse::Found())
        .insert_header((LOCATION, url))
        .finish()
}

/// 303 instead of 302, so that the redirect answering a form post is followed with a GET.
pub(super) fn see_other(mut response: HttpResponse) -> HttpResponse {
    if response.status() == StatusCode::FOUND {
        *response.status_mut() = StatusCode::SEE_OTHER;
    }
    response
}
