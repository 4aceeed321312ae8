//! The client_credentials grant: a service calling with its own identity, through the
//! `openidconnect` crate as a service would, and by plain HTTP for what it must refuse.

use openidconnect::core::CoreClient;
use openidconnect::{ClientId, ClientSecret, OAuth2TokenResponse, TokenResponse};
use serde_json::Value;

use crate::support::app::{WEB_CLIENT, WEB_SECRET};
use crate::support::{Rp, TestApp, TestAppOptions};

const SERVICE: &str = "reports-service";

async fn app_with_service(format: &str) -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{SERVICE}\"\nredirect_uris = []\nsecret_sha256 = \"{}\"\n\
             grant_types = [\"client_credentials\"]\naccess_token_format = \"{format}\"\n",
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await
}

async fn client_credentials(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    app.browser
        .post(app.url("/token"))
        .basic_auth(client, Some(WEB_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_gets_an_access_token_about_itself_with_no_id_token_or_refresh_token() {
    let app = app_with_service("opaque").await;
    let rp = Rp::discover(&app).await;
    let client = CoreClient::from_provider_metadata(
        rp.metadata.clone(),
        ClientId::new(SERVICE.into()),
        Some(ClientSecret::new(WEB_SECRET.into())),
    );
    let tokens = client
        .exchange_client_credentials()
        .unwrap()
        .request_async(&rp.http)
        .await
        .unwrap();
    assert!(tokens.id_token().is_none(), "no person, no ID token");
    assert!(tokens.refresh_token().is_none());
    let access = tokens.access_token().secret().clone();

    let introspected: Value = app
        .browser
        .post(app.url("/introspect"))
        .basic_auth(SERVICE, Some(WEB_SECRET))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["sub"], SERVICE, "the token is about the client");
    assert_eq!(introspected["client_id"], SERVICE);
    assert!(introspected.get("username").is_none(), "{introspected}");

    let userinfo = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        403,
        "userinfo describes people: a token without openid is refused"
    );
    let challenge = userinfo.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
}

#[tokio::test]
async fn a_jwt_access_token_of_a_service_names_the_service_as_its_subject() {
    let app = app_with_service("jwt").await;
    let response = client_credentials(&app, SERVICE, &[]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body.get("id_token").is_none() && body.get("refresh_token").is_none(),
        "{body}"
    );
    let jwks = app.jwks().await;
    let claims = crate::support::app::verify_jwt(&jwks, body["access_token"].as_str().unwrap(), &app.address, SERVICE);
    assert_eq!(
        (&claims["sub"], &claims["client_id"]),
        (&SERVICE.into(), &SERVICE.into())
    );
    assert!(claims.get("auth_time").is_none(), "nobody authenticated");
}

#[tokio::test]
async fn client_credentials_are_refused_to_clients_not_registered_for_them_and_for_person_scopes() {
    let app = app_with_service("opaque").await;
    let error = |response: reqwest::Response| async move {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (status.as_u16(), body["error"].as_str().unwrap().to_owned())
    };
    let web_app = client_credentials(&app, WEB_CLIENT, &[]).await;
    assert_eq!(error(web_app).await, (400, "unauthorized_client".into()));
    let person = client_credentials(&app, SERVICE, &[("scope", "openid profile")]).await;
    assert_eq!(error(person).await, (400, "invalid_scope".into()));
    // And the service may not use the grants of people.
    let code = app
        .browser
        .post(app.url("/token"))
        .basic_auth(SERVICE, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", "https://x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error(code).await, (400, "unauthorized_client".into()));
    let unknown = client_credentials(&app, SERVICE, &[]).await;
    assert_eq!(unknown.status(), 200);
    let password = app
        .browser
        .post(app.url("/token"))
        .basic_auth(SERVICE, Some(WEB_SECRET))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(error(password).await, (400, "unsupported_grant_type".into()));
}

#[tokio::test]
async fn resource_names_the_audience_of_a_jwt_access_token_among_those_the_client_registered() {
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{SERVICE}\"\nredirect_uris = []\nsecret_sha256 = \"{}\"\n\
             grant_types = [\"client_credentials\"]\naccess_token_format = \"jwt\"\n\
             resources = [\"https://orders.example.com\", \"https://billing.example.com/api\"]\n",
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await;
    let jwks = app.jwks().await;
    let audience_of = |answer: Value| {
        let jwt = answer["access_token"].as_str().unwrap().to_owned();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        crate::support::app::jwt_claims(&jwt)["aud"].clone()
    };
    // Without `resource`: the first registered, the client's default audience (RFC 9068 §3).
    let default = client_credentials(&app, SERVICE, &[]).await;
    assert_eq!(default.status(), 200);
    let token: Value = default.json().await.unwrap();
    assert_eq!(audience_of(token.clone()), "https://orders.example.com");
    let claims = crate::support::app::verify_jwt(
        &jwks,
        token["access_token"].as_str().unwrap(),
        &app.address,
        "https://orders.example.com",
    );
    assert_eq!(claims["client_id"], SERVICE);
    let billing = client_credentials(&app, SERVICE, &[("resource", "https://billing.example.com/api")]).await;
    let billing: Value = billing.json().await.unwrap();
    assert_eq!(audience_of(billing.clone()), "https://billing.example.com/api");
    // Introspection says the same `aud` as the token itself (RFC 7662 §2.2).
    let introspected: Value = app
        .browser
        .post(app.url("/introspect"))
        .basic_auth(SERVICE, Some(WEB_SECRET))
        .form(&[("token", billing["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["aud"], "https://billing.example.com/api");
    for refused in ["https://stranger.example.com", "https://orders.example.com#x", "orders"] {
        let answer = client_credentials(&app, SERVICE, &[("resource", refused)]).await;
        assert_eq!(answer.status(), 400, "{refused}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "invalid_target", "{refused}: {body}");
    }
}
