//! Token exchange (RFC 8693): an app trades a person's access token for one at another app it
//! is registered to call, narrowed to what both may have, checked against the other app's
//! policy, and audited.

use serde_json::Value;

use crate::support::app::{WEB_REDIRECT, WEB_SECRET, jwt_claims};
use crate::support::{TestApp, TestAppOptions};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

async fn app() -> TestApp {
    let hash = dingo::crypto::sha256_hex(WEB_SECRET);
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"gateway\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\nsecret_sha256 = \"{hash}\"\n\
             scopes = [\"openid\", \"profile\", \"email\"]\n\
             grant_types = [\"authorization_code\", \"{EXCHANGE}\"]\nmay_exchange_for = [\"orders\"]\n\
             [[clients]]\nclient_id = \"orders\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\nsecret_sha256 = \"{hash}\"\n\
             scopes = [\"openid\", \"profile\"]\naccess_token_format = \"jwt\"\nresources = [\"https://orders.example.com\"]\n"
        ),
        ..Default::default()
    })
    .await
}

/// `person` logs in at the gateway: its access token.
async fn gateway_token(app: &TestApp, person: &str) -> String {
    app.sim.set_auto_login(Some(person.into()));
    let url = app.authorize_url_for("gateway", "");
    let q = app.follow_with(&crate::support::app::new_browser(), &url).await.query();
    let answer: Value = app.redeem_for("gateway", &q["code"]).await.json().await.unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(app: &TestApp, client: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("grant_type", EXCHANGE), ("subject_token_type", ACCESS_TOKEN)];
    all.extend_from_slice(form);
    let answer = app
        .browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&all)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn an_app_trades_a_persons_token_for_one_at_an_app_it_may_call() {
    let app = app().await;
    let held = gateway_token(&app, "zhangsan").await;
    let (status, issued) = exchange(&app, "gateway", &[("subject_token", &held), ("audience", "orders")]).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "openid profile", "what both apps may have");
    assert!(
        issued.get("id_token").is_none() && issued.get("refresh_token").is_none(),
        "{issued}"
    );
    let token = issued["access_token"].as_str().unwrap();
    let claims = crate::support::app::verify_jwt(&app.jwks().await, token, &app.address, "https://orders.example.com");
    assert_eq!(claims["sub"], "zhangsan");
    assert_eq!(claims["client_id"], "orders");
    let userinfo: Value = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "zhangsan");
    let audited = app
        .db
        .audit_events(&dingo::store::AuditFilter {
            kind: Some("token_exchange".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].client_id.as_deref(), Some("gateway"));
    assert_eq!(jwt_claims(token)["aud"], "https://orders.example.com");
}

#[tokio::test]
async fn only_allowed_audiences_own_tokens_and_held_scopes_are_exchanged() {
    let app = app().await;
    let held = gateway_token(&app, "zhangsan").await;
    let error = |answer: (u16, Value)| (answer.0, answer.1["error"].as_str().unwrap().to_owned());
    assert_eq!(
        error(exchange(&app, "gateway", &[("subject_token", &held), ("audience", "finance")]).await),
        (400, "invalid_target".into())
    );
    // The web app holds no right to exchange, and the token is not its own anyway.
    assert_eq!(
        error(exchange(&app, "web-app", &[("subject_token", &held), ("audience", "orders")]).await).1,
        "unauthorized_client"
    );
    assert_eq!(
        error(exchange(&app, "gateway", &[("subject_token", "forged"), ("audience", "orders")]).await),
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error(
            exchange(
                &app,
                "gateway",
                &[
                    ("subject_token", &held),
                    ("audience", "orders"),
                    ("scope", "openid email")
                ]
            )
            .await
        ),
        (400, "invalid_scope".into()),
        "orders may not have email"
    );
    let (status, body) = exchange(
        &app,
        "gateway",
        &[("subject_token", &held), ("audience", "orders"), ("actor_token", "x")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}
