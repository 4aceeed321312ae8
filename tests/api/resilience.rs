//! DingTalk misbehaving: logins get through transient faults, fail cleanly and in bounded time
//! when DingTalk is down, send a login code again only when DingTalk cannot have used it, leave
//! nothing half-written, and keep under DingTalk's rate limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dingo::clock::Clock;
use dingo::sim::{Fault, FaultKind};
use serde_json::{Value, json};

use crate::in_app::DINGTALK_UA;
use crate::support::app::new_browser;
use crate::support::{TestApp, TestAppOptions};

const USER_ACCESS_TOKEN: &str = "/v1.0/oauth2/userAccessToken";
const USERS_ME: &str = "/v1.0/contact/users/me";
const APP_TOKEN: &str = "/v1.0/oauth2/accessToken";
const GETBYUNIONID: &str = "/topapi/user/getbyunionid";
const USER_GET: &str = "/topapi/v2/user/get";
const DEPARTMENT_GET: &str = "/topapi/v2/department/get";
const GETUSERINFO: &str = "/topapi/v2/user/getuserinfo";

/// More than any login takes here; a test that reaches it has hung.
const NO_HANG: Duration = Duration::from_secs(20);

async fn spawn_with_env(env: &[(&'static str, &str)]) -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        ..Default::default()
    })
    .await
}

/// A web login as `person` in a fresh browser: the client redirect's query.
async fn web_login(app: &TestApp, person: &str) -> HashMap<String, String> {
    tokio::time::timeout(NO_HANG, app.login_as(person, ""))
        .await
        .expect("the login hung")
}

/// An in-app (免登) login as the simulator's in-app person: the client redirect's query. When
/// dingo answers with the in-app page again (its one automatic retry), the page's script runs
/// again, as in the DingTalk client; the "try again" page counts as going back to the app.
async fn in_app_login(app: &TestApp) -> HashMap<String, String> {
    let browser = new_browser();
    let page = browser
        .get(app.authorize_url(""))
        .header("user-agent", DINGTALK_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the in-app page");
    let mut html = page.text().await.unwrap();
    for _ in 0..2 {
        let attribute = |marker: &str| html.split(marker).nth(1).unwrap().split('"').next().unwrap().to_owned();
        let state = attribute("name=\"state\" value=\"");
        let minted: Value = browser
            .post(format!("{}/jsapi/requestAuthCode", app.sim_address))
            .json(&json!({ "corpId": attribute("data-corp-id=\""), "clientId": attribute("data-client-id=\"") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = minted["code"].as_str().unwrap();
        let post = browser.post(app.url("/login/dingtalk/inapp")).form(&[
            ("state", state.as_str()),
            ("method", "request_auth_code"),
            ("code", code),
        ]);
        let response = tokio::time::timeout(NO_HANG, post.send())
            .await
            .expect("the login hung")
            .unwrap();
        let status = response.status();
        if status == 303 {
            let location = response.headers()["location"].to_str().unwrap();
            return url::Url::parse(location).unwrap().query_pairs().into_owned().collect();
        }
        html = response.text().await.unwrap();
        if status == 503 {
            return crate::support::app::Landing::Page { status, body: html }.query();
        }
        assert!(html.contains("id=\"in-app\""), "the in-app page again: {html}");
    }
    panic!("the in-app page came back more than once");
}

fn calls(app: &TestApp, paths: &[&str]) -> Vec<u64> {
    paths.iter().map(|p| app.sim.call_count(p)).collect()
}

/// The login's code redeems at the token endpoint for the right person.
async fn assert_logged_in_as(app: &TestApp, query: &HashMap<String, String>, userid: &str) {
    let code = query.get("code").unwrap_or_else(|| panic!("no code: {query:?}"));
    let response = app.redeem(code).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let claims = crate::support::app::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], userid);
}

#[tokio::test]
async fn a_web_login_gets_through_a_transient_fault_on_every_read() {
    let app = TestApp::spawn().await;
    app.sim.inject(Fault::new(FaultKind::Status(503)).on(USERS_ME).times(1));
    app.sim.inject(Fault::new(FaultKind::Busy).on(APP_TOKEN).times(1));
    app.sim
        .inject(Fault::new(FaultKind::RateLimited).on(GETBYUNIONID).times(1));
    app.sim.inject(Fault::new(FaultKind::Malformed).on(USER_GET).times(1));
    app.sim.inject(Fault::new(FaultKind::Reset).on(DEPARTMENT_GET).times(2));
    let query = web_login(&app, "zhangsan").await;
    assert_logged_in_as(&app, &query, "zhangsan").await;
    // Each read went once more; zhangsan's three departments took one request each.
    assert_eq!(
        calls(
            &app,
            &[
                USER_ACCESS_TOKEN,
                USERS_ME,
                APP_TOKEN,
                GETBYUNIONID,
                USER_GET,
                DEPARTMENT_GET
            ]
        ),
        [1, 2, 2, 2, 2, 5]
    );
    let text = app.metrics().await;
    for line in [
        r#"dingo_dingtalk_retries_total{api="contact/users/me"} 1"#,
        r#"dingo_dingtalk_retries_total{api="topapi/v2/department/get"} 2"#,
        r#"dingo_dingtalk_calls_total{api="topapi/user/getbyunionid",result="90018"} 1"#,
        r#"dingo_dingtalk_calls_total{api="topapi/v2/user/get",result="malformed"} 1"#,
        "dingo_dingtalk_circuit_state 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn an_in_app_login_gets_through_transient_faults_on_its_reads() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("lisi".into()));
    app.sim.inject(Fault::new(FaultKind::Busy).on(USER_GET).times(2));
    app.sim
        .inject(Fault::new(FaultKind::Status(502)).on(DEPARTMENT_GET).times(1));
    let query = in_app_login(&app).await;
    assert_logged_in_as(&app, &query, "lisi").await;
    assert_eq!(calls(&app, &[GETUSERINFO, USER_GET]), [1, 3]);
}

#[tokio::test]
async fn a_login_gets_through_dingtalk_invalidating_the_app_token() {
    let app = TestApp::spawn().await;
    assert_logged_in_as(&app, &web_login(&app, "zhangsan").await, "zhangsan").await;
    app.sim.invalidate_app_tokens();
    app.sim.reset_calls();
    // lisi is new: getbyunionid goes with the cached, now invalid token (40014), the token is
    // fetched again and the call repeated once.
    assert_logged_in_as(&app, &web_login(&app, "lisi").await, "lisi").await;
    assert_eq!(calls(&app, &[APP_TOKEN, GETBYUNIONID, USER_GET]), [1, 2, 1]);
    assert!(
        app.metrics()
            .await
            .contains(r#"dingo_dingtalk_calls_total{api="topapi/user/getbyunionid",result="40014"} 1"#)
    );
}

#[tokio::test]
async fn a_login_gets_through_latency_below_the_timeout() {
    let app = spawn_with_env(&[("DINGO_DINGTALK__TIMEOUT_MS", "1500")]).await;
    app.sim.set_latency(Duration::from_millis(250));
    let started = Instant::now();
    let query = web_login(&app, "zhangsan").await;
    assert_logged_in_as(&app, &query, "zhangsan").await;
    assert!(
        started.elapsed() >= Duration::from_millis(250 * 8),
        "eight calls, each late"
    );
    assert_eq!(app.sim.total_calls(), 8, "none was repeated");
}

/// Failures that show DingTalk did not run the call: a code-redeeming call is sent again, and
/// the login gets through.
const UNRUN: [FaultKind; 5] = [
    FaultKind::Status(502),
    FaultKind::Status(504),
    FaultKind::Busy,
    FaultKind::Reset,
    FaultKind::RateLimited,
];
/// Failures after which the call may have run: the code is not sent again.
const MAYBE_RUN: [FaultKind; 2] = [FaultKind::Status(500), FaultKind::Malformed];

/// For each fault on the code-redeeming call `path`: retried faults let `login` through with
/// the call sent twice; the others fail it as temporarily unavailable with the call sent once;
/// and an answer lost after the call ran (the code used) fails it the same way, never as a
/// rejected code, after two sends. Inside the DingTalk client (`in_app`) the page then tries
/// once more by itself, with a new code: a fault must strike that one too to fail the login.
async fn code_call_faults<F, Fut>(app: &TestApp, path: &str, in_app: bool, login: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = HashMap<String, String>>,
{
    let tries = if in_app { 2 } else { 1 };
    assert!(login().await.contains_key("code"), "a first login, for the app token");
    for kind in UNRUN {
        app.sim.reset_calls();
        app.sim.inject(Fault::new(kind).on(path).times(1));
        let query = login().await;
        assert!(query.contains_key("code"), "{kind}: {query:?}");
        assert_eq!(app.sim.call_count(path), 2, "{kind}: sent again");
    }
    for kind in MAYBE_RUN {
        app.sim.reset_calls();
        app.sim.inject(Fault::new(kind).on(path).times(tries));
        let query = login().await;
        assert_eq!(query["error"], "temporarily_unavailable", "{kind}");
        assert_eq!(app.sim.call_count(path), tries, "{kind}: each code sent once");
    }
    app.sim.reset_calls();
    app.sim.inject(Fault::new(FaultKind::Lost(502)).on(path).times(1));
    let query = login().await;
    if in_app {
        assert!(
            query.contains_key("code"),
            "the page's own retry got through: {query:?}"
        );
        assert_eq!(app.sim.call_count(path), 3, "lost, refused as used, a new code");
    } else {
        assert_eq!(query["error"], "temporarily_unavailable", "{query:?}");
        assert!(!query["error_description"].contains("code"), "{query:?}");
        assert_eq!(app.sim.call_count(path), 2, "the retry was told the code was used");
    }
}

#[tokio::test]
async fn a_web_login_code_is_sent_again_only_when_dingtalk_cannot_have_used_it() {
    let app = TestApp::spawn().await;
    code_call_faults(&app, USER_ACCESS_TOKEN, false, || web_login(&app, "zhangsan")).await;
    // A timed-out call may still be running with the code: not sent again.
    app.sim.reset_calls();
    app.sim.inject(
        Fault::new(FaultKind::Delay(Duration::from_millis(2500)))
            .on(USER_ACCESS_TOKEN)
            .times(1),
    );
    assert_eq!(web_login(&app, "zhangsan").await["error"], "temporarily_unavailable");
    assert_eq!(app.sim.call_count(USER_ACCESS_TOKEN), 1);
}

#[tokio::test]
async fn an_in_app_login_code_is_sent_again_only_when_dingtalk_cannot_have_used_it() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    code_call_faults(&app, GETUSERINFO, true, || in_app_login(&app)).await;
}

#[tokio::test]
async fn a_legacy_login_code_is_sent_again_only_when_dingtalk_cannot_have_used_it() {
    let app = TestApp::spawn_with(TestAppOptions {
        env: crate::support::app::legacy_login_env(),
        ..Default::default()
    })
    .await;
    code_call_faults(&app, "/sns/getuserinfo_bycode", false, || web_login(&app, "zhangsan")).await;
}

#[tokio::test]
async fn a_login_that_fails_upstream_leaves_no_person_session_or_code_behind() {
    let app = TestApp::spawn().await;
    app.sim.inject(Fault::new(FaultKind::Status(503)).on(USER_GET));
    app.sim.set_auto_login(Some("zhangsan".into()));
    let browser = new_browser();
    let landing = app.follow_with(&browser, &app.authorize_url("")).await;
    let query = landing.query();
    assert_eq!(query["error"], "temporarily_unavailable");
    assert!(!query.contains_key("code"));
    assert!(query["error_description"].contains("DingTalk"), "{query:?}");
    assert_eq!(app.sim.call_count(USER_GET), 6, "read six times, then given up");

    let now = app.clock.now();
    assert!(app.db.find_user("zhangsan").await.unwrap().is_none());
    assert_eq!(app.db.count_live_sessions(now).await.unwrap(), 0);
    assert!(app.db.sessions_of_user("zhangsan").await.unwrap().is_empty());
    // The same browser has no dingo session: a silent login needs DingTalk again.
    let silent = app.follow_with(&browser, &app.authorize_url("&prompt=none")).await;
    assert_eq!(silent.query()["error"], "login_required");
}

#[tokio::test]
async fn a_dingtalk_that_stops_answering_fails_a_login_within_the_timeout() {
    let app = spawn_with_env(&[("DINGO_DINGTALK__TIMEOUT_MS", "500")]).await;
    app.sim
        .inject(Fault::new(FaultKind::Delay(Duration::from_secs(30))).on(USER_GET));
    let started = Instant::now();
    let query = web_login(&app, "zhangsan").await;
    let elapsed = started.elapsed();
    assert_eq!(query["error"], "temporarily_unavailable");
    assert!(elapsed < Duration::from_millis(500 + 2000), "took {elapsed:?}");
    assert_eq!(app.sim.call_count(USER_GET), 1, "the timed-out read used up its time");
}

#[tokio::test]
async fn when_dingtalk_is_down_logins_fail_cleanly_and_once_the_circuit_opens_at_once() {
    let app = spawn_with_env(&[("DINGO_DINGTALK__TIMEOUT_MS", "1000")]).await;
    app.sim.set_outage(Some(503));
    // A 503 comes before the code is used, so each login's first call goes up to six times, as
    // its one-second deadline allows: two logins open the circuit (ten failures in a row), and
    // the others fail at once.
    for _ in 0..5 {
        let started = Instant::now();
        let query = web_login(&app, "zhangsan").await;
        assert_eq!(query["error"], "temporarily_unavailable");
        assert!(started.elapsed() < Duration::from_millis(1000 + 2000));
    }
    assert_eq!(app.sim.total_calls(), 10);
    assert!(
        app.metrics()
            .await
            .lines()
            .any(|l| l == "dingo_dingtalk_circuit_state 1")
    );

    app.sim.set_outage(None);
    let started = Instant::now();
    let query = web_login(&app, "zhangsan").await;
    let elapsed = started.elapsed();
    assert_eq!(query["error"], "temporarily_unavailable");
    assert_eq!(
        app.sim.total_calls(),
        10,
        "DingTalk was not asked while the circuit is open"
    );
    assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");
    // Logins three to five and this one at least (the second may have met the open circuit
    // too, depending on how its retries' jittered waits fitted its deadline).
    let refused: u64 = app
        .metrics()
        .await
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"dingo_dingtalk_calls_total{api="oauth2/userAccessToken",result="circuit_open"} "#)
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(refused >= 4, "{refused}");
}

#[tokio::test]
async fn a_burst_of_logins_stays_under_dingtalks_rate_limit() {
    let app = std::sync::Arc::new(spawn_with_env(&[("DINGO_DINGTALK__TIMEOUT_MS", "5000")]).await);
    // A first login caches the app token, the unionid mapping and the departments: each login
    // below costs userAccessToken, users/me and user/get, 25 calls to each API at once, which
    // dingo's default limit (15 a second per API) spreads over more than a second.
    assert!(web_login(&app, "zhangsan").await.contains_key("code"));
    app.sim.reset_calls();
    app.sim.set_rate_limit(Some(20));
    let logins: Vec<_> = (0..25)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let query = tokio::time::timeout(NO_HANG, app.follow_with(&new_browser(), &app.authorize_url("")))
                    .await
                    .expect("the login hung")
                    .query();
                query.contains_key("code")
            })
        })
        .collect();
    let mut ok = 0;
    for login in logins {
        ok += usize::from(login.await.unwrap());
    }
    assert_eq!(ok, 25, "every login succeeded");
    assert_eq!(app.sim.throttled_count(), 0, "DingTalk never had to refuse a call");
    assert_eq!(calls(&app, &[USER_ACCESS_TOKEN, USERS_ME, USER_GET]), [25, 25, 25]);
}

#[tokio::test]
async fn a_login_dingtalk_failed_is_one_click_from_success_with_the_same_request() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let browser = new_browser();
    let (verifier, challenge) = pkce_pair();
    let authorize = app.authorize_url(&format!("&code_challenge={challenge}&code_challenge_method=S256"));
    // Prime the app token, so that the code call is the one that fails.
    assert!(
        app.follow_with(&new_browser(), &authorize)
            .await
            .query()
            .contains_key("code")
    );
    app.sim
        .inject(Fault::new(FaultKind::Status(500)).on(USER_ACCESS_TOKEN).times(1));
    let landing = app.follow_with(&browser, &authorize).await;
    let (status, page) = landing.page();
    assert_eq!(status, 503);
    assert!(
        page.contains("钉钉暂时没有响应") && page.contains("DingTalk did not answer"),
        "{page}"
    );
    let back = landing.query();
    assert_eq!(
        (back["error"].as_str(), back["state"].as_str()),
        ("temporarily_unavailable", "st-1")
    );

    // Try again: DingTalk's login for the same request, back to the app with its state, nonce
    // and PKCE challenge.
    let again = landing.try_again_link().unwrap();
    assert!(again.starts_with(&app.url("/login/dingtalk/again?state=")), "{again}");
    let q = app.follow_with(&browser, &again).await.query();
    assert_eq!(q["state"], "st-1");
    let tokens: Value = app
        .browser
        .post(app.url("/token"))
        .basic_auth(crate::support::app::WEB_CLIENT, Some(crate::support::app::WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", crate::support::app::WEB_REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = crate::support::app::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (claims["sub"].as_str(), claims["nonce"].as_str()),
        (Some("zhangsan"), Some("n-1"))
    );
    // The retry's state is single use, and another browser cannot use it.
    let (status, _) = app.follow_with(&browser, &again).await.page();
    assert_eq!(status, 400, "used");

    app.sim
        .inject(Fault::new(FaultKind::Status(500)).on(USER_ACCESS_TOKEN).times(1));
    let landing = app.follow_with(&browser, &format!("{authorize}&prompt=login")).await;
    let again = landing.try_again_link().unwrap();
    let (status, page) = app.follow_with(&new_browser(), &again).await.page();
    assert_eq!(status, 400, "another browser: {page}");
    // Too late: the page says the login took too long.
    app.clock.advance(601);
    let (status, page) = app.follow_with(&browser, &again).await.page();
    assert_eq!(status, 403);
    assert!(page.contains("登录超时"), "{page}");
}

/// A PKCE verifier and its S256 challenge.
fn pkce_pair() -> (String, String) {
    let verifier = dingo::crypto::random_token();
    let challenge = dingo::crypto::b64url(dingo::crypto::sha256(&verifier));
    (verifier, challenge)
}

#[tokio::test]
async fn connections_to_dingtalk_are_kept_and_reused_across_logins() {
    let app = TestApp::spawn_with(TestAppOptions {
        dingtalk_proxy: true,
        ..Default::default()
    })
    .await;
    let proxy = app.proxy.as_ref().unwrap();
    app.sim.set_auto_login(Some("zhangsan".into()));
    for _ in 0..10 {
        assert!(web_login(&app, "zhangsan").await.contains_key("code"));
    }
    // About thirty calls; a background task (the reconciliation) may have needed one more.
    let first = proxy.connections();
    assert!(first <= 3, "ten logins one after another opened {first} connections");
    // With DingTalk slow, concurrent logins hold a connection each; a second wave finds them
    // waiting in the pool instead of opening more.
    app.sim.set_latency(Duration::from_millis(50));
    let wave = || futures_util::future::join_all((0..10).map(|_| web_login(&app, "zhangsan")));
    assert!(wave().await.iter().all(|q| q.contains_key("code")));
    let after_first = proxy.connections();
    assert!(after_first <= first + 10, "{after_first}");
    assert!(wave().await.iter().all(|q| q.contains_key("code")));
    // Without reuse it would open one per call: thirty.
    let second = proxy.connections() - after_first;
    assert!(second <= 2, "the second wave opened {second} connections");
}
