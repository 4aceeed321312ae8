//! Authorization codes: issued once, redeemed at most once.

use std::sync::LazyLock;

use sqlx::{AnyConnection, Row};

use super::batch::Batch;
use super::users::{read_user, user_columns_of};
use super::{Db, StoreError, UserRecord, refresh, sessions};
use crate::crypto::TokenHash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub userid: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The dingo session the code was issued in.
    pub sid: Option<String>,
    /// How DingTalk authenticated the person.
    pub route: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// A code as it was when redeemed, and its person as stored (read in the same statement). The
/// caller checks expiry and bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCode {
    pub code: NewAuthorizationCode,
    /// `None` if the person is no longer stored, or was disabled after the code was issued.
    pub user: Option<UserRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now consumed.
    Redeemed(Box<RedeemedCode>),
    /// The code was already used: everything issued for it has been revoked.
    Replayed,
    Unknown,
}

/// Consumes an unused code, returning it with its person (built once: it runs on every `/token`).
static REDEEM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE authorization_codes SET consumed_at = $2
         WHERE code_hash = $1 AND consumed_at IS NULL
         RETURNING client_id, redirect_uri, userid, scope, nonce, code_challenge, sid, route, auth_time, expires_at,
             {}",
        user_columns_of("authorization_codes.userid")
    )
});

impl Db {
    /// Consumes a code; see [`redeem_authorization_code`].
    pub async fn redeem_authorization_code(
        &self,
        code_hash: &TokenHash,
        now: i64,
    ) -> Result<CodeRedemption, StoreError> {
        redeem_authorization_code(&mut *self.pool.acquire().await?, code_hash.as_str(), now).await
    }

    /// Stores a code; see [`insert_authorization_code`].
    pub async fn insert_authorization_code(&self, code: &NewAuthorizationCode) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        insert_authorization_code(&mut batch, code);
        self.run(batch).await
    }
}

/// Consumes the code atomically: of concurrent redemptions exactly one gets `Redeemed`.
/// A second use revokes what the first one obtained (RFC 6749 §4.1.2): its access tokens,
/// and the refresh-token family it started (whose id is the code's hash).
pub(super) async fn redeem_authorization_code(
    conn: &mut AnyConnection,
    code_hash: &str,
    now: i64,
) -> Result<CodeRedemption, StoreError> {
    let row = sqlx::query(&REDEEM)
        .bind(code_hash)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(r) = row {
        let code = NewAuthorizationCode {
            code_hash: code_hash.to_owned(),
            client_id: r.try_get("client_id")?,
            redirect_uri: r.try_get("redirect_uri")?,
            userid: r.try_get("userid")?,
            scope: r.try_get("scope")?,
            nonce: r.try_get("nonce")?,
            code_challenge: r.try_get("code_challenge")?,
            sid: r.try_get("sid")?,
            route: r.try_get("route")?,
            auth_time: r.try_get("auth_time")?,
            expires_at: r.try_get("expires_at")?,
        };
        let disabled = r.try_get::<Option<i64>, _>("user_disabled_at")?.is_some();
        let user = read_user(&r, &code.userid)?.filter(|_| !disabled);
        return Ok(CodeRedemption::Redeemed(Box::new(RedeemedCode { code, user })));
    }
    let exists = sqlx::query("SELECT 1 FROM authorization_codes WHERE code_hash = $1")
        .bind(code_hash)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if !exists {
        return Ok(CodeRedemption::Unknown);
    }
    sqlx::query("DELETE FROM access_tokens WHERE code_hash = $1")
        .bind(code_hash)
        .execute(&mut *conn)
        .await?;
    refresh::revoke_refresh_family(conn, code_hash).await?;
    Ok(CodeRedemption::Replayed)
}

/// Stores a code, and records its client in its session (the clients of a session are the
/// ones told when it ends).
pub(super) fn insert_authorization_code<'q>(batch: &mut Batch<'q>, code: &'q NewAuthorizationCode) {
    batch
        .add(
            "INSERT INTO authorization_codes
                 (code_hash, client_id, redirect_uri, userid, scope, nonce, code_challenge, sid, route, auth_time, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.userid)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(&code.sid)
        .bind(&code.route)
        .bind(code.auth_time)
        .bind(code.expires_at);
    if let Some(sid) = &code.sid {
        sessions::add_session_client(batch, sid, &code.client_id);
    }
}
