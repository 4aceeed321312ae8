//! Recording what happened: every login, refresh failure, revocation and logout goes to the
//! audit log in the database and is emitted as a structured log event (target `audit`).

use super::Provider;
use crate::crypto::random_token;
use crate::store::AuditEvent;

/// One audit entry, before it is stamped with an id and a time.
#[derive(Debug, Default)]
pub struct Audit<'a> {
    pub kind: &'a str,
    pub outcome: &'a str,
    pub userid: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub route: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// Who made an administrator's change.
    pub actor: Option<&'a str>,
}

impl Provider {
    /// Records `entry`. A failure to record is logged, never turned into a failed request.
    pub async fn audit(&self, entry: Audit<'_>) {
        let event = self.audit_event(&entry);
        log_audit_event(&event);
        if let Err(e) = self.db.record_audit_event(&event).await {
            tracing::error!(cause = %e, "cannot record an audit event");
        }
    }

    /// `entry` stamped with an id and the time, ready to be stored.
    pub fn audit_event(&self, entry: &Audit<'_>) -> AuditEvent {
        AuditEvent {
            id: random_token(),
            at: self.clock.now(),
            kind: entry.kind.to_owned(),
            outcome: entry.outcome.to_owned(),
            userid: entry.userid.map(str::to_owned),
            client_id: entry.client_id.map(str::to_owned),
            route: entry.route.map(str::to_owned),
            detail: entry.detail.map(str::to_owned),
            actor: entry.actor.map(str::to_owned),
        }
    }

    /// A login's outcome: counted, and written to the audit log.
    pub(crate) async fn login_outcome(
        &self,
        route: &str,
        outcome: &str,
        client_id: &str,
        userid: Option<&str>,
        detail: Option<&str>,
    ) {
        self.metrics.record_login(route, outcome);
        self.audit(Audit {
            kind: "login",
            outcome,
            userid,
            client_id: Some(client_id),
            route: Some(route),
            detail,
            actor: None,
        })
        .await;
    }
}

/// Emits an audit entry as a structured log event (target `audit`).
pub fn log_audit_event(event: &AuditEvent) {
    tracing::info!(
        target: "audit",
        kind = event.kind,
        outcome = event.outcome,
        userid = event.userid,
        client = event.client_id,
        route = event.route,
        detail = event.detail,
        actor = event.actor,
        "audit"
    );
}
