//! dingo's metric series, held in `AppState` and handed to the DingTalk client.

use std::time::Duration;

use super::registry::{self, Counter, Family, Gauge, Histogram, LATENCY_BUCKETS};

/// Every series dingo exports on `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    http_requests: Counter<3>,
    http_duration: Histogram<1>,
    dingtalk_calls: Counter<2>,
    dingtalk_duration: Histogram<1>,
    app_token_cache: Counter<1>,
    dingtalk_retries: Counter<1>,
    dingtalk_circuit: Gauge,
    logins: Counter<2>,
    tokens_issued: Counter<1>,
    refresh_outage_grants: Counter<1>,
    sessions_active: Gauge,
    rate_limited: Counter<2>,
    jobs: Counter<2>,
    jobs_waiting: Gauge,
    jobs_dead: Gauge,
    org_events: Counter<3>,
    org_events_refused: Counter<2>,
    event_to_logout: Histogram<1>,
    reconcile_lag: Gauge,
    stream_connected: Gauge,
    stream_reconnects: Counter<1>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            http_requests: Counter::new(
                "dingo_http_requests_total",
                "HTTP requests answered, by route pattern, method and status.",
                ["route", "method", "status"],
            ),
            http_duration: Histogram::new(
                "dingo_http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern.",
                ["route"],
                LATENCY_BUCKETS,
            ),
            dingtalk_calls: Counter::new(
                "dingo_dingtalk_calls_total",
                "Requests to DingTalk (retries included), by API and result (ok, the errcode or code, timeout, connect_error, http_5xx, malformed; circuit_open or rate_limited when not sent).",
                ["api", "result"],
            ),
            dingtalk_duration: Histogram::new(
                "dingo_dingtalk_call_duration_seconds",
                "Time a DingTalk call took, by API.",
                ["api"],
                LATENCY_BUCKETS,
            ),
            app_token_cache: Counter::new(
                "dingo_dingtalk_app_token_cache_total",
                "Lookups of the cached DingTalk app access token.",
                ["result"],
            ),
            dingtalk_retries: Counter::new(
                "dingo_dingtalk_retries_total",
                "DingTalk calls sent again after DingTalk failed, by API.",
                ["api"],
            ),
            dingtalk_circuit: Gauge::new(
                "dingo_dingtalk_circuit_state",
                "The circuit breaker in front of DingTalk: 0 closed, 1 open (calls fail at once), 2 half-open.",
            ),
            logins: Counter::new(
                "dingo_logins_total",
                "Completed DingTalk logins, by login route and outcome.",
                ["route", "outcome"],
            ),
            tokens_issued: Counter::new(
                "dingo_tokens_issued_total",
                "Token responses issued, by grant type.",
                ["grant"],
            ),
            refresh_outage_grants: Counter::new(
                "dingo_refresh_outage_grants_total",
                "Refreshes granted from what dingo knew while DingTalk could not be reached, by client.",
                ["client"],
            ),
            sessions_active: Gauge::new("dingo_sessions_active", "Live dingo login sessions."),
            rate_limited: Counter::new(
                "dingo_rate_limited_total",
                "Requests refused with 429 by a rate limit, by route pattern and what was limited (client, address).",
                ["route", "key"],
            ),
            jobs: Counter::new(
                "dingo_jobs_total",
                "Background job attempts (back-channel logouts, …) by kind and outcome (done, retried, dead).",
                ["kind", "outcome"],
            ),
            jobs_waiting: Gauge::new(
                "dingo_jobs_waiting",
                "Background jobs queued in the database and not yet done (every instance's).",
            ),
            jobs_dead: Gauge::new(
                "dingo_jobs_dead",
                "Background jobs given up after their last attempt, kept a week for operators to look at.",
            ),
            org_events: Counter::new(
                "dingo_org_events_total",
                "DingTalk organisation-change events received, by how they came (stream, http, reconcile), event type and result (recorded, duplicate, ignored: a type dingo does not act on).",
                ["via", "type", "result"],
            ),
            org_events_refused: Counter::new(
                "dingo_org_events_refused_total",
                "Event pushes refused and left unread, by how they came and why (signature, owner, ciphertext, payload).",
                ["via", "reason"],
            ),
            event_to_logout: Histogram::new(
                "dingo_org_event_to_logout_seconds",
                "Time from an organisation-change event's arrival to each back-channel logout it caused being delivered, by how the event came.",
                ["via"],
                LATENCY_BUCKETS,
            ),
            reconcile_lag: Gauge::new(
                "dingo_reconcile_lag_seconds",
                "Seconds since the last completed reconciliation with DingTalk's directory (leavers and live access re-checked).",
            ),
            stream_connected: Gauge::new(
                "dingo_events_stream_connected",
                "Stream-mode connections to DingTalk open on this instance (two while one replaces another).",
            ),
            stream_reconnects: Counter::new(
                "dingo_events_stream_reconnects_total",
                "Stream-mode connections opened again, by why the last one ended (disconnect, ttl, silent, pong_timeout, closed, error, auth_failed, open_failed).",
                ["reason"],
            ),
        }
    }

    /// One answered HTTP request. `route` is the matched route pattern, never the raw path.
    pub fn record_http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.http_requests.inc([route, method, &status]);
        self.http_duration.observe([route], took.as_secs_f64());
    }

    /// One DingTalk call: `api` such as `topapi/v2/user/get`, `result` such as `ok` or `60121`.
    pub fn record_dingtalk_call(&self, api: &str, result: &str, took: Duration) {
        self.dingtalk_calls.inc([api, result]);
        self.dingtalk_duration.observe([api], took.as_secs_f64());
    }

    /// One app-token lookup: served from the cache (`hit`) or fetched.
    pub fn record_app_token_cache(&self, hit: bool) {
        self.app_token_cache.inc([if hit { "hit" } else { "miss" }]);
    }

    /// A DingTalk request that was not sent, by why (such as `rate_limited`): counted, not timed.
    pub fn record_dingtalk_unsent(&self, api: &str, result: &str) {
        self.dingtalk_calls.inc([api, result]);
    }

    /// A DingTalk call about to be sent again.
    pub fn record_dingtalk_retry(&self, api: &str) {
        self.dingtalk_retries.inc([api]);
    }

    /// The circuit breaker's state: 0 closed, 1 open, 2 half-open.
    pub fn set_dingtalk_circuit(&self, state: i64) {
        self.dingtalk_circuit.set(state);
    }

    /// One finished login: `route` is how DingTalk authenticated the person (`dingtalk_web`,
    /// `dingtalk_inapp`, `dingtalk_sns`, `dingtalk_openauth`) or `session` (answered from a dingo
    /// session); `outcome` is `success`, `refused_not_member`, `refused_not_visible`,
    /// `refused_inactive`, `refused_policy`, `refused_disabled`, `code_rejected`,
    /// `upstream_error` or `upstream_refused`.
    pub fn record_login(&self, route: &str, outcome: &str) {
        self.logins.inc([route, outcome]);
    }

    /// One token response, by `grant` (`authorization_code`, `refresh_token`).
    pub fn record_token(&self, grant: &str) {
        self.tokens_issued.inc([grant]);
    }

    /// A refresh granted within `identity.refresh_outage_grace` while DingTalk was unreachable.
    pub fn record_refresh_outage_grant(&self, client: &str) {
        self.refresh_outage_grants.inc([client]);
    }

    /// The number of live sessions.
    pub fn set_sessions_active(&self, n: i64) {
        self.sessions_active.set(n);
    }

    /// One request refused by a rate limit: `key` is `client` or `address`.
    pub fn record_rate_limited(&self, route: &str, key: &str) {
        self.rate_limited.inc([route, key]);
    }

    /// One attempt at a background job: `outcome` is `done`, `retried` or `dead`.
    pub fn record_job(&self, kind: &str, outcome: &str) {
        self.jobs.inc([kind, outcome]);
    }

    /// The jobs in the queue, waiting and dead.
    pub fn set_jobs(&self, waiting: i64, dead: i64) {
        self.jobs_waiting.set(waiting);
        self.jobs_dead.set(dead);
    }

    /// One organisation-change event: `result` is `recorded`, `duplicate` or `ignored`.
    pub fn record_org_event(&self, via: &str, event_type: &str, result: &str) {
        self.org_events.inc([via, event_type, result]);
    }

    /// One event push refused unread: `reason` is `signature`, `owner`, `ciphertext` or `payload`.
    pub fn record_org_event_refused(&self, via: &str, reason: &str) {
        self.org_events_refused.inc([via, reason]);
    }

    /// A back-channel logout delivered `took` after the event that caused it arrived.
    pub fn observe_event_to_logout(&self, via: &str, took: Duration) {
        self.event_to_logout.observe([via], took.as_secs_f64());
    }

    pub fn set_reconcile_lag(&self, seconds: i64) {
        self.reconcile_lag.set(seconds);
    }

    /// A Stream-mode connection opened (`+1`) or ended (`-1`).
    pub fn add_stream_connected(&self, delta: i64) {
        self.stream_connected.add(delta);
    }

    /// A Stream-mode connection is being opened again because of `reason`.
    pub fn record_stream_reconnect(&self, reason: &str) {
        self.stream_reconnects.inc([reason]);
    }

    /// The text exposition (format 0.0.4) of every series.
    pub fn render(&self) -> String {
        let families: [&dyn Family; 21] = [
            &self.http_requests,
            &self.http_duration,
            &self.dingtalk_calls,
            &self.dingtalk_duration,
            &self.app_token_cache,
            &self.dingtalk_retries,
            &self.dingtalk_circuit,
            &self.logins,
            &self.tokens_issued,
            &self.refresh_outage_grants,
            &self.sessions_active,
            &self.rate_limited,
            &self.jobs,
            &self.jobs_waiting,
            &self.jobs_dead,
            &self.org_events,
            &self.org_events_refused,
            &self.event_to_logout,
            &self.reconcile_lag,
            &self.stream_connected,
            &self.stream_reconnects,
        ];
        registry::render(&families)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_declared_even_before_anything_happens() {
        let text = Metrics::new().render();
        for (name, kind) in [
            ("dingo_http_requests_total", "counter"),
            ("dingo_http_request_duration_seconds", "histogram"),
            ("dingo_dingtalk_calls_total", "counter"),
            ("dingo_dingtalk_call_duration_seconds", "histogram"),
            ("dingo_dingtalk_app_token_cache_total", "counter"),
            ("dingo_dingtalk_retries_total", "counter"),
            ("dingo_dingtalk_circuit_state", "gauge"),
            ("dingo_logins_total", "counter"),
            ("dingo_tokens_issued_total", "counter"),
            ("dingo_refresh_outage_grants_total", "counter"),
            ("dingo_sessions_active", "gauge"),
            ("dingo_rate_limited_total", "counter"),
            ("dingo_jobs_total", "counter"),
            ("dingo_jobs_waiting", "gauge"),
            ("dingo_jobs_dead", "gauge"),
            ("dingo_org_events_total", "counter"),
            ("dingo_org_events_refused_total", "counter"),
            ("dingo_org_event_to_logout_seconds", "histogram"),
            ("dingo_reconcile_lag_seconds", "gauge"),
            ("dingo_events_stream_connected", "gauge"),
            ("dingo_events_stream_reconnects_total", "counter"),
        ] {
            assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
        }
        assert!(text.contains("\ndingo_sessions_active 0\n"));
    }

    #[test]
    fn the_recording_methods_feed_their_series() {
        let metrics = Metrics::new();
        metrics.record_login("web", "success");
        metrics.record_token("authorization_code");
        metrics.record_token("authorization_code");
        metrics.set_sessions_active(3);
        metrics.record_app_token_cache(false);
        metrics.record_app_token_cache(true);
        metrics.record_http_request("/token", "POST", 200, Duration::from_millis(3));
        metrics.record_dingtalk_retry("topapi/v2/user/get");
        metrics.set_dingtalk_circuit(1);
        metrics.record_rate_limited("/token", "client");
        metrics.record_job("backchannel_logout", "dead");
        metrics.set_jobs(4, 1);
        let text = metrics.render();
        for line in [
            "dingo_logins_total{route=\"web\",outcome=\"success\"} 1",
            "dingo_tokens_issued_total{grant=\"authorization_code\"} 2",
            "dingo_sessions_active 3",
            "dingo_dingtalk_app_token_cache_total{result=\"hit\"} 1",
            "dingo_dingtalk_app_token_cache_total{result=\"miss\"} 1",
            "dingo_http_requests_total{route=\"/token\",method=\"POST\",status=\"200\"} 1",
            "dingo_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.005\"} 1",
            "dingo_http_request_duration_seconds_count{route=\"/token\"} 1",
            "dingo_dingtalk_retries_total{api=\"topapi/v2/user/get\"} 1",
            "dingo_dingtalk_circuit_state 1",
            "dingo_rate_limited_total{route=\"/token\",key=\"client\"} 1",
            "dingo_jobs_total{kind=\"backchannel_logout\",outcome=\"dead\"} 1",
            "dingo_jobs_waiting 4",
            "dingo_jobs_dead 1",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
    }
}
