//! Registered relying parties and how they authenticate.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::{AccessTokenFormat, AuthMethod, ClientSettings, ClientType};
use crate::crypto::Alg;
use crate::crypto::{constant_time_eq, sha256};
use crate::identity::{ClientId, Policy};
use crate::store::ClientRow;

use super::StoredClient;
use super::token::GrantType;

#[derive(Debug, Clone, Default)]
pub enum ClientKind {
    /// No secret; PKCE is required.
    #[default]
    Public,
    /// Authenticates with a secret, of which only the SHA-256 is held.
    Confidential {
        secret_sha256: [u8; 32],
        /// `Some` when only one of `client_secret_basic`/`client_secret_post` is registered.
        only: Option<SecretMethod>,
    },
    /// Authenticates with a JWT signed by one of its keys (RFC 7523, `private_key_jwt`).
    PrivateKeyJwt(ClientKeys),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMethod {
    Basic,
    Post,
}

/// Where a `private_key_jwt` client's public keys are.
#[derive(Debug, Clone)]
pub enum ClientKeys {
    Inline(String),
    Uri(String),
}

#[derive(Debug, Clone, Default)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub kind: ClientKind,
    /// Replaces the global policy for this client.
    pub policy: Option<Policy>,
    /// The only person claims released to this client; all when `None`.
    pub claims: Option<Vec<String>>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Refresh tokens without `offline_access`.
    pub refresh_tokens: bool,
    pub refresh_token_idle_ttl: Option<i64>,
    pub refresh_token_absolute_ttl: Option<i64>,
    /// `id_token_signed_response_alg`: RS256, ES256 or EdDSA.
    pub id_token_alg: Alg,
    /// RFC 9068 JWT access tokens instead of opaque ones.
    pub jwt_access_tokens: bool,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// May introspect tokens issued to any client (a resource server).
    pub introspect_any: bool,
    /// Web origins (`scheme://host[:port]`) allowed to call the token endpoints from scripts.
    pub allowed_origins: Vec<String>,
    /// Resource servers it may ask tokens for; the first is its default audience.
    pub resources: Vec<String>,
    /// Its authorization requests must be pushed first (RFC 9126).
    pub requires_pushed_requests: bool,
    /// The apps for which it may trade a person's access token (RFC 8693).
    pub may_exchange_for: Vec<String>,
    /// Each person agrees once to what it receives (`consent = "once"`).
    pub asks_consent: bool,
}

impl Client {
    pub fn may_use(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    pub fn is_public(&self) -> bool {
        matches!(self.kind, ClientKind::Public)
    }

    /// Exact string comparison, as OIDC Core 3.1.2.1 requires; except that a registered
    /// loopback IP redirect (`http://127.0.0.1/cb`, `http://[::1]/cb`) matches with any port,
    /// as a native app's listener takes whichever is free (RFC 8252 §7.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri || same_loopback_but_port(registered, uri))
    }

    /// True when `secret` is this client's secret; compared in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.kind {
            ClientKind::Confidential { secret_sha256, .. } => constant_time_eq(&sha256(secret), secret_sha256),
            ClientKind::Public | ClientKind::PrivateKeyJwt(_) => false,
        }
    }

    /// The name to show people: the display name, else the id.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() { &self.id } else { &self.name }
    }
}

/// Clients from the configuration file (fixed) and from the database (managed at run time
/// with `dingo clients …`, reloaded by every instance).
#[derive(Debug, Default)]
pub struct ClientRegistry {
    configured: HashMap<String, Arc<Client>>,
    managed: RwLock<HashMap<String, Arc<Client>>>,
}

impl ClientRegistry {
    /// Builds the registry from validated settings (secrets already resolved to their hash).
    pub fn from_settings(settings: &[ClientSettings]) -> Result<Self, String> {
        let configured = settings
            .iter()
            .map(|c| client(c, c.secret_sha256.as_ref().map(|s| s.expose())).map(|c| (c.id.to_string(), Arc::new(c))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            configured,
            managed: RwLock::new(HashMap::new()),
        })
    }

    /// Whether a client registered `origin` (exactly) for scripts to call dingo from.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let registered = |c: &Arc<Client>| c.allowed_origins.iter().any(|o| o == origin);
        self.configured.values().any(registered)
            || self
                .managed
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .values()
                .any(registered)
    }

    /// The client with this id; a configured client wins over a managed one.
    pub fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        if let Some(client) = self.configured.get(client_id) {
            return Some(client.clone());
        }
        self.managed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(client_id)
            .cloned()
    }

    /// Whether the client comes from the configuration file (and so cannot be changed at run time).
    pub fn is_configured(&self, client_id: &str) -> bool {
        self.configured.contains_key(client_id)
    }

    /// Replaces the managed clients with the stored `rows`; a broken row is skipped and
    /// reported, never fatal.
    pub fn replace_managed(&self, rows: &[ClientRow]) {
        let mut clients = HashMap::new();
        for row in rows {
            let built = StoredClient::decode(&row.settings)
                .map_err(|e| format!("unreadable stored settings: {e}"))
                .and_then(|settings| client(&settings, row.secret_sha256.as_deref()));
            match built {
                Ok(c) => {
                    clients.insert(c.id.to_string(), Arc::new(c));
                }
                Err(e) => tracing::error!(client = %row.client_id, cause = %e, "a managed client is unusable"),
            }
        }
        *self.managed.write().unwrap_or_else(std::sync::PoisonError::into_inner) = clients;
    }
}

/// The client described by `c`, whose secret's SHA-256 (hex) is `secret_sha256`.
fn client(c: &ClientSettings, secret_sha256: Option<&str>) -> Result<Client, String> {
    let method = c.auth_method()?;
    let kind = match c.client_type() {
        ClientType::Public => ClientKind::Public,
        ClientType::PrivateKeyJwt => match (&c.jwks, &c.jwks_uri) {
            (Some(jwks), _) => ClientKind::PrivateKeyJwt(ClientKeys::Inline(jwks.clone())),
            (None, Some(uri)) => ClientKind::PrivateKeyJwt(ClientKeys::Uri(uri.clone())),
            (None, None) => return Err(format!("client {} has no jwks or jwks_uri", c.client_id)),
        },
        ClientType::Confidential => {
            let hex = secret_sha256.ok_or_else(|| format!("client {} has no secret", c.client_id))?;
            ClientKind::Confidential {
                secret_sha256: parse_hex32(hex)
                    .ok_or_else(|| format!("client {}: secret_sha256 is not 64 hex characters", c.client_id))?,
                only: match method {
                    Some(AuthMethod::ClientSecretBasic) => Some(SecretMethod::Basic),
                    Some(AuthMethod::ClientSecretPost) => Some(SecretMethod::Post),
                    _ => None,
                },
            }
        }
    };
    Ok(Client {
        id: c.client_id.clone().into(),
        name: c.name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        scopes: c.scopes.clone(),
        kind,
        policy: c.policy.clone().map(Policy::new),
        claims: c.claims.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        refresh_tokens: c.refresh_tokens,
        refresh_token_idle_ttl: c.refresh_token_idle_ttl,
        refresh_token_absolute_ttl: c.refresh_token_absolute_ttl,
        id_token_alg: c.id_token_alg().map_err(|e| format!("client {}: {e}", c.client_id))?,
        jwt_access_tokens: c
            .access_token_format()
            .map_err(|e| format!("client {}: {e}", c.client_id))?
            == AccessTokenFormat::Jwt,
        grant_types: if c.grant_types.is_empty() {
            GrantType::DEFAULT.to_vec()
        } else {
            c.grant_types
                .iter()
                .map(|name| {
                    GrantType::parse(name).ok_or_else(|| format!("client {}: unknown grant {name:?}", c.client_id))
                })
                .collect::<Result<_, _>>()?
        },
        introspect_any: c.introspect_any,
        resources: c.resources.clone(),
        requires_pushed_requests: c.require_pushed_authorization_requests,
        may_exchange_for: c.may_exchange_for.clone(),
        asks_consent: c.consent.as_deref() == Some("once"),
        allowed_origins: if c.allowed_origins.is_empty() && c.public {
            c.redirect_uris
                .iter()
                .filter_map(|uri| url::Url::parse(uri).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|u| u.origin().ascii_serialization())
                .collect()
        } else {
            c.allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect()
        },
    })
}

/// `requested` is `registered`, a loopback IP redirect, with another port. `requested` must be
/// written as it reads once parsed, so that nothing hides in its spelling.
fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    let (Ok(registered), Ok(mut requested_url)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    if !is_loopback_ip_redirect(&registered) || requested_url.as_str() != requested {
        return false;
    }
    requested_url.set_port(registered.port()).is_ok() && requested_url == registered
}

/// An `http` redirect to a loopback IP literal (RFC 8252 §7.3; `localhost` is not one, §8.3).
pub fn is_loopback_ip_redirect(url: &url::Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// A redirect to an app's private-use URI scheme (`com.example.app:/cb`, RFC 8252 §7.1): only a
/// native app receives it.
pub fn is_private_use_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| !matches!(u.scheme(), "http" | "https"))
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings(public: bool, secret_sha256: Option<&str>) -> ClientSettings {
        ClientSettings {
            client_id: "app".into(),
            name: String::new(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            scopes: vec!["openid".into()],
            public,
            secret_sha256: secret_sha256.map(Secret::new),
            ..Default::default()
        }
    }

    #[test]
    fn a_confidential_client_matches_only_its_own_secret() {
        let hash = crate::crypto::sha256_hex("right");
        let registry = ClientRegistry::from_settings(&[settings(false, Some(&hash))]).unwrap();
        let client = registry.get("app").unwrap();
        assert!(client.secret_matches("right"));
        assert!(!client.secret_matches("wrong"));
        assert!(!client.secret_matches(""));
        assert_eq!(client.display_name(), "app");
    }

    #[test]
    fn a_loopback_ip_redirect_matches_with_any_port_and_nothing_else_loosely() {
        let mut settings = settings(true, None);
        settings.redirect_uris = vec![
            "http://127.0.0.1/callback".into(),
            "http://[::1]/cb".into(),
            "http://localhost:8000/cb".into(),
        ];
        let client = client(&settings, None).unwrap();
        for ok in [
            "http://127.0.0.1:53127/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:8000/cb",
        ] {
            assert!(client.has_redirect_uri(ok), "{ok}");
        }
        for refused in [
            "http://127.0.0.1:53127/callback/x",
            "http://127.0.0.1:53127/callback?x=1",
            "http://127.0.0.2:53127/callback",
            "https://127.0.0.1:53127/callback",
            "http://[::1]:8000/callback",
            "http://localhost:9000/cb",
            "http://127.0.0.1:53127/%63allback",
            "http://user@127.0.0.1:1/callback",
        ] {
            assert!(!client.has_redirect_uri(refused), "{refused}");
        }
        assert!(is_private_use_redirect("com.example.app:/cb"));
        assert!(
            !is_private_use_redirect("http://127.0.0.1:1/cb") && !is_private_use_redirect("https://app.example.com/cb")
        );
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let registry = ClientRegistry::from_settings(&[settings(true, None)]).unwrap();
        let client = registry.get("app").unwrap();
        assert!(client.has_redirect_uri("https://app.example.com/cb"));
        for near_miss in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com/cb?x=1",
        ] {
            assert!(!client.has_redirect_uri(near_miss), "{near_miss}");
        }
        assert!(!client.secret_matches("anything"));
    }
}
