//! The statements of one step of a flow, made on one connection: a completed login, and the
//! redemption or rotation that a grant starts with and the tokens it ends with. Every checkout
//! from the pool costs a round trip (sqlx tests a connection when it goes back), so a step takes
//! one connection for all of its statements, and sends its writes together ([`Batch`]).

use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::batch::Batch;
use super::{
    AuditEvent, Backend, Db, NewAccessToken, NewAuthorizationCode, RefreshToken, Session, StoreError, UserRecord,
};
use super::{CodeRedemption, Rotation, audit, codes, refresh, sessions, tokens, users};
use crate::crypto::TokenHash;
use crate::identity::Identity;

/// What a login that succeeded leaves behind.
#[derive(Debug)]
pub struct CompletedLogin<'a> {
    pub identity: &'a Identity,
    pub session: &'a Session,
    /// The client's code; none for a device page's login, which only starts the session.
    pub code: Option<&'a NewAuthorizationCode>,
    pub audit: &'a AuditEvent,
    pub now: i64,
}

/// A connection taken from the pool for the statements of one step; it goes back when dropped.
/// Hold it across work in memory only: never across a call to DingTalk, and never while taking
/// another connection (requests doing the same could empty the pool and wait on each other).
#[derive(Debug)]
pub struct Checkout {
    conn: PoolConnection<Any>,
    backend: Backend,
}

impl Db {
    /// A connection for the statements of one step; see [`Checkout`].
    pub async fn checkout(&self) -> Result<Checkout, StoreError> {
        Ok(Checkout {
            conn: self.pool.acquire().await?,
            backend: self.backend,
        })
    }

    /// Records a login: the person, then together their new session, the client's code (and
    /// the client in the session) and the audit entry — the login fails if its audit entry
    /// cannot be written. A person an administrator disabled is left as they are and nothing is
    /// written: the answer is `None`.
    pub async fn record_login(&self, login: &CompletedLogin<'_>) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(user) = users::upsert_user(&mut conn, login.identity, login.now).await? else {
            return Ok(None);
        };
        let mut batch = Batch::new();
        sessions::insert_session(&mut batch, login.session);
        if let Some(code) = login.code {
            codes::insert_authorization_code(&mut batch, code);
        }
        audit::record_audit_event(&mut batch, login.audit);
        batch.execute(&mut conn, self.backend).await?;
        Ok(Some(user))
    }
}

impl Checkout {
    /// Consumes a code; see [`Db::redeem_authorization_code`].
    pub async fn redeem_authorization_code(
        &mut self,
        code_hash: &TokenHash,
        now: i64,
    ) -> Result<CodeRedemption, StoreError> {
        codes::redeem_authorization_code(&mut self.conn, code_hash.as_str(), now).await
    }

    /// Records a login of `identity`; see [`Db::upsert_user`].
    pub async fn upsert_user(&mut self, identity: &Identity, now: i64) -> Result<Option<UserRecord>, StoreError> {
        users::upsert_user(&mut self.conn, identity, now).await
    }

    /// Stores a refresh token; see [`Db::insert_refresh_token`].
    pub async fn insert_refresh_token(&mut self, token: &RefreshToken) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        refresh::insert_refresh_token(&mut batch, token);
        batch.execute(&mut self.conn, self.backend).await
    }

    /// Marks a refresh token used; see [`Db::rotate_refresh_token`].
    pub async fn rotate_refresh_token(&mut self, token_hash: &TokenHash, now: i64) -> Result<Rotation, StoreError> {
        refresh::rotate_refresh_token(&mut self.conn, token_hash.as_str(), now).await
    }

    /// Stores the tokens of a grant together: its new refresh token, if any, and its access token.
    pub async fn record_tokens(
        &mut self,
        access: &NewAccessToken,
        refresh: Option<&RefreshToken>,
    ) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        if let Some(token) = refresh {
            refresh::insert_refresh_token(&mut batch, token);
        }
        tokens::insert_access_token(&mut batch, access);
        batch.execute(&mut self.conn, self.backend).await
    }
}
