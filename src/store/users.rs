//! People who have logged in, with the identity resolved at their last login.

use sqlx::Row;

use super::{Db, StoreError};
use crate::identity::Identity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub identity: Identity,
    /// When the profile last changed (the `updated_at` claim).
    pub updated_at: i64,
    pub last_login_at: i64,
}

impl Db {
    /// Records a login of `identity` at `now`; `updated_at` moves only when the profile changed.
    pub async fn upsert_user(&self, identity: &Identity, now: i64) -> Result<UserRecord, StoreError> {
        let profile = serde_json::to_string(identity).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = sqlx::query(
            "INSERT INTO users (userid, unionid, profile, created_at, updated_at, last_login_at)
             VALUES ($1, $2, $3, $4, $4, $4)
             ON CONFLICT (userid) DO UPDATE SET
                 unionid = excluded.unionid,
                 updated_at = CASE WHEN users.profile = excluded.profile THEN users.updated_at ELSE excluded.updated_at END,
                 profile = excluded.profile,
                 last_login_at = excluded.last_login_at
             RETURNING updated_at, last_login_at",
        )
        .bind(&identity.userid)
        .bind(&identity.unionid)
        .bind(&profile)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(UserRecord {
            identity: identity.clone(),
            updated_at: row.try_get("updated_at")?,
            last_login_at: row.try_get("last_login_at")?,
        })
    }

    pub async fn find_user(&self, userid: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query("SELECT profile, updated_at, last_login_at FROM users WHERE userid = $1")
            .bind(userid)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let profile: String = row.try_get("profile")?;
        let identity = serde_json::from_str(&profile)
            .map_err(|e| StoreError::Corrupt(format!("profile of user {userid}: {e}")))?;
        Ok(Some(UserRecord {
            identity,
            updated_at: row.try_get("updated_at")?,
            last_login_at: row.try_get("last_login_at")?,
        }))
    }
}
