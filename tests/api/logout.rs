//! RP-initiated logout and back-channel logout.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use crate::support::app::{LOGGED_OUT, WEB_CLIENT, WEB_SECRET, new_browser};
use crate::support::receiver::Receiver;
use crate::support::{TestApp, TestAppOptions};

/// Logs zhangsan in in a fresh browser; returns the browser and the token response.
async fn logged_in(app: &TestApp) -> (reqwest::Client, Value) {
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = app.follow_with(&browser, &app.authorize_url("")).await.query();
    let tokens: Value = app.redeem(&q["code"]).await.json().await.unwrap();
    (browser, tokens)
}

fn query_of(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

async fn still_logged_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    app.follow_with(browser, &app.authorize_url("&prompt=none"))
        .await
        .query()
        .contains_key("code")
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_the_session_and_returns_to_the_app() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = logged_in(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let url = app.url(&format!(
        "/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
        encode(LOGGED_OUT)
    ));
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(response.headers()["location"].to_str().unwrap().starts_with(LOGGED_OUT));
    assert_eq!(query_of(&response)["state"], "bye");
    let cleared = response.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("dingo_session=") && c.contains("Max-Age=0")
    });
    assert!(cleared, "the session cookie is removed");
    assert!(!still_logged_in(&app, &browser).await);
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_refused_and_nothing_ends() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = logged_in(&app).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let url = app.url(&format!(
        "/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
        encode("http://evil.example.com/")
    ));
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(still_logged_in(&app, &browser).await);
    let forged = browser
        .get(app.url("/logout?id_token_hint=eyJhbGciOiJub25lIn0.e30."))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
}

#[tokio::test]
async fn without_a_hint_the_person_confirms_the_logout() {
    let app = TestApp::spawn().await;
    let (browser, _) = logged_in(&app).await;
    let page = browser
        .get(app.url(&format!("/logout?client_id={WEB_CLIENT}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("退出登录") && html.contains("Log out"));
    assert!(
        still_logged_in(&app, &browser).await,
        "nothing happens before the confirmation"
    );
    let token = html
        .split("name=\"confirmation\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // A cross-site form cannot know the token.
    let forged = browser
        .post(app.url("/logout"))
        .form(&[("confirmation", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    assert!(still_logged_in(&app, &browser).await);
    let done = browser
        .post(app.url("/logout"))
        .form(&[("confirmation", token.as_str()), ("client_id", WEB_CLIENT)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("已退出登录"));
    assert!(!still_logged_in(&app, &browser).await);
}

/// Verifies a logout token with dingo's JWKS and returns its header type and claims.
async fn verify_logout_token(app: &TestApp, token: &str) -> (Option<String>, Value) {
    let jwks: Value = app
        .browser
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token).unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header.kid.clone().unwrap())
        .unwrap();
    let decoding = DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[WEB_CLIENT]);
    validation.set_issuer(&[&app.address]);
    validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
    let claims = decode::<Value>(token, &decoding, &validation).unwrap().claims;
    (header.typ, claims)
}

fn sid_of(id_token: &str) -> Value {
    crate::support::app::jwt_claims(id_token)["sid"].clone()
}

#[tokio::test]
async fn a_logout_token_reaches_the_registered_uri_with_the_session_id() {
    let mut receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let (browser, tokens) = logged_in(&app).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(app.url(&format!("/logout?id_token_hint={id_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = receiver.next_token(5).await.expect("a logout token");
    let (typ, claims) = verify_logout_token(&app, &token).await;
    assert_eq!(typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["sub"], "zhangsan");
    assert_eq!(claims["sid"], sid_of(id_token));
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none(), "a logout token never has a nonce");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_backoff() {
    let mut receiver = Receiver::start();
    receiver.answer_with(&[503]);
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let (browser, tokens) = logged_in(&app).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    browser
        .get(app.url(&format!("/logout?id_token_hint={id_token}")))
        .send()
        .await
        .unwrap();
    let first = receiver.next_token(5).await.expect("a first attempt");
    // The retry waits for its backoff (5 s on dingo's clock), then arrives again. The clock is
    // moved on until it does, since the failure is recorded a moment after the first attempt.
    let mut second = None;
    for _ in 0..10 {
        app.clock.advance(6);
        second = receiver.next_token(1).await;
        if second.is_some() {
            break;
        }
    }
    let second = second.expect("a retry");
    assert_eq!(first, second, "the same token is delivered again");
}

#[tokio::test]
async fn a_person_refused_on_refresh_is_logged_out_of_every_app() {
    let mut receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let url = app.authorize_url("").replace(
        "scope=openid%20profile%20email%20phone",
        "scope=openid%20offline_access",
    );
    let q = app.follow_with(&browser, &url).await.query();
    let tokens: Value = app.redeem(&q["code"]).await.json().await.unwrap();
    app.sim.remove_member("zhangsan");
    let refused = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let token = receiver.next_token(5).await.expect("a logout token");
    let (_, claims) = verify_logout_token(&app, &token).await;
    assert_eq!(claims["sid"], sid_of(tokens["id_token"].as_str().unwrap()));
    assert!(!still_logged_in(&app, &browser).await);
}

#[tokio::test]
async fn the_openidconnect_crate_discovers_the_end_session_endpoint_and_logs_out() {
    use openidconnect::core::CoreIdToken;
    use openidconnect::{CsrfToken, IssuerUrl, LogoutRequest, PostLogoutRedirectUrl, ProviderMetadataWithLogout};
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = ProviderMetadataWithLogout::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
        .await
        .unwrap();
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let (browser, tokens) = logged_in(&app).await;
    let id_token: CoreIdToken = tokens["id_token"].as_str().unwrap().parse().unwrap();
    let url = LogoutRequest::from(end_session)
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("st-out".into()))
        .http_get_url();
    let response = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(query_of(&response)["state"], "st-out");
    assert!(!still_logged_in(&app, &browser).await);
}
