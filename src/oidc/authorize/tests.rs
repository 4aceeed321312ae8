use super::*;
use crate::config::{ClientSettings, Secret};

const ISSUER: &str = "https://sso.example.com";
const CB: &str = "https://app.example.com/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn registry() -> ClientRegistry {
    let client = |id: &str, public: bool| ClientSettings {
        client_id: id.into(),
        name: String::new(),
        redirect_uris: vec![CB.into()],
        scopes: vec!["openid".into(), "profile".into()],
        public,
        secret_sha256: (!public).then(|| Secret::new(crate::crypto::sha256_hex("s"))),
        secret_env: None,
        secret_file: None,
        ..Default::default()
    };
    ClientRegistry::from_settings(&[client("web", false), client("spa", true)]).unwrap()
}

fn check_query(query: &str) -> Checked {
    check(&Params::parse(query), &registry(), ISSUER)
}

fn redirect_error(query: &str) -> (String, HashMap<String, String>) {
    match check_query(query) {
        Checked::ErrorRedirect(reply) => {
            let url = Url::parse(&reply.location()).unwrap();
            let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
            (q["error"].clone(), q)
        }
        other => panic!("expected an error redirect, got {other:?}"),
    }
}

use std::collections::HashMap;

fn base(client: &str) -> String {
    format!(
        "client_id={client}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&response_type=code&scope=openid&state=xyz"
    )
}

#[test]
fn a_valid_request_keeps_state_nonce_and_only_allowed_scopes() {
    let q = format!("{}&nonce=n-1&scope=openid+profile+phone+made_up", base("web")).replace("&scope=openid&", "&");
    match check_query(&q) {
        Checked::Valid(r) => {
            assert_eq!(r.scope, ["openid", "profile"]);
            assert_eq!((r.state.as_deref(), r.nonce.as_deref()), (Some("xyz"), Some("n-1")));
            assert_eq!(r.code_challenge, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_clients_and_unregistered_redirects_get_a_page_never_a_redirect() {
    assert!(matches!(
        check_query("redirect_uri=x"),
        Checked::Page(PageError::MissingClientId)
    ));
    assert!(matches!(
        check_query(&base("nobody")),
        Checked::Page(PageError::UnknownClient)
    ));
    let evil = base("web").replace("app.example.com", "evil.example.com");
    assert!(matches!(
        check_query(&evil),
        Checked::Page(PageError::UnregisteredRedirectUri)
    ));
    assert!(matches!(
        check_query("client_id=web"),
        Checked::Page(PageError::MissingRedirectUri)
    ));
    let twice = format!("{}&redirect_uri=https%3A%2F%2Fevil.example.com", base("web"));
    assert!(matches!(
        check_query(&twice),
        Checked::Page(PageError::DuplicateParameter(_))
    ));
}

#[test]
fn errors_redirect_with_state_and_issuer() {
    let (error, q) = redirect_error(&base("web").replace("scope=openid", "scope=profile"));
    assert_eq!(error, "invalid_scope");
    assert_eq!(q["state"], "xyz");
    assert_eq!(q["iss"], ISSUER);
    assert!(!q["error_description"].is_empty());
}

#[test]
fn each_malformed_request_gets_its_own_error_code() {
    let cases = [
        (
            base("web").replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (base("web").replace("response_type=code&", ""), "invalid_request"),
        (format!("{}&request=eyJ", base("web")), "request_not_supported"),
        (
            format!("{}&request_uri=https%3A%2F%2Fx", base("web")),
            "request_uri_not_supported",
        ),
        (format!("{}&response_mode=web_message", base("web")), "invalid_request"),
        (format!("{}&prompt=none+login", base("web")), "invalid_request"),
        (format!("{}&max_age=-1", base("web")), "invalid_request"),
        (format!("{}&nonce=a&nonce=b", base("web")), "invalid_request"),
    ];
    for (query, expected) in cases {
        assert_eq!(redirect_error(&query).0, expected, "{query}");
    }
}

#[test]
fn pkce_is_required_for_public_clients_and_only_s256_is_accepted() {
    assert_eq!(redirect_error(&base("spa")).0, "invalid_request");
    let plain = format!("{}&code_challenge={CHALLENGE}&code_challenge_method=plain", base("spa"));
    assert_eq!(redirect_error(&plain).0, "invalid_request");
    let no_method = format!("{}&code_challenge={CHALLENGE}", base("spa"));
    assert_eq!(redirect_error(&no_method).0, "invalid_request");
    let short = format!("{}&code_challenge=abc&code_challenge_method=S256", base("spa"));
    assert_eq!(redirect_error(&short).0, "invalid_request");
    let good = format!("{}&code_challenge={CHALLENGE}&code_challenge_method=S256", base("spa"));
    assert!(matches!(check_query(&good), Checked::Valid(r) if r.code_challenge.as_deref() == Some(CHALLENGE)));
    // Accepted, not required, for confidential clients.
    assert!(matches!(check_query(&base("web")), Checked::Valid(_)));
    let web = format!("{}&code_challenge={CHALLENGE}&code_challenge_method=S256", base("web"));
    assert!(matches!(check_query(&web), Checked::Valid(r) if r.code_challenge.is_some()));
}

#[test]
fn a_redirect_uri_with_a_query_keeps_it_when_errors_are_appended() {
    let url = with_query("https://app.example.com/cb?tenant=a", &[("error", "access_denied")]);
    assert_eq!(url, "https://app.example.com/cb?tenant=a&error=access_denied");
}
