//! Browser apps (CORS): discovery and the JWKS answer any origin; the token endpoints answer
//! only origins a client registered, echoed exactly; `/authorize` never.

use reqwest::Method;

use crate::support::{TestApp, TestAppOptions};

const SPA_ORIGIN: &str = "http://127.0.0.1:1";
const PORTAL_ORIGIN: &str = "https://portal.example.com";
const STRANGER: &str = "https://stranger.example.com";

async fn app() -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"portal\"\nredirect_uris = [\"https://portal.example.com/cb\"]\n\
             secret_sha256 = \"{}\"\nallowed_origins = [\"{PORTAL_ORIGIN}\"]\n",
            dingo::crypto::sha256_hex(crate::support::app::WEB_SECRET)
        ),
        ..Default::default()
    })
    .await
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap()
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn discovery_and_the_jwks_answer_any_origin() {
    let app = app().await;
    for path in ["/.well-known/openid-configuration", "/jwks.json"] {
        let answer = reqwest::Client::new()
            .get(app.url(path))
            .header("origin", STRANGER)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(allowed_origin(&answer), Some("*"), "{path}");
        let pre = preflight(&app, path, STRANGER, "GET").await;
        assert_eq!(pre.status(), 204);
        assert_eq!(allowed_origin(&pre), Some("*"));
    }
}

#[tokio::test]
async fn the_token_endpoints_answer_only_registered_origins_exactly() {
    let app = app().await;
    // The public SPA's redirect URI gives its origin; the portal registered its own.
    for (path, origin) in [
        ("/token", SPA_ORIGIN),
        ("/userinfo", SPA_ORIGIN),
        ("/revoke", PORTAL_ORIGIN),
        ("/introspect", PORTAL_ORIGIN),
    ] {
        let pre = preflight(&app, path, origin, "POST").await;
        assert_eq!(pre.status(), 204, "{path}");
        assert_eq!(allowed_origin(&pre), Some(origin), "{path}");
        let headers = pre.headers();
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert!(
            headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("authorization")
        );
        assert!(
            headers["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
        assert_eq!(headers["vary"], "Origin");
        let refused = preflight(&app, path, STRANGER, "POST").await;
        assert_eq!(allowed_origin(&refused), None, "{path}: an origin nobody registered");
    }
    // The answers themselves, errors included, carry the same.
    let answer = reqwest::Client::new()
        .post(app.url("/token"))
        .header("origin", SPA_ORIGIN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "spa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(allowed_origin(&answer), Some(SPA_ORIGIN));
    assert!(answer.headers().get_all("vary").iter().any(|v| v == "Origin"));
    let stranger = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .header("origin", STRANGER)
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 401);
    assert_eq!(allowed_origin(&stranger), None);
}

#[tokio::test]
async fn the_authorization_endpoint_and_pages_never_answer_scripts() {
    let app = app().await;
    let answer = crate::support::app::new_browser()
        .get(app.authorize_url(""))
        .header("origin", SPA_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed_origin(&answer), None);
    let pre = preflight(&app, "/authorize", SPA_ORIGIN, "GET").await;
    assert_eq!(allowed_origin(&pre), None);
    assert_eq!(pre.status(), 405, "no preflight is answered there");
}
