//! The statements of one step of a flow, made on one connection: a completed login, and the
//! redemption or rotation that a grant starts with and the tokens it ends with. Every checkout
//! from the pool costs a round trip (sqlx tests a connection when it goes back), so a step takes
//! one connection for all of its statements. They are not a transaction: each write is harmless
//! without the ones after it.

use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::{AuditEvent, Db, NewAccessToken, NewAuthorizationCode, RefreshToken, Session, StoreError, UserRecord};
use super::{CodeRedemption, Rotation, audit, codes, refresh, sessions, tokens, users};
use crate::identity::Identity;

/// What a login that succeeded leaves behind.
#[derive(Debug)]
pub struct CompletedLogin<'a> {
    pub identity: &'a Identity,
    pub session: &'a Session,
    pub code: &'a NewAuthorizationCode,
    pub audit: &'a AuditEvent,
    pub now: i64,
}

/// A connection taken from the pool for the statements of one step; it goes back when dropped.
/// Hold it across work in memory only: never across a call to DingTalk, and never while taking
/// another connection (requests doing the same could empty the pool and wait on each other).
#[derive(Debug)]
pub struct Checkout(PoolConnection<Any>);

impl Db {
    /// A connection for the statements of one step; see [`Checkout`].
    pub async fn checkout(&self) -> Result<Checkout, StoreError> {
        Ok(Checkout(self.pool.acquire().await?))
    }

    /// Records a login: the person, their new session, the client's code (and the client in the
    /// session) and the audit entry. A person an administrator disabled is left as they are and
    /// nothing is written: the answer is `None`.
    pub async fn record_login(&self, login: &CompletedLogin<'_>) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(user) = users::upsert_user(&mut conn, login.identity, login.now).await? else {
            return Ok(None);
        };
        sessions::insert_session(&mut conn, login.session).await?;
        codes::insert_authorization_code(&mut conn, login.code).await?;
        if let Err(e) = audit::record_audit_event(&mut conn, login.audit).await {
            tracing::error!(cause = %e, "cannot record an audit event");
        }
        Ok(Some(user))
    }
}

impl Checkout {
    /// Consumes a code; see [`Db::redeem_authorization_code`].
    pub async fn redeem_authorization_code(&mut self, code_hash: &str, now: i64) -> Result<CodeRedemption, StoreError> {
        codes::redeem_authorization_code(&mut self.0, code_hash, now).await
    }

    /// Records a login of `identity`; see [`Db::upsert_user`].
    pub async fn upsert_user(&mut self, identity: &Identity, now: i64) -> Result<Option<UserRecord>, StoreError> {
        users::upsert_user(&mut self.0, identity, now).await
    }

    /// Stores a refresh token; see [`Db::insert_refresh_token`].
    pub async fn insert_refresh_token(&mut self, token: &RefreshToken) -> Result<(), StoreError> {
        refresh::insert_refresh_token(&mut self.0, token).await
    }

    /// Marks a refresh token used; see [`Db::rotate_refresh_token`].
    pub async fn rotate_refresh_token(&mut self, token_hash: &str, now: i64) -> Result<Rotation, StoreError> {
        refresh::rotate_refresh_token(&mut self.0, token_hash, now).await
    }

    /// Stores the tokens of a grant: its new refresh token, if any, then its access token.
    pub async fn record_tokens(
        &mut self,
        access: &NewAccessToken,
        refresh: Option<&RefreshToken>,
    ) -> Result<(), StoreError> {
        if let Some(token) = refresh {
            refresh::insert_refresh_token(&mut self.0, token).await?;
        }
        tokens::insert_access_token(&mut self.0, access).await
    }
}
