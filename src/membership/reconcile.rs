//! The safety net for events that never came: every `events.reconcile_every` seconds, one
//! instance (the job queue's lease) asks DingTalk who left since the last round
//! (`empLeaveRecords`) and re-checks everyone who still holds live access. With events off,
//! this is how leavers are caught. A round that fails is tried again a few minutes later from
//! the same point, so no window is skipped; the job never dies.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::dingtalk::DingTalk;
use crate::identity::Refusal;
use crate::jobs::{Handler, Outcome};
use crate::oidc::{Cause, Origin, Provider, Reassessed};
use crate::store::{Db, LeasedJob, NewJob, StoreError};

use super::handler::{Failure, people_with_access, recheck};

/// The job kind, and the id of its one job.
pub const RECONCILE: &str = "reconcile";
/// Leave records may show up a little after the leave: each window starts this much earlier.
const OVERLAP: i64 = 300;
/// How far back the first round looks, besides the interval before it.
const FIRST_WINDOW: i64 = 86_400;
/// How soon a failed round is tried again (at most; `every` if that is shorter).
const RETRY: i64 = 300;

/// The job's payload: where the next window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Unix seconds up to which leavers have been caught.
    pub since: i64,
}

/// Queues the reconciliation, its first round `every` seconds from now, unless an instance
/// already has (every instance calls this at start-up).
pub async fn ensure(db: &Db, now: i64, every: u64) -> Result<(), StoreError> {
    let progress = Progress {
        since: now - FIRST_WINDOW,
    };
    let job = NewJob {
        id: RECONCILE.to_owned(),
        kind: RECONCILE.to_owned(),
        payload: serde_json::to_string(&progress).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        run_at: now.saturating_add(i64::try_from(every).unwrap_or(i64::MAX / 2)),
    };
    db.ensure_job(&job, now).await?;
    Ok(())
}

/// Seconds since the last completed round, as the queue says (every instance can tell).
pub async fn lag(db: &Db, now: i64) -> Result<Option<i64>, StoreError> {
    let Some(payload) = db.job_payload(RECONCILE).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str::<Progress>(&payload).ok().map(|p| now - p.since))
}

pub struct Reconciler {
    provider: Arc<Provider>,
    dingtalk: Arc<DingTalk>,
    /// Seconds between rounds; 0: none (the job ends).
    every: i64,
}

/// What one round found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Round {
    pub leavers_caught: usize,
    pub rechecked: usize,
    pub ended: usize,
}

impl Reconciler {
    pub fn new(provider: Arc<Provider>, dingtalk: Arc<DingTalk>, every: u64) -> Self {
        Self {
            provider,
            dingtalk,
            every: i64::try_from(every).unwrap_or(i64::MAX / 2),
        }
    }

    /// One round over `[since - OVERLAP, now]`.
    async fn round(&self, since: i64, now: i64) -> Result<Round, Failure> {
        let origin = Origin {
            via: "reconcile".to_owned(),
            received_at_ms: self.provider.clock().now_ms(),
        };
        let cause = Cause {
            actor: "dingtalk",
            detail: "reconciliation",
            origin: Some(&origin),
        };
        let mut round = Round::default();
        let leavers = self
            .dingtalk
            .leavers(since - OVERLAP, now)
            .await
            .map_err(|e| Failure::Upstream(e.to_string()))?;
        for leaver in leavers {
            if self.provider.db().has_left(&leaver.userid).await? {
                continue;
            }
            if let Reassessed::Ended(_) = self
                .provider
                .reassess(&leaver.userid, Err(Refusal::NotMember), cause)
                .await?
            {
                round.leavers_caught += 1;
                tracing::info!(
                    leave_time = leaver.leave_time,
                    "reconciliation: a leaver no event told of"
                );
            }
        }
        for userid in people_with_access(&self.provider).await? {
            round.rechecked += 1;
            match recheck(&self.provider, &self.dingtalk, &userid, cause).await? {
                Reassessed::Ended(_) | Reassessed::EndedAt(_) => round.ended += 1,
                Reassessed::Kept | Reassessed::Unknown => {}
            }
        }
        Ok(round)
    }
}

impl Handler for Reconciler {
    fn kind(&self) -> &'static str {
        RECONCILE
    }

    async fn run(&self, job: LeasedJob) -> Outcome {
        if self.every == 0 {
            return Outcome::Done;
        }
        let now = self.provider.clock().now();
        let progress: Progress = serde_json::from_str(&job.payload).unwrap_or(Progress {
            since: now - FIRST_WINDOW,
        });
        let next = match self.round(progress.since, now).await {
            Ok(round) => {
                tracing::info!(
                    leavers_caught = round.leavers_caught,
                    rechecked = round.rechecked,
                    ended = round.ended,
                    "reconciliation with DingTalk's directory done"
                );
                self.provider.metrics().set_reconcile_lag(0);
                (now + self.every, Progress { since: now })
            }
            Err(e) => {
                tracing::warn!(cause = %e, "reconciliation with DingTalk's directory failed; it will be tried again");
                (now + self.every.min(RETRY), progress)
            }
        };
        match serde_json::to_string(&next.1) {
            Ok(payload) => Outcome::Reschedule { at: next.0, payload },
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}
