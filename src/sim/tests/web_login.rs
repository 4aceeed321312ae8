//! The browser flow: login page → auth code → userAccessToken → users/me.

use std::net::TcpListener;

use actix_web::{App, HttpServer, web};
use reqwest::StatusCode;
use serde_json::json;

use super::support::*;
use crate::clock::{SharedClock, TestClock};
use crate::sim::{Directory, Simulator};

#[tokio::test]
async fn web_login_chain_returns_real_field_names_and_types() {
    let t = spawn().await;
    t.sim.set_auto_login(Some("zhangsan".to_owned()));

    let response = t.authorize(&[("scope", "openid corpid")]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    assert_eq!(&back.as_str()[..CALLBACK.len()], CALLBACK);
    let code = query_value(&back, "authCode").unwrap();
    assert_eq!(query_value(&back, "code").as_deref(), Some(code.as_str()));
    assert_eq!(query_value(&back, "state").as_deref(), Some("st-1"));

    let (status, tokens) = t.exchange(&code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["accessToken"].is_string() && tokens["refreshToken"].is_string());
    assert_eq!(tokens["expireIn"], json!(7200));
    assert_eq!(tokens["corpId"], json!("dingsampleorg"));

    let (status, me) = t.users_me(tokens["accessToken"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["nick"], json!("张三"));
    assert_eq!(me["unionId"], json!(ZHANGSAN_UNIONID));
    assert_eq!(me["mobile"], json!("13800000001"));
    assert_eq!(me["stateCode"], json!("86"));
    assert_eq!(me["visitor"], json!(false));
    assert!(me["openId"].is_string() && me["avatarUrl"].is_string());
    assert!(me.get("email").is_none(), "张三 has no personal email: {me}");

    let (status, app) = t
        .post_json(
            "/v1.0/oauth2/accessToken",
            &json!({ "appKey": CLIENT_ID, "appSecret": CLIENT_SECRET }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    assert_eq!(app["expireIn"], json!(7200));
    let app_token = app["accessToken"].as_str().unwrap();

    let found = t
        .topapi(
            "/topapi/user/getbyunionid",
            app_token,
            &json!({ "unionid": ZHANGSAN_UNIONID }),
        )
        .await;
    assert_eq!(found["errcode"], json!(0), "{found}");
    assert_eq!(found["errmsg"], json!("ok"));
    assert!(found["request_id"].is_string());
    assert_eq!(found["result"], json!({ "contact_type": 0, "userid": "zhangsan" }));

    let user = t
        .topapi(
            "/topapi/v2/user/get",
            app_token,
            &json!({ "userid": "zhangsan", "language": "zh_CN" }),
        )
        .await;
    assert_eq!(user["errcode"], json!(0), "{user}");
    assert!(user["request_id"].is_string());
    let r = &user["result"];
    assert_eq!(r["userid"], json!("zhangsan"));
    assert_eq!(r["unionid"], json!(ZHANGSAN_UNIONID));
    assert_eq!(r["name"], json!("张三"));
    assert_eq!(r["org_email"], json!("zhangsan@example.com"));
    assert_eq!(r["mobile"], json!("13800000001"));
    assert_eq!(r["state_code"], json!("86"));
    assert_eq!(r["dept_id_list"], json!([2, 4]));
    assert_eq!(r["manager_userid"], json!("sunjing"));
    assert!(r.get("email").is_none(), "{r}");
    assert!(r["hired_date"].is_i64() && r["title"].is_string() && r["job_number"].is_string());
    for flag in [
        "active",
        "admin",
        "boss",
        "real_authed",
        "senior",
        "hide_mobile",
        "exclusive_account",
    ] {
        assert!(r[flag].is_boolean(), "{flag} in {r}");
    }
    assert_eq!((r["admin"].as_bool(), r["boss"].as_bool()), (Some(true), Some(false)));
    let orders = r["dept_order_list"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    assert!(
        orders
            .iter()
            .all(|o| o["dept_id"].is_i64() && o["order"].as_i64().unwrap() > 1 << 53)
    );
    let leaders = r["leader_in_dept"].as_array().unwrap();
    assert!(
        leaders
            .iter()
            .all(|l| l["dept_id"].is_i64() && l["leader"].is_boolean())
    );
    assert_eq!(
        r["role_list"],
        json!([{ "id": 3935025514_i64, "name": "主管理员", "group_name": "默认" }])
    );

    let parents = t
        .topapi(
            "/topapi/v2/department/listparentbyuser",
            app_token,
            &json!({ "userid": "zhangsan" }),
        )
        .await;
    assert_eq!(parents["errcode"], json!(0), "{parents}");
    assert_eq!(
        parents["result"]["parent_list"],
        json!([{ "parent_dept_id_list": [2, 1] }, { "parent_dept_id_list": [4, 2, 1] }])
    );

    let dept = t
        .topapi("/topapi/v2/department/get", app_token, &json!({ "dept_id": 4 }))
        .await;
    assert_eq!(dept["errcode"], json!(0), "{dept}");
    assert_eq!(dept["result"]["name"], json!("平台组"));
    assert_eq!(dept["result"]["parent_id"], json!(2));
    assert!(dept["result"]["order"].is_i64());
    let root = t
        .topapi("/topapi/v2/department/get", app_token, &json!({ "dept_id": 1 }))
        .await;
    assert_eq!(root["result"]["name"], json!("示例科技"));
    assert!(root["result"].get("parent_id").is_none(), "{root}");
}

#[tokio::test]
async fn corp_id_is_returned_only_for_the_corpid_scope() {
    let t = spawn().await;
    let code = t.code_for("lisi", "openid").await;
    let (status, tokens) = t.exchange(&code).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens.get("corpId").is_none(), "{tokens}");
}

#[tokio::test]
async fn auth_code_is_single_use() {
    let t = spawn().await;
    let code = t.code_for("zhangsan", "openid").await;
    assert_eq!(t.exchange(&code).await.0, StatusCode::OK);
    let (status, body) = t.exchange(&code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "invalidParameter.authCode.notFound");
    assert_eq!(body["message"], json!("不合法的临时授权码"));
}

#[tokio::test]
async fn auth_code_expires_after_five_minutes() {
    let t = spawn().await;
    let code = t.code_for("zhangsan", "openid").await;
    t.clock.advance(301);
    let (status, body) = t.exchange(&code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "invalidParameter.authCode.notFound");
}

#[tokio::test]
async fn a_made_up_code_and_bad_client_credentials_are_refused() {
    let t = spawn().await;
    let (status, body) = t.exchange("0123456789abcdef0123456789abcdef").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "invalidParameter.authCode.notFound");

    let code = t.code_for("zhangsan", "openid").await;
    let (status, body) = t
        .post_json(
            "/v1.0/oauth2/userAccessToken",
            &json!({ "clientId": CLIENT_ID, "clientSecret": "wrong", "code": code, "grantType": "authorization_code" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&body), "invalidClientIdOrSecret");
    // A request refused for its credentials does not burn the code.
    assert_eq!(t.exchange(&code).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_token_grant_issues_new_tokens_once() {
    let t = spawn().await;
    let code = t.code_for("zhangsan", "openid corpid").await;
    let (_, first) = t.exchange(&code).await;
    let refresh = |token: String| json!({ "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": token, "grantType": "refresh_token" });
    t.clock.advance(7201);
    let (status, old) = t.users_me(first["accessToken"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&old), "InvalidAuthentication");

    let rt = first["refreshToken"].as_str().unwrap().to_owned();
    let (status, second) = t.post_json("/v1.0/oauth2/userAccessToken", &refresh(rt.clone())).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["expireIn"], json!(7200));
    assert_eq!(second["corpId"], json!("dingsampleorg"));
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    assert_eq!(
        t.users_me(second["accessToken"].as_str().unwrap()).await.0,
        StatusCode::OK
    );

    let (status, reused) = t.post_json("/v1.0/oauth2/userAccessToken", &refresh(rt)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&reused), "invalidParameter.refreshToken.notFound");
}

#[tokio::test]
async fn outsider_signs_in_but_is_not_a_member() {
    let t = spawn().await;
    let token = t.user_token(ZHAOLIU_UNIONID).await;
    let (status, me) = t.users_me(&token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["nick"], json!("赵六"));
    assert_eq!(me["unionId"], json!(ZHAOLIU_UNIONID));
    assert!(me.get("mobile").is_none() && me.get("stateCode").is_none(), "{me}");

    let app_token = t.app_token().await;
    let body = t
        .topapi(
            "/topapi/user/getbyunionid",
            &app_token,
            &json!({ "unionid": ZHAOLIU_UNIONID }),
        )
        .await;
    assert_eq!(body["errcode"], json!(60121), "{body}");
    assert_eq!(body["errmsg"], json!("找不到该用户"));
    assert!(body["request_id"].is_string());
    assert!(body.get("result").is_none());
}

#[tokio::test]
async fn picker_lists_everyone_and_one_relative_link_signs_in() {
    let t = spawn().await;
    let response = t.authorize(&[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page_url = response.url().clone();
    let html = response.text().await.unwrap();
    for name in ["张三", "李四", "王五", "赵六", "孙静"] {
        assert!(html.contains(name), "{name} missing");
    }
    let links = hrefs(&html);
    assert!(links.len() >= 6, "{links:?}");
    for link in &links {
        assert!(!link.starts_with('/') && !link.contains("://"), "absolute link {link}");
    }

    let zhaoliu = links.iter().find(|l| l.contains(ZHAOLIU_UNIONID)).unwrap();
    let response = t.http.get(page_url.join(zhaoliu).unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    let code = query_value(&back, "code").unwrap();
    assert_eq!(query_value(&back, "authCode").as_deref(), Some(code.as_str()));
    assert_eq!(query_value(&back, "state").as_deref(), Some("st-1"));
    let (_, tokens) = t.exchange(&code).await;
    let (_, me) = t.users_me(tokens["accessToken"].as_str().unwrap()).await;
    assert_eq!(me["unionId"], json!(ZHAOLIU_UNIONID));

    assert_eq!(t.sim.total_calls(), 2, "login pages are not counted");
}

#[tokio::test]
async fn deny_link_returns_access_denied_with_state() {
    let t = spawn().await;
    let response = t.authorize(&[]).await;
    let page_url = response.url().clone();
    let html = response.text().await.unwrap();
    let deny = hrefs(&html).into_iter().find(|l| l.contains("action=deny")).unwrap();
    let response = t.http.get(page_url.join(&deny).unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    assert_eq!(query_value(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_value(&back, "state").as_deref(), Some("st-1"));
    assert!(query_value(&back, "code").is_none());
}

#[tokio::test]
async fn bad_authorize_requests_get_a_readable_error_page() {
    let t = spawn().await;
    for (extra, expected) in [
        (("client_id", "nosuchapp"), "应用不存在"),
        (("response_type", "token"), "response_type"),
        (("redirect_uri", "not a url"), "redirect_uri"),
        (("scope", "Contact.User.Read"), "openid"),
    ] {
        let response = t.authorize(&[extra]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains(expected), "{extra:?}: {html}");
    }
}

#[tokio::test]
async fn registered_redirect_uris_are_enforced() {
    let directory = Directory::from_toml(&format!(
        "corp_id = \"dingx\"\ncorp_name = \"X\"\n[[apps]]\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret = \"{CLIENT_SECRET}\"\nredirect_uris = [\"{CALLBACK}\"]\n\
         [[users]]\nuserid = \"u1\"\nunionid = \"un1\"\nname = \"<b>Eve & co</b>\"\n"
    ))
    .unwrap();
    let t = spawn_with(directory).await;

    let response = t.authorize(&[("redirect_uri", "https://evil.example/cb")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("evil.example"));

    let html = t.authorize(&[]).await.text().await.unwrap();
    assert!(html.contains("&lt;b&gt;Eve &amp; co&lt;/b&gt;"));
    assert!(!html.contains("<b>Eve"));
}

#[tokio::test]
async fn auto_login_to_an_unknown_person_is_an_error_page() {
    let t = spawn().await;
    t.sim.set_auto_login(Some("nobody".to_owned()));
    let response = t.authorize(&[]).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.text().await.unwrap().contains("nobody"));
}

#[tokio::test]
async fn simulator_works_under_a_path_prefix() {
    let sim = Simulator::new(Directory::sample(), TestClock::new() as SharedClock);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mounted = sim.clone();
    let server = HttpServer::new(move || {
        let sim = mounted.clone();
        App::new().service(web::scope("/dingtalk").configure(move |cfg| sim.configure(cfg)))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    let http = client();

    let page_url = format!(
        "http://127.0.0.1:{port}/dingtalk/oauth2/auth?redirect_uri={CALLBACK}&response_type=code\
         &client_id={CLIENT_ID}&scope=openid&state=s&prompt=consent"
    );
    let response = http.get(&page_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page_url = response.url().clone();
    let html = response.text().await.unwrap();
    let link = hrefs(&html).into_iter().find(|l| l.contains(ZHANGSAN_UNIONID)).unwrap();
    let target = page_url.join(&link).unwrap();
    assert!(target.path().starts_with("/dingtalk/oauth2/"), "{target}");
    let response = http.get(target).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = query_value(&location(&response), "code").unwrap();

    let body = json!({ "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "code": code, "grantType": "authorization_code" });
    let response = http
        .post(format!("http://127.0.0.1:{port}/dingtalk/v1.0/oauth2/userAccessToken"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(sim.call_count("/v1.0/oauth2/userAccessToken"), 1);
    let response = http
        .get(format!(
            "http://127.0.0.1:{port}/dingtalk/gettoken?appkey={CLIENT_ID}&appsecret={CLIENT_SECRET}"
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], json!(0));
    assert_eq!(sim.call_count("/gettoken"), 1);
}

/// The `href` values of a page, HTML-unescaped.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .collect()
}
