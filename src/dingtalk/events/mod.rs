//! DingTalk's organisation-change events on the wire (DINGTALK-EVENTS.md): the crypto of HTTP
//! push, the payloads as they arrive, and the Stream-mode client. Nothing here touches the store:
//! what an event does is `crate::membership`'s job.

mod crypto;
mod payload;
mod stream;

pub use crypto::{CallbackCrypto, CryptoError, Opened};
pub use payload::{CHECK_URL, OrgEvent, PayloadError};
pub use stream::{EventSink, OPEN_CONNECTION, StreamClient, StreamTiming};
