//! Asking again whether a person may keep what they hold, once DingTalk says something about
//! them changed (a change event, the reconciliation): the judgement a refresh makes, made at
//! every client where they hold access. What no longer passes ends through `offboard`, the one
//! way access is taken away.

use super::audit::Audit;
use super::error::OidcError;
use super::{Client, Offboarding, Origin, Provider};
use crate::identity::{Identity, Refusal};

/// What a re-assessment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassessed {
    /// Nobody with that userid has logged in: there is nothing to take away.
    Unknown,
    /// They pass everywhere they hold access.
    Kept,
    /// Everything they held ended, for this reason.
    Ended(Refusal),
    /// What they held at these clients (whose own policy refuses them) ended.
    EndedAt(Vec<String>),
}

/// Who or what told dingo, for the audit log: `dingtalk:<operator>` or `dingtalk`.
#[derive(Debug, Clone, Copy)]
pub struct Cause<'a> {
    pub actor: &'a str,
    /// What DingTalk said (the event type, or the reconciliation).
    pub detail: &'a str,
    /// The event behind it, when there is one.
    pub origin: Option<&'a Origin>,
}

/// How much a refusal at `client` takes away: only that client's tokens when its own policy
/// refuses the person, else everything (they left, or may log in nowhere).
pub(super) fn offboarding_for(refusal: Refusal, client: &Client) -> Offboarding<'_> {
    match refusal {
        Refusal::NotMember => Offboarding::Left,
        Refusal::Department | Refusal::DepartmentsUnreadable | Refusal::Role | Refusal::AdminsOnly
            if client.policy.is_some() =>
        {
            Offboarding::AtClient(&client.id)
        }
        _ => Offboarding::Everywhere,
    }
}

impl Provider {
    /// Person `userid` as DingTalk describes them now — `current`, or why they may not log in
    /// at all — weighed against every client where they hold access. A member's stored profile
    /// is brought up to date.
    pub async fn reassess(
        &self,
        userid: &str,
        current: Result<Identity, Refusal>,
        cause: Cause<'_>,
    ) -> Result<Reassessed, OidcError> {
        if self.db.find_user(userid).await?.is_none() {
            return Ok(Reassessed::Unknown);
        }
        let identity = match current {
            Ok(identity) => identity,
            Err(refusal) => return self.end_everything(userid, refusal, cause).await,
        };
        self.db.refresh_profile(&identity, self.clock.now()).await?;
        let mut refused_at = Vec::new();
        for client_id in self.db.clients_of_person(userid, self.clock.now()).await? {
            let Some(client) = self.client(&client_id) else {
                continue;
            };
            if let Err(refusal) = self.allows(&client, &identity) {
                match offboarding_for(refusal, &client) {
                    Offboarding::AtClient(_) => refused_at.push((client, refusal)),
                    _ => return self.end_everything(userid, refusal, cause).await,
                }
            }
        }
        if refused_at.is_empty() {
            return Ok(Reassessed::Kept);
        }
        let mut ended = Vec::new();
        for (client, refusal) in refused_at {
            let detail = format!("{}: {}", cause.detail, refusal.describe());
            let audit = Audit {
                kind: "membership",
                outcome: refusal.metric_label(),
                client_id: Some(&client.id),
                detail: Some(&detail),
                actor: Some(cause.actor),
                ..Default::default()
            };
            self.offboard_because(userid, Offboarding::AtClient(&client.id), audit, cause.origin)
                .await?;
            ended.push(client.id.to_string());
        }
        Ok(Reassessed::EndedAt(ended))
    }

    /// Ends everything person `userid` holds; a person no longer a member is marked as gone.
    async fn end_everything(&self, userid: &str, refusal: Refusal, cause: Cause<'_>) -> Result<Reassessed, OidcError> {
        let (kind, how) = match refusal {
            Refusal::NotMember => ("leave", Offboarding::Left),
            _ => ("membership", Offboarding::Everywhere),
        };
        let detail = format!("{}: {}", cause.detail, refusal.describe());
        let audit = Audit {
            kind,
            outcome: refusal.metric_label(),
            detail: Some(&detail),
            actor: Some(cause.actor),
            ..Default::default()
        };
        Ok(match self.offboard_because(userid, how, audit, cause.origin).await? {
            Some(_) => Reassessed::Ended(refusal),
            None => Reassessed::Unknown,
        })
    }
}
