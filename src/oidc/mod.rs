//! The OpenID provider's decisions: authorize, login completion, token, userinfo, discovery.
//! No HTTP framework, SQL or HTTP client here; `http` adapts requests to these calls.

mod again;
mod audit;
mod authorize;
mod claims;
mod clients;
mod consent;
mod device;
mod discovery;
mod error;
mod lifecycle;
mod login;
mod logout;
mod params;
pub mod paths;
mod pushed;
mod reassess;
mod reply;
mod revocation;
mod scopes;
mod session;
mod stored_client;
mod token;
mod userinfo;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{IdentitySettings, InApp, Settings, TokenSettings};
use crate::crypto::KeySet;
use crate::identity::Policy;
use crate::store::Db;
use crate::telemetry::Metrics;

pub use again::RetryOffer;
pub use audit::{Audit, log_audit_event};
pub use authorize::{AuthorizationRequest, PageError};
pub use clients::{Client, ClientKeys, ClientKind, ClientRegistry, SecretMethod};
pub use consent::{ConsentPage, ConsentPrompt};
pub use device::{DeviceAuthorization, DeviceConfirmation, DeviceDecision, DevicePage, normalize_user_code};
pub use error::{ErrorCode, OidcError};
pub use lifecycle::{BACKCHANNEL_LOGOUT, LogoutDelivery, LogoutNotice, Offboarding, Origin};
pub use login::{AuthorizeOutcome, InAppLogin, InAppReply, LoginOutcome, Refusal, RefusalReason, UpstreamReply};
pub use logout::{LogoutError, LogoutOutcome};
pub use params::Params;
pub use pushed::Pushed;
pub use reassess::{Cause, Reassessed};
pub use reply::{ClientReply, ResponseMode};
pub use scopes::Scopes;
pub use stored_client::StoredClient;
pub use token::{ASSERTION_TYPE, GrantType, JwksSource, TokenResponse};
pub use userinfo::BearerError;

/// The provider: everything the protocol needs, and nothing about how requests arrive.
#[derive(Debug)]
pub struct Provider {
    issuer: String,
    db: Db,
    keys: Arc<KeySet>,
    clients: ClientRegistry,
    ttl: TokenSettings,
    identity: IdentitySettings,
    /// Who may log in, unless a client has its own policy.
    policy: Policy,
    in_app: InApp,
    clock: SharedClock,
    discovery_json: Vec<u8>,
    /// Woken when jobs (back-channel logout notices) are queued.
    job_waker: Arc<tokio::sync::Notify>,
    /// Logins by route and outcome, tokens by grant.
    metrics: Arc<Metrics>,
    /// Fetches `private_key_jwt` clients' `jwks_uri`.
    jwks_source: Arc<dyn JwksSource>,
    /// Every authorization request must be pushed first (RFC 9126).
    require_pushed_requests: bool,
}

impl Provider {
    pub fn new(
        settings: &Settings,
        db: Db,
        keys: Arc<KeySet>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        jwks_source: Arc<dyn JwksSource>,
    ) -> Result<Self, String> {
        let issuer = settings.server.issuer.trim_end_matches('/').to_owned();
        let require_pushed_requests = settings.server.require_pushed_authorization_requests;
        let discovery_json = discovery::document(
            &issuer,
            settings.identity.subject,
            &settings.keys.algorithms,
            require_pushed_requests,
        );
        Ok(Self {
            issuer,
            db,
            keys,
            clients: ClientRegistry::from_settings(&settings.clients)?,
            ttl: settings.tokens.clone(),
            identity: settings.identity.clone(),
            policy: Policy::new(settings.policy.clone()),
            in_app: settings.dingtalk.in_app,
            clock,
            discovery_json,
            job_waker: Arc::new(tokio::sync::Notify::new()),
            metrics,
            jwks_source,
            require_pushed_requests,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// An absolute URL of this provider for `path` (one of [`paths`]).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.clients.get(client_id)
    }

    /// Whether a client registered this web origin (CORS).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.clients.allows_origin(origin)
    }

    /// Notified whenever jobs are queued (for this instance's worker to start at once).
    pub fn job_waker(&self) -> Arc<tokio::sync::Notify> {
        self.job_waker.clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Loads the managed clients from the database (every instance does so every few seconds).
    pub async fn reload_clients(&self) -> Result<usize, OidcError> {
        let managed = self.db.managed_clients().await?;
        self.clients.replace_managed(&managed);
        Ok(managed.len())
    }

    /// Whether `client_id` comes from the configuration file (read-only at run time).
    pub fn is_configured_client(&self, client_id: &str) -> bool {
        self.clients.is_configured(client_id)
    }

    /// The discovery document, serialized once.
    pub fn discovery_json(&self) -> &[u8] {
        &self.discovery_json
    }
}
