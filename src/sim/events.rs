//! The simulator's organisation-change events (DINGTALK-EVENTS.md §2, §3, §8): a directory
//! change makes an event, delivered to the app's subscription as DingTalk does — an HTTP push,
//! signed and encrypted with the same crypto dingo reads it with, answered within the reply
//! timeout or pushed again after 10 s and 30 s. What is unknown of DingTalk is a setting.

use std::sync::PoisonError;
use std::time::Duration;

use serde_json::{Value, json};

use super::Simulator;
use crate::dingtalk::events::CallbackCrypto;

/// What a push is encrypted for (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OwnerMode {
    /// The app's Client ID: the developer console's HTTP push.
    #[default]
    AppKey,
    /// The corpId: a subscription made with `call_back/register_call_back`.
    CorpId,
}

/// The name of the signature query parameter (§2.2: the docs disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureParam {
    /// `signature`, as in the documented URLs.
    #[default]
    Signature,
    /// `msg_signature`, as the code samples read.
    MsgSignature,
}

/// The plaintext's style (§3.3): the PascalCase of every real capture, or the newer pages'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadStyle {
    #[default]
    Legacy,
    /// `EventType`, `EventTime`, `CorpId`, `BizId`, `eventId`, then camelCase fields.
    New,
}

/// An app's HTTP push subscription, as saved in the developer console.
#[derive(Debug, Clone)]
pub struct HttpSubscription {
    pub url: String,
    pub token: String,
    pub aes_key: String,
    pub owner: OwnerMode,
    pub signature_param: SignatureParam,
    pub payload_style: PayloadStyle,
    /// How long DingTalk waits for the reply (1200, 1500 or 2500 ms are all documented).
    pub reply_timeout: Duration,
    /// The waits before each push again (10 s, then 30 s more).
    pub retry_after: Vec<Duration>,
}

impl HttpSubscription {
    pub fn new(url: &str, token: &str, aes_key: &str) -> Self {
        Self {
            url: url.to_owned(),
            token: token.to_owned(),
            aes_key: aes_key.to_owned(),
            owner: OwnerMode::AppKey,
            signature_param: SignatureParam::Signature,
            payload_style: PayloadStyle::Legacy,
            reply_timeout: Duration::from_millis(1500),
            retry_after: vec![Duration::from_secs(10), Duration::from_secs(30)],
        }
    }
}

/// A change in the organisation, before it is put in DingTalk's words.
#[derive(Debug, Clone, Default)]
pub struct SimEvent {
    pub event_type: String,
    pub userids: Vec<String>,
    pub dept_ids: Vec<i64>,
    /// Who made the change (`optStaffId`).
    pub operator: Option<String>,
}

impl SimEvent {
    pub fn about(event_type: &str, userids: &[&str]) -> Self {
        Self {
            event_type: event_type.to_owned(),
            userids: userids.iter().map(|u| (*u).to_owned()).collect(),
            ..Default::default()
        }
    }
}

/// How the pushing of one event went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub attempts: u32,
    pub state: DeliveryState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    /// Answered with a correctly encrypted `success`.
    Acknowledged,
    /// Every attempt failed: the event would wait in DingTalk's failed list.
    Failed,
}

/// The subscription and what was delivered.
#[derive(Default)]
pub(super) struct Events {
    http: Option<HttpSubscription>,
    deliveries: Vec<Delivery>,
    /// The Stream gateway: its subscription, tickets and connections.
    pub(super) gateway: super::stream::Gateway,
}

/// The last answer of a push, for tests: the HTTP status and body.
pub type Answer = Result<(u16, String), String>;

impl Simulator {
    /// DingTalk pushes this app's events to `subscription` from now on (`None`: to nobody).
    pub fn subscribe_http(&self, subscription: Option<HttpSubscription>) {
        self.events().http = subscription;
    }

    /// What was pushed so far, in the order the events happened.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.events().deliveries.clone()
    }

    /// Member `userid` leaves the organisation, removed by `operator`: the contact APIs stop
    /// finding them (60121) and a `user_leave_org` is delivered. Returns its eventId.
    pub fn leave(&self, userid: &str, operator: Option<&str>) -> Option<String> {
        self.remove_member(userid);
        Some(self.emit(SimEvent {
            operator: operator.map(str::to_owned),
            ..SimEvent::about("user_leave_org", &[userid])
        }))
    }

    /// Member `userid` now belongs to `dept_ids`; a `user_modify_org` is delivered. Returns its
    /// eventId (`None`: no such member).
    pub fn move_member(&self, userid: &str, dept_ids: &[i64]) -> Option<String> {
        self.change_member(userid, |m| m.dept_id_list = dept_ids.to_vec())
            .then(|| self.emit(SimEvent::about("user_modify_org", &[userid])))
    }

    /// Member `userid` becomes an administrator or stops being one; `org_admin_add` or
    /// `org_admin_remove` is delivered. Returns its eventId (`None`: no such member).
    pub fn set_admin(&self, userid: &str, admin: bool) -> Option<String> {
        let event_type = if admin { "org_admin_add" } else { "org_admin_remove" };
        self.change_member(userid, |m| m.admin = admin)
            .then(|| self.emit(SimEvent::about(event_type, &[userid])))
    }

    /// Delivers `event` to the subscriptions (in the background), by HTTP push or Stream, with
    /// a new eventId. Returns the eventId.
    pub fn emit(&self, event: SimEvent) -> String {
        let event_id = super::random::token().unwrap_or_default();
        let (http, stream) = {
            let events = self.events();
            (events.http.clone(), events.gateway.subscription.clone())
        };
        if http.is_none() && stream.is_none() {
            tracing::debug!(
                event_type = event.event_type,
                "simulator: no subscription; the event is lost"
            );
            return event_id;
        }
        self.events().deliveries.push(Delivery {
            event_id: event_id.clone(),
            event_type: event.event_type.clone(),
            attempts: 0,
            state: DeliveryState::Pending,
        });
        if let Some(stream) = stream {
            self.deliver_by_stream(&event, &event_id, stream);
        }
        let Some(subscription) = http else {
            return event_id;
        };
        let plaintext = self
            .http_plaintext(&event, &event_id, subscription.payload_style)
            .to_string();
        let sim = self.clone();
        let id = event_id.clone();
        tokio::spawn(async move { sim.push_until_acknowledged(&subscription, &id, &plaintext).await });
        event_id
    }

    /// Sends the URL-verification event as the console's 保存 does, once; the answer.
    pub async fn check_url(&self) -> Answer {
        let subscription = self.events().http.clone().ok_or("no subscription")?;
        self.push_once(&subscription, &json!({"EventType": "check_url"}).to_string())
            .await
    }

    /// Pushes `plaintext` once, encrypted and signed as the subscription says; the answer.
    pub async fn push_once(&self, subscription: &HttpSubscription, plaintext: &str) -> Answer {
        let crypto = CallbackCrypto::new(&subscription.token, &subscription.aes_key).map_err(|e| e.to_string())?;
        let owner = self.owner_key(subscription.owner);
        let encrypt = crypto.encrypt(plaintext, &owner);
        let timestamp = self.now_ms().to_string();
        let nonce = super::random::request_id();
        let signature = crypto.signature(&timestamp, &nonce, &encrypt);
        let param = match subscription.signature_param {
            SignatureParam::Signature => "signature",
            SignatureParam::MsgSignature => "msg_signature",
        };
        let answer = http_client()
            .post(&subscription.url)
            .query(&[
                (param, signature.as_str()),
                ("timestamp", &timestamp),
                ("nonce", &nonce),
            ])
            .timeout(subscription.reply_timeout)
            .json(&json!({ "encrypt": encrypt }))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = answer.status().as_u16();
        let body = answer.text().await.map_err(|e| e.without_url().to_string())?;
        Ok((status, body))
    }

    /// Whether `answer` is the encrypted, signed `success` DingTalk requires (§2.5).
    fn is_success(&self, subscription: &HttpSubscription, answer: &Answer) -> bool {
        let Ok((200, body)) = answer else { return false };
        let Ok(reply) = serde_json::from_str::<Value>(body) else {
            return false;
        };
        let field = |name: &str| reply.get(name).and_then(Value::as_str);
        let (Some(signature), Some(timestamp), Some(nonce), Some(encrypt)) = (
            field("msg_signature"),
            field("timeStamp"),
            field("nonce"),
            field("encrypt"),
        ) else {
            return false;
        };
        let Ok(crypto) = CallbackCrypto::new(&subscription.token, &subscription.aes_key) else {
            return false;
        };
        let owner = self.owner_key(subscription.owner);
        matches!(crypto.open_for(&[owner.as_str()], signature, timestamp, nonce, encrypt), Ok((m, _)) if m == "success")
    }

    async fn push_until_acknowledged(&self, subscription: &HttpSubscription, event_id: &str, plaintext: &str) {
        let waits = std::iter::once(Duration::ZERO).chain(subscription.retry_after.iter().copied());
        for wait in waits {
            tokio::time::sleep(wait).await;
            let answer = self.push_once(subscription, plaintext).await;
            let acknowledged = self.is_success(subscription, &answer);
            self.record(event_id, true, acknowledged.then_some(DeliveryState::Acknowledged));
            if acknowledged {
                return;
            }
            tracing::debug!(event_id, answer = ?answer.map(|(status, _)| status), "simulator: push not acknowledged");
        }
        self.record(event_id, false, Some(DeliveryState::Failed));
    }

    /// Counts an attempt at `event_id` (when `attempted`) and moves it to `state`, if given.
    pub(super) fn record(&self, event_id: &str, attempted: bool, state: Option<DeliveryState>) {
        let mut events = self.events();
        if let Some(d) = events.deliveries.iter_mut().find(|d| d.event_id == event_id) {
            d.attempts += u32::from(attempted);
            if let Some(state) = state {
                d.state = state;
            }
        }
    }

    /// The plaintext of an HTTP push (§3.3).
    fn http_plaintext(&self, event: &SimEvent, event_id: &str, style: PayloadStyle) -> Value {
        let corp_id = self.directory().corp_id().to_owned();
        let now = self.now_ms();
        let mut body = serde_json::Map::new();
        let mut put = |k: &str, v: Value| {
            body.insert(k.to_owned(), v);
        };
        put("EventType", json!(event.event_type));
        put("CorpId", json!(corp_id));
        let legacy = style == PayloadStyle::Legacy;
        if legacy {
            put("TimeStamp", json!(now.to_string()));
        } else {
            put("EventTime", json!(now));
            put("BizId", json!(event_id));
            put("eventId", json!(event_id));
            put("timeStamp", json!(now.to_string()));
        }
        if !event.userids.is_empty() {
            let key = match (event.event_type.as_str(), legacy) {
                ("label_user_change", true) => "UserIdList",
                ("label_user_change", false) => "userIdList",
                (_, true) => "UserId",
                (_, false) => "userId",
            };
            put(key, json!(event.userids));
        }
        if !event.dept_ids.is_empty() {
            put(if legacy { "DeptId" } else { "deptId" }, json!(event.dept_ids));
        }
        if let Some(operator) = &event.operator {
            put(if legacy { "OptStaffId" } else { "optStaffId" }, json!(operator));
        }
        Value::Object(body)
    }

    fn owner_key(&self, owner: OwnerMode) -> String {
        let directory = self.directory();
        match owner {
            OwnerMode::AppKey => directory.app_credentials().0.to_owned(),
            OwnerMode::CorpId => directory.corp_id().to_owned(),
        }
    }

    /// Applies `change` to member `userid` in a copy of the directory, which replaces it.
    fn change_member(&self, userid: &str, change: impl FnOnce(&mut super::directory::Member)) -> bool {
        let mut directory = self.directory().clone();
        let Some(member) = directory.member_mut(userid) else {
            return false;
        };
        change(member);
        self.replace_directory(directory);
        true
    }

    pub(super) fn events(&self) -> std::sync::MutexGuard<'_, Events> {
        self.inner.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One client for every push: connections are reused, redirects are not followed (§2.1).
fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        })
        .clone()
}
