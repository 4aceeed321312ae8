//! `dingo demo`: dingo, the DingTalk simulator and a demo app on one address, with no
//! configuration. The demo app is an ordinary relying party built on the `openidconnect` crate.

mod app;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web;

use crate::clock::SharedClock;
use crate::config;
use crate::crypto::{random_token, sha256_hex};
use crate::sim::{Directory, Simulator, StreamSubscription};
use crate::startup::{Application, ExtraRoutes};
pub use app::DemoApp;

/// Where the simulator is mounted inside the demo.
pub const SIM_PREFIX: &str = "/dingtalk-sim";
/// Where the demo app is mounted.
pub const APP_PREFIX: &str = "/demo";
const DEMO_CLIENT_ID: &str = "demo-app";
/// A command-line tool that logs in with the device flow (RFC 8628).
pub const DEMO_DEVICE_CLIENT_ID: &str = "demo-cli";

/// A running demo.
pub struct Demo {
    pub application: Application,
    /// The page to open.
    pub url: String,
    pub simulator: Simulator,
}

/// Runs the demo on `listen` until stopped.
pub async fn run(listen: &str, data_dir: Option<PathBuf>, clock: SharedClock) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)?;
    let temporary = match &data_dir {
        Some(_) => None,
        None => Some(tempfile_dir()?),
    };
    let dir = data_dir
        .or_else(|| temporary.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let demo = start(listener, &dir, clock).await?;
    println!("dingo demo is running. Open {}", demo.url);
    let issuer = demo.url.trim_end_matches('/').trim_end_matches(APP_PREFIX);
    println!(
        "  A device login: curl -d client_id={DEMO_DEVICE_CLIENT_ID} -d scope=openid {issuer}/device_authorization"
    );
    println!("  (data in {}; stop with Ctrl-C)", dir.display());
    let result = demo.application.run_until_stopped().await;
    if let Some(dir) = temporary {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(result?)
}

/// Builds the demo on `listener`, keeping its database and key under `dir`.
pub async fn start(listener: TcpListener, dir: &Path, clock: SharedClock) -> anyhow::Result<Demo> {
    let address = listener.local_addr()?;
    let issuer = format!("http://{address}");
    let directory = Directory::sample();
    let (app_key, app_secret) = directory.app_credentials();
    let demo_secret = random_token();
    let redirect_uri = format!("{issuer}{APP_PREFIX}/callback");
    let settings_toml = format!(
        r#"
[server]
issuer = "{issuer}"
listen = "{address}"
[database]
url = "sqlite://{db}"
[keys]
dir = {keys:?}
[dingtalk]
client_id = "{app_key}"
client_secret = "{app_secret}"
corp_id = "{corp_id}"
login_base_url = "{issuer}{SIM_PREFIX}"
api_base_url = "{issuer}{SIM_PREFIX}"
oapi_base_url = "{issuer}{SIM_PREFIX}"
jsapi_url = "{issuer}{SIM_PREFIX}/jsapi/dingtalk.open.js"
[[clients]]
client_id = "{DEMO_CLIENT_ID}"
name = "dingo 演示应用 Demo app"
redirect_uris = ["{redirect_uri}"]
scopes = ["openid", "profile", "email", "phone", "groups", "dingtalk"]
secret_sha256 = "{hash}"
backchannel_logout_uri = "{issuer}{APP_PREFIX}/backchannel-logout"
[[clients]]
client_id = "{DEMO_DEVICE_CLIENT_ID}"
name = "dingo 演示命令行 Demo CLI"
public = true
grant_types = ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]
scopes = ["openid", "profile", "offline_access"]
[events]
mode = "stream"
"#,
        db = dir.join("dingo.db").display(),
        keys = dir.join("keys"),
        corp_id = directory.corp_id(),
        hash = sha256_hex(&demo_secret),
    );
    let settings = config::load_str(&settings_toml, std::iter::empty())?;
    let simulator = Simulator::new(directory, clock.clone());
    // The simulated organisation's events reach dingo by Stream, the recommended mode.
    simulator.subscribe_stream(Some(StreamSubscription::default()));
    let demo_app = DemoApp::new(
        &issuer,
        DEMO_CLIENT_ID,
        &demo_secret,
        &redirect_uri,
        &format!("{issuer}{SIM_PREFIX}/org"),
        Some(simulator.clone()),
        clock.clone(),
    );
    let sim_routes = simulator.clone();
    let extra: ExtraRoutes = Arc::new(move |cfg: &mut web::ServiceConfig| {
        let sim = sim_routes.clone();
        cfg.service(web::scope(SIM_PREFIX).configure(move |c| sim.configure(c)));
        let app = demo_app.clone();
        cfg.service(web::scope(APP_PREFIX).configure(move |c| app.configure(c)));
    });
    let application = Application::build_on(&settings, clock, listener, Some(extra)).await?;
    Ok(Demo {
        application,
        url: format!("{issuer}{APP_PREFIX}/"),
        simulator,
    })
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("dingo-demo-{}", &random_token()[..8]));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
