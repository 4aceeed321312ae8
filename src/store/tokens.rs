//! Opaque access tokens, stored by hash.

use sqlx::Row;

use super::batch::Batch;
use super::{Db, StoreError};
use crate::crypto::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccessToken {
    pub token_hash: String,
    pub client_id: String,
    /// The person it is about; `None` for a client's own token (client credentials).
    pub userid: Option<String>,
    pub scope: String,
    /// The code it was issued for: revoked if that code is replayed.
    pub code_hash: Option<String>,
    /// The refresh-token family it belongs to: revoked with it.
    pub family_id: Option<String>,
    pub sid: Option<String>,
    /// The resource server it is for (`aud`); `None`: the client itself.
    pub audience: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub client_id: String,
    /// `None` for a client's own token.
    pub userid: Option<String>,
    pub scope: String,
    pub family_id: Option<String>,
    /// The resource server it is for; `None`: the client itself.
    pub audience: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Db {
    /// Stores an access token (dingo stores one with its grant: [`Db::record_tokens`]).
    #[cfg(test)]
    pub async fn insert_access_token(&self, token: &NewAccessToken) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        insert_access_token(&mut batch, token);
        self.run(batch).await
    }

    /// The token with this hash, if it exists and has not expired at `now`.
    pub async fn find_access_token(
        &self,
        token_hash: &TokenHash,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, userid, scope, family_id, audience, created_at, expires_at FROM access_tokens
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(AccessTokenRecord {
                client_id: r.try_get("client_id")?,
                userid: r.try_get("userid")?,
                scope: r.try_get("scope")?,
                family_id: r.try_get("family_id")?,
                audience: r.try_get("audience")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Revokes one access token; true when there was one.
    pub async fn delete_access_token(&self, token_hash: &TokenHash) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM access_tokens WHERE token_hash = $1")
            .bind(token_hash.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

pub(super) fn insert_access_token<'q>(batch: &mut Batch<'q>, token: &'q NewAccessToken) {
    batch
        .add(
            "INSERT INTO access_tokens
                 (token_hash, client_id, userid, scope, code_hash, family_id, sid, audience, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&token.token_hash)
        .bind(&token.client_id)
        .bind(&token.userid)
        .bind(&token.scope)
        .bind(&token.code_hash)
        .bind(&token.family_id)
        .bind(&token.sid)
        .bind(&token.audience)
        .bind(token.created_at)
        .bind(token.expires_at);
}
