//! People who have logged in, with the identity resolved at their last login.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

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
    /// Records a login of `identity` at `now`; see [`upsert_user`].
    pub async fn upsert_user(&self, identity: &Identity, now: i64) -> Result<Option<UserRecord>, StoreError> {
        upsert_user(&mut *self.pool.acquire().await?, identity, now).await
    }

    /// Stores what DingTalk now says of a person who has logged in before (not a login: the
    /// last login time stays). A person disabled by an administrator is left as they are; one
    /// marked as gone is a member again. False when nothing was stored.
    pub async fn refresh_profile(&self, identity: &Identity, now: i64) -> Result<bool, StoreError> {
        let profile = serde_json::to_string(identity).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE users SET
                 updated_at = CASE WHEN profile = $2 THEN updated_at ELSE $3 END,
                 profile = $2,
                 checked_at = $3,
                 left_at = NULL
             WHERE userid = $1 AND disabled_at IS NULL",
        )
        .bind(identity.userid.as_str())
        .bind(&profile)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn find_user(&self, userid: &str) -> Result<Option<UserRecord>, StoreError> {
        find_user(&mut *self.pool.acquire().await?, userid).await
    }

    /// The stored person `userid` if DingTalk confirmed them at `checked_since` or later, nobody
    /// disabled them or marked them as gone, and no organisation event has arrived since that
    /// is still waiting to be acted on (`event_job` is that job's kind): what a refresh may rely
    /// on while DingTalk cannot be reached.
    pub async fn user_confirmed_since(
        &self,
        userid: &str,
        checked_since: i64,
        event_job: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT profile AS user_profile, updated_at AS user_updated_at, last_login_at AS user_last_login_at
             FROM users
             WHERE userid = $1 AND disabled_at IS NULL AND left_at IS NULL AND checked_at >= $2
               AND NOT EXISTS (SELECT 1 FROM jobs WHERE kind = $3 AND created_at >= users.checked_at)",
        )
        .bind(userid)
        .bind(checked_since)
        .bind(event_job)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => read_user(&row, userid),
            None => Ok(None),
        }
    }
}

/// The stored person `userid`.
pub(super) async fn find_user(conn: &mut AnyConnection, userid: &str) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT profile AS user_profile, updated_at AS user_updated_at, last_login_at AS user_last_login_at
         FROM users WHERE userid = $1",
    )
    .bind(userid)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => read_user(&row, userid),
        None => Ok(None),
    }
}

/// Records a login of `identity` at `now`, unless an administrator disabled the person: then
/// nothing changes and the answer is `None`. `updated_at` moves only when the profile changed; a
/// person marked as having left is a member again (DingTalk has just said so).
pub(super) async fn upsert_user(
    conn: &mut AnyConnection,
    identity: &Identity,
    now: i64,
) -> Result<Option<UserRecord>, StoreError> {
    let profile = serde_json::to_string(identity).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let row = sqlx::query(
        "INSERT INTO users (userid, unionid, profile, created_at, updated_at, last_login_at, checked_at)
         VALUES ($1, $2, $3, $4, $4, $4, $4)
         ON CONFLICT (userid) DO UPDATE SET
             unionid = excluded.unionid,
             updated_at = CASE WHEN users.profile = excluded.profile THEN users.updated_at ELSE excluded.updated_at END,
             profile = excluded.profile,
             last_login_at = excluded.last_login_at,
             checked_at = excluded.checked_at,
             left_at = NULL
         WHERE users.disabled_at IS NULL
         RETURNING updated_at, last_login_at",
    )
    .bind(identity.userid.as_str())
    .bind(&identity.unionid)
    .bind(&profile)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(UserRecord {
            identity: identity.clone(),
            updated_at: row.try_get("updated_at")?,
            last_login_at: row.try_get("last_login_at")?,
        })
    })
    .transpose()
}

/// Columns `user_profile`, `user_updated_at`, `user_last_login_at` and `user_disabled_at` of the
/// person whose userid is `userid_expr`, as subqueries: for reading a person along with a row
/// that names them.
pub(super) fn user_columns_of(userid_expr: &str) -> String {
    ["profile", "updated_at", "last_login_at", "disabled_at"]
        .map(|column| format!("(SELECT {column} FROM users WHERE users.userid = {userid_expr}) AS user_{column}"))
        .join(", ")
}

/// The person in the `user_*` columns of `row` (`None` when they are NULL: nobody stored).
pub(super) fn read_user(row: &AnyRow, userid: &str) -> Result<Option<UserRecord>, StoreError> {
    let Some(profile) = row.try_get::<Option<String>, _>("user_profile")? else {
        return Ok(None);
    };
    let identity =
        serde_json::from_str(&profile).map_err(|e| StoreError::Corrupt(format!("profile of user {userid}: {e}")))?;
    Ok(Some(UserRecord {
        identity,
        updated_at: row.try_get("user_updated_at")?,
        last_login_at: row.try_get("user_last_login_at")?,
    }))
}
