//! Writes that belong to one step of a flow, made on one connection: a completed login, and the
//! tokens of a grant. Every checkout from the pool costs a round trip (the connection is tested
//! when it goes back), so a step takes one connection for all of its statements. They are not a
//! transaction: each write is harmless without the ones after it.

use super::{AuditEvent, Db, NewAccessToken, NewAuthorizationCode, RefreshToken, Session, StoreError, UserRecord};
use super::{audit, codes, refresh, sessions, tokens, users};
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

impl Db {
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

    /// Stores the tokens of a grant: its new refresh token, if any, then its access token.
    pub async fn record_tokens(
        &self,
        access: &NewAccessToken,
        refresh: Option<&RefreshToken>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        if let Some(token) = refresh {
            refresh::insert_refresh_token(&mut conn, token).await?;
        }
        tokens::insert_access_token(&mut conn, access).await
    }
}
