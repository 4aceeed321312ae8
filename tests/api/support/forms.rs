//! The forms dingo serves, read from their HTML: the in-app login form and the logout
//! confirmation form.

use std::collections::HashMap;

use serde_json::Value;

use super::TestApp;
use super::app::new_browser;

/// The user agent of the DingTalk client on Android.
pub const DINGTALK_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/120.0 Mobile Safari/537.36 AliApp(DingTalk/7.6.0) com.alibaba.android.rimet/12345 Channel/exclusive \
     language/zh-CN DingTalk/7.6.0";

/// The `name` → `value` of every `<input>` of a page.
pub fn inputs(html: &str) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for input in html.split("<input ").skip(1) {
        let value_of = |attr: &str| {
            let marker = format!("{attr}=\"");
            input.find(&marker).map(|i| {
                input[i + marker.len()..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        };
        if let (Some(name), Some(value)) = (value_of("name"), value_of("value")) {
            fields.insert(name, value);
        }
    }
    fields
}

/// The value of the first `name="…"` attribute of a page.
pub fn attribute(html: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("{name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// The in-app login page as the DingTalk client opened it, in a fresh browser.
pub struct InAppPage {
    pub browser: reqwest::Client,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
    pub fields: HashMap<String, String>,
}

impl InAppPage {
    pub async fn open(app: &TestApp) -> Self {
        let browser = new_browser();
        let response = browser
            .get(app.authorize_url(""))
            .header("user-agent", DINGTALK_UA)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the in-app page, not a redirect");
        let headers = response.headers().clone();
        let html = response.text().await.unwrap();
        let fields = inputs(&html);
        Self {
            browser,
            headers,
            html,
            fields,
        }
    }

    /// What the DingTalk client's JSAPI gives the page: an in-app code (from the simulator).
    pub async fn code(&self, app: &TestApp) -> String {
        let answer: Value = app
            .browser
            .post(format!("{}/jsapi/requestAuthCode", app.sim_address))
            .json(&serde_json::json!({
                "corpId": attribute(&self.html, "data-corp-id"),
                "clientId": attribute(&self.html, "data-client-id"),
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["code"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
    }

    /// The form as the page's script posts it, with `code`, from `browser`, with these headers.
    pub async fn post(
        &self,
        app: &TestApp,
        browser: &reqwest::Client,
        code: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = browser.post(app.url("/login/dingtalk/inapp")).form(&[
            ("state", self.fields["state"].as_str()),
            ("method", "request_auth_code"),
            ("code", code),
        ]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

/// The form token of a logout confirmation page.
pub fn confirmation_token(html: &str) -> String {
    inputs(html)
        .remove("confirmation")
        .unwrap_or_else(|| panic!("no confirmation form in {html}"))
}
