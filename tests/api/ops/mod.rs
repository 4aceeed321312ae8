//! Operations: health and readiness, Prometheus metrics, request ids, what the log says (and
//! never says), graceful shutdown. The log and shutdown tests run the real `dingo` binary.

mod health;
mod logs;
mod metrics;
mod shutdown;

use std::collections::HashMap;
use std::path::Path;

use url::Url;

use crate::support::database::database_url;
use crate::support::process::{Process, dingo, free_port};

pub const CLIENT_ID: &str = "ops-app";
pub const CLIENT_SECRET: &str = "ops-app-secret-0123456789";
pub const REDIRECT_URI: &str = "http://127.0.0.1:1/callback";
/// The sample directory's DingTalk app.
pub const APP_KEY: &str = "dingsampleappkey";
pub const APP_SECRET: &str = "sample-app-secret";

/// `dingo sim` logging everyone in as `zhangsan`; returns the process and its base URL.
pub fn start_sim() -> (Process, String) {
    let address = format!("127.0.0.1:{}", free_port());
    let mut command = dingo();
    command.args(["sim", "--listen", &address, "--auto-login", "zhangsan"]);
    (
        Process::start(command, "DingTalk simulator on"),
        format!("http://{address}"),
    )
}

/// `dingo serve` in `dir` (its database and keys live there) with one confidential client and
/// DingTalk at `dingtalk` (`api` for the server APIs); `extra` is appended to the file.
pub fn start_dingo(dir: &Path, dingtalk: &str, api: &str, extra: &str, env: &[(&str, &str)]) -> (Process, String) {
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let instance = Instance {
        issuer: &issuer,
        port,
        database: &database_url(dir),
    };
    (start_instance(dir, &instance, dingtalk, api, extra, env), issuer)
}

/// One `dingo serve` process: its public issuer, the port it listens on and its database.
pub struct Instance<'a> {
    pub issuer: &'a str,
    pub port: u16,
    pub database: &'a str,
}

/// `dingo serve` as `instance` describes, otherwise as [`start_dingo`].
pub fn start_instance(
    dir: &Path,
    instance: &Instance,
    dingtalk: &str,
    api: &str,
    extra: &str,
    env: &[(&str, &str)],
) -> Process {
    let Instance { issuer, port, database } = instance;
    let config = format!(
        r#"
[server]
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
[database]
url = "{database}"
[dingtalk]
client_id = "{APP_KEY}"
client_secret = "{APP_SECRET}"
corp_id = "dingsampleorg"
login_base_url = "{dingtalk}"
api_base_url = "{api}"
oapi_base_url = "{api}"
timeout_ms = 5000
[[clients]]
client_id = "{CLIENT_ID}"
redirect_uris = ["{REDIRECT_URI}"]
scopes = ["openid", "profile", "email", "offline_access"]
secret_sha256 = "{hash}"
{extra}
"#,
        hash = dingo::crypto::sha256_hex(CLIENT_SECRET),
    );
    let path = dir.join("dingo.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = dingo();
    command
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .current_dir(dir)
        .envs(env.iter().copied());
    Process::start(command, "dingo is serving")
}

/// A browser: keeps cookies, follows no redirects by itself.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn authorize_url(issuer: &str, state: &str) -> String {
    let mut url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", state)
        .append_pair("nonce", "ops-nonce");
    url.into()
}

/// GETs `url` and returns where it redirects to.
pub async fn redirect_from(browser: &reqwest::Client, url: &str) -> Url {
    let response = browser.get(url).send().await.unwrap();
    assert!(response.status().is_redirection(), "{url}: {}", response.status());
    let location = response.headers()["location"].to_str().unwrap();
    Url::parse(url).unwrap().join(location).unwrap()
}

pub fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}
