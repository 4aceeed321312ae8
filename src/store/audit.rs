//! The audit log.

use sqlx::Row;

use super::batch::Batch;
use super::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub userid: Option<String>,
    pub client_id: Option<String>,
    pub route: Option<String>,
    pub detail: Option<String>,
    /// Who made the change, for administrators' actions: `cli`, `person:<userid>`, `client:<id>`.
    pub actor: Option<String>,
}

/// Which events to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub userid: Option<String>,
    pub client_id: Option<String>,
    pub outcome: Option<String>,
    pub kind: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
}

impl Db {
    pub async fn record_audit_event(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        record_audit_event(&mut batch, e);
        self.run(batch).await
    }

    /// The newest events matching `filter`, newest first.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        // Each condition is either switched off by a NULL parameter or applied: one statement
        // for every combination, and no SQL built from input.
        let rows = sqlx::query(
            "SELECT id, at, kind, outcome, userid, client_id, route, detail, actor FROM audit_events
             WHERE ($1 IS NULL OR userid = $1) AND ($2 IS NULL OR client_id = $2)
               AND ($3 IS NULL OR outcome = $3) AND ($4 IS NULL OR kind = $4)
               AND at >= $5 AND at <= $6
             ORDER BY at DESC, id LIMIT $7",
        )
        .bind(&filter.userid)
        .bind(&filter.client_id)
        .bind(&filter.outcome)
        .bind(&filter.kind)
        .bind(filter.since.unwrap_or(i64::MIN))
        .bind(filter.until.unwrap_or(i64::MAX))
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    outcome: r.try_get("outcome")?,
                    userid: r.try_get("userid")?,
                    client_id: r.try_get("client_id")?,
                    route: r.try_get("route")?,
                    detail: r.try_get("detail")?,
                    actor: r.try_get("actor")?,
                })
            })
            .collect()
    }

    /// Forgets events older than `before`, at most `batch` of them.
    pub async fn purge_audit_events(&self, before: i64, batch: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)")
                .bind(before)
                .bind(batch)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}

pub(super) fn record_audit_event<'q>(batch: &mut Batch<'q>, e: &'q AuditEvent) {
    batch
        .add(
            "INSERT INTO audit_events (id, at, kind, outcome, userid, client_id, route, detail, actor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&e.id)
        .bind(e.at)
        .bind(&e.kind)
        .bind(&e.outcome)
        .bind(&e.userid)
        .bind(&e.client_id)
        .bind(&e.route)
        .bind(&e.detail)
        .bind(&e.actor);
}
