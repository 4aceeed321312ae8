//! What one caller may ask of dingo: request rates per client and per source address, and how
//! long a query string may be (bodies are bounded by the extractor limits set at start-up).
//!
//! Rates are limited with GCRA (the generic cell rate algorithm, a token bucket kept as one
//! timestamp per key): a key may send `burst` requests at once, then one every
//! `60 / per_minute` seconds. The tables live in this process only, so with several instances
//! behind a load balancer each applies the limits on its own. A key whose bucket has refilled
//! is the same as a key never seen, so such keys are dropped; the tables never hold more than
//! `limits.max_tracked_addresses` keys.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};

use super::pages;
use crate::clock::SharedClock;
use crate::config::{IpRange, LimitSettings};
use crate::telemetry::Metrics;

/// `X-Forwarded-For`, read only when the peer is a trusted proxy.
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// How often keys whose bucket has refilled are dropped, in microseconds.
const SWEEP_EVERY_US: i64 = 60_000_000;

/// The rate limits and the query-string bound, held as app data beside `AppState`.
#[derive(Debug)]
pub struct Limits {
    oauth_client: Gcra<String>,
    oauth_address: Gcra<IpAddr>,
    authorize_address: Gcra<IpAddr>,
    login_address: Gcra<IpAddr>,
    device_code_address: Gcra<IpAddr>,
    trusted_proxies: Vec<IpRange>,
    max_query_bytes: usize,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

/// A request a rate limit refused, and in how many seconds the same request would be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
}

impl Limits {
    pub fn new(settings: &LimitSettings, clock: SharedClock, metrics: Arc<Metrics>) -> Self {
        let capacity = usize::try_from(settings.max_tracked_addresses).unwrap_or(usize::MAX);
        Self {
            oauth_client: Gcra::new(settings.oauth_client_per_minute, settings.oauth_client_burst, capacity),
            oauth_address: Gcra::new(
                settings.oauth_address_per_minute,
                settings.oauth_address_burst,
                capacity,
            ),
            authorize_address: Gcra::new(
                settings.authorize_address_per_minute,
                settings.authorize_address_burst,
                capacity,
            ),
            login_address: Gcra::new(
                settings.login_address_per_minute,
                settings.login_address_burst,
                capacity,
            ),
            device_code_address: Gcra::new(
                settings.device_code_address_per_minute,
                settings.device_code_address_burst,
                capacity,
            ),
            trusted_proxies: settings.trusted_proxies.clone(),
            max_query_bytes: usize::try_from(settings.max_query_bytes).unwrap_or(usize::MAX),
            clock,
            metrics,
        }
    }

    /// `/token`, `/introspect` and `/revoke`, per source address: checked before anything else,
    /// so that every request counts, however malformed.
    pub fn oauth_address(&self, request: &HttpRequest) -> Result<(), Limited> {
        match self.source(request) {
            Some(address) => self
                .oauth_address
                .check(address, self.now_us())
                .map_err(|limited| self.refused(request, "address", limited)),
            None => Ok(()),
        }
    }

    /// The same endpoints, per client: `client` must be a registered client's id (unknown
    /// names would only fill the table). The request is not yet authenticated, so a client's
    /// budget can be spent by others naming it; the address limit bounds how fast.
    pub fn oauth_client(&self, request: &HttpRequest, client: &str) -> Result<(), Limited> {
        self.oauth_client
            .check(client.to_owned(), self.now_us())
            .map_err(|limited| self.refused(request, "client", limited))
    }

    /// `/authorize`, per source address.
    pub fn authorize(&self, request: &HttpRequest) -> Result<(), Limited> {
        self.per_address(&self.authorize_address, request)
    }

    /// The DingTalk login callbacks, per source address.
    pub fn login(&self, request: &HttpRequest) -> Result<(), Limited> {
        self.per_address(&self.login_address, request)
    }

    /// User codes looked up on the device page, per source address (against guessing).
    pub fn device_code(&self, request: &HttpRequest) -> Result<(), Limited> {
        self.per_address(&self.device_code_address, request)
    }

    fn per_address(&self, limit: &Gcra<IpAddr>, request: &HttpRequest) -> Result<(), Limited> {
        match self.source(request) {
            Some(address) => limit
                .check(address, self.now_us())
                .map_err(|limited| self.refused(request, "address", limited)),
            None => Ok(()),
        }
    }

    /// The request's source address, as its rate-limit key.
    fn source(&self, request: &HttpRequest) -> Option<IpAddr> {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all(FORWARDED_FOR)
            .filter_map(|v| v.to_str().ok())
            .collect();
        source_address(request.peer_addr().map(|a| a.ip()), &forwarded, &self.trusted_proxies).map(address_key)
    }

    fn refused(&self, request: &HttpRequest, key: &str, limited: Limited) -> Limited {
        let route = request.match_pattern();
        let route = route.as_deref().unwrap_or("unmatched");
        tracing::info!(route, key, retry_after = limited.retry_after, "rate limit reached");
        self.metrics.record_rate_limited(route, key);
        limited
    }

    fn now_us(&self) -> i64 {
        self.clock.now_ms().saturating_mul(1000)
    }
}

/// The client's address: the connection's peer, unless the peer is a trusted proxy; then the
/// `X-Forwarded-For` list is read from its end (the hop nearest dingo) towards its start, and the
/// first address that is not a trusted proxy is the client's. An entry that is not an address
/// ends the walk at the last trusted hop: what came before it cannot be believed.
pub fn source_address(peer: Option<IpAddr>, forwarded_for: &[&str], trusted: &[IpRange]) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    let mut hop = peer?.to_canonical();
    if !is_trusted(hop) {
        return Some(hop);
    }
    let entries: Vec<&str> = forwarded_for.iter().flat_map(|value| value.split(',')).collect();
    for entry in entries.into_iter().rev() {
        match forwarded_address(entry) {
            Some(ip) => {
                hop = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    Some(hop)
}

/// One `X-Forwarded-For` entry: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, with or without a port.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

/// IPv4 addresses count one by one; IPv6 addresses by their /64, which one host usually has whole.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// One rate limit: for every key, the theoretical arrival time (TAT) of its next request.
#[derive(Debug)]
struct Gcra<K> {
    /// Microseconds between two requests at the sustained rate; 0: no limit.
    interval: i64,
    /// How far the TAT may run ahead of now: `burst` intervals.
    tolerance: i64,
    capacity: usize,
    table: Mutex<Table<K>>,
}

#[derive(Debug)]
struct Table<K> {
    tats: HashMap<K, i64>,
    swept_at: i64,
}

impl<K: Hash + Eq> Gcra<K> {
    fn new(per_minute: u32, burst: u32, capacity: usize) -> Self {
        let interval = match per_minute {
            0 => 0,
            n => (60_000_000 / i64::from(n)).max(1),
        };
        Self {
            interval,
            tolerance: interval.saturating_mul(i64::from(burst.max(1))),
            capacity: capacity.max(1),
            table: Mutex::new(Table {
                tats: HashMap::new(),
                swept_at: i64::MIN,
            }),
        }
    }

    /// Counts one request of `key` at `now` (microseconds), or says how long to wait.
    fn check(&self, key: K, now: i64) -> Result<(), Limited> {
        if self.interval == 0 {
            return Ok(());
        }
        // The table is consistent after every statement: a panic elsewhere cannot corrupt it.
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let full = table.tats.len() >= self.capacity && !table.tats.contains_key(&key);
        if full || now.saturating_sub(table.swept_at) >= SWEEP_EVERY_US {
            table.sweep(now, self.capacity);
        }
        // A clock set back must not lock a key out for longer than one full bucket.
        let ceiling = now.saturating_add(self.tolerance);
        let tat = table.tats.entry(key).or_insert(now);
        *tat = (*tat).clamp(now, ceiling);
        let next = tat.saturating_add(self.interval);
        let ahead = next - now;
        if ahead > self.tolerance {
            let wait = u64::try_from(ahead - self.tolerance).unwrap_or(1);
            let retry_after = wait.div_ceil(1_000_000).max(1);
            return Err(Limited { retry_after });
        }
        *tat = next;
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table.lock().unwrap_or_else(PoisonError::into_inner).tats.len()
    }
}

impl<K: Hash + Eq> Table<K> {
    /// Drops the keys whose bucket has refilled; when the table is still full, also the tenth
    /// of the keys nearest to refilled, which lose the least by starting afresh.
    fn sweep(&mut self, now: i64, capacity: usize) {
        self.swept_at = now;
        self.tats.retain(|_, tat| *tat > now);
        if self.tats.len() >= capacity {
            let mut tats: Vec<i64> = self.tats.values().copied().collect();
            let cut = tats.len() / 10;
            let (_, threshold, _) = tats.select_nth_unstable(cut);
            let threshold = *threshold;
            self.tats.retain(|_, tat| *tat > threshold);
        }
    }
}

/// Answers a query string longer than `limits.max_query_bytes` with 414 and a page, before any
/// handler parses it.
pub async fn bound_query(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let max = request.app_data::<web::Data<Limits>>().map(|l| l.max_query_bytes);
    if max.is_some_and(|max| request.query_string().len() > max) {
        let response = pages::uri_too_long_page(pages::Lang::of(request.request()));
        return Ok(request.into_response(response).map_into_right_body());
    }
    next.call(request).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    #[test]
    fn a_key_gets_its_burst_then_one_request_per_interval() {
        let gcra = Gcra::new(60, 3, 100);
        let t0 = 1_000 * SECOND;
        for _ in 0..3 {
            assert_eq!(gcra.check("a", t0), Ok(()));
        }
        assert_eq!(gcra.check("a", t0), Err(Limited { retry_after: 1 }));
        assert_eq!(gcra.check("b", t0), Ok(()), "other keys are not affected");
        assert_eq!(gcra.check("a", t0 + SECOND / 2), Err(Limited { retry_after: 1 }));
        assert_eq!(gcra.check("a", t0 + SECOND), Ok(()));
        assert!(gcra.check("a", t0 + SECOND).is_err());
        // After three idle intervals the whole burst is back.
        let later = t0 + 4 * SECOND;
        for _ in 0..3 {
            assert_eq!(gcra.check("a", later), Ok(()));
        }
        assert!(gcra.check("a", later).is_err());
    }

    #[test]
    fn retry_after_counts_the_seconds_until_the_next_allowed_request() {
        let gcra = Gcra::new(2, 1, 100);
        assert_eq!(gcra.check("a", 0), Ok(()));
        assert_eq!(gcra.check("a", 0), Err(Limited { retry_after: 30 }));
        assert_eq!(gcra.check("a", 29 * SECOND + 1), Err(Limited { retry_after: 1 }));
        assert_eq!(gcra.check("a", 30 * SECOND), Ok(()));
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        let gcra = Gcra::new(0, 1, 10);
        for _ in 0..1000 {
            assert_eq!(gcra.check("a", 0), Ok(()));
        }
        assert_eq!(gcra.tracked(), 0);
    }

    #[test]
    fn refilled_keys_are_forgotten_and_the_table_stays_bounded() {
        let gcra = Gcra::new(60, 2, 50);
        for i in 0..40 {
            gcra.check(i, 0).unwrap();
        }
        assert_eq!(gcra.tracked(), 40);
        // A minute later every bucket has refilled: the periodic sweep drops them all.
        gcra.check(1000, 61 * SECOND).unwrap();
        assert_eq!(gcra.tracked(), 1);
        // A flood of new keys never grows the table past its capacity.
        for i in 0..10_000 {
            let _ = gcra.check(i, 62 * SECOND);
            assert!(gcra.tracked() <= 50);
        }
    }

    #[test]
    fn a_full_table_forgets_the_least_limited_keys_first() {
        let gcra = Gcra::new(60, 5, 10);
        for _ in 0..5 {
            gcra.check(0, 0).unwrap();
        }
        assert!(gcra.check(0, 0).is_err());
        for i in 1..20 {
            let _ = gcra.check(i, 0);
        }
        assert!(gcra.check(0, 0).is_err(), "the most limited key is still remembered");
    }

    #[test]
    fn a_clock_set_back_does_not_lock_a_key_out_for_long() {
        let gcra = Gcra::new(60, 2, 10);
        let t0 = 10_000 * SECOND;
        gcra.check("a", t0).unwrap();
        gcra.check("a", t0).unwrap();
        let earlier = t0 - 3_600 * SECOND;
        assert_eq!(gcra.check("a", earlier), Err(Limited { retry_after: 1 }));
        assert_eq!(gcra.check("a", earlier + SECOND), Ok(()));
    }

    #[test]
    fn the_peer_is_the_source_unless_it_is_a_trusted_proxy() {
        let trusted = ranges(&["10.0.0.0/8", "2001:db8::/32"]);
        let xff = ["198.51.100.7, 10.1.1.1"];
        assert_eq!(
            source_address(Some(ip("192.0.2.1")), &xff, &trusted),
            Some(ip("192.0.2.1")),
            "a client cannot claim another address"
        );
        assert_eq!(
            source_address(Some(ip("10.2.2.2")), &xff, &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(source_address(Some(ip("10.2.2.2")), &xff, &[]), Some(ip("10.2.2.2")));
        assert_eq!(
            source_address(Some(ip("10.2.2.2")), &[], &trusted),
            Some(ip("10.2.2.2"))
        );
        assert_eq!(source_address(None, &xff, &trusted), None);
    }

    #[test]
    fn forwarded_entries_are_read_from_the_nearest_hop_and_spoofed_ones_are_ignored() {
        let trusted = ranges(&["10.0.0.0/8"]);
        let proxy = Some(ip("10.0.0.1"));
        // The client put a fake address first; the proxy appended the real one.
        let spoofed = ["1.2.3.4", "203.0.113.9, 10.0.0.2"];
        assert_eq!(source_address(proxy, &spoofed, &trusted), Some(ip("203.0.113.9")));
        // Every hop trusted: the first one.
        assert_eq!(
            source_address(proxy, &["10.9.9.9, 10.0.0.2"], &trusted),
            Some(ip("10.9.9.9"))
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            source_address(proxy, &["203.0.113.9, unknown"], &trusted),
            Some(ip("10.0.0.1"))
        );
        // Ports, brackets and IPv4-mapped IPv6.
        assert_eq!(
            source_address(proxy, &["[2001:db8::5]:443"], &trusted),
            Some(ip("2001:db8::5"))
        );
        assert_eq!(
            source_address(proxy, &["203.0.113.9:5555"], &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            source_address(proxy, &["::ffff:203.0.113.9"], &trusted),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            source_address(Some(ip("::ffff:10.0.0.1")), &["203.0.113.9"], &trusted),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn ipv6_addresses_are_limited_by_their_slash_64() {
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("2001:db8:1:2:bbbb::9")), ip("2001:db8:1:2::"));
        assert_ne!(address_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
