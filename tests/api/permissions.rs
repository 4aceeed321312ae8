//! Logins under the DingTalk app's real permissions (DINGTALK-API.md Appendix B.2): without the
//! department permission, or with a partial contact scope, people still log in with what can be
//! read; a department rule that cannot be checked refuses (fail closed); missing field
//! permissions leave claims out.

use dingo::sim::{AppAccess, Directory};
use serde_json::Value;

use crate::support::app::{FINANCE_CLIENT, Landing, jwt_claims};
use crate::support::{TestApp, TestAppOptions};

fn app_key() -> String {
    Directory::sample().app_credentials().0.to_owned()
}

/// `person` logs in at the finance app (only 财务部, department 3): the browser's landing.
async fn at_finance(app: &TestApp, person: &str) -> Landing {
    app.sim.set_auto_login(Some(person.to_owned()));
    let url = app.authorize_url_for(FINANCE_CLIENT, "").replace("%20phone", "");
    app.follow_with(&crate::support::app::new_browser(), &url).await
}

async fn userinfo_of(app: &TestApp, person: &str) -> Value {
    app.sim.set_auto_login(Some(person.to_owned()));
    let url = app.authorize_url("").replace("%20phone", "%20phone%20groups");
    let query = app.follow_with(&crate::support::app::new_browser(), &url).await.query();
    let tokens: Value = app.redeem(&query["code"]).await.json().await.unwrap();
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
async fn without_the_department_permission_people_log_in_and_department_rules_fail_closed() {
    let app = TestApp::spawn().await;
    app.sim.set_app_access(
        &app_key(),
        AppAccess {
            departments: false,
            ..Default::default()
        },
    );
    let tokens = app.tokens_for("lisi").await;
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "lisi", "the login does not depend on departments");
    assert!(
        app.sim.call_count("/topapi/v2/department/get") >= 1,
        "departments were tried"
    );
    // 财务部's member cannot be shown to be in 财务部: the finance app refuses, saying why.
    let (status, page) = at_finance(&app, "lisi").await.page();
    assert_eq!(status, 403);
    assert!(page.contains("钉钉未允许读取你所在的部门"), "{page}");
    assert!(page.contains("did not let dingo read yours"), "{page}");
}

#[tokio::test]
async fn a_partial_contact_scope_lets_its_members_in_with_the_departments_it_shows() {
    let app = TestApp::spawn().await;
    // Only 财务部 (3, with 应收组 5 under it) is in the app's scope; the root is not.
    app.sim.set_app_access(
        &app_key(),
        AppAccess {
            scope: Some(vec![3]),
            ..Default::default()
        },
    );
    let info = userinfo_of(&app, "zhouqi").await;
    assert_eq!(info["sub"], "zhouqi");
    assert_eq!(info["groups"], serde_json::json!(["应收组"]), "{info}");
    // 应收组 and 财务部 above it could be read (the root could not): the finance app's rule is
    // satisfied, for a member of 财务部 and of a department under it.
    assert!(matches!(at_finance(&app, "lisi").await, Landing::AtClient(_)));
    assert!(matches!(at_finance(&app, "zhouqi").await, Landing::AtClient(_)));
    // Outside the scope, DingTalk does not show the member (50002): not visible.
    let (status, page) = match app
        .follow_with(&crate::support::app::new_browser(), &{
            app.sim.set_auto_login(Some("zhangsan".into()));
            app.authorize_url("")
        })
        .await
    {
        Landing::Page { status, body } => (status, body),
        Landing::AtClient(url) => panic!("zhangsan got in: {url}"),
    };
    assert_eq!(status, 403);
    assert!(page.contains("可见范围"), "{page}");
}

#[tokio::test]
async fn without_the_phone_and_email_permissions_those_claims_are_left_out() {
    let app = TestApp::spawn_with(TestAppOptions::default()).await;
    let full = userinfo_of(&app, "zhangsan").await;
    assert!(
        full.get("phone_number").is_some() && full.get("email").is_some(),
        "{full}"
    );
    app.sim.set_app_access(
        &app_key(),
        AppAccess {
            phone: false,
            email: false,
            ..Default::default()
        },
    );
    let bare = userinfo_of(&app, "zhangsan").await;
    assert_eq!(bare["sub"], "zhangsan");
    assert!(
        bare.get("phone_number").is_none() && bare.get("email").is_none(),
        "{bare}"
    );
}
