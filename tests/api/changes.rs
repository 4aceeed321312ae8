//! Changes made elsewhere — here by the command line, another process — reach a running
//! instance without waiting for a reload round: on PostgreSQL at once (NOTIFY), on SQLite at the
//! next comparison of versions.

use std::time::Duration;

use dingo::startup::Background;

use crate::support::app::new_browser;
use crate::support::{TestApp, TestAppOptions};

/// An instance that never reloads on its own: on PostgreSQL it does not compare versions for a
/// minute either, so only a notification can tell it in time.
async fn app() -> TestApp {
    let postgres = crate::support::database::postgres_server().is_some();
    TestApp::spawn_with(TestAppOptions {
        background: Some(Background {
            changes_poll: if postgres {
                Duration::from_secs(60)
            } else {
                Duration::from_millis(100)
            },
            reload_clients: Duration::from_secs(3600),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
}

fn dingo(app: &TestApp, args: &[&str]) -> String {
    let (ok, out, err) = app.cli(args);
    assert!(ok, "{err}");
    out
}

/// Waits until the instance acted on one more change than `before`.
async fn acted_on(app: &mut TestApp, before: u64) {
    let handled = &mut app.changes_handled;
    tokio::time::timeout(Duration::from_secs(10), handled.wait_for(|n| *n > before))
        .await
        .expect("the instance heard of the change in time")
        .unwrap();
}

#[tokio::test]
async fn a_client_added_from_the_command_line_reaches_a_running_instance_at_once() {
    let mut app = app().await;
    let before = *app.changes_handled.borrow();
    dingo(
        &app,
        &[
            "clients",
            "add",
            "wiki",
            "--redirect-uri",
            crate::support::app::WEB_REDIRECT,
        ],
    );
    acted_on(&mut app, before).await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let landing = app
        .follow_with(&new_browser(), &app.authorize_url_for("wiki", ""))
        .await;
    assert!(landing.query().contains_key("code"), "the new client is known");
}

#[tokio::test]
async fn a_key_rotated_from_the_command_line_signs_on_a_running_instance_at_once() {
    let mut app = app().await;
    let kid = |jwt: &str| {
        let header = jsonwebtoken::decode_header(jwt).unwrap();
        header.kid.unwrap()
    };
    let first = app.tokens_for("zhangsan").await;
    let before = *app.changes_handled.borrow();
    dingo(&app, &["keys", "rotate", "--alg", "RS256", "--now"]);
    acted_on(&mut app, before).await;
    let second = app.tokens_for("zhangsan").await;
    let (old, new) = (
        kid(first["id_token"].as_str().unwrap()),
        kid(second["id_token"].as_str().unwrap()),
    );
    assert_ne!(old, new, "the rotated key signs");
    let jwks = app.jwks().await;
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        published.contains(&old.as_str()) && published.contains(&new.as_str()),
        "{published:?}"
    );
}
