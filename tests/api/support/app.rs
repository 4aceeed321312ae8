//! A dingo instance for one test, with its simulator, clock, database and keys.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

use dingo::clock::TestClock;
use dingo::config;
use dingo::crypto::sha256_hex;
use dingo::sim::{Directory, Simulator};
use dingo::startup::Application;

use super::tcp_proxy::TcpProxy;
use reqwest::StatusCode;
use url::Url;

pub const WEB_CLIENT: &str = "web-app";
pub const WEB_SECRET: &str = "web-app-secret-0123456789";
pub const WEB_REDIRECT: &str = "http://127.0.0.1:1/callback";
pub const SPA_CLIENT: &str = "spa";
/// The test client's registered post-logout redirect URI.
pub const LOGGED_OUT: &str = "http://127.0.0.1:1/logged-out";
/// A confidential client only for 财务部 (department 3), receiving only name, email and groups.
pub const FINANCE_CLIENT: &str = "finance";
pub const SPA_REDIRECT: &str = "http://127.0.0.1:1/spa/callback";

/// The settings of the legacy scan login (`web_login = "legacy"`) with the simulator's
/// scan-login app.
pub fn legacy_login_env() -> Vec<(&'static str, String)> {
    vec![
        ("DINGO_DINGTALK__WEB_LOGIN", "legacy".into()),
        ("DINGO_DINGTALK__LEGACY_APP_ID", "dingoa_sample_legacy".into()),
        ("DINGO_DINGTALK__LEGACY_APP_SECRET", "sample-legacy-secret".into()),
    ]
}

#[derive(Default)]
pub struct TestAppOptions {
    /// Point dingo's DingTalk URLs at a port where nothing listens.
    pub dingtalk_unreachable: bool,
    /// Point dingo's DingTalk URLs at a port that accepts connections and never answers;
    /// DingTalk calls then time out after 300 ms.
    pub dingtalk_silent: bool,
    /// Reuse this directory (database and keys) instead of a fresh one.
    pub dir: Option<Arc<tempfile::TempDir>>,
    /// `DINGO_*` overrides, e.g. `("DINGO_DINGTALK__WEB_LOGIN", "legacy")`.
    pub env: Vec<(&'static str, String)>,
    /// More configuration appended to the file (e.g. a `[policy]` table).
    pub extra_toml: String,
    /// The simulator's directory as TOML, instead of the sample.
    pub directory: Option<String>,
    /// The test client's back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// How the background tasks are paced, instead of dingo's defaults.
    pub background: Option<dingo::startup::Background>,
    /// Events by HTTP push: dingo's `[events]` in mode `http`, and the simulator's app
    /// subscribed to `/dingtalk/events` with [`EVENT_TOKEN`] and [`EVENT_AES_KEY`].
    pub events_http: bool,
    /// Events by Stream: dingo's `[events]` in mode `stream` (its clocks can be set with
    /// `DINGO_EVENTS__STREAM_*`), and the simulator's gateway delivering with these settings.
    pub events_stream: Option<dingo::sim::StreamSubscription>,
    /// dingo reaches the simulator's API hosts (and so its Stream gateway) through a
    /// [`TcpProxy`] the test can cut: [`TestApp::proxy`].
    pub dingtalk_proxy: bool,
    /// Another instance's simulator and clock, instead of new ones: [`TestApp::dingtalk`].
    pub dingtalk_of: Option<SharedDingTalk>,
}

/// A simulator (and the clock it reads) shared by several instances.
#[derive(Clone)]
pub struct SharedDingTalk {
    sim: Simulator,
    address: String,
    clock: Arc<TestClock>,
}

/// The 签名 token and 加密 aes_key of the test app's event subscription.
pub const EVENT_TOKEN: &str = "dingoEventToken42";
pub const EVENT_AES_KEY: &str = "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus";

pub struct TestApp {
    pub address: String,
    pub clock: Arc<TestClock>,
    pub sim: Simulator,
    pub sim_address: String,
    pub dir: Arc<tempfile::TempDir>,
    /// The application's database handle (closing it takes the database away from dingo).
    pub db: dingo::store::Db,
    /// The application's signing keys: `reload` picks up a rotation at once.
    pub keyring: Arc<dingo::keyring::Keyring>,
    /// The application's provider, to drive what its background tasks do on their own
    /// (`reload_clients`).
    pub provider: Arc<dingo::oidc::Provider>,
    /// Grows by one for every change made elsewhere (clients, keys) the instance acted on.
    pub changes_handled: tokio::sync::watch::Receiver<u64>,
    /// A browser: keeps cookies, never follows redirects by itself.
    pub browser: reqwest::Client,
    /// Between dingo and the simulator's API, with [`TestAppOptions::dingtalk_proxy`].
    pub proxy: Option<TcpProxy>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A browser with an empty cookie jar that never follows redirects by itself.
pub fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The claims of a JWT, read without checking its signature (tests check signatures elsewhere).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&dingo::crypto::b64url_decode(payload).unwrap()).unwrap()
}

/// Verifies `token` as a relying party `audience` of `issuer` would: with the key of its `kid`
/// from `jwks`; returns the claims.
pub fn verify_jwt(jwks: &serde_json::Value, token: &str, issuer: &str, audience: &str) -> serde_json::Value {
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::Jwk};
    let header = decode_header(token).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap_or_else(|| panic!("kid {:?} is not published", header.kid));
    let jwk: Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    decode::<serde_json::Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

/// What a browser ended on after following redirects.
#[derive(Debug)]
pub enum Landing {
    /// A redirect to the relying party: its full URL.
    AtClient(Url),
    /// A page dingo (or the simulator) showed instead.
    Page { status: StatusCode, body: String },
}

impl Landing {
    pub fn client_url(&self) -> &Url {
        match self {
            Landing::AtClient(url) => url,
            Landing::Page { status, body } => {
                panic!("expected a redirect to the client, got {status}: {body}")
            }
        }
    }

    /// The query the client receives: at once, or — from the "try again" page shown when
    /// DingTalk could not be reached — when the person goes back to the app instead.
    pub fn query(&self) -> HashMap<String, String> {
        if let Some(back) = self.back_from_try_again() {
            return back.query_pairs().into_owned().collect();
        }
        self.client_url().query_pairs().into_owned().collect()
    }

    /// On the "try again" page: where its "back to the app" button goes.
    pub fn back_from_try_again(&self) -> Option<Url> {
        let Landing::Page { status, body } = self else {
            return None;
        };
        if *status != StatusCode::SERVICE_UNAVAILABLE || !body.contains("id=\"login-again\"") {
            return None;
        }
        let href = body
            .split("class=\"button secondary\" href=\"")
            .nth(1)?
            .split('"')
            .next()?;
        Url::parse(&href.replace("&amp;", "&")).ok()
    }

    /// On the "try again" page: where its "try again" button goes.
    pub fn try_again_link(&self) -> Option<String> {
        let Landing::Page { body, .. } = self else {
            return None;
        };
        let href = body.split("id=\"login-again\" href=\"").nth(1)?.split('"').next()?;
        Some(href.replace("&amp;", "&"))
    }

    pub fn page(&self) -> (StatusCode, String) {
        match self {
            Landing::Page { status, body } => (*status, body.clone()),
            Landing::AtClient(url) => panic!("expected a page, got a redirect to {url}"),
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(TestAppOptions::default()).await
    }

    pub async fn spawn_with(options: TestAppOptions) -> Self {
        let (sim, sim_address, clock) = match options.dingtalk_of.clone() {
            Some(shared) => (shared.sim, shared.address, shared.clock),
            None => {
                let clock = TestClock::new();
                let sim_directory = options
                    .directory
                    .as_deref()
                    .map(|text| Directory::from_toml(text).unwrap())
                    .unwrap_or_else(Directory::sample);
                let sim = Simulator::new(sim_directory, clock.clone());
                let sim_listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let sim_address = format!("http://{}", sim_listener.local_addr().unwrap());
                tokio::spawn(sim.serve(sim_listener).unwrap());
                (sim, sim_address, clock)
            }
        };

        let proxy = match options.dingtalk_proxy {
            true => Some(TcpProxy::start(sim_address.trim_start_matches("http://")).await),
            false => None,
        };
        let dir = options.dir.unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let mut timeout_ms = 2000;
        let dingtalk = if options.dingtalk_silent {
            // Bound but never accepted: connections wait in the backlog and get no answer.
            let silent = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", silent.local_addr().unwrap());
            std::mem::forget(silent);
            timeout_ms = 300;
            url
        } else if options.dingtalk_unreachable {
            let closed = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", closed.local_addr().unwrap());
            drop(closed);
            url
        } else if let Some(proxy) = &proxy {
            format!("http://{}", proxy.address)
        } else {
            sim_address.clone()
        };
        let directory = options
            .directory
            .as_deref()
            .map(|text| Directory::from_toml(text).unwrap())
            .unwrap_or_else(Directory::sample);
        let (app_key, app_secret) = directory.app_credentials();
        let text = format!(
            r#"
[server]
issuer = "{address}"
listen = "{listen}"
[database]
url = "{db}"
[keys]
dir = {keys:?}
[dingtalk]
client_id = "{app_key}"
client_secret = "{app_secret}"
corp_id = "{corp}"
login_base_url = "{sim_address}"
api_base_url = "{dingtalk}"
oapi_base_url = "{dingtalk}"
timeout_ms = {timeout_ms}
jsapi_url = "{sim_address}/jsapi/dingtalk.open.js"
[[clients]]
client_id = "{WEB_CLIENT}"
name = "测试应用 Test app"
redirect_uris = ["{WEB_REDIRECT}"]
scopes = ["openid", "profile", "email", "phone", "groups", "dingtalk", "offline_access"]
secret_sha256 = "{web_hash}"
post_logout_redirect_uris = ["{LOGGED_OUT}"]
{backchannel}
[[clients]]
client_id = "{FINANCE_CLIENT}"
name = "报销 Expenses"
redirect_uris = ["{WEB_REDIRECT}"]
scopes = ["openid", "profile", "email", "groups"]
claims = ["name", "email", "groups"]
secret_sha256 = "{web_hash}"
policy = {{ allow_departments = [3] }}
[[clients]]
client_id = "{SPA_CLIENT}"
redirect_uris = ["{SPA_REDIRECT}"]
scopes = ["openid", "profile"]
public = true
{extra}
"#,
            extra = if options.events_http {
                format!(
                    "[events]\nmode = \"http\"\ntoken = \"{EVENT_TOKEN}\"\naes_key = \"{EVENT_AES_KEY}\"\n{}",
                    options.extra_toml
                )
            } else if options.events_stream.is_some() {
                format!("[events]\nmode = \"stream\"\n{}", options.extra_toml)
            } else {
                options.extra_toml.clone()
            },
            backchannel = options
                .backchannel_logout_uri
                .as_ref()
                .map(|uri| format!("backchannel_logout_uri = \"{uri}\""))
                .unwrap_or_default(),
            listen = listener.local_addr().unwrap(),
            db = super::database::database_url(dir.path()),
            keys = dir.path().join("keys"),
            corp = directory.corp_id(),
            web_hash = sha256_hex(WEB_SECRET),
        );
        let env = options.env.iter().map(|(k, v)| (k.to_string(), v.clone()));
        let settings = config::load_str(&text, env).unwrap_or_else(|e| panic!("{e}"));
        // Kept beside the database, for the command-line tools run against this instance.
        std::fs::write(dir.path().join("dingo.toml"), &text).unwrap();
        let background = options.background.unwrap_or_else(|| dingo::startup::Background {
            // Stream connections come back within a second in tests, and drain in two.
            stream: dingo::dingtalk::events::StreamTiming {
                backoff: std::time::Duration::from_millis(100),
                max_backoff: std::time::Duration::from_secs(1),
                drain: std::time::Duration::from_secs(2),
                ..Default::default()
            },
            ..Default::default()
        });
        if let Some(subscription) = options.events_stream.clone() {
            sim.subscribe_stream(Some(subscription));
        }
        let app = Application::build_with(&settings, clock.clone(), listener, None, background)
            .await
            .unwrap();
        let db = app.db().clone();
        let keyring = app.keyring();
        let provider = app.provider();
        let changes_handled = app.changes_handled();
        let server = tokio::spawn(async move {
            let _ = app.run_until_stopped().await;
        });
        if options.events_http {
            let url = format!("{address}/dingtalk/events");
            sim.subscribe_http(Some(dingo::sim::HttpSubscription::new(
                &url,
                EVENT_TOKEN,
                EVENT_AES_KEY,
            )));
        }
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            address,
            clock,
            sim,
            sim_address,
            dir,
            db,
            keyring,
            provider,
            changes_handled,
            browser,
            proxy,
            server,
        }
    }

    /// This instance's simulator and clock, for another instance to share.
    pub fn dingtalk(&self) -> SharedDingTalk {
        SharedDingTalk {
            sim: self.sim.clone(),
            address: self.sim_address.clone(),
            clock: self.clock.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// An authorization request URL for the confidential test client.
    pub fn authorize_url(&self, extra: &str) -> String {
        self.authorize_url_for(WEB_CLIENT, extra)
    }

    pub fn authorize_url_for(&self, client_id: &str, extra: &str) -> String {
        let redirect = url::form_urlencoded::byte_serialize(WEB_REDIRECT.as_bytes()).collect::<String>();
        format!(
            "{}/authorize?client_id={client_id}&redirect_uri={redirect}&response_type=code&scope=openid%20profile%20email%20phone%20dingtalk&state=st-1&nonce=n-1{extra}",
            self.address
        )
    }

    /// Follows redirects from `url` like a browser until it reaches a client or a page.
    pub async fn follow(&self, url: &str) -> Landing {
        self.follow_with(&self.browser, url).await
    }

    pub async fn follow_with(&self, browser: &reqwest::Client, url: &str) -> Landing {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let response = browser.get(&url).send().await.unwrap();
            let status = response.status();
            if !status.is_redirection() {
                let body = response.text().await.unwrap();
                return Landing::Page { status, body };
            }
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            let next = Url::parse(&url).unwrap().join(&location).unwrap();
            if next.as_str().starts_with("http://127.0.0.1:1/") {
                return Landing::AtClient(next);
            }
            url = next.into();
        }
        panic!("too many redirects");
    }

    /// Logs `person` in through the simulator and returns the client redirect's query.
    /// Logs `person` in, in a fresh browser (no dingo session), and returns the client's query.
    pub async fn login_as(&self, person: &str, extra: &str) -> HashMap<String, String> {
        self.sim.set_auto_login(Some(person.to_owned()));
        self.follow_with(&new_browser(), &self.authorize_url(extra))
            .await
            .query()
    }

    /// Redeems `code` for the confidential client with client_secret_basic.
    pub async fn redeem(&self, code: &str) -> reqwest::Response {
        self.redeem_for(WEB_CLIENT, code).await
    }

    /// Redeems `code` for `client` (whose secret is [`WEB_SECRET`]) with client_secret_basic.
    pub async fn redeem_for(&self, client: &str, code: &str) -> reqwest::Response {
        self.browser
            .post(self.url("/token"))
            .basic_auth(client, Some(WEB_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", WEB_REDIRECT),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Logs `person` in with `offline_access` (in a fresh browser) and returns the token response.
    pub async fn offline_tokens(&self, person: &str) -> serde_json::Value {
        self.sim.set_auto_login(Some(person.to_owned()));
        let url = self.authorize_url("").replace(
            "scope=openid%20profile%20email%20phone%20dingtalk",
            "scope=openid%20profile%20offline_access",
        );
        let q = self.follow_with(&new_browser(), &url).await.query();
        let response = self.redeem(&q["code"]).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Runs `dingo ARGS` against this instance's configuration and database, as an operator
    /// would on the same host: (succeeded, standard output, standard error).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dingo"))
            .args(args)
            .env("DINGO_CONFIG", self.dir.path().join("dingo.toml"))
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    /// The published JWKS.
    /// The discovery document.
    pub async fn discovery(&self) -> serde_json::Value {
        self.get_json("/.well-known/openid-configuration").await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.browser
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn get_json(&self, path: &str) -> serde_json::Value {
        self.browser
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn jwks(&self) -> serde_json::Value {
        self.get_json("/jwks.json").await
    }

    /// Logs zhangsan in and returns the token response.
    pub async fn tokens_for(&self, person: &str) -> serde_json::Value {
        let query = self.login_as(person, "").await;
        let response = self.redeem(&query["code"]).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}
