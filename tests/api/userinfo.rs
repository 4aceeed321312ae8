//! `/userinfo` and RFC 6750 bearer errors.

use crate::support::TestApp;

#[tokio::test]
async fn without_a_token_the_challenge_has_no_error_code() {
    let app = TestApp::spawn().await;
    let response = app.browser.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"dingo\"");
}

#[tokio::test]
async fn an_unknown_token_is_invalid_token() {
    let app = TestApp::spawn().await;
    let response = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"dingo\", error=\"invalid_token\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn the_token_may_be_posted_in_a_form_but_not_sent_twice() {
    let app = TestApp::spawn().await;
    let tokens = app.tokens_for("zhangsan").await;
    let token = tokens["access_token"].as_str().unwrap();
    let posted = app
        .browser
        .post(app.url("/userinfo"))
        .form(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    let twice = app
        .browser
        .post(app.url("/userinfo"))
        .bearer_auth(token)
        .form(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    assert!(
        twice.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );
}

#[tokio::test]
async fn an_access_token_stops_working_when_it_expires() {
    let app = TestApp::spawn().await;
    let tokens = app.tokens_for("zhangsan").await;
    let token = tokens["access_token"].as_str().unwrap();
    let ok = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    app.clock.advance(3601);
    let expired = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
}
