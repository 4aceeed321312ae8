//! Revocation (RFC 7009) and introspection (RFC 7662), driven by plain HTTP and by the
//! `openidconnect` crate.

use serde_json::Value;

use crate::support::app::{FINANCE_CLIENT, SPA_CLIENT, WEB_CLIENT, WEB_SECRET};
use crate::support::{Rp, TestApp};

async fn post(app: &TestApp, path: &str, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.browser
        .post(app.url(path))
        .basic_auth(client, Some(WEB_SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = post(app, "/introspect", WEB_CLIENT, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

#[tokio::test]
async fn introspection_describes_live_tokens_and_forgets_revoked_ones() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let access = tokens["access_token"].as_str().unwrap();
    let answer = introspect(&app, access).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "zhangsan");
    assert_eq!(answer["client_id"], WEB_CLIENT);
    assert_eq!(answer["scope"], "openid profile offline_access");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["iss"], app.address);
    assert!(answer["exp"].as_i64() > answer["iat"].as_i64());
    let refresh = introspect(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (refresh["active"].clone(), refresh["token_type"].clone()),
        (true.into(), "refresh_token".into())
    );

    let revoked = post(
        &app,
        "/revoke",
        WEB_CLIENT,
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(&app, access).await, serde_json::json!({"active": false}));
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert_eq!(
        introspect(&app, "never-issued").await,
        serde_json::json!({"active": false})
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        post(&app, "/revoke", WEB_CLIENT, &[("token", refresh)]).await.status(),
        200
    );
    let again = post(
        &app,
        "/token",
        WEB_CLIENT,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(again.status(), 400);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, access).await["active"], false);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token_and_is_told_so() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("lisi").await;
    for token in [&tokens["access_token"], &tokens["refresh_token"]] {
        let response = post(&app, "/revoke", FINANCE_CLIENT, &[("token", token.as_str().unwrap())]).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized_client", "RFC 7009 §2.1: {body}");
        assert_eq!(
            introspect(&app, token.as_str().unwrap()).await["active"],
            true,
            "nothing revoked"
        );
    }
    let unknown = post(&app, "/revoke", WEB_CLIENT, &[("token", "never-issued")]).await;
    assert_eq!(unknown.status(), 200);
}

#[tokio::test]
async fn a_client_introspects_only_its_own_tokens_unless_it_is_a_resource_server() {
    let app = crate::support::TestApp::spawn_with(crate::support::TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"orders-api\"\nredirect_uris = [\"https://orders.example.com/cb\"]\n\
             secret_sha256 = \"{}\"\nintrospect_any = true\n",
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await;
    let tokens = app.tokens_for("lisi").await;
    let access = tokens["access_token"].as_str().unwrap();
    let by = |client: &'static str| {
        let app = &app;
        async move {
            post(app, "/introspect", client, &[("token", access)])
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        by(FINANCE_CLIENT).await,
        serde_json::json!({"active": false}),
        "another client's token"
    );
    assert_eq!(by(WEB_CLIENT).await["active"], true, "its own");
    let seen = by("orders-api").await;
    assert_eq!(seen["active"], true, "a resource server: {seen}");
    assert_eq!(seen["client_id"], WEB_CLIENT);
}

#[tokio::test]
async fn revocation_and_introspection_need_client_authentication() {
    let app = TestApp::spawn().await;
    let tokens = app.tokens_for("zhangsan").await;
    let access = tokens["access_token"].as_str().unwrap();
    let wrong = app
        .browser
        .post(app.url("/introspect"))
        .basic_auth(WEB_CLIENT, Some("wrong"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"dingo\"");
    let public = app
        .browser
        .post(app.url("/introspect"))
        .form(&[("token", access), ("client_id", SPA_CLIENT)])
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 401, "public clients cannot introspect");
    let missing = post(&app, "/revoke", WEB_CLIENT, &[("token_type_hint", "access_token")]).await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

/// The crate introspects; it refuses to revoke over plain http (a loopback test server), so the
/// revocation between the two introspections is a plain form post.
#[tokio::test]
async fn the_openidconnect_crate_introspects() {
    use openidconnect::{AccessToken, IntrospectionUrl, TokenIntrospectionResponse};
    let app = TestApp::spawn().await;
    let rp = Rp::discover(&app).await;
    let tokens = app.tokens_for("zhangsan").await;
    let access = AccessToken::new(tokens["access_token"].as_str().unwrap().into());
    let client = rp
        .client()
        .set_introspection_url(IntrospectionUrl::new(app.url("/introspect")).unwrap());
    let answer = client.introspect(&access).request_async(&rp.http).await.unwrap();
    assert!(answer.active());
    assert_eq!(answer.sub(), Some("zhangsan"));
    post(&app, "/revoke", WEB_CLIENT, &[("token", access.secret())]).await;
    assert!(
        !client
            .introspect(&access)
            .request_async(&rp.http)
            .await
            .unwrap()
            .active()
    );
}
