//! What each organisation-change event does (DINGTALK-EVENTS.md §3.5). Events arrive late,
//! twice and out of order, so none is taken as the truth about a person except a leave: each
//! makes dingo ask DingTalk how the person is now, and weigh that against every app where they
//! hold access (`Provider::reassess`). Acting twice on the same news changes nothing.

use std::sync::Arc;

use crate::dingtalk::DingTalk;
use crate::dingtalk::events::OrgEvent;
use crate::identity::{Refusal, Upstream, UpstreamError};
use crate::jobs::{Handler, Outcome};
use crate::oidc::{Cause, OidcError, Origin, Provider, Reassessed};
use crate::store::LeasedJob;

use super::inbox::{EventJob, ORG_EVENT};

/// People are read from the store this many at a time when an event concerns many.
const PAGE: i64 = 500;

pub struct EventHandler {
    provider: Arc<Provider>,
    dingtalk: Arc<DingTalk>,
}

impl EventHandler {
    pub fn new(provider: Arc<Provider>, dingtalk: Arc<DingTalk>) -> Self {
        Self { provider, dingtalk }
    }

    async fn act(&self, job: &EventJob) -> Result<(), Failure> {
        let event = &job.event;
        let actor = match &event.operator {
            Some(operator) => format!("dingtalk:{operator}"),
            None => "dingtalk".to_owned(),
        };
        let origin = Origin {
            via: job.via.as_str().to_owned(),
            received_at_ms: job.received_at_ms,
        };
        let cause = Cause {
            actor: &actor,
            detail: &event.event_type,
            origin: Some(&origin),
        };
        match event.event_type.as_str() {
            // Taken at its word, before any call: DingTalk already answers 60121 for them.
            "user_leave_org" => {
                for userid in &event.userids {
                    self.provider.reassess(userid, Err(Refusal::NotMember), cause).await?;
                }
            }
            "org_remove" => {
                for userid in people_with_access(&self.provider).await? {
                    self.provider.reassess(&userid, Err(Refusal::NotMember), cause).await?;
                }
            }
            "org_dept_create" | "org_dept_modify" | "org_dept_remove" => {
                self.dingtalk.forget_departments(&event.dept_ids);
                if event.event_type != "org_dept_create" {
                    for userid in self.people_in(event).await? {
                        recheck(&self.provider, &self.dingtalk, &userid, cause).await?;
                    }
                }
            }
            _ => {
                for userid in &event.userids {
                    recheck(&self.provider, &self.dingtalk, userid, cause).await?;
                }
            }
        }
        Ok(())
    }

    /// The people holding live access whose departments (as stored at their last login or
    /// re-check) include one of the event's, or lie below one.
    async fn people_in(&self, event: &OrgEvent) -> Result<Vec<String>, Failure> {
        let mut concerned = Vec::new();
        for userid in people_with_access(&self.provider).await? {
            let Some(user) = self.provider.db().find_user(&userid).await? else {
                continue;
            };
            let lineages = user.identity.departments.iter().flat_map(|d| &d.lineage);
            let listed = user.identity.dept_ids.iter();
            if lineages.chain(listed).any(|id| event.dept_ids.contains(id)) {
                concerned.push(userid);
            }
        }
        Ok(concerned)
    }
}

/// Asks DingTalk how person `userid` is now, and acts on the answer. Someone who never logged
/// in costs no call.
pub(super) async fn recheck(
    provider: &Provider,
    dingtalk: &DingTalk,
    userid: &str,
    cause: Cause<'_>,
) -> Result<Reassessed, Failure> {
    if provider.db().find_user(userid).await?.is_none() {
        return Ok(Reassessed::Unknown);
    }
    let current = match dingtalk.identity_of(userid).await {
        Ok(identity) => Ok(identity),
        Err(UpstreamError::NotMember) => Err(Refusal::NotMember),
        Err(UpstreamError::NotVisible) => Err(Refusal::NotVisible),
        Err(e) => return Err(Failure::Upstream(e.to_string())),
    };
    Ok(provider.reassess(userid, current, cause).await?)
}

/// Everyone holding live access now, in userid order.
pub(super) async fn people_with_access(provider: &Provider) -> Result<Vec<String>, Failure> {
    let db = provider.db();
    let now = provider.clock().now();
    let mut people: Vec<String> = Vec::new();
    loop {
        let after = people.last().cloned().unwrap_or_default();
        let page = db.people_with_access(now, &after, PAGE).await?;
        let full = page.len() as i64 == PAGE;
        people.extend(page);
        if !full {
            return Ok(people);
        }
    }
}

/// Why an event (or a reconciliation) could not be acted on yet.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("DingTalk: {0}")]
    Upstream(String),
    #[error(transparent)]
    Provider(#[from] OidcError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl Handler for EventHandler {
    fn kind(&self) -> &'static str {
        ORG_EVENT
    }

    async fn run(&self, job: LeasedJob) -> Outcome {
        let event: EventJob = match serde_json::from_str(&job.payload) {
            Ok(event) => event,
            Err(e) => return Outcome::GiveUp(format!("unreadable event: {e}")),
        };
        match self.act(&event).await {
            Ok(()) => Outcome::Done,
            // Acting again is harmless: every step re-reads how things are.
            Err(e) => Outcome::Retry(format!("{}: {e}", event.event.event_type)),
        }
    }
}
