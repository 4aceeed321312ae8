//! `/authorize`: what is refused with a page, what is refused with a redirect.

use crate::support::TestApp;
use crate::support::app::{SPA_CLIENT, SPA_REDIRECT, WEB_REDIRECT};

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_and_no_redirect() {
    let app = TestApp::spawn().await;
    let url = app.authorize_url("").replace("client_id=web-app", "client_id=stranger");
    let response = app.browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let body = response.text().await.unwrap();
    assert!(
        body.contains("未在 dingo 注册") && body.contains("not registered"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect() {
    let app = TestApp::spawn().await;
    for evil in [
        "http%3A%2F%2Fevil.example.com%2Fcallback",
        "http%3A%2F%2F127.0.0.1%3A1%2Fcallback%2F",
    ] {
        let url = app.authorize_url("").replace(
            &url::form_urlencoded::byte_serialize(WEB_REDIRECT.as_bytes()).collect::<String>(),
            evil,
        );
        let response = app.browser.get(url).send().await.unwrap();
        assert_eq!(response.status(), 400, "{evil}");
        assert!(response.headers().get("location").is_none(), "{evil}");
        assert!(response.text().await.unwrap().contains("redirect_uri"));
    }
}

#[tokio::test]
async fn a_request_without_the_openid_scope_is_sent_back_with_invalid_scope() {
    let app = TestApp::spawn().await;
    let url = app
        .authorize_url("")
        .replace("scope=openid%20profile%20email%20phone", "scope=profile");
    let q = app.follow(&url).await.query();
    assert_eq!(q["error"], "invalid_scope");
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.address);
}

#[tokio::test]
async fn prompt_none_without_a_session_returns_login_required() {
    let app = TestApp::spawn().await;
    let q = app.follow(&app.authorize_url("&prompt=none")).await.query();
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn a_valid_request_goes_to_dingtalk_with_a_bound_single_use_state() {
    let app = TestApp::spawn().await;
    let response = app.browser.get(app.authorize_url("")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}/oauth2/auth", app.sim_address))
    );
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["redirect_uri"], app.url("/login/dingtalk/callback"));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["prompt"], "consent");
    assert!(q["state"].len() >= 43, "the upstream state is unguessable");
    assert_ne!(q["state"], "st-1", "the client's state never goes upstream");
}

#[tokio::test]
async fn a_public_client_must_use_pkce_s256() {
    let app = TestApp::spawn().await;
    let redirect = url::form_urlencoded::byte_serialize(SPA_REDIRECT.as_bytes()).collect::<String>();
    let base = app.url(&format!(
        "/authorize?client_id={SPA_CLIENT}&redirect_uri={redirect}&response_type=code&scope=openid&state=s"
    ));
    for extra in [
        "",
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain",
    ] {
        let landing = app.follow(&format!("{base}{extra}")).await;
        let url = landing.client_url();
        assert!(url.as_str().starts_with(SPA_REDIRECT));
        assert_eq!(landing.query()["error"], "invalid_request", "{extra}");
    }
}

#[tokio::test]
async fn the_authorization_request_may_be_posted_as_a_form() {
    let app = TestApp::spawn().await;
    let query = url::Url::parse(&app.authorize_url(""))
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let response = app
        .browser
        .post(app.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "a form post is answered with See Other");
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&app.sim_address)
    );
}

#[tokio::test]
async fn every_response_has_security_headers_and_pages_a_strict_policy() {
    let app = TestApp::spawn().await;
    let page = app
        .browser
        .get(app.url("/authorize?client_id=stranger"))
        .send()
        .await
        .unwrap();
    let headers = page.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    let discovery = app
        .browser
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.headers()["x-content-type-options"], "nosniff");
    // The in-app page may run its own script and the DingTalk JSAPI, and nothing else.
    let in_app = app
        .browser
        .get(app.authorize_url(""))
        .header("user-agent", "Mozilla/5.0 AliApp(DingTalk/7.6.0) DingTalk/7.6.0")
        .send()
        .await
        .unwrap();
    let policy = in_app.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        policy.contains(&format!("script-src 'self' {}", app.sim_address)),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"));
}
