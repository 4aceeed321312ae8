//! What `dingo serve` logs during a whole login, at debug level, as JSON.

use super::{
    APP_KEY, APP_SECRET, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, authorize_url, browser, query, redirect_from,
    start_dingo, start_sim,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_code_token_or_secret_reaches_the_log_of_a_whole_login() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim) = start_sim();
    let (mut dingo, issuer) = start_dingo(
        dir.path(),
        &sim,
        &sim,
        "[log]\nformat = \"json\"\n",
        &[("RUST_LOG", "debug")],
    );
    let browser = browser();

    // authorize → DingTalk's login page (auto-login) → callback → the client.
    let at_dingtalk = redirect_from(&browser, &authorize_url(&issuer, "ops-state")).await;
    assert!(at_dingtalk.as_str().starts_with(&sim), "{at_dingtalk}");
    let callback = redirect_from(&browser, at_dingtalk.as_str()).await;
    let auth_code = query(&callback)["authCode"].clone();
    let at_client = redirect_from(&browser, callback.as_str()).await;
    assert!(at_client.as_str().starts_with(REDIRECT_URI), "{at_client}");
    let code = query(&at_client)["code"].clone();

    let tokens: serde_json::Value = browser
        .post(format!("{issuer}/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let userinfo = browser
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    // The simulator hands out the same app token while it is valid: the one dingo holds.
    let app_token: serde_json::Value = browser
        .post(format!("{sim}/v1.0/oauth2/accessToken"))
        .json(&serde_json::json!({ "appKey": APP_KEY, "appSecret": APP_SECRET }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_token = app_token["accessToken"].as_str().unwrap().to_owned();
    drop(browser);

    dingo.signal("TERM");
    let (status, lines) = dingo.wait();
    assert!(status.success(), "{lines:#?}");

    let mut secrets = vec![
        ("the authorization code", code),
        ("the access token", access_token),
        ("the ID token", id_token.clone()),
        // A JWT's signature alone is as telling as the whole token.
        (
            "the ID token's signature",
            id_token.rsplit('.').next().unwrap().to_owned(),
        ),
        ("the client secret", CLIENT_SECRET.to_owned()),
        ("the DingTalk app secret", APP_SECRET.to_owned()),
        ("DingTalk's authCode", auth_code),
        ("DingTalk's app access token", app_token),
    ];
    if let Some(refresh) = tokens["refresh_token"].as_str() {
        secrets.push(("the refresh token", refresh.to_owned()));
    }
    let log = lines.join("\n");
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is too short to search for");
        assert!(!log.contains(secret.as_str()), "{what} is in the log:\n{log}");
    }

    // It was the real logging set-up: JSON lines, debug level, request ids on request lines.
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(events.iter().any(|e| e["level"] == "DEBUG"));
    let token_request = events
        .iter()
        .find(|e| e["message"] == "request" && e["route"] == "/token")
        .expect("a log line for the token request");
    assert_eq!(token_request["method"], "POST");
    assert_eq!(token_request["status"], 200);
    let request_id = |e: &serde_json::Value| {
        e["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find_map(|s| s["request_id"].as_str()))
            .map(str::to_owned)
    };
    assert!(request_id(token_request).is_some(), "{token_request}");
    let dingtalk_calls: Vec<_> = events.iter().filter(|e| e["message"] == "DingTalk call").collect();
    assert!(dingtalk_calls.len() >= 5, "{dingtalk_calls:#?}");
    let callback_ids: std::collections::HashSet<_> = dingtalk_calls.iter().map(|e| request_id(e)).collect();
    assert_eq!(
        callback_ids.len(),
        1,
        "every DingTalk call of the callback carries its request id: {dingtalk_calls:#?}"
    );
    assert!(callback_ids.iter().all(Option::is_some));
}
