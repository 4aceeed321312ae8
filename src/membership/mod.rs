//! The living organisation: DingTalk's change events, and what they do to the access people
//! hold. `dingtalk::events` reads them off the wire; the [`Inbox`] records each once across
//! every instance; the [`EventHandler`] job re-reads the people concerned and takes away, through
//! `Provider::reassess`, what they may no longer hold; the [`Reconciler`] catches what no event
//! told of.

mod handler;
mod inbox;
mod push;
mod reconcile;

pub use handler::EventHandler;
pub use inbox::{ACTED_ON, EventJob, Inbox, ORG_EVENT, Received, Via};
pub use push::{HttpPush, Push, Refused};
pub use reconcile::{Progress, RECONCILE, Reconciler, ensure as ensure_reconciliation, lag as reconcile_lag};
