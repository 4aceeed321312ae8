//! Refresh tokens: a family per login and client, each token used once.

use std::sync::LazyLock;

use sqlx::{AnyConnection, Row};

use super::batch::Batch;
use super::{Db, StoreError};
use crate::crypto::TokenHash;

#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    /// Shared by every token descended from one authorization code.
    pub family_id: String,
    pub client_id: String,
    pub userid: String,
    pub scope: String,
    pub sid: Option<String>,
    pub route: String,
    pub auth_time: i64,
    /// Secret from which this token's successor is derived (so a concurrent refresh within the
    /// grace window gets the same successor without any token being stored in clear).
    pub successor_key: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub family_expires_at: i64,
}

/// Everything but the successor key, which derives live tokens.
impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("token_hash", &self.token_hash)
            .field("family_id", &self.family_id)
            .field("client_id", &self.client_id)
            .field("userid", &self.userid)
            .field("scope", &self.scope)
            .field("sid", &self.sid)
            .field("route", &self.route)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// First use: the token is now used; the caller issues its successor.
    Fresh(RefreshToken),
    /// Already used, at `used_at`.
    Reused {
        token: RefreshToken,
        used_at: i64,
    },
    Unknown,
}

const COLUMNS: &str = "token_hash, family_id, client_id, userid, scope, sid, route, auth_time, successor_key, \
                       created_at, expires_at, family_expires_at";

static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO refresh_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (token_hash) DO NOTHING"
    )
});

impl Db {
    /// Stores a refresh token; storing the same one twice (a derived successor) is harmless.
    pub async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        insert_refresh_token(&mut batch, t);
        self.run(batch).await
    }

    /// Marks the token used; see [`rotate_refresh_token`].
    pub async fn rotate_refresh_token(&self, token_hash: &TokenHash, now: i64) -> Result<Rotation, StoreError> {
        rotate_refresh_token(&mut *self.pool.acquire().await?, token_hash.as_str(), now).await
    }

    /// An unused refresh token, without changing it (for introspection).
    pub async fn find_refresh_token(&self, token_hash: &TokenHash) -> Result<Option<RefreshToken>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NULL"
        ))
        .bind(token_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_token(&r)).transpose()
    }

    /// Whether a token of `family_id` with this hash exists (a successor already issued).
    pub async fn refresh_token_exists(&self, token_hash: &TokenHash, family_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM refresh_tokens WHERE token_hash = $1 AND family_id = $2")
            .bind(token_hash.as_str())
            .bind(family_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Revokes a whole family; see [`revoke_refresh_family`].
    pub async fn revoke_refresh_family(&self, family_id: &str) -> Result<(), StoreError> {
        revoke_refresh_family(&mut *self.pool.acquire().await?, family_id).await
    }

    /// The families a person holds (for revoking everything when they leave).
    pub async fn refresh_families_of_user(&self, userid: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT family_id FROM refresh_tokens WHERE userid = $1")
            .bind(userid)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("family_id")?)).collect()
    }
}

fn read_token(r: &sqlx::any::AnyRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        token_hash: r.try_get("token_hash")?,
        family_id: r.try_get("family_id")?,
        client_id: r.try_get("client_id")?,
        userid: r.try_get("userid")?,
        scope: r.try_get("scope")?,
        sid: r.try_get("sid")?,
        route: r.try_get("route")?,
        auth_time: r.try_get("auth_time")?,
        successor_key: r.try_get("successor_key")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        family_expires_at: r.try_get("family_expires_at")?,
    })
}

pub(super) fn insert_refresh_token<'q>(batch: &mut Batch<'q>, t: &'q RefreshToken) {
    batch
        .add(&INSERT)
        .bind(&t.token_hash)
        .bind(&t.family_id)
        .bind(&t.client_id)
        .bind(&t.userid)
        .bind(&t.scope)
        .bind(&t.sid)
        .bind(&t.route)
        .bind(t.auth_time)
        .bind(&t.successor_key)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.family_expires_at);
}

/// Marks the token used; of concurrent rotations exactly one gets `Fresh`.
pub(super) async fn rotate_refresh_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> Result<Rotation, StoreError> {
    let row = sqlx::query(&format!(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = row {
        return Ok(Rotation::Fresh(read_token(&r)?));
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, used_at FROM refresh_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(r) => Ok(Rotation::Reused {
            token: read_token(&r)?,
            used_at: r.try_get::<Option<i64>, _>("used_at")?.unwrap_or(now),
        }),
        None => Ok(Rotation::Unknown),
    }
}

/// Revokes a whole family: its refresh tokens and the access tokens issued with them.
pub(super) async fn revoke_refresh_family(conn: &mut AnyConnection, family_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM refresh_tokens WHERE family_id = $1")
        .bind(family_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM access_tokens WHERE family_id = $1")
        .bind(family_id)
        .execute(conn)
        .await?;
    Ok(())
}
