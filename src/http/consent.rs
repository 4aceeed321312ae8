//! The consent page: which app asks for what about the person, who agrees or declines.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::browser;
use super::limit::Limits;
use super::login::authorize_response;
use super::pages::{self, Lang, escape, page_in};
use crate::oidc::{ConsentPage, ConsentPrompt, PageError, Params, paths};
use crate::state::AppState;

/// `GET /consent?state=…`: where a login that needs the person's consent is sent.
pub async fn consent_get(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let lang = Lang::of(&request);
    let params = Params::parse(request.query_string());
    let Some(waiting) = params.get("state") else {
        return pages::error_page(&PageError::LoginStateMissing, lang);
    };
    let browser_id = browser::id(&request, state.secure_cookies);
    let session = browser::session(&request, state.secure_cookies);
    match state
        .provider
        .consent_page(waiting, browser_id.as_deref(), session.as_deref())
        .await
    {
        ConsentPage::Ask(prompt) => consent_page(&state, &prompt, lang),
        ConsentPage::Elsewhere(outcome) => authorize_response(&state, outcome, lang),
    }
}

/// `POST /consent`: the person's answer, from the consent form.
pub async fn consent_post(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let lang = Lang::of(&request);
    if let Err(limited) = limits.login(&request) {
        return pages::too_many_requests_page(limited.retry_after, lang);
    }
    let form = match super::own_form(&request, state.provider.issuer(), body, "consent") {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let agree = match form.get("decision") {
        Some("agree") => true,
        Some("decline") => false,
        _ => return pages::error_page(&PageError::LoginStateUnknown, lang),
    };
    let browser_id = browser::id(&request, state.secure_cookies);
    let session = browser::session(&request, state.secure_cookies);
    let outcome = state
        .provider
        .decide_consent(
            form.get("state").unwrap_or_default(),
            browser_id.as_deref(),
            session.as_deref(),
            form.get("form_token").unwrap_or_default(),
            agree,
        )
        .await;
    super::login::see_other(authorize_response(&state, outcome, lang))
}

/// What a scope gives an app, in words a person reads.
fn scope_words(scope: &str) -> (&str, &str) {
    match scope {
        "openid" => ("你的账号标识", "Your account identifier"),
        "profile" => ("姓名和头像", "Your name and picture"),
        "email" => ("邮箱地址", "Your email address"),
        "phone" => ("手机号码", "Your mobile number"),
        "groups" => ("所在部门", "Your departments"),
        "dingtalk" => (
            "钉钉账号信息（userid、unionid、工号、职位、部门）",
            "Your DingTalk account details (userid, unionid, job number, title, departments)",
        ),
        "offline_access" => (
            "在你不使用时继续访问（刷新令牌）",
            "Access while you are not using it (refresh tokens)",
        ),
        other => (other, other),
    }
}

fn consent_page(state: &AppState, prompt: &ConsentPrompt, lang: Lang) -> HttpResponse {
    let app = escape(&prompt.client_name);
    let (title, other_title, other) = match lang {
        Lang::Zh => (
            format!("「{app}」请求访问你的信息"),
            format!("{app} asks for your information"),
            "en",
        ),
        Lang::En => (
            format!("{app} asks for your information"),
            format!("「{app}」请求访问你的信息"),
            "zh-CN",
        ),
    };
    let items: String = prompt
        .scope
        .iter()
        .map(|scope| {
            let (zh, en) = scope_words(scope);
            let (first, second) = match lang {
                Lang::Zh => (zh, en),
                Lang::En => (en, zh),
            };
            format!(
                "<li data-scope=\"{}\">{} <span class=\"en\" lang=\"{other}\">{}</span></li>",
                escape(scope),
                escape(first),
                escape(second)
            )
        })
        .collect();
    let body = format!(
        "<h1>{title}</h1><p class=\"en\" lang=\"{other}\">{other_title}</p><ul id=\"consent-scopes\">{items}</ul>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"state\" value=\"{waiting}\"><input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <button class=\"button\" type=\"submit\" name=\"decision\" value=\"agree\" id=\"consent-agree\">允许 · Allow</button> \
         <button class=\"button secondary\" type=\"submit\" name=\"decision\" value=\"decline\" id=\"consent-decline\">拒绝 · Decline</button></form>",
        action = escape(&state.provider.url(paths::CONSENT)),
        waiting = escape(&prompt.state),
        token = escape(&prompt.form_token),
    );
    page_in(lang, StatusCode::OK, "授权 · Consent", &body)
}
