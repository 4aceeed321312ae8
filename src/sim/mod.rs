//! An in-process, stateful DingTalk simulator (`dingo sim`, `dingo demo`, every integration
//! test). It serves DingTalk's real wire contract (DINGTALK-API.md) for the three hosts —
//! login (`/oauth2/auth`), api (`/v1.0/...`) and oapi (`/gettoken`, `/topapi/...`, `/sns/...`,
//! the legacy `/connect/...` login pages) — on one listener; their paths do not collide. It also
//! serves stand-ins for the DingTalk client's JSAPI (`/jsapi/...`), so in-app login can be tried
//! from an ordinary browser whose user agent contains `DingTalk`.
//!
//! Fault injection: [`Simulator::set_outage`], [`Simulator::set_inapp_failure`],
//! [`Simulator::set_open_auth_outcome`]; observation: [`Simulator::call_count`]; unattended
//! logins: [`Simulator::set_auto_login`], [`Simulator::set_inapp_user`]. Time comes only from
//! the given clock.

mod api;
mod bodies;
mod directory;
mod envelope;
mod inapp;
mod jsapi;
mod login;
mod oapi;
mod pages;
mod random;
mod sns;
mod state;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

use crate::clock::SharedClock;

pub use directory::{Directory, DirectoryError};
pub use jsapi::{OpenAuthOutcome, UnknownOpenAuthOutcome};

/// The simulator; cheap to clone (all clones share one state).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    directory: Directory,
    clock: SharedClock,
    store: Mutex<state::State>,
    controls: Mutex<Controls>,
}

/// Test and demo knobs, plus the call counters.
#[derive(Default)]
struct Controls {
    auto_login: Option<String>,
    inapp_user: Option<String>,
    inapp_failure: Option<i64>,
    open_auth_outcome: OpenAuthOutcome,
    outage: Option<u16>,
    calls: HashMap<String, u64>,
    /// Members who have left the organisation since the simulator started.
    departed: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("corp_id", &self.inner.directory.corp_id())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    pub fn new(directory: Directory, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory,
                clock,
                store: Mutex::new(state::State::default()),
                controls: Mutex::new(Controls::default()),
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

    /// The member `userid` leaves the organisation: the contact APIs stop finding them (60121).
    pub fn remove_member(&self, userid: &str) {
        self.controls().departed.insert(userid.to_owned());
    }

    /// Whether member `userid` has left (see [`Simulator::remove_member`]).
    pub(crate) fn has_left(&self, userid: &str) -> bool {
        self.controls().departed.contains(userid)
    }

    /// When set, every API endpoint (not the login pages or the JSAPI stand-ins) answers with
    /// this HTTP status and a plain-text body, as when DingTalk is down.
    pub fn set_outage(&self, status: Option<u16>) {
        self.controls().outage = status;
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

    pub(crate) fn directory(&self) -> &Directory {
        &self.inner.directory
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

    /// An API-family handler for the paths `prefix{tail}`: counted, then subject to outages.
    fn api_family(
        &self,
        prefix: &'static str,
        handler: fn(&Simulator, &HttpRequest, &str, &[u8]) -> HttpResponse,
    ) -> impl Fn(HttpRequest, Bytes) -> Ready<HttpResponse> + Clone + 'static {
        let sim = self.clone();
        move |req: HttpRequest, body: Bytes| {
            let tail = req.match_info().get("tail").unwrap_or_default();
            let path = format!("{prefix}{tail}");
            tracing::debug!(method = %req.method(), %path, "dingtalk simulator call");
            let outage = {
                let mut controls = sim.controls();
                *controls.calls.entry(path).or_default() += 1;
                controls.outage
            };
            ready(match outage {
                Some(status) => outage_response(status),
                None => handler(&sim, &req, tail, &body),
            })
        }
    }
}

fn outage_response(status: u16) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(status.to_string())
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
