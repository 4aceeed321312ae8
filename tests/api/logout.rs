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
    let (typ, claims) = verify_logout_token_for(app, token).await;
    assert_eq!(claims["aud"], WEB_CLIENT);
    (typ, claims)
}

/// Verifies a logout token for whichever client it is addressed to.
async fn verify_logout_token_for(app: &TestApp, token: &str) -> (Option<String>, Value) {
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
    validation.set_audience(&[WEB_CLIENT, "second-app"]);
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
async fn a_failed_delivery_is_retried_with_backoff_and_a_token_still_valid_when_it_arrives() {
    let mut receiver = Receiver::start();
    receiver.answer_with(&[503, 503]);
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
    // The retries wait for their backoff (5, then 10 s on dingo's clock). The clock is moved
    // past the first token's lifetime, so a retry of that token would arrive expired; it is
    // moved on until the retry arrives, since a failure is recorded a moment after the attempt.
    let mut retries = Vec::new();
    for _ in 0..20 {
        app.clock.advance(130);
        if let Some(token) = receiver.next_token(1).await {
            retries.push(token);
            if retries.len() == 2 {
                break;
            }
        }
    }
    let [second, third] = <[String; 2]>::try_from(retries).expect("two retries");
    let (_, first) = verify_logout_token(&app, &first).await;
    for retried in [second, third] {
        let (_, claims) = verify_logout_token(&app, &retried).await;
        for claim in ["sub", "sid", "aud", "events"] {
            assert_eq!(claims[claim], first[claim], "{claim}: the same logout");
        }
        assert_ne!(claims["jti"], first["jti"], "signed anew");
        let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
        assert!(
            iat > first["exp"].as_i64().unwrap(),
            "signed after the first had expired"
        );
        assert_eq!(exp - iat, 120, "valid for two minutes from when it is sent");
    }
}

/// A second confidential client like the test client, told of logouts at `backchannel`.
fn second_app(backchannel: &str) -> String {
    format!(
        "[[clients]]\nclient_id = \"second-app\"\nredirect_uris = [\"{}\"]\nsecret_sha256 = \"{}\"\n\
         scopes = [\"openid\", \"offline_access\"]\nbackchannel_logout_uri = \"{backchannel}\"\n",
        crate::support::app::WEB_REDIRECT,
        dingo::crypto::sha256_hex(WEB_SECRET)
    )
}

/// Logs in at `client` in `browser` with `offline_access`; the token response.
async fn offline_login(app: &TestApp, browser: &reqwest::Client, client: &str) -> Value {
    let url = app.authorize_url_for(client, "").replace(
        "scope=openid%20profile%20email%20phone",
        "scope=openid%20offline_access",
    );
    let q = app.follow_with(browser, &url).await.query();
    app.browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", crate::support::app::WEB_REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn refresh(app: &TestApp, client: &str, tokens: &Value) -> reqwest::Response {
    app.browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_refused_on_refresh_is_logged_out_of_every_app() {
    let mut receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        extra_toml: second_app(&receiver.uri),
        ..Default::default()
    })
    .await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    // The second app's tokens outlive the session they came from: its browser logged out.
    let elsewhere = new_browser();
    let second = offline_login(&app, &elsewhere, "second-app").await;
    let hint = second["id_token"].as_str().unwrap();
    let logout = elsewhere
        .get(app.url(&format!("/logout?id_token_hint={hint}")))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    receiver
        .next_token(5)
        .await
        .expect("the second app is told of that logout");
    let browser = new_browser();
    let tokens = offline_login(&app, &browser, WEB_CLIENT).await;
    app.sim.remove_member("zhangsan");
    let refused = refresh(&app, WEB_CLIENT, &tokens).await;
    assert_eq!(refused.status(), 400);
    let mut told = Vec::new();
    for _ in 0..2 {
        let token = receiver.next_token(5).await.expect("a logout token");
        let (_, claims) = verify_logout_token_for(&app, &token).await;
        assert_eq!(claims["sub"], "zhangsan");
        told.push((
            claims["aud"].as_str().unwrap().to_owned(),
            claims["sid"].as_str().map(str::to_owned),
        ));
    }
    told.sort();
    let sid = sid_of(tokens["id_token"].as_str().unwrap()).as_str().map(str::to_owned);
    assert_eq!(
        told,
        vec![("second-app".to_owned(), None), (WEB_CLIENT.to_owned(), sid)],
        "the app of the session, by session; the app holding tokens outside it, by person"
    );
    assert!(receiver.next_token(1).await.is_none(), "nobody is told twice");
    assert!(!still_logged_in(&app, &browser).await);
    for held in [&second] {
        assert_eq!(
            refresh(&app, "second-app", held).await.status(),
            400,
            "the other app's refresh token died"
        );
        let userinfo = app
            .browser
            .get(app.url("/userinfo"))
            .bearer_auth(held["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 401, "and its access token");
    }
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

#[tokio::test]
async fn a_jwt_access_token_is_no_id_token_hint() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"jwt-at\"\nredirect_uris = [\"{}\"]\nsecret_sha256 = \"{}\"\n\
             access_token_format = \"jwt\"\n",
            crate::support::app::WEB_REDIRECT,
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = app
        .follow_with(&browser, &app.authorize_url_for("jwt-at", ""))
        .await
        .query();
    let tokens: Value = app
        .browser
        .post(app.url("/token"))
        .basic_auth("jwt-at", Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", crate::support::app::WEB_REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(decode_header(access_token).unwrap().typ.as_deref(), Some("at+jwt"));
    let response = browser
        .get(app.url(&format!("/logout?id_token_hint={access_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "an access token is refused as a hint");
    assert!(still_logged_in(&app, &browser).await, "and nothing ended");
    let authorize = app
        .follow_with(&browser, &app.authorize_url(&format!("&id_token_hint={access_token}")))
        .await;
    assert_eq!(authorize.query()["error"], "invalid_request");
    let id_token = tokens["id_token"].as_str().unwrap();
    let response = browser
        .get(app.url(&format!("/logout?id_token_hint={id_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the ID token of the same login is a hint");
    assert!(!still_logged_in(&app, &browser).await);
}
