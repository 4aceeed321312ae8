//! Removing rows nobody can use any more, in bounded batches so that no statement holds the
//! database for long. Safe to run from several instances at once.

use sqlx::Row;

use super::{Db, StoreError};

/// `(table, key column, expiry condition)`: rows matching the condition at `$1` are dead.
/// Codes are kept ten minutes past expiry, so that a late replay is still seen as a replay and a
/// device polling late is told its code expired; dead jobs a week, for operators to look at;
/// change events a week, longer than DingTalk redelivers one.
const DEAD_ROWS: &[(&str, &str, &str)] = &[
    ("pending_logins", "state_hash", "expires_at < $1"),
    ("authorization_codes", "code_hash", "expires_at < $1 - 600"),
    ("access_tokens", "token_hash", "expires_at < $1"),
    ("refresh_tokens", "token_hash", "family_expires_at < $1"),
    ("sessions", "id_hash", "expires_at < $1"),
    ("client_assertions", "jti", "expires_at < $1"),
    ("pushed_requests", "uri_hash", "expires_at < $1"),
    ("device_grants", "device_code_hash", "expires_at < $1 - 600"),
    ("jobs", "id", "dead_at < $1 - 604800"),
    ("org_events", "event_key", "received_at < $1 - 604800"),
];

impl Db {
    /// Deletes up to `batch` dead rows of each kind; returns how many went.
    pub async fn purge_expired(&self, now: i64, batch: i64) -> Result<u64, StoreError> {
        let mut removed = 0;
        for (table, key, condition) in DEAD_ROWS {
            let done = sqlx::query(&format!(
                "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {condition} LIMIT $2)"
            ))
            .bind(now)
            .bind(batch)
            .execute(&self.pool)
            .await?;
            removed += done.rows_affected();
        }
        let orphans = sqlx::query(
            "DELETE FROM session_clients WHERE sid IN
                 (SELECT sid FROM session_clients WHERE sid NOT IN (SELECT sid FROM sessions) LIMIT $1)",
        )
        .bind(batch)
        .execute(&self.pool)
        .await?;
        Ok(removed + orphans.rows_affected())
    }

    /// Sessions alive at `now`.
    pub async fn count_live_sessions(&self, now: i64) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE expires_at > $1")
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
