//! Logins inside the DingTalk client (免登 and openAuth) and with the legacy scan-login app.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::{TestApp, TestAppOptions};

pub const DINGTALK_UA: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/120.0 Mobile Safari/537.36 AliApp(DingTalk/7.6.0) com.alibaba.android.rimet/12345 Channel/exclusive \
     language/zh-CN DingTalk/7.6.0";

/// The in-app login page's form fields and configuration, read from its HTML.
struct InAppPage {
    /// The browser (inside the DingTalk client) that opened the page.
    browser: reqwest::Client,
    html: String,
    fields: HashMap<String, String>,
}

impl InAppPage {
    fn attribute(&self, name: &str) -> String {
        let marker = format!("{name}=\"");
        let start = self
            .html
            .find(&marker)
            .unwrap_or_else(|| panic!("{name} in {}", self.html))
            + marker.len();
        self.html[start..].split('"').next().unwrap().replace("&amp;", "&")
    }
}

async fn open_in_app(app: &TestApp, extra: &str) -> InAppPage {
    let browser = crate::support::app::new_browser();
    let response = browser
        .get(app.authorize_url(extra))
        .header("user-agent", DINGTALK_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the in-app page, not a redirect");
    let html = response.text().await.unwrap();
    let mut fields = HashMap::new();
    for input in html.split("<input ").skip(1) {
        let value_of = |attr: &str| {
            let marker = format!("{attr}=\"");
            input
                .find(&marker)
                .map(|i| input[i + marker.len()..].split('"').next().unwrap().to_owned())
        };
        if let (Some(name), Some(value)) = (value_of("name"), value_of("value")) {
            fields.insert(name, value);
        }
    }
    InAppPage { browser, html, fields }
}

/// What the stand-in JSAPI does inside the client: asks the simulator for an in-app code.
async fn request_auth_code(app: &TestApp, page: &InAppPage) -> String {
    let answer: Value = app
        .browser
        .post(format!("{}/jsapi/requestAuthCode", app.sim_address))
        .json(&serde_json::json!({"corpId": page.attribute("data-corp-id"), "clientId": page.attribute("data-client-id")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["code"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
}

async fn post_back(app: &TestApp, page: &InAppPage, fields: &[(&str, &str)]) -> reqwest::Response {
    page.browser
        .post(app.url("/login/dingtalk/inapp"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn client_query(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), 303, "a redirect answering the form post");
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

async fn in_app_login(app: &TestApp, extra: &str) -> HashMap<String, String> {
    let page = open_in_app(app, extra).await;
    let code = request_auth_code(app, &page).await;
    let state = page.fields["state"].clone();
    client_query(
        &post_back(
            app,
            &page,
            &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
        )
        .await,
    )
}

async fn subject_of(app: &TestApp, code: &str) -> Value {
    let response = app.redeem(code).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    app.browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn inside_dingtalk_the_page_asks_the_client_for_a_code_without_any_prompt() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    let page = open_in_app(&app, "").await;
    assert_eq!(page.attribute("data-corp-id"), "dingsampleorg");
    assert_eq!(page.attribute("data-method"), "request_auth_code");
    assert!(
        page.html
            .contains(&format!("{}/jsapi/dingtalk.open.js", app.sim_address)),
        "loads the JSAPI"
    );
    assert!(page.html.contains("/assets/inapp.js"));
    let script = app.browser.get(app.url("/assets/inapp.js")).send().await.unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    assert!(script.text().await.unwrap().contains("requestAuthCode"));

    let code = request_auth_code(&app, &page).await;
    let state = page.fields["state"].clone();
    let q = client_query(
        &post_back(
            &app,
            &page,
            &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
        )
        .await,
    );
    assert_eq!(q["state"], "st-1");
    assert_eq!(subject_of(&app, &q["code"]).await["sub"], "zhangsan");
}

#[tokio::test]
async fn an_in_app_login_costs_two_upstream_calls_for_a_returning_person() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    in_app_login(&app, "").await;
    assert_eq!(app.sim.call_count("/topapi/v2/user/getuserinfo"), 1);
    app.sim.reset_calls();
    in_app_login(&app, "").await;
    assert_eq!(app.sim.call_count("/topapi/v2/user/getuserinfo"), 1);
    assert_eq!(app.sim.call_count("/topapi/v2/user/get"), 1);
    assert_eq!(app.sim.total_calls(), 2);
}

#[tokio::test]
async fn prompt_none_logs_in_silently_inside_dingtalk() {
    let app = TestApp::spawn().await;
    let page = open_in_app(&app, "&prompt=none").await;
    assert_eq!(page.attribute("data-silent"), "true");
    let code = request_auth_code(&app, &page).await;
    let state = page.fields["state"].clone();
    let q = client_query(
        &post_back(
            &app,
            &page,
            &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
        )
        .await,
    );
    assert!(q.contains_key("code"), "{q:?}");
}

#[tokio::test]
async fn a_silent_login_the_client_cannot_complete_returns_login_required() {
    let app = TestApp::spawn().await;
    let page = open_in_app(&app, "&prompt=none").await;
    let state = page.fields["state"].clone();
    let q = client_query(
        &post_back(
            &app,
            &page,
            &[("state", &state), ("method", "request_auth_code"), ("error", "jsapi_3")],
        )
        .await,
    );
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-1");
}

#[tokio::test]
async fn the_in_app_page_falls_back_to_the_web_login_for_the_same_login() {
    let app = TestApp::spawn().await;
    let page = open_in_app(&app, "").await;
    let fallback = page.attribute("href");
    assert!(fallback.contains("/login/dingtalk/web?state="), "{fallback}");
    app.sim.set_auto_login(Some("lisi".into()));
    let q = app.follow_with(&page.browser, &fallback).await.query();
    assert_eq!(subject_of(&app, &q["code"]).await["sub"], "lisi");
    // The state was consumed by that login.
    assert_eq!(app.follow_with(&page.browser, &fallback).await.page().0, 400);
}

#[tokio::test]
async fn an_in_app_code_used_twice_is_refused_and_explained() {
    let app = TestApp::spawn().await;
    let first = open_in_app(&app, "").await;
    let code = request_auth_code(&app, &first).await;
    let state = first.fields["state"].clone();
    client_query(
        &post_back(
            &app,
            &first,
            &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
        )
        .await,
    );
    let second = open_in_app(&app, "").await;
    let state = second.fields["state"].clone();
    let response = post_back(
        &app,
        &second,
        &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("could not confirm"));
}

#[tokio::test]
async fn a_forged_or_replayed_in_app_post_is_refused_without_redirecting() {
    let app = TestApp::spawn().await;
    let page = open_in_app(&app, "").await;
    let response = post_back(
        &app,
        &page,
        &[("state", "forged"), ("method", "request_auth_code"), ("code", "x")],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn with_in_app_login_off_the_client_gets_the_web_login() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_DINGTALK__IN_APP", "off".into())],
        ..Default::default()
    })
    .await;
    let response = app
        .browser
        .get(app.authorize_url(""))
        .header("user-agent", DINGTALK_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/oauth2/auth?")
    );
    let silent = app
        .browser
        .get(app.authorize_url("&prompt=none"))
        .header("user-agent", DINGTALK_UA)
        .send()
        .await
        .unwrap();
    assert!(
        silent.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=login_required")
    );
}

#[tokio::test]
async fn open_auth_codes_are_redeemed_like_web_login_codes() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![
            ("DINGO_DINGTALK__IN_APP", "open_auth".into()),
            (
                "DINGO_DINGTALK__OPEN_AUTH_SCRIPT_URL",
                "http://127.0.0.1:9/open-auth.js".into(),
            ),
        ],
        ..Default::default()
    })
    .await;
    app.sim.set_inapp_user(Some("lisi".into()));
    let page = open_in_app(&app, "").await;
    assert_eq!(page.attribute("data-method"), "open_auth");
    assert!(page.html.contains("http://127.0.0.1:9/open-auth.js"));
    assert_eq!(page.attribute("data-open-auth-scope"), "Contact.User.Read");
    let answer: Value = app
        .browser
        .post(format!("{}/jsapi/openAuth", app.sim_address))
        .json(
            &serde_json::json!({"clientId": page.attribute("data-client-id"), "corpId": page.attribute("data-corp-id"),
            "rpcScope": "Contact.User.Read", "fieldScope": "", "type": 0}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auth_code = answer["result"]["authCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let state = page.fields["state"].clone();
    // A code claimed to come from another method is refused.
    let wrong = post_back(
        &app,
        &page,
        &[("state", &state), ("method", "request_auth_code"), ("code", &auth_code)],
    )
    .await;
    assert_eq!(client_query(&wrong)["error"], "invalid_request");

    let page = open_in_app(&app, "").await;
    let state = page.fields["state"].clone();
    let q = client_query(
        &post_back(
            &app,
            &page,
            &[("state", &state), ("method", "open_auth"), ("code", &auth_code)],
        )
        .await,
    );
    assert_eq!(subject_of(&app, &q["code"]).await["sub"], "lisi");
    assert_eq!(app.sim.call_count("/v1.0/oauth2/userAccessToken"), 1);
}

#[tokio::test]
async fn the_legacy_scan_login_signs_its_calls_and_resolves_the_person() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: crate::support::app::legacy_login_env(),
        ..Default::default()
    })
    .await;
    let to_dingtalk = app.browser.get(app.authorize_url("")).send().await.unwrap();
    let location = to_dingtalk.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/connect/qrconnect?", app.sim_address)),
        "{location}"
    );
    assert!(location.contains("appid=dingoa_sample_legacy") && location.contains("scope=snsapi_login"));

    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = app.follow(&location).await.query();
    assert_eq!(subject_of(&app, &q["code"]).await["sub"], "zhangsan");
    assert_eq!(app.sim.call_count("/sns/getuserinfo_bycode"), 1);
    assert_eq!(app.sim.call_count("/topapi/user/getbyunionid"), 1);
    assert_eq!(
        app.sim.total_calls(),
        7,
        "bycode, app token, getbyunionid, user/get, 3 departments"
    );
    // A returning person (in a new browser, so without a dingo session): the signed code
    // exchange and the profile.
    app.sim.reset_calls();
    let q = app
        .follow_with(&crate::support::app::new_browser(), &app.authorize_url(""))
        .await
        .query();
    assert!(q.contains_key("code"));
    assert_eq!(app.sim.total_calls(), 2);

    // Inside the DingTalk client (with 免登 off) the silent snsapi_auth page is used.
    let app = TestApp::spawn_with(TestAppOptions {
        env: [
            crate::support::app::legacy_login_env(),
            vec![("DINGO_DINGTALK__IN_APP", "off".into())],
        ]
        .concat(),
        ..Default::default()
    })
    .await;
    let in_client = app
        .browser
        .get(app.authorize_url(""))
        .header("user-agent", DINGTALK_UA)
        .send()
        .await
        .unwrap();
    let location = in_client.headers()["location"].to_str().unwrap();
    assert!(
        location.contains("/connect/oauth2/sns_authorize?") && location.contains("scope=snsapi_auth"),
        "{location}"
    );
}

#[tokio::test]
async fn a_wrong_legacy_secret_is_an_operator_error_not_a_refusal() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![
            ("DINGO_DINGTALK__WEB_LOGIN", "legacy".into()),
            ("DINGO_DINGTALK__LEGACY_APP_ID", "dingoa_sample_legacy".into()),
            ("DINGO_DINGTALK__LEGACY_APP_SECRET", "not-the-secret".into()),
        ],
        ..Default::default()
    })
    .await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = app.follow(&app.authorize_url("")).await.query();
    assert_eq!(q["error"], "server_error");
}

#[tokio::test]
async fn a_member_outside_the_apps_visible_range_is_told_so() {
    let mut directory = std::fs::read_to_string("src/sim/sample-directory.toml").unwrap();
    directory.push_str(
        "\n[[users]]\nuserid = \"hidden\"\nunionid = \"hIdDeNuNiOnId0000000000iEiE\"\nname = \"隐身人\"\ndept_id_list = [2]\nvisible = false\n",
    );
    let app = TestApp::spawn_with(TestAppOptions {
        directory: Some(directory),
        ..Default::default()
    })
    .await;
    app.sim.set_inapp_user(Some("hidden".into()));
    let page = open_in_app(&app, "").await;
    let code = request_auth_code(&app, &page).await;
    let state = page.fields["state"].clone();
    let response = post_back(
        &app,
        &page,
        &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
    )
    .await;
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("可见范围") && body.contains("visible range"), "{body}");
    assert_eq!(
        app.sim.call_count("/topapi/v2/user/get"),
        0,
        "getuserinfo's 40079 already says so"
    );
}

#[tokio::test]
async fn an_inactive_member_is_refused_inside_dingtalk_too() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("wangwu".into()));
    let page = open_in_app(&app, "").await;
    let code = request_auth_code(&app, &page).await;
    let state = page.fields["state"].clone();
    let response = post_back(
        &app,
        &page,
        &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("not activated"));
}

#[tokio::test]
async fn a_first_in_app_login_fetches_the_profile_and_departments_once() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    in_app_login(&app, "").await;
    for (path, expected) in [
        ("/topapi/v2/user/getuserinfo", 1),
        ("/v1.0/oauth2/accessToken", 1),
        ("/topapi/v2/user/get", 1),
        ("/topapi/v2/department/get", 3),
    ] {
        assert_eq!(app.sim.call_count(path), expected, "{path}");
    }
    assert_eq!(app.sim.total_calls(), 6);
}

/// An in-app code minted by the JSAPI with `fields` (corpId, and clientId for V2).
async fn mint(app: &TestApp, fields: Value) -> String {
    let answer: Value = app
        .browser
        .post(format!("{}/jsapi/requestAuthCode", app.sim_address))
        .json(&fields)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["code"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
}

#[tokio::test]
async fn a_v2_code_is_good_only_for_the_app_it_was_asked_for_and_a_v1_code_for_any() {
    let app = TestApp::spawn().await;
    let corp = dingo::sim::Directory::sample().corp_id().to_owned();
    for (fields, accepted) in [
        (serde_json::json!({"corpId": corp, "clientId": "another-app"}), false),
        (serde_json::json!({"corpId": corp}), true),
    ] {
        let page = open_in_app(&app, "").await;
        let code = mint(&app, fields).await;
        let state = page.fields["state"].clone();
        let answer = post_back(
            &app,
            &page,
            &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
        )
        .await;
        if accepted {
            assert!(client_query(&answer).contains_key("code"));
        } else {
            assert_eq!(answer.status(), 403);
            assert!(answer.text().await.unwrap().contains("钉钉未能确认此次登录"));
        }
    }
}

#[tokio::test]
async fn the_in_app_page_may_be_framed_only_by_whom_the_setting_names() {
    let default = TestApp::spawn().await;
    let header = |app: &TestApp| {
        let browser = crate::support::app::new_browser();
        let url = app.authorize_url("");
        async move {
            let response = browser.get(url).header("user-agent", DINGTALK_UA).send().await.unwrap();
            response.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert!(header(&default).await.ends_with("frame-ancestors 'none'"));
    let framed = TestApp::spawn_with(TestAppOptions {
        env: vec![(
            "DINGO_DINGTALK__IN_APP_FRAME_ANCESTORS",
            "'self' https://portal.example.com".into(),
        )],
        ..Default::default()
    })
    .await;
    assert!(
        header(&framed)
            .await
            .ends_with("frame-ancestors 'self' https://portal.example.com")
    );
}

#[tokio::test]
async fn inside_a_partial_contact_scope_only_its_members_log_in_without_a_prompt() {
    let app = TestApp::spawn().await;
    let directory = dingo::sim::Directory::sample();
    app.sim.set_app_access(
        directory.app_credentials().0,
        dingo::sim::AppAccess {
            scope: Some(vec![3]),
            ..Default::default()
        },
    );
    for (person, inside) in [("lisi", true), ("zhangsan", false)] {
        app.sim.set_inapp_user(Some(person.into()));
        let page = open_in_app(&app, "").await;
        let code = request_auth_code(&app, &page).await;
        let state = page.fields["state"].clone();
        let response = post_back(
            &app,
            &page,
            &[("state", &state), ("method", "request_auth_code"), ("code", &code)],
        )
        .await;
        if inside {
            assert!(client_query(&response).contains_key("code"), "{person}");
        } else {
            assert_eq!(response.status(), 403, "{person}");
            assert!(response.text().await.unwrap().contains("可见范围"));
        }
    }
}
