//! The dingo session: a second app without DingTalk, and the prompts that bypass or require it.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::app::{FINANCE_CLIENT, Landing, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET, new_browser};
use crate::support::{TestApp, TestAppOptions};

/// Logs `person` in through DingTalk in `browser`, returning the client's query.
async fn first_login(app: &TestApp, browser: &reqwest::Client, person: &str) -> HashMap<String, String> {
    app.sim.set_auto_login(Some(person.into()));
    app.follow_with(browser, &app.authorize_url("")).await.query()
}

async fn claims(app: &TestApp, client: &str, code: &str) -> Value {
    let body = redeem_for(app, client, code).await;
    let mut claims = crate::support::app::jwt_claims(body["id_token"].as_str().unwrap());
    claims["raw_id_token"] = body["id_token"].clone();
    claims
}

#[tokio::test]
async fn a_second_app_logs_in_with_the_session_and_no_dingtalk_call() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    let q = first_login(&app, &browser, "lisi").await;
    let first = claims(&app, WEB_CLIENT, &q["code"]).await;
    app.sim.reset_calls();
    app.sim.set_auto_login(None);
    let landing = app
        .follow_with(&browser, &app.authorize_url_for(FINANCE_CLIENT, ""))
        .await;
    assert_eq!(app.sim.total_calls(), 0, "no DingTalk call");
    let second = claims(&app, FINANCE_CLIENT, &landing.query()["code"]).await;
    assert_eq!(first["sid"], second["sid"]);
    assert_eq!(first["auth_time"], second["auth_time"]);
    assert_eq!(second["amr"], serde_json::json!(["dingtalk_web"]));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_lax_and_the_session_survives_a_restart() {
    let first = TestApp::spawn().await;
    let browser = new_browser();
    let response_cookie = {
        first.sim.set_auto_login(Some("zhangsan".into()));
        let to_dingtalk = browser.get(first.authorize_url("")).send().await.unwrap();
        let at_sim = browser
            .get(to_dingtalk.headers()["location"].to_str().unwrap())
            .send()
            .await
            .unwrap();
        let callback = browser
            .get(at_sim.headers()["location"].to_str().unwrap())
            .send()
            .await
            .unwrap();
        callback
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let session = response_cookie
        .iter()
        .find(|c| c.starts_with("dingo_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Max-Age=28800"));
    let dir = first.dir.clone();
    drop(first);
    let second = TestApp::spawn_with(TestAppOptions {
        dir: Some(dir),
        ..Default::default()
    })
    .await;
    // Same host, so the browser sends its cookie to the restarted dingo (on another port).
    let q = second
        .follow_with(&browser, &second.authorize_url("&prompt=none"))
        .await
        .query();
    assert!(q.contains_key("code"), "{q:?}");
    assert_eq!(second.sim.total_calls(), 0);
}

#[tokio::test]
async fn prompt_none_answers_from_the_session() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    first_login(&app, &browser, "zhangsan").await;
    let q = app
        .follow_with(&browser, &app.authorize_url("&prompt=none"))
        .await
        .query();
    assert!(q.contains_key("code"));
    let stranger = app
        .follow_with(&new_browser(), &app.authorize_url("&prompt=none"))
        .await
        .query();
    assert_eq!(stranger["error"], "login_required");
}

#[tokio::test]
async fn prompt_login_goes_to_dingtalk_again() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    first_login(&app, &browser, "zhangsan").await;
    app.sim.reset_calls();
    let q = app
        .follow_with(&browser, &app.authorize_url("&prompt=login"))
        .await
        .query();
    assert!(q.contains_key("code"));
    assert!(
        app.sim.call_count("/v1.0/oauth2/userAccessToken") == 1,
        "a new DingTalk login"
    );
}

#[tokio::test]
async fn max_age_requires_a_recent_login_and_auth_time_reports_it() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    let q = first_login(&app, &browser, "zhangsan").await;
    let login_time = claims(&app, WEB_CLIENT, &q["code"]).await["auth_time"]
        .as_i64()
        .unwrap();
    app.clock.advance(120);
    // Recent enough: from the session, with the original auth_time.
    let q = app
        .follow_with(&browser, &app.authorize_url("&max_age=300"))
        .await
        .query();
    assert_eq!(
        claims(&app, WEB_CLIENT, &q["code"]).await["auth_time"]
            .as_i64()
            .unwrap(),
        login_time
    );
    // Too old: DingTalk again (or login_required without interaction).
    let silent = app
        .follow_with(&browser, &app.authorize_url("&max_age=60&prompt=none"))
        .await
        .query();
    assert_eq!(silent["error"], "login_required");
    app.sim.reset_calls();
    let q = app
        .follow_with(&browser, &app.authorize_url("&max_age=60"))
        .await
        .query();
    assert_eq!(app.sim.call_count("/v1.0/oauth2/userAccessToken"), 1);
    assert!(
        claims(&app, WEB_CLIENT, &q["code"]).await["auth_time"]
            .as_i64()
            .unwrap()
            >= login_time + 120
    );
}

#[tokio::test]
async fn hints_for_another_person_do_not_use_the_session() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    let q = first_login(&app, &browser, "zhangsan").await;
    let zhangsan_token = claims(&app, WEB_CLIENT, &q["code"]).await["raw_id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = app
        .follow_with(&browser, &app.authorize_url("&prompt=none&login_hint=zhangsan"))
        .await
        .query();
    assert!(mine.contains_key("code"));
    let other = app
        .follow_with(&browser, &app.authorize_url("&prompt=none&login_hint=lisi"))
        .await
        .query();
    assert_eq!(other["error"], "login_required");
    let hinted = app
        .follow_with(
            &browser,
            &app.authorize_url(&format!("&prompt=none&id_token_hint={zhangsan_token}")),
        )
        .await
        .query();
    assert!(hinted.contains_key("code"), "{hinted:?}");
    let lisi = app.login_as("lisi", "").await;
    let lisi_token = claims(&app, WEB_CLIENT, &lisi["code"]).await["raw_id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mismatch = app
        .follow_with(
            &browser,
            &app.authorize_url(&format!("&prompt=none&id_token_hint={lisi_token}")),
        )
        .await
        .query();
    assert_eq!(mismatch["error"], "login_required");
    let forged = app
        .follow_with(&browser, &app.authorize_url("&id_token_hint=eyJhbGciOiJub25lIn0.e30."))
        .await
        .query();
    assert_eq!(forged["error"], "invalid_request");
}

#[tokio::test]
async fn a_session_does_not_open_an_app_the_person_may_not_use() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    first_login(&app, &browser, "zhangsan").await;
    let landing = app
        .follow_with(&browser, &app.authorize_url_for(FINANCE_CLIENT, ""))
        .await;
    match landing {
        Landing::Page { status, body } => {
            assert_eq!(status, 403);
            assert!(body.contains("department"), "{body}");
        }
        other => panic!("expected the refusal page, got {other:?}"),
    }
}

#[tokio::test]
async fn with_prompt_none_a_refusal_goes_back_to_the_app_without_a_page() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    first_login(&app, &browser, "zhangsan").await;
    let landing = app
        .follow_with(&browser, &app.authorize_url_for(FINANCE_CLIENT, "&prompt=none"))
        .await;
    let q = landing.query();
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].contains("department"));
}

#[tokio::test]
async fn a_new_login_in_the_same_browser_ends_the_session_it_replaces() {
    let mut receiver = crate::support::receiver::Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let browser = new_browser();
    let q = first_login(&app, &browser, "zhangsan").await;
    let old_sid = claims(&app, WEB_CLIENT, &q["code"]).await["sid"].clone();
    // Another person logs in in the same browser: the old session must not live on.
    app.sim.set_auto_login(Some("lisi".into()));
    let q = app
        .follow_with(&browser, &app.authorize_url("&prompt=login"))
        .await
        .query();
    let new = claims(&app, WEB_CLIENT, &q["code"]).await;
    assert_eq!(new["sub"], "lisi");
    assert_ne!(new["sid"], old_sid);
    let token = receiver.next_token(5).await.expect("the old session's app is told");
    let told = crate::support::app::jwt_claims(&token);
    assert_eq!((&told["sid"], &told["sub"]), (&old_sid, &"zhangsan".into()));
    let sessions = app.db.sessions_of_user("zhangsan").await.unwrap();
    assert!(sessions.is_empty(), "the replaced session is gone: {sessions:?}");
}

#[tokio::test]
async fn max_age_zero_logs_the_person_in_again_at_once() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    first_login(&app, &browser, "zhangsan").await;
    // Not a second later: still a new login with DingTalk, as prompt=login would.
    app.sim.reset_calls();
    let q = app
        .follow_with(&browser, &app.authorize_url("&max_age=0"))
        .await
        .query();
    assert!(q.contains_key("code"));
    assert_eq!(
        app.sim.call_count("/v1.0/oauth2/userAccessToken"),
        1,
        "DingTalk was asked again"
    );
    let silent = app
        .follow_with(&browser, &app.authorize_url("&max_age=0&prompt=none"))
        .await
        .query();
    assert_eq!(silent["error"], "login_required");
}

/// Redeems `code` for `client`: the token response, which must be a success.
async fn redeem_for(app: &TestApp, client: &str, code: &str) -> Value {
    let response = app.redeem_for(client, code).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_session_ending_takes_its_access_tokens_and_its_refresh_tokens_without_offline_access() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"portal\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\nscopes = [\"openid\", \"profile\"]\n\
             refresh_tokens = true\nsecret_sha256 = \"{}\"\n",
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    // One session, two apps: the portal's refresh token comes without offline_access, the web
    // app's with it.
    let q = app
        .follow_with(
            &browser,
            &app.authorize_url_for("portal", "").replace("%20email%20phone", ""),
        )
        .await
        .query();
    let portal = redeem_for(&app, "portal", &q["code"]).await;
    let offline = app.authorize_url("").replace("%20phone", "%20phone%20offline_access");
    let q = app.follow_with(&browser, &offline).await.query();
    let web = redeem_for(&app, WEB_CLIENT, &q["code"]).await;
    assert!(
        portal["refresh_token"].is_string() && web["refresh_token"].is_string(),
        "{portal} {web}"
    );
    let sid = crate::support::app::jwt_claims(web["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ok, _, err) = app.cli(&["sessions", "revoke", &sid]);
    assert!(ok, "{err}");
    let refresh = |client: &'static str, tokens: &Value| {
        let request = app
            .browser
            .post(app.url("/token"))
            .basic_auth(client, Some(WEB_SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let userinfo = |tokens: &Value| {
        let request = app
            .browser
            .get(app.url("/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap());
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(userinfo(&portal).await, 401, "the session's access tokens end with it");
    assert_eq!(userinfo(&web).await, 401);
    assert_eq!(
        refresh("portal", &portal).await,
        400,
        "a refresh token without offline_access ends"
    );
    assert_eq!(
        refresh(WEB_CLIENT, &web).await,
        200,
        "offline_access outlives the session"
    );
}

#[tokio::test]
async fn select_account_sends_the_person_to_dingtalk_despite_a_live_session() {
    let app = TestApp::spawn().await;
    let browser = new_browser();
    first_login(&app, &browser, "zhangsan").await;
    app.sim.reset_calls();
    app.sim.set_auto_login(Some("lisi".into()));
    let q = app
        .follow_with(&browser, &app.authorize_url("&prompt=select_account"))
        .await
        .query();
    assert_eq!(
        app.sim.call_count("/v1.0/oauth2/userAccessToken"),
        1,
        "DingTalk's page again"
    );
    assert_eq!(
        claims(&app, WEB_CLIENT, &q["code"]).await["sub"],
        "lisi",
        "another account chosen"
    );
}
