//! The `dingo` binary: help, configuration checks, migrations.

use crate::support::process::{Process, dingo, free_port};

#[test]
fn every_subcommand_explains_itself() {
    for sub in [
        "serve",
        "demo",
        "sim",
        "migrate",
        "check-config",
        "keys",
        "clients",
        "users",
        "sessions",
        "audit",
    ] {
        let output = dingo().args([sub, "--help"]).output().unwrap();
        assert!(output.status.success(), "{sub}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("Usage:") && text.len() > 120, "{sub}: {text}");
    }
}

#[test]
fn check_config_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dingo.toml");
    std::fs::write(&path, "[server]\nissuer = \"http://sso.example.com\"\ncolour = 1\n").unwrap();
    let output = dingo().arg("check-config").arg("--config").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8(output.stderr).unwrap();
    for expected in [
        "server.colour",
        "dingtalk.client_id",
        "dingtalk.client_secret",
        "dingtalk.corp_id",
    ] {
        assert!(errors.contains(expected), "{expected} in {errors}");
    }
}

#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dingo.toml");
    std::fs::write(
        &path,
        "[server]\nissuer = \"https://sso.example.com\"\n[dingtalk]\nclient_id = \"dingkey\"\ncorp_id = \"dingcorp\"\n",
    )
    .unwrap();
    let output = dingo()
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .env("DINGO_DINGTALK__CLIENT_SECRET", "very-secret-value")
        .env("DINGO_TOKENS__ACCESS_TOKEN_TTL", "900")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("access_token_ttl = 900"), "{printed}");
    assert!(printed.contains("[redacted]"));
    assert!(!printed.contains("very-secret-value"));
}

#[test]
fn a_missing_configuration_file_is_an_error_when_named() {
    let output = dingo()
        .args(["check-config", "--config", "/nonexistent/dingo.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("/nonexistent/dingo.toml")
    );
}

#[test]
fn migrate_creates_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fresh.db");
    let output = dingo()
        .arg("migrate")
        .current_dir(dir.path())
        .env("DINGO_DATABASE__URL", format!("sqlite://{}", db.display()))
        .env("DINGO_SERVER__ISSUER", "https://sso.example.com")
        .env("DINGO_DINGTALK__CLIENT_ID", "k")
        .env("DINGO_DINGTALK__CLIENT_SECRET", "s")
        .env("DINGO_DINGTALK__CORP_ID", "c")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(db.exists());
}

#[test]
fn serve_answers_discovery_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut command = dingo();
    command
        .arg("serve")
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .env("DINGO_SERVER__ISSUER", &issuer)
        .env("DINGO_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("DINGO_DINGTALK__CLIENT_ID", "dingkey")
        .env("DINGO_DINGTALK__CLIENT_SECRET", "s3cret-value")
        .env("DINGO_DINGTALK__CORP_ID", "dingcorp");
    let mut child = Process::start(command, "dingo is serving");
    let doc: serde_json::Value = reqwest::blocking_get(&format!("{issuer}/.well-known/openid-configuration")).unwrap();
    assert_eq!(doc["issuer"], issuer);
    assert!(
        dir.path().join("dingo.db").exists(),
        "the default SQLite file is created"
    );
    assert!(
        std::fs::read_dir(dir.path().join("keys")).unwrap().count() == 1,
        "a key is generated"
    );
    child.signal("TERM");
    assert!(child.wait().0.success());
}

#[test]
fn sim_serves_dingtalk_answers_on_its_own() {
    let port = free_port();
    let mut command = dingo();
    command.args(["sim", "--listen", &format!("127.0.0.1:{port}")]);
    let mut child = Process::start(command, "DingTalk simulator on");
    let body: serde_json::Value = reqwest::blocking_get(&format!(
        "http://127.0.0.1:{port}/gettoken?appkey=wrong&appsecret=wrong"
    ))
    .unwrap();
    assert_eq!(body["errcode"], 40096);
    child.signal("TERM");
    child.wait();
}

/// A tiny blocking GET for these process tests (they run outside an async runtime).
mod reqwest {
    pub fn blocking_get(url: &str) -> Result<serde_json::Value, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let response = ::reqwest::get(url).await.map_err(|e| e.to_string())?;
            response.json().await.map_err(|e| e.to_string())
        })
    }
}
