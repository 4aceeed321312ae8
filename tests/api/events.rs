//! DingTalk's organisation-change events by HTTP push: the simulator's directory changes, its
//! pushes reach dingo over real HTTP, and what the people concerned held ends — with the apps
//! told by back-channel logout.

use std::time::{Duration, Instant};

use dingo::sim::{DeliveryState, HttpSubscription, OwnerMode, PayloadStyle, SignatureParam, SimEvent};
use dingo::store::AuditFilter;
use serde_json::Value;

use crate::support::app::{EVENT_AES_KEY, EVENT_TOKEN, FINANCE_CLIENT, WEB_CLIENT, WEB_SECRET, jwt_claims};
use crate::support::receiver::Receiver;
use crate::support::tcp_proxy::TcpProxy;
use crate::support::{TestApp, TestAppOptions};

async fn app_with_receiver() -> (TestApp, Receiver) {
    let receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        events_http: true,
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    (app, receiver)
}

pub(crate) async fn refresh(app: &TestApp, client: &str, tokens: &Value) -> u16 {
    app.browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub(crate) async fn userinfo(app: &TestApp, tokens: &Value) -> u16 {
    app.browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Logs the auto-login person in at the finance app (in a fresh browser); its token response.
async fn finance_tokens(app: &TestApp) -> Value {
    let url = app.authorize_url_for(FINANCE_CLIENT, "").replace("%20phone", "");
    let q = app.follow_with(&crate::support::app::new_browser(), &url).await.query();
    let answer = app.redeem_for(FINANCE_CLIENT, &q["code"]).await;
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

/// Waits until the simulator's pushes have all been answered one way or the other.
pub(crate) async fn settled(app: &TestApp) -> Vec<dingo::sim::Delivery> {
    for _ in 0..200 {
        let deliveries = app.sim.deliveries();
        if deliveries.iter().all(|d| d.state != DeliveryState::Pending) {
            return deliveries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("pushes still pending: {:?}", app.sim.deliveries());
}

/// Waits until no job of any kind is waiting (the event acted on, the notices sent).
pub(crate) async fn quiet(app: &TestApp) {
    // The reconciliation's one job is always waiting for its next round.
    let recurring = i64::from(
        app.db
            .job_payload(dingo::membership::RECONCILE)
            .await
            .unwrap()
            .is_some(),
    );
    for _ in 0..300 {
        if app.db.count_jobs().await.unwrap().waiting == recurring {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("jobs still waiting");
}

pub(crate) async fn audit(app: &TestApp, kind: &str) -> Vec<dingo::store::AuditEvent> {
    app.db
        .audit_events(&AuditFilter {
            kind: Some(kind.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_leave_ends_every_token_and_tells_the_app_within_a_second() {
    let (app, mut receiver) = app_with_receiver().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    let left = Instant::now();
    app.sim.leave("zhangsan", Some("sunjing"));
    let token = receiver.next_token(1).await.expect("a logout token within a second");
    let took = left.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let claims = jwt_claims(&token);
    assert_eq!(claims["sub"], "zhangsan");
    assert_eq!(claims["sid"], sid, "the session the app took part in");
    assert_eq!(refresh(&app, WEB_CLIENT, &tokens).await, 400);
    assert_eq!(userinfo(&app, &tokens).await, 401);
    assert!(app.db.has_left("zhangsan").await.unwrap(), "marked as gone");
    let leave = audit(&app, "leave").await;
    assert_eq!(leave.len(), 1);
    assert_eq!(leave[0].userid.as_deref(), Some("zhangsan"));
    assert_eq!(leave[0].actor.as_deref(), Some("dingtalk:sunjing"), "who removed them");
    assert_eq!(leave[0].outcome, "refused_not_member");
    let deliveries = settled(&app).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].state, DeliveryState::Acknowledged);
    assert_eq!(deliveries[0].attempts, 1, "answered at the first push");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"dingo_org_events_total{via="http",type="user_leave_org",result="recorded"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"dingo_org_event_to_logout_seconds_count{via="http"} 1"#));
}

#[tokio::test]
async fn a_login_after_a_leave_is_refused() {
    let (app, _receiver) = app_with_receiver().await;
    app.offline_tokens("zhangsan").await;
    app.sim.leave("zhangsan", None);
    settled(&app).await;
    quiet(&app).await;
    assert_eq!(
        audit(&app, "leave").await[0].actor.as_deref(),
        Some("dingtalk"),
        "no operator given"
    );
    app.sim.set_auto_login(Some("zhangsan".into()));
    let landing = app
        .follow_with(&crate::support::app::new_browser(), &app.authorize_url(""))
        .await;
    let (status, page) = landing.page();
    assert_eq!(status, 403, "{page}");
    assert!(app.db.has_left("zhangsan").await.unwrap());
}

#[tokio::test]
async fn duplicated_and_replayed_pushes_change_nothing_twice() {
    let (app, mut receiver) = app_with_receiver().await;
    app.offline_tokens("zhangsan").await;
    let subscription = HttpSubscription::new(&app.url("/dingtalk/events"), EVENT_TOKEN, EVENT_AES_KEY);
    // The same legacy plaintext three times, each freshly encrypted and signed: DingTalk's
    // retries, or someone replaying a captured push.
    let plaintext =
        r#"{"EventType":"user_leave_org","CorpId":"dingsampleorg","UserId":["zhangsan"],"TimeStamp":"1700000000000"}"#;
    for _ in 0..3 {
        let (status, _) = app.sim.push_once(&subscription, plaintext).await.unwrap();
        assert_eq!(status, 200);
    }
    assert!(receiver.next_token(2).await.is_some());
    quiet(&app).await;
    assert!(receiver.next_token(1).await.is_none(), "the app is told once");
    assert_eq!(app.db.count_org_events().await.unwrap(), 1);
    assert_eq!(audit(&app, "leave").await.len(), 1);
    // New-style pushes are keyed on their eventId, whatever else differs.
    let new_style = |stamp: &str| {
        format!(r#"{{"EventType":"user_modify_org","eventId":"ev-1","userId":["lisi"],"timeStamp":"{stamp}"}}"#)
    };
    for stamp in ["1", "2"] {
        app.sim.push_once(&subscription, &new_style(stamp)).await.unwrap();
    }
    assert_eq!(app.db.count_org_events().await.unwrap(), 2);
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"dingo_org_events_total{via="http",type="user_leave_org",result="duplicate"} 2"#));
}

#[tokio::test]
async fn a_stale_event_after_a_leave_changes_nothing() {
    let (app, mut receiver) = app_with_receiver().await;
    app.offline_tokens("zhangsan").await;
    app.sim.leave("zhangsan", None);
    assert!(receiver.next_token(2).await.is_some());
    // Out of order: a modification made before the leave arrives after it.
    app.sim.emit(SimEvent::about("user_modify_org", &["zhangsan"]));
    settled(&app).await;
    quiet(&app).await;
    assert!(receiver.next_token(1).await.is_none());
    assert_eq!(audit(&app, "leave").await.len(), 1);
    assert!(app.db.has_left("zhangsan").await.unwrap());
}

#[tokio::test]
async fn bad_signatures_wrong_keys_and_garbage_are_refused_and_change_nothing() {
    let (app, mut receiver) = app_with_receiver().await;
    let tokens = app.offline_tokens("zhangsan").await;
    let url = app.url("/dingtalk/events");
    let leave = r#"{"EventType":"user_leave_org","UserId":["zhangsan"]}"#;
    let wrong_token = HttpSubscription::new(&url, "someoneElsesToken", EVENT_AES_KEY);
    let (status, body) = app.sim.push_once(&wrong_token, leave).await.unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"signature\""), "{body}");
    let wrong_key = HttpSubscription::new(&url, EVENT_TOKEN, "1234567890123456789012345678901234567890123");
    let (status, body) = app.sim.push_once(&wrong_key, leave).await.unwrap();
    assert_eq!(status, 400, "{body}");
    let client = reqwest::Client::new();
    for (query, body) in [
        ("signature=00&timestamp=1&nonce=n", r#"{"encrypt":"bm90IGFlcw=="}"#),
        ("signature=00&timestamp=1&nonce=n", "not json"),
        ("timestamp=1&nonce=n", r#"{"encrypt":"x"}"#),
    ] {
        let answer = client.post(format!("{url}?{query}")).body(body).send().await.unwrap();
        assert!(answer.status().is_client_error(), "{query} {body}: {}", answer.status());
        let error: Value = answer.json().await.unwrap();
        assert!(error["error"].is_string());
    }
    // Encrypted for a stranger: neither this app's key nor its organisation's.
    let crypto = dingo::dingtalk::events::CallbackCrypto::new(EVENT_TOKEN, EVENT_AES_KEY).unwrap();
    let encrypt = crypto.encrypt(leave, "dingstrangerapp");
    let signature = crypto.signature("1", "n", &encrypt);
    let answer = client
        .post(format!("{url}?signature={signature}&timestamp=1&nonce=n"))
        .json(&serde_json::json!({ "encrypt": encrypt }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(answer.json::<Value>().await.unwrap()["error"], "owner");
    assert_eq!(app.db.count_org_events().await.unwrap(), 0);
    assert!(receiver.next_token(1).await.is_none());
    assert_eq!(refresh(&app, WEB_CLIENT, &tokens).await, 200, "still logged in");
    assert!(audit(&app, "org_event").await.len() >= 6, "each refusal is audited");
    let metrics = app.metrics().await;
    for reason in ["signature", "owner", "ciphertext", "request"] {
        assert!(
            metrics.contains(&format!(
                r#"dingo_org_events_refused_total{{via="http",reason="{reason}"}}"#
            )),
            "{reason}"
        );
    }
    assert!(!metrics.contains(EVENT_TOKEN));
}

#[tokio::test]
async fn the_url_check_is_answered_with_an_encrypted_success_for_either_owner_key() {
    let app = TestApp::spawn_with(TestAppOptions {
        events_http: true,
        ..Default::default()
    })
    .await;
    let (status, body) = app.sim.check_url().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let crypto = dingo::dingtalk::events::CallbackCrypto::new(EVENT_TOKEN, EVENT_AES_KEY).unwrap();
    let field = |name: &str| reply[name].as_str().unwrap();
    let (message, owner) = crypto
        .open_for(
            &["dingsampleappkey"],
            field("msg_signature"),
            field("timeStamp"),
            field("nonce"),
            field("encrypt"),
        )
        .unwrap();
    assert_eq!((message.as_str(), owner), ("success", "dingsampleappkey"));
    // A subscription registered through the API encrypts for the corpId, and signs as
    // `msg_signature`; the reply then names the corpId.
    let mut by_corp = HttpSubscription::new(&app.url("/dingtalk/events"), EVENT_TOKEN, EVENT_AES_KEY);
    by_corp.owner = OwnerMode::CorpId;
    by_corp.signature_param = SignatureParam::MsgSignature;
    app.sim.subscribe_http(Some(by_corp));
    let (status, body) = app.sim.check_url().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    let opened = crypto.decrypt(reply["encrypt"].as_str().unwrap()).unwrap();
    assert_eq!(opened.owner, "dingsampleorg");
    assert_eq!(app.db.count_org_events().await.unwrap(), 0, "a check is not an event");
}

#[tokio::test]
async fn a_move_out_of_an_apps_department_ends_access_at_that_app_only() {
    let (app, mut receiver) = app_with_receiver().await;
    app.sim.set_auto_login(Some("lisi".into()));
    let finance = finance_tokens(&app).await;
    let web = app.offline_tokens("lisi").await;
    let mut style = HttpSubscription::new(&app.url("/dingtalk/events"), EVENT_TOKEN, EVENT_AES_KEY);
    style.payload_style = PayloadStyle::New;
    app.sim.subscribe_http(Some(style));
    assert!(app.sim.move_member("lisi", &[2]).is_some(), "from 财务部 to 研发部");
    settled(&app).await;
    quiet(&app).await;
    assert_eq!(
        userinfo(&app, &finance).await,
        401,
        "the finance app's token is revoked"
    );
    assert_eq!(userinfo(&app, &web).await, 200, "the other app keeps its access");
    assert_eq!(refresh(&app, WEB_CLIENT, &web).await, 200);
    let membership = audit(&app, "membership").await;
    assert_eq!(membership.len(), 1);
    assert_eq!(membership[0].client_id.as_deref(), Some(FINANCE_CLIENT));
    assert!(!app.db.has_left("lisi").await.unwrap());
    let stored = app.db.find_user("lisi").await.unwrap().unwrap();
    assert_eq!(stored.identity.dept_ids, [2], "the profile follows DingTalk");
    // The web app registered a back-channel URI; the finance app did not, so nobody is told.
    assert!(receiver.next_token(1).await.is_none());
}

#[tokio::test]
async fn a_push_dingo_missed_is_pushed_again_and_lands() {
    let receiver = Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        events_http: true,
        backchannel_logout_uri: Some(receiver.uri.clone()),
        ..Default::default()
    })
    .await;
    let tokens = app.offline_tokens("zhangsan").await;
    let proxy = TcpProxy::start(app.address.trim_start_matches("http://")).await;
    let mut through_proxy = HttpSubscription::new(
        &format!("http://{}/dingtalk/events", proxy.address),
        EVENT_TOKEN,
        EVENT_AES_KEY,
    );
    through_proxy.retry_after = vec![Duration::from_millis(300), Duration::from_millis(600)];
    app.sim.subscribe_http(Some(through_proxy));
    proxy.cut();
    app.sim.leave("zhangsan", None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.restore().await;
    let deliveries = settled(&app).await;
    assert_eq!(deliveries[0].state, DeliveryState::Acknowledged);
    assert!(deliveries[0].attempts >= 2, "{deliveries:?}");
    quiet(&app).await;
    assert_eq!(refresh(&app, WEB_CLIENT, &tokens).await, 400);
}

#[tokio::test]
async fn with_events_off_the_push_route_says_so() {
    let app = TestApp::spawn().await;
    let answer = reqwest::Client::new()
        .post(app.url("/dingtalk/events?signature=a&timestamp=1&nonce=n"))
        .body(r#"{"encrypt":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert_eq!(answer.json::<Value>().await.unwrap()["error"], "not_enabled");
}

/// An instance whose reconciliation runs every hour, looked at every 50 ms.
async fn reconciling_app(receiver: &Receiver) -> TestApp {
    let mut background = dingo::startup::Background::default();
    background.reconcile_pace.poll = Duration::from_millis(50);
    TestApp::spawn_with(TestAppOptions {
        backchannel_logout_uri: Some(receiver.uri.clone()),
        background: Some(background),
        ..Default::default()
    })
    .await
}

/// Moves the clock past the next round and waits until it has run.
async fn next_round(app: &TestApp) {
    let before: dingo::membership::Progress =
        serde_json::from_str(&app.db.job_payload(dingo::membership::RECONCILE).await.unwrap().unwrap()).unwrap();
    app.clock.advance(3601);
    for _ in 0..200 {
        let payload = app.db.job_payload(dingo::membership::RECONCILE).await.unwrap().unwrap();
        let now: dingo::membership::Progress = serde_json::from_str(&payload).unwrap();
        if now.since > before.since {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the reconciliation did not run");
}

#[tokio::test]
async fn a_leave_no_event_told_of_is_caught_by_the_reconciliation() {
    let mut receiver = Receiver::start();
    let app = reconciling_app(&receiver).await;
    let tokens = app.offline_tokens("zhangsan").await;
    app.offline_tokens("lisi").await;
    // Events are off: DingTalk's leave never reaches dingo.
    app.sim.remove_member("zhangsan");
    next_round(&app).await;
    let token = receiver.next_token(2).await.expect("the app is told");
    assert_eq!(jwt_claims(&token)["sub"], "zhangsan");
    quiet(&app).await;
    assert!(receiver.next_token(1).await.is_none(), "lisi is still a member");
    assert!(app.db.has_left("zhangsan").await.unwrap());
    assert_eq!(refresh(&app, WEB_CLIENT, &tokens).await, 400);
    let leave = audit(&app, "leave").await;
    assert_eq!(
        leave.len(),
        1,
        "caught once, though both the leave records and the re-check see it"
    );
    assert!(leave[0].detail.as_deref().unwrap().starts_with("reconciliation"));
    assert_eq!(app.sim.call_count("/v1.0/contact/empLeaveRecords"), 1);
    // The next round asks again, and finds nothing new.
    next_round(&app).await;
    assert_eq!(app.sim.call_count("/v1.0/contact/empLeaveRecords"), 2);
    assert_eq!(audit(&app, "leave").await.len(), 1);
    let metrics = app.metrics().await;
    assert!(metrics.contains("# TYPE dingo_reconcile_lag_seconds gauge"));
}

#[tokio::test]
async fn the_reconciliation_rechecks_live_access_against_each_apps_policy() {
    let receiver = Receiver::start();
    let app = reconciling_app(&receiver).await;
    let web = app.offline_tokens("lisi").await;
    app.sim.set_auto_login(Some("lisi".into()));
    let finance_refresh = finance_tokens(&app).await;
    assert!(finance_refresh["access_token"].is_string());
    // Moved out of 财务部 with no event reaching dingo.
    app.sim.move_member("lisi", &[2]);
    next_round(&app).await;
    quiet(&app).await;
    let membership = audit(&app, "membership").await;
    assert_eq!(membership.len(), 1, "{membership:?}");
    assert_eq!(membership[0].client_id.as_deref(), Some(FINANCE_CLIENT));
    assert_eq!(
        refresh(&app, WEB_CLIENT, &web).await,
        200,
        "the web app keeps its access"
    );
}
