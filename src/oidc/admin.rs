//! Administrator actions that change who may log in; each ends what it must and is audited.

use super::Provider;
use super::audit::Audit;
use super::error::OidcError;
use super::lifecycle::Offboarding;
use crate::config::{ClientSettings, check_client};
use crate::crypto::{random_token, sha256_hex};

impl Provider {
    /// Disables a person: they cannot log in, their sessions end (apps are told by back-channel
    /// logout) and every token and code they hold is revoked at once. False when the userid is
    /// unknown.
    pub async fn disable_user(&self, userid: &str) -> Result<bool, OidcError> {
        let audit = Audit {
            kind: "admin",
            outcome: "user_disabled",
            ..Default::default()
        };
        Ok(self.offboard(userid, Offboarding::Disable, audit).await?.is_some())
    }

    /// Lets a disabled person log in again. False when the userid is unknown.
    pub async fn enable_user(&self, userid: &str) -> Result<bool, OidcError> {
        let known = self.db.set_user_disabled(userid, None).await?;
        if known {
            self.audit(Audit {
                kind: "admin",
                outcome: "user_enabled",
                userid: Some(userid),
                ..Default::default()
            })
            .await;
        }
        Ok(known)
    }

    /// Ends one session (its apps are told). False when there is no such session.
    pub async fn revoke_session(&self, sid: &str) -> Result<bool, OidcError> {
        let Some(session) = self.db.find_session_by_sid(sid).await? else {
            return Ok(false);
        };
        self.end_session(&session).await?;
        self.audit(Audit {
            kind: "admin",
            outcome: "session_revoked",
            userid: Some(&session.userid),
            ..Default::default()
        })
        .await;
        Ok(true)
    }
}

/// Clients managed at run time.
impl Provider {
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

    /// Registers a new client; returns its secret (shown once) when it is confidential.
    pub async fn add_client(&self, settings: &ClientSettings) -> Result<Option<String>, OidcError> {
        if self.clients.get(&settings.client_id).is_some() {
            return Err(invalid(format!("a client {:?} already exists", settings.client_id)));
        }
        let needs_secret = !settings.public
            && !matches!(
                settings.token_endpoint_auth_method.as_deref(),
                Some("none" | "private_key_jwt")
            );
        let secret = needs_secret.then(random_token);
        let hash = secret.as_deref().map(sha256_hex);
        self.save_client(settings, hash.as_deref(), "client_added").await?;
        Ok(secret)
    }

    /// Replaces a managed client's settings, keeping its secret.
    pub async fn update_client(&self, settings: &ClientSettings) -> Result<(), OidcError> {
        self.managed_client(&settings.client_id)?;
        self.save_client(settings, None, "client_updated").await
    }

    /// Gives a managed confidential client a new secret (returned, shown once).
    pub async fn rotate_client_secret(&self, client_id: &str) -> Result<String, OidcError> {
        let client = self.managed_client(client_id)?;
        if !matches!(client.kind, super::ClientKind::Confidential { .. }) {
            return Err(invalid(format!("client {client_id:?} has no secret")));
        }
        let settings = self
            .db
            .managed_clients()
            .await?
            .into_iter()
            .find(|(s, _)| s.client_id == client_id)
            .map(|(s, _)| s)
            .ok_or_else(|| invalid(format!("no managed client {client_id:?}")))?;
        let secret = random_token();
        self.save_client(&settings, Some(&sha256_hex(&secret)), "client_secret_rotated")
            .await?;
        Ok(secret)
    }

    /// Removes a managed client.
    pub async fn remove_client(&self, client_id: &str) -> Result<(), OidcError> {
        self.managed_client(client_id)?;
        self.db.delete_client(client_id).await?;
        self.reload_clients().await?;
        self.audit_client(client_id, "client_removed").await;
        Ok(())
    }

    fn managed_client(&self, client_id: &str) -> Result<std::sync::Arc<super::Client>, OidcError> {
        if self.clients.is_configured(client_id) {
            return Err(invalid(format!(
                "client {client_id:?} is defined in the configuration file and is read-only here"
            )));
        }
        self.clients
            .get(client_id)
            .ok_or_else(|| invalid(format!("no managed client {client_id:?}")))
    }

    async fn save_client(&self, settings: &ClientSettings, hash: Option<&str>, action: &str) -> Result<(), OidcError> {
        // dingo itself holds managed clients' secrets, so a missing secret is no problem here.
        let problems: Vec<_> = check_client("client", settings)
            .into_iter()
            .filter(|p| p.path != "client.secret_sha256")
            .collect();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
            return Err(invalid(text.join("; ")));
        }
        self.db.save_client(settings, hash, self.clock.now()).await?;
        self.reload_clients().await?;
        self.audit_client(&settings.client_id, action).await;
        Ok(())
    }

    async fn audit_client(&self, client_id: &str, action: &str) {
        self.audit(Audit {
            kind: "admin",
            outcome: action,
            client_id: Some(client_id),
            ..Default::default()
        })
        .await;
    }
}

fn invalid(message: String) -> OidcError {
    OidcError::new(super::ErrorCode::InvalidRequest, message)
}
