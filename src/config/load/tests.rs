use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const MINIMAL: &str = r#"
[server]
issuer = "https://sso.example.com"
listen = "0.0.0.0:8080"
[dingtalk]
client_id = "dingappkey"
client_secret = "app-secret"
corp_id = "dingcorp"
[[clients]]
client_id = "grafana"
redirect_uris = ["https://grafana.example.com/login/generic_oauth"]
secret_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
"#;

fn problems(text: &str, vars: &[(&str, &str)]) -> Vec<Problem> {
    load_str(text, env(vars)).expect_err("should be refused").problems
}

#[test]
fn the_example_configuration_is_valid() {
    let text = include_str!("../../../dingo.example.toml");
    let vars = [
        ("GRAFANA_CLIENT_SECRET", "jG7xQ2mVb9LpW4sZkT1rY8nHc3FdE6aU"),
        ("EXPENSES_CLIENT_SECRET", "pR5tN8vB2xM6kQ9wL3zJ7hC4gD1fS0eA"),
    ];
    let settings = load_str(text, env(&vars)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!settings.clients.is_empty());
}

#[test]
fn a_minimal_configuration_loads_with_defaults() {
    let s = load_str(MINIMAL, env(&[])).unwrap();
    assert_eq!(s.tokens.authorization_code_ttl, 60);
    assert_eq!(s.dingtalk.timeout_ms, 3000);
    assert_eq!(s.clients[0].scopes, ["openid", "profile", "email", "phone"]);
}

#[test]
fn environment_variables_override_the_file_and_numbers_may_be_text() {
    let vars = [
        ("DINGO_DINGTALK__TIMEOUT_MS", "1500"),
        ("DINGO_SERVER__ISSUER", "https://login.example.org"),
        ("DINGO_CONFIG", "ignored: no section separator"),
        ("PATH", "/usr/bin"),
    ];
    let s = load_str(MINIMAL, env(&vars)).unwrap();
    assert_eq!(s.dingtalk.timeout_ms, 1500);
    assert_eq!(s.server.issuer, "https://login.example.org");
}

#[test]
fn dingtalk_resilience_settings_default_and_are_checked() {
    let d = load_str(MINIMAL, env(&[])).unwrap().dingtalk;
    assert_eq!(
        (
            d.retries,
            d.retry_backoff_ms,
            d.breaker_threshold,
            d.breaker_cooldown_ms,
            d.rate_limit_per_second
        ),
        (5, 50, 10, 5000, 15)
    );
    let off = [
        ("DINGO_DINGTALK__RETRIES", "0"),
        ("DINGO_DINGTALK__BREAKER_THRESHOLD", "0"),
        ("DINGO_DINGTALK__RATE_LIMIT_PER_SECOND", "0"),
    ];
    assert!(load_str(MINIMAL, env(&off)).is_ok(), "0 turns each off");
    let wrong = [
        ("DINGO_DINGTALK__RETRIES", "9"),
        ("DINGO_DINGTALK__RETRY_BACKOFF_MS", "0"),
        ("DINGO_DINGTALK__BREAKER_THRESHOLD", "5000"),
        ("DINGO_DINGTALK__BREAKER_COOLDOWN_MS", "10"),
        ("DINGO_DINGTALK__RATE_LIMIT_PER_SECOND", "100000"),
    ];
    let found = problems(MINIMAL, &wrong);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    for (var, _) in wrong {
        let key = format!("dingtalk.{}", var.trim_start_matches("DINGO_DINGTALK__").to_lowercase());
        assert!(paths.contains(&key.as_str()), "{key} missing from {found:#?}");
    }
}

#[test]
fn every_unknown_key_is_reported_with_its_path_and_origin() {
    let text = format!("colour = \"blue\"\n{MINIMAL}\nnickname = \"g\"\n[tokens]\nacess_token_ttl = 5\n");
    let found = problems(&text, &[("DINGO_DINGTALK__CORPID", "x")]);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"colour"), "{found:?}");
    assert!(paths.contains(&"tokens.acess_token_ttl"), "{found:?}");
    assert!(paths.contains(&"clients[0].nickname"), "{found:?}");
    let from_env = found.iter().find(|p| p.path == "dingtalk.corpid").unwrap();
    assert!(from_env.message.contains("DINGO_DINGTALK__CORPID"), "{from_env:?}");
}

#[test]
fn a_wrong_type_names_the_key() {
    let found = problems(MINIMAL, &[("DINGO_DINGTALK__TIMEOUT_MS", "soon")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "dingtalk.timeout_ms");
    assert!(found[0].message.contains("soon"));
}

#[test]
fn validation_reports_all_problems_at_once() {
    let text = r#"
[server]
issuer = "http://sso.example.com"
listen = "nowhere"
[dingtalk]
client_id = ""
[[clients]]
client_id = "a"
redirect_uris = ["/relative", "https://app.example.com/cb#frag"]
scopes = ["profile", "groups"]
[[clients]]
client_id = "a"
redirect_uris = ["https://b.example.com/cb"]
public = true
secret_sha256 = "abc"
"#;
    let found = problems(text, &[]);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "server.issuer",
        "server.listen",
        "dingtalk.client_id",
        "dingtalk.client_secret",
        "dingtalk.corp_id",
        "clients[0].redirect_uris[0]",
        "clients[0].redirect_uris[1]",
        "clients[0].scopes",
        "clients[0].secret_sha256",
        "clients[1].client_id",
        "clients[1].public",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {found:#?}");
    }
}

#[test]
fn http_issuers_are_accepted_only_on_loopback() {
    for issuer in ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:80"] {
        let vars = [("DINGO_SERVER__ISSUER", issuer)];
        assert!(load_str(MINIMAL, env(&vars)).is_ok(), "{issuer}");
    }
    let found = problems(MINIMAL, &[("DINGO_SERVER__ISSUER", "http://10.0.0.1")]);
    assert_eq!(found[0].path, "server.issuer");
}

#[test]
fn secrets_come_from_files_and_environment_and_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dingtalk-secret");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let text = MINIMAL
        .replace(
            "client_secret = \"app-secret\"",
            &format!("client_secret_file = {file:?}"),
        )
        .replace(
            "secret_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
            "secret_env = \"GRAFANA_SECRET\"",
        );
    let secret = "a-grafana-secret-of-32-characters";
    let s = load_str(&text, env(&[("GRAFANA_SECRET", secret)])).unwrap();
    assert_eq!(s.dingtalk.client_secret.expose(), "from-a-file");
    let hash = crate::crypto::sha256_hex(secret);
    assert_eq!(s.clients[0].secret_sha256.as_ref().unwrap().expose(), hash);
    let printed = format!("{}{s:?}", s.to_redacted_toml());
    assert!(
        !printed.contains("from-a-file") && !printed.contains(&hash[..8]) && !printed.contains(secret),
        "{printed}"
    );
}

#[test]
fn a_short_client_secret_is_refused() {
    let text = MINIMAL.replace(
        "secret_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
        "secret_env = \"GRAFANA_SECRET\"",
    );
    let found = problems(&text, &[("GRAFANA_SECRET", "s3cret")]);
    assert_eq!(found[0].path, "clients[0].secret_env");
    assert!(found[0].message.contains("at least 32"), "{}", found[0].message);
    assert!(!found[0].message.contains("s3cret"));
}

#[test]
fn a_missing_secret_variable_is_reported() {
    let text = MINIMAL.replace(
        "secret_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"",
        "secret_env = \"NOT_SET_ANYWHERE\"",
    );
    let found = problems(&text, &[]);
    assert_eq!(found[0].path, "clients[0].secret_env");
    assert!(found[0].message.contains("NOT_SET_ANYWHERE"));
}

#[test]
fn login_routes_and_subjects_require_their_settings() {
    let vars = [
        ("DINGO_DINGTALK__WEB_LOGIN", "legacy"),
        ("DINGO_DINGTALK__IN_APP", "open_auth"),
        ("DINGO_IDENTITY__SUBJECT", "pairwise"),
        ("DINGO_IDENTITY__PAIRWISE_SECRET", "short"),
    ];
    let found = problems(MINIMAL, &vars);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "dingtalk.legacy_app_id",
        "dingtalk.legacy_app_secret",
        "dingtalk.open_auth_script_url",
        "identity.pairwise_secret",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {found:#?}");
    }
    let bad_mode = problems(MINIMAL, &[("DINGO_DINGTALK__IN_APP", "sometimes")]);
    assert_eq!(bad_mode[0].path, "dingtalk.in_app");
}

#[test]
fn client_policies_and_claim_lists_are_checked() {
    let text = format!(
        "{MINIMAL}claims = [\"name\", \"salary\"]\npolicy = {{ allow_departments = [0], allow_roles = [\"\"] }}\n"
    );
    let found = problems(&text, &[]);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "clients[0].claims",
        "clients[0].policy.allow_departments",
        "clients[0].policy.allow_roles",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {found:#?}");
    }
}

#[test]
fn operations_settings_default_to_human_logs_metrics_on_the_main_address_and_ten_seconds() {
    let s = load_str(MINIMAL, env(&[])).unwrap();
    assert_eq!(s.log.format, crate::config::LogFormat::Human);
    assert_eq!(s.log.filter, "info,sqlx=warn");
    assert_eq!(s.metrics.separate_listen(), None);
    assert_eq!(s.server.shutdown_timeout, 10);
    let blank = load_str(MINIMAL, env(&[("DINGO_METRICS__LISTEN", "")])).unwrap();
    assert_eq!(blank.metrics.separate_listen(), None);
}

#[test]
fn operations_settings_come_from_the_environment() {
    let vars = [
        ("DINGO_LOG__FORMAT", "json"),
        ("DINGO_LOG__FILTER", "debug,hyper=info"),
        ("DINGO_METRICS__LISTEN", "127.0.0.1:9090"),
        ("DINGO_SERVER__SHUTDOWN_TIMEOUT", "30"),
    ];
    let s = load_str(MINIMAL, env(&vars)).unwrap();
    assert_eq!(s.log.format, crate::config::LogFormat::Json);
    assert_eq!(s.log.filter, "debug,hyper=info");
    assert_eq!(s.metrics.separate_listen(), Some("127.0.0.1:9090"));
    assert_eq!(s.server.shutdown_timeout, 30);
}

#[test]
fn wrong_operations_settings_are_reported_with_their_keys() {
    let found = problems(MINIMAL, &[("DINGO_LOG__FORMAT", "xml")]);
    assert_eq!(found[0].path, "log.format", "{found:?}");
    let vars = [
        ("DINGO_LOG__FILTER", "info,[unclosed"),
        ("DINGO_METRICS__LISTEN", "metrics.example.com"),
        ("DINGO_SERVER__SHUTDOWN_TIMEOUT", "86400"),
    ];
    let found = problems(MINIMAL, &vars);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    for expected in ["log.filter", "metrics.listen", "server.shutdown_timeout"] {
        assert!(paths.contains(&expected), "{expected} missing from {found:#?}");
    }
    let same = problems(MINIMAL, &[("DINGO_METRICS__LISTEN", "0.0.0.0:8080")]);
    assert_eq!(same[0].path, "metrics.listen", "{same:?}");
}

#[test]
fn key_settings_default_to_three_algorithms_and_a_ninety_day_rotation() {
    use crate::crypto::Alg;
    let s = load_str(MINIMAL, env(&[])).unwrap();
    assert_eq!(s.keys.algorithms, [Alg::RS256, Alg::ES256, Alg::EdDSA]);
    assert_eq!((s.keys.publish_ahead, s.keys.rotate_every), (86_400, 7_776_000));
    assert!(s.keys.kek.is_empty());
    let kek = crate::crypto::Kek::generate_base64();
    let vars = [
        ("DINGO_KEYS__ALGORITHMS", "RS256, EdDSA"),
        ("DINGO_KEYS__PUBLISH_AHEAD", "3600"),
        ("DINGO_KEYS__ROTATE_EVERY", "0"),
        ("DINGO_KEYS__KEK", kek.as_str()),
    ];
    let s = load_str(MINIMAL, env(&vars)).unwrap();
    assert_eq!(s.keys.algorithms, [Alg::RS256, Alg::EdDSA]);
    assert_eq!((s.keys.publish_ahead, s.keys.rotate_every), (3600, 0));
    assert_eq!(s.keys.kek.expose(), kek);
    assert!(!s.to_redacted_toml().contains(&kek), "the KEK is a secret");
}

#[test]
fn wrong_key_settings_are_reported_with_their_keys() {
    let unknown = problems(MINIMAL, &[("DINGO_KEYS__ALGORITHMS", "RS256,HS256")]);
    assert_eq!(unknown[0].path, "keys.algorithms", "{unknown:?}");
    assert!(unknown[0].message.contains("HS256"), "{unknown:?}");
    let vars = [
        ("DINGO_KEYS__ALGORITHMS", "ES256,ES256"),
        ("DINGO_KEYS__PUBLISH_AHEAD", "60"),
        ("DINGO_KEYS__ROTATE_EVERY", "50"),
        ("DINGO_KEYS__KEK", "c2hvcnQ="),
    ];
    let found = problems(MINIMAL, &vars);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "keys.kek",
            "keys.publish_ahead",
            "keys.rotate_every",
            "keys.algorithms",
            "keys.algorithms"
        ],
        "{found:#?}"
    );
    assert!(
        found[3].message.contains("RS256") && found[4].message.contains("twice"),
        "{found:#?}"
    );
}

#[test]
fn a_client_cannot_ask_for_an_algorithm_whose_keys_are_not_kept() {
    let text = format!("{MINIMAL}id_token_signed_response_alg = \"ES256\"\n");
    assert!(load_str(&text, env(&[])).is_ok());
    let found = problems(&text, &[("DINGO_KEYS__ALGORITHMS", "RS256,EdDSA")]);
    assert_eq!(found[0].path, "clients[0].id_token_signed_response_alg", "{found:?}");
}

#[test]
fn the_database_is_sqlite_or_postgresql_and_its_password_is_never_printed() {
    let with_db = |db: &str| format!("{MINIMAL}\n[database]\n{db}\n");
    let s = load_str(
        &with_db("url = \"postgres://dingo:pg-pass@db.internal/dingo\""),
        env(&[]),
    )
    .unwrap();
    assert_eq!(s.database.connect_url(), "postgres://dingo:pg-pass@db.internal/dingo");
    let printed = format!("{}{s:?}", s.to_redacted_toml());
    assert!(
        !printed.contains("pg-pass") && printed.contains("db.internal"),
        "{printed}"
    );

    let s = load_str(
        &with_db("url = \"postgresql://dingo@db.internal:5433/dingo?sslmode=require\""),
        env(&[
            ("DINGO_DATABASE__PASSWORD", "from-env"),
            ("DINGO_DATABASE__ACQUIRE_TIMEOUT_MS", "500"),
        ]),
    )
    .unwrap();
    assert_eq!(
        s.database.connect_url(),
        "postgresql://dingo:from-env@db.internal:5433/dingo?sslmode=require"
    );
    assert_eq!(s.database.acquire_timeout_ms, 500);
    assert!(!format!("{}{s:?}", s.to_redacted_toml()).contains("from-env"));

    let found = problems(&with_db("url = \"mysql://db/dingo\"\nacquire_timeout_ms = 0"), &[]);
    let paths: Vec<_> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["database.url", "database.acquire_timeout_ms"], "{found:#?}");
    assert!(found[0].message.contains("postgres://"), "{}", found[0].message);
    let found = problems(&with_db("url = \"postgres://dingo:a@db/dingo\"\npassword = \"b\""), &[]);
    assert_eq!(found[0].path, "database.password");
    let found = problems(&with_db("password = \"b\""), &[]);
    assert!(found[0].message.contains("SQLite"), "{found:#?}");
}

#[test]
fn the_docker_demo_configuration_is_valid() {
    let text = include_str!("../../../docker/demo.toml");
    let vars = [("DINGO_DATABASE__URL", "postgres://dingo@postgres:5432/dingo")];
    let settings = load_str(text, env(&vars)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.clients[0].client_id, "demo-app");
}

#[test]
fn grant_types_are_known_and_client_credentials_need_a_confidential_client() {
    let service = format!(
        "{MINIMAL}[[clients]]\nclient_id = \"svc\"\nredirect_uris = []\n\
         secret_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n\
         grant_types = [\"client_credentials\"]\n"
    );
    let s = load_str(&service, env(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.clients[1].grant_types,
        ["client_credentials"],
        "a service needs no redirect URI"
    );
    let public = format!(
        "{MINIMAL}[[clients]]\nclient_id = \"spa\"\nredirect_uris = [\"https://spa.example.com/cb\"]\npublic = true\n\
         grant_types = [\"authorization_code\", \"client_credentials\", \"password\"]\n"
    );
    let found: Vec<String> = problems(&public, &[]).into_iter().map(|p| p.path).collect();
    assert!(found.contains(&"clients[1].grant_types".to_owned()), "{found:?}");
    assert!(found.contains(&"clients[1].grant_types[2]".to_owned()), "{found:?}");
}

#[test]
fn a_device_client_needs_no_redirect_uri_and_consent_is_never_or_once() {
    let device = format!(
        "{MINIMAL}[[clients]]\nclient_id = \"cli\"\npublic = true\n\
         grant_types = [\"urn:ietf:params:oauth:grant-type:device_code\"]\nscopes = [\"openid\"]\nconsent = \"once\"\n"
    );
    let s = load_str(&device, env(&[])).unwrap();
    assert_eq!(s.clients[1].consent.as_deref(), Some("once"));
    let found = problems(&device.replace("consent = \"once\"", "consent = \"always\""), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "clients[1].consent");
    let found = problems(MINIMAL, &[("DINGO_TOKENS__DEVICE_POLL_INTERVAL", "0")]);
    assert_eq!(found[0].path, "tokens.device_poll_interval", "{found:?}");
}

#[test]
fn the_grant_types_a_client_may_name_are_the_ones_dingo_serves() {
    assert_eq!(
        super::super::KNOWN_GRANT_TYPES,
        crate::oidc::GrantType::names().as_slice()
    );
}

#[test]
fn events_are_off_by_default_and_http_push_needs_its_token_and_key() {
    let s = load_str(MINIMAL, env(&[])).unwrap();
    assert_eq!(s.events.mode, super::super::EventMode::Off);
    let found = problems(
        MINIMAL,
        &[("DINGO_EVENTS__MODE", "http"), ("DINGO_EVENTS__AES_KEY", "short")],
    );
    let keys: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert!(keys.contains(&"events.token"), "{found:?}");
    assert!(keys.contains(&"events.aes_key"), "{found:?}");
    let message = format!("{found:?}");
    assert!(!message.contains("short"), "the key's value is not repeated: {message}");
    let s = load_str(
        MINIMAL,
        env(&[
            ("DINGO_EVENTS__MODE", "http"),
            ("DINGO_EVENTS__TOKEN", "tokenxxxx"),
            ("DINGO_EVENTS__AES_KEY", "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus"),
            ("DINGO_EVENTS__OWNER_KEY", "corpid"),
        ]),
    )
    .unwrap();
    assert_eq!(s.events.owner_key, super::super::OwnerKey::Corpid);
    let wrong = problems(MINIMAL, &[("DINGO_EVENTS__MODE", "webhook")]);
    assert_eq!(wrong[0].path, "events.mode", "{wrong:?}");
}

#[test]
fn stream_mode_needs_nothing_more_and_its_clocks_are_bounded() {
    let s = load_str(MINIMAL, env(&[("DINGO_EVENTS__MODE", "stream")])).unwrap();
    assert_eq!(s.events.mode, super::super::EventMode::Stream);
    assert_eq!((s.events.stream_ping_after, s.events.stream_ttl), (60, 21_600));
    let found = problems(
        MINIMAL,
        &[
            ("DINGO_EVENTS__STREAM_PING_AFTER", "0"),
            ("DINGO_EVENTS__STREAM_TTL", "5"),
        ],
    );
    let keys: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(keys, ["events.stream_ping_after", "events.stream_ttl"], "{found:?}");
}

#[test]
fn the_in_app_frame_ancestors_must_be_one_csp_source_list() {
    let s = load_str(MINIMAL, env(&[])).unwrap();
    assert_eq!(s.dingtalk.in_app_frame_ancestors, "'none'");
    for bad in ["", "'self'; script-src *", "a,b"] {
        let found = problems(MINIMAL, &[("DINGO_DINGTALK__IN_APP_FRAME_ANCESTORS", bad)]);
        assert_eq!(found[0].path, "dingtalk.in_app_frame_ancestors", "{bad:?}: {found:?}");
    }
}

#[test]
fn allowed_origins_are_web_origins_without_a_path() {
    let with = |origins: &str| format!("{MINIMAL}allowed_origins = {origins}\n");
    assert!(
        load_str(
            &with(r#"["https://grafana.example.com", "http://127.0.0.1:3000/"]"#),
            env(&[])
        )
        .is_ok()
    );
    let found = problems(
        &with(r#"["https://grafana.example.com/app", "grafana.example.com"]"#),
        &[],
    );
    let keys: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        keys,
        ["clients[0].allowed_origins[0]", "clients[0].allowed_origins[1]"],
        "{found:?}"
    );
}
