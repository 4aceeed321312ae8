//! Logins in flight at DingTalk, keyed by the hash of the upstream `state`.

use sqlx::Row;

use super::{Db, StoreError};
use crate::crypto::TokenHash;

/// A login sent to DingTalk, waiting for the person to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub state_hash: String,
    /// Hash of the browser-binding cookie the login was started with.
    pub browser_hash: String,
    /// The validated authorization request, serialized by the OIDC layer.
    pub request: String,
    pub expires_at: i64,
}

impl Db {
    pub async fn insert_pending_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_logins (state_hash, browser_hash, request, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&login.state_hash)
        .bind(&login.browser_hash)
        .bind(&login.request)
        .bind(login.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pending login for `state_hash`, left in place.
    pub async fn find_pending_login(&self, state_hash: &TokenHash) -> Result<Option<PendingLogin>, StoreError> {
        let row = sqlx::query(
            "SELECT state_hash, browser_hash, request, expires_at FROM pending_logins WHERE state_hash = $1",
        )
        .bind(state_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_pending_login(&r)).transpose()
    }

    /// Removes and returns the pending login for `state_hash`: a state can be used only once.
    /// An expired one is removed too, and returned so the caller can tell "expired" from "unknown".
    pub async fn take_pending_login(&self, state_hash: &TokenHash) -> Result<Option<PendingLogin>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM pending_logins WHERE state_hash = $1 RETURNING state_hash, browser_hash, request, expires_at",
        )
        .bind(state_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| read_pending_login(&r)).transpose()
    }
}

fn read_pending_login(r: &sqlx::any::AnyRow) -> Result<PendingLogin, StoreError> {
    Ok(PendingLogin {
        state_hash: r.try_get("state_hash")?,
        browser_hash: r.try_get("browser_hash")?,
        request: r.try_get("request")?,
        expires_at: r.try_get("expires_at")?,
    })
}
