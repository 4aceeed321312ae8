//! Taking access away, in one place: ending one session (RP-initiated logout, an administrator)
//! and offboarding a person — every session, token and code they hold — when they are disabled,
//! leave the organisation or are refused on a refresh. Each change is one transaction that also
//! queues the apps' back-channel logout notices (Back-Channel Logout 1.0) and writes its audit
//! entry, so a notice exists if and only if the change was made. The notices are signed and
//! sent later, by the job worker (`crate::backchannel`): a logout never waits for an app, and a
//! retried notice is never an expired token.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{Audit, log_audit_event};
use super::error::OidcError;
use super::{Provider, claims};
use crate::config::LOGOUT_TOKEN_TTL;
use crate::crypto::random_token;
use crate::store::{LeftMark, NewJob, Revoked, Session, Tx, UserRecord};

/// The job kind of a back-channel logout notice.
pub const BACKCHANNEL_LOGOUT: &str = "backchannel_logout";

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A back-channel logout to send to one client: about whom, and which session (none when every
/// session of the person ends). The payload of a [`BACKCHANNEL_LOGOUT`] job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutNotice {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// A logout token queued, already signed, before notices were signed at delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<SignedLogout>,
    /// The organisation-change event that caused it, for the time from event to logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// An organisation-change event as the cause of a logout: how it came and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub via: String,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedLogout {
    pub uri: String,
    pub logout_token: String,
}

/// A logout token ready to be posted.
#[derive(Clone)]
pub struct LogoutDelivery {
    pub uri: String,
    pub logout_token: String,
}

impl std::fmt::Debug for LogoutDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutDelivery")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// How much of a person's access goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offboarding<'a> {
    /// An administrator disables the person: they cannot log in again, and everything ends.
    Disable,
    /// DingTalk says they left the organisation: everything ends, and they are marked as gone
    /// until a later login finds them a member again.
    Left,
    /// Everything ends (they may no longer log in anywhere).
    Everywhere,
    /// Only what one client holds (its own policy refuses the person); sessions stay.
    AtClient(&'a str),
}

impl Provider {
    /// Ends a session and queues a logout notice for every client that took part in it.
    pub async fn end_session(&self, session: &Session) -> Result<(), OidcError> {
        let user = self.db.find_user(&session.userid).await?;
        let mut tx = self.db.transaction().await?;
        let clients = tx.end_session(&session.sid).await?;
        let revoked = Revoked {
            sessions: vec![(session.sid.clone(), clients)],
            ..Default::default()
        };
        let detail = format!("session ended; {} client(s) took part", revoked.sessions[0].1.len());
        let audit = Audit {
            kind: "logout",
            outcome: "success",
            userid: Some(&session.userid),
            detail: Some(&detail),
            ..Default::default()
        };
        self.commit_with_notices(tx, user.as_ref(), &revoked, &audit, None)
            .await
    }

    /// Takes away what a person holds (see [`Offboarding`]) and tells the apps, in one
    /// transaction audited as `audit` (its detail says what ended, unless given). `None` when
    /// nobody has that userid.
    pub async fn offboard(
        &self,
        userid: &str,
        how: Offboarding<'_>,
        audit: Audit<'_>,
    ) -> Result<Option<Revoked>, OidcError> {
        self.offboard_because(userid, how, audit, None).await
    }

    /// [`Provider::offboard`], caused by an organisation-change event (`origin`).
    pub async fn offboard_because(
        &self,
        userid: &str,
        how: Offboarding<'_>,
        audit: Audit<'_>,
        origin: Option<&Origin>,
    ) -> Result<Option<Revoked>, OidcError> {
        let mut tx = self.db.transaction().await?;
        let mut left_before = false;
        let marked = match how {
            Offboarding::Disable => tx.set_user_disabled(userid, Some(self.clock.now())).await?,
            Offboarding::Left => match tx.set_user_left(userid, self.clock.now()).await? {
                LeftMark::Nobody => false,
                LeftMark::Now => true,
                LeftMark::Before => {
                    left_before = true;
                    true
                }
            },
            Offboarding::Everywhere | Offboarding::AtClient(_) => true,
        };
        if !marked {
            return Ok(None);
        }
        let Some(user) = tx.find_user(userid).await? else {
            return Ok(None);
        };
        let client = match how {
            Offboarding::AtClient(client) => Some(client),
            Offboarding::Disable | Offboarding::Left | Offboarding::Everywhere => None,
        };
        let revoked = tx.revoke_person(userid, client).await?;
        if left_before && revoked == Revoked::default() {
            // The same leave again (a duplicate, a stale event, the reconciliation): nothing
            // was left to take, and nothing is recorded twice.
            return Ok(Some(revoked));
        }
        let detail = format!(
            "{} session(s) ended; tokens revoked at {} client(s)",
            revoked.sessions.len(),
            revoked.token_clients.len()
        );
        let audit = Audit {
            userid: Some(userid),
            detail: audit.detail.or(Some(&detail)),
            ..audit
        };
        self.commit_with_notices(tx, Some(&user), &revoked, &audit, origin)
            .await?;
        Ok(Some(revoked))
    }

    /// Queues the notices of what `revoked` took from `user`, records `audit` and commits; then
    /// wakes the delivery worker.
    async fn commit_with_notices(
        &self,
        mut tx: Tx,
        user: Option<&UserRecord>,
        revoked: &Revoked,
        audit: &Audit<'_>,
        origin: Option<&Origin>,
    ) -> Result<(), OidcError> {
        let now = self.clock.now();
        let mut notices = self.logout_notices(user, revoked);
        for notice in &mut notices {
            notice.origin = origin.cloned();
        }
        let jobs: Vec<NewJob> = notices
            .iter()
            .map(|notice| {
                Ok(NewJob {
                    id: random_token(),
                    kind: BACKCHANNEL_LOGOUT.to_owned(),
                    payload: serde_json::to_string(notice).map_err(OidcError::internal)?,
                    run_at: now,
                })
            })
            .collect::<Result<_, OidcError>>()?;
        tx.enqueue_jobs(&jobs, now).await?;
        let event = self.audit_event(audit);
        tx.record_audit_event(&event).await?;
        tx.commit().await?;
        log_audit_event(&event);
        if !jobs.is_empty() {
            self.job_waker.notify_one();
        }
        Ok(())
    }

    /// One notice per session and client that registered a back-channel logout URI; one more,
    /// without a session, for each such client that held tokens outside those sessions.
    fn logout_notices(&self, user: Option<&UserRecord>, revoked: &Revoked) -> Vec<LogoutNotice> {
        let told = |client_id: &str| {
            self.clients
                .get(client_id)
                .filter(|c| c.backchannel_logout_uri.is_some())
        };
        let sub = |client_id: &str| user.map(|u| claims::subject(&u.identity, &self.identity, client_id));
        let mut notices = Vec::new();
        for (sid, clients) in &revoked.sessions {
            for client in clients.iter().filter_map(|id| told(id)) {
                notices.push(LogoutNotice {
                    client_id: client.id.to_string(),
                    sub: sub(&client.id),
                    sid: Some(sid.clone()),
                    signed: None,
                    origin: None,
                });
            }
        }
        for client in revoked.token_clients.iter().filter_map(|id| told(id)) {
            if user.is_some() && !notices.iter().any(|n| n.client_id == client.id) {
                notices.push(LogoutNotice {
                    client_id: client.id.to_string(),
                    sub: sub(&client.id),
                    sid: None,
                    signed: None,
                    origin: None,
                });
            }
        }
        notices
    }

    /// The logout token a notice stands for, signed now (OIDC Back-Channel Logout 1.0 §2.4), and
    /// where it goes; `None` when the client is gone or no longer wants it.
    pub async fn logout_delivery(&self, notice: &LogoutNotice) -> Result<Option<LogoutDelivery>, OidcError> {
        if let Some(signed) = &notice.signed {
            return Ok(Some(LogoutDelivery {
                uri: signed.uri.clone(),
                logout_token: signed.logout_token.clone(),
            }));
        }
        let Some(client) = self.clients.get(&notice.client_id) else {
            return Ok(None);
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            return Ok(None);
        };
        let now = self.clock.now();
        let mut claims = json!({
            "iss": self.issuer,
            "aud": client.id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_TTL,
            "jti": random_token(),
            "events": { BACKCHANNEL_EVENT: {} },
        });
        if let Some(sub) = &notice.sub {
            claims["sub"] = json!(sub);
        }
        if let Some(sid) = &notice.sid {
            claims["sid"] = json!(sid);
        }
        let logout_token = super::token::sign(claims, self.keys.signing_key(), "logout+jwt").await?;
        Ok(Some(LogoutDelivery { uri, logout_token }))
    }
}
