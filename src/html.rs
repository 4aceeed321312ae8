//! The frame of every page people see, shared by dingo's own pages (`http::pages`) and the demo
//! app: small, bilingual (中文 first, English), readable on a phone, never cached.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpResponse, HttpResponseBuilder};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;padding:0 1rem;font:16px/1.6 system-ui,-apple-system,'PingFang SC',\
'Microsoft YaHei',sans-serif;background:#f5f6f8;color:#1f2329}main{max-width:32rem;margin:12vh auto;\
padding:1.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}\
h1{font-size:1.25rem;margin:0 0 .25rem}h2{font-size:1rem;margin:1.25rem 0 .25rem}\
.en{color:#646a73;margin-top:0}pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem;\
background:#f5f6f8;padding:.75rem;border-radius:8px}a.button,button.button{display:inline-block;\
margin-top:1rem;padding:.6rem 1.2rem;background:#3370ff;color:#fff;border:0;border-radius:8px;\
font-size:1rem;text-decoration:none;cursor:pointer}button.secondary{background:#fff;color:#1f2329;\
border:1px solid #c9cdd4}.code{font:600 1.5rem/1.4 ui-monospace,Menlo,Consolas,monospace;letter-spacing:.12em}\
input.code{width:10ch;padding:.4rem .6rem;margin-top:.5rem;border:1px solid #c9cdd4;border-radius:8px;\
text-transform:uppercase}.notice{color:#d83931}";

/// Which language a page puts first: Chinese, unless the browser prefers English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    /// From `Accept-Language` (RFC 9110 §12.5.4): the Chinese or English range with the highest
    /// weight; Chinese when neither appears.
    pub fn preferred(accept_language: Option<&str>) -> Lang {
        let mut best = (Lang::Zh, 0.0_f32);
        for item in accept_language.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            let lang = if range == "zh" || range.starts_with("zh-") {
                Lang::Zh
            } else if range == "en" || range.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if weight > best.1 {
                best = (lang, weight);
            }
        }
        best.0
    }

    /// The language of a request.
    pub fn of(request: &actix_web::HttpRequest) -> Lang {
        Lang::preferred(
            request
                .headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// A complete page; `body` is trusted HTML built from escaped parts.
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    page_in(Lang::Zh, status, title, body)
}

/// A complete page whose main language is `lang`.
pub fn page_in(lang: Lang, status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        lang.tag(),
        escape(title)
    );
    // Pages can carry a login's state or a logout's form token: never cached.
    no_store(&mut HttpResponse::build(status))
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CONTENT_SECURITY_POLICY, PAGE_POLICY))
        .body(html)
}

/// Pages run no script, load nothing from elsewhere, and may not be framed.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; base-uri 'none'; frame-ancestors 'none'";

/// `Cache-Control: no-store` and `Pragma: no-cache`: for anything carrying a code, a token, a
/// login's state or a form token.
pub fn no_store(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
}
