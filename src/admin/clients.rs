//! Clients: those of the configuration file (read-only here) and those managed at run time,
//! which are stored in the database and reach every instance within seconds.

use serde::Serialize;

use super::{Actor, Admin, AdminError};
use crate::config::{ClientSettings, ClientType, Problem, check_client};
use crate::crypto::{random_token, sha256_hex};
use crate::oidc::StoredClient;
use crate::store::Topic;

/// Where a client is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// The configuration file: changed only there.
    Configured,
    Managed,
}

/// A client as an operator sees it (never with a secret).
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    pub settings: ClientSettings,
    pub source: ClientSource,
    pub kind: ClientType,
}

impl ClientView {
    fn of(mut settings: ClientSettings, source: ClientSource) -> Self {
        settings.secret_sha256 = None;
        settings.secret_env = None;
        settings.secret_file = None;
        let kind = settings.client_type();
        Self { settings, source, kind }
    }
}

impl Admin {
    /// Every client: the configuration file's, then the managed ones, each by id.
    pub async fn clients(&self) -> Result<Vec<ClientView>, AdminError> {
        let mut all: Vec<ClientView> = self
            .configured
            .iter()
            .map(|c| ClientView::of(c.clone(), ClientSource::Configured))
            .collect();
        for row in self.db().managed_clients().await? {
            match StoredClient::decode(&row.settings) {
                Ok(settings) => all.push(ClientView::of(settings, ClientSource::Managed)),
                Err(e) => tracing::error!(client = %row.client_id, cause = %e, "a managed client is unreadable"),
            }
        }
        Ok(all)
    }

    /// One client.
    pub async fn client(&self, client_id: &str) -> Result<ClientView, AdminError> {
        self.clients()
            .await?
            .into_iter()
            .find(|c| c.settings.client_id == client_id)
            .ok_or_else(|| AdminError::NotFound("client", client_id.to_owned()))
    }

    /// Registers a new client; returns its secret (shown once) when it is confidential. A
    /// client with that id already existing is a conflict, never overwritten.
    pub async fn add_client(&self, actor: &Actor, settings: &ClientSettings) -> Result<Option<String>, AdminError> {
        let id = &settings.client_id;
        if self.configured.iter().any(|c| &c.client_id == id) {
            return Err(AdminError::Conflict(format!(
                "a client {id:?} is defined in the configuration file"
            )));
        }
        check(settings)?;
        let needs_secret = settings.client_type() == ClientType::Confidential;
        let secret = needs_secret.then(random_token);
        let hash = secret.as_deref().map(sha256_hex);
        let stored = StoredClient::encode(settings);
        if !self
            .db()
            .insert_client(id, &stored, hash.as_deref(), self.now())
            .await?
        {
            return Err(AdminError::Conflict(format!("a client {id:?} already exists")));
        }
        self.changed(actor, id, "client_added").await?;
        Ok(secret)
    }

    /// Replaces a managed client's settings, keeping its secret.
    pub async fn update_client(&self, actor: &Actor, settings: &ClientSettings) -> Result<(), AdminError> {
        let id = &settings.client_id;
        self.managed(id)?;
        check(settings)?;
        let stored = StoredClient::encode(settings);
        if !self.db().update_client(id, &stored, None, self.now()).await? {
            return Err(AdminError::NotFound("client", id.clone()));
        }
        self.changed(actor, id, "client_updated").await
    }

    /// Gives a managed confidential client a new secret (returned, shown once).
    pub async fn rotate_client_secret(&self, actor: &Actor, client_id: &str) -> Result<String, AdminError> {
        self.managed(client_id)?;
        let view = self.client(client_id).await?;
        if view.kind != ClientType::Confidential {
            return Err(AdminError::Invalid(vec![Problem::new(
                "client_id",
                format!("client {client_id:?} has no secret ({})", view.kind.as_str()),
            )]));
        }
        let secret = random_token();
        let stored = StoredClient::encode(&view.settings);
        let hash = sha256_hex(&secret);
        if !self
            .db()
            .update_client(client_id, &stored, Some(&hash), self.now())
            .await?
        {
            return Err(AdminError::NotFound("client", client_id.to_owned()));
        }
        self.changed(actor, client_id, "client_secret_rotated").await?;
        Ok(secret)
    }

    /// Removes a managed client.
    pub async fn remove_client(&self, actor: &Actor, client_id: &str) -> Result<(), AdminError> {
        self.managed(client_id)?;
        if !self.db().delete_client(client_id).await? {
            return Err(AdminError::NotFound("client", client_id.to_owned()));
        }
        self.changed(actor, client_id, "client_removed").await
    }

    /// Refuses a client of the configuration file.
    fn managed(&self, client_id: &str) -> Result<(), AdminError> {
        if self.configured.iter().any(|c| c.client_id == client_id) {
            return Err(AdminError::ReadOnly(format!(
                "client {client_id:?} is defined in the configuration file and is read-only here"
            )));
        }
        Ok(())
    }

    /// This instance sees the change at once, the others when they hear of it; it is audited.
    async fn changed(&self, actor: &Actor, client_id: &str, outcome: &str) -> Result<(), AdminError> {
        self.provider.reload_clients().await?;
        self.db().announce(Topic::Clients).await?;
        self.audit(actor, outcome, None, Some(client_id)).await;
        Ok(())
    }
}

/// A client's settings as the configuration file's would be checked; dingo itself holds a
/// managed client's secret, so a missing one is no problem here.
fn check(settings: &ClientSettings) -> Result<(), AdminError> {
    let problems: Vec<Problem> = check_client("client", settings)
        .into_iter()
        .filter(|p| p.path != "client.secret_sha256")
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(problems))
    }
}
