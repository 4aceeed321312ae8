//! Signing keys: three algorithms, rotation with the next key published ahead, the retire
//! window, the JWKS's cache lifetime, `dingo keys` against a running server, restarts.

use dingo::crypto::Alg;
use dingo::keyring::Rotation;
use jsonwebtoken::decode_header;
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;

use crate::support::app::{WEB_CLIENT, verify_jwt};
use crate::support::process::dingo;
use crate::support::{TestApp, TestAppOptions};

const DAY: i64 = 86_400;
/// How long a superseded key stays published with the test app's token lifetimes (an hour).
const RETIRE_WINDOW: i64 = 3600;

async fn jwks(app: &TestApp) -> (Value, String) {
    let response = app.browser.get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"].to_str().unwrap().to_owned();
    (response.json().await.unwrap(), cache)
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    decode_header(token).unwrap().kid.unwrap()
}

fn verify_with(jwks: &Value, token: &str, issuer: &str) -> Value {
    verify_jwt(jwks, token, issuer, WEB_CLIENT)
}

async fn id_token(app: &TestApp) -> String {
    app.tokens_for("zhangsan").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn created(rotation: Rotation) -> String {
    match rotation {
        Rotation::Created { kid, .. } => kid,
        other => panic!("expected a new key, got {other:?}"),
    }
}

#[tokio::test]
async fn the_jwks_publishes_one_key_of_each_algorithm_under_its_thumbprint() {
    let app = TestApp::spawn().await;
    let (jwks, _) = jwks(&app).await;
    let keys = jwks["keys"].as_array().unwrap();
    let shape: Vec<(&str, &str, Option<&str>)> = keys
        .iter()
        .map(|k| {
            (
                k["kty"].as_str().unwrap(),
                k["alg"].as_str().unwrap(),
                k["crv"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("RSA", "RS256", None),
            ("EC", "ES256", Some("P-256")),
            ("OKP", "EdDSA", Some("Ed25519"))
        ]
    );
    for key in keys {
        let jwk: Jwk = serde_json::from_value(key.clone()).unwrap();
        assert_eq!(key["kid"], jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256));
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private part");
    }
}

#[tokio::test]
async fn a_new_key_is_in_the_jwks_before_it_signs_and_old_tokens_verify_after_the_switch() {
    let app = TestApp::spawn().await;
    let old_token = id_token(&app).await;
    let old_kid = kid_of(&old_token);
    let next = created(app.keyring.rotate(Alg::RS256, false).await.unwrap());
    app.keyring.reload().await.unwrap();

    let (published, _) = jwks(&app).await;
    assert!(kids(&published).contains(&next), "published before its first use");
    assert_eq!(kid_of(&id_token(&app).await), old_kid, "but not signing yet");

    app.clock.advance(DAY);
    app.keyring.reload().await.unwrap();
    let new_token = id_token(&app).await;
    assert_eq!(kid_of(&new_token), next, "new tokens carry the new kid");
    let (after, _) = jwks(&app).await;
    assert_eq!(verify_with(&after, &old_token, &app.address)["sub"], "zhangsan");
    assert_eq!(verify_with(&after, &new_token, &app.address)["sub"], "zhangsan");
    // A relying party that cached the JWKS while the key was next verifies the new token too.
    assert_eq!(verify_with(&published, &new_token, &app.address)["sub"], "zhangsan");
}

#[tokio::test]
async fn a_retired_key_leaves_the_jwks_once_every_token_it_signed_has_expired() {
    let app = TestApp::spawn().await;
    let old_kid = kid_of(&id_token(&app).await);
    let new = created(app.keyring.rotate(Alg::RS256, true).await.unwrap());
    app.keyring.reload().await.unwrap();
    assert_eq!(kid_of(&id_token(&app).await), new);
    assert!(kids(&jwks(&app).await.0).contains(&old_kid));

    app.clock.advance(RETIRE_WINDOW - 5);
    app.keyring.reload().await.unwrap();
    assert!(kids(&jwks(&app).await.0).contains(&old_kid), "still within the window");
    app.clock.advance(5);
    app.keyring.reload().await.unwrap();
    let remaining = kids(&jwks(&app).await.0);
    assert!(!remaining.contains(&old_kid), "{remaining:?}");
    assert!(remaining.contains(&new));
}

#[tokio::test]
async fn the_jwks_may_be_cached_for_at_most_half_the_time_a_key_is_published_ahead() {
    let app = TestApp::spawn().await;
    assert_eq!(jwks(&app).await.1, "public, max-age=3600", "an hour at most");
    let short = TestApp::spawn_with(TestAppOptions {
        env: vec![("DINGO_KEYS__PUBLISH_AHEAD", "600".into())],
        ..Default::default()
    })
    .await;
    assert_eq!(jwks(&short).await.1, "public, max-age=300");
}

#[tokio::test]
async fn every_key_survives_a_restart_with_its_kid() {
    let first = TestApp::spawn().await;
    let before = kids(&jwks(&first).await.0);
    let token = id_token(&first).await;
    let (dir, issuer) = (first.dir.clone(), first.address.clone());
    drop(first);
    let second = TestApp::spawn_with(TestAppOptions {
        dir: Some(dir),
        ..Default::default()
    })
    .await;
    let (after, _) = jwks(&second).await;
    assert_eq!(kids(&after), before);
    assert_eq!(kid_of(&id_token(&second).await), kid_of(&token));
    assert_eq!(verify_with(&after, &token, &issuer)["sub"], "zhangsan");
}

/// Runs `dingo keys ARGS` on the test app's database and key directory; returns its stdout.
async fn dingo_keys(app: &TestApp, args: &[&str]) -> String {
    let config = app.dir.path().join("keys-cli.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nissuer = \"{}\"\n[database]\nurl = \"{}\"\n[keys]\ndir = {:?}\n",
            app.address,
            crate::support::database::database_url(app.dir.path()),
            app.dir.path().join("keys"),
        ),
    )
    .unwrap();
    let mut command = dingo();
    command
        .arg("keys")
        .args(args)
        .arg("--config")
        .arg(&config)
        .env("DINGO_DINGTALK__CLIENT_ID", "k")
        .env("DINGO_DINGTALK__CLIENT_SECRET", "s")
        .env("DINGO_DINGTALK__CORP_ID", "c");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "dingo keys {args:?}: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn dingo_keys_rotate_run_beside_a_server_is_picked_up_by_it() {
    let app = TestApp::spawn().await;
    let old_kid = kid_of(&id_token(&app).await);

    let listed = dingo_keys(&app, &["list"]).await;
    let header = listed.lines().next().unwrap();
    for column in ["KID", "ALG", "STATE", "CREATED", "ACTIVATES", "RETIRES"] {
        assert!(header.contains(column), "{listed}");
    }
    let line = listed.lines().find(|l| l.starts_with(&old_kid)).unwrap();
    assert!(line.contains("RS256") && line.contains("signing"), "{listed}");
    assert_eq!(listed.lines().filter(|l| l.contains("signing")).count(), 3, "{listed}");

    let rotated = dingo_keys(&app, &["rotate", "--alg", "ES256"]).await;
    assert!(
        rotated.starts_with("ES256: ") && rotated.contains("published, signs from"),
        "{rotated}"
    );
    let next = rotated["ES256: ".len()..].split_whitespace().next().unwrap().to_owned();
    // The server hears of the rotation (at once on PostgreSQL, at its next look on SQLite).
    let mut handled = app.changes_handled.clone();
    tokio::time::timeout(std::time::Duration::from_secs(10), handled.wait_for(|n| *n > 0))
        .await
        .expect("the server acts on the rotation")
        .unwrap();
    assert!(kids(&jwks(&app).await.0).contains(&next));
    let rotations = app
        .db
        .audit_events(&dingo::store::AuditFilter {
            outcome: Some("keys_rotated".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rotations.len(), 1, "the rotation is an audited admin action");
    let listed = dingo_keys(&app, &["list"]).await;
    assert!(
        listed.lines().any(|l| l.starts_with(&next) && l.contains("next")),
        "{listed}"
    );

    let now = dingo_keys(&app, &["rotate", "--alg", "RS256", "--now"]).await;
    let new_kid = now["RS256: ".len()..].split_whitespace().next().unwrap().to_owned();
    app.keyring.reload().await.unwrap();
    assert_eq!(kid_of(&id_token(&app).await), new_kid);
    let listed = dingo_keys(&app, &["list"]).await;
    let old = listed.lines().find(|l| l.starts_with(&old_kid)).unwrap();
    assert!(old.contains("retiring"), "{listed}");
}

#[tokio::test]
async fn dingo_keys_exports_a_private_key_that_imports_as_the_same_kid() {
    let app = TestApp::spawn().await;
    let kid = kid_of(&id_token(&app).await);
    let pem = dingo_keys(&app, &["export", "--kid", &kid]).await;
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let key = dingo::crypto::SigningKey::from_pem(&pem, Some(Alg::RS256)).unwrap();
    assert_eq!(key.kid(), kid);

    let fresh = dingo::crypto::SigningKey::generate(Alg::EdDSA).unwrap();
    let file = app.dir.path().join("ed.pem");
    std::fs::write(&file, fresh.to_pem().unwrap()).unwrap();
    let imported = dingo_keys(&app, &["import", file.to_str().unwrap(), "--next"]).await;
    assert!(
        imported.contains(fresh.kid()) && imported.starts_with("EdDSA"),
        "{imported}"
    );
    app.keyring.reload().await.unwrap();
    assert!(kids(&jwks(&app).await.0).contains(&fresh.kid().to_owned()));
}
