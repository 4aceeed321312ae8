//! Taking access away, inside a transaction: ending one session (a logout), or everything a
//! person holds (they left, were disabled, or were refused), so that the apps can be told.

use std::collections::BTreeSet;

use sqlx::Row;

use super::batch::Batch;
use super::transaction::Tx;
use super::{AuditEvent, StoreError, UserRecord, audit, users};

/// What revoking a person's access took away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revoked {
    /// The sessions ended, each with the clients that took part in it.
    pub sessions: Vec<(String, Vec<String>)>,
    /// The clients that held the person's refresh or access tokens (revoked now).
    pub token_clients: BTreeSet<String>,
}

/// What marking a person as gone found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftMark {
    /// Nobody has that userid.
    Nobody,
    /// Marked now.
    Now,
    /// Marked before (the same news, again).
    Before,
}

impl Tx {
    /// Ends session `sid`: removes it with its access tokens and the refresh tokens issued in it
    /// without `offline_access` (Back-Channel Logout 1.0 §2.7: those with it outlive the
    /// session), and returns the clients that took part in it.
    pub async fn end_session(&mut self, sid: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("DELETE FROM session_clients WHERE sid = $1 RETURNING client_id")
            .bind(sid)
            .fetch_all(self.conn())
            .await?;
        let mut batch = Batch::new();
        for delete in [
            "DELETE FROM sessions WHERE sid = $1",
            "DELETE FROM access_tokens WHERE sid = $1",
            "DELETE FROM refresh_tokens WHERE sid = $1 AND (' ' || scope || ' ') NOT LIKE '% offline_access %'",
        ] {
            batch.add(delete).bind(sid);
        }
        self.run(batch).await?;
        rows.iter().map(|r| Ok(r.try_get("client_id")?)).collect()
    }

    /// Takes away what person `userid` holds: with `client` `None` everything — their sessions,
    /// refresh and access tokens and unredeemed codes; with a client, only that client's tokens
    /// and codes (their sessions stay, for the other apps).
    pub async fn revoke_person(&mut self, userid: &str, client: Option<&str>) -> Result<Revoked, StoreError> {
        let mut revoked = Revoked::default();
        if client.is_none() {
            let rows = sqlx::query(
                "DELETE FROM session_clients WHERE sid IN (SELECT sid FROM sessions WHERE userid = $1)
                 RETURNING sid, client_id",
            )
            .bind(userid)
            .fetch_all(self.conn())
            .await?;
            let ended = sqlx::query("DELETE FROM sessions WHERE userid = $1 RETURNING sid")
                .bind(userid)
                .fetch_all(self.conn())
                .await?;
            for row in &ended {
                let sid: String = row.try_get("sid")?;
                let mut clients = Vec::new();
                for r in &rows {
                    if r.try_get::<String, _>("sid")? == sid {
                        clients.push(r.try_get("client_id")?);
                    }
                }
                clients.sort();
                revoked.sessions.push((sid, clients));
            }
            revoked.sessions.sort();
        }
        // Live tokens only: a used refresh token or an expired access token tells nothing.
        let holders = sqlx::query(
            "SELECT client_id FROM refresh_tokens WHERE userid = $1 AND used_at IS NULL AND ($2 IS NULL OR client_id = $2)
             UNION SELECT client_id FROM access_tokens WHERE userid = $1 AND ($2 IS NULL OR client_id = $2)",
        )
        .bind(userid)
        .bind(client)
        .fetch_all(self.conn())
        .await?;
        for row in &holders {
            revoked.token_clients.insert(row.try_get("client_id")?);
        }
        let mut batch = Batch::new();
        for delete in [
            "DELETE FROM refresh_tokens WHERE userid = $1 AND ($2 IS NULL OR client_id = $2)",
            "DELETE FROM access_tokens WHERE userid = $1 AND ($2 IS NULL OR client_id = $2)",
            "DELETE FROM authorization_codes WHERE userid = $1 AND consumed_at IS NULL AND ($2 IS NULL OR client_id = $2)",
        ] {
            batch.add(delete).bind(userid).bind(client);
        }
        self.run(batch).await?;
        Ok(revoked)
    }

    /// Marks a person disabled (or enabled again with `None`); false when nobody has that userid.
    pub async fn set_user_disabled(&mut self, userid: &str, disabled_at: Option<i64>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET disabled_at = $2 WHERE userid = $1")
            .bind(userid)
            .bind(disabled_at)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a person as having left the organisation at `at`, unless they were already.
    pub async fn set_user_left(&mut self, userid: &str, at: i64) -> Result<LeftMark, StoreError> {
        let row = sqlx::query("SELECT left_at FROM users WHERE userid = $1")
            .bind(userid)
            .fetch_optional(self.conn())
            .await?;
        let Some(row) = row else {
            return Ok(LeftMark::Nobody);
        };
        if row.try_get::<Option<i64>, _>("left_at")?.is_some() {
            return Ok(LeftMark::Before);
        }
        sqlx::query("UPDATE users SET left_at = $2 WHERE userid = $1")
            .bind(userid)
            .bind(at)
            .execute(self.conn())
            .await?;
        Ok(LeftMark::Now)
    }

    /// The stored person `userid`; see [`super::Db::find_user`].
    pub async fn find_user(&mut self, userid: &str) -> Result<Option<UserRecord>, StoreError> {
        users::find_user(self.conn(), userid).await
    }

    /// Records an audit entry with the change it describes.
    pub async fn record_audit_event(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        audit::record_audit_event(&mut batch, event);
        self.run(batch).await
    }
}
