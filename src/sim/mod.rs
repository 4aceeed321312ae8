//! An in-process, stateful DingTalk simulator (`dingo sim`, `dingo demo`, every integration
//! test). It serves DingTalk's real wire contract (DINGTALK-API.md) for the three hosts —
//! login (`/oauth2/auth`), api (`/v1.0/...`) and oapi (`/gettoken`, `/topapi/...`, `/sns/...`,
//! the legacy `/connect/...` login pages) — on one listener; their paths do not collide. It also
//! serves stand-ins for the DingTalk client's JSAPI (`/jsapi/...`), so in-app login can be tried
//! from an ordinary browser whose user agent contains `DingTalk`.
//!
//! Fault injection: [`Simulator::set_outage`], [`Simulator::set_latency`],
//! [`Simulator::inject`] (5xx, busy, rate-limited, malformed, reset, delayed; per path, counted
//! or a fraction), [`Simulator::invalidate_app_tokens`], [`Simulator::set_rate_limit`],
//! [`Simulator::set_inapp_failure`], [`Simulator::set_open_auth_outcome`]; observation:
//! [`Simulator::call_count`], [`Simulator::throttled_count`]; unattended logins:
//! [`Simulator::set_auto_login`], [`Simulator::set_inapp_user`]. Time comes only from the given
//! clock.

mod access;
mod api;
mod bodies;
mod directory;
mod envelope;
mod events;
mod faults;
mod inapp;
mod jsapi;
mod login;
mod oapi;
mod org;
mod pages;
mod params;
mod random;
mod sns;
mod state;
mod stream;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

use crate::clock::SharedClock;

pub use access::AppAccess;
pub use directory::{Directory, DirectoryError};
pub use events::{Delivery, DeliveryState, HttpSubscription, OwnerMode, PayloadStyle, SignatureParam, SimEvent};
use faults::{Family, Faults};
pub use faults::{Fault, FaultKind};
pub use jsapi::{OpenAuthOutcome, UnknownOpenAuthOutcome};
pub use stream::{GatewayStats, StreamSubscription};

/// The simulator; cheap to clone (all clones share one state).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    /// Replaced whole when the organisation changes (see [`Simulator::replace_directory`]).
    directory: std::sync::RwLock<&'static Directory>,
    clock: SharedClock,
    store: Mutex<state::State>,
    controls: Mutex<Controls>,
    /// The app's event subscription and what was delivered to it.
    events: Mutex<events::Events>,
}

/// Test and demo knobs, plus the call counters.
#[derive(Default)]
struct Controls {
    auto_login: Option<String>,
    inapp_user: Option<String>,
    inapp_failure: Option<i64>,
    open_auth_outcome: OpenAuthOutcome,
    outage: Option<u16>,
    faults: Faults,
    calls: HashMap<String, u64>,
    /// Members who have left the organisation since the simulator started, with when (ms).
    departed: HashMap<String, i64>,
    /// What each app may read (client_id → access); unlisted apps read everything.
    access: HashMap<String, access::AppAccess>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("corp_id", &self.directory().corp_id())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(directory: Directory, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory: std::sync::RwLock::new(Box::leak(Box::new(directory))),
                clock,
                store: Mutex::new(state::State::default()),
                controls: Mutex::new(Controls::default()),
                events: Mutex::new(events::Events::default()),
            }),
        }
    }

    /// Mounts every simulator route on `cfg`, at its root or under a `web::scope` prefix (the
    /// simulator's own links are relative). The last route is a catch-all answering unknown
    /// oapi paths with errcode 22, so when sharing an app's root, mount the simulator last.
    pub fn configure(&self, cfg: &mut ServiceConfig) {
        cfg.route("/oauth2/auth", web::get().to(self.page(login::authorize)));
        cfg.route("/oauth2/choose", web::get().to(self.page(login::choose)));
        cfg.route("/connect/qrconnect", web::get().to(self.page(sns::qrconnect)));
        cfg.route(
            "/connect/oauth2/sns_authorize",
            web::get().to(self.page(sns::sns_authorize)),
        );
        jsapi::configure(self, cfg);
        cfg.route("/org", web::get().to(self.page(org::console)));
        cfg.route("/org/hiccup", web::post().to(self.bridge(org::hiccup)));
        cfg.route("/org/{change}", web::post().to(self.bridge(org::change)));
        let sim = self.clone();
        cfg.route(
            "/connect",
            web::get().to(move |req: HttpRequest, body: web::Payload| stream::connect(sim.clone(), req, body)),
        );
        cfg.route("/v1.0/{tail:.*}", web::to(self.api_family("/v1.0/", api::handle)));
        cfg.route("/{tail:.*}", web::to(self.api_family("/", oapi::handle)));
    }

    /// Runs the simulator alone on `listener`. The returned server must be awaited or spawned.
    pub fn serve(&self, listener: TcpListener) -> std::io::Result<Server> {
        let sim = self.clone();
        let server = HttpServer::new(move || {
            let sim = sim.clone();
            App::new().configure(move |cfg| sim.configure(cfg))
        })
        .workers(2)
        .listen(listener)?
        .run();
        Ok(server)
    }

    /// When set, `GET /oauth2/auth` skips the picker and signs in as this person (a member's
    /// userid, else anyone's unionid).
    pub fn set_auto_login(&self, person: Option<String>) {
        self.controls().auto_login = person;
    }

    /// The person DingTalk's in-app JSAPIs (`requestAuthCode`, `openAuth`) sign in as: a member's
    /// userid, else anyone's unionid. When unset, the auto-login person; when that is unset too,
    /// the first active member. `requestAuthCode` refuses a non-member (errorCode 7); `openAuth`
    /// accepts an outsider.
    pub fn set_inapp_user(&self, person: Option<String>) {
        self.controls().inapp_user = person;
    }

    /// When set, every JSAPI `requestAuthCode` (and `getAuthCode`) fails with this `errorCode`,
    /// e.g. 3 (page domain not the app's) or -1 (user cancelled).
    pub fn set_inapp_failure(&self, error_code: Option<i64>) {
        self.controls().inapp_failure = error_code;
    }

    /// What the `openAuth` stand-in answers (default [`OpenAuthOutcome::Ok`]).
    pub fn set_open_auth_outcome(&self, outcome: OpenAuthOutcome) {
        self.controls().open_auth_outcome = outcome;
    }

    /// The member `userid` leaves the organisation: the contact APIs stop finding them (60121),
    /// and `empLeaveRecords` lists them. No event is pushed (see [`Simulator::leave`]): as when
    /// DingTalk's push is lost.
    pub fn remove_member(&self, userid: &str) {
        let now_ms = self.now_ms();
        self.controls().departed.entry(userid.to_owned()).or_insert(now_ms);
    }

    /// The members who left, in the order they left, with when (epoch ms).
    pub(crate) fn leavers(&self) -> Vec<(String, i64)> {
        let mut leavers: Vec<(String, i64)> = self.controls().departed.iter().map(|(u, t)| (u.clone(), *t)).collect();
        leavers.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        leavers
    }

    /// Whether member `userid` has left (see [`Simulator::remove_member`]).
    pub(crate) fn has_left(&self, userid: &str) -> bool {
        self.controls().departed.contains_key(userid)
    }

    /// When set, every API endpoint (not the login pages or the JSAPI stand-ins) answers with
    /// this HTTP status and a plain-text body, as when DingTalk is down.
    pub fn set_outage(&self, status: Option<u16>) {
        self.controls().outage = status;
    }

    /// Adds a fault rule for API calls (see [`Fault`]): e.g.
    /// `Fault::new(FaultKind::Status(502)).on("/topapi/v2/user/get").times(1)`. Rules apply in
    /// the order added; the first that fires decides the call. An outage takes precedence.
    pub fn inject(&self, fault: Fault) {
        self.controls().faults.add(fault);
    }

    /// Rolls the fault rules' fractions from `seed`, so that a fault run can be replayed (the
    /// n-th call a rule matches fares the same each time); `None`: from the system.
    pub fn set_fault_seed(&self, seed: Option<u64>) {
        self.controls().faults.set_seed(seed);
    }

    /// Every API call is answered this much later (whatever its answer); zero by default.
    pub fn set_latency(&self, latency: Duration) {
        self.controls().faults.set_latency(latency);
    }

    /// Removes every fault rule (not the outage, the latency or the rate limit).
    pub fn clear_faults(&self) {
        self.controls().faults.clear();
    }

    /// Enforces DingTalk's per-API rate limit: more than `per_second` calls to one API path in
    /// any second are answered with the QPS-limit error (oapi 90018, api 403
    /// `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`). `None` (the default): no limit.
    pub fn set_rate_limit(&self, per_second: Option<u32>) {
        self.controls().faults.set_rate_limit(per_second);
    }

    /// Calls refused by the rate limit set with [`Simulator::set_rate_limit`].
    pub fn throttled_count(&self) -> u64 {
        self.controls().faults.throttled()
    }

    /// Every app token issued so far stops working, as when an app secret is reset: oapi calls
    /// with one get `88`/`sub_code 40014`; the next token request gets a new token.
    pub fn invalidate_app_tokens(&self) {
        self.store().forget_app_tokens();
    }

    /// Calls [`Simulator::invalidate_app_tokens`] every `period`, for `dingo sim`. The task ends
    /// with the runtime.
    pub fn invalidate_app_tokens_every(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let sim = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                sim.invalidate_app_tokens();
                tracing::info!("simulator: every app token invalidated");
            }
        })
    }

    /// API calls received on `path` (e.g. `/v1.0/oauth2/userAccessToken`, `/topapi/v2/user/get`),
    /// relative to where the simulator is mounted. Login pages are not counted.
    pub fn call_count(&self, path: &str) -> u64 {
        self.controls().calls.get(path).copied().unwrap_or(0)
    }

    pub fn total_calls(&self) -> u64 {
        self.controls().calls.values().sum()
    }

    pub fn reset_calls(&self) {
        self.controls().calls.clear();
    }

    /// The organisation as it is now.
    pub(crate) fn directory(&self) -> &'static Directory {
        *self
            .inner
            .directory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The organisation changes to `directory` (for instance a person who left and came back
    /// under a new userid, keeping their unionid); the apps and their secrets should stay. A
    /// directory is never freed, so that answers being built from the old one stay valid: each
    /// replacement keeps a directory's worth of memory, which suits tests and demos.
    pub fn replace_directory(&self, directory: Directory) {
        *self
            .inner
            .directory
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Box::leak(Box::new(directory));
    }

    /// Unix seconds from the simulator's clock.
    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// Unix milliseconds from the simulator's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, state::State> {
        self.inner.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn auto_login(&self) -> Option<String> {
        self.controls().auto_login.clone()
    }

    /// The in-app person setting, falling back to the auto-login one.
    pub(crate) fn inapp_user(&self) -> Option<String> {
        let controls = self.controls();
        controls.inapp_user.clone().or_else(|| controls.auto_login.clone())
    }

    pub(crate) fn inapp_failure(&self) -> Option<i64> {
        self.controls().inapp_failure
    }

    pub(crate) fn open_auth_outcome(&self) -> OpenAuthOutcome {
        self.controls().open_auth_outcome
    }

    fn controls(&self) -> MutexGuard<'_, Controls> {
        self.inner.controls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A login-page handler: not counted, not affected by outages.
    fn page(
        &self,
        handler: fn(&Simulator, &HttpRequest) -> HttpResponse,
    ) -> impl Fn(HttpRequest) -> Ready<HttpResponse> + Clone + 'static {
        let sim = self.clone();
        move |req: HttpRequest| ready(handler(&sim, &req))
    }

    /// A JSAPI bridge handler (the client's side, not a DingTalk server API): given the body,
    /// not counted, not affected by outages.
    fn bridge(
        &self,
        handler: fn(&Simulator, &HttpRequest, &[u8]) -> HttpResponse,
    ) -> impl Fn(HttpRequest, Bytes) -> Ready<HttpResponse> + Clone + 'static {
        let sim = self.clone();
        move |req: HttpRequest, body: Bytes| ready(handler(&sim, &req, &body))
    }

    /// An API-family handler for the paths `prefix{tail}`: counted, then subject to an outage,
    /// the rate limit and the fault rules, in that order.
    fn api_family(
        &self,
        prefix: &'static str,
        handler: fn(&Simulator, &HttpRequest, &str, &[u8]) -> HttpResponse,
    ) -> impl Fn(HttpRequest, Bytes) -> Pin<Box<dyn Future<Output = HttpResponse>>> + Clone + 'static {
        let sim = self.clone();
        let family = if prefix == "/v1.0/" { Family::Api } else { Family::Oapi };
        move |req: HttpRequest, body: Bytes| {
            let sim = sim.clone();
            Box::pin(async move {
                let tail = req.match_info().get("tail").unwrap_or_default().to_owned();
                let path = format!("{prefix}{tail}");
                tracing::debug!(method = %req.method(), %path, "dingtalk simulator call");
                let now_ms = sim.now_ms();
                let (latency, outage, throttled, fault) = {
                    let mut controls = sim.controls();
                    let latency = controls.faults.latency();
                    *controls.calls.entry(path.clone()).or_default() += 1;
                    let outage = controls.outage;
                    let throttled = outage.is_none() && controls.faults.over_rate_limit(&path, now_ms);
                    let fault = if outage.is_none() && !throttled {
                        controls.faults.pick_for(&path)
                    } else {
                        None
                    };
                    (latency, outage, throttled, fault)
                };
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                if let Some(kind) = fault {
                    tracing::debug!(%path, fault = %kind, "dingtalk simulator fault");
                }
                match (outage, throttled, fault) {
                    (Some(status), _, _) => faults::status_page(status),
                    (None, true, _) => faults::rate_limited(family),
                    (None, false, Some(FaultKind::Delay(delay))) => {
                        tokio::time::sleep(delay).await;
                        handler(&sim, &req, &tail, &body)
                    }
                    (None, false, Some(kind @ FaultKind::Lost(_))) => {
                        let _ = handler(&sim, &req, &tail, &body);
                        faults::respond(kind, family)
                    }
                    (None, false, Some(kind)) => faults::respond(kind, family),
                    (None, false, None) => handler(&sim, &req, &tail, &body),
                }
            })
        }
    }
}

/// First value of each query parameter.
pub(crate) fn query_pairs(req: &HttpRequest) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let mut map = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_insert(v);
    }
    map
}
