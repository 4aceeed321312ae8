//! The device page (RFC 8628 §3.3): a person enters or scans a device's user code, logs in with
//! DingTalk, and approves or denies the device; and the QR code of a device page.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};

use super::browser;
use super::limit::Limits;
use super::login::{authorize_response, in_dingtalk};
use super::pages::{self, Lang, escape, message, page_in};
use crate::oidc::{DeviceConfirmation, DeviceDecision, DevicePage, Params, normalize_user_code, paths};
use crate::state::AppState;

/// `GET /device`: the code entry form, or with `user_code` (typed in the form, or in the QR
/// code's URL) the login and then the confirmation.
pub async fn device_get(state: web::Data<AppState>, limits: web::Data<Limits>, request: HttpRequest) -> HttpResponse {
    let lang = Lang::of(&request);
    let params = Params::parse(request.query_string());
    let Some(user_code) = params.get("user_code").filter(|c| !c.trim().is_empty()) else {
        return entry_page(lang, None, StatusCode::OK);
    };
    if params.get("error").is_some() {
        // The DingTalk login started here did not complete.
        return login_incomplete_page(&state, user_code, lang);
    }
    if let Err(limited) = limits.device_code(&request) {
        return pages::too_many_requests_page(limited.retry_after, lang);
    }
    let (browser_id, cookie) = browser::id_or_new(&request, state.secure_cookies);
    let session = browser::session(&request, state.secure_cookies);
    let page = state
        .provider
        .device_page(
            user_code,
            &browser_id,
            session.as_deref(),
            in_dingtalk(&request),
            state.dingtalk.as_ref(),
        )
        .await;
    let mut response = match page {
        DevicePage::Unknown => entry_page(lang, Some(Notice::UnknownCode), StatusCode::BAD_REQUEST),
        DevicePage::Confirm(confirmation) => confirm_page(&state, &confirmation, lang),
        DevicePage::LogIn(outcome) => authorize_response(&state, outcome, lang),
        DevicePage::Refused(refusal) => pages::refusal_page(&refusal, lang),
        DevicePage::Failed(error) => pages::error_page(&error, lang),
    };
    if let Some(cookie) = cookie {
        // A freshly built cookie always encodes to a valid header.
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// `POST /device`: the person's decision, from the confirmation form.
pub async fn device_post(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let lang = Lang::of(&request);
    if let Err(limited) = limits.device_code(&request) {
        return pages::too_many_requests_page(limited.retry_after, lang);
    }
    let form = match super::own_form(&request, state.provider.issuer(), body, "device approval") {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let user_code = form.get("user_code").unwrap_or_default();
    let approve = match form.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return entry_page(lang, Some(Notice::UnknownCode), StatusCode::BAD_REQUEST),
    };
    let session = browser::session(&request, state.secure_cookies);
    let token = form.get("form_token").unwrap_or_default();
    match state
        .provider
        .decide_device(user_code, session.as_deref(), token, approve)
        .await
    {
        DeviceDecision::Approved { client_name } => decided_page(&client_name, true, lang),
        DeviceDecision::Denied { client_name } => decided_page(&client_name, false, lang),
        DeviceDecision::Unknown => entry_page(lang, Some(Notice::UnknownCode), StatusCode::BAD_REQUEST),
        DeviceDecision::LoggedOut => login_incomplete_page(&state, user_code, lang),
        DeviceDecision::Forged => pages::cross_site_page(lang),
        DeviceDecision::Refused(refusal) => pages::refusal_page(&refusal, lang),
        DeviceDecision::Failed(error) => pages::error_page(&error, lang),
    }
}

/// `GET /device/qr.svg?user_code=…`: the QR code of `verification_uri_complete`, for a device
/// with a screen to show. It says nothing about whether the code exists.
pub async fn device_qr(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let params = Params::parse(request.query_string());
    let Some(user_code) = params.get("user_code").and_then(normalize_user_code) else {
        return HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("user_code must be a device's user code, such as BCDF-GHJK\n");
    };
    let url = state.provider.verification_uri_complete(&user_code);
    match qr_svg(&url) {
        Some(svg) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "image/svg+xml"))
            .insert_header((CACHE_CONTROL, "private, max-age=600"))
            .insert_header((CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"))
            .body(svg),
        None => HttpResponse::InternalServerError().finish(),
    }
}

/// A QR code of `text` as SVG, with a quiet zone, black on white.
fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// Something the entry page says above its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    UnknownCode,
}

fn entry_page(lang: Lang, notice: Option<Notice>, status: StatusCode) -> HttpResponse {
    let notice = match notice {
        Some(Notice::UnknownCode) => format!(
            "<p class=\"notice\" id=\"device-notice\">{}</p>",
            pair(
                lang,
                "此代码无效、已过期或已使用，请核对设备上显示的代码。",
                "This code is not valid, has expired or has been used. Check the code shown on the device."
            )
        ),
        None => String::new(),
    };
    let body = format!(
        "{}{notice}<form method=\"get\" action=\"{}\"><label for=\"user_code\">{}</label><br>\
         <input class=\"code\" id=\"user_code\" name=\"user_code\" required autocomplete=\"off\" \
         autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"12\" placeholder=\"BCDF-GHJK\" autofocus><br>\
         <button class=\"button\" type=\"submit\" id=\"device-continue\">继续 · Continue</button></form>",
        message(
            lang,
            "登录设备",
            "Log in a device",
            "输入设备上显示的代码，然后用钉钉登录并确认。",
            "Enter the code shown on the device, then log in with DingTalk and confirm.",
        ),
        paths::DEVICE,
        pair(lang, "设备代码", "Device code"),
    );
    page_in(lang, status, "登录设备 · Log in a device", &body)
}

fn confirm_page(state: &AppState, c: &DeviceConfirmation, lang: Lang) -> HttpResponse {
    let app = escape(&c.client_name);
    let person = escape(&c.person);
    let title = match lang {
        Lang::Zh => format!(
            "<h1>允许「{app}」在该设备上登录？</h1><p class=\"en\" lang=\"en\">Approve “{app}” on this device?</p>"
        ),
        Lang::En => format!(
            "<h1>Approve “{app}” on this device?</h1><p class=\"en\" lang=\"zh-CN\">允许「{app}」在该设备上登录？</p>"
        ),
    };
    let who = match lang {
        Lang::Zh => format!(
            "<p>你将以 <b>{person}</b> 的身份登录该设备上的「{app}」。</p><p class=\"en\" lang=\"en\">You will be logged in to {app} on that device as <b>{person}</b>.</p>"
        ),
        Lang::En => format!(
            "<p>You will be logged in to {app} on that device as <b>{person}</b>.</p><p class=\"en\" lang=\"zh-CN\">你将以 <b>{person}</b> 的身份登录该设备上的「{app}」。</p>"
        ),
    };
    let body = format!(
        "{title}<p class=\"code\" id=\"device-code\">{code}</p>{who}{warn}\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"user_code\" value=\"{code}\"><input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <button class=\"button\" type=\"submit\" name=\"decision\" value=\"approve\" id=\"device-approve\">批准 · Approve</button> \
         <button class=\"button secondary\" type=\"submit\" name=\"decision\" value=\"deny\" id=\"device-deny\">拒绝 · Deny</button></form>",
        code = escape(&c.user_code),
        warn = paragraphs(
            lang,
            "只有当这个代码正显示在你面前的设备上时才批准；若是别人发给你的，请拒绝。",
            "Approve only if this code is on a device in front of you. If someone sent it to you, deny."
        ),
        action = escape(&state.provider.url(paths::DEVICE)),
        token = escape(&c.form_token),
    );
    page_in(lang, StatusCode::OK, "批准设备 · Approve the device", &body)
}

fn decided_page(client_name: &str, approved: bool, lang: Lang) -> HttpResponse {
    let body = if approved {
        message(
            lang,
            "设备已批准",
            "Device approved",
            &format!("「{client_name}」很快会在设备上完成登录，你可以关闭此页。"),
            &format!("{client_name} will finish logging in on the device shortly. You may close this page."),
        )
    } else {
        message(
            lang,
            "设备已拒绝",
            "Device denied",
            &format!("「{client_name}」不会在该设备上登录。"),
            &format!("{client_name} will not be logged in on that device."),
        )
    };
    page_in(lang, StatusCode::OK, "登录设备 · Log in a device", &body)
}

/// The DingTalk login for a device did not complete, or the session ended before the decision.
fn login_incomplete_page(state: &AppState, user_code: &str, lang: Lang) -> HttpResponse {
    let again = match normalize_user_code(user_code) {
        Some(code) => format!(
            "<a class=\"button\" id=\"device-retry\" href=\"{}\">重试 · Try again</a>",
            escape(&state.provider.verification_uri_complete(&code))
        ),
        None => String::new(),
    };
    let body = format!(
        "{}{again}",
        message(
            lang,
            "登录未完成",
            "The login did not complete",
            "设备尚未获批。请重试，或在设备上重新开始。",
            "The device is not approved yet. Try again, or start over on the device.",
        )
    );
    page_in(lang, StatusCode::OK, "登录设备 · Log in a device", &body)
}

/// A sentence in both languages, `lang` first, as two paragraphs.
fn paragraphs(lang: Lang, zh: &str, en: &str) -> String {
    let ((first, second), other) = match lang {
        Lang::Zh => ((zh, en), "en"),
        Lang::En => ((en, zh), "zh-CN"),
    };
    format!(
        "<p>{}</p><p class=\"en\" lang=\"{other}\">{}</p>",
        escape(first),
        escape(second)
    )
}

/// A sentence in both languages, `lang` first, as one paragraph's inner HTML.
fn pair(lang: Lang, zh: &str, en: &str) -> String {
    let (first, second) = match lang {
        Lang::Zh => (zh, en),
        Lang::En => (en, zh),
    };
    format!("{} · {}", escape(first), escape(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg_of_the_whole_url() {
        let svg = qr_svg("https://sso.example.com/device?user_code=BCDF-GHJK").unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"),
            "{svg}"
        );
        assert!(qr_svg(&"x".repeat(5000)).is_none(), "too long for any QR code");
    }
}
