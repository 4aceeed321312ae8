//! Organisation policy and claim release: who gets in, and what each app learns.

use serde_json::Value;

use crate::support::app::{FINANCE_CLIENT, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET};
use crate::support::{TestApp, TestAppOptions};

/// Logs `person` in to `client` and returns where the browser ended.
async fn attempt(app: &TestApp, client: &str, person: &str) -> crate::support::app::Landing {
    app.sim.set_auto_login(Some(person.into()));
    let url = app.authorize_url_for(client, "").replace(
        "scope=openid%20profile%20email%20phone",
        "scope=openid%20profile%20email%20groups",
    );
    app.follow_with(&crate::support::app::new_browser(), &url).await
}

async fn id_token_claims(app: &TestApp, client: &str, code: &str) -> Value {
    tokens(app, client, code).await.0
}

/// The verified-by-shape ID token claims and the access token.
async fn tokens(app: &TestApp, client: &str, code: &str) -> (Value, String) {
    let response = app
        .browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WEB_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let claims = crate::support::app::jwt_claims(body["id_token"].as_str().unwrap());
    (claims, body["access_token"].as_str().unwrap().to_owned())
}

fn assert_refused(landing: &crate::support::app::Landing, zh: &str, en: &str) {
    let (status, body) = landing.page();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(zh) && body.contains(en), "{body}");
    assert!(
        body.contains("error=access_denied"),
        "the way back tells the app: {body}"
    );
}

#[tokio::test]
async fn an_inactive_member_is_refused() {
    let app = TestApp::spawn().await;
    let landing = attempt(&app, WEB_CLIENT, "wangwu").await;
    assert_refused(&landing, "尚未激活", "not activated");
}

#[tokio::test]
async fn a_client_for_finance_admits_finance_and_its_sub_departments_only() {
    let app = TestApp::spawn().await;
    assert!(attempt(&app, FINANCE_CLIENT, "lisi").await.query().contains_key("code"));
    assert_refused(
        &attempt(&app, FINANCE_CLIENT, "zhangsan").await,
        "部门无权",
        "department is not allowed",
    );
    // The same person may use the app without the override.
    assert!(attempt(&app, WEB_CLIENT, "zhangsan").await.query().contains_key("code"));
}

#[tokio::test]
async fn the_global_policy_can_deny_a_department_and_require_admins() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: "[policy]\ndeny_departments = [4]\n".into(),
        ..Default::default()
    })
    .await;
    // zhangsan is in 平台组 (4), under 研发部 (2).
    assert_refused(&attempt(&app, WEB_CLIENT, "zhangsan").await, "部门无权", "department");
    assert!(attempt(&app, WEB_CLIENT, "lisi").await.query().contains_key("code"));

    let admins = TestApp::spawn_with(TestAppOptions {
        extra_toml: "[policy]\nadmins_only = true\n".into(),
        ..Default::default()
    })
    .await;
    assert_refused(
        &attempt(&admins, WEB_CLIENT, "lisi").await,
        "仅限管理员",
        "administrators only",
    );
    assert!(
        attempt(&admins, WEB_CLIENT, "zhangsan")
            .await
            .query()
            .contains_key("code")
    );
}

#[tokio::test]
async fn roles_can_be_required() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: "[policy]\nallow_roles = [\"主管理员\"]\n".into(),
        ..Default::default()
    })
    .await;
    assert!(attempt(&app, WEB_CLIENT, "zhangsan").await.query().contains_key("code"));
    assert_refused(
        &attempt(&app, WEB_CLIENT, "lisi").await,
        "角色无权",
        "role is not allowed",
    );
}

#[tokio::test]
async fn a_client_limited_to_some_claims_receives_only_those() {
    let app = TestApp::spawn().await;
    let q = attempt(&app, FINANCE_CLIENT, "lisi").await.query();
    let claims = id_token_claims(&app, FINANCE_CLIENT, &q["code"]).await;
    assert_eq!(claims["name"], "李四");
    assert_eq!(claims["groups"], serde_json::json!(["财务部"]));
    for withheld in ["userid", "unionid", "dept_ids", "preferred_username", "corp_id"] {
        assert!(claims.get(withheld).is_none(), "{withheld} in {claims}");
    }
    for protocol in ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"] {
        assert!(claims.get(protocol).is_some(), "{protocol} in {claims}");
    }
}

#[tokio::test]
async fn groups_are_released_with_the_groups_scope_as_names_or_paths() {
    let app = TestApp::spawn().await;
    let q = attempt(&app, WEB_CLIENT, "zhangsan").await.query();
    let claims = id_token_claims(&app, WEB_CLIENT, &q["code"]).await;
    assert_eq!(claims["groups"], serde_json::json!(["研发部", "平台组"]));

    let paths = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_IDENTITY__GROUPS", "paths".into())],
        ..Default::default()
    })
    .await;
    let q = attempt(&paths, WEB_CLIENT, "zhangsan").await.query();
    let claims = id_token_claims(&paths, WEB_CLIENT, &q["code"]).await;
    assert_eq!(
        claims["groups"],
        serde_json::json!(["示例科技/研发部", "示例科技/研发部/平台组"])
    );
}

#[tokio::test]
async fn pairwise_subjects_differ_per_client_and_match_userinfo() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![
            ("DINGO_IDENTITY__SUBJECT", "pairwise".into()),
            (
                "DINGO_IDENTITY__PAIRWISE_SECRET",
                "pairwise-secret-for-tests-0123".into(),
            ),
        ],
        ..Default::default()
    })
    .await;
    let q = attempt(&app, WEB_CLIENT, "lisi").await.query();
    let (web, access_token) = tokens(&app, WEB_CLIENT, &q["code"]).await;
    let userinfo: Value = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], web["sub"]);
    let q = attempt(&app, FINANCE_CLIENT, "lisi").await.query();
    let finance = id_token_claims(&app, FINANCE_CLIENT, &q["code"]).await;
    assert_ne!(web["sub"], finance["sub"]);
    assert_ne!(web["sub"], "lisi");
    let discovery: Value = app.discovery().await;
    assert_eq!(discovery["subject_types_supported"], serde_json::json!(["pairwise"]));
}

#[tokio::test]
async fn the_unionid_can_be_the_subject() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_IDENTITY__SUBJECT", "unionid".into())],
        ..Default::default()
    })
    .await;
    let q = attempt(&app, WEB_CLIENT, "zhangsan").await.query();
    let claims = id_token_claims(&app, WEB_CLIENT, &q["code"]).await;
    assert_eq!(claims["sub"], claims["unionid"]);
    assert_ne!(claims["sub"], "zhangsan");
}
