//! DingTalk's HTTP event push (DINGTALK-EVENTS.md §2): a signed, encrypted event is verified,
//! opened, recorded in the inbox and only then answered with the encrypted `success`, well
//! inside DingTalk's deadline — acting on it is the job's. A push that cannot be read changes
//! nothing, and neither its plaintext nor the subscription's secrets reach a log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{EventSettings, OwnerKey};
use crate::dingtalk::events::{CHECK_URL, CallbackCrypto, CryptoError, OrgEvent};
use crate::oidc::{Audit, Provider};

use super::inbox::{Inbox, Via};

/// The query parameters and body of a push; DingTalk has used both spellings of each name.
#[derive(Debug, Default)]
pub struct Push<'a> {
    pub signature: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub encrypt: Option<&'a str>,
}

/// Why a push was refused: the request's fault (4xx), or dingo's (the store is down: DingTalk
/// should push again later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("missing {0}")]
    Incomplete(&'static str),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the decrypted message is not an event")]
    NotAnEvent,
    #[error("the event cannot be recorded now")]
    Unavailable,
}

impl Refused {
    /// The `reason` label of the refused-push metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Incomplete(_) => "request",
            Self::Crypto(CryptoError::BadSignature) => "signature",
            Self::Crypto(CryptoError::WrongOwner) => "owner",
            Self::Crypto(_) => "ciphertext",
            Self::NotAnEvent => "payload",
            Self::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug)]
pub struct HttpPush {
    crypto: CallbackCrypto,
    /// The configured owner key first, then the other.
    owners: [(OwnerKey, String); 2],
    inbox: Inbox,
    provider: Arc<Provider>,
    /// Whether the operator has been told that pushes come for the other owner key.
    warned_owner: AtomicBool,
}

impl HttpPush {
    /// The receiver of `settings` (mode `http`) for the app `app_key` of organisation `corp_id`.
    pub fn new(
        settings: &EventSettings,
        app_key: &str,
        corp_id: &str,
        inbox: Inbox,
        provider: Arc<Provider>,
    ) -> Result<Self, CryptoError> {
        let crypto = CallbackCrypto::new(settings.token.expose(), settings.aes_key.expose())?;
        let appkey = (OwnerKey::Appkey, app_key.to_owned());
        let corpid = (OwnerKey::Corpid, corp_id.to_owned());
        let owners = match settings.owner_key {
            OwnerKey::Appkey => [appkey, corpid],
            OwnerKey::Corpid => [corpid, appkey],
        };
        Ok(Self {
            crypto,
            owners,
            inbox,
            provider,
            warned_owner: AtomicBool::new(false),
        })
    }

    /// Reads, checks and records a push; the answer is the JSON DingTalk expects back.
    pub async fn receive(&self, push: &Push<'_>) -> Result<serde_json::Value, Refused> {
        let outcome = self.open(push).await;
        if let Err(refused) = &outcome {
            self.provider
                .metrics()
                .record_org_event_refused("http", refused.reason());
            if *refused != Refused::Unavailable {
                tracing::warn!(reason = %refused, "an event push was refused");
                let detail = refused.to_string();
                self.provider
                    .audit(Audit {
                        kind: "org_event",
                        outcome: "refused",
                        detail: Some(&detail),
                        actor: Some("dingtalk"),
                        ..Default::default()
                    })
                    .await;
            }
        }
        outcome
    }

    async fn open(&self, push: &Push<'_>) -> Result<serde_json::Value, Refused> {
        let signature = push.signature.ok_or(Refused::Incomplete("signature"))?;
        let timestamp = push.timestamp.ok_or(Refused::Incomplete("timestamp"))?;
        let nonce = push.nonce.ok_or(Refused::Incomplete("nonce"))?;
        let encrypt = push.encrypt.ok_or(Refused::Incomplete("encrypt"))?;
        let names = [self.owners[0].1.as_str(), self.owners[1].1.as_str()];
        let (message, owner) = self.crypto.open_for(&names, signature, timestamp, nonce, encrypt)?;
        if owner == names[1] && !self.warned_owner.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                configured = ?self.owners[0].0,
                matched = ?self.owners[1].0,
                "event pushes are encrypted for the other owner key: set events.owner_key to it"
            );
        }
        let event = OrgEvent::from_http(&message).map_err(|_| Refused::NotAnEvent)?;
        if event.event_type != CHECK_URL {
            self.inbox.receive(&event, Via::Http, &message).await.map_err(|e| {
                tracing::error!(cause = %e, "cannot record an organisation event; DingTalk will push it again");
                Refused::Unavailable
            })?;
        }
        Ok(self.crypto.success_reply(owner, timestamp, nonce))
    }
}
