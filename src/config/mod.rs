//! Settings: one TOML file plus `DINGO_<SECTION>__<KEY>` environment overrides.
//!
//! Loading is three steps: read the file into a TOML table and lay the environment over it
//! ([`load`]), deserialize it while collecting every unknown key, then [`validate`] the result.
//! All problems found are reported together, each with its key path.

mod lenient;
mod load;
mod secret;
mod validate;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{ConfigError, Problem, load, load_str};
pub use secret::Secret;
pub use validate::{KNOWN_SCOPES, check_redirect_uri, is_loopback_url};

/// Everything dingo can be configured with. `dingo.example.toml` documents each key.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub keys: KeySettings,
    #[serde(default)]
    pub dingtalk: DingTalkSettings,
    #[serde(default)]
    pub tokens: TokenSettings,
    #[serde(default)]
    pub clients: Vec<ClientSettings>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerSettings {
    /// The issuer identifier; every endpoint URL is derived from it.
    pub issuer: String,
    /// The address the HTTP server binds.
    pub listen: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            listen: "127.0.0.1:8080".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseSettings {
    pub url: String,
    #[serde(deserialize_with = "lenient::u32")]
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://dingo.db".into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct KeySettings {
    /// Directory of PEM signing keys; a key is generated there when it holds none.
    pub dir: PathBuf,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("keys"),
        }
    }
}

/// The DingTalk application dingo logs people in with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DingTalkSettings {
    /// Client ID (formerly AppKey) of the DingTalk internal app.
    pub client_id: String,
    /// Client Secret (formerly AppSecret); or give `client_secret_file`.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub client_secret: Secret,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// The organisation (corpId, `ding…`) whose members may log in.
    pub corp_id: String,
    pub login_base_url: String,
    pub api_base_url: String,
    pub oapi_base_url: String,
    /// Scope sent to DingTalk's login page: `openid` or `openid corpid`.
    pub login_scope: String,
    /// Total time allowed for one DingTalk call, in milliseconds.
    #[serde(deserialize_with = "lenient::u64")]
    pub timeout_ms: u64,
}

impl Default for DingTalkSettings {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: Secret::default(),
            client_secret_file: None,
            corp_id: String::new(),
            login_base_url: "https://login.dingtalk.com".into(),
            api_base_url: "https://api.dingtalk.com".into(),
            oapi_base_url: "https://oapi.dingtalk.com".into(),
            login_scope: "openid".into(),
            timeout_ms: 3000,
        }
    }
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TokenSettings {
    #[serde(deserialize_with = "lenient::i64")]
    pub authorization_code_ttl: i64,
    #[serde(deserialize_with = "lenient::i64")]
    pub access_token_ttl: i64,
    #[serde(deserialize_with = "lenient::i64")]
    pub id_token_ttl: i64,
    /// How long a person may take on DingTalk's login page.
    #[serde(deserialize_with = "lenient::i64")]
    pub login_ttl: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            authorization_code_ttl: 60,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            login_ttl: 600,
        }
    }
}

/// A relying party registered in the configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ClientSettings {
    pub client_id: String,
    /// Shown to people on dingo's pages.
    #[serde(default)]
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_client_scopes")]
    pub scopes: Vec<String>,
    /// A public client (SPA, native app) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// SHA-256 of the secret, lower-case hex (`printf %s "$SECRET" | sha256sum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<Secret>,
    /// Name of an environment variable holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// A file holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
}

fn default_client_scopes() -> Vec<String> {
    ["openid", "profile", "email", "phone"]
        .map(String::from)
        .to_vec()
}

impl Settings {
    /// The effective configuration as TOML, every secret redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}
