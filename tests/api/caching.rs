//! Every response that carries a token, a code, a login's state or a form token says
//! `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1, OIDC Core 3.1.3.3).

use reqwest::header::HeaderMap;
use url::Url;

use crate::support::TestApp;
use crate::support::app::{LOGGED_OUT, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET, new_browser};
use crate::support::forms::{InAppPage, confirmation_token};

fn assert_not_cached(headers: &HeaderMap, what: &str) {
    assert_eq!(
        headers.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "Cache-Control of {what}"
    );
    assert_eq!(
        headers.get("pragma").map(|v| v.to_str().unwrap()),
        Some("no-cache"),
        "Pragma of {what}"
    );
}

/// One response of a walk: the URL asked, the status and headers.
struct Step {
    url: String,
    status: u16,
    headers: HeaderMap,
}

/// Follows redirects from `url` like a browser until it is sent to the client or lands on a page.
async fn walk(browser: &reqwest::Client, url: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut url = url.to_owned();
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        let step = Step {
            url: url.clone(),
            status: response.status().as_u16(),
            headers: response.headers().clone(),
        };
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        steps.push(step);
        match location {
            Some(location) if !location.starts_with(WEB_REDIRECT) => {
                url = Url::parse(&url).unwrap().join(&location).unwrap().into();
            }
            _ => return steps,
        }
    }
    panic!("too many redirects");
}

fn code_of(step: &Step) -> String {
    let location = Url::parse(step.headers["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned());
    code.unwrap_or_else(|| panic!("no code in {location}"))
}

#[tokio::test]
async fn the_login_redirects_carrying_a_code_are_not_cached() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let browser = new_browser();
    let steps = walk(&browser, &app.authorize_url("")).await;
    let callback = steps
        .iter()
        .find(|s| s.url.starts_with(&app.url("/login/dingtalk/callback")))
        .expect("the DingTalk callback");
    assert_eq!(callback.status, 302);
    assert_not_cached(&callback.headers, "the callback's redirect to the client");
    let first_code = code_of(callback);
    // A second app, with the session: /authorize itself answers with a code.
    let again = walk(&browser, &app.authorize_url("")).await;
    assert_eq!(again.len(), 1, "no trip to DingTalk with a session");
    assert_eq!(again[0].status, 302);
    assert_not_cached(&again[0].headers, "the authorize redirect with a code");
    assert_ne!(code_of(&again[0]), first_code);
    // An error at the callback is a page, not cached either.
    let unknown = walk(&browser, &app.url("/login/dingtalk/callback?authCode=x&state=unknown")).await;
    assert_eq!(unknown[0].status, 400);
    assert_not_cached(&unknown[0].headers, "the callback's error page");
}

#[tokio::test]
async fn token_introspection_revocation_and_userinfo_answers_are_not_cached() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    let issued = app.redeem(&q["code"]).await;
    assert_eq!(issued.status(), 200);
    assert_not_cached(issued.headers(), "the token response");
    let tokens: serde_json::Value = issued.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    assert_not_cached(userinfo.headers(), "userinfo");
    let refused = app.browser.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_not_cached(refused.headers(), "a userinfo challenge");

    let reused = app.redeem(&q["code"]).await;
    assert_eq!(reused.status(), 400);
    assert_not_cached(reused.headers(), "a token error");

    for path in ["/introspect", "/revoke"] {
        let response = app
            .browser
            .post(app.url(path))
            .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_not_cached(response.headers(), path);
    }
}

#[tokio::test]
async fn the_in_app_page_and_its_redirect_are_not_cached() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    let page = InAppPage::open(&app).await;
    assert_not_cached(&page.headers, "the in-app page");
    let code = page.code(&app).await;
    let response = page.post(&app, &page.browser, &code, &[]).await;
    assert_eq!(response.status(), 303);
    assert!(response.headers()["location"].to_str().unwrap().contains("code="));
    assert_not_cached(response.headers(), "the in-app login's redirect");
}

#[tokio::test]
async fn logout_pages_and_redirects_are_not_cached() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let browser = new_browser();
    let q = app.follow_with(&browser, &app.authorize_url("")).await.query();
    let tokens: serde_json::Value = app.redeem(&q["code"]).await.json().await.unwrap();

    let confirm = browser
        .get(app.url(&format!("/logout?client_id={WEB_CLIENT}")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    assert_not_cached(confirm.headers(), "the logout confirmation page");
    let token = confirmation_token(&confirm.text().await.unwrap());
    let done = browser
        .post(app.url("/logout"))
        .form(&[("confirmation", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_not_cached(done.headers(), "the logged-out page");

    let hint = tokens["id_token"].as_str().unwrap();
    let back = url::form_urlencoded::byte_serialize(LOGGED_OUT.as_bytes()).collect::<String>();
    let redirect = browser
        .get(app.url(&format!("/logout?id_token_hint={hint}&post_logout_redirect_uri={back}")))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 303);
    assert_not_cached(redirect.headers(), "the logout redirect");
    let invalid = browser
        .get(app.url("/logout?id_token_hint=not-a-jwt"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert_not_cached(invalid.headers(), "the logout error page");
}
