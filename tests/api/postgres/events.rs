//! Two instances on one PostgreSQL database receiving the same organisation events, as when
//! DingTalk pushes an event again and the load balancer sends each push elsewhere: each event
//! is recorded and acted on once.

use std::time::Duration;

use dingo::sim::HttpSubscription;

use crate::support::app::{EVENT_AES_KEY, EVENT_TOKEN};
use crate::support::database::postgres_required;
use crate::support::receiver::Receiver;
use crate::support::{TestApp, TestAppOptions};

#[tokio::test]
async fn postgres_two_instances_act_on_each_event_once() {
    postgres_required("postgres_two_instances_act_on_each_event_once");
    let mut receiver = Receiver::start();
    let options = |dir| TestAppOptions {
        events_http: true,
        backchannel_logout_uri: Some(receiver.uri.clone()),
        dir,
        ..Default::default()
    };
    let a = TestApp::spawn_with(options(None)).await;
    let b = TestApp::spawn_with(options(Some(a.dir.clone()))).await;
    a.offline_tokens("zhangsan").await;
    b.offline_tokens("lisi").await;
    let to = |app: &TestApp| HttpSubscription::new(&app.url("/dingtalk/events"), EVENT_TOKEN, EVENT_AES_KEY);
    let (to_a, to_b) = (to(&a), to(&b));
    for (event_id, userid) in [("leave-1", "zhangsan"), ("leave-2", "lisi")] {
        let plaintext = format!(r#"{{"EventType":"user_leave_org","eventId":"{event_id}","userId":["{userid}"]}}"#);
        // The same event at both instances at once, twice.
        let answers = tokio::join!(
            a.sim.push_once(&to_a, &plaintext),
            b.sim.push_once(&to_b, &plaintext),
            a.sim.push_once(&to_b, &plaintext),
            b.sim.push_once(&to_a, &plaintext),
        );
        for answer in [answers.0, answers.1, answers.2, answers.3] {
            assert_eq!(answer.unwrap().0, 200);
        }
    }
    let mut told = Vec::new();
    while let Some(token) = receiver.next_token(2).await {
        told.push(
            crate::support::app::jwt_claims(&token)["sub"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    told.sort();
    assert_eq!(told, ["lisi", "zhangsan"], "each app told once per person");
    assert_eq!(a.db.count_org_events().await.unwrap(), 2);
    let leaves =
        a.db.audit_events(&dingo::store::AuditFilter {
            kind: Some("leave".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(leaves.len(), 2, "{leaves:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.db.count_jobs().await.unwrap().dead, 0);
}

#[tokio::test]
async fn postgres_two_instances_both_connected_by_stream_act_on_each_event_once() {
    postgres_required("postgres_two_instances_both_connected_by_stream_act_on_each_event_once");
    let mut receiver = Receiver::start();
    // Each event goes to one connection at random, and once more after its ACK.
    let gateway = dingo::sim::StreamSubscription {
        duplicate: true,
        retry_after: vec![Duration::from_millis(300); 5],
        ..Default::default()
    };
    let a = TestApp::spawn_with(TestAppOptions {
        events_stream: Some(gateway.clone()),
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let b = TestApp::spawn_with(TestAppOptions {
        events_stream: Some(gateway),
        backchannel_logout_uri: Some(receiver.uri.clone()),
        dir: Some(a.dir.clone()),
        dingtalk_of: Some(a.dingtalk()),
        ..Default::default()
    })
    .await;
    for _ in 0..500 {
        if a.sim.gateway_stats().connected == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        a.sim.gateway_stats().connected,
        2,
        "each instance keeps its own connection"
    );
    a.offline_tokens("zhangsan").await;
    b.offline_tokens("lisi").await;
    a.sim.leave("zhangsan", None);
    a.sim.leave("lisi", None);
    // Enough events that both connections carry some.
    for round in 0..6 {
        a.sim.set_admin("wangwu", round % 2 == 0);
    }
    let mut told = Vec::new();
    while told.len() < 2
        && let Some(token) = receiver.next_token(3).await
    {
        told.push(
            crate::support::app::jwt_claims(&token)["sub"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    told.sort();
    assert_eq!(told, ["lisi", "zhangsan"]);
    assert!(receiver.next_token(1).await.is_none(), "each app told once per person");
    for _ in 0..200 {
        if a.sim
            .deliveries()
            .iter()
            .all(|d| d.state != dingo::sim::DeliveryState::Pending)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.db.count_org_events().await.unwrap(), 8, "each event recorded once");
    let by_stream = |metrics: String| {
        metrics
            .lines()
            .filter(|l| l.starts_with("dingo_org_events_total{via=\"stream\""))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum::<u64>()
    };
    let (at_a, at_b) = (by_stream(a.metrics().await), by_stream(b.metrics().await));
    assert!(
        at_a > 0 && at_b > 0,
        "both connections carried events: {at_a} and {at_b}"
    );
    assert_eq!(at_a + at_b, 16, "every delivery, copies included, was received once");
    let leaves =
        a.db.audit_events(&dingo::store::AuditFilter {
            kind: Some("leave".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(leaves.len(), 2, "{leaves:?}");
}
