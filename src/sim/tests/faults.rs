//! Injected faults, token invalidation and the enforced rate limit, as a client sees them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::*;
use crate::sim::{Fault, FaultKind};

const USER_GET: &str = "/topapi/v2/user/get";

async fn user_get(t: &TestSim, token: &str) -> reqwest::Response {
    t.http
        .post(t.url(USER_GET))
        .query(&[("access_token", token)])
        .json(&json!({ "userid": "zhangsan" }))
        .send()
        .await
        .unwrap()
}

async fn app_access_token(t: &TestSim) -> reqwest::Response {
    t.http
        .post(t.url("/v1.0/oauth2/accessToken"))
        .json(&json!({ "appKey": CLIENT_ID, "appSecret": CLIENT_SECRET }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_counted_fault_on_one_path_hits_only_that_many_calls_there() {
    let t = spawn().await;
    let token = t.app_token().await;
    t.sim.inject(Fault::new(FaultKind::Status(502)).on(USER_GET).times(2));
    assert_eq!(user_get(&t, &token).await.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        t.gettoken(CLIENT_ID, CLIENT_SECRET).await["errcode"],
        json!(0),
        "another path"
    );
    assert_eq!(user_get(&t, &token).await.status(), StatusCode::BAD_GATEWAY);
    let third: Value = user_get(&t, &token).await.json().await.unwrap();
    assert_eq!(third["errcode"], json!(0));
    assert_eq!(t.sim.call_count(USER_GET), 3, "faulty calls are counted too");
}

#[tokio::test]
async fn busy_and_rate_limited_answers_follow_each_familys_envelope() {
    let t = spawn().await;
    let token = t.app_token().await;
    t.sim.inject(Fault::new(FaultKind::Busy).times(2));
    let oapi: Value = user_get(&t, &token).await.json().await.unwrap();
    assert_eq!(oapi["errcode"], json!(-1));
    let api = app_access_token(&t).await;
    assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api_error_code(&api.json().await.unwrap()), "system.busy");

    t.sim.inject(Fault::new(FaultKind::RateLimited).times(2));
    let response = user_get(&t, &token).await;
    assert_eq!(response.status(), StatusCode::OK, "oapi answers HTTP 200");
    let oapi: Value = response.json().await.unwrap();
    assert_eq!(oapi["errcode"], json!(90018));
    assert!(oapi["request_id"].is_string());
    let api = app_access_token(&t).await;
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        api_error_code(&api.json().await.unwrap()),
        "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    );
}

#[tokio::test]
async fn a_malformed_body_is_cut_off_json() {
    let t = spawn().await;
    let token = t.app_token().await;
    t.sim.inject(Fault::new(FaultKind::Malformed).times(1));
    let response = user_get(&t, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with(b"{\"errcode\":0"));
    assert!(serde_json::from_slice::<Value>(&body).is_err());
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_a_complete_response() {
    let t = spawn().await;
    let token = t.app_token().await;
    t.sim.inject(Fault::new(FaultKind::Reset).times(1));
    let outcome = match t
        .http
        .post(t.url(USER_GET))
        .query(&[("access_token", &token)])
        .json(&json!({ "userid": "zhangsan" }))
        .send()
        .await
    {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let error = outcome.expect_err("no complete response");
    assert!(!error.is_timeout(), "{error:?}");
    assert!(
        error.is_request(),
        "closed before any response, not mid-body: {error:?}"
    );
    let next: Value = user_get(&t, &token).await.json().await.unwrap();
    assert_eq!(next["errcode"], json!(0), "the server itself is fine");
}

#[tokio::test]
async fn latency_delays_every_call_and_a_delay_fault_only_its_own() {
    let t = spawn().await;
    let token = t.app_token().await;
    t.sim
        .inject(Fault::new(FaultKind::Delay(Duration::from_millis(150))).times(1));
    let started = Instant::now();
    let body: Value = user_get(&t, &token).await.json().await.unwrap();
    assert_eq!(body["errcode"], json!(0), "answered normally");
    assert!(started.elapsed() >= Duration::from_millis(150));
    t.sim.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    t.gettoken(CLIENT_ID, CLIENT_SECRET).await;
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn invalidated_app_tokens_answer_40014_and_a_new_token_is_issued() {
    let t = spawn().await;
    let old = t.app_token().await;
    t.sim.invalidate_app_tokens();
    let body: Value = user_get(&t, &old).await.json().await.unwrap();
    assert_eq!(body["errcode"], json!(88));
    assert_eq!(body["sub_code"], json!("40014"));
    let new = t.app_token().await;
    assert_ne!(new, old);
    let body: Value = user_get(&t, &new).await.json().await.unwrap();
    assert_eq!(body["errcode"], json!(0));
}

#[tokio::test]
async fn the_enforced_rate_limit_refuses_calls_beyond_it_per_api() {
    let t = spawn().await;
    let token = t.app_token().await;
    t.sim.set_rate_limit(Some(3));
    let mut codes = Vec::new();
    for _ in 0..5 {
        let body: Value = user_get(&t, &token).await.json().await.unwrap();
        codes.push(body["errcode"].as_i64().unwrap());
    }
    assert_eq!(codes, [0, 0, 0, 90018, 90018]);
    assert_eq!(t.sim.throttled_count(), 2);
    assert_eq!(
        t.gettoken(CLIENT_ID, CLIENT_SECRET).await["errcode"],
        json!(0),
        "another API"
    );
    t.clock.advance(1);
    let body: Value = user_get(&t, &token).await.json().await.unwrap();
    assert_eq!(body["errcode"], json!(0), "a second later");
    t.sim.set_rate_limit(None);
}

#[tokio::test]
async fn the_login_page_is_never_faulty() {
    let t = spawn().await;
    t.sim.inject(Fault::new(FaultKind::Reset));
    t.sim.set_rate_limit(Some(1));
    for _ in 0..3 {
        assert_eq!(t.authorize(&[]).await.status(), StatusCode::OK);
    }
    t.sim.clear_faults();
    assert!(!t.app_token().await.is_empty());
}
