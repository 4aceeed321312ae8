//! `dingo users` and `dingo sessions`, run as processes against a running instance's database.

use serde_json::Value;

use crate::support::app::{WEB_CLIENT, WEB_SECRET, new_browser};
use crate::support::receiver::Receiver;
use crate::support::{TestApp, TestAppOptions};

fn dingo(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    app.cli(args)
}

#[tokio::test]
async fn disabling_a_person_ends_everything_at_once_and_enabling_lets_them_back() {
    let mut receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let url = app.authorize_url("").replace(
        "scope=openid%20profile%20email%20phone",
        "scope=openid%20offline_access",
    );
    let q = app.follow_with(&browser, &url).await.query();
    let tokens: Value = app.redeem(&q["code"]).await.json().await.unwrap();
    let (ok, list, _) = dingo(&app, &["users", "list"]);
    assert!(ok && list.contains("zhangsan") && list.contains("active"), "{list}");

    let (ok, out, err) = dingo(&app, &["users", "disable", "zhangsan"]);
    assert!(ok, "{err}");
    assert!(out.contains("disabled"));
    // The running instance delivers the logout token the command queued.
    assert!(receiver.next_token(5).await.is_some(), "a back-channel logout");
    let refresh = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let again = app.follow_with(&new_browser(), &app.authorize_url("")).await;
    let (status, body) = again.page();
    assert_eq!(status, 403);
    assert!(body.contains("停用") && body.contains("disabled"), "{body}");
    let (_, list, _) = dingo(&app, &["users", "list"]);
    assert!(list.contains("disabled since"), "{list}");

    let audit = app
        .db
        .audit_events(&dingo::store::AuditFilter {
            userid: Some("zhangsan".into()),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap();
    let seen: Vec<&str> = audit.iter().map(|e| e.outcome.as_str()).collect();
    for expected in ["user_disabled", "refused_disabled", "success"] {
        assert!(seen.contains(&expected), "{expected} in {seen:?}");
    }
    let (ok, _, err) = dingo(&app, &["users", "enable", "zhangsan"]);
    assert!(ok, "{err}");
    assert!(app.login_as("zhangsan", "").await.contains_key("code"));
    let (ok, _, err) = dingo(&app, &["users", "disable", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
}

#[tokio::test]
async fn a_code_issued_before_a_person_is_disabled_cannot_be_redeemed_after() {
    let app = TestApp::spawn().await;
    let query = app.login_as("zhangsan", "").await;
    let (ok, _, err) = dingo(&app, &["users", "disable", "zhangsan"]);
    assert!(ok, "{err}");
    let response = app.redeem(&query["code"]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

#[tokio::test]
async fn sessions_are_listed_and_one_can_be_ended() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("lisi".into()));
    app.follow_with(&browser, &app.authorize_url("")).await;
    let (ok, list, err) = dingo(&app, &["sessions", "list", "--user", "lisi"]);
    assert!(ok, "{err}");
    let sid = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert!(list.contains("dingtalk_web"));
    let (ok, _, err) = dingo(&app, &["sessions", "revoke", &sid]);
    assert!(ok, "{err}");
    let q = app
        .follow_with(&browser, &app.authorize_url("&prompt=none"))
        .await
        .query();
    assert_eq!(q["error"], "login_required");
    let (_, show, _) = dingo(&app, &["users", "show", "lisi"]);
    assert!(
        show.contains("\"name\": \"李四\"") && show.contains("(no live sessions)"),
        "{show}"
    );
    let (ok, _, err) = dingo(&app, &["sessions", "revoke", "no-such-sid"]);
    assert!(!ok && err.contains("no session"), "{err}");
    let (ok, _, err) = dingo(&app, &["sessions", "revoke", "-sids-may-begin-with-a-hyphen"]);
    assert!(
        !ok && err.contains("no session"),
        "a leading hyphen is a sid, not a flag: {err}"
    );
}

#[tokio::test]
async fn clients_are_managed_at_run_time_and_take_effect_without_a_restart() {
    let app = TestApp::spawn().await;
    let redirect = "http://127.0.0.1:1/callback";
    let (ok, out, err) = dingo(
        &app,
        &[
            "clients",
            "add",
            "wiki",
            "--name",
            "Wiki",
            "--redirect-uri",
            redirect,
            "--scope",
            "openid",
            "--scope",
            "profile",
        ],
    );
    assert!(ok, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    let (_, list, _) = dingo(&app, &["clients", "list"]);
    assert!(list.contains("wiki") && list.contains("managed"), "{list}");
    assert!(list.contains("web-app") && list.contains("config"), "{list}");
    // The running instance picks the client up at its next reload (driven here at once, instead
    // of waiting for the 5 s round); the new secret works.
    app.provider.reload_clients().await.unwrap();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let landing = app
        .follow_with(&new_browser(), &app.authorize_url_for("wiki", ""))
        .await;
    let code = landing.query().get("code").cloned();
    let code = code.expect("the new client is known to the running instance");
    let token = app
        .browser
        .post(app.url("/token"))
        .basic_auth("wiki", Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let body: Value = token.json().await.unwrap();
    assert_eq!(
        body["scope"], "openid profile",
        "scopes are limited to the registered ones"
    );

    let (ok, out, _) = dingo(&app, &["clients", "rotate-secret", "wiki"]);
    assert!(ok && out.contains("client_secret: ") && !out.contains(&secret));
    let (ok, _, err) = dingo(&app, &["clients", "update", "wiki", "--name", "Team wiki"]);
    assert!(ok, "{err}");
    let (_, show, _) = dingo(&app, &["clients", "show", "wiki"]);
    assert!(
        show.contains("name = \"Team wiki\"") && show.contains(redirect),
        "{show}"
    );
    let (ok, _, err) = dingo(&app, &["clients", "update", "web-app", "--name", "x"]);
    assert!(!ok && err.contains("read-only"), "{err}");
    let (ok, _, err) = dingo(&app, &["clients", "add", "bad", "--redirect-uri", "/relative"]);
    assert!(!ok && err.contains("redirect_uris[0]"), "{err}");
    let (ok, _, err) = dingo(&app, &["clients", "remove", "wiki"]);
    assert!(ok, "{err}");
    let (_, list, _) = dingo(&app, &["clients", "list"]);
    assert!(!list.contains("wiki"), "{list}");
}

/// The admin service on the running instance's database, as the console and the API will use it.
async fn admin_service(app: &TestApp) -> dingo::admin::Admin {
    let settings = dingo::config::load(&app.dir.path().join("dingo.toml"), true, std::iter::empty()).unwrap();
    dingo::startup::admin_service(&settings, app.clock.clone())
        .await
        .unwrap()
}

fn wiki(redirect: &str) -> dingo::config::ClientSettings {
    dingo::config::ClientSettings {
        client_id: "wiki".into(),
        name: "维基 Wiki".into(),
        redirect_uris: vec![redirect.into()],
        scopes: vec!["openid".into(), "profile".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn the_admin_service_tells_conflicts_read_only_unknown_and_invalid_apart() {
    use dingo::admin::{Actor, AdminError};
    let app = TestApp::spawn().await;
    let admin = admin_service(&app).await;
    let actor = Actor::Person("sunjing".into());
    let secret = admin
        .add_client(&actor, &wiki("https://wiki.example.com/cb"))
        .await
        .unwrap();
    assert!(
        secret.is_some_and(|s| s.len() >= 32),
        "a confidential client gets a secret"
    );

    let again = admin.add_client(&actor, &wiki("https://evil.example.com/cb")).await;
    assert!(matches!(again, Err(AdminError::Conflict(_))), "{again:?}");
    let kept = admin.client("wiki").await.unwrap();
    assert_eq!(
        kept.settings.redirect_uris,
        ["https://wiki.example.com/cb"],
        "not overwritten"
    );
    let configured = admin
        .add_client(
            &actor,
            &dingo::config::ClientSettings {
                client_id: WEB_CLIENT.into(),
                ..wiki("https://x.example.com/cb")
            },
        )
        .await;
    assert!(matches!(configured, Err(AdminError::Conflict(_))), "{configured:?}");

    let read_only = admin.remove_client(&actor, WEB_CLIENT).await;
    assert!(matches!(read_only, Err(AdminError::ReadOnly(_))), "{read_only:?}");
    let unknown = admin.remove_client(&actor, "nobody").await;
    assert!(
        matches!(unknown, Err(AdminError::NotFound("client", ref id)) if id == "nobody"),
        "{unknown:?}"
    );
    let person = admin.disable_person(&actor, "nobody").await;
    assert!(matches!(person, Err(AdminError::NotFound("person", _))), "{person:?}");

    let mut broken = wiki("javascript:alert(1)");
    broken.client_id = "broken".into();
    broken.scopes.push("no-such-scope".into());
    let Err(AdminError::Invalid(problems)) = admin.add_client(&actor, &broken).await else {
        panic!("invalid settings are refused");
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.iter().any(|p| p.contains("redirect_uris[0]")), "{paths:?}");
    assert!(paths.iter().any(|p| p.contains("scopes")), "{paths:?}");
    assert!(
        matches!(admin.client("broken").await, Err(AdminError::NotFound(..))),
        "nothing stored"
    );
}

#[tokio::test]
async fn an_administrators_changes_are_audited_with_who_made_them() {
    use dingo::admin::Actor;
    let app = TestApp::spawn().await;
    app.tokens_for("zhangsan").await;
    let admin = admin_service(&app).await;
    let revoked = admin
        .disable_person(&Actor::Person("sunjing".into()), "zhangsan")
        .await
        .unwrap();
    assert_eq!(revoked.sessions.len(), 1, "the login's session ended");
    admin
        .add_client(&Actor::Client("ops-bot".into()), &wiki("https://wiki.example.com/cb"))
        .await
        .unwrap();
    let (ok, _, err) = dingo(&app, &["users", "enable", "zhangsan"]);
    assert!(ok, "{err}");
    let events = app
        .db
        .audit_events(&dingo::store::AuditFilter {
            kind: Some("admin".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let seen: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.outcome.as_str(), e.actor.as_deref()))
        .collect();
    for expected in [
        ("user_disabled", Some("person:sunjing")),
        ("client_added", Some("client:ops-bot")),
        ("user_enabled", Some("cli")),
    ] {
        assert!(seen.contains(&expected), "{expected:?} in {seen:?}");
    }
    let (ok, table, _) = dingo(&app, &["audit", "--kind", "admin"]);
    assert!(ok && table.contains("by person:sunjing"), "{table}");
}

#[tokio::test]
async fn adding_a_client_that_exists_is_refused_on_the_command_line_too() {
    let app = TestApp::spawn().await;
    let add = [
        "clients",
        "add",
        "wiki",
        "--redirect-uri",
        "https://wiki.example.com/cb",
    ];
    let (ok, out, err) = dingo(&app, &add);
    assert!(ok && out.contains("client_secret"), "{err}");
    let (ok, out, err) = dingo(
        &app,
        &[
            "clients",
            "add",
            "wiki",
            "--redirect-uri",
            "https://evil.example.com/cb",
        ],
    );
    assert!(!ok && err.contains("already exists"), "{out}{err}");
    let (_, shown, _) = dingo(&app, &["clients", "show", "wiki"]);
    assert!(
        shown.contains("https://wiki.example.com/cb") && !shown.contains("evil"),
        "{shown}"
    );
}
