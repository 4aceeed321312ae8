//! The `openAuth` stand-in: its outcomes, and its authCode at `userAccessToken`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::*;
use crate::sim::OpenAuthOutcome;

async fn open_auth(t: &TestSim, body: &Value) -> Value {
    let (status, answer) = t.post_json("/jsapi/openAuth", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn personal() -> Value {
    json!({
        "clientId": CLIENT_ID,
        "corpId": CORP_ID,
        "rpcScope": "Contact.User.Read",
        "fieldScope": "Contact.User.mobile",
        "type": 0,
    })
}

#[tokio::test]
async fn an_ok_auth_code_is_exchanged_at_user_access_token_for_the_in_app_person() {
    let t = spawn().await;
    t.sim.set_inapp_user(Some("lisi".to_owned()));
    let answer = open_auth(&t, &personal()).await;
    assert_eq!(answer["status"], json!("ok"), "{answer}");
    let code = answer["result"]["authCode"].as_str().unwrap().to_owned();

    let (status, tokens) = t.exchange(&code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens.get("corpId").is_none(), "{tokens}");
    let (status, me) = t.users_me(tokens["accessToken"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["nick"], json!("李四"));

    let (status, reused) = t.exchange(&code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(api_error_code(&reused), "invalidParameter.authCode.notFound");
}

#[tokio::test]
async fn the_outcome_setting_decides_the_answer() {
    let t = spawn().await;
    for (outcome, status) in [
        (OpenAuthOutcome::Cancel, "cancel"),
        (OpenAuthOutcome::ToAdmin, "toAdmin"),
        (OpenAuthOutcome::Failed, "failed"),
    ] {
        t.sim.set_open_auth_outcome(outcome);
        let answer = open_auth(&t, &personal()).await;
        assert_eq!(answer, json!({ "status": status, "result": null }));
    }
    t.sim.set_open_auth_outcome("ok".parse::<OpenAuthOutcome>().unwrap());
    let answer = open_auth(&t, &personal()).await;
    assert!(answer["result"]["authCode"].is_string(), "{answer}");
}

#[tokio::test]
async fn org_authorization_succeeds_without_a_code() {
    let t = spawn().await;
    let mut body = personal();
    body["type"] = json!(1);
    let answer = open_auth(&t, &body).await;
    assert_eq!(answer, json!({ "status": "ok", "result": {} }));
}

#[tokio::test]
async fn malformed_requests_fail_with_documented_error_codes() {
    let t = spawn().await;
    let cases = [
        (json!({ "corpId": CORP_ID, "type": 0 }), 400006),
        (json!({ "clientId": "nosuchapp", "type": 0 }), 500101),
        (json!({ "clientId": CLIENT_ID, "type": 1 }), 400007),
        (
            json!({ "clientId": CLIENT_ID, "corpId": "dingother", "type": 0 }),
            500403,
        ),
    ];
    for (body, error_code) in cases {
        let answer = open_auth(&t, &body).await;
        assert_eq!(answer["status"], json!("failed"), "{body}: {answer}");
        assert_eq!(answer["result"], Value::Null);
        assert_eq!(answer["errorCode"], json!(error_code), "{body}: {answer}");
    }
    t.sim.set_inapp_user(Some("nobody".to_owned()));
    let answer = open_auth(&t, &personal()).await;
    assert_eq!(answer["errorCode"], json!(400008), "{answer}");
}
