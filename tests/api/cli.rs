//! The `dingo` binary: help, configuration checks, migrations.

use std::process::Command;

fn dingo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dingo"));
    command.env_remove("DINGO_CONFIG").env("RUST_LOG", "warn");
    command
}

#[test]
fn every_subcommand_explains_itself() {
    for sub in ["serve", "demo", "sim", "migrate", "check-config"] {
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
    std::fs::write(
        &path,
        "[server]\nissuer = \"http://sso.example.com\"\ncolour = 1\n",
    )
    .unwrap();
    let output = dingo()
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
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
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(db.exists());
}
