//! Pushed authorization requests (RFC 9126): the client posts its request, and the browser
//! carries only the `request_uri`, which works once, for a minute, for that client.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::app::{FINANCE_CLIENT, Landing, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET};
use crate::support::{TestApp, TestAppOptions};

async fn push(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "openid profile"),
        ("state", "pushed-state"),
        ("nonce", "pushed-nonce"),
    ];
    // Given parameters replace the defaults.
    form.retain(|(name, _)| !extra.iter().any(|(given, _)| given == name));
    form.extend_from_slice(extra);
    app.browser
        .post(app.url("/par"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn request_uri(app: &TestApp) -> String {
    let answer = push(app, WEB_CLIENT, &[]).await;
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    body["request_uri"].as_str().unwrap().to_owned()
}

fn authorize_with(app: &TestApp, client: &str, request_uri: &str, extra: &str) -> String {
    let uri = url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>();
    format!("{}/authorize?client_id={client}&request_uri={uri}{extra}", app.address)
}

#[tokio::test]
async fn a_pushed_request_logs_the_person_in_once_with_only_its_own_parameters() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let uri = request_uri(&app).await;
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{uri}");
    // The query's own state is not the request's: only the pushed parameters count.
    let q: HashMap<String, String> = app
        .follow(&authorize_with(&app, WEB_CLIENT, &uri, "&state=from-the-query"))
        .await
        .query();
    assert_eq!(q["state"], "pushed-state");
    let tokens: Value = app.redeem(&q["code"]).await.json().await.unwrap();
    let claims = crate::support::app::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], "pushed-nonce");
    assert_eq!(tokens["scope"], "openid profile");
    // Once only.
    let (status, page) = app.follow(&authorize_with(&app, WEB_CLIENT, &uri, "")).await.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("已使用、已过期或无效"), "{page}");
}

#[tokio::test]
async fn a_request_uri_dies_after_a_minute_and_is_its_clients_alone() {
    let app = TestApp::spawn().await;
    let uri = request_uri(&app).await;
    let (status, _) = app.follow(&authorize_with(&app, FINANCE_CLIENT, &uri, "")).await.page();
    assert_eq!(status, 400, "another client's");
    app.clock.advance(61);
    let (status, _) = app.follow(&authorize_with(&app, WEB_CLIENT, &uri, "")).await.page();
    assert_eq!(status, 400, "expired");
}

#[tokio::test]
async fn a_push_is_checked_as_an_authorization_request_would_be() {
    let app = TestApp::spawn().await;
    let error = |answer: Value| answer["error"].as_str().unwrap().to_owned();
    let wrong_redirect = push(
        &app,
        WEB_CLIENT,
        &[("redirect_uri", "https://elsewhere.example.com/cb")],
    )
    .await;
    assert_eq!(wrong_redirect.status(), 400);
    let answer = push(&app, WEB_CLIENT, &[("scope", "profile")]).await;
    assert_eq!(error(answer.json().await.unwrap()), "invalid_scope");
    let answer = push(&app, WEB_CLIENT, &[("request_uri", "urn:x")]).await;
    assert_eq!(error(answer.json().await.unwrap()), "invalid_request");
    let anonymous = app
        .browser
        .post(app.url("/par"))
        .form(&[("response_type", "code"), ("redirect_uri", WEB_REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn pushing_can_be_required_of_one_client_or_of_all() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"strict\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\nsecret_sha256 = \"{}\"\n\
             require_pushed_authorization_requests = true\n",
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await;
    let refused = app.follow(&app.authorize_url_for("strict", "")).await.query();
    assert_eq!(refused["error"], "invalid_request");
    assert!(refused["error_description"].contains("PAR"));
    app.sim.set_auto_login(Some("zhangsan".into()));
    let other = app.follow(&app.authorize_url("")).await.query();
    assert!(other.contains_key("code"), "other clients need not push: {other:?}");
    let pushed = push(&app, "strict", &[]).await;
    assert_eq!(pushed.status(), 201);

    let all = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_SERVER__REQUIRE_PUSHED_AUTHORIZATION_REQUESTS", "true".into())],
        ..Default::default()
    })
    .await;
    let doc: Value = all.discovery().await;
    assert_eq!(doc["require_pushed_authorization_requests"], true);
    assert_eq!(doc["pushed_authorization_request_endpoint"], all.url("/par"));
    match all.follow(&all.authorize_url("")).await {
        Landing::AtClient(url) => assert!(url.as_str().contains("error=invalid_request"), "{url}"),
        Landing::Page { status, body } => panic!("{status}: {body}"),
    }
}
