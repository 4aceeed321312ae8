//! The device_code grant (RFC 8628 §3.4, §3.5): a device polls until the person approved it,
//! denied it, or its code expired; the approved grant is taken once.

use super::super::error::{ErrorCode, OidcError};
use super::super::params::Params;
use super::super::{Client, Provider, Scopes};
use super::{Grant, GrantedRefresh, Subject, TokenResponse, invalid_grant, invalid_request};
use crate::crypto::{TokenHash, random_token};
use crate::store::DeviceStatus;

/// Seconds added to a device's interval each time it polls too soon (RFC 8628 §3.5).
const SLOW_DOWN_STEP: i64 = 5;

impl Provider {
    pub(super) async fn device_code_grant(
        &self,
        form: &Params,
        client: &Client,
        audience: Option<&str>,
    ) -> Result<TokenResponse, OidcError> {
        let device_code = form
            .get("device_code")
            .ok_or_else(|| invalid_request("device_code is missing"))?;
        let code_hash = TokenHash::of(device_code);
        let now = self.clock.now();
        let Some(polled) = self.db.poll_device_grant(&code_hash, now, SLOW_DOWN_STEP).await? else {
            return Err(invalid_grant("the device code is invalid or was used"));
        };
        let grant = polled.grant;
        if grant.client_id != client.id {
            return Err(invalid_grant("the device code was issued to another client"));
        }
        if grant.expires_at <= now {
            return Err(OidcError::new(
                ErrorCode::ExpiredToken,
                "the device code expired before anyone approved it",
            ));
        }
        if polled.too_soon {
            return Err(OidcError::new(
                ErrorCode::SlowDown,
                format!("poll at most every {} seconds", grant.poll_interval + SLOW_DOWN_STEP),
            ));
        }
        match grant.status {
            DeviceStatus::Pending => Err(OidcError::new(
                ErrorCode::AuthorizationPending,
                "the person has not approved the device yet",
            )),
            DeviceStatus::Denied => Err(OidcError::new(ErrorCode::AccessDenied, "the person denied the device")),
            DeviceStatus::Approved(_) => self.take_device_grant(&code_hash, &grant.scope, client, audience).await,
        }
    }

    /// Issues the tokens of an approved grant, which is taken (its device code is then spent).
    /// The approving session must still be live — a logout, a disable or a leave ends it — and
    /// the person still let in.
    async fn take_device_grant(
        &self,
        code_hash: &TokenHash,
        scope: &str,
        client: &Client,
        audience: Option<&str>,
    ) -> Result<TokenResponse, OidcError> {
        let Some(approval) = self.db.take_device_grant(code_hash).await? else {
            return Err(invalid_grant("the device code is invalid or was used"));
        };
        let now = self.clock.now();
        let session = self.db.find_session_by_sid(&approval.sid).await?;
        if session.is_none_or(|s| s.expires_at <= now) {
            return Err(invalid_grant("the session that approved the device has ended"));
        }
        let user = self.db.find_user(&approval.userid).await?;
        let user = match user {
            Some(user) if self.admits(client, &user.identity).await.is_ok() => user,
            _ => return Err(invalid_grant("the person may no longer log in")),
        };
        let wants_refresh = client.refresh_tokens || Scopes::parse(scope).contains("offline_access");
        let refresh = wants_refresh.then(|| {
            // The family is named after the device code, as a code's is after the code.
            let token = random_token();
            let absolute = client
                .refresh_token_absolute_ttl
                .unwrap_or(self.ttl.refresh_token_absolute_ttl);
            let row = self.refresh_token_row(
                &token,
                code_hash.as_str(),
                client,
                &approval.userid,
                scope,
                Some(&approval.sid),
                &approval.route,
                approval.auth_time,
                now + absolute,
            );
            GrantedRefresh {
                token,
                family_id: row.family_id.clone(),
                new_row: Some(row),
            }
        });
        let store = self.db.checkout().await?;
        self.issue(
            Grant {
                client,
                subject: Subject::Person(&user),
                scope,
                auth_time: approval.auth_time,
                nonce: None,
                sid: Some(&approval.sid),
                route: &approval.route,
                code_hash: None,
                audience,
                refresh,
            },
            store,
        )
        .await
    }
}
