//! Discovery and the JWKS.

use serde_json::Value;

use crate::support::{Rp, TestApp, TestAppOptions};

#[tokio::test]
async fn discovery_advertises_exactly_what_is_implemented() {
    let app = TestApp::spawn().await;
    let response = app
        .browser
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.address);
    for (key, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks.json"),
        ("device_authorization_endpoint", "/device_authorization"),
    ] {
        assert_eq!(doc[key], app.url(path), "{key}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        doc["prompt_values_supported"],
        serde_json::json!(["none", "login", "consent", "select_account"])
    );
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("dingtalk"))
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        doc["response_modes_supported"],
        serde_json::json!(["query", "fragment", "form_post"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    // The advertised endpoints answer.
    for key in ["jwks_uri", "userinfo_endpoint"] {
        let status = app
            .browser
            .get(doc[key].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 404, "{key}");
    }
}

#[tokio::test]
async fn the_openidconnect_crate_accepts_the_discovery_document() {
    let app = TestApp::spawn().await;
    let rp = Rp::discover(&app).await;
    assert_eq!(rp.metadata.issuer().as_str(), app.address);
}

#[tokio::test]
async fn the_jwks_publishes_the_rsa_key_under_its_thumbprint() {
    let app = TestApp::spawn().await;
    let jwks: Value = app
        .browser
        .get(app.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    let (n, e) = (key["n"].as_str().unwrap(), key["e"].as_str().unwrap());
    assert_eq!(key["kid"], dingo::crypto::keys::rsa_thumbprint(n, e));
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
}

#[tokio::test]
async fn the_key_survives_a_restart() {
    let first = TestApp::spawn().await;
    let before: Value = first
        .browser
        .get(first.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dir = first.dir.clone();
    drop(first);
    let second = TestApp::spawn_with(TestAppOptions {
        dir: Some(dir),
        ..Default::default()
    })
    .await;
    let after: Value = second
        .browser
        .get(second.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["keys"][0]["kid"], after["keys"][0]["kid"]);
}

/// A client whose ID tokens are signed with `alg`, verified by the `openidconnect` crate.
async fn id_token_signed_with(alg: &str, core_alg: openidconnect::core::CoreJwsSigningAlgorithm) {
    use openidconnect::core::{CoreClient, CoreIdTokenVerifier};
    use openidconnect::{AuthorizationCode, ClientId, ClientSecret, Nonce, RedirectUrl, TokenResponse};
    let client_id = format!("signed-{}", alg.to_lowercase());
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{client_id}\"\nredirect_uris = [\"{}\"]\nsecret_sha256 = \"{}\"\n\
             id_token_signed_response_alg = \"{alg}\"\n",
            crate::support::app::WEB_REDIRECT,
            dingo::crypto::sha256_hex(crate::support::app::WEB_SECRET)
        ),
        ..Default::default()
    })
    .await;
    let rp = Rp::discover(&app).await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = app.follow(&app.authorize_url_for(&client_id, "")).await.query();
    let client = CoreClient::from_provider_metadata(
        rp.metadata.clone(),
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(crate::support::app::WEB_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(crate::support::app::WEB_REDIRECT.into()).unwrap());
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .request_async(&rp.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let verifier: CoreIdTokenVerifier = client.id_token_verifier().set_allowed_algs(vec![core_alg.clone()]);
    let claims = id_token.claims(&verifier, &Nonce::new("n-1".into())).unwrap();
    assert_eq!(claims.subject().as_str(), "zhangsan");
    assert_eq!(id_token.signing_alg().unwrap(), &core_alg);
    let expected = claims.access_token_hash().unwrap();
    let actual = openidconnect::AccessTokenHash::from_token(
        openidconnect::OAuth2TokenResponse::access_token(&tokens),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected, "at_hash with the algorithm's hash");
}

#[tokio::test]
async fn a_client_may_have_es256_id_tokens() {
    id_token_signed_with("ES256", openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256).await;
}

#[tokio::test]
async fn a_client_may_have_eddsa_id_tokens() {
    id_token_signed_with("EdDSA", openidconnect::core::CoreJwsSigningAlgorithm::EdDsa).await;
}

#[tokio::test]
async fn every_get_endpoint_answers_head_and_a_wrong_method_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    for path in ["/.well-known/openid-configuration", "/jwks.json", "/healthz", "/"] {
        let get = http.get(app.url(path)).send().await.unwrap();
        let head = http.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}: HEAD has no body");
    }
    for (method, path, allow) in [
        (reqwest::Method::POST, "/.well-known/openid-configuration", "GET, HEAD"),
        (reqwest::Method::GET, "/token", "POST"),
        (reqwest::Method::DELETE, "/revoke", "POST"),
        (reqwest::Method::PUT, "/userinfo", "GET, HEAD, POST"),
        (reqwest::Method::PATCH, "/authorize", "GET, HEAD, POST"),
    ] {
        let answer = http.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 405, "{method} {path}");
        assert_eq!(answer.headers()["allow"], allow, "{method} {path}");
    }
}
