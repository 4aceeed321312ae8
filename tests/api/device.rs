//! The device authorization grant (RFC 8628): a command-line tool runs the device flow of the
//! `openidconnect` crate while a person, in their own browser, opens the verification URI,
//! logs in through the simulator and approves the device; and each answer the token endpoint
//! gives a polling device, the device page's refusals, the in-app route and the QR code.

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse,
    ProviderMetadata, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::support::app::{Landing, new_browser};
use crate::support::forms::{DINGTALK_UA, attribute, inputs};
use crate::support::{TestApp, TestAppOptions};

const DEVICE_CLIENT: &str = "acme-cli";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public command-line client allowed the device grant, and one only for 财务部 (dept 3).
async fn app_with(env: Vec<(&'static str, String)>) -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{DEVICE_CLIENT}\"\nname = \"Acme CLI\"\npublic = true\n\
             grant_types = [\"{DEVICE_GRANT}\", \"refresh_token\"]\n\
             scopes = [\"openid\", \"profile\", \"offline_access\"]\n\
             [[clients]]\nclient_id = \"finance-cli\"\nname = \"报销 CLI\"\npublic = true\n\
             grant_types = [\"{DEVICE_GRANT}\"]\nscopes = [\"openid\"]\npolicy = {{ allow_departments = [3] }}\n"
        ),
        env,
        ..Default::default()
    })
    .await
}

async fn app() -> TestApp {
    app_with(Vec::new()).await
}

/// `POST /device_authorization` for `client` with `scope`.
async fn start(app: &TestApp, client: &str, scope: &str) -> (StatusCode, Value) {
    let response = app
        .browser
        .post(app.url("/device_authorization"))
        .form(&[("client_id", client), ("scope", scope)])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// One poll of `/token` for `device_code`.
async fn poll(app: &TestApp, client: &str, device_code: &str) -> (StatusCode, Value) {
    let response = app
        .browser
        .post(app.url("/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client),
            ("device_code", device_code),
        ])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn error_of(answer: &(StatusCode, Value)) -> &str {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    answer.1["error"].as_str().unwrap()
}

/// `person` opens `url` in `browser` (logging in through the simulator if need be) and lands
/// on the confirmation page: its HTML.
async fn open_confirmation(app: &TestApp, browser: &reqwest::Client, person: &str, url: &str) -> String {
    app.sim.set_auto_login(Some(person.to_owned()));
    let (status, html) = app.follow_with(browser, url).await.page();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"device-approve\""), "{html}");
    html
}

/// Posts the confirmation form of `html` with `decision`: the page it answers with.
async fn decide(app: &TestApp, browser: &reqwest::Client, html: &str, decision: &str) -> (StatusCode, String) {
    let mut fields = inputs(html);
    fields.insert("decision".into(), decision.into());
    let response = browser.post(app.url("/device")).form(&fields).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// lisi approves the device login `started` in `browser` (logging in first if need be).
async fn lisi_approves(app: &TestApp, browser: &reqwest::Client, started: &Value) {
    let url = started["verification_uri_complete"].as_str().unwrap();
    let html = open_confirmation(app, browser, "lisi", url).await;
    let (status, page) = decide(app, browser, &html, "approve").await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct DeviceEndpoint {
    device_authorization_endpoint: DeviceAuthorizationUrl,
}
impl AdditionalProviderMetadata for DeviceEndpoint {}

type DeviceProviderMetadata = ProviderMetadata<
    DeviceEndpoint,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

#[tokio::test]
async fn a_cli_logs_in_with_the_openidconnect_crates_device_flow_once_the_person_approves() {
    let app = app_with(vec![("DINGO_TOKENS__DEVICE_POLL_INTERVAL", "1".into())]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = DeviceProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
        .await
        .unwrap();
    let device_url = metadata.additional_metadata().device_authorization_endpoint.clone();
    assert_eq!(device_url.as_str(), app.url("/device_authorization"));
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(DEVICE_CLIENT.into()), None)
        .set_device_authorization_url(device_url);
    let details: openidconnect::core::CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&http)
        .await
        .unwrap();
    let user_code = details.user_code().secret().clone();
    assert!(regex_like_user_code(&user_code), "{user_code}");
    assert_eq!(details.verification_uri().as_str(), app.url("/device"));
    let complete = details.verification_uri_complete().unwrap().secret().clone();
    assert_eq!(complete, format!("{}?user_code={user_code}", app.url("/device")));
    assert_eq!(details.interval().as_secs(), 1);

    // The device polls while the person logs in and looks at the confirmation page; only
    // their approval lets it through.
    let polling = {
        let client = client.clone();
        let http = http.clone();
        tokio::spawn(async move {
            client
                .exchange_device_access_token(&details)
                .unwrap()
                .request_async(&http, tokio::time::sleep, None)
                .await
        })
    };
    let browser = new_browser();
    let html = open_confirmation(&app, &browser, "zhangsan", &complete).await;
    assert!(
        html.contains("Acme CLI") && html.contains("张三") && html.contains(&user_code),
        "{html}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(!polling.is_finished(), "logging in alone approves nothing");
    let (status, done) = decide(&app, &browser, &html, "approve").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        done.contains("设备已批准") && done.contains("Device approved"),
        "{done}"
    );

    let tokens = tokio::time::timeout(std::time::Duration::from_secs(10), polling)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("the ID token verifies");
    assert_eq!(claims.subject().as_str(), "zhangsan");
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("张三")
    );
    assert!(tokens.refresh_token().is_some(), "offline_access gives a refresh token");
    let userinfo: Value = app
        .browser
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "zhangsan");

    let audit = app.cli(&["audit", "--kind", "device"]);
    assert!(
        audit.0 && audit.1.contains("approved") && audit.1.contains(DEVICE_CLIENT),
        "{audit:?}"
    );
}

/// Two groups of four consonants, as `BCDF-GHJK`.
fn regex_like_user_code(code: &str) -> bool {
    code.len() == 9
        && code.chars().enumerate().all(|(i, c)| {
            if i == 4 {
                c == '-'
            } else {
                "BCDFGHJKLMNPQRSTVWXZ".contains(c)
            }
        })
}

#[tokio::test]
async fn a_polling_device_is_told_pending_slow_down_denied_and_expired_and_each_code_works_once() {
    let app = app().await;
    let (status, started) = start(&app, DEVICE_CLIENT, "openid profile").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);
    let device_code = started["device_code"].as_str().unwrap();

    assert_eq!(
        error_of(&poll(&app, DEVICE_CLIENT, device_code).await),
        "authorization_pending"
    );
    // Sooner than the interval: slow down, and the interval is five seconds longer from now on.
    let slow = poll(&app, DEVICE_CLIENT, device_code).await;
    assert_eq!(error_of(&slow), "slow_down");
    assert!(
        slow.1["error_description"].as_str().unwrap().contains("10 seconds"),
        "{}",
        slow.1
    );
    app.clock.advance(6);
    let slower = poll(&app, DEVICE_CLIENT, device_code).await;
    assert_eq!(error_of(&slower), "slow_down", "the interval is 10 s now");
    assert!(
        slower.1["error_description"].as_str().unwrap().contains("15 seconds"),
        "{}",
        slower.1
    );
    app.clock.advance(16);
    assert_eq!(
        error_of(&poll(&app, DEVICE_CLIENT, device_code).await),
        "authorization_pending"
    );
    // Another client cannot poll with it; a made-up code is no code.
    app.clock.advance(20);
    assert_eq!(error_of(&poll(&app, "finance-cli", device_code).await), "invalid_grant");
    app.clock.advance(20);
    assert_eq!(error_of(&poll(&app, DEVICE_CLIENT, "made-up").await), "invalid_grant");

    // Denied: the device is told so.
    let browser = new_browser();
    let url = started["verification_uri_complete"].as_str().unwrap();
    let html = open_confirmation(&app, &browser, "lisi", url).await;
    let (status, page) = decide(&app, &browser, &html, "deny").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("设备已拒绝"), "{page}");
    assert_eq!(error_of(&poll(&app, DEVICE_CLIENT, device_code).await), "access_denied");
    // A decided code cannot be decided again.
    let (status, page) = decide(&app, &browser, &html, "approve").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("device-notice"), "{page}");
    app.clock.advance(20);
    assert_eq!(error_of(&poll(&app, DEVICE_CLIENT, device_code).await), "access_denied");

    // Nobody approves in time: expired.
    let (_, late) = start(&app, DEVICE_CLIENT, "openid").await;
    app.clock.advance(601);
    assert_eq!(
        error_of(&poll(&app, DEVICE_CLIENT, late["device_code"].as_str().unwrap()).await),
        "expired_token"
    );
    let late_url = late["verification_uri_complete"].as_str().unwrap();
    let (status, page) = app.follow_with(&browser, late_url).await.page();
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an expired code is not offered: {page}"
    );

    // Approved: tokens once, then the device code is spent.
    let (_, fresh) = start(&app, DEVICE_CLIENT, "openid profile").await;
    let code = fresh["device_code"].as_str().unwrap();
    lisi_approves(&app, &browser, &fresh).await;
    let (status, tokens) = poll(&app, DEVICE_CLIENT, code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile");
    assert!(
        tokens["id_token"].is_string() && tokens["refresh_token"].is_null(),
        "{tokens}"
    );
    app.clock.advance(20);
    assert_eq!(error_of(&poll(&app, DEVICE_CLIENT, code).await), "invalid_grant");
}

#[tokio::test]
async fn device_authorization_refuses_clients_without_the_grant_and_scopes_without_openid() {
    let app = app().await;
    let (status, answer) = start(&app, crate::support::app::SPA_CLIENT, "openid").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (status, answer) = start(&app, DEVICE_CLIENT, "profile").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (status, answer) = start(&app, "nobody", "openid").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // A scope the client may not have is left out, not granted.
    let (status, answer) = start(&app, DEVICE_CLIENT, "openid email").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let browser = new_browser();
    lisi_approves(&app, &browser, &answer).await;
    let (_, tokens) = poll(&app, DEVICE_CLIENT, answer["device_code"].as_str().unwrap()).await;
    assert_eq!(tokens["scope"], "openid");

    let discovery: Value = app.discovery().await;
    assert_eq!(
        discovery["device_authorization_endpoint"],
        app.url("/device_authorization")
    );
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&DEVICE_GRANT.into())
    );
}

#[tokio::test]
async fn both_codes_are_stored_only_as_hashes() {
    let app = app().await;
    let (_, started) = start(&app, DEVICE_CLIENT, "openid").await;
    sqlx::any::install_default_drivers();
    let url = crate::support::database::database_url(app.dir.path());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT device_code_hash, user_code_hash FROM device_grants")
        .fetch_all(&pool)
        .await
        .unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert_eq!(
        rows,
        [(
            dingo::crypto::token_hash(device_code),
            dingo::crypto::token_hash(user_code)
        )]
    );
}

#[tokio::test]
async fn the_device_page_takes_typed_codes_explains_bad_ones_and_limits_guessing() {
    let app = app().await;
    let (status, html) = app.follow(&app.url("/device")).await.page();
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"user_code\"") && html.contains("登录设备") && html.contains("Log in a device"));
    // Typed in lower case without the dash, the code still finds its device.
    let (_, started) = start(&app, DEVICE_CLIENT, "openid").await;
    let typed = started["user_code"].as_str().unwrap().replace('-', "").to_lowercase();
    let browser = new_browser();
    open_confirmation(
        &app,
        &browser,
        "lisi",
        &format!("{}?user_code={typed}", app.url("/device")),
    )
    .await;

    let (status, html) = app.follow(&app.url("/device?user_code=BCDF-GHJK")).await.page();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("此代码无效") && html.contains("This code is not valid"),
        "{html}"
    );
    // Ten lookups at once at most (the default burst), then one every two seconds.
    let mut limited = false;
    for _ in 0..12 {
        let response = app
            .browser
            .get(app.url("/device?user_code=BCDF-GHJK"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "guessing is rate-limited");
}

#[tokio::test]
async fn an_approval_needs_the_pages_own_form_token_and_the_person_let_in_by_the_apps_policy() {
    let app = app().await;
    let (_, started) = start(&app, DEVICE_CLIENT, "openid").await;
    let device_code = started["device_code"].as_str().unwrap();
    let browser = new_browser();
    let html = open_confirmation(
        &app,
        &browser,
        "lisi",
        started["verification_uri_complete"].as_str().unwrap(),
    )
    .await;
    // A forged token, or the form posted from another site, approves nothing.
    let mut forged = inputs(&html);
    forged.insert("form_token".into(), "forged".into());
    forged.insert("decision".into(), "approve".into());
    let response = browser.post(app.url("/device")).form(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let mut fields = inputs(&html);
    fields.insert("decision".into(), "approve".into());
    let response = browser
        .post(app.url("/device"))
        .header("sec-fetch-site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Another browser (without the session) cannot use the form either.
    let response = new_browser()
        .post(app.url("/device"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert!(response.text().await.unwrap().contains("device-retry"));
    assert_eq!(
        error_of(&poll(&app, DEVICE_CLIENT, device_code).await),
        "authorization_pending"
    );

    // zhangsan (departments 2 and 4) may not use the finance CLI: refused at login, no form.
    let (_, finance) = start(&app, "finance-cli", "openid").await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let (status, html) = app
        .follow_with(&new_browser(), finance["verification_uri_complete"].as_str().unwrap())
        .await
        .page();
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("部门") && !html.contains("device-approve"), "{html}");
}

#[tokio::test]
async fn the_tokens_of_an_approval_need_its_session_alive_when_the_device_polls() {
    let mut receiver = crate::support::receiver::Receiver::start();
    let app = TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{DEVICE_CLIENT}\"\nname = \"Acme CLI\"\npublic = true\n\
             grant_types = [\"{DEVICE_GRANT}\"]\nscopes = [\"openid\"]\nbackchannel_logout_uri = \"{}\"\n",
            receiver.uri
        ),
        ..Default::default()
    })
    .await;
    let (_, started) = start(&app, DEVICE_CLIENT, "openid").await;
    let browser = new_browser();
    lisi_approves(&app, &browser, &started).await;
    let (ok, list, err) = app.cli(&["sessions", "list", "--user", "lisi"]);
    assert!(ok, "{err}");
    let sid = list
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, out, err) = app.cli(&["sessions", "revoke", &sid]);
    assert!(ok, "{out}{err}");
    let answer = poll(&app, DEVICE_CLIENT, started["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&answer), "invalid_grant");
    assert!(
        answer.1["error_description"].as_str().unwrap().contains("session"),
        "{}",
        answer.1
    );
    // The device's app took part in the session, so it is told the session ended.
    let logout = receiver
        .next_token(5)
        .await
        .expect("a back-channel logout for the device's app");
    let claims = crate::support::app::jwt_claims(&logout);
    assert_eq!(claims["aud"], DEVICE_CLIENT);
    assert_eq!(claims["sid"], sid);
}

#[tokio::test]
async fn scanned_with_dingtalk_the_device_page_logs_in_inside_the_client_without_a_prompt() {
    let app = app().await;
    let (_, started) = start(&app, DEVICE_CLIENT, "openid").await;
    let url = started["verification_uri_complete"].as_str().unwrap();
    let browser = new_browser();
    let page = browser.get(url).header("user-agent", DINGTALK_UA).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the in-app login page");
    let html = page.text().await.unwrap();
    let state = inputs(&html)["state"].clone();
    app.sim.set_inapp_user(Some("lisi".into()));
    let answer: Value = app
        .browser
        .post(format!("{}/jsapi/requestAuthCode", app.sim_address))
        .json(&serde_json::json!({
            "corpId": attribute(&html, "data-corp-id"),
            "clientId": attribute(&html, "data-client-id"),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = answer["code"].as_str().unwrap_or_else(|| panic!("{answer}"));
    let back = browser
        .post(app.url("/login/dingtalk/inapp"))
        .header("user-agent", DINGTALK_UA)
        .form(&[
            ("state", state.as_str()),
            ("method", "request_auth_code"),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, url, "back to the device page, with a session");
    let confirm = match app.follow_with(&browser, &location).await {
        Landing::Page { status, body } if status == StatusCode::OK => body,
        other => panic!("{other:?}"),
    };
    assert!(
        confirm.contains("device-approve") && confirm.contains("李四"),
        "{confirm}"
    );
    decide(&app, &browser, &confirm, "approve").await;
    let (status, tokens) = poll(&app, DEVICE_CLIENT, started["device_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = crate::support::app::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "lisi");
    assert_eq!(claims["amr"][0], "dingtalk_inapp", "{claims}");
}

#[tokio::test]
async fn the_qr_code_of_a_device_page_is_an_svg() {
    let app = app().await;
    let response = app
        .browser
        .get(app.url("/device/qr.svg?user_code=bcdf-ghjk"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    let response = app
        .browser
        .get(app.url("/device/qr.svg?user_code=not-a-code"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
