//! The whole web login, and every way it can be refused.

use crate::support::app::{TestAppOptions, WEB_REDIRECT};
use crate::support::{Rp, TestApp};

#[tokio::test]
async fn a_member_logs_in_and_an_independent_relying_party_verifies_the_id_token() {
    let app = TestApp::spawn().await;
    let rp = Rp::discover(&app).await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let started = rp.start(&["profile", "email", "phone", "dingtalk"]);
    let landing = app.follow(&started.url).await;
    let query = landing.query();
    assert_eq!(query["state"], *started.state.secret());
    assert_eq!(query["iss"], app.address, "RFC 9207 iss");
    let verified = rp.finish(started, &query["code"]).await;

    let claims = &verified.claims;
    assert_eq!(claims.subject().as_str(), "zhangsan");
    assert_eq!(claims.issuer().as_str(), app.address);
    assert!(claims.auth_time().is_some());
    let raw = &verified.raw_claims;
    assert_eq!(raw["name"], "张三");
    assert_eq!(raw["email"], "zhangsan@example.com");
    assert_eq!(raw["email_verified"], true);
    assert_eq!(raw["phone_number"], "+8613800000001");
    assert_eq!(raw["userid"], "zhangsan");
    assert_eq!(raw["corp_id"], "dingsampleorg");
    assert!(raw["unionid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(raw["dept_ids"].as_array().is_some_and(|d| !d.is_empty()));

    let userinfo: serde_json::Value = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(&verified.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "zhangsan");
    assert_eq!(userinfo["email"], "zhangsan@example.com");
    assert_eq!(userinfo["preferred_username"], "zhangsan");
}

/// What one login asked DingTalk, path by path.
fn calls(app: &TestApp, paths: &[&str]) -> Vec<u64> {
    paths.iter().map(|p| app.sim.call_count(p)).collect()
}

const WEB_CHAIN: &[&str] = &[
    "/v1.0/oauth2/userAccessToken",
    "/v1.0/contact/users/me",
    "/v1.0/oauth2/accessToken",
    "/topapi/user/getbyunionid",
    "/topapi/v2/user/get",
    "/topapi/v2/department/get",
];

#[tokio::test]
async fn a_returning_person_costs_three_upstream_calls_on_the_web_route() {
    let app = TestApp::spawn().await;
    // First login: the app token, the unionid mapping and departments 4 → 2 → 1 are fetched.
    app.tokens_for("zhangsan").await;
    assert_eq!(calls(&app, WEB_CHAIN), [1, 1, 1, 1, 1, 3]);
    assert_eq!(app.sim.total_calls(), 8);
    app.sim.reset_calls();
    // Returning: only the login code, the person and their profile.
    app.tokens_for("zhangsan").await;
    assert_eq!(calls(&app, WEB_CHAIN), [1, 1, 0, 0, 1, 0]);
    assert_eq!(app.sim.total_calls(), 3);
    app.sim.reset_calls();
    // Someone new in another department: only that department is fetched (the root is known).
    app.tokens_for("lisi").await;
    assert_eq!(calls(&app, WEB_CHAIN), [1, 1, 0, 1, 1, 1]);
}

#[tokio::test]
async fn a_personal_mailbox_is_released_unverified() {
    let app = TestApp::spawn().await;
    let tokens = app.tokens_for("lisi").await;
    let userinfo: serde_json::Value = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["email_verified"], false);
    assert!(userinfo["email"].as_str().is_some_and(|e| e.contains('@')));
}

#[tokio::test]
async fn a_non_member_is_refused_with_a_page_that_leads_back_with_access_denied() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some(outsider()));
    let landing = app.follow(&app.authorize_url("")).await;
    let (status, body) = landing.page();
    assert_eq!(status, 403);
    assert!(
        body.contains("不是本组织的成员") && body.contains("not a member of this organisation"),
        "{body}"
    );
    let href = body
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let back = url::Url::parse(&href).unwrap();
    assert!(back.as_str().starts_with(WEB_REDIRECT));
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-1");
    assert!(q["error_description"].contains("not a member"));
}

#[tokio::test]
async fn dingtalk_answering_503_gives_the_client_temporarily_unavailable() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    app.sim.set_outage(Some(503));
    let q = app.follow(&app.authorize_url("")).await.query();
    assert_eq!(q["error"], "temporarily_unavailable");
    assert_eq!(q["state"], "st-1");
}

#[tokio::test]
async fn dingtalk_unreachable_gives_temporarily_unavailable_without_hanging() {
    let app = TestApp::spawn_with(TestAppOptions {
        dingtalk_unreachable: true,
        ..Default::default()
    })
    .await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = tokio::time::timeout(std::time::Duration::from_secs(5), app.follow(&app.authorize_url("")))
        .await
        .expect("no hang")
        .query();
    assert_eq!(q["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn dingtalk_not_answering_gives_temporarily_unavailable_after_the_timeout() {
    let app = TestApp::spawn_with(TestAppOptions {
        dingtalk_silent: true,
        ..Default::default()
    })
    .await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let started = std::time::Instant::now();
    let q = app.follow(&app.authorize_url("")).await.query();
    assert_eq!(q["error"], "temporarily_unavailable");
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(2),
        "took {elapsed:?} with a 300 ms timeout"
    );
}

#[tokio::test]
async fn a_person_who_declines_at_dingtalk_sends_access_denied() {
    let app = TestApp::spawn().await;
    let at_dingtalk = app.browser.get(app.authorize_url("")).send().await.unwrap();
    let login_page = at_dingtalk.headers()["location"].to_str().unwrap().to_owned();
    let state = url::Url::parse(&login_page)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let callback = app.url(&format!("/login/dingtalk/callback?error=access_denied&state={state}"));
    let q = app.follow(&callback).await.query();
    assert_eq!(q["error"], "access_denied");
}

/// Starts a login and returns the callback URL DingTalk would send the person to.
async fn callback_url(app: &TestApp) -> String {
    callback_url_with(app, "").await
}

async fn callback_url_with(app: &TestApp, extra: &str) -> String {
    app.sim.set_auto_login(Some("zhangsan".into()));
    let to_dingtalk = app.browser.get(app.authorize_url(extra)).send().await.unwrap();
    let login_page = to_dingtalk.headers()["location"].to_str().unwrap().to_owned();
    let back = app.browser.get(&login_page).send().await.unwrap();
    assert_eq!(back.status(), 302);
    back.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_replayed_callback_is_refused_with_a_page() {
    let app = TestApp::spawn().await;
    let callback = callback_url(&app).await;
    assert!(app.follow(&callback).await.query().contains_key("code"));
    let (status, body) = app.follow(&callback).await.page();
    assert_eq!(status, 400);
    assert!(body.contains("已使用"), "{body}");
}

#[tokio::test]
async fn a_tampered_state_is_refused_without_redirecting() {
    let app = TestApp::spawn().await;
    let callback = callback_url(&app).await;
    let tampered = callback.replace("state=", "state=x");
    let (status, _) = app.follow(&tampered).await.page();
    assert_eq!(status, 400);
    let missing = app.follow(&app.url("/login/dingtalk/callback?authCode=abc")).await;
    assert_eq!(missing.page().0, 400);
}

#[tokio::test]
async fn a_callback_in_another_browser_is_refused() {
    let app = TestApp::spawn().await;
    let callback = callback_url(&app).await;
    let other_browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (status, body) = app.follow_with(&other_browser, &callback).await.page();
    assert_eq!(status, 400);
    assert!(body.contains("another browser"), "{body}");
}

#[tokio::test]
async fn a_login_left_too_long_at_dingtalk_expires() {
    let app = TestApp::spawn().await;
    let callback = callback_url(&app).await;
    app.clock.advance(601);
    let (status, body) = app.follow(&callback).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("took too long"), "{body}");
}

#[tokio::test]
async fn a_dingtalk_code_used_twice_is_refused_by_dingtalk_and_explained() {
    let app = TestApp::spawn().await;
    let callback = callback_url(&app).await;
    // The person's first attempt succeeds; a second login replays DingTalk's code with a new state.
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "authCode")
        .unwrap()
        .1
        .into_owned();
    assert!(app.follow(&callback).await.query().contains_key("code"));
    let second = callback_url_with(&app, "&prompt=login").await;
    let state = url::Url::parse(&second)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let replay = app.url(&format!("/login/dingtalk/callback?authCode={code}&state={state}"));
    let (status, body) = app.follow(&replay).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("could not confirm"), "{body}");
}

/// 赵六, the sample directory's DingTalk account that is not a member, by unionid.
fn outsider() -> String {
    "m9RtC4pWdYjE2uAaS6kQhZgiEiE".into()
}

#[tokio::test]
async fn pages_put_english_first_for_browsers_that_prefer_it() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some(outsider()));
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(
            [(reqwest::header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9".parse().unwrap())]
                .into_iter()
                .collect(),
        )
        .build()
        .unwrap();
    let (status, body) = app.follow_with(&browser, &app.authorize_url("")).await.page();
    assert_eq!(status, 403);
    assert!(body.contains("<html lang=\"en\">"), "{body}");
    let english = body.find("Your DingTalk account is not a member").unwrap();
    let chinese = body.find("你的钉钉账号不是本组织的成员").unwrap();
    assert!(english < chinese, "English first");
}

/// The sample organisation after 张三 left and was hired again: a new userid, the same unionid.
fn zhangsan_rehired_as(userid: &str) -> dingo::sim::Directory {
    let sample = include_str!("../../src/sim/sample-directory.toml");
    let text = sample
        .replace("userid = \"zhangsan\"", &format!("userid = \"{userid}\""))
        .replace(
            "manager_userid = \"zhangsan\"",
            &format!("manager_userid = \"{userid}\""),
        );
    dingo::sim::Directory::from_toml(&text).unwrap()
}

#[tokio::test]
async fn a_person_hired_again_under_a_new_userid_logs_in_as_that_userid() {
    for legacy in [false, true] {
        let app = TestApp::spawn_with(TestAppOptions {
            env: if legacy {
                crate::support::app::legacy_login_env()
            } else {
                vec![]
            },
            ..Default::default()
        })
        .await;
        let before = app.tokens_for("zhangsan").await;
        let claims = crate::support::app::jwt_claims(before["id_token"].as_str().unwrap());
        assert_eq!(claims["sub"], "zhangsan");

        app.sim.replace_directory(zhangsan_rehired_as("zhangsan-2"));
        // dingo still maps his unionid to the old userid: it asks DingTalk again before refusing.
        for round in 0..2 {
            let query = app.login_as("zhangsan-2", "").await;
            let response = app.redeem(&query["code"]).await;
            assert_eq!(response.status(), 200, "legacy {legacy}, login {round}");
            let tokens: serde_json::Value = response.json().await.unwrap();
            let claims = crate::support::app::jwt_claims(tokens["id_token"].as_str().unwrap());
            assert_eq!(claims["sub"], "zhangsan-2", "legacy {legacy}, login {round}");
            assert_eq!(claims["name"], "张三");
        }
        assert_eq!(
            app.sim.call_count("/topapi/user/getbyunionid"),
            2,
            "legacy {legacy}: once at the first login, once more when the mapping went stale"
        );
    }
}
