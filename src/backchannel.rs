//! Delivers back-channel logout notices (OpenID Connect Back-Channel Logout 1.0 §2.5): the job
//! handler that signs each notice's logout token when it is sent and posts it to the client.
//! A user's logout never waits for an app; delivery is at least once, each attempt with a fresh
//! token, and a slow app holds up no other (a round's deliveries go at once).

use std::sync::Arc;
use std::time::Duration;

use crate::jobs::{Handler, Outcome};
use crate::oidc::{BACKCHANNEL_LOGOUT, LogoutNotice, Provider};
use crate::store::LeasedJob;

/// How long an app has to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

pub struct Backchannel {
    provider: Arc<Provider>,
    http: reqwest::Client,
}

impl Backchannel {
    /// The handler, with an HTTP client that gives up after [`TIMEOUT`] and follows no redirect
    /// (an app's logout endpoint must not send dingo elsewhere).
    pub fn new(provider: Arc<Provider>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { provider, http })
    }
}

impl Handler for Backchannel {
    fn kind(&self) -> &'static str {
        BACKCHANNEL_LOGOUT
    }

    async fn run(&self, job: LeasedJob) -> Outcome {
        let notice: LogoutNotice = match serde_json::from_str(&job.payload) {
            Ok(notice) => notice,
            Err(e) => return Outcome::GiveUp(format!("unreadable notice: {e}")),
        };
        let delivery = match self.provider.logout_delivery(&notice).await {
            Ok(Some(delivery)) => delivery,
            Ok(None) => {
                tracing::info!(client = %notice.client_id, "a logout notice's client is gone or no longer wants it");
                return Outcome::Done;
            }
            Err(e) => return Outcome::Retry(format!("cannot sign the logout token: {e}")),
        };
        // §2.5: a form POST of `logout_token`; 200 (or any 2xx) means received.
        let sent = self
            .http
            .post(&delivery.uri)
            .form(&[("logout_token", delivery.logout_token.as_str())])
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                if let Some(origin) = &notice.origin {
                    let took = self.provider.clock().now_ms().saturating_sub(origin.received_at_ms);
                    let took = std::time::Duration::from_millis(u64::try_from(took).unwrap_or(0));
                    self.provider.metrics().observe_event_to_logout(&origin.via, took);
                }
                Outcome::Done
            }
            Ok(response) => Outcome::Retry(format!(
                "{} answered HTTP {}",
                notice.client_id,
                response.status().as_u16()
            )),
            Err(e) => Outcome::Retry(format!("{}: {}", notice.client_id, e.without_url())),
        }
    }
}
