//! Legacy scan login: `/connect/*` pages → `?code&state` → signed `sns/getuserinfo_bycode`;
//! and the legacy `user/getUseridByUnionid`.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::form_urlencoded;

use super::support::*;
use crate::clock::Clock;
use crate::sim::Directory;

/// The official worked example (DINGTALK-API.md §7.3).
const WORKED_TIMESTAMP: i64 = 1_546_084_445_901;
const WORKED_QUERY: &str = "accessKey=testappid&timestamp=1546084445901\
                            &signature=HCbG3xNE3vzhO%2Bu7qCUL1jS5hsu2n5r2cFhnTrtyDAE%3D";

fn worked_example_directory(signature_mode: &str) -> Directory {
    Directory::from_toml(&format!(
        "corp_id = \"dingx\"\ncorp_name = \"X\"\nlegacy_signature = \"{signature_mode}\"\n\
         [[apps]]\nclient_id = \"k\"\nclient_secret = \"s\"\n\
         [[legacy_apps]]\napp_id = \"testappid\"\napp_secret = \"testappSecret\"\n\
         [[users]]\nuserid = \"u1\"\nunionid = \"un1\"\nname = \"甲\"\n"
    ))
    .unwrap()
}

/// A simulator for the worked example, its clock moved to the example's instant.
async fn spawn_at_worked_instant(signature_mode: &str) -> TestSim {
    let t = spawn_with(worked_example_directory(signature_mode)).await;
    t.clock.advance((WORKED_TIMESTAMP - t.clock.now_ms()) / 1000);
    assert!((t.clock.now_ms() - WORKED_TIMESTAMP).abs() < 2_000);
    t
}

/// `GET {page}` for legacy app `app_id` with the usual parameters plus/over `extra`.
async fn entry(t: &TestSim, page: &str, app_id: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut params: Vec<(&str, &str)> = vec![
        ("appid", app_id),
        ("response_type", "code"),
        ("scope", "snsapi_login"),
        ("state", "st-9"),
        ("redirect_uri", CALLBACK),
    ];
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        params.push((k, v));
    }
    t.http.get(t.url(page)).query(&params).send().await.unwrap()
}

/// A tmp code for `person` through qrconnect with auto-login.
async fn sns_code(t: &TestSim, app_id: &str, person: &str) -> String {
    t.sim.set_auto_login(Some(person.to_owned()));
    let response = entry(t, "/connect/qrconnect", app_id, &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    query_value(&location(&response), "code").unwrap()
}

/// `accessKey=&timestamp=&signature=` signed with `secret`, the signature URL-encoded.
fn signed_query(app_id: &str, secret: &str, timestamp: i64) -> String {
    let timestamp = timestamp.to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature = STANDARD.encode(hmac::sign(&key, timestamp.as_bytes()).as_ref());
    let encoded: String = form_urlencoded::byte_serialize(signature.as_bytes()).collect();
    format!("accessKey={app_id}&timestamp={timestamp}&signature={encoded}")
}

/// `POST /sns/getuserinfo_bycode?{query}` {tmp_auth_code}; the query is sent exactly as given.
async fn bycode(t: &TestSim, query: &str, code: &str) -> Value {
    let response = t
        .http
        .post(format!("{}sns/getuserinfo_bycode?{query}", t.base))
        .json(&json!({ "tmp_auth_code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn qrconnect_picker_links_come_back_with_only_code_and_state() {
    let t = spawn().await;
    let response = entry(&t, "/connect/qrconnect", LEGACY_APP_ID, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page_url = response.url().clone();
    let html = response.text().await.unwrap();
    for name in ["张三", "周七", "赵六"] {
        assert!(html.contains(name), "{name} missing");
    }
    let link = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .find(|h| h.contains(ZHANGSAN_UNIONID))
        .unwrap();
    assert!(link.starts_with("qrconnect?"), "{link}");
    let response = t.http.get(page_url.join(&link).unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    assert_eq!(&back.as_str()[..CALLBACK.len()], CALLBACK);
    let keys: Vec<String> = back.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(keys, ["code", "state"]);
    assert_eq!(query_value(&back, "state").as_deref(), Some("st-9"));
    assert_eq!(t.sim.total_calls(), 0, "login pages are not counted");
}

#[tokio::test]
async fn sns_authorize_auto_login_redirects_with_a_tmp_code_for_either_scope() {
    let t = spawn().await;
    t.sim.set_auto_login(Some("lisi".to_owned()));
    for scope in ["snsapi_login", "snsapi_auth"] {
        let response = entry(&t, "/connect/oauth2/sns_authorize", LEGACY_APP_ID, &[("scope", scope)]).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{scope}");
        let back = location(&response);
        let code = query_value(&back, "code").unwrap();
        assert!(query_value(&back, "authCode").is_none());
        let now = t.clock.now_ms();
        let body = bycode(&t, &signed_query(LEGACY_APP_ID, LEGACY_APP_SECRET, now), &code).await;
        assert_eq!(body["user_info"]["nick"], json!("李四"), "{body}");
    }
}

#[tokio::test]
async fn sns_authorize_picker_links_come_back_to_sns_authorize() {
    let t = spawn().await;
    let response = entry(&t, "/connect/oauth2/sns_authorize", LEGACY_APP_ID, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("href=\"sns_authorize?"), "{html}");
}

#[tokio::test]
async fn bad_legacy_entry_requests_get_a_readable_error_page() {
    let t = spawn().await;
    let cases: [(&str, &str, (&str, &str), &str); 7] = [
        ("/connect/qrconnect", "nosuchapp", ("state", "s"), "应用不存在"),
        // A new-style app is not a legacy app.
        ("/connect/qrconnect", CLIENT_ID, ("state", "s"), "应用不存在"),
        (
            "/connect/qrconnect",
            LEGACY_APP_ID,
            ("scope", "snsapi_login Contact.User.Read"),
            "goto param is invalid",
        ),
        (
            "/connect/oauth2/sns_authorize",
            LEGACY_APP_ID,
            ("scope", "openid"),
            "goto param is invalid",
        ),
        (
            "/connect/qrconnect",
            LEGACY_APP_ID,
            ("scope", "snsapi_auth"),
            "scope 不合法",
        ),
        (
            "/connect/oauth2/sns_authorize",
            LEGACY_APP_ID,
            ("response_type", "token"),
            "response_type",
        ),
        (
            "/connect/qrconnect",
            LEGACY_APP_ID,
            ("redirect_uri", "/relative"),
            "redirect_uri",
        ),
    ];
    for (page, app_id, extra, expected) in cases {
        let response = entry(&t, page, app_id, &[extra]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{page} {extra:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(expected), "{page} {extra:?}: {html}");
    }
}

#[tokio::test]
async fn getuserinfo_bycode_accepts_the_official_worked_example_once() {
    let t = spawn_at_worked_instant("timestamp").await;
    let code = sns_code(&t, "testappid", "u1").await;
    let body = bycode(&t, WORKED_QUERY, &code).await;
    assert_eq!(body["errcode"], json!(0), "{body}");
    assert_eq!(body["errmsg"], json!("ok"));
    let info = &body["user_info"];
    assert_eq!(info["nick"], json!("甲"));
    assert_eq!(info["unionid"], json!("un1"));
    assert!(info["openid"].is_string());
    assert_eq!(info["main_org_auth_high_level"], json!(false));
    assert!(body.get("request_id").is_none());

    let again = bycode(&t, WORKED_QUERY, &code).await;
    assert_eq!(again, json!({ "errcode": 40078, "errmsg": "不存在的临时授权码" }));
}

#[tokio::test]
async fn getuserinfo_bycode_reports_853001_to_853004() {
    let t = spawn_at_worked_instant("timestamp").await;
    let code = sns_code(&t, "testappid", "u1").await;
    let sig = "signature=HCbG3xNE3vzhO%2Bu7qCUL1jS5hsu2n5r2cFhnTrtyDAE%3D";
    let cases = [
        (format!("accessKey=testappid&timestamp=abc&{sig}"), 853001),
        (format!("accessKey=testappid&{sig}"), 853001),
        (format!("accessKey=testappid&timestamp=1546084445&{sig}"), 853002),
        (format!("accessKey=nosuchapp&timestamp=1546084445901&{sig}"), 853003),
        (signed_query("testappid", "wrongSecret", WORKED_TIMESTAMP), 853004),
        (
            // `+` left unencoded arrives as a space.
            "accessKey=testappid&timestamp=1546084445901\
             &signature=HCbG3xNE3vzhO+u7qCUL1jS5hsu2n5r2cFhnTrtyDAE="
                .to_owned(),
            853004,
        ),
        ("accessKey=testappid&timestamp=1546084445901".to_owned(), 853004),
    ];
    for (query, errcode) in cases {
        let body = bycode(&t, &query, &code).await;
        assert_eq!(body["errcode"], json!(errcode), "{query}: {body}");
        assert!(body["errmsg"].is_string());
    }
    // None of the refusals burnt the code; a minute and a bit later the signature is stale.
    t.clock.advance(61);
    let stale = bycode(&t, WORKED_QUERY, &code).await;
    assert_eq!(stale["errcode"], json!(853002));
    let fresh = signed_query("testappid", "testappSecret", t.clock.now_ms());
    assert_eq!(bycode(&t, &fresh, &code).await["errcode"], json!(0));
}

#[tokio::test]
async fn getuserinfo_bycode_refuses_expired_missing_and_other_apps_codes() {
    let directory = Directory::from_toml(&format!(
        "corp_id = \"dingx\"\ncorp_name = \"X\"\n\
         [[apps]]\nclient_id = \"k\"\nclient_secret = \"s\"\n\
         [[legacy_apps]]\napp_id = \"{LEGACY_APP_ID}\"\napp_secret = \"{LEGACY_APP_SECRET}\"\n\
         [[legacy_apps]]\napp_id = \"second\"\napp_secret = \"second-secret\"\n\
         [[users]]\nuserid = \"u1\"\nunionid = \"un1\"\nname = \"甲\"\n"
    ))
    .unwrap();
    let t = spawn_with(directory).await;
    let code = sns_code(&t, LEGACY_APP_ID, "u1").await;
    let second = signed_query("second", "second-secret", t.clock.now_ms());
    assert_eq!(bycode(&t, &second, &code).await["errcode"], json!(40078));
    let own = signed_query(LEGACY_APP_ID, LEGACY_APP_SECRET, t.clock.now_ms());
    assert_eq!(bycode(&t, &own, "").await["errcode"], json!(41026));

    t.clock.advance(301);
    let own = signed_query(LEGACY_APP_ID, LEGACY_APP_SECRET, t.clock.now_ms());
    assert_eq!(bycode(&t, &own, &code).await["errcode"], json!(40078));
}

#[tokio::test]
async fn the_newline_signature_variant_is_accepted_only_when_configured() {
    let newline = |secret: &str| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let message = format!("{WORKED_TIMESTAMP}\n{secret}");
        let signature = STANDARD.encode(hmac::sign(&key, message.as_bytes()).as_ref());
        let encoded: String = form_urlencoded::byte_serialize(signature.as_bytes()).collect();
        format!("accessKey=testappid&timestamp={WORKED_TIMESTAMP}&signature={encoded}")
    };
    let strict = spawn_at_worked_instant("timestamp").await;
    let code = sns_code(&strict, "testappid", "u1").await;
    let body = bycode(&strict, &newline("testappSecret"), &code).await;
    assert_eq!(body["errcode"], json!(853004), "{body}");

    let lenient = spawn_at_worked_instant("timestamp_newline_secret").await;
    let code = sns_code(&lenient, "testappid", "u1").await;
    let body = bycode(&lenient, &newline("testappSecret"), &code).await;
    assert_eq!(body["errcode"], json!(0), "{body}");
    let code = sns_code(&lenient, "testappid", "u1").await;
    let body = bycode(&lenient, WORKED_QUERY, &code).await;
    assert_eq!(body["errcode"], json!(0), "timestamp-only still works: {body}");
}

#[tokio::test]
async fn an_outsider_gets_user_info_but_no_userid() {
    let t = spawn().await;
    let code = sns_code(&t, LEGACY_APP_ID, ZHAOLIU_UNIONID).await;
    let query = signed_query(LEGACY_APP_ID, LEGACY_APP_SECRET, t.clock.now_ms());
    let body = bycode(&t, &query, &code).await;
    assert_eq!(body["errcode"], json!(0), "{body}");
    assert_eq!(body["user_info"]["nick"], json!("赵六"));
    assert_eq!(body["user_info"]["unionid"], json!(ZHAOLIU_UNIONID));

    let token = t.app_token().await;
    let lookup = t
        .oapi_get(
            "/user/getUseridByUnionid",
            &[("access_token", &token), ("unionid", ZHAOLIU_UNIONID)],
        )
        .await;
    assert_eq!(lookup, json!({ "errcode": 60121, "errmsg": "找不到该用户" }));
}

#[tokio::test]
async fn get_userid_by_unionid_is_flat_and_camel_case() {
    let t = spawn().await;
    let token = t.app_token().await;
    let body = t
        .oapi_get(
            "/user/getUseridByUnionid",
            &[("access_token", &token), ("unionid", ZHANGSAN_UNIONID)],
        )
        .await;
    assert_eq!(
        body,
        json!({ "errcode": 0, "errmsg": "ok", "contactType": 0, "userid": "zhangsan" })
    );
    let bad_token = t
        .oapi_get(
            "/user/getUseridByUnionid",
            &[("access_token", "nope"), ("unionid", ZHANGSAN_UNIONID)],
        )
        .await;
    assert_eq!(bad_token["errcode"], json!(88));
}
