//! oapi.dingtalk.com conventions: HTTP 200 + errcode, 88 + string sub_code for token failures.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::*;
use crate::sim::Directory;

fn assert_gateway_error(body: &Value, sub_code: &str) {
    assert_eq!(body["errcode"], json!(88), "{body}");
    assert_eq!(body["sub_code"], json!(sub_code), "{body}");
    let sub_msg = body["sub_msg"].as_str().unwrap();
    assert_eq!(
        body["errmsg"],
        json!(format!("ding talk error[subcode={sub_code},submsg={sub_msg}]"))
    );
    assert!(body["request_id"].is_string());
}

#[tokio::test]
async fn bad_missing_and_expired_tokens_are_88_with_sub_codes() {
    let t = spawn().await;
    let body = json!({ "userid": "zhangsan" });

    let unknown = t
        .topapi("/topapi/v2/user/get", "0123456789abcdef0123456789abcdef", &body)
        .await;
    assert_gateway_error(&unknown, "40014");
    assert_eq!(unknown["sub_msg"], json!("不合法的access_token"));

    let response = t
        .http
        .post(t.url("/topapi/v2/user/get"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_gateway_error(&response.json().await.unwrap(), "40000");

    // A token in a header is not read by oapi.
    let app_token = t.app_token().await;
    let response = t
        .http
        .post(t.url("/topapi/v2/user/get"))
        .header("x-acs-dingtalk-access-token", &app_token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_gateway_error(&response.json().await.unwrap(), "40000");

    t.clock.advance(7201);
    let expired = t.topapi("/topapi/v2/user/get", &app_token, &body).await;
    assert_gateway_error(&expired, "42001");
}

#[tokio::test]
async fn a_user_token_is_unknown_to_oapi() {
    let t = spawn().await;
    let user_token = t.user_token("zhangsan").await;
    let body = t
        .topapi(
            "/topapi/user/getbyunionid",
            &user_token,
            &json!({ "unionid": ZHANGSAN_UNIONID }),
        )
        .await;
    assert_gateway_error(&body, "40014");
}

#[tokio::test]
async fn gettoken_returns_the_same_token_and_extends_it() {
    let t = spawn().await;
    let first = t.gettoken(CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(first["errcode"], json!(0));
    assert_eq!(first["errmsg"], json!("ok"));
    assert_eq!(first["expires_in"], json!(7200));
    assert!(first.get("request_id").is_none());
    let token = first["access_token"].as_str().unwrap().to_owned();

    t.clock.advance(7000);
    assert_eq!(t.app_token().await, token);
    t.clock.advance(7000);
    // Still valid: the second call pushed expiry to (7000 + 7200).
    let ok = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "lisi" }))
        .await;
    assert_eq!(ok["errcode"], json!(0), "{ok}");

    t.clock.advance(201);
    let renewed = t.app_token().await;
    assert_ne!(renewed, token);
    let old = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "lisi" }))
        .await;
    assert_gateway_error(&old, "42001");
}

#[tokio::test]
async fn gettoken_with_bad_credentials_is_40096_unwrapped() {
    let t = spawn().await;
    let body = t.gettoken(CLIENT_ID, "wrong").await;
    assert_eq!(body, json!({ "errcode": 40096, "errmsg": "不合法的appKey或appSecret" }));
    let body = t.gettoken("nosuchkey", CLIENT_SECRET).await;
    assert_eq!(body["errcode"], json!(40096));

    let response = t
        .http
        .get(t.url("/gettoken"))
        .form(&[("appkey", CLIENT_ID), ("appsecret", CLIENT_SECRET)])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errcode"],
        json!(40035),
        "parameters only count in the query: {body}"
    );
}

#[tokio::test]
async fn user_get_omits_unset_fields_and_reports_unknown_users() {
    let t = spawn().await;
    let token = t.app_token().await;
    let lisi = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "lisi" }))
        .await;
    let r = &lisi["result"];
    assert_eq!(r["email"], json!("lisi.home@example.net"));
    for absent in ["org_email", "avatar"] {
        assert!(r.get(absent).is_none(), "{absent} in {r}");
    }
    assert_eq!(r["role_list"], json!([]));

    let wangwu = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "wangwu" }))
        .await;
    assert_eq!(wangwu["result"]["active"], json!(false));
    assert!(wangwu["result"].get("hired_date").is_none());

    let ghost = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "ghost" }))
        .await;
    assert_eq!(ghost["errcode"], json!(60121));
    assert!(ghost["request_id"].is_string());

    let missing = t.topapi("/topapi/v2/user/get", &token, &json!({})).await;
    assert_eq!(missing["errcode"], json!(40035));
}

#[tokio::test]
async fn form_bodies_and_form_tokens_are_accepted() {
    let t = spawn().await;
    let token = t.app_token().await;
    let response = t
        .http
        .post(t.url("/topapi/v2/department/get"))
        .form(&[("access_token", token.as_str()), ("dept_id", "3")])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], json!(0), "{body}");
    assert_eq!(body["result"]["name"], json!("财务部"));
}

#[tokio::test]
async fn unknown_department_and_path_have_their_errcodes() {
    let t = spawn().await;
    let token = t.app_token().await;
    let dept = t
        .topapi("/topapi/v2/department/get", &token, &json!({ "dept_id": 99 }))
        .await;
    assert_eq!(dept["errcode"], json!(60003));
    assert!(dept["request_id"].is_string());

    let parents = t
        .topapi(
            "/topapi/v2/department/listparentbyuser",
            &token,
            &json!({ "userid": "ghost" }),
        )
        .await;
    assert_eq!(parents["errcode"], json!(33012));

    let unknown = t.topapi("/topapi/v2/user/notexist", &token, &json!({})).await;
    assert_eq!(unknown["errcode"], json!(22), "{unknown}");
    assert!(
        unknown["sub_msg"]
            .as_str()
            .unwrap()
            .contains("dingtalk.oapi.v2.user.notexist")
    );
    assert!(unknown["request_id"].is_string());
}

#[tokio::test]
async fn a_member_outside_the_contact_scope_is_50002_on_user_get_only() {
    let directory = Directory::from_toml(
        "corp_id = \"dingx\"\ncorp_name = \"X\"\n\
         [[apps]]\nclient_id = \"k\"\nclient_secret = \"s\"\n\
         [[users]]\nuserid = \"hidden\"\nunionid = \"uh\"\nname = \"H\"\nvisible = false\n\
         [[users]]\nuserid = \"shown\"\nunionid = \"us\"\nname = \"S\"\n",
    )
    .unwrap();
    let t = spawn_with(directory).await;
    let token = t.gettoken("k", "s").await["access_token"].as_str().unwrap().to_owned();
    let hidden = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "hidden" }))
        .await;
    assert_eq!(hidden["errcode"], json!(50002), "{hidden}");
    assert_eq!(hidden["errmsg"], json!("企业员工不在授权范围"));
    assert!(hidden["request_id"].is_string() && hidden.get("result").is_none());
    let shown = t
        .topapi("/topapi/v2/user/get", &token, &json!({ "userid": "shown" }))
        .await;
    assert_eq!(shown["errcode"], json!(0), "{shown}");
    let found = t
        .topapi("/topapi/user/getbyunionid", &token, &json!({ "unionid": "uh" }))
        .await;
    assert_eq!(found["result"]["userid"], json!("hidden"), "{found}");
}
