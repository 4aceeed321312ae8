//! Fault injection for the API families (not the login pages or the JSAPI stand-ins), and an
//! optional per-API rate limit like DingTalk's own (DINGTALK-API.md §12).
//!
//! A [`Fault`] is a kind of failure, optionally limited to one API path, to the next N calls
//! and to a fraction of calls. Rules are tried in the order they were added; the first that
//! matches and fires decides the call. Exhausted rules are dropped.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::body::{BodySize, MessageBody};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;

use super::envelope::{api_error, topapi_error};

/// What a faulty call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// This HTTP status with a plain-text body, as from a failing gateway.
    Status(u16),
    /// The family's "system busy": oapi errcode -1; api HTTP 500 `system.busy` (§11).
    Busy,
    /// The per-app per-API QPS answer (§12): oapi errcode 90018 (HTTP 200); api HTTP 403
    /// `Forbidden.AccessDenied.QpsLimitForAppkeyAndApi`.
    RateLimited,
    /// HTTP 200 with a JSON body cut off halfway.
    Malformed,
    /// The connection is closed without an answer, as when a proxy or DingTalk's gateway resets
    /// it: the response's body fails before anything is written, and actix then drops the
    /// connection (the client sees "connection closed before message completed").
    Reset,
    /// The normal answer, this much later.
    Delay(Duration),
    /// The call runs (a login code is used up), then its answer is lost and this status is
    /// sent instead, as from a gateway that timed out waiting for the API.
    Lost(u16),
}

/// One fault rule; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    kind: FaultKind,
    path: Option<String>,
    remaining: Option<u64>,
    fraction: f64,
}

impl Fault {
    /// `kind` for every API call, until cleared.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            path: None,
            remaining: None,
            fraction: 1.0,
        }
    }

    /// Only calls to `path`, as counted by `Simulator::call_count` (e.g. `/topapi/v2/user/get`).
    pub fn on(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// Only the next `n` calls it fires on.
    pub fn times(mut self, n: u64) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Only this fraction of the calls it matches, at random (0.0–1.0).
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction.clamp(0.0, 1.0);
        self
    }

    fn matches(&self, path: &str) -> bool {
        self.remaining != Some(0) && self.path.as_deref().is_none_or(|p| p == path)
    }
}

/// `KIND[,path=/api/path][,times=N][,fraction=F]`, where KIND is an HTTP status (`503`), `busy`,
/// `rate-limited`, `malformed`, `reset`, `delay=MS` or `lost=STATUS`. Used by `dingo sim --fault`.
impl FromStr for Fault {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let mut parts = spec.split(',').map(str::trim);
        let kind = match parts.next().unwrap_or_default() {
            "busy" => FaultKind::Busy,
            "rate-limited" => FaultKind::RateLimited,
            "malformed" => FaultKind::Malformed,
            "reset" => FaultKind::Reset,
            other => match (other.strip_prefix("delay="), other.strip_prefix("lost=")) {
                (Some(ms), _) => FaultKind::Delay(Duration::from_millis(number(ms, "delay")?)),
                (_, Some(status)) => match status.parse::<u16>() {
                    Ok(status) if (400..=599).contains(&status) => FaultKind::Lost(status),
                    _ => return Err(format!("lost= takes an HTTP status 400–599, not {status:?}")),
                },
                _ => match other.parse::<u16>() {
                    Ok(status) if (400..=599).contains(&status) => FaultKind::Status(status),
                    _ => {
                        return Err(format!(
                            "unknown fault {other:?}: an HTTP status 400–599, busy, rate-limited, malformed, reset, delay=MS or lost=STATUS"
                        ));
                    }
                },
            },
        };
        let mut fault = Fault::new(kind);
        for part in parts {
            match part.split_once('=') {
                Some(("path", path)) if path.starts_with('/') => fault = fault.on(path),
                Some(("times", n)) => fault = fault.times(number(n, "times")?),
                Some(("fraction", f)) => match f.parse::<f64>() {
                    Ok(f) if (0.0..=1.0).contains(&f) => fault = fault.fraction(f),
                    _ => return Err(format!("fraction must be between 0 and 1, not {f:?}")),
                },
                _ => return Err(format!("unknown fault option {part:?}: path=/…, times=N or fraction=F")),
            }
        }
        Ok(fault)
    }
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{what} must be a whole number, not {text:?}"))
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Status(status) => write!(f, "HTTP {status}"),
            FaultKind::Busy => f.write_str("busy"),
            FaultKind::RateLimited => f.write_str("rate limited"),
            FaultKind::Malformed => f.write_str("malformed body"),
            FaultKind::Reset => f.write_str("connection reset"),
            FaultKind::Delay(d) => write!(f, "{} ms late", d.as_millis()),
            FaultKind::Lost(status) => write!(f, "answer lost, HTTP {status} instead"),
        }
    }
}

/// The fault rules and the enforced rate limit, kept in the simulator's controls.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Added to every API call, whatever else happens to it.
    latency: Duration,
    rules: Vec<Fault>,
    /// Calls per second allowed to each API path; `None`: unlimited.
    rate_limit: Option<u32>,
    /// Path → start times (ms) of its calls in the last second.
    recent: HashMap<String, VecDeque<i64>>,
    /// Calls refused by the enforced rate limit.
    throttled: u64,
    /// Rolls for fractions from this seed (`--seed`), so that a fault run can be replayed: the
    /// n-th call that a fraction rule matches gets the same roll each run. Else from the system.
    seeded: Option<fastrand::Rng>,
}

impl Faults {
    pub(crate) fn add(&mut self, fault: Fault) {
        self.rules.push(fault);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    pub(crate) fn latency(&self) -> Duration {
        self.latency
    }

    pub(crate) fn set_rate_limit(&mut self, per_second: Option<u32>) {
        self.rate_limit = per_second;
        self.recent.clear();
    }

    pub(crate) fn set_seed(&mut self, seed: Option<u64>) {
        self.seeded = seed.map(fastrand::Rng::with_seed);
    }

    /// The fault for this call to `path`, rolled from the seed or the system.
    pub(crate) fn pick_for(&mut self, path: &str) -> Option<FaultKind> {
        let mut seeded = self.seeded.take();
        let kind = self.pick(path, || match seeded.as_mut() {
            Some(rng) => rng.f64(),
            None => super::random::unit(),
        });
        self.seeded = seeded;
        kind
    }

    pub(crate) fn throttled(&self) -> u64 {
        self.throttled
    }

    /// Whether a call to `path` at `now_ms` is over the rate limit: more than the limit in the
    /// last 1000 ms (a sliding window). Refused calls do not use up the budget.
    pub(crate) fn over_rate_limit(&mut self, path: &str, now_ms: i64) -> bool {
        let Some(limit) = self.rate_limit else {
            return false;
        };
        let recent = self.recent.entry(path.to_owned()).or_default();
        while recent.front().is_some_and(|t| *t <= now_ms - 1000) {
            recent.pop_front();
        }
        if recent.len() >= limit as usize {
            self.throttled += 1;
            return true;
        }
        recent.push_back(now_ms);
        false
    }

    /// The fault for this call to `path`, if any; `roll` gives a number in [0, 1) for fractions.
    pub(crate) fn pick(&mut self, path: &str, mut roll: impl FnMut() -> f64) -> Option<FaultKind> {
        let index = self
            .rules
            .iter()
            .position(|rule| rule.matches(path) && (rule.fraction >= 1.0 || roll() < rule.fraction))?;
        let rule = self.rules.get_mut(index)?;
        let kind = rule.kind;
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
        self.rules.retain(|rule| rule.remaining != Some(0));
        Some(kind)
    }
}

/// Which API family a path belongs to: their errors look different.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `api.dingtalk.com`, `/v1.0/…`.
    Api,
    /// `oapi.dingtalk.com`.
    Oapi,
}

/// The response for a fault other than [`FaultKind::Delay`] (which answers normally, later).
pub(crate) fn respond(kind: FaultKind, family: Family) -> HttpResponse {
    match (kind, family) {
        (FaultKind::Status(status), _) => status_page(status),
        (FaultKind::Busy, Family::Oapi) => topapi_error(-1, "系统繁忙"),
        (FaultKind::Busy, Family::Api) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "system.busy", "系统繁忙"),
        (FaultKind::RateLimited, family) => rate_limited(family),
        (FaultKind::Malformed, _) => HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"errcode":0,"errmsg":"ok","result":{"userid":"#),
        (FaultKind::Reset, _) => HttpResponse::Ok().content_type("application/json").body(Severed),
        (FaultKind::Delay(_), _) => status_page(500),
        (FaultKind::Lost(status), _) => status_page(status),
    }
}

/// DingTalk's answer to a call over its per-app per-API QPS limit (§12).
pub(crate) fn rate_limited(family: Family) -> HttpResponse {
    match family {
        Family::Oapi => topapi_error(90018, "当前应用调用该接口的QPS超过了限制"),
        Family::Api => api_error(
            StatusCode::FORBIDDEN,
            "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
            "应用调用该接口的QPS超过了限制",
        ),
    }
}

/// A plain-text page with `status` (an unknown status gives 503).
pub(crate) fn status_page(status: u16) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(status.to_string())
}

/// A response body that fails at once: actix then closes the connection before writing anything.
struct Severed;

impl MessageBody for Severed {
    type Error = std::io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_into_faults() {
        assert_eq!("503".parse(), Ok(Fault::new(FaultKind::Status(503))));
        assert_eq!(
            "busy,path=/topapi/v2/user/get,times=2".parse(),
            Ok(Fault::new(FaultKind::Busy).on("/topapi/v2/user/get").times(2))
        );
        assert_eq!(
            "delay=250,fraction=0.5".parse(),
            Ok(Fault::new(FaultKind::Delay(Duration::from_millis(250))).fraction(0.5))
        );
        assert_eq!("lost=504".parse(), Ok(Fault::new(FaultKind::Lost(504))));
        for kind in ["rate-limited", "malformed", "reset"] {
            assert!(kind.parse::<Fault>().is_ok(), "{kind}");
        }
        for bad in [
            "200",
            "slow",
            "busy,times=x",
            "busy,fraction=2",
            "busy,path=x",
            "busy,colour=red",
            "lost=200",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_counted_fault_fires_n_times_then_goes() {
        let mut faults = Faults::default();
        faults.add(Fault::new(FaultKind::Busy).on("/a").times(2));
        assert_eq!(faults.pick("/b", || 0.0), None);
        assert_eq!(faults.pick("/a", || 0.0), Some(FaultKind::Busy));
        assert_eq!(faults.pick("/a", || 0.0), Some(FaultKind::Busy));
        assert_eq!(faults.pick("/a", || 0.0), None);
        assert!(faults.rules.is_empty());
    }

    #[test]
    fn rules_apply_in_order_and_a_fraction_is_rolled() {
        let mut faults = Faults::default();
        faults.add(Fault::new(FaultKind::Reset).fraction(0.25));
        faults.add(Fault::new(FaultKind::Status(502)));
        assert_eq!(faults.pick("/a", || 0.1), Some(FaultKind::Reset));
        assert_eq!(faults.pick("/a", || 0.9), Some(FaultKind::Status(502)));
        faults.clear();
        assert_eq!(faults.pick("/a", || 0.1), None);
    }

    #[test]
    fn a_seed_replays_the_same_faults() {
        let run = |seed| {
            let mut faults = Faults::default();
            faults.set_seed(Some(seed));
            faults.add(Fault::new(FaultKind::Status(502)).fraction(0.3));
            (0..200).map(|_| faults.pick_for("/a").is_some()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|hit| **hit).count();
        assert!((30..90).contains(&hits), "about 30 % of 200: {hits}");
    }

    #[test]
    fn the_rate_limit_is_a_sliding_second_per_path() {
        let mut faults = Faults::default();
        assert!(!faults.over_rate_limit("/a", 0), "no limit by default");
        faults.set_rate_limit(Some(2));
        assert!(!faults.over_rate_limit("/a", 1000));
        assert!(!faults.over_rate_limit("/a", 1500));
        assert!(faults.over_rate_limit("/a", 1999));
        assert!(!faults.over_rate_limit("/b", 1999), "another API");
        assert!(!faults.over_rate_limit("/a", 2000), "the call at 1000 left the window");
        assert!(faults.over_rate_limit("/a", 2400));
        assert_eq!(faults.throttled(), 2);
    }
}
