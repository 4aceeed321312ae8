//! The simulator's HTML: the login host's person picker and error page, and the page shell of
//! the organisation console (`org`). Bilingual (中文 first), small, mobile-friendly, no scripts.
//! Every dynamic value goes through [`escape`]; every link is relative so the pages work under
//! any mount prefix.

use std::fmt::Write;

/// One person offered on the picker.
pub(crate) struct Choice {
    pub(crate) name: String,
    /// Title, departments, userid — or why this account is not a member.
    pub(crate) detail: String,
    pub(crate) badges: Vec<&'static str>,
    /// Relative link that signs in as this person.
    pub(crate) href: String,
}

/// Everything the picker shows.
pub(crate) struct Picker {
    pub(crate) corp_name: String,
    pub(crate) client_id: String,
    pub(crate) redirect_host: String,
    pub(crate) scope: String,
    pub(crate) members: Vec<Choice>,
    pub(crate) outsiders: Vec<Choice>,
    pub(crate) deny_href: String,
}

const STYLE: &str = "body{font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;\
margin:0;background:#f2f3f5;color:#1f2329}main{max-width:480px;margin:0 auto;padding:16px}\
h1{font-size:20px;margin:8px 0}h2{font-size:14px;color:#646a73;margin:20px 0 8px}\
p{font-size:14px;line-height:1.5}.note{color:#646a73}code{word-break:break-all}\
a.person{display:block;background:#fff;border-radius:8px;padding:12px 14px;margin:8px 0;\
color:inherit;text-decoration:none;border:1px solid #dee0e3}a.person:hover{border-color:#3370ff}\
.name{font-size:16px;font-weight:600}.detail{font-size:13px;color:#646a73;margin-top:4px}\
.badge{font-size:12px;background:#e1eaff;color:#245bdb;border-radius:4px;padding:1px 6px;\
margin-left:6px;font-weight:400}a.deny{display:block;text-align:center;margin:24px 0;\
color:#f54a45}.error{background:#fff;border-radius:8px;padding:16px;border:1px solid #f54a45}\
div.person{background:#fff;border-radius:8px;padding:12px 14px;margin:8px 0;border:1px solid #dee0e3}\
div.person form{display:inline-block;margin:8px 8px 0 0}button,select{font-size:14px;padding:6px 10px;\
border-radius:6px;border:1px solid #dee0e3;background:#fff}button.danger{color:#f54a45;border-color:#f54a45}\
.done{background:#e8f8ee;border-radius:8px;padding:10px 14px}";

pub(crate) fn picker(page: &Picker) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>钉钉登录 · DingTalk sign-in</h1>\
         <p>选择要登录的钉钉账号。<br>Choose the DingTalk account to sign in with.</p>\
         <p class=\"note\">应用 App <code>{client}</code> → <code>{host}</code><br>\
         授权范围 Scope: <code>{scope}</code><br>组织 Organisation: {corp}</p>",
        client = escape(&page.client_id),
        host = escape(&page.redirect_host),
        scope = escape(&page.scope),
        corp = escape(&page.corp_name),
    );
    let _ = write!(body, "<h2>{} 成员 · Members</h2>", escape(&page.corp_name));
    for choice in &page.members {
        push_choice(&mut body, choice);
    }
    if !page.outsiders.is_empty() {
        body.push_str("<h2>其他钉钉账号（非本组织成员）· Other DingTalk accounts (not members)</h2>");
        for choice in &page.outsiders {
            push_choice(&mut body, choice);
        }
    }
    let _ = write!(
        body,
        "<a class=\"deny\" href=\"{}\">拒绝授权 · Deny</a>",
        escape(&page.deny_href)
    );
    document("钉钉登录 · DingTalk sign-in", &body)
}

/// A readable refusal, as the real login page shows for a bad client_id or redirect_uri.
pub(crate) fn error(title_zh: &str, title_en: &str, detail: &str) -> String {
    let body = format!(
        "<h1>钉钉登录 · DingTalk sign-in</h1><div class=\"error\"><p><strong>{}</strong><br>{}</p>\
         <p class=\"note\">{}</p></div>",
        escape(title_zh),
        escape(title_en),
        escape(detail),
    );
    document("错误 · Error", &body)
}

fn push_choice(body: &mut String, choice: &Choice) {
    let badges: String = choice
        .badges
        .iter()
        .map(|b| format!("<span class=\"badge\">{}</span>", escape(b)))
        .collect();
    let _ = write!(
        body,
        "<a class=\"person\" href=\"{}\"><div class=\"name\">{}{}</div>\
         <div class=\"detail\">{}</div></a>",
        escape(&choice.href),
        escape(&choice.name),
        badges,
        escape(&choice.detail),
    );
}

pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title),
    )
}

/// HTML-escapes text for element content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
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
    fn error_page_escapes_its_detail() {
        let page = error("错", "Error", "<script>alert(1)</script>");
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
    }
}
