//! Native and command-line apps (RFC 8252): a public client registered with a loopback IP
//! redirect, logging in as `kubectl oidc-login` does — a listener on whichever port is free, the
//! browser sent through dingo to it, PKCE, the code redeemed by the `openidconnect` crate — and
//! mobile apps' private-use URI schemes.

use std::collections::HashMap;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestApp, TestAppOptions};

const CLI: &str = "kubectl";

async fn app() -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{CLI}\"\nname = \"kubectl\"\npublic = true\n\
             redirect_uris = [\"http://127.0.0.1/callback\", \"http://[::1]/callback\", \"com.example.app:/oauth2redirect\"]\n\
             scopes = [\"openid\", \"profile\", \"offline_access\"]\n"
        ),
        ..Default::default()
    })
    .await
}

/// A one-shot loopback listener on a free port, as a CLI opens: the query of the first request.
async fn listen() -> (u16, tokio::task::JoinHandle<HashMap<String, String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let n = socket.read(&mut request).await.unwrap();
        let text = String::from_utf8_lossy(&request[..n]).into_owned();
        let target = text.split(' ').nth(1).unwrap().to_owned();
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 26\r\nconnection: close\r\n\r\nYou may close this window.")
            .await
            .unwrap();
        url::Url::parse(&format!("http://127.0.0.1{target}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    });
    (port, served)
}

/// The person's browser: follows every redirect, as far as the CLI's listener.
async fn browse(url: &str) {
    let browser = crate::support::app::new_browser();
    let mut url = url.to_owned();
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        let Some(location) = response.headers().get("location") else {
            return;
        };
        url = url::Url::parse(&url)
            .unwrap()
            .join(location.to_str().unwrap())
            .unwrap()
            .into();
    }
}

#[tokio::test]
async fn a_cli_logs_in_through_a_loopback_listener_on_any_port_with_pkce() {
    let app = app().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
        .await
        .unwrap();
    let (port, listener) = listen().await;
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(CLI.into()), None)
        .set_redirect_uri(RedirectUrl::new(format!("http://127.0.0.1:{port}/callback")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    browse(url.as_str()).await;
    let query = listener.await.unwrap();
    assert_eq!(query.get("state"), Some(state.secret()));
    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), "zhangsan");
    assert!(
        tokens.refresh_token().is_some(),
        "a CLI keeps its login with offline_access"
    );
    assert!(!tokens.access_token().secret().is_empty());
}

#[tokio::test]
async fn native_redirects_need_pkce_and_match_nothing_but_the_port_loosely() {
    let app = app().await;
    let authorize = |redirect: &str, pkce: bool| {
        let redirect = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>();
        let pkce = if pkce {
            "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        } else {
            ""
        };
        format!(
            "{}/authorize?client_id={CLI}&redirect_uri={redirect}&response_type=code&scope=openid&state=s{pkce}",
            app.address
        )
    };
    let browser = crate::support::app::new_browser();
    let status_and_location = |url: String| {
        let browser = browser.clone();
        async move {
            let response = browser.get(url).send().await.unwrap();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (response.status().as_u16(), location)
        }
    };
    // Without PKCE: told so at its redirect, whatever the port.
    let (status, location) = status_and_location(authorize("http://127.0.0.1:40123/callback", false)).await;
    assert_eq!(status, 302);
    assert!(
        location.starts_with("http://127.0.0.1:40123/callback?error=invalid_request"),
        "{location}"
    );
    // With PKCE, any port of either loopback address goes on to DingTalk.
    for redirect in ["http://127.0.0.1:40123/callback", "http://[::1]:5/callback"] {
        let (status, location) = status_and_location(authorize(redirect, true)).await;
        assert_eq!(status, 302, "{redirect}");
        assert!(!location.contains("error="), "{redirect}: {location}");
    }
    // A private-use scheme is matched exactly, and needs PKCE too.
    let (_, location) = status_and_location(authorize("com.example.app:/oauth2redirect", false)).await;
    assert!(
        location.starts_with("com.example.app:/oauth2redirect?error=invalid_request"),
        "{location}"
    );
    let (_, location) = status_and_location(authorize("com.example.app:/oauth2redirect", true)).await;
    assert!(!location.starts_with("com.example.app:"), "on to DingTalk: {location}");
    // Anything else than the port must match: a page, never a redirect.
    for wrong in [
        "http://127.0.0.1:40123/callback/more",
        "http://localhost:40123/callback",
        "com.example.app:/other",
    ] {
        let (status, _) = status_and_location(authorize(wrong, true)).await;
        assert_eq!(status, 400, "{wrong}");
    }
}
