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
