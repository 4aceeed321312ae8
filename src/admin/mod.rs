//! The one admin service: every read and change an operator makes — people, sessions, clients,
//! keys, audit — whatever they use to make it. The command line (`cli`) is a thin adapter over
//! it, and the console and the JSON API are to be. Each change names its [`Actor`] in the audit
//! log; each failure is an [`AdminError`] that tells not found, conflict, read-only and invalid
//! apart.

pub mod cli;
mod clients;
mod error;
pub mod tables;

use std::sync::Arc;

use serde::Serialize;

use crate::config::ClientSettings;
use crate::crypto::Alg;
use crate::identity::Identity;
use crate::keyring::{Keyring, Rotation};
use crate::oidc::{Audit, Offboarding, Provider};
use crate::store::{AuditEvent, AuditFilter, Db, PersonSummary, Revoked, Session, Topic};

pub use crate::calendar::{format_utc, parse_time};
pub use clients::{ClientSource, ClientView};
pub use error::AdminError;

/// Who makes a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Someone with a shell on a server, through `dingo …`.
    Cli,
    /// A person signed in to the console (their userid).
    Person(String),
    /// A client with an admin API token (its client_id).
    Client(String),
}

impl Actor {
    /// As the audit log records it.
    pub fn label(&self) -> String {
        match self {
            Actor::Cli => "cli".to_owned(),
            Actor::Person(userid) => format!("person:{userid}"),
            Actor::Client(client_id) => format!("client:{client_id}"),
        }
    }
}

/// A person as an operator sees them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    /// As DingTalk described them at their last login.
    pub identity: Identity,
    pub disabled: bool,
    pub sessions: Vec<SessionView>,
}

/// A session as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    pub sid: String,
    pub userid: String,
    pub route: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            sid: s.sid.clone(),
            userid: s.userid.clone(),
            route: s.route.clone(),
            auth_time: s.auth_time,
            expires_at: s.expires_at,
        }
    }
}

/// The admin service.
pub struct Admin {
    provider: Arc<Provider>,
    /// The clients of the configuration file, read-only here.
    configured: Vec<ClientSettings>,
    keyring: Arc<Keyring>,
}

impl Admin {
    pub fn new(provider: Arc<Provider>, configured: Vec<ClientSettings>, keyring: Arc<Keyring>) -> Self {
        Self {
            provider,
            configured,
            keyring,
        }
    }

    fn db(&self) -> &Db {
        self.provider.db()
    }

    fn now(&self) -> i64 {
        self.provider.clock().now()
    }

    /// Records an administrator's change (best effort: the change is made already).
    async fn audit(&self, actor: &Actor, outcome: &str, userid: Option<&str>, client_id: Option<&str>) {
        let actor = actor.label();
        self.provider
            .audit(Audit {
                kind: "admin",
                outcome,
                userid,
                client_id,
                actor: Some(&actor),
                ..Default::default()
            })
            .await;
    }

    /// People who have logged in, most recent first.
    pub async fn people(&self, limit: i64) -> Result<Vec<PersonSummary>, AdminError> {
        Ok(self.db().list_people(self.now(), limit).await?)
    }

    /// One person, with their live sessions.
    pub async fn person(&self, userid: &str) -> Result<PersonView, AdminError> {
        let db = self.db();
        let user = db
            .find_user(userid)
            .await?
            .ok_or_else(|| AdminError::NotFound("person", userid.to_owned()))?;
        let sessions = db.live_sessions(Some(userid), self.now(), 100).await?;
        Ok(PersonView {
            identity: user.identity,
            disabled: db.is_user_disabled(userid).await?,
            sessions: sessions.iter().map(SessionView::from).collect(),
        })
    }

    /// Disables a person: they cannot log in, their sessions end, every token and code they
    /// hold is revoked at once, and their apps are told.
    pub async fn disable_person(&self, actor: &Actor, userid: &str) -> Result<Revoked, AdminError> {
        let actor = actor.label();
        let audit = Audit {
            kind: "admin",
            outcome: "user_disabled",
            actor: Some(&actor),
            ..Default::default()
        };
        self.provider
            .offboard(userid, Offboarding::Disable, audit)
            .await?
            .ok_or_else(|| AdminError::NotFound("person", userid.to_owned()))
    }

    /// Lets a disabled person log in again; the change and its audit entry are kept together.
    pub async fn enable_person(&self, actor: &Actor, userid: &str) -> Result<(), AdminError> {
        let mut tx = self.db().transaction().await?;
        if !tx.set_user_disabled(userid, None).await? {
            return Err(AdminError::NotFound("person", userid.to_owned()));
        }
        let actor = actor.label();
        let event = self.provider.audit_event(&Audit {
            kind: "admin",
            outcome: "user_enabled",
            userid: Some(userid),
            actor: Some(&actor),
            ..Default::default()
        });
        tx.record_audit_event(&event).await?;
        tx.commit().await?;
        crate::oidc::log_audit_event(&event);
        Ok(())
    }

    /// Live sessions, newest first, optionally of one person.
    pub async fn sessions(&self, userid: Option<&str>, limit: i64) -> Result<Vec<SessionView>, AdminError> {
        let sessions = self.db().live_sessions(userid, self.now(), limit).await?;
        Ok(sessions.iter().map(SessionView::from).collect())
    }

    /// Ends one session (its apps are told).
    pub async fn end_session(&self, actor: &Actor, sid: &str) -> Result<(), AdminError> {
        let session = self
            .db()
            .find_session_by_sid(sid)
            .await?
            .ok_or_else(|| AdminError::NotFound("session", sid.to_owned()))?;
        self.provider.end_session(&session).await?;
        self.audit(actor, "session_revoked", Some(&session.userid), None).await;
        Ok(())
    }

    /// Audit events matching `filter`, newest first.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, AdminError> {
        Ok(self.db().audit_events(filter).await?)
    }

    /// A new signing key for each of `algs` (every configured algorithm when empty): next, or
    /// signing at once with `immediately`.
    pub async fn rotate_keys(
        &self,
        actor: &Actor,
        algs: &[Alg],
        immediately: bool,
    ) -> Result<Vec<(Alg, Rotation)>, AdminError> {
        let algs = if algs.is_empty() {
            self.keyring.algorithms()
        } else {
            algs
        };
        let mut done = Vec::new();
        for &alg in algs {
            done.push((alg, self.keyring.rotate(alg, immediately).await?));
        }
        self.db().announce(Topic::Keys).await?;
        self.audit(actor, "keys_rotated", None, None).await;
        Ok(done)
    }

    /// A private key as PKCS#8 PEM.
    pub async fn export_key(&self, actor: &Actor, kid: &str) -> Result<String, AdminError> {
        let pem = self.keyring.export_pem(kid).await?;
        self.audit(actor, "key_exported", None, None).await;
        Ok(pem)
    }

    /// Stores a private key from PKCS#8 PEM: signing at once, or with `next` as the next key.
    /// Returns the rotation and the key's algorithm.
    pub async fn import_key(
        &self,
        actor: &Actor,
        pem: &str,
        alg: Option<Alg>,
        next: bool,
    ) -> Result<(Rotation, String), AdminError> {
        let rotation = self.keyring.import_pem(pem, alg, next).await?;
        let kid = match &rotation {
            Rotation::Created { kid, .. } | Rotation::AlreadyNext { kid, .. } => kid,
        };
        let alg = self
            .db()
            .find_signing_key(kid)
            .await?
            .map(|k| k.alg)
            .unwrap_or_default();
        self.db().announce(Topic::Keys).await?;
        self.audit(actor, "key_imported", None, None).await;
        Ok((rotation, alg))
    }

    /// The database, to close when the command is done.
    pub async fn close(&self) {
        self.db().close().await;
    }
}
