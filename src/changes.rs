//! Acting on changes made elsewhere — by another instance or the command line — to the managed
//! clients and the signing keys: one watcher per instance compares the versions in the database
//! (`store::changes`) every poll, and on PostgreSQL also wakes at once on their `NOTIFY`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::keyring::Keyring;
use crate::oidc::Provider;
use crate::store::{Backend, ChangeListener, Db, Topic};

/// Where a watcher starts: listening already (PostgreSQL), and the versions read then.
pub struct Start {
    listener: Option<ChangeListener>,
    seen: HashMap<Topic, i64>,
}

impl Start {
    /// Begins to listen, then reads what has changed so far. Call it before loading the clients
    /// and keys: every change made after is then heard or seen.
    pub async fn now(db: &Db) -> Result<Self, crate::store::StoreError> {
        let listener = listen(db).await;
        let seen = db.change_versions().await?.into_iter().collect();
        Ok(Self { listener, seen })
    }
}

/// A connection that hears of changes at once (PostgreSQL); `None` on SQLite, or when it cannot
/// be had now (the watcher tries again).
async fn listen(db: &Db) -> Option<ChangeListener> {
    match db.listen_for_changes().await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(cause = %e, "cannot listen for changes; comparing versions every poll");
            None
        }
    }
}

pub struct Watcher {
    db: Db,
    provider: Arc<Provider>,
    keyring: Arc<Keyring>,
    /// How often versions are compared when nothing is heard.
    poll: Duration,
    /// Counts the changes acted on (tests and operators wait on it).
    handled: watch::Sender<u64>,
    start: Option<Start>,
}

impl Watcher {
    pub fn new(db: Db, provider: Arc<Provider>, keyring: Arc<Keyring>, poll: Duration, start: Start) -> Self {
        Self {
            db,
            provider,
            keyring,
            poll,
            handled: watch::Sender::new(0),
            start: Some(start),
        }
    }

    /// The number of changes acted on so far, as it grows.
    pub fn handled(&self) -> watch::Receiver<u64> {
        self.handled.subscribe()
    }

    /// Watches until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        let Some(Start { mut listener, mut seen }) = self.start.take() else {
            return;
        };
        let postgres = self.db.backend() == Backend::Postgres;
        loop {
            let heard = async {
                match listener.as_mut() {
                    Some(l) => l.next().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.poll) => {}
                result = heard => {
                    if let Err(e) = result {
                        tracing::warn!(cause = %e, "lost the change notifications; comparing versions only until they are back");
                        listener = None;
                    }
                }
            }
            if listener.is_none() && postgres {
                listener = listen(&self.db).await;
            }
            let now: HashMap<Topic, i64> = match self.db.change_versions().await {
                Ok(versions) => versions.into_iter().collect(),
                Err(e) => {
                    tracing::warn!(cause = %e, "cannot read what changed");
                    continue;
                }
            };
            for (topic, version) in &now {
                if seen.get(topic) != Some(version) {
                    act_on(&self, *topic).await;
                }
            }
            seen = now;
        }
    }
}

async fn act_on(watcher: &Watcher, topic: Topic) {
    let done = match topic {
        Topic::Clients => watcher
            .provider
            .reload_clients()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Topic::Keys => watcher.keyring.reload().await.map_err(|e| e.to_string()),
    };
    match done {
        Ok(()) => {
            tracing::info!(topic = topic.as_str(), "reloaded after a change elsewhere");
            watcher.handled.send_modify(|n| *n += 1);
        }
        Err(cause) => tracing::warn!(topic = topic.as_str(), %cause, "cannot reload after a change"),
    }
}
