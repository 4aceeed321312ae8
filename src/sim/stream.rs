//! The simulator's Stream gateway (DINGTALK-EVENTS.md §1, §8.1–8.4): `POST
//! /v1.0/gateway/connections/open` hands out tickets (90 s, one connection each), `GET /connect`
//! upgrades to a WebSocket, and events go as EVENT frames to one connection chosen at random,
//! delivered again with the same eventId when no good ACK comes within the deadline. SYSTEM
//! pings, `disconnect`, dropped sockets, duplicates, reordering and silent connections are
//! controls; what is unknown of DingTalk is a setting.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::envelope::{api_error, api_missing};
use super::events::{DeliveryState, SimEvent};
use super::{Simulator, random};
use crate::dingtalk::events::OPEN_CONNECTION;

/// How the gateway behaves; the defaults are DingTalk's where known.
#[derive(Debug, Clone)]
pub struct StreamSubscription {
    /// How long a ticket may wait before its connection (90 s).
    pub ticket_ttl: Duration,
    /// How long the gateway waits for an event's ACK (3 s).
    pub ack_timeout: Duration,
    /// The waits before each delivery again (unknown for Stream: 10 s and 30 s, as HTTP).
    pub retry_after: Vec<Duration>,
    /// A SYSTEM `ping` on every connection this often (unknown; `None`: never).
    pub ping_every: Option<Duration>,
    /// How long after a `disconnect` the connection is closed (10 s).
    pub drain: Duration,
    /// A redelivery keeps the first attempt's messageId (unknown; a new one by default).
    pub same_message_id: bool,
    /// Each event is delivered once more after its good ACK (DingTalk warns of this).
    pub duplicate: bool,
    /// Each delivery is held a random time below this, so events overtake each other.
    pub reorder: Option<Duration>,
}

impl Default for StreamSubscription {
    fn default() -> Self {
        Self {
            ticket_ttl: Duration::from_secs(90),
            ack_timeout: Duration::from_secs(3),
            retry_after: vec![Duration::from_secs(10), Duration::from_secs(30)],
            ping_every: Some(Duration::from_secs(30)),
            drain: Duration::from_secs(10),
            same_message_id: false,
            duplicate: false,
            reorder: None,
        }
    }
}

/// What the gateway holds: tickets, live connections, ACKs awaited.
#[derive(Default)]
pub(super) struct Gateway {
    pub(super) subscription: Option<StreamSubscription>,
    /// Ticket → when it expires (ms).
    tickets: HashMap<String, i64>,
    connections: Vec<Connection>,
    next_id: u64,
    opened: u64,
    /// messageId → who waits for its ACK (true: a good one).
    awaited: HashMap<String, oneshot::Sender<bool>>,
    /// SYSTEM pings sent, and those answered with their opaque.
    pings: HashMap<String, String>,
    pings_answered: u64,
}

struct Connection {
    id: u64,
    out: mpsc::UnboundedSender<Out>,
    /// Delivers nothing (frames sent to it vanish) but still answers WebSocket pings.
    silent: Arc<AtomicBool>,
    /// Told to `disconnect`: nothing more is delivered to it.
    leaving: bool,
}

enum Out {
    Text(String),
    /// A close frame, then the end.
    Close,
    /// The TCP connection just goes, without a close frame.
    Drop,
}

/// What the gateway has seen, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewayStats {
    /// Connections open now.
    pub connected: usize,
    /// Connections ever opened.
    pub opened: u64,
    /// SYSTEM pings answered with their own opaque.
    pub pings_answered: u64,
}

impl Simulator {
    /// DingTalk delivers this app's events by Stream from now on (`None`: not by Stream).
    pub fn subscribe_stream(&self, subscription: Option<StreamSubscription>) {
        self.events().gateway.subscription = subscription;
    }

    pub fn gateway_stats(&self) -> GatewayStats {
        let events = self.events();
        let g = &events.gateway;
        GatewayStats {
            connected: g.connections.len(),
            opened: g.opened,
            pings_answered: g.pings_answered,
        }
    }

    /// Every connection open now gets a SYSTEM `disconnect` with `reason`, receives nothing
    /// more, and is closed after the drain time (§1.6).
    pub fn stream_disconnect(&self, reason: &str) {
        let now_ms = self.now_ms();
        let mut events = self.events();
        let drain = events
            .gateway
            .subscription
            .as_ref()
            .map(|s| s.drain)
            .unwrap_or_default();
        for c in events.gateway.connections.iter_mut().filter(|c| !c.leaving) {
            c.leaving = true;
            let (_, frame) = system_frame("disconnect", &json!({ "reason": reason }), now_ms);
            let _ = c.out.send(Out::Text(frame));
            let out = c.out.clone();
            tokio::spawn(async move {
                tokio::time::sleep(drain).await;
                let _ = out.send(Out::Close);
            });
        }
    }

    /// Every connection open now is cut without a word, as a network failure would.
    pub fn stream_drop(&self) {
        for c in &self.events().gateway.connections {
            let _ = c.out.send(Out::Drop);
        }
    }

    /// Every connection open now goes silent: it stays up and answers WebSocket pings, but
    /// what is sent to it never arrives. Later connections are sound.
    pub fn stream_silence(&self) {
        for c in &self.events().gateway.connections {
            c.silent.store(true, Ordering::Relaxed);
        }
    }

    /// Delivers `event` as an EVENT frame until it is acknowledged or every attempt failed.
    pub(super) fn deliver_by_stream(&self, event: &SimEvent, event_id: &str, subscription: StreamSubscription) {
        let born = self.now_ms();
        let data = self.stream_data(event, event_id, born).to_string();
        let headers = json!({
            "topic": "*",
            "contentType": "application/json",
            "eventId": event_id,
            "eventBornTime": born.to_string(),
            "eventCorpId": self.directory().corp_id(),
            "eventType": event.event_type,
            "eventUnifiedAppId": random::request_uuid().to_lowercase(),
        });
        let sim = self.clone();
        let id = event_id.to_owned();
        tokio::spawn(async move { sim.deliver_until_acknowledged(&id, headers, &data, &subscription).await });
    }

    async fn deliver_until_acknowledged(&self, event_id: &str, headers: Value, data: &str, s: &StreamSubscription) {
        let first_message_id = message_id();
        let waits = std::iter::once(Duration::ZERO).chain(s.retry_after.iter().copied());
        for (attempt, wait) in waits.enumerate() {
            tokio::time::sleep(wait).await;
            let id = if attempt == 0 || s.same_message_id {
                first_message_id.clone()
            } else {
                message_id()
            };
            let acknowledged = self.deliver_once(&id, &headers, data, s).await;
            self.record(event_id, true, acknowledged.then_some(DeliveryState::Acknowledged));
            if acknowledged {
                if s.duplicate {
                    // A copy after the good ACK, as network jitter makes; its ACK is not awaited.
                    let _ = self.deliver_once(&message_id(), &headers, data, s).await;
                }
                return;
            }
            tracing::debug!(event_id, attempt, "simulator: stream event not acknowledged");
        }
        self.record(event_id, false, Some(DeliveryState::Failed));
    }

    /// One delivery to a connection picked at random; whether a good ACK came in time. With no
    /// connection, the attempt fails.
    async fn deliver_once(&self, message_id: &str, headers: &Value, data: &str, s: &StreamSubscription) -> bool {
        if let Some(most) = s.reorder {
            tokio::time::sleep(most.mul_f64(random::unit())).await;
        }
        let mut headers = headers.clone();
        headers["messageId"] = json!(message_id);
        headers["time"] = json!(self.now_ms().to_string());
        let frame = json!({"specVersion": "1.0", "type": "EVENT", "headers": headers, "data": data}).to_string();
        let (acked, ack) = oneshot::channel();
        {
            let mut events = self.events();
            let g = &mut events.gateway;
            let live: Vec<&Connection> = g.connections.iter().filter(|c| !c.leaving).collect();
            if live.is_empty() {
                return false;
            }
            let pick = ((random::unit() * live.len() as f64) as usize).min(live.len() - 1);
            if live[pick].out.send(Out::Text(frame)).is_err() {
                return false;
            }
            g.awaited.insert(message_id.to_owned(), acked);
        }
        let good = matches!(tokio::time::timeout(s.ack_timeout, ack).await, Ok(Ok(true)));
        self.events().gateway.awaited.remove(message_id);
        good
    }

    /// The `data` of an EVENT frame (§3.2): camelCase, `timeStamp` a string, `diffInfo` an array.
    fn stream_data(&self, event: &SimEvent, event_id: &str, born: i64) -> Value {
        let mut data = serde_json::Map::new();
        data.insert("timeStamp".into(), json!(born.to_string()));
        data.insert("eventId".into(), json!(event_id));
        if !event.userids.is_empty() {
            let key = if event.event_type == "label_user_change" {
                "userIdList"
            } else {
                "userId"
            };
            data.insert(key.into(), json!(event.userids));
        }
        if event.event_type == "user_modify_org" {
            let diffs: Vec<Value> = event
                .userids
                .iter()
                .map(|u| json!({"prev": {}, "curr": {}, "userid": u}))
                .collect();
            data.insert("diffInfo".into(), Value::Array(diffs));
        }
        if !event.dept_ids.is_empty() {
            data.insert("deptId".into(), json!(event.dept_ids));
        }
        if let Some(operator) = &event.operator {
            data.insert("optStaffId".into(), json!(operator));
        }
        Value::Object(data)
    }

    /// Remembers a ping sent, to check its answer; pings never answered are forgotten
    /// eventually.
    fn await_ping(&self, message_id: String, opaque: String) {
        let pings = &mut self.events().gateway.pings;
        if pings.len() >= 10_000 {
            pings.clear();
        }
        pings.insert(message_id, opaque);
    }

    /// An upstream frame: the ACK of an event, or the answer to a ping.
    fn upstream(&self, text: &str) {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let Some(message_id) = frame["headers"]["messageId"].as_str() else {
            return;
        };
        let mut events = self.events();
        let g = &mut events.gateway;
        if let Some(opaque) = g.pings.remove(message_id) {
            let echoed = frame["data"]
                .as_str()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .is_some_and(|d| d["opaque"].as_str() == Some(opaque.as_str()));
            g.pings_answered += u64::from(echoed);
        } else if let Some(waiter) = g.awaited.remove(message_id) {
            let _ = waiter.send(is_good_ack(&frame));
        }
    }
}

/// §1.5's rule: code 200, and `data` with no `status` or `SUCCESS` (Python's SDK echoes the
/// event's own data back).
fn is_good_ack(frame: &Value) -> bool {
    if frame["code"].as_i64() != Some(200) {
        return false;
    }
    match frame["data"].as_str().map(serde_json::from_str::<Value>) {
        Some(Ok(data)) => data.get("status").is_none_or(|s| s == "SUCCESS"),
        Some(Err(_)) => false,
        None => frame.get("data").is_none_or(Value::is_null),
    }
}

fn message_id() -> String {
    random::token().unwrap_or_default()
}

/// A SYSTEM frame (§1.6) sent at `now_ms`: its messageId and its text.
fn system_frame(topic: &str, data: &Value, now_ms: i64) -> (String, String) {
    let message_id = message_id();
    let frame = json!({
        "specVersion": "1.0",
        "type": "SYSTEM",
        "headers": {
            "contentType": "application/json",
            "messageId": message_id,
            "time": now_ms.to_string(),
            "topic": topic,
        },
        "data": data.to_string(),
    });
    (message_id, frame.to_string())
}

/// `POST /v1.0/gateway/connections/open` (§1.2): a ticket for the app's credentials.
pub(super) fn open_connection(sim: &Simulator, req: &HttpRequest, body: &Value) -> HttpResponse {
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    if text("clientId").is_empty() {
        return api_missing("clientId");
    }
    if sim
        .directory()
        .authenticate_app(text("clientId"), text("clientSecret"))
        .is_none()
    {
        return api_error(StatusCode::UNAUTHORIZED, "authFailed", "鉴权失败");
    }
    let subscribed = body["subscriptions"]
        .as_array()
        .is_some_and(|subs| subs.iter().any(|s| s["type"] == "EVENT" && s["topic"] == "*"));
    if !subscribed {
        return api_error(StatusCode::BAD_REQUEST, "invalidParameter", "subscriptions invalid");
    }
    let ticket = uuid::Uuid::new_v4().to_string();
    let ttl = {
        let events = sim.events();
        events
            .gateway
            .subscription
            .as_ref()
            .map(|s| s.ticket_ttl)
            .unwrap_or(Duration::from_secs(90))
    };
    let expires = sim.now_ms() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    sim.events().gateway.tickets.insert(ticket.clone(), expires);
    let info = req.connection_info();
    let scheme = if info.scheme() == "https" { "wss" } else { "ws" };
    // Mounted under a prefix (`dingo demo`), the socket is under it too.
    let prefix = req.path().strip_suffix(OPEN_CONNECTION).unwrap_or_default();
    let endpoint = format!("{scheme}://{}{prefix}/connect", info.host());
    let accepts_json = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if !accepts_json {
        // What the gateway does without `Accept: application/json` (§1.2).
        return HttpResponse::Ok().content_type("application/xml").body(format!(
            "<OpenConnectionResponse><endpoint>{endpoint}</endpoint><ticket>{ticket}</ticket></OpenConnectionResponse>"
        ));
    }
    HttpResponse::Ok().json(json!({ "endpoint": endpoint, "ticket": ticket }))
}

/// `GET /connect?ticket=…`: the WebSocket, for a ticket not used or expired.
pub(super) async fn connect(sim: Simulator, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let ticket = super::query_pairs(&req).remove("ticket").unwrap_or_default();
    let now = sim.now_ms();
    let valid = sim
        .events()
        .gateway
        .tickets
        .remove(&ticket)
        .is_some_and(|expires| now < expires);
    if !valid {
        return api_error(StatusCode::UNAUTHORIZED, "invalidTicket", "ticket无效或已过期");
    }
    let (response, session, messages) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(e) => return e.error_response(),
    };
    let (out, outgoing) = mpsc::unbounded_channel();
    let silent = Arc::new(AtomicBool::new(false));
    let (id, ping_every) = {
        let mut events = sim.events();
        let g = &mut events.gateway;
        g.next_id += 1;
        g.opened += 1;
        let id = g.next_id;
        g.connections.push(Connection {
            id,
            out,
            silent: silent.clone(),
            leaving: false,
        });
        (id, g.subscription.as_ref().and_then(|s| s.ping_every))
    };
    actix_web::rt::spawn(serve(sim, id, session, messages, outgoing, silent, ping_every));
    response
}

/// One connection: frames out, ACKs in, SYSTEM pings.
async fn serve(
    sim: Simulator,
    id: u64,
    mut session: actix_ws::Session,
    mut messages: actix_ws::MessageStream,
    mut outgoing: mpsc::UnboundedReceiver<Out>,
    silent: Arc<AtomicBool>,
    ping_every: Option<Duration>,
) {
    let mut ping = tokio::time::interval(ping_every.unwrap_or(Duration::from_secs(86_400)));
    ping.tick().await;
    let close = loop {
        tokio::select! {
            out = outgoing.recv() => match out {
                Some(Out::Text(text)) => {
                    if !silent.load(Ordering::Relaxed) && session.text(text).await.is_err() {
                        break false;
                    }
                }
                Some(Out::Close) | None => break true,
                Some(Out::Drop) => break false,
            },
            message = messages.recv() => match message {
                Some(Ok(actix_ws::Message::Text(text))) => sim.upstream(&text),
                Some(Ok(actix_ws::Message::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        break false;
                    }
                }
                Some(Ok(actix_ws::Message::Close(_))) => break true,
                Some(Err(_)) | None => break false,
                Some(Ok(_)) => {}
            },
            _ = ping.tick(), if ping_every.is_some() && !silent.load(Ordering::Relaxed) => {
                let opaque = random::request_id();
                let (message_id, frame) = system_frame("ping", &json!({ "opaque": opaque }), sim.now_ms());
                sim.await_ping(message_id, opaque);
                if session.text(frame).await.is_err() {
                    break false;
                }
            }
        }
    };
    sim.events().gateway.connections.retain(|c| c.id != id);
    if close {
        let _ = session.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_judged_as_dingtalk_does() {
        let ack = |v: Value| is_good_ack(&v);
        assert!(ack(
            json!({"code": 200, "data": "{\"status\":\"SUCCESS\",\"message\":\"success\"}"})
        ));
        assert!(ack(
            json!({"code": 200, "data": "{\"status\":\"SUCCESS\",\"message\":null}"})
        ));
        // Python's SDK echoes the event's data.
        assert!(ack(json!({"code": 200, "data": "{\"userId\":[\"u\"]}"})));
        assert!(!ack(
            json!({"code": 200, "data": "{\"status\":\"LATER\",\"message\":\"\"}"})
        ));
        assert!(!ack(json!({"code": 500, "data": "{\"status\":\"LATER\"}"})));
        assert!(!ack(json!({"code": 200, "data": "not json"})));
        assert!(!ack(json!({"data": "{}"})));
    }
}
