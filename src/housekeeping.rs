//! Periodic upkeep: purges rows that expired, and keeps the sessions, jobs and reconciliation
//! gauges current.

use crate::clock::SharedClock;
use crate::store::Db;
use crate::telemetry::Metrics;

/// Rows deleted per table per statement.
const BATCH: i64 = 500;

/// One round: purge in batches until nothing is left, then count the live sessions and the
/// jobs. Audit events older than `audit_retention` seconds are forgotten.
pub async fn run_once(db: &Db, clock: &SharedClock, metrics: &Metrics, audit_retention: i64) {
    let now = clock.now();
    let mut purged = 0;
    loop {
        let round = match db.purge_expired(now, BATCH).await {
            Ok(n) => db.purge_audit_events(now - audit_retention, BATCH).await.map(|m| n + m),
            Err(e) => Err(e),
        };
        match round {
            Ok(0) => break,
            Ok(n) => purged += n,
            Err(e) => {
                tracing::warn!(cause = %e, "cannot purge expired rows");
                break;
            }
        }
    }
    if purged > 0 {
        tracing::info!(purged, "expired rows removed");
    }
    match db.count_live_sessions(now).await {
        Ok(n) => metrics.set_sessions_active(n),
        Err(e) => tracing::warn!(cause = %e, "cannot count sessions"),
    }
    match db.count_jobs().await {
        Ok(jobs) => metrics.set_jobs(jobs.waiting, jobs.dead),
        Err(e) => tracing::warn!(cause = %e, "cannot count jobs"),
    }
    match crate::membership::reconcile_lag(db, now).await {
        Ok(Some(lag)) => metrics.set_reconcile_lag(lag),
        Ok(None) => {}
        Err(e) => tracing::warn!(cause = %e, "cannot read the reconciliation's progress"),
    }
}
