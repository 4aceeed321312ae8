//! `/metrics`: the series a login produces, their labels, histograms, and the separate address.

use crate::support::process::free_port;
use crate::support::{TestApp, TestAppOptions};

async fn scrape(app: &TestApp) -> String {
    let response = app.browser.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels exactly as rendered).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

fn assert_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(text.lines().any(|l| l == *line), "{line:?} missing from\n{text}");
    }
}

#[tokio::test]
async fn a_web_login_is_counted_by_route_pattern_and_by_dingtalk_api() {
    let app = TestApp::spawn().await;
    let tokens = app.tokens_for("zhangsan").await;
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    let text = scrape(&app).await;
    assert_lines(
        &text,
        &[
            r#"dingo_dingtalk_calls_total{api="oauth2/accessToken",result="ok"} 1"#,
            r#"dingo_dingtalk_calls_total{api="oauth2/userAccessToken",result="ok"} 1"#,
            r#"dingo_dingtalk_calls_total{api="contact/users/me",result="ok"} 1"#,
            r#"dingo_dingtalk_calls_total{api="topapi/user/getbyunionid",result="ok"} 1"#,
            r#"dingo_dingtalk_calls_total{api="topapi/v2/user/get",result="ok"} 1"#,
            // 研发部 (2), its parent 示例科技 (1) and 平台组 (4).
            r#"dingo_dingtalk_calls_total{api="topapi/v2/department/get",result="ok"} 3"#,
            r#"dingo_dingtalk_app_token_cache_total{result="miss"} 1"#,
            r#"dingo_dingtalk_app_token_cache_total{result="hit"} 4"#,
            r#"dingo_dingtalk_call_duration_seconds_count{api="topapi/v2/user/get"} 1"#,
            r#"dingo_http_requests_total{route="/authorize",method="GET",status="302"} 1"#,
            r#"dingo_http_requests_total{route="/login/dingtalk/callback",method="GET",status="302"} 1"#,
            r#"dingo_http_requests_total{route="/token",method="POST",status="200"} 1"#,
            r#"dingo_http_requests_total{route="/userinfo",method="GET",status="200"} 1"#,
            r#"dingo_http_request_duration_seconds_count{route="/token"} 1"#,
            "# TYPE dingo_http_request_duration_seconds histogram",
            "# TYPE dingo_dingtalk_calls_total counter",
            "# TYPE dingo_sessions_active gauge",
            "# TYPE dingo_logins_total counter",
            "# TYPE dingo_tokens_issued_total counter",
        ],
    );

    // The /token histogram: cumulative buckets up to +Inf, which equals _count; a positive sum.
    let prefix = r#"dingo_http_request_duration_seconds_bucket{route="/token",le=""#;
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|rest| {
            let (le, count) = rest.split_once("\"} ").unwrap();
            (le.to_owned(), count.parse().unwrap())
        })
        .collect();
    assert_eq!(buckets.len(), 12, "{buckets:?}");
    assert_eq!(buckets[0].0, "0.005");
    assert_eq!(buckets[11], ("+Inf".to_owned(), 1.0));
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    let sum = value(&text, r#"dingo_http_request_duration_seconds_sum{route="/token"}"#).unwrap();
    assert!(sum > 0.0 && sum < 10.0, "{sum}");
}

#[tokio::test]
async fn a_returning_person_costs_three_calls_and_hits_the_app_token_cache() {
    let app = TestApp::spawn().await;
    app.login_as("zhangsan", "").await;
    let other_browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    app.follow_with(&other_browser, &app.authorize_url(""))
        .await
        .client_url();
    let text = scrape(&app).await;
    assert_lines(
        &text,
        &[
            r#"dingo_dingtalk_calls_total{api="oauth2/accessToken",result="ok"} 1"#,
            r#"dingo_dingtalk_calls_total{api="oauth2/userAccessToken",result="ok"} 2"#,
            r#"dingo_dingtalk_calls_total{api="topapi/user/getbyunionid",result="ok"} 1"#,
            r#"dingo_dingtalk_calls_total{api="topapi/v2/user/get",result="ok"} 2"#,
            r#"dingo_dingtalk_app_token_cache_total{result="miss"} 1"#,
        ],
    );
}

#[tokio::test]
async fn routes_are_labelled_by_pattern_never_by_raw_path_or_query() {
    let app = TestApp::spawn().await;
    let lost = app
        .browser
        .get(app.url("/no/such/page-4711?code=leaked-code"))
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), 404);
    let bad = app
        .browser
        .get(app.url("/authorize?client_id=nobody-4711&code=leaked-code"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let text = scrape(&app).await;
    for raw in ["4711", "leaked-code", "/no/such", "?"] {
        assert!(!text.contains(raw), "{raw:?} in\n{text}");
    }
    assert_lines(
        &text,
        &[
            r#"dingo_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"dingo_http_requests_total{route="/authorize",method="GET",status="400"} 1"#,
        ],
    );
}

#[tokio::test]
async fn dingtalk_errors_and_outages_are_counted_by_result() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    // A 503 comes before the code is used: sent six times (the default five retries).
    app.sim.set_outage(Some(503));
    let q = app.follow(&app.authorize_url("")).await.query();
    assert_eq!(q["error"], "temporarily_unavailable");
    app.sim.set_outage(None);
    // 赵六 has a DingTalk account but is not a member: getbyunionid answers errcode 60121.
    app.sim.set_auto_login(Some("m9RtC4pWdYjE2uAaS6kQhZgiEiE".into()));
    let (status, _) = app.follow(&app.authorize_url("")).await.page();
    assert_eq!(status, 403);
    let text = scrape(&app).await;
    assert_lines(
        &text,
        &[
            r#"dingo_dingtalk_calls_total{api="oauth2/userAccessToken",result="http_5xx"} 6"#,
            r#"dingo_dingtalk_calls_total{api="topapi/user/getbyunionid",result="60121"} 1"#,
        ],
    );
}

#[tokio::test]
async fn an_unreachable_dingtalk_is_a_connect_error() {
    let app = TestApp::spawn_with(TestAppOptions {
        dingtalk_unreachable: true,
        ..Default::default()
    })
    .await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    app.follow(&app.authorize_url("")).await.query();
    let text = scrape(&app).await;
    assert_lines(
        &text,
        &[r#"dingo_dingtalk_calls_total{api="oauth2/userAccessToken",result="connect_error"} 6"#],
    );
}

#[tokio::test]
async fn a_silent_dingtalk_is_a_timeout() {
    let app = TestApp::spawn_with(TestAppOptions {
        dingtalk_silent: true,
        ..Default::default()
    })
    .await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    app.follow(&app.authorize_url("")).await.query();
    let text = scrape(&app).await;
    assert_lines(
        &text,
        &[r#"dingo_dingtalk_calls_total{api="oauth2/userAccessToken",result="timeout"} 1"#],
    );
}

#[tokio::test]
async fn with_metrics_listen_set_metrics_are_served_only_on_that_address() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let (mut dingo, issuer) = super::start_dingo(
        dir.path(),
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &format!("[metrics]\nlisten = \"{metrics_address}\"\n"),
        &[],
    );
    let http = reqwest::Client::new();
    let main = http.get(format!("{issuer}/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 404);
    let health = http.get(format!("{issuer}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let separate = http
        .get(format!("http://{metrics_address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(separate.status(), 200);
    let text = separate.text().await.unwrap();
    assert_lines(
        &text,
        &[
            r#"dingo_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"dingo_http_requests_total{route="/healthz",method="GET",status="200"} 1"#,
        ],
    );
    drop(http);
    dingo.signal("TERM");
    let (status, _) = dingo.wait();
    assert!(status.success());
}

#[tokio::test]
async fn logins_are_counted_by_route_and_outcome_and_tokens_by_grant() {
    let app = TestApp::spawn().await;
    app.tokens_for("zhangsan").await;
    app.sim.set_auto_login(Some("m9RtC4pWdYjE2uAaS6kQhZgiEiE".into()));
    app.follow_with(&crate::support::app::new_browser(), &app.authorize_url(""))
        .await;
    let text = scrape(&app).await;
    for expected in [
        r#"dingo_logins_total{route="dingtalk_web",outcome="success"} 1"#,
        r#"dingo_logins_total{route="dingtalk_web",outcome="refused_not_member"} 1"#,
        r#"dingo_tokens_issued_total{grant="authorization_code"} 1"#,
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
}

#[tokio::test]
async fn upkeep_counts_live_sessions_and_purges_what_expired() {
    let app = TestApp::spawn().await;
    app.tokens_for("zhangsan").await;
    app.tokens_for("lisi").await;
    let metrics = dingo::telemetry::Metrics::new();
    let clock: dingo::clock::SharedClock = app.clock.clone();
    dingo::housekeeping::run_once(&app.db, &clock, &metrics, 86_400 * 180).await;
    assert_eq!(app.db.count_live_sessions(clock.now()).await.unwrap(), 2);
    assert!(
        metrics.render().contains("dingo_sessions_active 2"),
        "{}",
        metrics.render()
    );
    // A day later every session, code and access token of those logins has expired.
    app.clock.advance(86_400);
    dingo::housekeeping::run_once(&app.db, &clock, &metrics, 86_400 * 180).await;
    assert!(metrics.render().contains("dingo_sessions_active 0"));
    assert_eq!(
        app.db.purge_expired(clock.now(), 500).await.unwrap(),
        0,
        "nothing left to purge"
    );
}
