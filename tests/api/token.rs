//! `POST /token`: client authentication, code binding, PKCE and RFC 6749 §5.2 errors.

use serde_json::Value;

use crate::support::TestApp;
use crate::support::app::{SPA_CLIENT, SPA_REDIRECT, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET};

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_token_response_has_every_field_and_is_not_cached() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    let response = app.redeem(&q["code"]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid profile email phone dingtalk");
    assert!(body["access_token"].as_str().unwrap().len() >= 43);
    assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn a_reused_code_is_refused_and_the_first_access_token_is_revoked() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    let first: Value = app.redeem(&q["code"]).await.json().await.unwrap();
    let (status, body) = error_of(app.redeem(&q["code"]).await).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    app.clock.advance(61);
    let (status, body) = error_of(app.redeem(&q["code"]).await).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client_with_a_basic_challenge() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    let response = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some("not-the-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", WEB_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"dingo\"");
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    // The code was not consumed by the failed attempt.
    assert_eq!(app.redeem(&q["code"]).await.status(), 200);
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    let response = app
        .browser
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", WEB_REDIRECT),
            ("client_id", WEB_CLIENT),
            ("client_secret", WEB_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_mismatched_redirect_uri_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let q = app.login_as("zhangsan", "").await;
    let response = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "http://127.0.0.1:1/other"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
}

#[tokio::test]
async fn requests_that_are_not_authorization_code_grants_get_precise_errors() {
    let app = TestApp::spawn().await;
    let post = |form: Vec<(&'static str, &'static str)>| {
        app.browser
            .post(app.url("/token"))
            .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
            .form(&form)
            .send()
    };
    let (_, body) = error_of(post(vec![("grant_type", "password")]).await.unwrap()).await;
    assert_eq!(body["error"], "unsupported_grant_type");
    let (_, body) = error_of(post(vec![("code", "x")]).await.unwrap()).await;
    assert_eq!(body["error"], "invalid_request");
    let (_, body) = error_of(post(vec![("grant_type", "authorization_code")]).await.unwrap()).await;
    assert_eq!(body["error"], "invalid_request");
    let (_, body) = error_of(
        post(vec![("grant_type", "authorization_code"), ("code", "forged")])
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let twice = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=a&code=b")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(twice).await.1["error"], "invalid_request");
    let json = app
        .browser
        .post(app.url("/token"))
        .json(&serde_json::json!({"grant_type": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(json).await.1["error"], "invalid_request");
}

#[tokio::test]
async fn an_unknown_client_is_invalid_client() {
    let app = TestApp::spawn().await;
    let response = app
        .browser
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "nobody"),
            ("client_secret", "s"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn public_client_code(app: &TestApp) -> String {
    app.sim.set_auto_login(Some("zhangsan".into()));
    let redirect = url::form_urlencoded::byte_serialize(SPA_REDIRECT.as_bytes()).collect::<String>();
    let url = app.url(&format!(
        "/authorize?client_id={SPA_CLIENT}&redirect_uri={redirect}&response_type=code&scope=openid%20profile\
         &code_challenge={CHALLENGE}&code_challenge_method=S256"
    ));
    app.follow(&url).await.query()["code"].clone()
}

async fn redeem_public(app: &TestApp, code: &str, verifier: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", SPA_REDIRECT),
        ("client_id", SPA_CLIENT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.browser.post(app.url("/token")).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn a_public_client_redeems_with_the_right_pkce_verifier() {
    let app = TestApp::spawn().await;
    let code = public_client_code(&app).await;
    let response = redeem_public(&app, &code, Some(VERIFIER)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "openid profile");
}

#[tokio::test]
async fn a_pkce_mismatch_or_missing_verifier_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let code = public_client_code(&app).await;
    let wrong = "x".repeat(43);
    let (status, body) = error_of(redeem_public(&app, &code, Some(&wrong)).await).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let code = public_client_code(&app).await;
    let (_, body) = error_of(redeem_public(&app, &code, None).await).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_code_issued_to_one_client_cannot_be_redeemed_by_another() {
    let app = TestApp::spawn().await;
    let code = public_client_code(&app).await;
    let response = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1["error"], "invalid_grant");
}
