//! Client authentication with `private_key_jwt` (RFC 7523) and registered methods, and RFC 9068
//! JWT access tokens.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use dingo::clock::Clock;
use dingo::crypto::{Alg, SigningKey, jwt, random_token};
use serde_json::{Value, json};

use crate::support::app::{WEB_REDIRECT, new_browser};
use crate::support::{TestApp, TestAppOptions};

const JWT_CLIENT: &str = "signed-client";

/// A client registered with its public key inline, or at a JWKS URI.
async fn app_with_key_client(key: &SigningKey, jwks_uri: Option<&str>) -> TestApp {
    let keys = match jwks_uri {
        Some(uri) => format!("jwks_uri = \"{uri}\""),
        None => format!("jwks = '{}'", json!({"keys": [key.public_jwk()]})),
    };
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{JWT_CLIENT}\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\n\
             token_endpoint_auth_method = \"private_key_jwt\"\naccess_token_format = \"jwt\"\n{keys}\n"
        ),
        ..Default::default()
    })
    .await
}

fn assertion(app: &TestApp, key: &SigningKey, aud: &str, exp_in: i64, jti: &str) -> String {
    let now = app.clock.now();
    let claims = json!({"iss": JWT_CLIENT, "sub": JWT_CLIENT, "aud": aud, "iat": now, "exp": now + exp_in, "jti": jti});
    jwt::sign(&claims, key, "JWT").unwrap()
}

async fn code_for(app: &TestApp, client: &str) -> String {
    app.sim.set_auto_login(Some("zhangsan".into()));
    app.follow_with(&new_browser(), &app.authorize_url_for(client, ""))
        .await
        .query()["code"]
        .clone()
}

async fn redeem_with_assertion(app: &TestApp, code: &str, assertion: &str) -> reqwest::Response {
    app.browser
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WEB_REDIRECT),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_client_authenticates_with_a_signed_assertion_once() {
    let key = SigningKey::generate(Alg::RS256).unwrap();
    let app = app_with_key_client(&key, None).await;
    let token_endpoint = app.url("/token");
    let signed = assertion(&app, &key, &token_endpoint, 120, &random_token());
    let code = code_for(&app, JWT_CLIENT).await;
    let response = redeem_with_assertion(&app, &code, &signed).await;
    assert_eq!(response.status(), 200);
    // The same assertion again is a replay.
    let code = code_for(&app, JWT_CLIENT).await;
    assert_eq!(
        error_of(redeem_with_assertion(&app, &code, &signed).await).await,
        (401, "invalid_client".into())
    );
    // The issuer is an accepted audience too.
    let by_issuer = assertion(&app, &key, &app.address, 120, &random_token());
    assert_eq!(redeem_with_assertion(&app, &code, &by_issuer).await.status(), 200);
}

#[tokio::test]
async fn es256_and_eddsa_assertions_are_accepted_too() {
    for alg in [Alg::ES256, Alg::EdDSA] {
        let key = SigningKey::generate(alg).unwrap();
        let app = app_with_key_client(&key, None).await;
        let code = code_for(&app, JWT_CLIENT).await;
        let signed = assertion(&app, &key, &app.url("/token"), 120, &random_token());
        assert_eq!(
            redeem_with_assertion(&app, &code, &signed).await.status(),
            200,
            "{alg:?}"
        );
    }
}

#[tokio::test]
async fn assertions_with_the_wrong_audience_key_or_lifetime_are_refused() {
    let key = SigningKey::generate(Alg::RS256).unwrap();
    let app = app_with_key_client(&key, None).await;
    let code = code_for(&app, JWT_CLIENT).await;
    let token_endpoint = app.url("/token");
    let other_key = SigningKey::generate(Alg::RS256).unwrap();
    for (why, signed) in [
        (
            "wrong audience",
            assertion(&app, &key, "https://elsewhere.example.com/token", 120, &random_token()),
        ),
        (
            "unknown key",
            assertion(&app, &other_key, &token_endpoint, 120, &random_token()),
        ),
        ("expired", assertion(&app, &key, &token_endpoint, -120, &random_token())),
        ("no jti", assertion(&app, &key, &token_endpoint, 120, "")),
    ] {
        let (status, error) = error_of(redeem_with_assertion(&app, &code, &signed).await).await;
        assert_eq!((status, error.as_str()), (401, "invalid_client"), "{why}");
    }
    // The code was never consumed by those attempts.
    let good = assertion(&app, &key, &token_endpoint, 120, &random_token());
    assert_eq!(redeem_with_assertion(&app, &code, &good).await.status(), 200);
}

/// Serves a JWKS document that the test can change.
fn serve_jwks(document: Arc<Mutex<Value>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let document = document.clone();
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let body = document.lock().unwrap().clone();
                async move { HttpResponse::Ok().json(body) }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    uri
}

#[tokio::test]
async fn keys_come_from_the_jwks_uri_and_a_new_key_is_picked_up() {
    let first = SigningKey::generate(Alg::RS256).unwrap();
    let document = Arc::new(Mutex::new(json!({"keys": [first.public_jwk()]})));
    let uri = serve_jwks(document.clone());
    let app = app_with_key_client(&first, Some(&uri)).await;
    let token_endpoint = app.url("/token");
    let code = code_for(&app, JWT_CLIENT).await;
    let signed = assertion(&app, &first, &token_endpoint, 120, &random_token());
    assert_eq!(redeem_with_assertion(&app, &code, &signed).await.status(), 200);
    // The client rotates: its new key is published, and dingo fetches the document again.
    let second = SigningKey::generate(Alg::RS256).unwrap();
    *document.lock().unwrap() = json!({"keys": [first.public_jwk(), second.public_jwk()]});
    let code = code_for(&app, JWT_CLIENT).await;
    let signed = assertion(&app, &second, &token_endpoint, 120, &random_token());
    assert_eq!(redeem_with_assertion(&app, &code, &signed).await.status(), 200);
}

#[tokio::test]
async fn a_client_registered_for_one_secret_method_cannot_use_the_other() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"basic-only\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\n\
             token_endpoint_auth_method = \"client_secret_basic\"\nsecret_sha256 = \"{}\"\n",
            dingo::crypto::sha256_hex("basic-secret")
        ),
        ..Default::default()
    })
    .await;
    let code = code_for(&app, "basic-only").await;
    let post = app
        .browser
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_REDIRECT),
            ("client_id", "basic-only"),
            ("client_secret", "basic-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(post).await, (401, "invalid_client".into()));
    let basic = app
        .browser
        .post(app.url("/token"))
        .basic_auth("basic-only", Some("basic-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
}

#[tokio::test]
async fn jwt_access_tokens_verify_with_the_jwks_and_still_work_at_userinfo() {
    let key = SigningKey::generate(Alg::RS256).unwrap();
    let app = app_with_key_client(&key, None).await;
    let code = code_for(&app, JWT_CLIENT).await;
    let signed = assertion(&app, &key, &app.url("/token"), 120, &random_token());
    let tokens: Value = redeem_with_assertion(&app, &code, &signed).await.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks: Value = app
        .browser
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header.kid.clone().unwrap())
        .unwrap();
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[JWT_CLIENT]);
    validation.set_issuer(&[&app.address]);
    let claims = jsonwebtoken::decode::<Value>(access_token, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "zhangsan");
    assert_eq!(claims["client_id"], JWT_CLIENT);
    assert!(claims["jti"].is_string() && claims["scope"].as_str().unwrap().contains("openid"));
    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
}

#[tokio::test]
async fn a_request_with_no_client_authentication_at_all_is_401_invalid_client() {
    let app = TestApp::spawn().await;
    for (path, form) in [
        (
            "/token",
            vec![
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("redirect_uri", WEB_REDIRECT),
            ],
        ),
        ("/introspect", vec![("token", "x")]),
        ("/revoke", vec![("token", "x")]),
    ] {
        let answer = app.browser.post(app.url(path)).form(&form).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{path}: {body}");
    }
}
