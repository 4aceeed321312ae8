//! The pages people see: small, bilingual (中文 first, English), readable on a phone.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER};

use crate::config::InApp;
use crate::identity::Refusal as Denied;
use crate::oidc::{ClientReply, InAppLogin, LogoutError, PageError, Refusal, RefusalReason, ResponseMode, RetryOffer};
use crate::state::InAppPage;

pub use crate::html::{Lang, escape, page, page_in};

/// The in-app page also runs its own script and the DingTalk JSAPI, which may talk to its origin;
/// who may frame it is a setting (a container that embeds micro-apps in a frame needs it).
fn in_app_policy(dingtalk_script: &str, frame_ancestors: &str) -> String {
    let origin = url::Url::parse(dingtalk_script)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self' {origin}; connect-src 'self' {origin}; style-src 'unsafe-inline'; \
         img-src 'self' data: https:; base-uri 'none'; frame-ancestors {frame_ancestors}"
    )
}

/// A heading and a paragraph, each in both languages, `lang` first.
pub(super) fn message(lang: Lang, zh_title: &str, en_title: &str, zh: &str, en: &str) -> String {
    let ((t1, t2, l2), (p1, p2)) = match lang {
        Lang::Zh => ((zh_title, en_title, "en"), (zh, en)),
        Lang::En => ((en_title, zh_title, "zh-CN"), (en, zh)),
    };
    format!(
        "<h1>{}</h1><p class=\"en\" lang=\"{l2}\">{}</p><p>{}</p><p class=\"en\" lang=\"{l2}\">{}</p>",
        escape(t1),
        escape(t2),
        escape(p1),
        escape(p2)
    )
}

pub fn error_page(error: &PageError, lang: Lang) -> HttpResponse {
    let (zh, en) = match error {
        PageError::MissingClientId => ("请求缺少 client_id。", "The request has no client_id."),
        PageError::UnknownClient => (
            "该应用未在 dingo 注册，请联系管理员。",
            "This application is not registered with dingo. Please contact your administrator.",
        ),
        PageError::MissingRedirectUri => ("请求缺少 redirect_uri。", "The request has no redirect_uri."),
        PageError::UnregisteredRedirectUri => (
            "应用提供的回调地址（redirect_uri）未注册，为安全起见登录已停止。",
            "The application's redirect_uri is not registered, so the login was stopped for your safety.",
        ),
        PageError::DuplicateParameter(_) => (
            "请求中有重复的参数。",
            "A parameter appears more than once in the request.",
        ),
        PageError::LoginStateMissing => (
            "登录链接不完整，请回到应用重新登录。",
            "The login link is incomplete. Please go back to the application and log in again.",
        ),
        PageError::LoginStateUnknown => (
            "此登录链接已使用或无效，请回到应用重新登录。",
            "This login link has already been used or is not valid. Please go back to the application and log in again.",
        ),
        PageError::PushedRequestUnknown => (
            "此登录请求已使用、已过期或无效，请回到应用重新登录。",
            "This login request has already been used, has expired or is not valid. Please go back to the application and log in again.",
        ),
        PageError::LoginStateOtherBrowser => (
            "登录是在另一个浏览器中开始的，请在同一浏览器中重新登录。",
            "The login was started in another browser. Please log in again from the same browser.",
        ),
        PageError::Internal => (
            "服务暂时出现问题，请稍后再试。",
            "Something went wrong on our side. Please try again in a moment.",
        ),
        PageError::Unavailable => (
            "登录服务暂时不可用，请稍后再试。",
            "The login service is briefly unavailable. Please try again in a moment.",
        ),
    };
    let status = match error {
        PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    page_in(
        lang,
        status,
        "无法登录 · Cannot log in",
        &message(lang, "无法登录", "Cannot log in", zh, en),
    )
}

pub fn refusal_page(refusal: &Refusal, lang: Lang) -> HttpResponse {
    let (zh, en) = match refusal.reason {
        RefusalReason::Denied(Denied::NotMember) => (
            "你的钉钉账号不是本组织的成员，无法登录此应用。如需访问，请联系管理员。",
            "Your DingTalk account is not a member of this organisation, so it cannot log in to this application. \
             Ask your administrator if you need access.",
        ),
        RefusalReason::Denied(Denied::NotVisible) => (
            "你不在此钉钉应用的通讯录可见范围内，请联系管理员调整应用的可见范围。",
            "You are outside the DingTalk app's contacts visible range. Ask your administrator to include you.",
        ),
        RefusalReason::Denied(Denied::Inactive) => (
            "你的钉钉账号尚未激活或已停用，无法登录。",
            "Your DingTalk account is not activated or has been disabled, so it cannot log in.",
        ),
        RefusalReason::Denied(Denied::Department) => (
            "你所在的部门无权使用此应用。如需访问，请联系管理员。",
            "Your department is not allowed to use this application. Ask your administrator if you need access.",
        ),
        RefusalReason::Denied(Denied::DepartmentsUnreadable) => (
            "此应用按部门授权，但钉钉未允许读取你所在的部门，暂时无法确认你能否使用。请联系管理员检查钉钉应用的通讯录权限与范围。",
            "This application is open to certain departments, and DingTalk did not let dingo read yours, so your access \
             cannot be confirmed. Ask your administrator to check the DingTalk app's contacts permissions and scope.",
        ),
        RefusalReason::Denied(Denied::Role) => (
            "你的角色无权使用此应用。如需访问，请联系管理员。",
            "Your role is not allowed to use this application. Ask your administrator if you need access.",
        ),
        RefusalReason::Denied(Denied::Disabled) => (
            "你的账号已被管理员停用，如有疑问请联系管理员。",
            "Your account has been disabled by an administrator. Contact them if you have questions.",
        ),
        RefusalReason::Denied(Denied::AdminsOnly) => {
            ("此应用仅限管理员使用。", "This application is for administrators only.")
        }
        RefusalReason::LoginExpired => (
            "登录超时，请回到应用重新登录。",
            "The login took too long. Please go back to the application and log in again.",
        ),
        RefusalReason::CodeRejected => (
            "钉钉未能确认此次登录，请回到应用重新登录。",
            "DingTalk could not confirm this login. Please go back to the application and log in again.",
        ),
    };
    let back = back_to_app(&refusal.back, &refusal.client_name, "button");
    let body = format!("{}{back}", message(lang, "无法登录", "Access denied", zh, en));
    page_in(lang, StatusCode::FORBIDDEN, "无法登录 · Access denied", &body)
}

/// A button taking the person back to the app with `reply` (posted, if the app takes its
/// answers as a form post).
fn back_to_app(reply: &ClientReply, client_name: &str, class: &str) -> String {
    let app = escape(client_name);
    let label = format!("返回 {app} · Back to {app}");
    match reply.mode {
        ResponseMode::FormPost => format!(
            "<form method=\"post\" action=\"{}\">{}<button class=\"{class}\" type=\"submit\">{label}</button></form>",
            escape(&reply.redirect_uri),
            hidden_inputs(reply),
        ),
        _ => format!(
            "<a class=\"{class}\" href=\"{}\">{label}</a>",
            escape(&reply.location())
        ),
    }
}

/// DingTalk could not be reached: try the same login again, or go back to the app.
pub fn try_again_page(offer: &RetryOffer, lang: Lang) -> HttpResponse {
    let body = format!(
        "{}<a class=\"button\" id=\"login-again\" href=\"{}\">重试 · Try again</a> {}",
        message(
            lang,
            "钉钉暂时没有响应",
            "DingTalk did not answer",
            "这通常只是片刻的问题。点击重试即可继续登录，无需回到应用。",
            "This is usually momentary. Try again to go on logging in; there is no need to go back to the app.",
        ),
        escape(&offer.again),
        back_to_app(&offer.back, &offer.client_name, "button secondary"),
    );
    page_in(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        "钉钉暂时没有响应 · DingTalk did not answer",
        &body,
    )
}

/// OAuth 2.0 Form Post Response Mode: a page that posts the response to the client at once
/// (a script allowed by its nonce; a button without scripts).
pub fn form_post_page(reply: &ClientReply) -> HttpResponse {
    let nonce = crate::crypto::random_token();
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>正在返回应用 · Returning to the app</title></head><body>\
         <form method=\"post\" action=\"{action}\">{inputs}<noscript><p>请点击继续。Press continue.</p>\
         <button type=\"submit\">继续 · Continue</button></noscript></form>\
         <script nonce=\"{nonce}\">document.forms[0].submit();</script></body></html>",
        action = escape(&reply.redirect_uri),
        inputs = hidden_inputs(reply),
    );
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {}; base-uri 'none'; frame-ancestors 'none'",
        reply.form_action_source()
    );
    crate::html::no_store(&mut HttpResponse::Ok())
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CONTENT_SECURITY_POLICY, policy))
        .body(html)
}

fn hidden_inputs(reply: &ClientReply) -> String {
    reply
        .params
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect()
}

/// Where the in-app page posts, falls back to, and finds its script.
pub struct InAppUrls {
    pub post: String,
    pub web_fallback: String,
    pub script: String,
}

/// The page served inside the DingTalk client: it gets a login code from the client with no
/// prompt (its script is `assets/inapp.js`) and explains any failure with a way out.
pub fn in_app_page(login: &InAppLogin, settings: &InAppPage, urls: &InAppUrls) -> HttpResponse {
    let (method, dingtalk_script) = match login.method {
        InApp::OpenAuth => ("open_auth", &settings.open_auth_script_url),
        _ => ("request_auth_code", &settings.jsapi_url),
    };
    let fallback = format!("{}?state={}", urls.web_fallback, login.state);
    let body = format!(
        "<div id=\"waiting\"><h1>正在通过钉钉登录…</h1><p class=\"en\" lang=\"en\">Logging in with DingTalk…</p></div>\
         <div id=\"problem\" hidden><h1>未能自动登录</h1><p class=\"en\" lang=\"en\">Could not log in automatically</p>\
         <p id=\"problem-zh\"></p><p class=\"en\" id=\"problem-en\" lang=\"en\"></p>\
         <a class=\"button\" id=\"web-login\" href=\"{fallback}\">改用钉钉扫码或账号登录 · Log in with the DingTalk login page</a></div>\
         <noscript><p>请启用 JavaScript，或 <a href=\"{fallback}\">使用钉钉登录页</a>。</p>\
         <p class=\"en\" lang=\"en\">Enable JavaScript, or <a href=\"{fallback}\">use the DingTalk login page</a>.</p></noscript>\
         <form id=\"in-app\" method=\"post\" action=\"{post}\">\
         <input type=\"hidden\" name=\"state\" value=\"{state}\"><input type=\"hidden\" name=\"method\" value=\"{method}\">\
         <input type=\"hidden\" name=\"code\" value=\"\"><input type=\"hidden\" name=\"error\" value=\"\"></form>\
         <div id=\"in-app-config\" hidden data-corp-id=\"{corp}\" data-client-id=\"{client}\" data-silent=\"{silent}\" \
         data-method=\"{method}\" data-open-auth-scope=\"{scope}\"></div>\
         <script src=\"{dingtalk_script}\"></script><script src=\"{script}\"></script>",
        fallback = escape(&fallback),
        post = escape(&urls.post),
        state = escape(&login.state),
        corp = escape(&settings.corp_id),
        client = escape(&settings.client_id),
        silent = login.silent,
        scope = escape(&settings.open_auth_scope),
        dingtalk_script = escape(dingtalk_script),
        script = escape(&urls.script),
    );
    let mut response = page(StatusCode::OK, "钉钉登录 · DingTalk login", &body);
    if let Ok(policy) = in_app_policy(dingtalk_script, &settings.frame_ancestors).parse() {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// A login callback came too often from the same address (429, with `Retry-After`).
pub fn too_many_requests_page(retry_after: u64, lang: Lang) -> HttpResponse {
    let body = message(
        lang,
        "请求过于频繁",
        "Too many requests",
        &format!("来自你的网络的登录请求过多，请 {retry_after} 秒后再试。"),
        &format!("Too many logins came from your network. Please try again in {retry_after} seconds."),
    );
    let mut response = page_in(
        lang,
        StatusCode::TOO_MANY_REQUESTS,
        "请求过于频繁 · Too many requests",
        &body,
    );
    response.headers_mut().insert(RETRY_AFTER, retry_after.into());
    response
}

/// A query string longer than `limits.max_query_bytes` (414).
pub fn uri_too_long_page(lang: Lang) -> HttpResponse {
    page_in(
        lang,
        StatusCode::URI_TOO_LONG,
        "请求地址过长 · Request URL too long",
        &message(
            lang,
            "请求地址过长",
            "Request URL too long",
            "此链接过长，无法处理。请回到应用重新登录。",
            "This link is too long to be handled. Please go back to the application and try again.",
        ),
    )
}

/// A form body that was too large (413) or could not be read (400).
pub(super) fn body_error_page(e: super::BodyError, lang: Lang) -> HttpResponse {
    let (status, zh_title, en_title, zh, en) = match e {
        super::BodyError::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "请求过大",
            "Request too large",
            "提交的内容过大，无法处理。请回到应用重新登录。",
            "What was sent is too large to be handled. Please go back to the application and try again.",
        ),
        super::BodyError::Unreadable => (
            StatusCode::BAD_REQUEST,
            "无法处理请求",
            "Bad request",
            "提交的内容无法读取。请回到应用重新登录。",
            "What was sent could not be read. Please go back to the application and try again.",
        ),
    };
    page_in(
        lang,
        status,
        &format!("{zh_title} · {en_title}"),
        &message(lang, zh_title, en_title, zh, en),
    )
}

/// A form posted to dingo from another site (403).
pub fn cross_site_page(lang: Lang) -> HttpResponse {
    page_in(
        lang,
        StatusCode::FORBIDDEN,
        "请求被拒绝 · Request refused",
        &message(
            lang,
            "请求被拒绝",
            "Request refused",
            "此表单来自其他网站，为安全起见已被拒绝。请回到应用重新登录。",
            "This form came from another website and was refused for your safety. Please go back to the application and try again.",
        ),
    )
}

pub async fn in_app_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/javascript; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .body(include_str!("assets/inapp.js"))
}

/// Asks the person to confirm a logout the client could not prove it asked for.
pub fn logout_confirmation_page(action: &str, carried: &[(&str, &str)], csrf: &str, lang: Lang) -> HttpResponse {
    let hidden: String = carried
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        "{}<form method=\"post\" action=\"{}\">{hidden}<input type=\"hidden\" name=\"confirmation\" value=\"{}\">\
         <button class=\"button\" type=\"submit\" id=\"confirm-logout\">退出登录 · Log out</button></form>",
        message(
            lang,
            "退出登录？",
            "Log out?",
            "确认后，你将退出 dingo 的登录，各应用需要重新登录。",
            "You will be logged out of dingo; apps will ask you to log in again.",
        ),
        escape(action),
        escape(csrf),
    );
    page_in(lang, StatusCode::OK, "退出登录 · Log out", &body)
}

pub fn logged_out_page(lang: Lang) -> HttpResponse {
    let body = message(
        lang,
        "已退出登录",
        "You are logged out",
        "你已退出 dingo 的登录。",
        "You have been logged out of dingo.",
    );
    page_in(lang, StatusCode::OK, "已退出登录 · Logged out", &body)
}

pub fn logout_error_page(error: LogoutError, lang: Lang) -> HttpResponse {
    let (zh, en) = match error {
        LogoutError::DuplicateParameter => (
            "请求中有重复的参数。",
            "A parameter appears more than once in the request.",
        ),
        LogoutError::UnknownClient => (
            "该应用未在 dingo 注册。",
            "This application is not registered with dingo.",
        ),
        LogoutError::InvalidIdTokenHint => (
            "退出请求中的 id_token_hint 不是 dingo 签发的 ID 令牌。",
            "The logout request's id_token_hint is not an ID token issued by dingo.",
        ),
        LogoutError::ClientMismatch => (
            "退出请求中的 client_id 与 id_token_hint 不一致。",
            "The logout request's client_id does not match its id_token_hint.",
        ),
        LogoutError::UnregisteredRedirectUri => (
            "应用提供的退出后跳转地址未注册，为安全起见没有跳转。",
            "The application's post_logout_redirect_uri is not registered, so you were not sent there.",
        ),
    };
    page_in(
        lang,
        StatusCode::BAD_REQUEST,
        "无法退出 · Cannot log out",
        &message(lang, "无法退出登录", "Cannot log out", zh, en),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_language_follows_accept_language_and_defaults_to_chinese() {
        assert_eq!(Lang::preferred(None), Lang::Zh);
        assert_eq!(Lang::preferred(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::preferred(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::preferred(Some("fr-FR, en;q=0.5, zh;q=0.4")), Lang::En);
        assert_eq!(Lang::preferred(Some("de, fr")), Lang::Zh);
        assert_eq!(Lang::preferred(Some("en;q=0.2, zh-TW;q=0.8")), Lang::Zh);
    }

    #[test]
    fn messages_put_the_preferred_language_first() {
        let zh = message(Lang::Zh, "标题", "Title", "正文", "Text");
        assert!(zh.starts_with("<h1>标题</h1>") && zh.contains("lang=\"en\">Title"));
        let en = message(Lang::En, "标题", "Title", "正文", "Text");
        assert!(en.starts_with("<h1>Title</h1>") && en.contains("lang=\"zh-CN\">标题"));
    }
}
