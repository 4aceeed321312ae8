//! Rate limits (429 with `Retry-After`) per client and per source address, and request sizes
//! (413 for bodies, 414 for query strings).

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::app::{SPA_CLIENT, WEB_CLIENT, WEB_SECRET};
use crate::support::{TestApp, TestAppOptions};

async fn app_with_limits(limits: &str) -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!("[limits]\n{limits}\n"),
        ..Default::default()
    })
    .await
}

/// A token request with a code that does not exist: 400 when it gets through.
async fn token_request(app: &TestApp, client: &str) -> reqwest::Response {
    app.browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", "no-such-code")])
        .send()
        .await
        .unwrap()
}

async fn post_form(app: &TestApp, path: &str, client: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app
        .browser
        .post(app.url(path))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&[("token", "not-a-token")]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// Checks a 429 from an OAuth endpoint and returns its `Retry-After` seconds.
async fn assert_oauth_429(response: reqwest::Response) -> u64 {
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("too many requests")
    );
    retry_after
}

#[tokio::test]
async fn a_client_that_spent_its_burst_gets_429_with_retry_after_until_it_refills() {
    let app = app_with_limits("oauth_client_per_minute = 1\noauth_client_burst = 3").await;
    for _ in 0..3 {
        assert_eq!(token_request(&app, WEB_CLIENT).await.status(), 400);
    }
    let retry_after = assert_oauth_429(token_request(&app, WEB_CLIENT).await).await;
    assert!((50..=60).contains(&retry_after), "one request a minute: {retry_after}");
    // Another client has its own budget.
    assert_eq!(token_request(&app, SPA_CLIENT).await.status(), 401);
    let text = app.metrics().await;
    assert!(
        text.contains("dingo_rate_limited_total{route=\"/token\",key=\"client\"} 1\n"),
        "{text}"
    );
    app.clock.advance(retry_after as i64);
    assert_eq!(token_request(&app, WEB_CLIENT).await.status(), 400);
}

#[tokio::test]
async fn token_introspection_and_revocation_share_a_clients_budget() {
    let app = app_with_limits("oauth_client_per_minute = 2\noauth_client_burst = 2").await;
    assert_eq!(post_form(&app, "/introspect", WEB_CLIENT, None).await.status(), 200);
    assert_eq!(post_form(&app, "/revoke", WEB_CLIENT, None).await.status(), 200);
    let retry_after = assert_oauth_429(token_request(&app, WEB_CLIENT).await).await;
    assert!((20..=30).contains(&retry_after), "{retry_after}");
    assert_oauth_429(post_form(&app, "/introspect", WEB_CLIENT, None).await).await;
    assert_oauth_429(post_form(&app, "/revoke", WEB_CLIENT, None).await).await;
}

#[tokio::test]
async fn one_address_is_limited_whatever_it_sends_and_whichever_client_it_names() {
    let app = app_with_limits("oauth_address_per_minute = 1\noauth_address_burst = 3").await;
    assert_eq!(token_request(&app, WEB_CLIENT).await.status(), 400);
    assert_eq!(token_request(&app, "no-such-client").await.status(), 401);
    let not_a_form = app
        .browser
        .post(app.url("/introspect"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 400);
    let retry_after = assert_oauth_429(token_request(&app, SPA_CLIENT).await).await;
    assert!((50..=60).contains(&retry_after), "{retry_after}");
    let text = app.metrics().await;
    assert!(
        text.contains("dingo_rate_limited_total{route=\"/token\",key=\"address\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let app = app_with_limits("oauth_address_per_minute = 1\noauth_address_burst = 2").await;
    // A client cannot get a fresh budget by claiming other addresses.
    assert_eq!(
        post_form(&app, "/revoke", WEB_CLIENT, Some("203.0.113.1"))
            .await
            .status(),
        200
    );
    assert_eq!(
        post_form(&app, "/revoke", WEB_CLIENT, Some("203.0.113.2"))
            .await
            .status(),
        200
    );
    assert_oauth_429(post_form(&app, "/revoke", WEB_CLIENT, Some("203.0.113.3")).await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_budget() {
    let app =
        app_with_limits("oauth_address_per_minute = 1\noauth_address_burst = 2\ntrusted_proxies = [\"127.0.0.0/8\"]")
            .await;
    let first = Some("198.51.100.1, 203.0.113.1");
    assert_eq!(post_form(&app, "/revoke", WEB_CLIENT, first).await.status(), 200);
    assert_eq!(post_form(&app, "/revoke", WEB_CLIENT, first).await.status(), 200);
    assert_oauth_429(post_form(&app, "/revoke", WEB_CLIENT, first).await).await;
    // The entry the proxy appended counts, not what the client wrote before it.
    let spoofed = Some("198.51.100.2, 203.0.113.1");
    assert_oauth_429(post_form(&app, "/revoke", WEB_CLIENT, spoofed).await).await;
    let second = Some("203.0.113.2");
    assert_eq!(post_form(&app, "/revoke", WEB_CLIENT, second).await.status(), 200);
}

#[tokio::test]
async fn login_callbacks_answer_a_bilingual_429_page_once_an_address_spent_its_burst() {
    let app = app_with_limits("login_address_per_minute = 1\nlogin_address_burst = 3").await;
    let browser = &app.browser;
    let callback = browser
        .get(app.url("/login/dingtalk/callback?authCode=x&state=unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 400);
    let fallback = browser
        .get(app.url("/login/dingtalk/web?state=unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(fallback.status(), 400);
    let in_app = browser
        .post(app.url("/login/dingtalk/inapp"))
        .form(&[("state", "unknown"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(in_app.status(), 400);
    for limited in [
        browser.get(app.url("/login/dingtalk/callback?code=x&state=s")),
        browser.post(app.url("/login/dingtalk/inapp")).form(&[("state", "s")]),
        browser.get(app.url("/login/dingtalk/web?state=s")),
    ] {
        let response = limited.send().await.unwrap();
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((50..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        let (zh, en) = (
            html.find("请求过于频繁").unwrap(),
            html.find("Too many requests").unwrap(),
        );
        assert!(zh < en, "Chinese first: {html}");
        assert!(html.contains(&format!("{retry_after} 秒")) && html.contains(&format!("{retry_after} seconds")));
    }
    // The OAuth endpoints have their own budget.
    assert_eq!(token_request(&app, WEB_CLIENT).await.status(), 400);
    let text = app.metrics().await;
    assert!(text.contains("dingo_rate_limited_total{route=\"/login/dingtalk/inapp\",key=\"address\"} 1\n"));
}

#[tokio::test]
async fn the_default_limits_let_a_busy_client_through() {
    let app = TestApp::spawn().await;
    for _ in 0..150 {
        assert_eq!(post_form(&app, "/introspect", WEB_CLIENT, None).await.status(), 200);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_it_is_parsed() {
    let app = app_with_limits("max_body_bytes = 2048").await;
    let big = "x".repeat(4096);
    let token = app
        .browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 413);
    assert_eq!(token.headers()["cache-control"], "no-store");
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    for path in ["/introspect", "/revoke", "/userinfo"] {
        let response = app
            .browser
            .post(app.url(path))
            .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
            .form(&[("token", big.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
    for path in ["/logout", "/authorize", "/login/dingtalk/inapp"] {
        let response = app
            .browser
            .post(app.url(path))
            .form(&[("state", big.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("请求过大") && html.contains("Request too large"),
            "{path}: {html}"
        );
    }
    // Just under the limit is read as usual.
    let fits = "x".repeat(1900);
    let response = token_request_with_code(&app, &fits).await;
    assert_eq!(response.status(), 400);
}

async fn token_request_with_code(app: &TestApp, code: &str) -> reqwest::Response {
    app.browser
        .post(app.url("/token"))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_default_body_limit_is_64_kib() {
    let app = TestApp::spawn().await;
    let response = token_request_with_code(&app, &"x".repeat(70_000)).await;
    assert_eq!(response.status(), 413);
    let response = token_request_with_code(&app, &"x".repeat(60_000)).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_chunked_body_without_a_length_is_cut_off_at_the_limit() {
    let app = app_with_limits("max_body_bytes = 2048").await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // 4 KiB in 1 KiB chunks: no Content-Length tells dingo in advance that it is too much.
    let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
    let body = format!("{}0\r\n\r\n", chunk.repeat(4));
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
}

#[tokio::test]
async fn a_query_string_over_the_limit_gets_a_414_page() {
    let app = app_with_limits("max_query_bytes = 1024").await;
    let long = app.authorize_url(&format!("&login_hint={}", "x".repeat(1100)));
    let response = app.browser.get(&long).send().await.unwrap();
    assert_eq!(response.status(), 414);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(html.contains("请求地址过长") && html.contains("Request URL too long"));
    let callback = app
        .browser
        .get(app.url(&format!("/login/dingtalk/callback?code={}", "x".repeat(1100))))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 414);
    let short = app.browser.get(app.authorize_url("")).send().await.unwrap();
    assert_eq!(short.status(), 302);
}

#[tokio::test]
async fn authorize_answers_a_bilingual_429_page_once_an_address_spent_its_burst() {
    let app = app_with_limits("authorize_address_per_minute = 1\nauthorize_address_burst = 2").await;
    for _ in 0..2 {
        let to_dingtalk = app.browser.get(app.authorize_url("")).send().await.unwrap();
        assert_eq!(to_dingtalk.status(), 302);
    }
    for limited in [
        app.browser.get(app.authorize_url("")),
        app.browser
            .post(app.url("/authorize"))
            .form(&[("client_id", WEB_CLIENT)]),
    ] {
        let response = limited.send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let html = response.text().await.unwrap();
        assert!(html.find("请求过于频繁").unwrap() < html.find("Too many requests").unwrap());
    }
}
