//! DingTalk's organisation-change events, recorded once across every instance: the same event
//! delivered twice (a redelivery, a duplicate, a second connection) finds its key taken. An
//! event is recorded together with the job that acts on it, so one exists if and only if the
//! other does.

use std::collections::BTreeSet;

use sqlx::Row;

use super::jobs::NewJob;
use super::{Db, StoreError};

/// An event as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrgEvent {
    /// The idempotency key: DingTalk's `eventId`, or a hash of a push that carries none.
    pub key: String,
    pub event_type: String,
    /// `stream`, `http` or `reconcile`.
    pub via: &'static str,
    /// The event as read, JSON.
    pub payload: String,
    pub born_at_ms: Option<i64>,
    pub received_at: i64,
}

impl Db {
    /// Records `event` and queues `job` for it, in one transaction. False when the event was
    /// recorded before: nothing changes.
    pub async fn record_org_event(&self, event: &NewOrgEvent, job: &NewJob) -> Result<bool, StoreError> {
        let mut tx = self.transaction().await?;
        let inserted = sqlx::query(
            "INSERT INTO org_events (event_key, event_type, via, payload, born_at_ms, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_key) DO NOTHING",
        )
        .bind(&event.key)
        .bind(&event.event_type)
        .bind(event.via)
        .bind(&event.payload)
        .bind(event.born_at_ms)
        .bind(event.received_at)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        if inserted {
            tx.enqueue_jobs(std::slice::from_ref(job), event.received_at).await?;
            tx.commit().await?;
        }
        Ok(inserted)
    }

    /// The people holding live access at `now` — a session, a refresh token or an access token —
    /// in userid order, at most `limit` after `after`.
    pub async fn people_with_access(&self, now: i64, after: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT userid FROM (
                 SELECT userid FROM sessions WHERE expires_at > $1
                 UNION SELECT userid FROM refresh_tokens WHERE used_at IS NULL AND expires_at > $1
                 UNION SELECT userid FROM access_tokens WHERE userid IS NOT NULL AND expires_at > $1
             ) AS holders WHERE userid > $2 ORDER BY userid LIMIT $3",
        )
        .bind(now)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("userid")?)).collect()
    }

    /// The clients at which person `userid` holds live access at `now`: through a session they
    /// took part in, or a refresh or access token.
    pub async fn clients_of_person(&self, userid: &str, now: i64) -> Result<BTreeSet<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id FROM session_clients WHERE sid IN (SELECT sid FROM sessions WHERE userid = $1 AND expires_at > $2)
             UNION SELECT client_id FROM refresh_tokens WHERE userid = $1 AND used_at IS NULL AND expires_at > $2
             UNION SELECT client_id FROM access_tokens WHERE userid = $1 AND expires_at > $2",
        )
        .bind(userid)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("client_id")?)).collect()
    }

    /// Whether DingTalk's leave of person `userid` is recorded (and no login came since).
    pub async fn has_left(&self, userid: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT left_at FROM users WHERE userid = $1")
            .bind(userid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<i64>, _>("left_at")?.is_some(),
            None => false,
        })
    }

    /// How many events are recorded (within the dedupe window).
    pub async fn count_org_events(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM org_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
