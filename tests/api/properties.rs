//! Property tests of the parsers at dingo's edges: whatever arrives, nothing panics, nothing
//! answers 5xx, and every refusal is of the kind the protocol prescribes. Each property runs a
//! modest number of cases so that the whole module takes a few seconds; a failure prints the
//! smallest input found.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use dingo::clock::{Clock, TestClock};
use dingo::crypto::{Alg, SigningKey, b64url, jwt, random_token};
use dingo::dingtalk::DingTalk;
use dingo::identity::{Upstream, UpstreamError};
use dingo::oidc::Params;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use crate::support::app::{SPA_CLIENT, SPA_REDIRECT, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET};
use crate::support::{TestApp, TestAppOptions};

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // Integration tests have no source directory of their own to keep regressions in.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A client that keeps no cookies and follows no redirects.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Short text of any characters.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..24).prop_map(|chars| chars.into_iter().collect())
}

/// A value from `pool`, or any short text.
fn one_of(pool: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(pool).prop_map(str::to_owned),
        1 => text(),
    ]
    .boxed()
}

/// Parameters named from `names` (or anything), valued by `value_for`, sometimes repeated.
fn parameters(
    names: &'static [&'static str],
    value_for: fn(&str) -> BoxedStrategy<String>,
) -> impl Strategy<Value = Vec<(String, String)>> {
    let pair = one_of(names).prop_flat_map(move |name| {
        let value = value_for(&name);
        (Just(name), value)
    });
    prop::collection::vec(pair, 0..10)
}

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

proptest! {
    #![proptest_config(cases(256))]

    /// Parameters come back as sent: the first value of each name, an empty one as absent, and
    /// the first name that was repeated.
    #[test]
    fn parameters_parse_back_to_what_was_encoded(pairs in prop::collection::vec((one_of(&["a", "b", "state", ""]), text()), 0..8)) {
        let params = Params::parse(&encode(&pairs));
        let mut seen = HashSet::new();
        let mut duplicate = None;
        for (name, value) in &pairs {
            if seen.insert(name.as_str()) {
                prop_assert_eq!(params.get(name), Some(value.as_str()).filter(|v| !v.is_empty()));
            } else if duplicate.is_none() {
                duplicate = Some(name.as_str());
            }
        }
        prop_assert_eq!(params.duplicate(), duplicate);
    }

    /// Any text at all parses (percent-decoding errors become replacement characters).
    #[test]
    fn any_text_parses_as_parameters(raw in ".{0,200}", name in text()) {
        let params = Params::parse(&raw);
        let _ = params.get(&name);
        let _ = params.duplicate();
    }
}

/// Values that mean something to `/authorize`, and others.
fn authorize_value(name: &str) -> BoxedStrategy<String> {
    match name {
        "client_id" => one_of(&[WEB_CLIENT, SPA_CLIENT, "finance", "unknown"]),
        "redirect_uri" => one_of(&[WEB_REDIRECT, SPA_REDIRECT, "http://evil.example/cb", "/relative"]),
        "response_type" => one_of(&["code", "token", "id_token", "code id_token"]),
        "scope" => one_of(&[
            "openid",
            "openid profile email",
            "profile",
            "openid offline_access groups",
        ]),
        "prompt" => one_of(&["none", "login", "consent", "none login", "select_account"]),
        "max_age" => one_of(&["0", "60", "-1", "9999999999999999999999", "x"]),
        "code_challenge" => one_of(&["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "short"]),
        "code_challenge_method" => one_of(&["S256", "plain"]),
        "response_mode" => one_of(&["query", "fragment", "form_post"]),
        _ => text().boxed(),
    }
}

const AUTHORIZE_NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "login_hint",
    "id_token_hint",
    "request",
    "request_uri",
];

/// Error codes the authorization endpoint may send back to a client.
const AUTHORIZE_ERRORS: &[&str] = &[
    "invalid_request",
    "unsupported_response_type",
    "invalid_scope",
    "request_not_supported",
    "request_uri_not_supported",
    "login_required",
    "interaction_required",
    "access_denied",
];

/// Whatever the query, `/authorize` redirects only to a registered redirect URI (with a known
/// error, or a code) or to DingTalk's login page, or shows a 400 page; never a 5xx.
#[test]
fn authorize_redirects_only_to_registered_uris_or_dingtalk_whatever_the_query() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let client = plain_client();
    let queries = prop_oneof![
        4 => parameters(AUTHORIZE_NAMES, authorize_value).prop_map(|pairs| encode(&pairs)),
        1 => "[ -~]{0,120}".prop_map(|raw| raw.replace(['#', ' '], "")),
    ];
    proptest!(cases(64), |(query in queries)| {
        let response = rt.block_on(client.get(app.url(&format!("/authorize?{query}"))).send()).unwrap();
        let status = response.status().as_u16();
        match status {
            302 => {
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                let to_client = [WEB_REDIRECT, SPA_REDIRECT].iter().any(|uri| location.starts_with(uri));
                prop_assert!(to_client || location.starts_with(&app.sim_address), "{location}");
                if to_client {
                    let url = url::Url::parse(&location).unwrap();
                    let error = url.query_pairs().find(|(k, _)| k == "error").map(|(_, v)| v.into_owned());
                    if let Some(error) = error {
                        prop_assert!(AUTHORIZE_ERRORS.contains(&error.as_str()), "{error}");
                        let description = url.query_pairs().find(|(k, _)| k == "error_description").map(|(_, v)| v.into_owned());
                        prop_assert!(rfc6749_description(&json!(description)), "{location}");
                    }
                }
            }
            400 => {
                prop_assert!(response.headers().contains_key("content-security-policy"));
                let html = rt.block_on(response.text()).unwrap();
                prop_assert!(html.contains("Cannot log in"), "{html}");
            }
            other => prop_assert!(false, "status {other} for {query}"),
        }
    });
}

/// Absent, or only the characters RFC 6749 §5.2 allows in `error_description`.
fn rfc6749_description(description: &Value) -> bool {
    description
        .as_str()
        .is_none_or(|d| d.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)))
}

/// Values that mean something to `/token`, and others.
fn token_value(name: &str) -> BoxedStrategy<String> {
    match name {
        "grant_type" => one_of(&["authorization_code", "refresh_token", "client_credentials", "password"]),
        "client_id" => one_of(&[WEB_CLIENT, SPA_CLIENT, "unknown"]),
        "client_secret" => one_of(&[WEB_SECRET, "wrong"]),
        "redirect_uri" => one_of(&[WEB_REDIRECT, SPA_REDIRECT]),
        "client_assertion_type" => one_of(&[dingo::oidc::ASSERTION_TYPE, "urn:other"]),
        "code_verifier" => one_of(&["dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"]),
        "scope" => one_of(&["openid", "offline_access"]),
        _ => text().boxed(),
    }
}

const TOKEN_NAMES: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_assertion_type",
    "client_assertion",
];

/// Error codes of the token endpoint (RFC 6749 §5.2).
const TOKEN_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// How the client sends an `Authorization` header, if at all.
fn authorization() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        1 => (one_of(&[WEB_CLIENT, SPA_CLIENT, "unknown", "a:b"]), one_of(&[WEB_SECRET, "wrong", ""]))
            .prop_map(|(id, secret)| Some(format!("Basic {}", base64_std(&format!("{id}:{secret}"))))),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

fn base64_std(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Whatever the form, `/token` answers 400 or 401 with an RFC 6749 error, never a token (no code
/// or refresh token was ever issued) and never a 5xx.
#[test]
fn the_token_endpoint_refuses_any_form_with_an_oauth_error() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let client = plain_client();
    let bodies = prop_oneof![
        4 => parameters(TOKEN_NAMES, token_value).prop_map(|pairs| encode(&pairs).into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ];
    proptest!(cases(64), |(body in bodies, authorization in authorization())| {
        let mut request = client
            .post(app.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(value) = &authorization {
            request = request.header("authorization", value.as_str());
        }
        let response = rt.block_on(request.send()).unwrap();
        let status = response.status().as_u16();
        prop_assert!(status == 400 || status == 401, "status {status}");
        prop_assert_eq!(response.headers()["cache-control"].to_str().unwrap(), "no-store");
        let answer: Value = rt.block_on(response.json()).unwrap();
        let error = answer["error"].as_str().unwrap_or_default();
        prop_assert!(TOKEN_ERRORS.contains(&error), "{answer}");
        prop_assert_eq!(status == 401, error == "invalid_client", "{}", answer);
        prop_assert!(rfc6749_description(&answer["error_description"]), "{answer}");
    });
}

const JWT_CLIENT: &str = "signed-client";

/// A client assertion: its header and claims, and how it is signed.
#[derive(Debug, Clone)]
enum Assertion {
    /// Any text.
    Text(String),
    /// Three base64url parts, the last not a signature by the client's key.
    Forged {
        header: Value,
        claims: Value,
        signature: Vec<u8>,
    },
    /// Signed by the client's key, with these claims.
    Signed { claims: Value },
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(text(), inner, 0..3).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Claims close to a valid assertion's, each of which may be wrong.
fn claims(token_endpoint: String, issuer: String, now: i64) -> impl Strategy<Value = Value> {
    let party =
        || prop_oneof![3 => Just(Value::from(JWT_CLIENT)), 1 => Just(Value::from(WEB_CLIENT)), 1 => json_value()];
    let audience = prop_oneof![
        2 => Just(Value::from(token_endpoint.clone())),
        1 => Just(Value::from(issuer)),
        1 => Just(json!([token_endpoint, "https://other.example"])),
        1 => json_value(),
    ];
    let expiry = prop_oneof![
        3 => Just(Value::from(now + 120)),
        1 => Just(Value::from(now - 3600)),
        1 => json_value(),
    ];
    let jti = prop_oneof![3 => Just(true), 1 => Just(false)];
    (party(), party(), audience, expiry, jti).prop_map(|(iss, sub, aud, exp, jti)| {
        let mut claims = json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp});
        if jti {
            claims["jti"] = Value::from(random_token());
        }
        claims
    })
}

/// Whether a signed assertion with `claims` authenticates the client (RFC 7523 §3).
fn acceptable(claims: &Value, token_endpoint: &str, issuer: &str, now: i64) -> bool {
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == token_endpoint || aud == issuer,
        Value::Array(auds) => auds.iter().any(|a| a == token_endpoint || a == issuer),
        _ => false,
    };
    claims["iss"] == JWT_CLIENT
        && claims["sub"] == JWT_CLIENT
        && audience_ok
        && claims["exp"].as_i64().is_some_and(|exp| exp > now - 30)
        && claims["jti"].as_str().is_some_and(|j| !j.is_empty())
}

/// Whatever the client assertion, `/token` refuses it with `invalid_client` (401) unless it is
/// signed by the client's key with valid claims; then the bogus code is `invalid_grant` (400).
/// An empty assertion is a missing one: `invalid_request`.
#[test]
fn client_assertions_authenticate_only_when_signed_with_valid_claims() {
    let rt = runtime();
    let key = SigningKey::generate(Alg::RS256).unwrap();
    let app = rt.block_on(TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{JWT_CLIENT}\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\n\
             token_endpoint_auth_method = \"private_key_jwt\"\njwks = '{}'\n",
            json!({"keys": [key.public_jwk()]})
        ),
        ..Default::default()
    }));
    let client = plain_client();
    let token_endpoint = app.url("/token");
    let now = app.clock.now();
    let header = prop_oneof![
        Just(json!({"alg": "RS256", "typ": "JWT"})),
        Just(json!({"alg": "none"})),
        Just(json!({"alg": "HS256", "kid": key.kid()})),
        Just(json!({"alg": "ES256", "kid": "other"})),
        json_value(),
    ];
    let assertions = prop_oneof![
        1 => "[ -~]{0,80}".prop_map(Assertion::Text),
        2 => (header, claims(token_endpoint.clone(), app.address.clone(), now), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(header, claims, signature)| Assertion::Forged { header, claims, signature }),
        2 => claims(token_endpoint.clone(), app.address.clone(), now).prop_map(|claims| Assertion::Signed { claims }),
    ];
    proptest!(cases(48), |(assertion in assertions)| {
        let (text, expected) = match &assertion {
            Assertion::Text(text) if text.is_empty() => (text.clone(), "invalid_request"),
            Assertion::Text(text) => (text.clone(), "invalid_client"),
            Assertion::Forged { header, claims, signature } => {
                let text = format!(
                    "{}.{}.{}",
                    b64url(header.to_string()),
                    b64url(claims.to_string()),
                    b64url(signature)
                );
                (text, "invalid_client")
            }
            Assertion::Signed { claims } => {
                let expected = if acceptable(claims, &token_endpoint, &app.address, now) {
                    "invalid_grant"
                } else {
                    "invalid_client"
                };
                (jwt::sign(claims, &key, "JWT").unwrap(), expected)
            }
        };
        let form = [
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", WEB_REDIRECT),
            ("client_assertion_type", dingo::oidc::ASSERTION_TYPE),
            ("client_assertion", text.as_str()),
        ];
        let response = rt.block_on(client.post(&token_endpoint).form(&form).send()).unwrap();
        let status = response.status().as_u16();
        let answer: Value = rt.block_on(response.json()).unwrap();
        prop_assert_eq!(answer["error"].as_str(), Some(expected), "{} for {:?}", answer, assertion);
        prop_assert_eq!(status, if expected == "invalid_client" { 401 } else { 400 });
    });
}

/// What a stand-in DingTalk answers: the app-token call, and every other call.
#[derive(Debug, Clone)]
struct Replies {
    app_token: (u16, Vec<u8>),
    other: (u16, Vec<u8>),
}

/// A DingTalk that answers whatever `replies` holds, on every path.
fn stand_in_dingtalk(replies: Arc<Mutex<Replies>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let replies = replies.clone();
        App::new().default_service(web::to(move |request: actix_web::HttpRequest| {
            let replies = replies.lock().unwrap().clone();
            let (status, body) = if request.path() == "/v1.0/oauth2/accessToken" {
                replies.app_token
            } else {
                replies.other
            };
            async move {
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    address
}

fn dingtalk_client(address: &str) -> DingTalk {
    let settings = dingo::config::DingTalkSettings {
        client_id: "dingappkey".into(),
        client_secret: dingo::config::Secret::new("app-secret"),
        corp_id: "dingcorp".into(),
        api_base_url: address.to_owned(),
        oapi_base_url: address.to_owned(),
        login_base_url: address.to_owned(),
        timeout_ms: 2000,
        // One answer per case: no retry, and no circuit opened by earlier cases' garbled bodies.
        retries: 0,
        breaker_threshold: 0,
        rate_limit_per_second: 0,
        ..Default::default()
    };
    DingTalk::new(
        &settings,
        0,
        TestClock::new(),
        Arc::new(dingo::telemetry::Metrics::new()),
    )
    .unwrap()
}

const GOOD_APP_TOKEN: &[u8] = br#"{"accessToken":"app-token","expireIn":7200}"#;

/// Bodies of DingTalk's api family: JSON with `code` and `message`, a token, or anything.
fn api_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            one_of(&[
                "InvalidAuthentication",
                "Forbidden.AccessDenied.QpsLimitForAppkey",
                "MissingParameter"
            ]),
            text()
        )
            .prop_map(|(code, message)| json!({"code": code, "message": message}).to_string().into_bytes()),
        (json_value(), json_value()).prop_map(|(token, expiry)| json!({"accessToken": token, "expireIn": expiry})
            .to_string()
            .into_bytes()),
        Just(GOOD_APP_TOKEN.to_vec()),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Bodies of DingTalk's oapi family: the errcode envelope around anything, or anything.
fn oapi_body() -> impl Strategy<Value = Vec<u8>> {
    let errcode = prop_oneof![
        Just(json!(0)),
        Just(json!(88)),
        Just(json!(-1)),
        Just(json!(40014)),
        Just(json!(60121)),
        Just(json!("60011")),
        any::<i64>().prop_map(Value::from),
        json_value(),
    ];
    prop_oneof![
        3 => (errcode, text(), prop::option::of(json_value()), json_value()).prop_map(|(errcode, errmsg, sub_code, result)| {
            let mut body = json!({"errcode": errcode, "errmsg": errmsg, "result": result});
            if let Some(sub_code) = sub_code {
                body["sub_code"] = sub_code;
            }
            body.to_string().into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// The `errcode` DingTalk's client reads (a number, or a number as text; 0 when absent).
fn errcode_of(body: &Value) -> i64 {
    match &body["errcode"] {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// Whatever DingTalk answers for the app token, the client returns an error of the right kind:
/// unavailable for 5xx, throttling and malformed bodies, refused for other 4xx.
#[test]
fn any_app_token_answer_gives_an_error_of_the_right_kind() {
    let rt = runtime();
    let replies = Arc::new(Mutex::new(Replies {
        app_token: (200, GOOD_APP_TOKEN.to_vec()),
        other: (200, br#"{"errcode":400001,"errmsg":"refused"}"#.to_vec()),
    }));
    let address = rt.block_on(async { stand_in_dingtalk(replies.clone()) });
    let statuses = prop::sample::select(&[200u16, 400, 401, 403, 404, 429, 500, 502, 503][..]);
    proptest!(cases(48), |(status in statuses, body in api_body())| {
        replies.lock().unwrap().app_token = (status, body.clone());
        // A new client each time: no cached app token.
        let dingtalk = dingtalk_client(&address);
        let outcome = rt.block_on(dingtalk.identity_of("zhangsan"));
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let token_ok = parsed
            .as_ref()
            .is_some_and(|v| v["accessToken"].is_string() && v["expireIn"].as_i64().is_some());
        let throttled = parsed
            .as_ref()
            .and_then(|v| v["code"].as_str())
            .is_some_and(|c| c.starts_with("Forbidden.AccessDenied.Qp"));
        match (status, &outcome) {
            // The token came; the next call (refused with errcode 400001, which no caller gives a meaning) decides.
            (200..=299, Err(UpstreamError::Refused { api, .. })) if token_ok => {
                prop_assert_eq!(*api, "topapi/v2/user/get")
            }
            (200..=299, Err(UpstreamError::Unavailable(why))) if !token_ok => {
                prop_assert!(why.contains("malformed"), "{why}")
            }
            (500.., Err(UpstreamError::Unavailable(_))) => {}
            (400..=499, Err(UpstreamError::Unavailable(why))) if throttled => {
                prop_assert!(why.contains("throttled"), "{why}")
            }
            (400..=499, Err(UpstreamError::Refused { api, .. })) if !throttled => {
                prop_assert_eq!(*api, "oauth2/accessToken")
            }
            _ => prop_assert!(false, "HTTP {} {:?} gave {:?}", status, String::from_utf8_lossy(&body), outcome),
        }
    });
}

/// Whatever an oapi call answers with HTTP 200, the client never takes a non-zero errcode as
/// success, and a body that is not JSON, or whose result is not a user, is "unavailable".
#[test]
fn any_oapi_answer_gives_an_identity_only_without_an_errcode() {
    let rt = runtime();
    let replies = Arc::new(Mutex::new(Replies {
        app_token: (200, GOOD_APP_TOKEN.to_vec()),
        other: (200, Vec::new()),
    }));
    let address = rt.block_on(async { stand_in_dingtalk(replies.clone()) });
    let dingtalk = dingtalk_client(&address);
    proptest!(cases(64), |(body in oapi_body())| {
        replies.lock().unwrap().other = (200, body.clone());
        let outcome = rt.block_on(dingtalk.identity_of("zhangsan"));
        match serde_json::from_slice::<Value>(&body) {
            Err(_) => prop_assert!(
                matches!(&outcome, Err(UpstreamError::Unavailable(why)) if why.contains("malformed")),
                "{:?}", outcome
            ),
            Ok(parsed) if errcode_of(&parsed) != 0 => prop_assert!(outcome.is_err(), "{:?}", outcome),
            Ok(parsed) => {
                let a_user = parsed["result"]["userid"].is_string();
                if !a_user {
                    prop_assert!(
                        matches!(&outcome, Err(UpstreamError::Unavailable(why)) if why.contains("malformed")),
                        "{:?} for {}", outcome, parsed
                    );
                }
            }
        }
    });
}

/// A minimal valid configuration.
const MINIMAL: &str = r#"
[server]
issuer = "https://sso.example.com"
listen = "127.0.0.1:8080"
[dingtalk]
client_id = "dingappkey"
client_secret = "app-secret"
corp_id = "dingcorp"
[[clients]]
client_id = "grafana"
redirect_uris = ["https://grafana.example.com/login/generic_oauth"]
secret_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
"#;

/// Every section and key of the configuration (and some that do not exist).
const KEYS: &[(&str, &[&str])] = &[
    ("server", &["issuer", "listen", "shutdown_timeout", "port"]),
    ("database", &["url", "max_connections"]),
    (
        "keys",
        &["dir", "kek", "kek_file", "publish_ahead", "rotate_every", "algorithms"],
    ),
    (
        "dingtalk",
        &[
            "client_id",
            "client_secret",
            "client_secret_file",
            "corp_id",
            "login_base_url",
            "api_base_url",
            "oapi_base_url",
            "login_scope",
            "timeout_ms",
            "web_login",
            "legacy_app_id",
            "legacy_app_secret",
            "in_app",
            "jsapi_url",
            "open_auth_script_url",
            "open_auth_scope",
        ],
    ),
    (
        "tokens",
        &[
            "authorization_code_ttl",
            "access_token_ttl",
            "id_token_ttl",
            "login_ttl",
            "session_ttl",
            "refresh_token_idle_ttl",
            "refresh_token_absolute_ttl",
            "refresh_token_reuse_grace",
        ],
    ),
    (
        "identity",
        &[
            "subject",
            "pairwise_secret",
            "pairwise_secret_file",
            "groups",
            "department_cache_ttl",
        ],
    ),
    (
        "policy",
        &[
            "allow_departments",
            "deny_departments",
            "allow_roles",
            "deny_roles",
            "admins_only",
        ],
    ),
    ("log", &["format", "filter"]),
    ("metrics", &["listen"]),
    ("audit", &["retention_days"]),
    (
        "limits",
        &[
            "max_body_bytes",
            "max_query_bytes",
            "oauth_client_per_minute",
            "oauth_client_burst",
            "oauth_address_per_minute",
            "oauth_address_burst",
            "login_address_per_minute",
            "login_address_burst",
            "trusted_proxies",
            "max_tracked_addresses",
        ],
    ),
];

/// TOML values, with strings that mean something to some keys.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        prop::sample::select(&[0i64, 1, 60, 1024, 65_536, 86_400][..]).prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        (-1e9f64..1e9).prop_map(toml::Value::Float),
        one_of(&[
            "legacy",
            "open_auth",
            "pairwise",
            "paths",
            "json",
            "RS256,ES256",
            "0.0.0.0:0",
            "https://example.com",
            "sqlite://x.db",
            "10.0.0.0/8",
            "openid corpid",
            "/nonexistent/file",
        ])
        .prop_map(toml::Value::String),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A section and one of its keys (or an unknown key).
fn setting() -> impl Strategy<Value = (String, String)> {
    prop::sample::select(KEYS).prop_flat_map(|(section, keys)| {
        let key = prop_oneof![3 => prop::sample::select(keys).prop_map(str::to_owned), 1 => "[a-z_]{1,12}"];
        (Just(section.to_owned()), key)
    })
}

/// Every problem is at `section` or one of its keys (or at `variable`, the environment variable
/// that was set, when that is what is malformed).
fn problems_are_under(section: &str, variable: &str, problems: &[dingo::config::Problem]) -> Result<(), TestCaseError> {
    prop_assert!(!problems.is_empty());
    for p in problems {
        prop_assert!(
            p.path == section || p.path.starts_with(&format!("{section}.")) || p.path == variable,
            "{} problem at {}: {}",
            section,
            p.path,
            p.message
        );
        prop_assert!(!p.message.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any text loads or is refused with problems that each name a place and say what is wrong.
    #[test]
    fn any_text_loads_or_is_refused_with_located_problems(text in "(.|\n){0,300}") {
        if let Err(e) = dingo::config::load_str(&text, Vec::new()) {
            prop_assert!(!e.problems.is_empty());
            for p in &e.problems {
                prop_assert!(!p.path.is_empty() && !p.message.is_empty(), "{:?}", p);
            }
        }
    }

    /// One setting of any value in a valid file: it loads, or every problem is in that setting's
    /// section (the problem is where the change was).
    #[test]
    fn a_changed_setting_is_refused_only_in_its_own_section((section, key) in setting(), value in toml_value()) {
        let mut table: toml::Table = MINIMAL.parse().unwrap();
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        entry.as_table_mut().unwrap().insert(key, value);
        let text = toml::to_string(&table).unwrap();
        if let Err(e) = dingo::config::load_str(&text, Vec::new()) {
            problems_are_under(&section, "", &e.problems)?;
        }
    }

    /// The same through the environment (`DINGO_<SECTION>__<KEY>`), where every value is text.
    #[test]
    fn a_setting_from_the_environment_is_refused_only_in_its_own_section((section, key) in setting(), value in ".{0,30}") {
        let var = format!("DINGO_{}__{}", section.to_uppercase(), key.to_uppercase());
        if let Err(e) = dingo::config::load_str(MINIMAL, vec![(var.clone(), value)]) {
            problems_are_under(&section, &var, &e.problems)?;
        }
    }
}
