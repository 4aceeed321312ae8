//! The client against the simulator over real HTTP: stale tokens in both families, retries only
//! where a call may be repeated, the breaker and the rate limiter.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{CIRCUIT_OPEN, CallError, DingTalk, DingTalkError, Repeat, envelope};
use crate::clock::TestClock;
use crate::config::DingTalkSettings;
use crate::sim::{Directory, Fault, FaultKind, Simulator};
use crate::telemetry::Metrics;

const ZHANGSAN_UNIONID: &str = "iPzYl6CnAhbjj3QxQiS5fhgiEiE";
const APP_TOKEN: &str = "/v1.0/oauth2/accessToken";
const USER_GET: &str = "/topapi/v2/user/get";
const GETUSERINFO: &str = "/topapi/v2/user/getuserinfo";

struct Rig {
    sim: Simulator,
    client: DingTalk,
    metrics: Arc<Metrics>,
}

async fn rig(tune: impl FnOnce(&mut DingTalkSettings)) -> Rig {
    let clock = TestClock::new();
    let directory = Directory::sample();
    let sim = Simulator::new(directory.clone(), clock.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim.serve(listener).unwrap());
    let (client_id, client_secret) = directory.app_credentials();
    let mut settings = DingTalkSettings {
        client_id: client_id.to_owned(),
        client_secret: crate::config::Secret::new(client_secret),
        corp_id: directory.corp_id().to_owned(),
        login_base_url: base.clone(),
        api_base_url: base.clone(),
        oapi_base_url: base,
        timeout_ms: 2000,
        retry_backoff_ms: 10,
        ..Default::default()
    };
    tune(&mut settings);
    let metrics = Arc::new(Metrics::new());
    let client = DingTalk::new(&settings, 600, clock, metrics.clone()).unwrap();
    Rig { sim, client, metrics }
}

impl Rig {
    async fn user_get(&self) -> Result<Value, CallError> {
        self.client
            .oapi_call::<Value>(
                "topapi/v2/user/get",
                Repeat::Safe,
                &serde_json::json!({ "userid": "zhangsan" }),
            )
            .await
    }
}

#[tokio::test]
async fn an_api_family_invalid_authentication_refreshes_the_token_once_and_retries_once() {
    let rig = rig(|_| {}).await;
    let client = &rig.client;
    // The contact API refuses app tokens with InvalidAuthentication: the same answer as a stale one.
    let result = client
        .with_app_token(|token| {
            let request = client
                .http
                .get(format!("{}/v1.0/contact/users/{ZHANGSAN_UNIONID}", client.api_base))
                .header("x-acs-dingtalk-access-token", token);
            async move {
                client
                    .send("contact/users", Repeat::Safe, request, envelope::parse_api::<Value>)
                    .await
            }
        })
        .await;
    assert_eq!(result.unwrap_err().api_code(), Some("InvalidAuthentication"));
    assert_eq!(rig.sim.call_count(APP_TOKEN), 2, "the token was fetched again once");
    assert_eq!(
        rig.sim.call_count(&format!("/v1.0/contact/users/{ZHANGSAN_UNIONID}")),
        2,
        "the call went once more, and only once"
    );
}

#[tokio::test]
async fn an_invalidated_app_token_is_replaced_and_the_call_succeeds() {
    let rig = rig(|_| {}).await;
    rig.user_get().await.unwrap();
    rig.sim.invalidate_app_tokens();
    rig.user_get().await.unwrap();
    assert_eq!(rig.sim.call_count(APP_TOKEN), 2);
    assert_eq!(rig.sim.call_count(USER_GET), 3);
}

#[tokio::test]
async fn a_read_is_retried_through_each_kind_of_failure() {
    let rig = rig(|_| {}).await;
    rig.user_get().await.unwrap();
    for kind in [
        FaultKind::Status(503),
        FaultKind::Busy,
        FaultKind::RateLimited,
        FaultKind::Malformed,
        FaultKind::Reset,
    ] {
        rig.sim.reset_calls();
        rig.sim.inject(Fault::new(kind).on(USER_GET).times(2));
        assert!(rig.user_get().await.is_ok(), "{kind}");
        assert_eq!(rig.sim.call_count(USER_GET), 3, "{kind}: two failures, then the answer");
    }
    assert!(
        rig.metrics
            .render()
            .contains("dingo_dingtalk_retries_total{api=\"topapi/v2/user/get\"} 10")
    );
}

#[tokio::test]
async fn retries_are_bounded_and_then_the_call_is_unavailable() {
    let rig = rig(|s| s.retries = 1).await;
    rig.user_get().await.unwrap();
    rig.sim.reset_calls();
    rig.sim.inject(Fault::new(FaultKind::Status(502)).on(USER_GET));
    let error = rig.user_get().await.unwrap_err();
    assert!(matches!(
        error.into_error("topapi/v2/user/get"),
        DingTalkError::Unavailable(_)
    ));
    assert_eq!(rig.sim.call_count(USER_GET), 2);
}

#[tokio::test]
async fn a_business_refusal_is_not_retried() {
    let rig = rig(|_| {}).await;
    let missing = rig
        .client
        .oapi_call::<Value>(
            "topapi/v2/user/get",
            Repeat::Safe,
            &serde_json::json!({ "userid": "nobody" }),
        )
        .await;
    assert_eq!(missing.unwrap_err().oapi_code(), Some(60121));
    assert_eq!(rig.sim.call_count(USER_GET), 1);
}

#[tokio::test]
async fn a_code_redeeming_call_is_sent_again_only_when_dingtalk_cannot_have_run_it() {
    let rig = rig(|_| {}).await;
    // Sent again; the simulator refuses this made-up code then, as DingTalk refuses a code
    // the first attempt used: an outage, never a rejected code.
    for kind in [FaultKind::Status(503), FaultKind::Busy, FaultKind::Reset] {
        rig.sim.reset_calls();
        rig.sim.inject(Fault::new(kind).on(GETUSERINFO).times(1));
        let result = rig.client.userid_by_inapp_code("an-in-app-code").await;
        assert!(
            matches!(&result, Err(DingTalkError::Unavailable(why)) if why.contains("second attempt")),
            "{kind}: {result:?}"
        );
        assert_eq!(rig.sim.call_count(GETUSERINFO), 2, "{kind}");
    }
    rig.sim.reset_calls();
    let result = rig.client.userid_by_inapp_code("an-in-app-code").await;
    assert!(
        matches!(result, Err(DingTalkError::InvalidCode)),
        "sent once: {result:?}"
    );
    for kind in [FaultKind::Status(500), FaultKind::Malformed] {
        rig.sim.reset_calls();
        rig.sim.inject(Fault::new(kind).on(GETUSERINFO).times(1));
        let result = rig.client.userid_by_inapp_code("an-in-app-code").await;
        assert!(
            matches!(result, Err(DingTalkError::Unavailable(_))),
            "{kind}: {result:?}"
        );
        assert_eq!(rig.sim.call_count(GETUSERINFO), 1, "{kind}");
    }
}

#[tokio::test]
async fn a_timed_out_read_is_not_retried_past_the_deadline() {
    let rig = rig(|s| s.timeout_ms = 300).await;
    rig.user_get().await.unwrap();
    rig.sim.reset_calls();
    rig.sim
        .inject(Fault::new(FaultKind::Delay(Duration::from_millis(1000))).on(USER_GET));
    let started = Instant::now();
    let error = rig.user_get().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(error, CallError::Unavailable(ref why) if why.starts_with("timed out")),
        "{error:?}"
    );
    assert_eq!(rig.sim.call_count(USER_GET), 1);
}

#[tokio::test]
async fn the_circuit_opens_after_consecutive_failures_and_then_fails_at_once() {
    let rig = rig(|s| {
        s.breaker_threshold = 3;
        s.retries = 0;
    })
    .await;
    rig.user_get().await.unwrap();
    rig.sim.set_outage(Some(503));
    for _ in 0..3 {
        rig.user_get().await.unwrap_err();
    }
    rig.sim.reset_calls();
    rig.sim.set_outage(None);
    let started = Instant::now();
    let error = rig.user_get().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(
        matches!(error, CallError::Upstream(DingTalkError::Unavailable(ref why)) if why == CIRCUIT_OPEN),
        "{error:?}"
    );
    assert_eq!(rig.sim.total_calls(), 0, "DingTalk was not asked");
    let text = rig.metrics.render();
    assert!(text.contains("\ndingo_dingtalk_circuit_state 1\n"), "{text}");
    assert!(text.contains("dingo_dingtalk_calls_total{api=\"topapi/v2/user/get\",result=\"circuit_open\"} 1"));
}

#[tokio::test]
async fn business_refusals_do_not_open_the_circuit() {
    let rig = rig(|s| s.breaker_threshold = 2).await;
    for _ in 0..5 {
        let missing = rig
            .client
            .oapi_call::<Value>(
                "topapi/v2/user/get",
                Repeat::Safe,
                &serde_json::json!({ "userid": "nobody" }),
            )
            .await;
        assert_eq!(missing.unwrap_err().oapi_code(), Some(60121));
    }
    rig.user_get().await.unwrap();
}

/// `n` concurrent `user/get` calls; their outcomes.
async fn burst(rig: &Arc<Rig>, n: usize) -> Vec<Result<(), String>> {
    let calls: Vec<_> = (0..n)
        .map(|_| {
            let rig = rig.clone();
            tokio::spawn(async move { rig.user_get().await.map(|_| ()).map_err(|e| format!("{e:?}")) })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn the_rate_limiter_keeps_a_burst_under_the_simulators_limit() {
    // Under the server's limit by as much as the default (15 under DingTalk's 20): calls leave
    // evenly spaced but arrive with jitter.
    let rig = Arc::new(
        rig(|s| {
            s.rate_limit_per_second = 7;
            s.timeout_ms = 5000;
        })
        .await,
    );
    rig.user_get().await.unwrap();
    rig.sim.set_rate_limit(Some(10));
    for outcome in burst(&rig, 15).await {
        outcome.unwrap();
    }
    assert_eq!(rig.sim.throttled_count(), 0);
}

#[tokio::test]
async fn a_turn_past_the_deadline_fails_at_once_as_unavailable() {
    let rig = Arc::new(
        rig(|s| {
            s.rate_limit_per_second = 2;
            s.timeout_ms = 800;
        })
        .await,
    );
    let started = Instant::now();
    let ok = burst(&rig, 4).await.iter().filter(|o| o.is_ok()).count();
    // At 2 a second, user/get calls may start at 0 and 500 ms; a turn at 1000 ms is past the
    // 800 ms deadline, and so is every later one.
    assert_eq!(ok, 2);
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(
        rig.metrics
            .render()
            .contains("dingo_dingtalk_calls_total{api=\"topapi/v2/user/get\",result=\"rate_limited\"} 2")
    );
}

#[tokio::test]
async fn without_the_rate_limiter_the_same_burst_is_throttled() {
    let rig = Arc::new(
        rig(|s| {
            s.rate_limit_per_second = 0;
            s.retries = 0;
        })
        .await,
    );
    rig.user_get().await.unwrap();
    rig.sim.set_rate_limit(Some(5));
    let ok = burst(&rig, 15).await.iter().filter(|o| o.is_ok()).count();
    assert!(ok < 15, "{ok} succeeded");
    assert!(rig.sim.throttled_count() > 0);
}

#[tokio::test]
async fn qps_limits_are_retried_but_do_not_open_the_circuit() {
    let rig = rig(|s| s.breaker_threshold = 1).await;
    rig.user_get().await.unwrap();
    rig.sim.inject(Fault::new(FaultKind::RateLimited).on(USER_GET).times(2));
    rig.user_get().await.unwrap();
    assert!(rig.metrics.render().contains("\ndingo_dingtalk_circuit_state 0\n"));
}

#[tokio::test]
async fn departments_the_app_may_not_read_leave_the_identity_partial_and_operators_are_told_once() {
    let rig = rig(|_| {}).await;
    let directory = Directory::sample();
    let app_key = directory.app_credentials().0;
    let whole = rig.client.identity("zhouqi", None).await.unwrap();
    assert!(!whole.departments_partial);
    assert_eq!(whole.departments[0].lineage, [1, 3, 5]);
    // Only 财务部 in scope: 应收组 and 财务部 are read, the root is refused (50004).
    rig.sim.set_app_access(
        app_key,
        crate::sim::AppAccess {
            scope: Some(vec![3]),
            ..Default::default()
        },
    );
    rig.client.forget_departments(&[1, 3, 5]);
    let scoped = rig.client.identity("zhouqi", None).await.unwrap();
    assert!(scoped.departments_partial);
    assert_eq!(scoped.departments[0].lineage, [3, 5]);
    assert!(
        rig.client
            .unreadable_departments_told
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    // Without the department permission (60011), not even the member's own department.
    rig.sim.set_app_access(
        app_key,
        crate::sim::AppAccess {
            departments: false,
            ..Default::default()
        },
    );
    rig.client.forget_departments(&[1, 3, 5]);
    let bare = rig.client.identity("zhouqi", None).await.unwrap();
    assert!(bare.departments_partial && bare.departments.is_empty());
    assert_eq!(bare.dept_ids, [5], "the ids still come from user/get");
}
