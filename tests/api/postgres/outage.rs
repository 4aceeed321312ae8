//! PostgreSQL going away mid-run: readiness fails, requests fail fast and cleanly, and dingo
//! recovers by itself when the database is back. The database link is cut with a TCP proxy
//! between dingo and PostgreSQL, which drops every connection and refuses new ones, as a
//! stopped server does; the other tests keep using the same server undisturbed.

use std::time::{Duration, Instant};

use crate::support::database::{postgres_database, postgres_required};
use crate::support::tcp_proxy::TcpProxy;
use crate::support::{TestApp, TestAppOptions};

/// A request while the database is away must be answered within this.
const FAST: Duration = Duration::from_secs(5);

/// dingo on a fresh database of `server`, reached through a proxy the test can cut; `env` is
/// more of dingo's settings.
async fn behind_a_proxy(server: &url::Url, mut env: Vec<(&'static str, String)>) -> (TcpProxy, TestApp) {
    let proxy = TcpProxy::start(&format!(
        "{}:{}",
        server.host_str().unwrap(),
        server.port().unwrap_or(5432)
    ))
    .await;
    let mut via_proxy = url::Url::parse(&postgres_database(server, &uuid::Uuid::new_v4().to_string())).unwrap();
    via_proxy.set_port(Some(proxy.address.port())).unwrap();
    env.push(("DINGO_DATABASE__URL", via_proxy.to_string()));
    let app = TestApp::spawn_with(TestAppOptions {
        env,
        ..TestAppOptions::default()
    })
    .await;
    (proxy, app)
}

#[tokio::test]
async fn postgres_outage_gives_fast_503s_and_dingo_recovers_without_a_restart() {
    let server = postgres_required("postgres_outage_gives_fast_503s_and_dingo_recovers_without_a_restart");
    let (proxy, app) = behind_a_proxy(&server, vec![("DINGO_DATABASE__ACQUIRE_TIMEOUT_MS", "1000".into())]).await;
    let before = app.login_as("zhangsan", "").await;
    let pending_code = app.login_as("lisi", "").await["code"].clone();
    let token = app
        .redeem(&before["code"])
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    proxy.cut();
    let timed = |started: Instant, what: &str| {
        let took = started.elapsed();
        assert!(took < FAST, "{what} took {took:?} while the database was away");
    };
    let started = Instant::now();
    let ready = app.browser.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    timed(started, "/readyz");

    let started = Instant::now();
    let redeemed = app.redeem(&pending_code).await;
    assert_eq!(redeemed.status(), 503);
    assert_eq!(redeemed.headers()["cache-control"], "no-store");
    let body: serde_json::Value = redeemed.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    timed(started, "/token");

    let started = Instant::now();
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 503);
    assert_eq!(
        userinfo.json::<serde_json::Value>().await.unwrap()["error"],
        "temporarily_unavailable"
    );
    timed(started, "/userinfo");

    let started = Instant::now();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let landing = app
        .follow_with(&crate::support::app::new_browser(), &app.authorize_url(""))
        .await;
    assert_eq!(
        landing.query()["error"],
        "temporarily_unavailable",
        "the app is told, the person not stranded"
    );
    timed(started, "a login");

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready = app.browser.get(app.url("/readyz")).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dingo did not recover: {}",
            ready.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let redeemed = app.redeem(&pending_code).await;
    assert_eq!(
        redeemed.status(),
        200,
        "the code refused during the outage is still good: nothing was used up"
    );
    let after = app.login_as("zhangsan", "").await;
    assert_eq!(app.redeem(&after["code"]).await.status(), 200);
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200, "tokens issued before the outage still work");
}

#[tokio::test]
async fn postgres_connections_broken_while_idle_are_replaced_before_use() {
    let server = postgres_required("postgres_connections_broken_while_idle_are_replaced_before_use");
    let (proxy, app) = behind_a_proxy(&server, Vec::new()).await;
    let login = app.login_as("zhangsan", "").await;
    let redeemed: serde_json::Value = app.redeem(&login["code"]).await.json().await.unwrap();
    let token = redeemed["access_token"].as_str().unwrap().to_owned();
    let userinfo_statuses = || async {
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let request = app.browser.get(app.url("/userinfo")).bearer_auth(&token);
            requests.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        requests.join_all().await
    };
    // Concurrent requests open several connections, which then wait in the pool.
    assert_eq!(userinfo_statuses().await, [200; 8]);

    // The database restarts while they sit idle: every one of them is dead.
    proxy.cut();
    proxy.restore().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        userinfo_statuses().await,
        [200; 8],
        "a connection idle across the restart is tested and replaced, not handed to a request"
    );
}
