//! Stream mode (长连接, DINGTALK-EVENTS.md §1): dingo opens a connection to DingTalk's gateway
//! with the app's credentials and events arrive as WebSocket frames, each acknowledged once the
//! [`EventSink`] has recorded it. One supervisor per instance keeps one connection live: a fresh
//! ticket for every connection, jittered backoff up to 60 s after a failure, a replacement
//! opened before the old connection is let go (DingTalk's `disconnect`, the TTL, a connection
//! that has gone silent), a WebSocket ping when idle.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::{OrgEvent, PayloadError};
use crate::dingtalk::envelope::{self, Failure};
use crate::dingtalk::{CallError, DingTalk};
use crate::telemetry::Metrics;

/// The gateway's open-connection API, on DingTalk's api host.
pub const OPEN_CONNECTION: &str = "/v1.0/gateway/connections/open";
/// The largest frame accepted (the Java SDK's cap is 256 KiB).
const MAX_FRAME: usize = 1 << 20;
/// The open-connection call's time limit (the Go SDK's).
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Events being recorded at once on one connection; the next frames wait.
const IN_FLIGHT: usize = 64;

/// Where the events of a connection are recorded.
pub trait EventSink: Send + Sync + 'static {
    /// Records `event`, read from the frame's `data`, durably (once across every instance);
    /// `Ok` when DingTalk may be told it arrived, `Err` (why) to have it delivered again.
    fn accept(&self, event: OrgEvent, data: String) -> impl Future<Output = Result<(), String>> + Send;

    /// An EVENT frame that is no event: acknowledged (a redelivery would read the same), counted.
    fn unreadable(&self, why: &PayloadError);
}

/// The client's clocks (`[events] stream_*`).
#[derive(Debug, Clone)]
pub struct StreamTiming {
    /// Idle time after which the connection is pinged.
    pub ping_after: Duration,
    pub pong_timeout: Duration,
    /// Time without a message from DingTalk after which the connection is replaced.
    pub silence: Duration,
    /// Age at which a connection is replaced anyway.
    pub ttl: Duration,
    /// How long a replaced connection keeps being read (DingTalk closes it after 10 s).
    pub drain: Duration,
    /// The first wait after a failure; it doubles up to `max_backoff`, plus jitter up to itself.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for StreamTiming {
    fn default() -> Self {
        Self {
            ping_after: Duration::from_secs(60),
            pong_timeout: Duration::from_secs(10),
            silence: Duration::from_secs(600),
            ttl: Duration::from_secs(6 * 3600),
            drain: Duration::from_secs(15),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// A connection's ticket (valid 90 s, for one connection).
#[derive(Debug, Deserialize)]
struct Ticket {
    endpoint: String,
    ticket: String,
}

/// Why a connection ended, or why none could be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Replace it now; it drains meanwhile (make-before-break).
    Replace(&'static str),
    /// It is gone. `delivered`: it had carried frames (the backoff starts over).
    Lost { reason: &'static str, delivered: bool },
}

/// The Stream-mode client of one instance.
pub struct StreamClient<S> {
    dingtalk: Arc<DingTalk>,
    sink: Arc<S>,
    timing: StreamTiming,
    tls: Arc<rustls::ClientConfig>,
    metrics: Arc<Metrics>,
}

impl<S: EventSink> StreamClient<S> {
    pub fn new(dingtalk: Arc<DingTalk>, sink: S, timing: StreamTiming, metrics: Arc<Metrics>) -> Result<Self, String> {
        Ok(Self {
            dingtalk,
            sink: Arc::new(sink),
            timing,
            tls: tls_config().map_err(|e| format!("TLS for the Stream gateway: {e}"))?,
            metrics,
        })
    }

    /// Keeps a connection until `stop`; connections being replaced drain meanwhile.
    pub async fn run(self, stop: CancellationToken) {
        let client = Arc::new(self);
        let mut connections = JoinSet::new();
        let mut failures = 0u32;
        loop {
            let end = tokio::select! {
                _ = stop.cancelled() => break,
                end = client.connect_and_serve(&mut connections, &stop) => end,
            };
            let (reason, wait) = match end {
                End::Replace(reason) => (reason, Duration::ZERO),
                End::Lost { reason, delivered } => {
                    if delivered {
                        failures = 0;
                    }
                    let wait = client.backoff(failures);
                    failures = failures.saturating_add(1);
                    (reason, wait)
                }
            };
            client.metrics.record_stream_reconnect(reason);
            if let End::Replace(_) = end {
                tracing::info!(reason, "DingTalk Stream: replacing the connection");
            } else {
                tracing::warn!(
                    reason,
                    retry_in_ms = wait.as_millis() as u64,
                    "DingTalk Stream: connection lost; opening another"
                );
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        // Each connection closes itself on `stop`.
        while connections.join_next().await.is_some() {}
    }

    /// Opens a connection, leaves it serving in `connections`, and returns when it should be
    /// replaced or is gone.
    async fn connect_and_serve(self: &Arc<Self>, connections: &mut JoinSet<()>, stop: &CancellationToken) -> End {
        let socket = match self.connect().await {
            Ok(socket) => socket,
            Err(end) => return end,
        };
        tracing::info!("DingTalk Stream: connected");
        let (ended, end) = oneshot::channel();
        connections.spawn(self.clone().serve(socket, ended, stop.clone()));
        // A connection task that vanished without a word was lost.
        end.await.unwrap_or(End::Lost {
            reason: "closed",
            delivered: false,
        })
    }

    /// A fresh ticket, then the WebSocket.
    async fn connect(&self) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, End> {
        let lost = |reason| End::Lost {
            reason,
            delivered: false,
        };
        let ticket = self.dingtalk.open_stream().await.map_err(|failure| {
            if failure.refused {
                tracing::error!(
                    cause = %failure.why,
                    "DingTalk Stream: DingTalk refused the app's credentials (check dingtalk.client_id and client_secret, and that the app's 事件订阅 uses Stream mode)"
                );
                lost("auth_failed")
            } else {
                tracing::warn!(cause = %failure.why, "DingTalk Stream: cannot open a connection");
                lost("open_failed")
            }
        })?;
        let url = socket_url(&ticket).map_err(|why| {
            tracing::warn!(cause = why, "DingTalk Stream: the gateway's endpoint is unusable");
            lost("open_failed")
        })?;
        let config = WebSocketConfig::default()
            .max_frame_size(Some(MAX_FRAME))
            .max_message_size(Some(MAX_FRAME));
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            url.as_str(),
            Some(config),
            true,
            Some(Connector::Rustls(self.tls.clone())),
        );
        match tokio::time::timeout(Duration::from_secs(10), connecting).await {
            Ok(Ok((socket, _))) => Ok(socket),
            // The error may quote the request, ticket included: only its kind is logged.
            Ok(Err(e)) => {
                tracing::warn!(cause = describe(&e), "DingTalk Stream: the WebSocket was refused");
                Err(lost("open_failed"))
            }
            Err(_) => {
                tracing::warn!("DingTalk Stream: the WebSocket handshake timed out");
                Err(lost("open_failed"))
            }
        }
    }

    /// Reads and answers one connection until it ends; `ended` is told once, when it should be
    /// replaced or is gone; a replaced connection is read until DingTalk closes it or the drain
    /// time is over.
    async fn serve(
        self: Arc<Self>,
        socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
        ended: oneshot::Sender<End>,
        stop: CancellationToken,
    ) {
        self.metrics.add_stream_connected(1);
        let (mut write, mut read) = socket.split();
        let (acks, mut outgoing) = mpsc::unbounded_channel::<String>();
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        let t = &self.timing;
        let opened = Instant::now();
        let (mut last_frame, mut last_message) = (opened, opened);
        let mut ping_sent: Option<Instant> = None;
        let mut ended = Some(ended);
        let mut draining_until: Option<Instant> = None;
        let mut delivered = false;
        let mut tell = |end: End, draining_until: &mut Option<Instant>| {
            if let Some(ended) = ended.take() {
                let _ = ended.send(end);
            }
            if matches!(end, End::Replace(_)) {
                *draining_until = Some(Instant::now() + t.drain);
            }
        };
        loop {
            let deadline = match (draining_until, ping_sent) {
                (Some(until), _) => until,
                (None, Some(sent)) => (sent + t.pong_timeout).min(last_message + t.silence),
                (None, None) => (last_frame + t.ping_after)
                    .min(last_message + t.silence)
                    .min(opened + t.ttl),
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(ack) = outgoing.recv() => {
                    if write.send(Message::text(ack)).await.is_err() {
                        tell(End::Lost { reason: "error", delivered }, &mut draining_until);
                        break;
                    }
                }
                frame = read.next() => {
                    let now = Instant::now();
                    last_frame = now;
                    ping_sent = None;
                    match frame {
                        Some(Ok(Message::Text(text))) => {
                            last_message = now;
                            delivered = true;
                            let sent = match self.frame(text.as_str(), &acks, &in_flight).await {
                                Some(Reply::Now(reply)) => write.send(Message::text(reply)).await.is_ok(),
                                Some(Reply::Disconnect) => {
                                    tell(End::Replace("disconnect"), &mut draining_until);
                                    true
                                }
                                None => true,
                            };
                            if !sent {
                                tell(End::Lost { reason: "error", delivered }, &mut draining_until);
                                break;
                            }
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            tell(End::Lost { reason: "closed", delivered }, &mut draining_until);
                            break;
                        }
                        Some(Err(e)) => {
                            tracing::debug!(cause = describe(&e), "DingTalk Stream: read failed");
                            tell(End::Lost { reason: "error", delivered }, &mut draining_until);
                            break;
                        }
                        // Pings are answered by the WebSocket layer itself.
                        Some(Ok(_)) => {}
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    if draining_until.is_some_and(|until| now >= until) {
                        break;
                    }
                    if draining_until.is_some() {
                        continue;
                    }
                    if ping_sent.is_some_and(|sent| now >= sent + t.pong_timeout) {
                        tell(End::Lost { reason: "pong_timeout", delivered }, &mut draining_until);
                        break;
                    }
                    if now >= last_message + t.silence {
                        tell(End::Replace("silent"), &mut draining_until);
                    } else if now >= opened + t.ttl {
                        tell(End::Replace("ttl"), &mut draining_until);
                    } else if ping_sent.is_none() && now >= last_frame + t.ping_after {
                        if write.send(Message::Ping(Vec::new().into())).await.is_err() {
                            tell(End::Lost { reason: "error", delivered }, &mut draining_until);
                            break;
                        }
                        ping_sent = Some(now);
                    }
                }
            }
        }
        // Acknowledgements still being recorded are sent if the socket is still there.
        let _ = write.send(Message::Close(None)).await;
        self.metrics.add_stream_connected(-1);
    }

    /// Handles one text frame: events go to the sink (their ACK follows through `acks`), SYSTEM
    /// frames are answered at once.
    async fn frame(
        &self,
        text: &str,
        acks: &mpsc::UnboundedSender<String>,
        in_flight: &Arc<Semaphore>,
    ) -> Option<Reply> {
        let Ok(frame) = serde_json::from_str::<Frame>(text) else {
            tracing::warn!("DingTalk Stream: a frame that is not JSON; ignored");
            return None;
        };
        let message_id = frame.header("messageId").unwrap_or_default();
        let data = frame.data();
        match frame.kind.as_str() {
            "EVENT" => {
                let event = match OrgEvent::from_stream(|name| frame.header(name), &data) {
                    Ok(event) => event,
                    Err(why) => {
                        self.sink.unreadable(&why);
                        return Some(Reply::Now(event_ack(&message_id, true)));
                    }
                };
                // Waiting for a free slot holds up reading: DingTalk redelivers what waits too long.
                let permit = in_flight.clone().acquire_owned().await.ok()?;
                let (sink, acks) = (self.sink.clone(), acks.clone());
                tokio::spawn(async move {
                    let recorded = match sink.accept(event, data).await {
                        Ok(()) => true,
                        Err(why) => {
                            tracing::warn!(
                                cause = why,
                                "DingTalk Stream: an event could not be recorded; DingTalk will deliver it again"
                            );
                            false
                        }
                    };
                    let _ = acks.send(event_ack(&message_id, recorded));
                    drop(permit);
                });
                None
            }
            "SYSTEM" => match frame.header("topic").as_deref() {
                Some("disconnect") => Some(Reply::Disconnect),
                // `ping` is answered with its own data (the opaque); any other topic with 200.
                Some("ping") => Some(Reply::Now(reply(&message_id, 200, "OK", &data))),
                _ => Some(Reply::Now(reply(&message_id, 200, "OK", "{}"))),
            },
            _ => Some(Reply::Now(reply(&message_id, 404, "topic not supported", "{}"))),
        }
    }

    /// The wait after `failures` consecutive failures: 1 s × 2ⁿ, at most 60 s, plus up to 1 s
    /// (the first wait) of jitter, so that instances do not come back together.
    fn backoff(&self, failures: u32) -> Duration {
        let t = &self.timing;
        let base = t.backoff.saturating_mul(1u32 << failures.min(16)).min(t.max_backoff);
        base + t.backoff.mul_f64(crate::dingtalk::retry::jitter())
    }
}

enum Reply {
    Now(String),
    Disconnect,
}

/// A downstream frame (§1.4): string headers, `data` a JSON document in a string.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    data: Value,
}

impl Frame {
    /// A header, as a string even when sent as a number.
    fn header(&self, name: &str) -> Option<String> {
        match self.headers.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn data(&self) -> String {
        match &self.data {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// An upstream frame (§1.5).
fn reply(message_id: &str, code: u16, message: &str, data: &str) -> String {
    json!({
        "code": code,
        "headers": {"contentType": "application/json", "messageId": message_id},
        "message": message,
        "data": data,
    })
    .to_string()
}

/// The ACK of an EVENT frame: consumed, or please deliver it again.
fn event_ack(message_id: &str, recorded: bool) -> String {
    if recorded {
        reply(message_id, 200, "OK", r#"{"status":"SUCCESS","message":"success"}"#)
    } else {
        reply(
            message_id,
            500,
            "internal error",
            r#"{"status":"LATER","message":"later"}"#,
        )
    }
}

/// `endpoint?ticket=…`, keeping the endpoint's host and path.
fn socket_url(ticket: &Ticket) -> Result<url::Url, &'static str> {
    let mut url = url::Url::parse(&ticket.endpoint).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "ws" | "wss") {
        return Err("not a ws:// or wss:// URL");
    }
    url.query_pairs_mut().append_pair("ticket", &ticket.ticket);
    Ok(url)
}

/// rustls with aws-lc-rs (the provider every other part of dingo uses) and the webpki roots.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A WebSocket error's kind, without what it may quote.
fn describe(e: &tokio_tungstenite::tungstenite::Error) -> &'static str {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::ConnectionClosed | Error::AlreadyClosed => "closed",
        Error::Io(_) => "i/o error",
        Error::Tls(_) => "TLS error",
        Error::Capacity(_) => "frame too large",
        Error::Protocol(_) => "protocol error",
        Error::Http(response) if response.status().as_u16() == 401 => "ticket refused (HTTP 401)",
        Error::Http(_) => "HTTP error at the handshake",
        Error::Url(_) => "bad URL",
        _ => "WebSocket error",
    }
}

/// Why a ticket could not be had.
#[derive(Debug)]
pub struct OpenFailure {
    /// DingTalk refused the credentials (401 `authFailed`).
    pub refused: bool,
    pub why: String,
}

impl DingTalk {
    /// A ticket for one Stream connection (§1.2), subscribed to every event ticked in the
    /// console. One exchange, outside the rate limiter, retries and circuit breaker of the
    /// directory calls: the Stream client has its own backoff, and its failures must not hold up
    /// logins.
    async fn open_stream(&self) -> Result<Ticket, OpenFailure> {
        const API: &str = "gateway/connections/open";
        let body = json!({
            "clientId": self.client_id,
            "clientSecret": self.client_secret.expose(),
            "subscriptions": [{"type": "EVENT", "topic": "*"}],
            "ua": concat!("dingo/", env!("CARGO_PKG_VERSION")),
            "localIp": "",
        });
        let request = self
            .http
            .post(format!("{}{OPEN_CONNECTION}", self.api_base))
            // Without it the gateway answers in XML.
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(OPEN_TIMEOUT)
            .json(&body);
        let result = self.exchange_once(API, request, &envelope::parse_api::<Ticket>).await;
        let ticket = result.map_err(|e| OpenFailure {
            refused: matches!(&e, CallError::Failed(Failure::Api { status: 401, .. })),
            why: e.into_error(API).to_string(),
        })?;
        if ticket.endpoint.is_empty() || ticket.ticket.is_empty() {
            return Err(OpenFailure {
                refused: false,
                why: format!("{API}: no endpoint or ticket"),
            });
        }
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_url_keeps_the_endpoint_and_adds_the_ticket() {
        let ticket = Ticket {
            endpoint: "wss://wss-open-connection.dingtalk.com:443/connect".into(),
            ticket: "a b+c".into(),
        };
        assert_eq!(
            socket_url(&ticket).unwrap().as_str(),
            "wss://wss-open-connection.dingtalk.com/connect?ticket=a+b%2Bc"
        );
        let http = Ticket {
            endpoint: "https://example.com/connect".into(),
            ticket: "t".into(),
        };
        assert!(socket_url(&http).is_err());
    }

    #[test]
    fn acks_follow_the_protocol() {
        let ack: Value = serde_json::from_str(&event_ack("m-1", true)).unwrap();
        assert_eq!(ack["code"], 200);
        assert_eq!(ack["headers"]["messageId"], "m-1");
        assert_eq!(ack["headers"]["contentType"], "application/json");
        let data: Value = serde_json::from_str(ack["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["status"], "SUCCESS");
        let later: Value = serde_json::from_str(&event_ack("m-2", false)).unwrap();
        assert_eq!(later["code"], 500);
        let data: Value = serde_json::from_str(later["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["status"], "LATER");
    }

    #[test]
    fn headers_are_read_as_strings() {
        let frame: Frame = serde_json::from_str(
            r#"{"specVersion":"1.0","type":"EVENT","headers":{"messageId":"m","eventBornTime":1683533823336},"data":"{}"}"#,
        )
        .unwrap();
        assert_eq!(frame.header("eventBornTime").as_deref(), Some("1683533823336"));
        assert_eq!(frame.header("messageId").as_deref(), Some("m"));
        assert_eq!(frame.data(), "{}");
    }

    #[test]
    fn tls_is_built_on_aws_lc_rs_without_a_process_default() {
        assert!(tls_config().is_ok());
    }
}
