//! Where DingTalk's organisation-change events arrive, whichever way they came: each is recorded
//! once across every instance, with the job that acts on it, before DingTalk is told it was
//! received. What the job does is [`super::handler`]'s.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::crypto::{random_token, sha256_hex};
use crate::dingtalk::events::{EventSink, OrgEvent, PayloadError};
use crate::store::{Db, NewJob, NewOrgEvent, StoreError};
use crate::telemetry::Metrics;

/// The job kind of an event to act on.
pub const ORG_EVENT: &str = "org_event";

/// The events dingo acts on. Others (`user_add_org`: nobody to take anything from yet;
/// `org_change`, which comes with an `org_dept_modify`; any DingTalk adds) are acknowledged and
/// counted as ignored.
pub const ACTED_ON: &[&str] = &[
    "user_leave_org",
    "user_modify_org",
    "user_active_org",
    "org_admin_add",
    "org_admin_remove",
    "label_user_change",
    "org_dept_create",
    "org_dept_modify",
    "org_dept_remove",
    "org_remove",
];

/// How an event reached dingo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Stream,
    Http,
    /// Found by the reconciliation with DingTalk's directory.
    Reconcile,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Http => "http",
            Self::Reconcile => "reconcile",
        }
    }
}

/// What became of an event handed to the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Recorded now; its job will act on it.
    Recorded,
    /// Recorded before (a redelivery or a duplicate): nothing more happens.
    Duplicate,
    /// Of a type dingo does not act on.
    Ignored,
}

/// The payload of an [`ORG_EVENT`] job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventJob {
    pub event: OrgEvent,
    pub via: Via,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Inbox {
    db: Db,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    /// Wakes this instance's event worker.
    wake: Arc<Notify>,
}

impl Inbox {
    pub fn new(db: Db, clock: SharedClock, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            clock,
            metrics,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Notified whenever an event is recorded.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Records `event`, read from `raw` (what DingTalk sent, whose hash keys an event without
    /// an id). Once this returns `Ok`, DingTalk may be told the event was received.
    pub async fn receive(&self, event: &OrgEvent, via: Via, raw: &str) -> Result<Received, StoreError> {
        let event_type = event.event_type.as_str();
        if !ACTED_ON.contains(&event_type) {
            self.metrics.record_org_event(via.as_str(), "other", "ignored");
            tracing::debug!(event_type, "an organisation event of a type dingo does not act on");
            return Ok(Received::Ignored);
        }
        let received_at_ms = self.clock.now_ms();
        let job = EventJob {
            event: event.clone(),
            via,
            received_at_ms,
        };
        let payload = serde_json::to_string(&job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = event
            .event_id
            .clone()
            .unwrap_or_else(|| format!("sha256:{}", sha256_hex(raw)));
        let record = NewOrgEvent {
            key,
            event_type: event_type.to_owned(),
            via: via.as_str(),
            payload: serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            born_at_ms: event.born_at_ms,
            received_at: received_at_ms.div_euclid(1000),
        };
        let new_job = NewJob {
            id: random_token(),
            kind: ORG_EVENT.to_owned(),
            payload,
            run_at: record.received_at,
        };
        if self.db.record_org_event(&record, &new_job).await? {
            self.metrics.record_org_event(via.as_str(), event_type, "recorded");
            tracing::info!(
                event_type,
                via = via.as_str(),
                people = event.userids.len(),
                "organisation event recorded"
            );
            self.wake.notify_one();
            Ok(Received::Recorded)
        } else {
            self.metrics.record_org_event(via.as_str(), event_type, "duplicate");
            tracing::debug!(event_type, via = via.as_str(), "organisation event seen before");
            Ok(Received::Duplicate)
        }
    }
}

/// Stream mode records its events here.
impl EventSink for Inbox {
    async fn accept(&self, event: OrgEvent, data: String) -> Result<(), String> {
        self.receive(&event, Via::Stream, &data)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn unreadable(&self, why: &PayloadError) {
        self.metrics.record_org_event_refused(Via::Stream.as_str(), "payload");
        tracing::warn!(cause = %why, "DingTalk Stream: an event frame dingo cannot read; acknowledged and dropped");
    }
}
