//! OpenID Provider Metadata (OIDC Discovery 1.0 §3): exactly what is implemented.

use serde_json::json;

use super::claims::PROTOCOL_CLAIMS;
use super::paths;
use crate::config::{KNOWN_SCOPES, RELEASABLE_CLAIMS, SubjectKind};

pub fn document(
    issuer: &str,
    subject: SubjectKind,
    algorithms: &[crate::crypto::Alg],
    require_pushed_requests: bool,
) -> Vec<u8> {
    let url = |path: &str| format!("{issuer}{path}");
    let claims: Vec<&str> = PROTOCOL_CLAIMS.iter().chain(RELEASABLE_CLAIMS).copied().collect();
    let subject_type = if subject == SubjectKind::Pairwise {
        "pairwise"
    } else {
        "public"
    };
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": url(paths::AUTHORIZE),
        "token_endpoint": url(paths::TOKEN),
        "userinfo_endpoint": url(paths::USERINFO),
        "jwks_uri": url(paths::JWKS),
        "revocation_endpoint": url(paths::REVOKE),
        "introspection_endpoint": url(paths::INTROSPECT),
        "end_session_endpoint": url(paths::LOGOUT),
        "scopes_supported": KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": super::reply::ResponseMode::NAMES,
        "grant_types_supported": super::token::GrantType::names(),
        "subject_types_supported": [subject_type],
        "id_token_signing_alg_values_supported": algorithms.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": crate::config::AuthMethod::names(),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "claims_supported": claims,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["zh-CN", "en"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "pushed_authorization_request_endpoint": url(paths::PAR),
        "require_pushed_authorization_requests": require_pushed_requests,
        "device_authorization_endpoint": url(paths::DEVICE_AUTHORIZATION),
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}
