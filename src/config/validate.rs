//! Checks that the parsed settings make sense together. Returns every problem, not the first.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use url::Url;

use super::{Problem, Settings};

use super::{AuthMethod, ClientSettings, ClientType, EventMode, InApp, SubjectKind, WebLogin};

/// Scopes a client may be allowed.
pub const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "groups",
    "dingtalk",
    "offline_access",
];

/// Claims about a person that an app can be allowed (`clients[].claims`).
pub const RELEASABLE_CLAIMS: &[&str] = &[
    "name",
    "picture",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "groups",
    "userid",
    "unionid",
    "corp_id",
    "job_number",
    "title",
    "dept_ids",
];

pub fn validate(s: &Settings) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, message: String| problems.push(Problem::new(path, message));

    match Url::parse(&s.server.issuer) {
        Ok(url) => {
            if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback_url(&url)) {
                problem(
                    "server.issuer",
                    "must be an https URL (http only for a loopback address)".into(),
                );
            }
            if url.query().is_some() || url.fragment().is_some() {
                problem("server.issuer", "must not have a query or fragment".into());
            }
        }
        Err(e) => problem("server.issuer", format!("not an absolute URL: {e}")),
    }
    if s.server.listen.parse::<SocketAddr>().is_err() {
        problem(
            "server.listen",
            format!("not an IP address and port: {:?}", s.server.listen),
        );
    }
    if s.server.shutdown_timeout > 3600 {
        problem("server.shutdown_timeout", "must be between 0 and 3600 seconds".into());
    }
    if let Err(e) = crate::telemetry::logging::parse_filter(&s.log.filter) {
        problem("log.filter", format!("not a valid filter: {e}"));
    }
    if let Some(listen) = s.metrics.separate_listen() {
        match listen.parse::<SocketAddr>() {
            Err(_) => problem("metrics.listen", format!("not an IP address and port: {listen:?}")),
            Ok(addr) if addr.port() != 0 && s.server.listen.parse() == Ok(addr) => problem(
                "metrics.listen",
                "must differ from server.listen (leave it empty to serve /metrics there)".into(),
            ),
            Ok(_) => {}
        }
    }

    check_database(&s.database, &mut problem);
    check_keys(&s.keys, &mut problem);
    check_limits(&s.limits, &mut problem);
    for (i, c) in s.clients.iter().enumerate() {
        if let Some(Ok(alg)) = c
            .id_token_signed_response_alg
            .as_deref()
            .map(str::parse::<crate::crypto::Alg>)
            && !s.keys.algorithms.contains(&alg)
        {
            problem(
                &format!("clients[{i}].id_token_signed_response_alg"),
                format!("{alg} is not in keys.algorithms, so no {alg} key is kept"),
            );
        }
    }

    let d = &s.dingtalk;
    if d.client_id.trim().is_empty() {
        problem(
            "dingtalk.client_id",
            "missing: the Client ID (AppKey) of your DingTalk app".into(),
        );
    }
    if d.client_secret.is_empty() {
        problem(
            "dingtalk.client_secret",
            "missing: set DINGO_DINGTALK__CLIENT_SECRET or dingtalk.client_secret_file".into(),
        );
    }
    if d.corp_id.trim().is_empty() {
        problem(
            "dingtalk.corp_id",
            "missing: the corpId (ding…) of your organisation".into(),
        );
    }
    for (key, value) in [
        ("dingtalk.login_base_url", &d.login_base_url),
        ("dingtalk.api_base_url", &d.api_base_url),
        ("dingtalk.oapi_base_url", &d.oapi_base_url),
    ] {
        match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => problem(key, format!("not an absolute http(s) URL: {value:?}")),
        }
    }
    if !matches!(d.login_scope.as_str(), "openid" | "openid corpid") {
        problem("dingtalk.login_scope", "must be \"openid\" or \"openid corpid\"".into());
    }
    if !(100..=60_000).contains(&d.timeout_ms) {
        problem("dingtalk.timeout_ms", "must be between 100 and 60000".into());
    }
    if d.retries > 5 {
        problem("dingtalk.retries", "must be between 0 and 5".into());
    }
    if !(1..=5_000).contains(&d.retry_backoff_ms) {
        problem("dingtalk.retry_backoff_ms", "must be between 1 and 5000".into());
    }
    if d.breaker_threshold > 1_000 {
        problem("dingtalk.breaker_threshold", "must be between 0 (off) and 1000".into());
    }
    if !(100..=600_000).contains(&d.breaker_cooldown_ms) {
        problem("dingtalk.breaker_cooldown_ms", "must be between 100 and 600000".into());
    }
    if d.rate_limit_per_second > 1_000 {
        problem(
            "dingtalk.rate_limit_per_second",
            "must be between 0 (off) and 1000".into(),
        );
    }
    if d.web_login == WebLogin::Legacy {
        if d.legacy_app_id.trim().is_empty() {
            problem(
                "dingtalk.legacy_app_id",
                "required when web_login = \"legacy\": the appid of the scan-login app".into(),
            );
        }
        if d.legacy_app_secret.is_empty() {
            problem(
                "dingtalk.legacy_app_secret",
                "required when web_login = \"legacy\" (or DINGO_DINGTALK__LEGACY_APP_SECRET, or legacy_app_secret_file)".into(),
            );
        }
    }
    if d.in_app == InApp::RequestAuthCode && !is_http_url(&d.jsapi_url) {
        problem(
            "dingtalk.jsapi_url",
            format!("not an absolute http(s) URL: {:?}", d.jsapi_url),
        );
    }
    let ancestors = d.in_app_frame_ancestors.trim();
    if ancestors.is_empty() || ancestors.contains([';', ',', '\r', '\n']) {
        problem(
            "dingtalk.in_app_frame_ancestors",
            format!(
                "not a list of CSP frame-ancestors sources (e.g. \"'none'\" or \"'self' https://example.com\"): {ancestors:?}"
            ),
        );
    }
    if d.in_app == InApp::OpenAuth && !is_http_url(&d.open_auth_script_url) {
        problem(
            "dingtalk.open_auth_script_url",
            "required when in_app = \"open_auth\": the URL of a script defining openAuth".into(),
        );
    }

    let e = &s.events;
    if e.reconcile_every != 0 && !(60..=604_800).contains(&e.reconcile_every) {
        problem(
            "events.reconcile_every",
            "must be 0 (none) or between 60 seconds and a week".into(),
        );
    }
    for (key, value, range) in [
        ("events.stream_ping_after", e.stream_ping_after, 1..=3600),
        ("events.stream_pong_timeout", e.stream_pong_timeout, 1..=300),
        ("events.stream_silence", e.stream_silence, 1..=86_400),
        ("events.stream_ttl", e.stream_ttl, 60..=604_800),
    ] {
        if !range.contains(&value) {
            problem(
                key,
                format!("must be between {} and {} seconds", range.start(), range.end()),
            );
        }
    }
    if e.mode == EventMode::Http {
        if e.token.is_empty() {
            problem(
                "events.token",
                "required when mode = \"http\": the 签名 token of the app's event subscription (or token_file)".into(),
            );
        }
        let key = e.aes_key.expose();
        if key.len() != 43 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            problem(
                "events.aes_key",
                "required when mode = \"http\": the 43 letters and digits of the subscription's aes_key (or aes_key_file)".into(),
            );
        }
    }

    let id = &s.identity;
    if id.subject == SubjectKind::Pairwise && id.pairwise_secret.expose().len() < 16 {
        problem(
            "identity.pairwise_secret",
            "required for subject = \"pairwise\": at least 16 characters (or pairwise_secret_file)".into(),
        );
    }
    if !(0..=86_400).contains(&id.department_cache_ttl) {
        problem(
            "identity.department_cache_ttl",
            "must be between 0 and 86400 seconds".into(),
        );
    }
    if !(0..=86_400).contains(&id.refresh_outage_grace) {
        problem(
            "identity.refresh_outage_grace",
            "must be between 0 (never) and 86400 seconds".into(),
        );
    }
    check_policy("policy", &s.policy, &mut problem);
    if !(1..=3650).contains(&s.audit.retention_days) {
        problem("audit.retention_days", "must be between 1 and 3650 days".into());
    }

    let t = &s.tokens;
    for (key, value, max) in [
        ("tokens.authorization_code_ttl", t.authorization_code_ttl, 600),
        ("tokens.access_token_ttl", t.access_token_ttl, 86_400),
        ("tokens.id_token_ttl", t.id_token_ttl, 86_400),
        ("tokens.login_ttl", t.login_ttl, 3600),
        ("tokens.session_ttl", t.session_ttl, 2_592_000),
        ("tokens.refresh_token_idle_ttl", t.refresh_token_idle_ttl, 31_536_000),
        (
            "tokens.refresh_token_absolute_ttl",
            t.refresh_token_absolute_ttl,
            31_536_000,
        ),
        ("tokens.refresh_token_reuse_grace", t.refresh_token_reuse_grace, 300),
        ("tokens.device_code_ttl", t.device_code_ttl, 3600),
        ("tokens.device_poll_interval", t.device_poll_interval, 60),
    ] {
        if !(1..=max).contains(&value) {
            problem(key, format!("must be between 1 and {max} seconds"));
        }
    }

    let mut seen = HashSet::new();
    for (i, c) in s.clients.iter().enumerate() {
        if !c.client_id.trim().is_empty() && !seen.insert(c.client_id.as_str()) {
            problem(
                &format!("clients[{i}].client_id"),
                format!("duplicate client_id {:?}", c.client_id),
            );
        }
        for p in check_client(&format!("clients[{i}]"), c) {
            problem(&p.path, p.message);
        }
    }
    problems
}

/// Every problem of one client's settings; paths start with `prefix` (e.g. `clients[2]`).
pub fn check_client(prefix: &str, c: &ClientSettings) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, message: String| problems.push(Problem::new(path, message));
    let at = |key: &str| format!("{prefix}.{key}");
    if c.client_id.trim().is_empty() {
        problem(&at("client_id"), "missing".into());
    }
    for (i, origin) in c.allowed_origins.iter().enumerate() {
        let trimmed = origin.trim_end_matches('/');
        let is_origin = url::Url::parse(trimmed)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == trimmed);
        if !is_origin {
            problem(
                &format!("{prefix}.allowed_origins[{i}]"),
                format!("not a web origin (scheme://host[:port], no path): {origin:?}"),
            );
        }
    }
    for (i, resource) in c.resources.iter().enumerate() {
        if !url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none()) {
            problem(
                &format!("{prefix}.resources[{i}]"),
                format!("not an absolute URI without a fragment (RFC 8707): {resource:?}"),
            );
        }
    }
    // People log in to a client through its redirect URIs; a service alone needs none.
    let logs_people_in = c.grant_types.is_empty() || c.grant_types.iter().any(|g| g == "authorization_code");
    if c.redirect_uris.is_empty() && logs_people_in {
        problem(
            &at("redirect_uris"),
            "at least one redirect URI is required (unless grant_types leaves out authorization_code)".into(),
        );
    }
    for (j, uri) in c.redirect_uris.iter().enumerate() {
        if let Err(message) = check_redirect_uri(uri) {
            problem(&format!("{prefix}.redirect_uris[{j}]"), message);
        }
    }
    if !c.scopes.iter().any(|x| x == "openid") {
        problem(&at("scopes"), "must include \"openid\"".into());
    }
    for scope in c.scopes.iter().filter(|x| !KNOWN_SCOPES.contains(&x.as_str())) {
        problem(
            &at("scopes"),
            format!("unknown scope {scope:?} (known: {})", KNOWN_SCOPES.join(", ")),
        );
    }
    let has_secret = c.secret_sha256.is_some() || c.secret_env.is_some() || c.secret_file.is_some();
    let method = c.auth_method().unwrap_or_else(|message| {
        problem(&at("token_endpoint_auth_method"), message);
        None
    });
    if method == Some(AuthMethod::PrivateKeyJwt) {
        match (&c.jwks, &c.jwks_uri) {
            (Some(_), Some(_)) | (None, None) => problem(
                &at("jwks"),
                "private_key_jwt needs exactly one of jwks or jwks_uri".into(),
            ),
            (Some(jwks), None) => {
                let keys = serde_json::from_str::<serde_json::Value>(jwks).ok();
                if !keys.is_some_and(|k| k["keys"].is_array()) {
                    problem(&at("jwks"), "not a JWKS document ({\"keys\": [...]})".into());
                }
            }
            (None, Some(uri)) => {
                if !is_http_url(uri) {
                    problem(&at("jwks_uri"), format!("not an absolute http(s) URL: {uri:?}"));
                }
            }
        }
        if c.public || has_secret {
            problem(
                &at("token_endpoint_auth_method"),
                "a private_key_jwt client has no secret and is not public".into(),
            );
        }
    } else {
        match (c.client_type() == ClientType::Public, has_secret) {
            (true, true) => problem(&at("public"), "a public client has no secret".into()),
            (false, false) => problem(
                &at("secret_sha256"),
                "a confidential client needs secret_sha256, secret_env or secret_file (or set public = true)".into(),
            ),
            _ => {}
        }
    }
    if c.id_token_alg().is_err() {
        problem(
            &at("id_token_signed_response_alg"),
            "must be RS256, ES256 or EdDSA".into(),
        );
    }
    if c.access_token_format().is_err() {
        problem(&at("access_token_format"), "must be \"opaque\" or \"jwt\"".into());
    }
    for (j, grant) in c.grant_types.iter().enumerate() {
        if !KNOWN_GRANT_TYPES.contains(&grant.as_str()) {
            problem(
                &format!("{prefix}.grant_types[{j}]"),
                format!("unknown grant {grant:?} (one of {})", KNOWN_GRANT_TYPES.join(", ")),
            );
        }
    }
    if let Some(consent) = c.consent.as_deref().filter(|v| !matches!(*v, "never" | "once")) {
        problem(
            &at("consent"),
            format!("must be \"never\" or \"once\", not {consent:?}"),
        );
    }
    if c.client_type() == ClientType::Public && c.grant_types.iter().any(|g| g == "client_credentials") {
        problem(
            &at("grant_types"),
            "client_credentials is for confidential clients: a public client cannot keep a secret".into(),
        );
    }
    for (j, uri) in c.post_logout_redirect_uris.iter().enumerate() {
        if let Err(message) = check_redirect_uri(uri) {
            problem(&format!("{prefix}.post_logout_redirect_uris[{j}]"), message);
        }
    }
    if let Some(uri) = &c.backchannel_logout_uri
        && !is_http_url(uri)
    {
        problem(
            &at("backchannel_logout_uri"),
            format!("not an absolute http(s) URL: {uri:?}"),
        );
    }
    for (key, ttl) in [
        ("refresh_token_idle_ttl", c.refresh_token_idle_ttl),
        ("refresh_token_absolute_ttl", c.refresh_token_absolute_ttl),
    ] {
        if ttl.is_some_and(|t| !(1..=31_536_000).contains(&t)) {
            problem(&at(key), "must be between 1 and 31536000 seconds".into());
        }
    }
    if let Some(policy) = &c.policy {
        check_policy(&at("policy"), policy, &mut problem);
    }
    for claim in c
        .claims
        .iter()
        .flatten()
        .filter(|x| !RELEASABLE_CLAIMS.contains(&x.as_str()))
    {
        problem(
            &at("claims"),
            format!("unknown claim {claim:?} (known: {})", RELEASABLE_CLAIMS.join(", ")),
        );
    }
    if let Some(hash) = &c.secret_sha256 {
        let hex = hash.expose();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            problem(
                &at("secret_sha256"),
                "must be 64 hexadecimal characters (a SHA-256)".into(),
            );
        }
    }
    problems
}

fn check_policy(at: &str, policy: &super::PolicySettings, problem: &mut impl FnMut(&str, String)) {
    for (key, ids) in [
        ("allow_departments", &policy.allow_departments),
        ("deny_departments", &policy.deny_departments),
    ] {
        if ids.iter().any(|id| *id < 1) {
            problem(
                &format!("{at}.{key}"),
                "department ids are positive (the root is 1)".into(),
            );
        }
    }
    for (key, roles) in [("allow_roles", &policy.allow_roles), ("deny_roles", &policy.deny_roles)] {
        if roles.iter().any(|r| r.trim().is_empty()) {
            problem(&format!("{at}.{key}"), "role names cannot be empty".into());
        }
    }
}

fn check_keys(k: &super::KeySettings, problem: &mut impl FnMut(&str, String)) {
    if !k.kek.is_empty()
        && let Err(e) = crate::crypto::Kek::from_base64(k.kek.expose())
    {
        problem("keys.kek", format!("must be base64 of 32 random bytes: {e}"));
    }
    if !(120..=31_536_000).contains(&k.publish_ahead) {
        problem(
            "keys.publish_ahead",
            "must be between 120 and 31536000 seconds (relying parties must see a key before it signs)".into(),
        );
    }
    if k.rotate_every != 0 && (k.rotate_every <= k.publish_ahead || k.rotate_every > 315_360_000) {
        problem(
            "keys.rotate_every",
            "must be 0 (never automatically) or more than keys.publish_ahead, at most 315360000 seconds".into(),
        );
    }
    if !(1..=3600).contains(&k.reload_every) {
        problem("keys.reload_every", "must be between 1 and 3600 seconds".into());
    }
    if !k.algorithms.contains(&crate::crypto::Alg::RS256) {
        problem(
            "keys.algorithms",
            "must include \"RS256\" (every relying party supports it; it is the default)".into(),
        );
    }
    let mut seen = HashSet::new();
    for alg in k.algorithms.iter().filter(|a| !seen.insert(**a)) {
        problem("keys.algorithms", format!("{alg} is listed twice"));
    }
}

fn check_limits(l: &super::LimitSettings, problem: &mut impl FnMut(&str, String)) {
    if !(1_024..=10_485_760).contains(&l.max_body_bytes) {
        problem(
            "limits.max_body_bytes",
            "must be between 1024 and 10485760 bytes".into(),
        );
    }
    if !(1_024..=32_768).contains(&l.max_query_bytes) {
        problem("limits.max_query_bytes", "must be between 1024 and 32768 bytes".into());
    }
    for (name, per_minute, burst) in [
        ("oauth_client", l.oauth_client_per_minute, l.oauth_client_burst),
        ("oauth_address", l.oauth_address_per_minute, l.oauth_address_burst),
        (
            "authorize_address",
            l.authorize_address_per_minute,
            l.authorize_address_burst,
        ),
        ("login_address", l.login_address_per_minute, l.login_address_burst),
        (
            "device_code_address",
            l.device_code_address_per_minute,
            l.device_code_address_burst,
        ),
    ] {
        if per_minute > 6_000_000 {
            problem(
                &format!("limits.{name}_per_minute"),
                "must be between 0 (no limit) and 6000000".into(),
            );
        }
        if per_minute > 0 && !(1..=1_000_000).contains(&burst) {
            problem(&format!("limits.{name}_burst"), "must be between 1 and 1000000".into());
        }
    }
    if !(1_000..=10_000_000).contains(&l.max_tracked_addresses) {
        problem(
            "limits.max_tracked_addresses",
            "must be between 1000 and 10000000".into(),
        );
    }
}

fn is_http_url(value: &str) -> bool {
    Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// The grant types a client may be registered for (`grant_types`).
pub const KNOWN_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// Schemes that run or read something where they are opened, never a place to send a code.
const FORBIDDEN_REDIRECT_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about", "filesystem"];

/// A redirect URI must be absolute and carry no fragment (OIDC Core 3.1.2.1). Its scheme is
/// https, http (intranet apps and loopback for native apps, RFC 8252 §7.3), or an app's
/// private-use scheme named after a domain it owns, such as `com.example.app` (RFC 8252 §7.1);
/// never one that runs or reads something where it is opened, such as `javascript:`.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("not an absolute URI ({e}): {uri:?}"))?;
    if url.fragment().is_some() {
        return Err(format!("must not contain a fragment: {uri:?}"));
    }
    match url.scheme() {
        "https" | "http" => Ok(()),
        scheme if FORBIDDEN_REDIRECT_SCHEMES.contains(&scheme) => {
            Err(format!("the {scheme}: scheme cannot be a redirect URI: {uri:?}"))
        }
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!(
            "the scheme {scheme:?} is neither https, http nor a private-use scheme named after a domain (such as com.example.app): {uri:?}"
        )),
    }
}

/// True for URLs whose host is `localhost` or a loopback IP address.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod redirect_uri_tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_are_web_or_private_use_never_script_or_local_files() {
        for good in [
            "https://app.example.com/cb",
            "http://grafana.intranet/login",
            "http://127.0.0.1:8400/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(good), Ok(()), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:x",
            "myapp://callback",
            "ftp://x",
            "/relative",
            "https://app.example.com/cb#frag",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}

fn check_database(d: &super::DatabaseSettings, problem: &mut impl FnMut(&str, String)) {
    match crate::dburl::Backend::of_url(&d.url) {
        None => problem(
            "database.url",
            format!(
                "must start with sqlite: or postgres:// (for example sqlite://dingo.db or \
                 postgres://dingo@db.internal/dingo), not {:?}",
                super::redacted_url(&d.url)
            ),
        ),
        Some(crate::dburl::Backend::Sqlite) if !d.password.is_empty() => {
            problem("database.password", "SQLite has no password; remove it".into())
        }
        Some(crate::dburl::Backend::Postgres) => match url::Url::parse(&d.url) {
            Err(e) => problem("database.url", format!("not a valid URL: {e}")),
            Ok(url) if url.password().is_some() && !d.password.is_empty() => problem(
                "database.password",
                "the URL already holds a password; give it in one place".into(),
            ),
            Ok(url) if url.host_str().is_none_or(str::is_empty) && !url.query().unwrap_or("").contains("host=") => {
                problem("database.url", "names no host".into())
            }
            Ok(_) => {}
        },
        _ => {}
    }
    if d.max_connections == Some(0) {
        problem("database.max_connections", "must be at least 1".into());
    }
    if d.acquire_timeout_ms == 0 {
        problem("database.acquire_timeout_ms", "must be at least 1".into());
    }
}

#[cfg(test)]
mod limit_tests {
    use super::super::{IpRange, load_str};

    const BASE: &str = r#"
[server]
issuer = "https://sso.example.com"
[dingtalk]
client_id = "dingappkey"
client_secret = "app-secret"
corp_id = "dingcorp"
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn limits_have_defaults_and_take_proxies_from_the_environment() {
        let s = load_str(BASE, env(&[])).unwrap();
        assert_eq!(s.limits.max_body_bytes, 65_536);
        assert!(s.limits.trusted_proxies.is_empty());
        let vars = [
            ("DINGO_LIMITS__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,fd00::/8"),
            ("DINGO_LIMITS__LOGIN_ADDRESS_PER_MINUTE", "0"),
        ];
        let s = load_str(BASE, env(&vars)).unwrap();
        let proxies: Vec<String> = s.limits.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]);
        assert_eq!(s.limits.login_address_per_minute, 0);
        assert!(
            s.to_redacted_toml()
                .contains("trusted_proxies = [\n    \"10.0.0.0/8\",")
        );
    }

    #[test]
    fn wrong_limits_are_reported_with_their_keys() {
        let text = format!(
            "{BASE}[limits]\nmax_body_bytes = 10\nmax_query_bytes = 1000000\noauth_client_burst = 0\n\
             max_tracked_addresses = 5\n"
        );
        let problems = load_str(&text, env(&[])).unwrap_err().problems;
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "limits.max_body_bytes",
                "limits.max_query_bytes",
                "limits.oauth_client_burst",
                "limits.max_tracked_addresses"
            ]
        );
        let bad_proxy = format!("{BASE}[limits]\ntrusted_proxies = [\"10.0.0.0/33\"]\n");
        let problems = load_str(&bad_proxy, env(&[])).unwrap_err().problems;
        assert_eq!(problems[0].path, "limits.trusted_proxies", "{problems:?}");
        assert!(problems[0].message.contains("0 to 32"), "{problems:?}");
    }

    #[test]
    fn ranges_match_their_addresses_only() {
        let range: IpRange = "192.0.2.0/24".parse().unwrap();
        assert!(range.contains("192.0.2.200".parse().unwrap()));
        assert!(range.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(!range.contains("192.0.3.1".parse().unwrap()));
        assert!(!range.contains("2001:db8::1".parse().unwrap()));
        let v6: IpRange = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let everything: IpRange = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains("203.0.113.1".parse().unwrap()));
        let one: IpRange = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()) && !one.contains("127.0.0.2".parse().unwrap()));
        for bad in ["", "10.0.0.0/", "10.0.0.0/x", "::/129", "example.com", "10.0.0.0/8/8"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
    }
}
