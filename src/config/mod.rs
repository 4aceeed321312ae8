//! Settings: one TOML file plus `DINGO_<SECTION>__<KEY>` environment overrides.
//!
//! Loading is three steps: read the file into a TOML table and lay the environment over it
//! ([`load`]), deserialize it while collecting every unknown key, then [`validate`] the result.
//! All problems found are reported together, each with its key path.

mod client_kind;
mod lenient;
mod load;
mod secret;
mod validate;

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::dburl::Backend;

pub use client_kind::{AccessTokenFormat, AuthMethod, ClientType};
pub use load::{ConfigError, Problem, load, load_str};
pub use secret::Secret;
pub use validate::{
    KNOWN_GRANT_TYPES, KNOWN_SCOPES, RELEASABLE_CLAIMS, check_client, check_redirect_uri, is_loopback_url,
};

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
    /// DingTalk's organisation-change events (a leaver's access ends at once).
    #[serde(default)]
    pub events: EventSettings,
    #[serde(default)]
    pub tokens: TokenSettings,
    #[serde(default)]
    pub identity: IdentitySettings,
    /// Who may log in at all; a client's own `policy` replaces it for that client.
    #[serde(default)]
    pub policy: PolicySettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub audit: AuditSettings,
    /// Request sizes and request rates.
    #[serde(default)]
    pub limits: LimitSettings,
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
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[serde(deserialize_with = "lenient::u64")]
    pub shutdown_timeout: u64,
    /// Every client must push its authorization requests first (RFC 9126); each client can also
    /// require it on its own.
    #[serde(deserialize_with = "lenient::bool")]
    pub require_pushed_authorization_requests: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            listen: "127.0.0.1:8080".into(),
            shutdown_timeout: 10,
            require_pushed_authorization_requests: false,
        }
    }
}

/// The filter used when neither `log.filter` nor `RUST_LOG` says otherwise.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";

/// What is logged, and how.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// Which events are logged (`RUST_LOG` syntax); the `RUST_LOG` variable takes precedence.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: DEFAULT_LOG_FILTER.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Serve `/metrics` only on this address; on `server.listen` when absent or empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

impl MetricsSettings {
    /// The separate metrics address, if one is configured.
    pub fn separate_listen(&self) -> Option<&str> {
        self.listen.as_deref().filter(|l| !l.trim().is_empty())
    }
}

/// Where the shared state lives: `sqlite:…` (one instance) or `postgres://…` (any number).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Shown with any password in it redacted.
    #[serde(serialize_with = "serialize_redacted_url")]
    pub url: String,
    /// The PostgreSQL password, kept out of `url` (or give `password_file`).
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Connections each instance keeps at most; see [`DatabaseSettings::pool_size`].
    #[serde(deserialize_with = "lenient::some_u32", skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// How long a request waits for a database connection before it fails as unavailable (503).
    #[serde(deserialize_with = "lenient::u64")]
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://dingo.db".into(),
            password: Secret::default(),
            password_file: None,
            max_connections: None,
            acquire_timeout_ms: 3000,
        }
    }
}

impl DatabaseSettings {
    /// `max_connections`, by default 2 for SQLite and 8 for PostgreSQL. SQLite has one writer at
    /// a time, and each connection's page cache is dropped whenever another connection writes:
    /// two connections serve more than eight, with far less CPU (see README, "Benchmark").
    pub fn pool_size(&self) -> u32 {
        self.max_connections.unwrap_or(match Backend::of_url(&self.url) {
            Some(Backend::Sqlite) => 2,
            _ => 8,
        })
    }

    /// The URL to connect with: `url`, with `password` put in when it is given apart.
    pub fn connect_url(&self) -> String {
        if self.password.is_empty() {
            return self.url.clone();
        }
        let Ok(mut url) = url::Url::parse(&self.url) else {
            return self.url.clone();
        };
        match url.set_password(Some(self.password.expose())) {
            Ok(()) => url.into(),
            Err(()) => self.url.clone(),
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redacted_url(&self.url))
            .field("password", &self.password)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .finish_non_exhaustive()
    }
}

/// A database URL for display: any password in it replaced.
pub fn redacted_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.into()
        }
        _ => raw.to_owned(),
    }
}

fn serialize_redacted_url<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redacted_url(url))
}

/// Signing keys: kept in the database (shared by every instance), private parts sealed under
/// the key-encryption key; rotated on a schedule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct KeySettings {
    /// Holds the generated key-encryption key (`kek`) when `kek` is not set, and PEM keys of
    /// earlier versions, imported into the database at start.
    pub dir: PathBuf,
    /// The key-encryption key: base64 of 32 bytes (or `kek_file`). Every instance needs the same.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub kek: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kek_file: Option<PathBuf>,
    /// Seconds a new key is published before it signs.
    #[serde(deserialize_with = "lenient::i64")]
    pub publish_ahead: i64,
    /// Seconds a key signs before its successor takes over; 0: only `dingo keys rotate`.
    #[serde(deserialize_with = "lenient::i64")]
    pub rotate_every: i64,
    /// The algorithms keys are kept for (RS256 is required).
    #[serde(deserialize_with = "lenient::list")]
    pub algorithms: Vec<crate::crypto::Alg>,
    /// Seconds between reloads of the keys from the database (and rotations when due), so that
    /// every instance follows a rotation made anywhere.
    #[serde(deserialize_with = "lenient::u64")]
    pub reload_every: u64,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("keys"),
            kek: Secret::default(),
            kek_file: None,
            publish_ahead: 86_400,
            rotate_every: 7_776_000,
            algorithms: crate::crypto::Alg::ALL.to_vec(),
            reload_every: 60,
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
    /// Total time allowed for one DingTalk call, in milliseconds, its retries and any wait for
    /// the rate limiter included.
    #[serde(deserialize_with = "lenient::u64")]
    pub timeout_ms: u64,
    /// How many times a call that is safe to repeat (a read) is sent again after DingTalk was
    /// unreachable, failed (5xx), busy, throttled or garbled. Calls redeeming a login code are
    /// sent again only after failures that show DingTalk did not run them.
    #[serde(deserialize_with = "lenient::u32")]
    pub retries: u32,
    /// Backoff before retry n (from 0): a random time below `retry_backoff_ms × 2ⁿ` (full jitter).
    #[serde(deserialize_with = "lenient::u64")]
    pub retry_backoff_ms: u64,
    /// Consecutive DingTalk requests (retries included) failing because DingTalk is down (not
    /// refusals or QPS limits) after which calls fail at once (the circuit opens); 0: never.
    #[serde(deserialize_with = "lenient::u32")]
    pub breaker_threshold: u32,
    /// How long the circuit stays open before one call is let through to probe DingTalk.
    #[serde(deserialize_with = "lenient::u64")]
    pub breaker_cooldown_ms: u64,
    /// Calls per second to each DingTalk API; calls beyond it wait their turn; 0: no limit.
    /// DingTalk allows 20: calls leave evenly spaced but arrive with network jitter.
    #[serde(deserialize_with = "lenient::u32")]
    pub rate_limit_per_second: u32,
    /// The login page used in an ordinary browser.
    pub web_login: WebLogin,
    /// appid of the legacy scan-login app (扫码登录应用), for `web_login = "legacy"`.
    pub legacy_app_id: String,
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub legacy_app_secret: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_app_secret_file: Option<PathBuf>,
    /// How people are logged in when the app is opened inside the DingTalk client.
    pub in_app: InApp,
    /// The DingTalk JSAPI script loaded by the in-app login page.
    pub jsapi_url: String,
    /// A script defining `openAuth` (a browser build of dingtalk-design-libs), for `in_app = "open_auth"`.
    pub open_auth_script_url: String,
    /// API scopes requested through openAuth (comma-separated `rpcScope`).
    pub open_auth_scope: String,
    /// Who may show the in-app login page in a frame: the CSP `frame-ancestors` sources.
    pub in_app_frame_ancestors: String,
}

/// The login page used in an ordinary browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebLogin {
    /// DingTalk's OAuth2 web login (`login.dingtalk.com/oauth2/auth`).
    Oauth2,
    /// The legacy scan-login app (`connect/qrconnect`, `sns/getuserinfo_bycode`).
    Legacy,
}

/// How people are logged in inside the DingTalk client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InApp {
    /// Password-free login (免登) with the JSAPI's `requestAuthCode`: no prompt at all.
    RequestAuthCode,
    /// Delegated authorization with `openAuth`: the person confirms once in the client.
    OpenAuth,
    /// Use the web login inside the client too.
    Off,
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
            retries: 5,
            retry_backoff_ms: 50,
            breaker_threshold: 10,
            breaker_cooldown_ms: 5000,
            rate_limit_per_second: 15,
            web_login: WebLogin::Oauth2,
            legacy_app_id: String::new(),
            legacy_app_secret: Secret::default(),
            legacy_app_secret_file: None,
            in_app: InApp::RequestAuthCode,
            jsapi_url: "https://g.alicdn.com/dingding/dingtalk-jsapi/3.1.0/dingtalk.open.js".into(),
            open_auth_script_url: String::new(),
            open_auth_scope: "Contact.User.Read".into(),
            in_app_frame_ancestors: "'none'".into(),
        }
    }
}

/// How DingTalk's organisation-change events (通讯录事件) reach dingo.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EventSettings {
    pub mode: EventMode,
    /// HTTP push: the 签名 token of the app's event subscription (or `token_file`).
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub token: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// HTTP push: the 43-character 加密 aes_key (EncodingAESKey), or `aes_key_file`.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub aes_key: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aes_key_file: Option<PathBuf>,
    /// HTTP push: what DingTalk encrypts pushes for. A push for the other one is accepted too,
    /// and the log says which matched.
    pub owner_key: OwnerKey,
    /// Seconds between reconciliations with DingTalk's directory (leavers no event told of,
    /// live access re-checked); 0: none.
    #[serde(deserialize_with = "lenient::u64")]
    pub reconcile_every: u64,
    /// Stream mode: seconds without any frame after which the connection is pinged.
    #[serde(deserialize_with = "lenient::u64")]
    pub stream_ping_after: u64,
    /// Stream mode: seconds to wait for the pong before the connection is taken for dead.
    #[serde(deserialize_with = "lenient::u64")]
    pub stream_pong_timeout: u64,
    /// Stream mode: seconds without a message from DingTalk (pongs do not count) after which
    /// the connection is replaced, in case it looks alive but delivers nothing.
    #[serde(deserialize_with = "lenient::u64")]
    pub stream_silence: u64,
    /// Stream mode: seconds after which a connection is replaced anyway.
    #[serde(deserialize_with = "lenient::u64")]
    pub stream_ttl: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            mode: EventMode::Off,
            token: Secret::default(),
            token_file: None,
            aes_key: Secret::default(),
            aes_key_file: None,
            owner_key: OwnerKey::Appkey,
            reconcile_every: 3600,
            stream_ping_after: 60,
            stream_pong_timeout: 10,
            stream_silence: 600,
            stream_ttl: 21_600,
        }
    }
}

/// How events arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMode {
    /// No events: leavers are caught by the reconciliation and at their next refresh.
    Off,
    /// dingo connects to DingTalk's Stream gateway (长连接) and events arrive on a WebSocket:
    /// no public URL needed. Recommended.
    Stream,
    /// DingTalk pushes encrypted events to `POST /dingtalk/events` (needs a public URL).
    Http,
}

/// The owner key an HTTP push is encrypted for (DINGTALK-EVENTS.md §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKey {
    /// The app's Client ID (AppKey): the developer console's 事件订阅 > HTTP 推送.
    Appkey,
    /// The organisation's corpId: a subscription registered with `call_back/register_call_back`.
    Corpid,
}

/// How long a back-channel logout token is valid, in seconds: it is signed when it is sent, so
/// even a retried one is fresh.
pub const LOGOUT_TOKEN_TTL: i64 = 120;

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
    /// How long a dingo session lets a person into further apps without DingTalk.
    #[serde(deserialize_with = "lenient::i64")]
    pub session_ttl: i64,
    /// A refresh token unused this long expires (clients may set their own).
    #[serde(deserialize_with = "lenient::i64")]
    pub refresh_token_idle_ttl: i64,
    /// No refresh token of a login outlives this (clients may set their own).
    #[serde(deserialize_with = "lenient::i64")]
    pub refresh_token_absolute_ttl: i64,
    /// A refresh token presented again this soon after its rotation, by the same client, gets
    /// the same successor instead of revoking the family (concurrent refreshes).
    #[serde(deserialize_with = "lenient::i64")]
    pub refresh_token_reuse_grace: i64,
    /// How long a device's user code may wait for a person to approve it (RFC 8628).
    #[serde(deserialize_with = "lenient::i64")]
    pub device_code_ttl: i64,
    /// The seconds a device waits between polls, at first (`slow_down` adds five).
    #[serde(deserialize_with = "lenient::i64")]
    pub device_poll_interval: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            authorization_code_ttl: 60,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            login_ttl: 600,
            session_ttl: 28_800,
            refresh_token_idle_ttl: 1_209_600,
            refresh_token_absolute_ttl: 2_592_000,
            refresh_token_reuse_grace: 10,
            device_code_ttl: 600,
            device_poll_interval: 5,
        }
    }
}

/// The audit log.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Days an audit event is kept.
    #[serde(deserialize_with = "lenient::i64")]
    pub retention_days: i64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 180 }
    }
}

/// How large requests may be and how often they may come (rates are per instance).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LimitSettings {
    /// Largest request body read, in bytes.
    #[serde(deserialize_with = "lenient::u64")]
    pub max_body_bytes: u64,
    /// Longest query string accepted, in bytes.
    #[serde(deserialize_with = "lenient::u64")]
    pub max_query_bytes: u64,
    /// `/token`, `/introspect` and `/revoke` together, per registered client: requests per
    /// minute sustained (0: no limit) and how many may come at once.
    #[serde(deserialize_with = "lenient::u32")]
    pub oauth_client_per_minute: u32,
    #[serde(deserialize_with = "lenient::u32")]
    pub oauth_client_burst: u32,
    /// The same endpoints, per source address.
    #[serde(deserialize_with = "lenient::u32")]
    pub oauth_address_per_minute: u32,
    #[serde(deserialize_with = "lenient::u32")]
    pub oauth_address_burst: u32,
    /// `/authorize` (GET and POST), per source address: each request may store a pending login.
    #[serde(deserialize_with = "lenient::u32")]
    pub authorize_address_per_minute: u32,
    #[serde(deserialize_with = "lenient::u32")]
    pub authorize_address_burst: u32,
    /// The DingTalk login callbacks (web, legacy, in-app, web fallback), per source address.
    #[serde(deserialize_with = "lenient::u32")]
    pub login_address_per_minute: u32,
    #[serde(deserialize_with = "lenient::u32")]
    pub login_address_burst: u32,
    /// User codes looked up on the device page, per source address: a guess is one of
    /// 25 billion codes, and this keeps guessing slow.
    #[serde(deserialize_with = "lenient::u32")]
    pub device_code_address_per_minute: u32,
    #[serde(deserialize_with = "lenient::u32")]
    pub device_code_address_burst: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges); when
    /// empty, the source address is always the connection's peer.
    #[serde(deserialize_with = "lenient::list")]
    pub trusted_proxies: Vec<IpRange>,
    /// Most source addresses remembered per limit; beyond it the least limited are forgotten.
    #[serde(deserialize_with = "lenient::u64")]
    pub max_tracked_addresses: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 65_536,
            max_query_bytes: 8_192,
            oauth_client_per_minute: 6_000,
            oauth_client_burst: 1_000,
            oauth_address_per_minute: 6_000,
            oauth_address_burst: 1_000,
            authorize_address_per_minute: 1_200,
            authorize_address_burst: 240,
            login_address_per_minute: 600,
            login_address_burst: 120,
            device_code_address_per_minute: 30,
            device_code_address_burst: 10,
            trusted_proxies: Vec::new(),
            max_tracked_addresses: 100_000,
        }
    }
}

/// An IP address or a CIDR range: `10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(net)), self.prefix, 32) == mask(u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), self.prefix, 128) == mask(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The first `prefix` bits of a `width`-bit address.
fn mask(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix.min(width))
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("not an IP address or CIDR range: {text:?}"))?;
        let network = network.to_canonical();
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("the prefix length of {text:?} must be 0 to {width}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Serialize for IpRange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// How people appear to apps.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct IdentitySettings {
    /// What `sub` is: the DingTalk `userid`, the `unionid`, or `pairwise` (different per app).
    pub subject: SubjectKind,
    /// Secret for pairwise subjects (or `pairwise_secret_file`); changing it changes every `sub`.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub pairwise_secret: Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairwise_secret_file: Option<PathBuf>,
    /// The `groups` claim: department `names` or full `paths` (示例科技/研发部/平台组).
    pub groups: GroupsFormat,
    /// How long department names and parents are remembered, in seconds.
    #[serde(deserialize_with = "lenient::i64")]
    pub department_cache_ttl: i64,
    /// While DingTalk cannot be reached, a refresh may be granted from what dingo knew of the
    /// person for this many seconds after its last successful check of them; 0: never.
    #[serde(deserialize_with = "lenient::i64")]
    pub refresh_outage_grace: i64,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            subject: SubjectKind::Userid,
            pairwise_secret: Secret::default(),
            pairwise_secret_file: None,
            groups: GroupsFormat::Names,
            department_cache_ttl: 600,
            refresh_outage_grace: 600,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Userid,
    Unionid,
    Pairwise,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupsFormat {
    Names,
    Paths,
}

/// Who may log in, beyond being an active member of the organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct PolicySettings {
    /// Only people in these departments (or their sub-departments); empty = everyone.
    pub allow_departments: Vec<i64>,
    /// Nobody in these departments (or their sub-departments).
    pub deny_departments: Vec<i64>,
    /// Only people holding one of these roles (by name); empty = everyone.
    pub allow_roles: Vec<String>,
    pub deny_roles: Vec<String>,
    /// Only the organisation's administrators (and its boss).
    pub admins_only: bool,
}

/// A relying party registered in the configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ClientSettings {
    pub client_id: String,
    /// Shown to people on dingo's pages.
    #[serde(default)]
    pub name: String,
    /// Required unless the client never sends people to `/authorize` (services, devices).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_client_scopes")]
    pub scopes: Vec<String>,
    /// A public client (SPA, native app) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// SHA-256 of the secret, lower-case hex (`printf %s "$SECRET" | sha256sum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<Secret>,
    /// Replaces the global `[policy]` for this app (e.g. an app only for 财务部).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySettings>,
    /// The only claims this app receives (besides the protocol's own); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<String>>,
    /// Where the app may ask to be sent after logging out (exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where the app receives back-channel logout tokens when a session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// The app needs `sid` in logout tokens (it is always sent; this is advertised to it).
    #[serde(default)]
    pub backchannel_logout_session_required: bool,
    /// Issue refresh tokens even when `offline_access` is not requested.
    #[serde(default)]
    pub refresh_tokens: bool,
    /// This client's own refresh-token lifetimes (seconds); the `[tokens]` ones when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_idle_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_absolute_ttl: Option<i64>,
    /// How the client authenticates at the token endpoint: `client_secret_basic` or
    /// `client_secret_post` (either is accepted when absent), `private_key_jwt`, or `none`
    /// (public clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// For `private_key_jwt`: the client's public keys as a JWKS JSON document…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// …or where dingo fetches them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// `opaque` (default) or `jwt` (RFC 9068 access tokens, `typ: at+jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_format: Option<String>,
    /// The grants the client may use (`KNOWN_GRANT_TYPES`); authorization_code and
    /// refresh_token when empty. `client_credentials` is for confidential clients only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// A resource server that may introspect tokens issued to any client (RFC 7662 §4); others
    /// may introspect only their own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub introspect_any: bool,
    /// Web origins (`https://app.example.com`) whose scripts may call the token, userinfo,
    /// revocation and introspection endpoints (CORS); for a public client, by default the
    /// origins of its web redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Resource servers (absolute URIs) this client may ask tokens for with `resource`
    /// (RFC 8707); the first is the `aud` of its JWT access tokens when it names none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Its authorization requests must be pushed first (RFC 9126).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// The apps (client ids) for which it may trade a person's access token (RFC 8693).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub may_exchange_for: Vec<String>,
    /// `never` (default: a first-party app, whose people are not asked) or `once` (each person
    /// agrees on a consent page to what it receives, and again when it asks for more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
    /// Name of an environment variable holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// A file holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
}

fn default_client_scopes() -> Vec<String> {
    ["openid", "profile", "email", "phone"].map(String::from).to_vec()
}

impl Settings {
    /// The effective configuration as TOML, every secret redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}
