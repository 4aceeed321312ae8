//! Delivers back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.5) from the
//! database outbox, in the background: a user's logout never waits for an app. Failed
//! deliveries are retried with exponential backoff; delivery is at least once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::store::{Db, LogoutDelivery};

/// Attempts before a delivery is given up.
const MAX_ATTEMPTS: i64 = 8;
/// Deliveries handled per round.
const BATCH: i64 = 50;
/// How often the outbox is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// Starts the delivery worker; it runs until the runtime stops.
pub fn spawn(db: Db, clock: SharedClock, wake: Arc<Notify>) -> tokio::task::JoinHandle<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    tokio::spawn(async move {
        loop {
            if let Err(e) = deliver_due(&db, &http, &clock).await {
                tracing::error!(cause = %e, "cannot read the logout outbox");
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

async fn deliver_due(db: &Db, http: &reqwest::Client, clock: &SharedClock) -> Result<(), crate::store::StoreError> {
    for delivery in db.due_logout_deliveries(clock.now(), BATCH).await? {
        match send(http, &delivery).await {
            Ok(()) => db.delete_logout_delivery(&delivery.id).await?,
            Err(why) => {
                let attempts = delivery.attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(client = %delivery.client_id, %why, attempts, "giving up a back-channel logout");
                    db.delete_logout_delivery(&delivery.id).await?;
                } else {
                    tracing::warn!(client = %delivery.client_id, %why, attempts, "back-channel logout failed; will retry");
                    db.reschedule_logout_delivery(&delivery.id, attempts, clock.now() + backoff(attempts))
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// §2.5: a form POST of `logout_token`; 200 (or any 2xx) means received.
async fn send(http: &reqwest::Client, delivery: &LogoutDelivery) -> Result<(), String> {
    let response = http
        .post(&delivery.uri)
        .form(&[("logout_token", delivery.logout_token.as_str())])
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status().as_u16()))
    }
}

/// Seconds before attempt `attempts + 1`: 5, 10, 20, … up to an hour.
fn backoff(attempts: i64) -> i64 {
    (5_i64 << (attempts - 1).clamp(0, 20)).min(3600)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let waits: Vec<i64> = (1..=12).map(super::backoff).collect();
        assert_eq!(&waits[..4], &[5, 10, 20, 40]);
        assert_eq!(waits[11], 3600);
    }
}
