//! Refresh tokens: issuance, rotation, reuse detection, the grace window, lifetimes, and the
//! re-check of the person with DingTalk.

use serde_json::Value;

use crate::support::app::{WEB_CLIENT, WEB_SECRET, jwt_claims};
use crate::support::{Rp, TestApp, TestAppOptions};

async fn refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap()
}

async fn error_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_refresh_token_comes_only_with_offline_access() {
    let app = TestApp::spawn().await;
    assert!(app.tokens_for("zhangsan").await.get("refresh_token").is_none());
    let tokens = app.offline_tokens("zhangsan").await;
    assert!(tokens["refresh_token"].as_str().is_some_and(|t| t.len() >= 43));
    assert_eq!(tokens["scope"], "openid profile offline_access");
}

#[tokio::test]
async fn each_refresh_rotates_the_token_and_issues_a_fresh_id_token_without_nonce() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let original = jwt_claims(tokens["id_token"].as_str().unwrap());
    app.clock.advance(30);
    let response = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let next: Value = response.json().await.unwrap();
    assert_ne!(next["refresh_token"], tokens["refresh_token"]);
    assert_ne!(next["access_token"], tokens["access_token"]);
    let refreshed = jwt_claims(next["id_token"].as_str().unwrap());
    assert_eq!(refreshed["sub"], original["sub"]);
    assert_eq!(
        refreshed["auth_time"], original["auth_time"],
        "the time of the original login"
    );
    assert!(refreshed["iat"].as_i64() > original["iat"].as_i64());
    assert!(original.get("nonce").is_some() && refreshed.get("nonce").is_none());
    // And the rotated token works in turn.
    assert_eq!(
        refresh(&app, next["refresh_token"].as_str().unwrap()).await.status(),
        200
    );
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let next: Value = refresh(&app, &first).await.json().await.unwrap();
    app.clock.advance(60);
    assert_eq!(error_of(refresh(&app, &first).await).await, "invalid_grant");
    // Everything descended from that login is gone: the successor and its access token.
    assert_eq!(
        error_of(refresh(&app, next["refresh_token"].as_str().unwrap()).await).await,
        "invalid_grant"
    );
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(next["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
}

#[tokio::test]
async fn concurrent_refreshes_within_the_grace_window_get_the_same_successor() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (a, b) = tokio::join!(refresh(&app, &first), refresh(&app, &first));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["refresh_token"], b["refresh_token"], "{a} {b}");
    assert!(a["refresh_token"].is_string());
    // Nothing was revoked: the successor works.
    assert_eq!(refresh(&app, a["refresh_token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn a_person_who_left_the_organisation_cannot_refresh() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    app.sim.remove_member("zhangsan");
    let response = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("not a member"));
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401, "the family's access token is revoked too");
}

#[tokio::test]
async fn dingtalk_down_during_a_refresh_leaves_the_token_usable() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_IDENTITY__REFRESH_OUTAGE_GRACE", "0".into())],
        ..Default::default()
    })
    .await;
    let tokens = app.offline_tokens("zhangsan").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    app.sim.set_outage(Some(503));
    let response = refresh(&app, token).await;
    assert_eq!(response.status(), 503);
    assert_eq!(error_of(response).await, "temporarily_unavailable");
    app.sim.set_outage(None);
    assert_eq!(refresh(&app, token).await.status(), 200);
}

#[tokio::test]
async fn through_a_short_outage_a_refresh_is_granted_from_the_last_check_within_the_grace() {
    // No circuit breaker: the outage's failures would keep it open past the outage.
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_DINGTALK__BREAKER_THRESHOLD", "0".into())],
        ..Default::default()
    })
    .await;
    let tokens = app.offline_tokens("zhangsan").await;
    app.sim.set_outage(Some(503));
    // Within the default 600 s of the login (DingTalk's last word on the person): granted.
    app.clock.advance(590);
    let response = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    let renewed: Value = response.json().await.unwrap();
    let claims = crate::support::app::jwt_claims(renewed["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "zhangsan");
    let (ok, audit, _) = app.cli(&["audit", "--kind", "refresh"]);
    assert!(ok && audit.contains("outage_grace"), "{audit}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!(
            "dingo_refresh_outage_grants_total{{client=\"{WEB_CLIENT}\"}} 1"
        )),
        "{metrics}"
    );
    // The grant did not count as a check: past the grace, the outage is an error again, and
    // the token stays usable for when DingTalk is back.
    app.clock.advance(20);
    let next = renewed["refresh_token"].as_str().unwrap();
    let response = refresh(&app, next).await;
    assert_eq!(response.status(), 503);
    assert_eq!(error_of(response).await, "temporarily_unavailable");
    app.sim.set_outage(None);
    assert_eq!(refresh(&app, next).await.status(), 200, "checked again");
}

#[tokio::test]
async fn no_outage_grace_while_an_organisation_event_about_anyone_waits_to_be_acted_on() {
    let app = TestApp::spawn_with(TestAppOptions {
        events_http: true,
        ..Default::default()
    })
    .await;
    let tokens = app.offline_tokens("lisi").await;
    app.sim.set_outage(Some(503));
    // lisi moves while DingTalk's API is down: the event arrives, its re-check cannot run.
    app.sim.move_member("lisi", &[2]).expect("an event");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.db.count_org_events().await.unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "the event never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let response = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(error_of(response).await, "temporarily_unavailable");
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("zhangsan").await;
    app.clock.advance(1_209_601);
    assert_eq!(
        error_of(refresh(&app, tokens["refresh_token"].as_str().unwrap()).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn a_refresh_token_belongs_to_its_client_and_may_only_narrow_the_scope() {
    let app = TestApp::spawn().await;
    let tokens = app.offline_tokens("lisi").await;
    let token = tokens["refresh_token"].as_str().unwrap();
    let other = app
        .browser
        .post(app.url("/token"))
        .basic_auth(crate::support::app::FINANCE_CLIENT, Some(WEB_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(other).await, "invalid_grant");
    let wider = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "openid email"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(wider).await, "invalid_scope");
    let narrower: Value = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(narrower["scope"], "openid");
}

#[tokio::test]
async fn the_openidconnect_crate_refreshes_tokens() {
    use openidconnect::{OAuth2TokenResponse, RefreshToken, TokenResponse};
    let app = TestApp::spawn().await;
    let rp = Rp::discover(&app).await;
    let tokens = app.offline_tokens("zhangsan").await;
    let client = rp.client();
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(tokens["refresh_token"].as_str().unwrap().into()))
        .unwrap()
        .request_async(&rp.http)
        .await
        .unwrap();
    assert!(refreshed.refresh_token().is_some());
    let id_token = refreshed.id_token().expect("an ID token on refresh");
    // No nonce on a refreshed ID token: verify without one.
    let claims = id_token
        .claims(&client.id_token_verifier(), |_: Option<&openidconnect::Nonce>| Ok(()))
        .unwrap();
    assert_eq!(claims.subject().as_str(), "zhangsan");
}
