//! Pushed authorization requests (RFC 9126): stored by the hash of their `request_uri`, taken
//! once.

use sqlx::Row;

use super::{Db, StoreError};
use crate::crypto::TokenHash;

impl Db {
    pub async fn push_request(
        &self,
        uri: &TokenHash,
        client_id: &str,
        params: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO pushed_requests (uri_hash, client_id, params, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(uri.as_str())
            .bind(client_id)
            .bind(params)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes the live pushed request `uri` of `client_id` (it cannot be taken again): its
    /// parameters.
    pub async fn take_pushed_request(
        &self,
        uri: &TokenHash,
        client_id: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM pushed_requests WHERE uri_hash = $1 AND client_id = $2 AND expires_at > $3 RETURNING params",
        )
        .bind(uri.as_str())
        .bind(client_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("params")?),
            None => None,
        })
    }
}
