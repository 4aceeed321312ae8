//! What each person agreed each app may receive.

use sqlx::Row;

use super::{Db, StoreError};

impl Db {
    /// The scopes `userid` agreed `client_id` may receive, if ever asked.
    pub async fn find_consent(&self, userid: &str, client_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT scope FROM consents WHERE userid = $1 AND client_id = $2")
            .bind(userid)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("scope")).transpose().map_err(Into::into)
    }

    /// Records that `userid` agrees `client_id` may receive `scope` (replacing what was agreed).
    pub async fn record_consent(&self, userid: &str, client_id: &str, scope: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (userid, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (userid, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(userid)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
