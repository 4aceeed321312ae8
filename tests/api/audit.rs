//! The audit log: every login (with why it failed), refresh failure, revocation and logout is
//! recorded, and `dingo audit` shows it.

use std::process::Command;

use dingo::store::{AuditEvent, AuditFilter};
use serde_json::Value;

use crate::support::app::{FINANCE_CLIENT, WEB_CLIENT, WEB_SECRET, new_browser};
use crate::support::{TestApp, TestAppOptions};

/// Logs `person` in in a fresh browser, whatever happens.
async fn attempt(app: &TestApp, person: &str) {
    app.sim.set_auto_login(Some(person.into()));
    app.follow_with(&new_browser(), &app.authorize_url("")).await;
}

async fn events(app: &TestApp, kind: &str) -> Vec<AuditEvent> {
    let filter = AuditFilter {
        kind: Some(kind.into()),
        limit: 100,
        ..Default::default()
    };
    app.db.audit_events(&filter).await.unwrap()
}

fn outcomes(events: &[AuditEvent]) -> Vec<(String, Option<String>)> {
    events.iter().map(|e| (e.outcome.clone(), e.userid.clone())).collect()
}

#[tokio::test]
async fn logins_are_recorded_with_their_outcome_and_reason() {
    let mut directory = std::fs::read_to_string("src/sim/sample-directory.toml").unwrap();
    directory.push_str(
        "\n[[users]]\nuserid = \"hidden\"\nunionid = \"hIdDeNuNiOnId0000000000iEiE\"\nname = \"隐身人\"\ndept_id_list = [2]\nvisible = false\n",
    );
    let app = TestApp::spawn_with(TestAppOptions {
        directory: Some(directory),
        ..Default::default()
    })
    .await;
    attempt(&app, "zhangsan").await;
    attempt(&app, "m9RtC4pWdYjE2uAaS6kQhZgiEiE").await;
    attempt(&app, "wangwu").await;
    attempt(&app, "hidden").await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    app.follow_with(&new_browser(), &app.authorize_url_for(FINANCE_CLIENT, ""))
        .await;
    app.sim.set_outage(Some(503));
    attempt(&app, "lisi").await;

    let logins = events(&app, "login").await;
    // Within one second the order is not kept: compare as sets.
    let mut seen = outcomes(&logins);
    seen.sort();
    let mut expected = vec![
        ("success".into(), Some("zhangsan".into())),
        ("refused_not_member".into(), None),
        ("refused_inactive".into(), Some("wangwu".into())),
        ("refused_not_visible".into(), None),
        ("refused_policy".into(), Some("zhangsan".into())),
        ("upstream_error".into(), None),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    let policy = logins.iter().find(|e| e.outcome == "refused_policy").unwrap();
    assert_eq!(policy.client_id.as_deref(), Some(FINANCE_CLIENT));
    assert_eq!(policy.route.as_deref(), Some("dingtalk_web"));
    assert!(policy.detail.as_deref().unwrap().contains("department"));
}

#[tokio::test]
async fn refresh_failures_revocations_and_logouts_are_recorded() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let url = app.authorize_url("").replace(
        "scope=openid%20profile%20email%20phone",
        "scope=openid%20offline_access",
    );
    let q = app.follow_with(&browser, &url).await.query();
    let tokens: Value = app.redeem(&q["code"]).await.json().await.unwrap();
    let post = |form: Vec<(&'static str, String)>, path: &'static str| {
        app.browser
            .post(app.url(path))
            .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
            .form(&form)
            .send()
    };
    post(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "forged".into()),
        ],
        "/token",
    )
    .await
    .unwrap();
    post(
        vec![("token", tokens["access_token"].as_str().unwrap().into())],
        "/revoke",
    )
    .await
    .unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    browser
        .get(app.url(&format!("/logout?id_token_hint={hint}")))
        .send()
        .await
        .unwrap();

    let refresh = events(&app, "refresh").await;
    assert_eq!(refresh[0].outcome, "invalid_grant");
    assert_eq!(refresh[0].client_id.as_deref(), Some(WEB_CLIENT));
    let revocation = events(&app, "revocation").await;
    assert_eq!(outcomes(&revocation), [("success".into(), Some("zhangsan".into()))]);
    let logout = events(&app, "logout").await;
    assert_eq!(outcomes(&logout), [("success".into(), Some("zhangsan".into()))]);
}

#[tokio::test]
async fn dingo_audit_lists_and_filters_events() {
    let app = TestApp::spawn().await;
    attempt(&app, "zhangsan").await;
    attempt(&app, "lisi").await;
    attempt(&app, "m9RtC4pWdYjE2uAaS6kQhZgiEiE").await;
    let db_url = crate::support::database::database_url(app.dir.path());
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_dingo"))
            .arg("audit")
            .args(args)
            .env_remove("DINGO_CONFIG")
            .env("RUST_LOG", "warn")
            .env("DINGO_DATABASE__URL", &db_url)
            .env("DINGO_SERVER__ISSUER", "https://sso.example.com")
            .env("DINGO_DINGTALK__CLIENT_ID", "k")
            .env("DINGO_DINGTALK__CLIENT_SECRET", "s")
            .env("DINGO_DINGTALK__CORP_ID", "c")
            .current_dir(app.dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let table = run(&[]);
    assert!(table.starts_with("time"), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains(" login ")).count(), 3, "{table}");
    let lisi = run(&["--user", "lisi", "--json"]);
    let lines: Vec<Value> = lisi.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["userid"], "lisi");
    let refused = run(&["--outcome", "refused_not_member", "--since", "1h"]);
    assert_eq!(refused.lines().count(), 2, "a header and one event: {refused}");
    let future = run(&["--since", "2999-01-01"]);
    assert!(future.contains("(no matching events)"));
}
