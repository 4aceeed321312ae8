//! How a client managed at run time is stored: a versioned shape of its own, so that renaming or
//! retyping a key of the configuration file never makes stored clients unreadable. Rows written
//! before versions existed hold the configuration file's shape, and are still read.

use serde::{Deserialize, Serialize};

use crate::config::{ClientSettings, PolicySettings};

/// The stored settings of a managed client (never its secret: only the row's hash column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum StoredClient {
    #[serde(rename = "1")]
    V1(ClientV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientV1 {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
    pub policy: Option<PolicyV1>,
    pub claims: Option<Vec<String>>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub refresh_tokens: bool,
    pub refresh_token_idle_ttl: Option<i64>,
    pub refresh_token_absolute_ttl: Option<i64>,
    pub token_endpoint_auth_method: Option<String>,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub access_token_format: Option<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub introspect_any: bool,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default)]
    pub may_exchange_for: Vec<String>,
    #[serde(default)]
    pub consent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyV1 {
    pub allow_departments: Vec<i64>,
    pub deny_departments: Vec<i64>,
    pub allow_roles: Vec<String>,
    pub deny_roles: Vec<String>,
    pub admins_only: bool,
}

impl StoredClient {
    /// The stored text of `settings` (its secret fields are left out).
    pub fn encode(settings: &ClientSettings) -> String {
        let c = settings.clone();
        let stored = StoredClient::V1(ClientV1 {
            client_id: c.client_id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            scopes: c.scopes,
            public: c.public,
            policy: c.policy.map(|p| PolicyV1 {
                allow_departments: p.allow_departments,
                deny_departments: p.deny_departments,
                allow_roles: p.allow_roles,
                deny_roles: p.deny_roles,
                admins_only: p.admins_only,
            }),
            claims: c.claims,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            backchannel_logout_uri: c.backchannel_logout_uri,
            refresh_tokens: c.refresh_tokens,
            refresh_token_idle_ttl: c.refresh_token_idle_ttl,
            refresh_token_absolute_ttl: c.refresh_token_absolute_ttl,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            jwks: c.jwks,
            jwks_uri: c.jwks_uri,
            id_token_signed_response_alg: c.id_token_signed_response_alg,
            access_token_format: c.access_token_format,
            grant_types: c.grant_types,
            introspect_any: c.introspect_any,
            allowed_origins: c.allowed_origins,
            resources: c.resources,
            require_pushed_authorization_requests: c.require_pushed_authorization_requests,
            may_exchange_for: c.may_exchange_for,
            consent: c.consent,
        });
        // Plain strings, numbers and lists: serializing cannot fail.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// The settings a stored text describes, of any version.
    pub fn decode(text: &str) -> Result<ClientSettings, serde_json::Error> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if value.get("version").is_none() {
            // Written before versions: the configuration file's shape.
            return serde_json::from_value(value);
        }
        let StoredClient::V1(c) = serde_json::from_value(value)?;
        Ok(ClientSettings {
            client_id: c.client_id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            scopes: c.scopes,
            public: c.public,
            policy: c.policy.map(|p| PolicySettings {
                allow_departments: p.allow_departments,
                deny_departments: p.deny_departments,
                allow_roles: p.allow_roles,
                deny_roles: p.deny_roles,
                admins_only: p.admins_only,
            }),
            claims: c.claims,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            backchannel_logout_uri: c.backchannel_logout_uri,
            refresh_tokens: c.refresh_tokens,
            refresh_token_idle_ttl: c.refresh_token_idle_ttl,
            refresh_token_absolute_ttl: c.refresh_token_absolute_ttl,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            jwks: c.jwks,
            jwks_uri: c.jwks_uri,
            id_token_signed_response_alg: c.id_token_signed_response_alg,
            access_token_format: c.access_token_format,
            grant_types: c.grant_types,
            introspect_any: c.introspect_any,
            allowed_origins: c.allowed_origins,
            resources: c.resources,
            require_pushed_authorization_requests: c.require_pushed_authorization_requests,
            may_exchange_for: c.may_exchange_for,
            consent: c.consent,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_round_trips_through_its_stored_shape_which_names_its_version() {
        let settings = ClientSettings {
            client_id: "wiki".into(),
            name: "维基 Wiki".into(),
            redirect_uris: vec!["https://wiki.example.com/cb".into()],
            scopes: vec!["openid".into()],
            policy: Some(PolicySettings {
                allow_departments: vec![3],
                ..Default::default()
            }),
            secret_sha256: Some(crate::config::Secret::new("abc")),
            consent: Some("once".into()),
            grant_types: vec!["urn:ietf:params:oauth:grant-type:device_code".into()],
            ..Default::default()
        };
        let text = StoredClient::encode(&settings);
        let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(stored["version"], "1");
        assert!(stored.get("secret_sha256").is_none(), "{text}");
        let back = StoredClient::decode(&text).unwrap();
        assert_eq!(back.policy, settings.policy);
        assert_eq!(
            (back.client_id, back.name, back.redirect_uris),
            (settings.client_id, settings.name, settings.redirect_uris)
        );
        assert!(back.secret_sha256.is_none());
        assert_eq!(
            (back.consent, back.grant_types),
            (settings.consent, settings.grant_types)
        );
    }

    #[test]
    fn rows_written_before_versions_are_still_read() {
        let old = r#"{"client_id":"old","name":"","redirect_uris":["https://old.example.com/cb"],"scopes":["openid"],"public":true,"post_logout_redirect_uris":[],"backchannel_logout_session_required":false,"refresh_tokens":false}"#;
        let settings = StoredClient::decode(old).unwrap();
        assert_eq!(settings.client_id, "old");
        assert!(settings.public);
        assert!(
            StoredClient::decode(r#"{"version":"9"}"#).is_err(),
            "an unknown version is an error"
        );
    }
}
