//! DingTalk's organisation-change events by Stream: dingo keeps a WebSocket to the simulator's
//! gateway, acknowledges every frame once it is recorded, answers pings, and comes back after a
//! `disconnect`, a dropped socket or a silent connection without losing an event.

use std::time::{Duration, Instant};

use dingo::sim::{DeliveryState, SimEvent, Simulator, StreamSubscription};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::events::{audit, quiet, refresh, settled, userinfo};
use crate::support::app::{WEB_CLIENT, jwt_claims};
use crate::support::receiver::Receiver;
use crate::support::{TestApp, TestAppOptions};

/// The gateway as in DingTalk, but redelivering sooner and pinging more often.
fn gateway() -> StreamSubscription {
    StreamSubscription {
        ack_timeout: Duration::from_secs(1),
        retry_after: [300, 600, 1000, 2000, 4000].map(Duration::from_millis).to_vec(),
        ping_every: Some(Duration::from_millis(200)),
        drain: Duration::from_secs(1),
        ..Default::default()
    }
}

async fn stream_app(receiver: &Receiver, subscription: StreamSubscription, options: TestAppOptions) -> TestApp {
    let app = TestApp::spawn_with(TestAppOptions {
        events_stream: Some(subscription),
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..options
    })
    .await;
    connected(&app.sim, 1).await;
    app
}

/// Waits until the simulator's gateway holds `n` connections.
pub(crate) async fn connected(sim: &Simulator, n: usize) {
    for _ in 0..500 {
        if sim.gateway_stats().connected == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not {n} connections: {:?}", sim.gateway_stats());
}

/// The subjects of the next `n` logout tokens, each awaited at most `seconds`, sorted.
pub(crate) async fn told(receiver: &mut Receiver, n: usize, seconds: u64) -> Vec<String> {
    let mut told = Vec::new();
    while told.len() < n
        && let Some(token) = receiver.next_token(seconds).await
    {
        told.push(jwt_claims(&token)["sub"].as_str().unwrap().to_owned());
    }
    told.sort();
    told
}

#[tokio::test]
async fn a_leave_by_stream_ends_every_token_and_tells_the_app_within_a_second() {
    let mut receiver = Receiver::start();
    let app = stream_app(&receiver, gateway(), TestAppOptions::default()).await;
    let tokens = app.offline_tokens("zhangsan").await;
    let left = Instant::now();
    app.sim.leave("zhangsan", Some("sunjing"));
    let token = receiver.next_token(1).await.expect("a logout token within a second");
    let took = left.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(jwt_claims(&token)["sub"], "zhangsan");
    assert_eq!(refresh(&app, WEB_CLIENT, &tokens).await, 400);
    assert_eq!(userinfo(&app, &tokens).await, 401);
    let leave = audit(&app, "leave").await;
    assert_eq!(leave.len(), 1);
    assert_eq!(leave[0].actor.as_deref(), Some("dingtalk:sunjing"));
    let deliveries = settled(&app).await;
    assert_eq!(deliveries[0].state, DeliveryState::Acknowledged);
    assert_eq!(deliveries[0].attempts, 1, "acknowledged at the first delivery");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"dingo_org_events_total{via="stream",type="user_leave_org",result="recorded"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"dingo_org_event_to_logout_seconds_count{via="stream"} 1"#));
    assert!(metrics.contains("\ndingo_events_stream_connected 1\n"), "{metrics}");
}

#[tokio::test]
async fn pings_are_answered_with_their_opaque_and_unknown_events_acknowledged() {
    let receiver = Receiver::start();
    let app = stream_app(&receiver, gateway(), TestAppOptions::default()).await;
    app.sim.emit(SimEvent::about("user_add_org", &["newcomer"]));
    app.sim.emit(SimEvent::about("chat_update_title", &[]));
    let deliveries = settled(&app).await;
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Acknowledged && d.attempts == 1),
        "{deliveries:?}"
    );
    for _ in 0..100 {
        if app.sim.gateway_stats().pings_answered >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        app.sim.gateway_stats().pings_answered >= 3,
        "{:?}",
        app.sim.gateway_stats()
    );
    assert_eq!(app.db.count_org_events().await.unwrap(), 0, "nothing to act on");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"dingo_org_events_total{via="stream",type="other",result="ignored"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_disconnect_is_met_by_a_new_connection_before_the_old_one_closes_and_loses_nothing() {
    let mut receiver = Receiver::start();
    let app = stream_app(&receiver, gateway(), TestAppOptions::default()).await;
    app.offline_tokens("zhangsan").await;
    app.offline_tokens("lisi").await;
    app.sim.stream_disconnect("persistent connection is timeout");
    // The replacement is open while the old connection drains.
    connected(&app.sim, 2).await;
    app.sim.leave("zhangsan", None);
    app.sim.leave("lisi", None);
    assert_eq!(told(&mut receiver, 2, 3).await, ["lisi", "zhangsan"]);
    let deliveries = settled(&app).await;
    assert!(
        deliveries.iter().all(|d| d.state == DeliveryState::Acknowledged),
        "{deliveries:?}"
    );
    connected(&app.sim, 1).await;
    assert_eq!(app.sim.gateway_stats().opened, 2);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"dingo_events_stream_reconnects_total{reason="disconnect"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_dropped_socket_or_a_cut_network_loses_no_event() {
    let mut receiver = Receiver::start();
    let app = stream_app(
        &receiver,
        gateway(),
        TestAppOptions {
            dingtalk_proxy: true,
            ..Default::default()
        },
    )
    .await;
    app.offline_tokens("zhangsan").await;
    app.offline_tokens("lisi").await;
    // The socket goes without a close frame.
    app.sim.stream_drop();
    app.sim.leave("zhangsan", None);
    assert_eq!(told(&mut receiver, 1, 4).await, ["zhangsan"]);
    connected(&app.sim, 1).await;
    // The network itself is cut: no connection, and none can be opened, for a while.
    let proxy = app.proxy.as_ref().unwrap();
    proxy.cut();
    app.sim.leave("lisi", None);
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.restore().await;
    assert_eq!(told(&mut receiver, 1, 5).await, ["lisi"]);
    let deliveries = settled(&app).await;
    assert!(
        deliveries.iter().all(|d| d.state == DeliveryState::Acknowledged),
        "{deliveries:?}"
    );
    assert!(
        deliveries[1].attempts >= 2,
        "delivered again once dingo was back: {deliveries:?}"
    );
    assert!(app.sim.gateway_stats().opened >= 3);
    assert_eq!(audit(&app, "leave").await.len(), 2);
}

#[tokio::test]
async fn duplicated_redelivered_and_reordered_events_change_nothing_twice() {
    let mut receiver = Receiver::start();
    let subscription = StreamSubscription {
        duplicate: true,
        reorder: Some(Duration::from_millis(300)),
        ..gateway()
    };
    let app = stream_app(&receiver, subscription, TestAppOptions::default()).await;
    app.offline_tokens("zhangsan").await;
    app.sim.leave("zhangsan", Some("sunjing"));
    app.sim.emit(SimEvent::about("user_modify_org", &["zhangsan"]));
    app.sim.set_admin("lisi", true);
    assert_eq!(told(&mut receiver, 1, 2).await, ["zhangsan"]);
    settled(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    quiet(&app).await;
    assert_eq!(app.db.count_org_events().await.unwrap(), 3, "each event recorded once");
    assert_eq!(audit(&app, "leave").await.len(), 1);
    assert!(receiver.next_token(1).await.is_none(), "told once");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"dingo_org_events_total{via="stream",type="user_leave_org",result="duplicate"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_connection_gone_silent_is_replaced_and_its_events_arrive() {
    let mut receiver = Receiver::start();
    let app = stream_app(
        &receiver,
        gateway(),
        TestAppOptions {
            env: vec![("DINGO_EVENTS__STREAM_SILENCE", "1".into())],
            ..Default::default()
        },
    )
    .await;
    app.offline_tokens("zhangsan").await;
    // Pings every 200 ms keep a sound connection well inside its second of silence.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.sim.gateway_stats().opened, 1, "a sound connection is kept");
    app.sim.stream_silence();
    app.sim.leave("zhangsan", None);
    assert_eq!(told(&mut receiver, 1, 6).await, ["zhangsan"]);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("dingo_events_stream_reconnects_total{reason=\"silent\"}"),
        "{metrics}"
    );
    assert!(settled(&app).await[0].attempts >= 2);
}

#[tokio::test]
async fn refused_credentials_are_said_plainly_and_tried_again_with_backoff() {
    let receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        events_stream: Some(gateway()),
        backchannel_logout_uri: Some(receiver.uri.clone()),
        env: vec![("DINGO_DINGTALK__CLIENT_SECRET", "not-the-secret".into())],
        ..Default::default()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let opens = app.sim.call_count("/v1.0/gateway/connections/open");
    // 100 ms, doubling up to 1 s, with jitter: a handful of tries, not a storm.
    assert!((2..=8).contains(&opens), "{opens} tries");
    assert_eq!(app.sim.gateway_stats().opened, 0);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("dingo_events_stream_reconnects_total{reason=\"auth_failed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("\ndingo_events_stream_connected 0\n"));
}

#[tokio::test]
async fn the_gateway_hands_out_tickets_for_one_connection_within_90_seconds() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let directory = dingo::sim::Directory::sample();
    let (app_key, app_secret) = directory.app_credentials();
    let (app_key, app_secret) = (app_key.to_owned(), app_secret.to_owned());
    let open = |secret: String, accept: &'static str| {
        let http = http.clone();
        let url = format!("{}/v1.0/gateway/connections/open", app.sim_address);
        let body =
            json!({"clientId": app_key, "clientSecret": secret, "subscriptions": [{"type": "EVENT", "topic": "*"}]});
        async move {
            http.post(url)
                .header("accept", accept)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = open("wrong".into(), "application/json").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "authFailed");
    let xml = open(app_secret.clone(), "*/*").await;
    assert!(
        xml.text().await.unwrap().starts_with('<'),
        "XML without Accept: application/json"
    );
    let ticket: Value = open(app_secret.clone(), "application/json").await.json().await.unwrap();
    let url = format!(
        "{}?ticket={}",
        ticket["endpoint"].as_str().unwrap(),
        ticket["ticket"].as_str().unwrap()
    );
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    socket.send(Message::Ping(Vec::new().into())).await.unwrap();
    assert!(matches!(socket.next().await, Some(Ok(Message::Pong(_)))));
    let reused = tokio_tungstenite::connect_async(url.as_str()).await;
    assert!(
        matches!(reused, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 401),
        "a ticket opens one connection"
    );
    let ticket: Value = open(app_secret, "application/json").await.json().await.unwrap();
    app.clock.advance(91);
    let url = format!(
        "{}?ticket={}",
        ticket["endpoint"].as_str().unwrap(),
        ticket["ticket"].as_str().unwrap()
    );
    let expired = tokio_tungstenite::connect_async(url.as_str()).await;
    assert!(matches!(expired, Err(tokio_tungstenite::tungstenite::Error::Http(ref r)) if r.status() == 401));
}

/// `dingo serve` on this instance's configuration and database, in Stream mode, on `port`.
fn serve(app_dir: &std::path::Path, port: u16) -> crate::support::process::Process {
    let mut command = crate::support::process::dingo();
    command
        .arg("serve")
        .current_dir(app_dir)
        .env("DINGO_CONFIG", app_dir.join("dingo.toml"))
        .env("RUST_LOG", "info")
        .env("DINGO_SERVER__ISSUER", format!("http://127.0.0.1:{port}"))
        .env("DINGO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("DINGO_EVENTS__MODE", "stream");
    crate::support::process::Process::start(command, "dingo is serving")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dingo_killed_while_events_arrive_loses_none() {
    let mut receiver = Receiver::start();
    // People log in at an instance in this process, which then stops; `dingo serve` takes over
    // the same database, is killed (SIGKILL) halfway through a stream of events, and starts again.
    let app = TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let people = ["lisi", "zhangsan", "zhouqi"];
    let mut tokens = Vec::new();
    for person in people {
        tokens.push(app.offline_tokens(person).await);
    }
    let (sim, db, dir) = (app.sim.clone(), app.db.clone(), app.dir.clone());
    drop(app);
    sim.subscribe_stream(Some(StreamSubscription {
        retry_after: vec![Duration::from_millis(500); 20],
        ..gateway()
    }));
    let port = crate::support::process::free_port();
    let path = dir.path().to_owned();
    let first = tokio::task::spawn_blocking(move || serve(&path, port)).await.unwrap();
    connected(&sim, 1).await;
    let mut emitted = 0;
    for (i, person) in people.iter().enumerate() {
        sim.leave(person, None);
        for round in 0..5 {
            sim.set_admin("sunjing", round % 2 == 0);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        emitted += 6;
        if i == 0 {
            first.signal("KILL");
        }
    }
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let path = dir.path().to_owned();
    let second = tokio::task::spawn_blocking(move || serve(&path, port)).await.unwrap();
    for _ in 0..600 {
        if sim.deliveries().iter().all(|d| d.state != DeliveryState::Pending) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deliveries = sim.deliveries();
    assert!(
        deliveries.iter().all(|d| d.state == DeliveryState::Acknowledged),
        "{deliveries:?}"
    );
    assert!(
        deliveries.iter().any(|d| d.attempts > 1),
        "some were delivered again after the kill"
    );
    assert_eq!(
        db.count_org_events().await.unwrap(),
        emitted,
        "each event recorded once"
    );
    // A job the killed instance had taken waits for its lease (60 s) to run out.
    let mut told = std::collections::BTreeSet::new();
    while told.len() < people.len()
        && let Some(token) = receiver.next_token(75).await
    {
        told.insert(jwt_claims(&token)["sub"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        told.iter().map(String::as_str).collect::<Vec<_>>(),
        people,
        "every app told of every leaver"
    );
    let http = reqwest::Client::new();
    for t in &tokens {
        let refreshed = http
            .post(format!("http://127.0.0.1:{port}/token"))
            .basic_auth(WEB_CLIENT, Some(crate::support::app::WEB_SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refreshed.status(), 400, "every leaver's refresh token is revoked");
    }
    second.signal("TERM");
}
