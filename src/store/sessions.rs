//! dingo's SSO sessions, and which clients took part in each.

use sqlx::Row;

use super::batch::Batch;
use super::{Db, StoreError};
use crate::crypto::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hash of the random id in the session cookie.
    pub id_hash: String,
    /// The public session id (`sid` in ID and logout tokens).
    pub sid: String,
    pub userid: String,
    pub route: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Db {
    /// Stores a session (dingo stores one with its login: [`Db::record_login`]).
    #[cfg(test)]
    pub async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        insert_session(&mut batch, s);
        self.run(batch).await
    }

    /// The live session whose cookie hashes to `id_hash`.
    pub async fn find_session(&self, id_hash: &TokenHash, now: i64) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT id_hash, sid, userid, route, auth_time, created_at, expires_at FROM sessions
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_session(&r)).transpose()
    }

    pub async fn find_session_by_sid(&self, sid: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT id_hash, sid, userid, route, auth_time, created_at, expires_at FROM sessions WHERE sid = $1",
        )
        .bind(sid)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_session(&r)).transpose()
    }

    /// The sessions of a person (for ending them all).
    pub async fn sessions_of_user(&self, userid: &str) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(
            "SELECT id_hash, sid, userid, route, auth_time, created_at, expires_at FROM sessions WHERE userid = $1",
        )
        .bind(userid)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_session).collect()
    }
}

/// How many sessions a person has (a read inside a transaction, for tests).
#[cfg(test)]
pub(super) async fn count_sessions_of(conn: &mut sqlx::AnyConnection, userid: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE userid = $1")
        .bind(userid)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// Stores a new session.
pub(super) fn insert_session<'q>(batch: &mut Batch<'q>, s: &'q Session) {
    batch
        .add(
            "INSERT INTO sessions (id_hash, sid, userid, route, auth_time, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id_hash)
        .bind(&s.sid)
        .bind(&s.userid)
        .bind(&s.route)
        .bind(s.auth_time)
        .bind(s.created_at)
        .bind(s.expires_at);
}

/// Records that `client_id` takes part in session `sid` (once).
pub(super) fn add_session_client<'q>(batch: &mut Batch<'q>, sid: &'q str, client_id: &'q str) {
    batch
        .add("INSERT INTO session_clients (sid, client_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(sid)
        .bind(client_id);
}

pub(super) fn read_session(r: &sqlx::any::AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        id_hash: r.try_get("id_hash")?,
        sid: r.try_get("sid")?,
        userid: r.try_get("userid")?,
        route: r.try_get("route")?,
        auth_time: r.try_get("auth_time")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}
