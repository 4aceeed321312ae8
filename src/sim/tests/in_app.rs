//! In-app (免登) login: the JSAPI stand-in mints a code, the app reads the member with it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::*;
use crate::sim::Directory;

async fn getuserinfo(t: &TestSim, code: &str) -> Value {
    let token = t.app_token().await;
    t.topapi("/topapi/v2/user/getuserinfo", &token, &json!({ "code": code }))
        .await
}

#[tokio::test]
async fn getuserinfo_returns_the_in_app_person_with_real_types() {
    let t = spawn().await;
    t.sim.set_inapp_user(Some("zhangsan".to_owned()));
    let code = t.inapp_code().await;
    let body = getuserinfo(&t, &code).await;
    assert_eq!(body["errcode"], json!(0), "{body}");
    assert_eq!(body["errmsg"], json!("ok"));
    assert!(body["request_id"].is_string());
    let r = &body["result"];
    assert_eq!(r["userid"], json!("zhangsan"));
    assert_eq!(r["unionid"], json!(ZHANGSAN_UNIONID));
    assert_eq!(r["associated_unionid"], json!(""));
    assert_eq!(r["name"], json!("张三"));
    assert_eq!(r["sys"], json!(true));
    assert_eq!(r["sys_level"], json!(1));
    let device_id = r["device_id"].as_str().unwrap();
    assert_eq!(device_id.len(), 32, "{device_id}");

    t.sim.set_inapp_user(Some("lisi".to_owned()));
    let lisi = getuserinfo(&t, &t.inapp_code().await).await;
    assert_eq!(
        (&lisi["result"]["sys"], &lisi["result"]["sys_level"]),
        (&json!(false), &json!(0))
    );
}

#[tokio::test]
async fn in_app_person_falls_back_to_auto_login_then_the_first_active_member() {
    let t = spawn().await;
    let sunjing = getuserinfo(&t, &t.inapp_code().await).await;
    assert_eq!(sunjing["result"]["userid"], json!("sunjing"), "{sunjing}");
    assert_eq!(sunjing["result"]["sys"], json!(true));
    assert_eq!(sunjing["result"]["sys_level"], json!(100), "the boss");

    t.sim.set_auto_login(Some("lisi".to_owned()));
    let lisi = getuserinfo(&t, &t.inapp_code().await).await;
    assert_eq!(lisi["result"]["userid"], json!("lisi"));

    // By unionid too; the in-app setting wins over auto-login.
    t.sim.set_inapp_user(Some(ZHANGSAN_UNIONID.to_owned()));
    let zhangsan = getuserinfo(&t, &t.inapp_code().await).await;
    assert_eq!(zhangsan["result"]["userid"], json!("zhangsan"));

    let directory = Directory::from_toml(
        "corp_id = \"dingx\"\ncorp_name = \"X\"\n\
         [[apps]]\nclient_id = \"k\"\nclient_secret = \"s\"\n\
         [[users]]\nuserid = \"asleep\"\nunionid = \"u1\"\nname = \"A\"\nactive = false\n\
         [[users]]\nuserid = \"awake\"\nunionid = \"u2\"\nname = \"B\"\n",
    )
    .unwrap();
    let other = spawn_with(directory).await;
    let token = other.gettoken("k", "s").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = other.mint(&json!({ "corpId": "dingx" })).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let awake = other
        .topapi("/topapi/v2/user/getuserinfo", &token, &json!({ "code": code }))
        .await;
    assert_eq!(awake["result"]["userid"], json!("awake"), "{awake}");
}

#[tokio::test]
async fn an_in_app_person_who_is_not_a_member_cannot_get_a_code() {
    let t = spawn().await;
    for person in [ZHAOLIU_UNIONID, "nobody"] {
        t.sim.set_inapp_user(Some(person.to_owned()));
        let answer = t.mint(&json!({ "corpId": CORP_ID })).await;
        assert_eq!(answer["errorCode"], json!(7), "{answer}");
        assert!(answer["errorMessage"].is_string());
        assert!(answer.get("code").is_none());
    }
}

#[tokio::test]
async fn an_in_app_code_is_single_use() {
    let t = spawn().await;
    let code = t.inapp_code().await;
    assert_eq!(getuserinfo(&t, &code).await["errcode"], json!(0));
    let reused = getuserinfo(&t, &code).await;
    assert_eq!(reused["errcode"], json!(40078), "{reused}");
    assert_eq!(reused["errmsg"], json!("不存在的临时授权码"));
    assert!(reused["request_id"].is_string());
    assert!(reused.get("result").is_none());
}

#[tokio::test]
async fn an_in_app_code_expires_after_five_minutes() {
    let t = spawn().await;
    let code = t.inapp_code().await;
    t.clock.advance(301);
    assert_eq!(getuserinfo(&t, &code).await["errcode"], json!(40078));
}

#[tokio::test]
async fn unknown_codes_and_codes_of_other_flows_or_corps_are_40078() {
    let t = spawn().await;
    let made_up = getuserinfo(&t, "0123456789abcdef0123456789abcdef").await;
    assert_eq!(made_up["errcode"], json!(40078));

    let web_code = t.code_for("zhangsan", "openid").await;
    assert_eq!(getuserinfo(&t, &web_code).await["errcode"], json!(40078));

    let directory = Directory::from_toml(
        "corp_id = \"dingother\"\ncorp_name = \"Other\"\n[[apps]]\nclient_id = \"k\"\n\
         client_secret = \"s\"\n[[users]]\nuserid = \"zhangsan\"\nunionid = \"u\"\nname = \"Z\"\n",
    )
    .unwrap();
    let other = spawn_with(directory).await;
    let answer = other.mint(&json!({ "corpId": "dingother" })).await;
    let foreign = answer["code"].as_str().unwrap();
    assert_eq!(getuserinfo(&t, foreign).await["errcode"], json!(40078));

    let token = t.app_token().await;
    let missing = t.topapi("/topapi/v2/user/getuserinfo", &token, &json!({})).await;
    assert_eq!(missing["errcode"], json!(40035));
}

#[tokio::test]
async fn legacy_getuserinfo_is_flat_with_mixed_casing() {
    let t = spawn().await;
    t.sim.set_inapp_user(Some("zhangsan".to_owned()));
    let token = t.app_token().await;
    let code = t.inapp_code().await;
    let body = t
        .oapi_get("/user/getuserinfo", &[("access_token", &token), ("code", &code)])
        .await;
    assert_eq!(body["errcode"], json!(0), "{body}");
    assert_eq!(body["errmsg"], json!("ok"));
    assert_eq!(body["userid"], json!("zhangsan"));
    assert_eq!(body["name"], json!("张三"));
    assert!(body["deviceId"].is_string());
    assert_eq!(body["is_sys"], json!(true));
    assert_eq!(body["sys_level"], json!(1));
    assert!(body.get("request_id").is_none() && body.get("result").is_none());

    let again = t
        .oapi_get("/user/getuserinfo", &[("access_token", &token), ("code", &code)])
        .await;
    assert_eq!(again, json!({ "errcode": 40078, "errmsg": "不存在的临时授权码" }));
}

#[tokio::test]
async fn minting_for_another_corp_fails_with_error_code_3() {
    let t = spawn().await;
    let response = t
        .http
        .post(t.url("/jsapi/requestAuthCode"))
        .header("origin", "https://app.example:8443")
        .json(&json!({ "corpId": "dingsomeoneelse", "clientId": CLIENT_ID }))
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["errorCode"], json!(3), "{answer}");
    assert_eq!(answer["errorMessage"], json!("对应企业没有app.example域名微应用"));
    let missing = t.mint(&json!({})).await;
    assert_eq!(missing["errorCode"], json!(3));
}

#[tokio::test]
async fn the_failure_setting_fails_every_request_until_cleared() {
    let t = spawn().await;
    t.sim.set_inapp_failure(Some(-1));
    let cancelled = t.mint(&json!({ "corpId": CORP_ID })).await;
    assert_eq!(cancelled["errorCode"], json!(-1), "{cancelled}");
    assert!(cancelled["errorMessage"].as_str().unwrap().contains("取消"));
    t.sim.set_inapp_failure(Some(3));
    let domain = t.mint(&json!({ "corpId": CORP_ID })).await;
    assert_eq!(domain["errorCode"], json!(3));
    assert!(domain["errorMessage"].as_str().unwrap().contains("域名微应用"));
    t.sim.set_inapp_failure(None);
    assert!(t.mint(&json!({ "corpId": CORP_ID })).await["code"].is_string());
}

#[tokio::test]
async fn mint_endpoints_send_cors_headers_and_answer_the_preflight() {
    let t = spawn().await;
    for path in ["/jsapi/requestAuthCode", "/jsapi/openAuth"] {
        let response = t
            .http
            .request(reqwest::Method::OPTIONS, t.url(path))
            .header("origin", "http://dingo.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*");
        let methods = headers["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains("POST"), "{methods}");
        let allowed = headers["access-control-allow-headers"].to_str().unwrap();
        assert!(allowed.to_ascii_lowercase().contains("content-type"));

        let response = t
            .http
            .post(t.url(path))
            .header("origin", "http://dingo.example")
            .json(&json!({ "corpId": CORP_ID, "clientId": CLIENT_ID }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
    }
    assert_eq!(t.sim.total_calls(), 0, "the client bridge is not an API call");
}

#[tokio::test]
async fn scripts_are_javascript_and_find_the_mint_paths_from_their_own_src() {
    let t = spawn().await;
    for (path, mint_path, globals) in [
        (
            "/jsapi/dingtalk.open.js",
            "requestAuthCode",
            &[
                "window.dd",
                "notInDingTalk",
                "requestAuthCode(",
                "getAuthCode(",
                "runtime",
            ][..],
        ),
        ("/jsapi/open-auth.js", "openAuth", &["window.openAuth"][..]),
    ] {
        let response = t.http.get(t.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("application/javascript"), "{content_type}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let source = response.text().await.unwrap();
        assert!(source.contains("document.currentScript"), "{path}");
        assert!(
            source.contains(&format!("new URL('{mint_path}', script.src)")),
            "{path} must resolve its endpoint against its own src"
        );
        assert!(!source.contains("/jsapi/"), "{path} has an absolute path");
        assert!(!source.contains("console."), "{path} logs");
        for global in globals {
            assert!(source.contains(global), "{path} lacks {global}");
        }
    }
}

#[tokio::test]
async fn under_a_prefix_the_mint_endpoint_sits_next_to_the_script() {
    let (sim, base) = spawn_under_prefix("/dingtalk-sim").await;
    let http = client();
    let script = base.join("dingtalk-sim/jsapi/dingtalk.open.js").unwrap();
    let response = http.get(script.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // What `new URL('requestAuthCode', script.src)` resolves to in the browser.
    let mint = script.join("requestAuthCode").unwrap();
    assert_eq!(mint.path(), "/dingtalk-sim/jsapi/requestAuthCode");
    let answer: Value = http
        .post(mint)
        .json(&json!({ "corpId": CORP_ID }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["code"].is_string(), "{answer}");
    assert_eq!(sim.total_calls(), 0);
}
