//! `/healthz`, `/readyz` and the `X-Request-Id` header.

use crate::support::TestApp;

#[tokio::test]
async fn healthz_answers_ok_while_the_process_runs() {
    let app = TestApp::spawn().await;
    let response = app.browser.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_is_ready_with_database_and_keys_and_503_with_a_reason_once_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let response = app.browser.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    app.db.close().await;
    let response = app.browser.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert!(body["reason"].as_str().unwrap().starts_with("database"), "{body}");

    let alive = app.browser.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), 200, "liveness does not depend on the database");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_well_formed_incoming_one_is_kept() {
    let app = TestApp::spawn().await;
    let id_of = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let first = app.browser.get(app.url("/healthz")).send().await.unwrap();
    let second = app.browser.get(app.url("/nowhere")).send().await.unwrap();
    let (first, second) = (id_of(&first), id_of(&second));
    assert!(
        first.len() >= 16 && first.bytes().all(|b| b.is_ascii_hexdigit()),
        "{first}"
    );
    assert_ne!(first, second);

    let kept = app
        .browser
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-7f3a.2:edge_1")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&kept), "lb-7f3a.2:edge_1");

    let replaced = app
        .browser
        .get(app.url("/healthz"))
        .header("x-request-id", "two words\"<script>")
        .send()
        .await
        .unwrap();
    let replaced = id_of(&replaced);
    assert!(replaced.bytes().all(|b| b.is_ascii_hexdigit()), "{replaced}");
}

#[tokio::test]
async fn dingo_healthcheck_exits_0_while_the_server_is_ready_and_1_when_nothing_answers() {
    let app = TestApp::spawn().await;
    let config = app.dir.path().join("dingo.toml");
    let run = |config: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            crate::support::process::dingo()
                .args(["healthcheck", "--config"])
                .arg(config)
                .output()
                .unwrap()
        })
    };
    let ready = run(config.clone()).await.unwrap();
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stderr));

    let nowhere = app.dir.path().join("nowhere.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let port = crate::support::process::free_port();
    let listen = text.lines().find(|l| l.starts_with("listen = ")).unwrap();
    std::fs::write(
        &nowhere,
        text.replace(listen, &format!("listen = \"127.0.0.1:{port}\"")),
    )
    .unwrap();
    let down = run(nowhere).await.unwrap();
    assert_eq!(down.status.code(), Some(1));
}
