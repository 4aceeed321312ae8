//! Fault injection and observation.

use reqwest::StatusCode;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn outage_answers_every_api_call_with_the_status_but_not_the_login_page() {
    let t = spawn().await;
    t.sim.set_outage(Some(503));
    let response = t.http.get(t.url("/gettoken")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let response = t
        .http
        .post(t.url("/v1.0/oauth2/accessToken"))
        .json(&json!({ "appKey": CLIENT_ID, "appSecret": CLIENT_SECRET }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    t.sim.set_outage(Some(500));
    let response = t.http.post(t.url("/topapi/v2/user/get")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(t.authorize(&[]).await.status(), StatusCode::OK);

    assert_eq!(t.sim.total_calls(), 3, "calls during an outage are still counted");
    t.sim.set_outage(None);
    assert_eq!(t.gettoken(CLIENT_ID, CLIENT_SECRET).await["errcode"], json!(0));
}

#[tokio::test]
async fn calls_are_counted_per_path_and_reset() {
    let t = spawn().await;
    let token = t.user_token("zhangsan").await;
    t.users_me(&token).await;
    t.users_me(&token).await;
    t.app_token().await;
    assert_eq!(t.sim.call_count("/v1.0/oauth2/userAccessToken"), 1);
    assert_eq!(t.sim.call_count("/v1.0/contact/users/me"), 2);
    assert_eq!(t.sim.call_count("/gettoken"), 1);
    assert_eq!(t.sim.call_count("/oauth2/auth"), 0);
    assert_eq!(t.sim.total_calls(), 4);
    t.sim.reset_calls();
    assert_eq!(t.sim.total_calls(), 0);
    assert_eq!(t.sim.call_count("/gettoken"), 0);
}
