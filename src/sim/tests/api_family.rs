//! api.dingtalk.com conventions: header-only tokens, JSON-only bodies, `{code,message,requestid}`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::*;

#[tokio::test]
async fn app_token_on_users_me_is_invalid_authentication() {
    let t = spawn().await;
    let app_token = t.app_token().await;
    let (status, body) = t.users_me(&app_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "InvalidAuthentication");
    assert_eq!(body["message"], json!("不合法的access_token"));

    let (status, body) = t.users_me("not-a-token").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "InvalidAuthentication");
}

#[tokio::test]
async fn users_me_reads_the_token_from_its_header_only() {
    let t = spawn().await;
    let token = t.user_token("zhangsan").await;
    let me = t.url("/v1.0/contact/users/me");
    let attempts = [
        t.http.get(me.clone()),
        t.http.get(me.clone()).query(&[("access_token", token.as_str())]),
        t.http.get(me.clone()).bearer_auth(&token),
    ];
    for request in attempts {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(api_error_code(&body), "AuthenticationFailed.MissingParameter");
        assert_eq!(body["message"], json!("缺少参数：x-acs-dingtalk-access-token"));
    }
    assert_eq!(t.users_me(&token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn users_by_own_unionid_works_and_others_are_not_found() {
    let t = spawn().await;
    let token = t.user_token("zhangsan").await;
    let get = |who: &str| {
        t.http
            .get(t.url(&format!("/v1.0/contact/users/{who}")))
            .header("x-acs-dingtalk-access-token", &token)
            .send()
    };
    let own = get(ZHANGSAN_UNIONID).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let other = get(ZHAOLIU_UNIONID).await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let body: Value = other.json().await.unwrap();
    assert_eq!(api_error_code(&body), "invalidParameter.user.notFound");
}

#[tokio::test]
async fn member_with_personal_email_gets_it_from_users_me() {
    let t = spawn().await;
    let token = t.user_token("lisi").await;
    let (_, me) = t.users_me(&token).await;
    assert_eq!(me["email"], json!("lisi.home@example.net"));
    assert!(me.get("avatarUrl").is_none(), "{me}");
    let other_app_open_id = crate::sim::bodies::open_id("another-app", me["unionId"].as_str().unwrap());
    assert_ne!(me["openId"], json!(other_app_open_id));
}

#[tokio::test]
async fn app_access_token_refuses_bad_credentials() {
    let t = spawn().await;
    let (status, body) = t
        .post_json(
            "/v1.0/oauth2/accessToken",
            &json!({ "appKey": CLIENT_ID, "appSecret": "Sample-App-Secret" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "invalidClientIdOrSecret");
    assert_eq!(body["message"], json!("无效的clientId或者clientSecret"));

    let (status, body) = t
        .post_json("/v1.0/oauth2/accessToken", &json!({ "appSecret": "x" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "MissingappKey");
}

#[tokio::test]
async fn a_form_body_is_missingbody() {
    let t = spawn().await;
    let response = t
        .http
        .post(t.url("/v1.0/oauth2/accessToken"))
        .form(&[("appKey", CLIENT_ID), ("appSecret", CLIENT_SECRET)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(api_error_code(&body), "Missingbody");
    assert_eq!(body["message"], json!("body is mandatory for this action"));

    let response = t.http.post(t.url("/v1.0/oauth2/userAccessToken")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(api_error_code(&body), "Missingbody");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_invalid_action_not_found() {
    let t = spawn().await;
    for request in [
        t.http.get(t.url("/v1.0/oauth2/nothing")),
        t.http.get(t.url("/v1.0/oauth2/accessToken")),
        t.http.post(t.url("/v1.0/contact/users/me")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(api_error_code(&body), "InvalidAction.NotFound");
    }
}

#[tokio::test]
async fn one_app_token_serves_both_families() {
    let t = spawn().await;
    let legacy = t.app_token().await;
    let (_, new) = t
        .post_json(
            "/v1.0/oauth2/accessToken",
            &json!({ "appKey": CLIENT_ID, "appSecret": CLIENT_SECRET }),
        )
        .await;
    assert_eq!(new["accessToken"], json!(legacy));
    let (status, unified) = t
        .post_json(
            "/v1.0/oauth2/dingsampleorg/token",
            &json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{unified}");
    assert_eq!(unified, json!({ "access_token": legacy, "expires_in": 7200 }));

    let (status, body) = t
        .post_json(
            "/v1.0/oauth2/dingother/token",
            &json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials" }),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(api_error_code(&body), "unknownError");
}
