//! The DingTalk client: the only code that knows DingTalk's URLs, headers, JSON and error codes.
//! The wire contract it follows is DINGTALK-API.md.

mod app_token;
mod breaker;
mod directory;
mod envelope;
pub mod events;
mod leavers;
mod limiter;
mod login;
mod models;
mod outcome;
mod retry;
mod sns;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::clock::SharedClock;
use crate::config::{DingTalkSettings, Secret, WebLogin};
use crate::identity::{Identity, LoginRoute, Upstream, UpstreamCode, UpstreamError as DingTalkError};
use crate::telemetry::Metrics;
use app_token::AppTokenCache;
use breaker::Breaker;
use directory::{DepartmentCache, UnionIdCache};
pub use envelope::Failure;
pub use leavers::Leaver;
use limiter::Limiter;
use models::OapiResult;
use retry::{Backoff, Repeat};
pub use sns::signature as sns_signature;

/// oapi codes meaning "the app token is no good": fetch a new one and retry once (§3.5).
const STALE_TOKEN_CODES: &[i64] = &[40014, 42001, 40001, 33001];
/// The api family's code for the same (§3.5, §11.2).
const STALE_TOKEN_API_CODE: &str = "InvalidAuthentication";
/// oapi codes meaning "DingTalk is struggling, try later" (§11.1): system busy, and an upstream
/// timeout (15, and 88 without a `sub_code`).
const BUSY_CODES: &[i64] = &[-1, 15, 88];
/// Of those, the one answered before any API runs (系统繁忙).
const OAPI_BUSY: i64 = -1;
/// The api family's "system busy" (HTTP 500, §11.2).
const API_BUSY: &str = "system.busy";
/// oapi codes meaning "too many calls to this API, try later" (§11.1, §12): QPS limits.
const THROTTLED_CODES: &[i64] = &[90002, 90018, 90019];
/// What a call fails with while the circuit is open.
const CIRCUIT_OPEN: &str = "DingTalk unavailable (circuit open)";

/// A DingTalk app's client, holding its cached app token, unionid mappings and departments.
#[derive(Debug)]
pub struct DingTalk {
    http: reqwest::Client,
    client_id: String,
    client_secret: Secret,
    corp_id: String,
    login_base: Url,
    api_base: String,
    oapi_base: String,
    login_scope: String,
    web_login: WebLogin,
    legacy_app_id: String,
    legacy_app_secret: Secret,
    app_token: AppTokenCache,
    unionids: UnionIdCache,
    departments: DepartmentCache,
    /// Whether operators were told that some departments cannot be read (told once).
    unreadable_departments_told: std::sync::atomic::AtomicBool,
    /// Time allowed for one call, its retries and its wait for the limiter included.
    timeout: Duration,
    backoff: Backoff,
    breaker: Breaker,
    limiter: Limiter,
    clock: SharedClock,
    metrics: Arc<Metrics>,
}

impl Upstream for DingTalk {
    fn login_url(&self, callback: &str, state: &str, in_client: bool) -> String {
        match self.web_login {
            WebLogin::Oauth2 => self.oauth2_login_url(callback, state),
            WebLogin::Legacy => self.legacy_login_url(callback, state, in_client),
        }
    }

    fn web_route(&self) -> LoginRoute {
        match self.web_login {
            WebLogin::Oauth2 => LoginRoute::Web,
            WebLogin::Legacy => LoginRoute::Legacy,
        }
    }

    async fn identity_of(&self, userid: &str) -> Result<Identity, DingTalkError> {
        self.identity(userid, None).await
    }

    async fn resolve(&self, code: &UpstreamCode) -> Result<Identity, DingTalkError> {
        match code.route {
            LoginRoute::Web | LoginRoute::OpenAuth => {
                let me = self.user_by_authorization_code(&code.code).await?;
                self.identity_by_unionid(&me.union_id, Some(&me)).await
            }
            LoginRoute::Legacy => {
                let unionid = self.unionid_by_sns_code(&code.code).await?;
                self.identity_by_unionid(&unionid, None).await
            }
            LoginRoute::InApp => {
                let userid = self.userid_by_inapp_code(&code.code).await?;
                self.identity(&userid, None).await
            }
        }
    }
}

impl DingTalk {
    pub fn new(
        settings: &DingTalkSettings,
        department_cache_ttl: i64,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Self, DingTalkError> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .user_agent(concat!("dingo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DingTalkError::Unavailable(e.without_url().to_string()))?;
        let login_base = Url::parse(&settings.login_base_url).map_err(|e| DingTalkError::Refused {
            api: "login_base_url",
            detail: e.to_string(),
        })?;
        Ok(Self {
            http,
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            corp_id: settings.corp_id.clone(),
            login_base,
            api_base: settings.api_base_url.trim_end_matches('/').to_owned(),
            oapi_base: settings.oapi_base_url.trim_end_matches('/').to_owned(),
            login_scope: settings.login_scope.clone(),
            web_login: settings.web_login,
            legacy_app_id: settings.legacy_app_id.clone(),
            legacy_app_secret: settings.legacy_app_secret.clone(),
            app_token: AppTokenCache::default(),
            unionids: UnionIdCache::default(),
            departments: DepartmentCache::new(department_cache_ttl),
            unreadable_departments_told: std::sync::atomic::AtomicBool::new(false),
            timeout,
            backoff: Backoff {
                retries: settings.retries,
                base: Duration::from_millis(settings.retry_backoff_ms),
            },
            breaker: Breaker::new(
                settings.breaker_threshold,
                Duration::from_millis(settings.breaker_cooldown_ms),
                timeout,
            ),
            limiter: Limiter::new(settings.rate_limit_per_second),
            clock,
            metrics,
        })
    }

    /// The organisation's corpId.
    pub fn corp_id(&self) -> &str {
        &self.corp_id
    }

    /// The app's Client ID (AppKey), which the in-app JSAPI call names.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// An app access token, from the cache or freshly fetched by one request (§3.2, §3.5).
    async fn app_token(&self) -> Result<String, DingTalkError> {
        let now = self.clock.now();
        let lookup = self
            .app_token
            .get_or_fetch(now, || async {
                let body = serde_json::json!({"appKey": self.client_id, "appSecret": self.client_secret.expose()});
                let request = self
                    .http
                    .post(format!("{}/v1.0/oauth2/accessToken", self.api_base))
                    .json(&body);
                let token: models::AppAccessToken = self
                    .send("oauth2/accessToken", Repeat::Safe, request, envelope::parse_api)
                    .await
                    .map_err(|e| e.into_error("oauth2/accessToken"))?;
                Ok((token.access_token.expose().to_owned(), now + token.expire_in))
            })
            .await;
        self.metrics.record_app_token_cache(matches!(lookup, Ok((_, true))));
        lookup.map(|(token, _)| token)
    }

    /// Runs `call` with the app token; when DingTalk says the token is stale, the token is
    /// replaced and `call` runs once more. The gateway refuses a stale token before the API
    /// runs, so even a call redeeming a code may go again then: the code was not used.
    async fn with_app_token<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let token = self.app_token().await.map_err(CallError::Upstream)?;
        match call(token.clone()).await {
            Err(e) if e.is_stale_app_token() => {
                self.app_token.invalidate(&token).await;
                let fresh = self.app_token().await.map_err(CallError::Upstream)?;
                call(fresh).await
            }
            other => other,
        }
    }

    /// A `topapi` POST with the app token (see [`DingTalk::with_app_token`]).
    /// Errors come back unmapped so each caller can give codes like 60121 their meaning.
    async fn oapi_call<T: DeserializeOwned>(
        &self,
        api: &'static str,
        repeat: Repeat,
        body: &impl Serialize,
    ) -> Result<T, CallError> {
        self.with_app_token(|token| {
            let request = self
                .http
                .post(format!("{}/{api}", self.oapi_base))
                .query(&[("access_token", token.as_str())])
                .json(body);
            async move {
                self.send(api, repeat, request, |_, bytes| {
                    envelope::parse_oapi::<OapiResult<T>>(bytes)
                })
                .await
                .map(|ok| ok.result)
            }
        })
        .await
    }

    /// Every DingTalk call goes through here. Within one deadline (`timeout_ms`) each request asks
    /// the circuit breaker, waits its turn under the rate limiter and is sent; a call that is
    /// safe to repeat is sent again after a jittered backoff when DingTalk failed or throttled it
    /// (see [`CallError::is_retryable`]). Each request is timed and counted under `api` (a path
    /// such as `topapi/v2/user/get`, never a URL: those may carry tokens).
    async fn send<T>(
        &self,
        api: &'static str,
        repeat: Repeat,
        request: reqwest::RequestBuilder,
        parse: impl Fn(u16, &[u8]) -> Result<T, Failure>,
    ) -> Result<T, CallError> {
        let deadline = Instant::now() + self.timeout;
        let mut request = Some(request);
        let mut retry = 0;
        loop {
            let Some(current) = request.take() else {
                return Err(CallError::Unavailable("the request cannot be repeated".into()));
            };
            // JSON bodies can always be cloned; a request that cannot is simply not retried.
            request = current.try_clone();
            let mut result = self.attempt(api, current, &parse, deadline).await;
            if repeat == Repeat::IfUnused && retry > 0 {
                result = result.map_err(CallError::after_retry);
            }
            let may_repeat = |e: &CallError| match repeat {
                Repeat::Safe => e.is_retryable(),
                Repeat::IfUnused => e.left_unrun(),
            };
            let wait = match &result {
                Err(e) if may_repeat(e) && request.is_some() => self.backoff.delay(retry, retry::jitter()),
                _ => None,
            };
            match wait {
                Some(wait) if Instant::now() + wait < deadline => {
                    self.metrics.record_dingtalk_retry(api);
                    tracing::debug!(api, retry, wait_ms = wait.as_millis() as u64, "DingTalk call retried");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                _ => return result,
            }
        }
    }

    /// One request: limiter, breaker, the exchange, its metrics and the breaker's record.
    async fn attempt<T>(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
        parse: &impl Fn(u16, &[u8]) -> Result<T, Failure>,
        deadline: Instant,
    ) -> Result<T, CallError> {
        let admitted = self.breaker.admit(Instant::now());
        self.metrics.set_dingtalk_circuit(self.breaker.state().gauge());
        if admitted.is_err() {
            self.metrics.record_dingtalk_unsent(api, outcome::CIRCUIT_OPEN);
            return Err(CallError::Upstream(DingTalkError::Unavailable(CIRCUIT_OPEN.into())));
        }
        if self.limiter.wait(api, deadline).await.is_err() {
            self.metrics.record_dingtalk_unsent(api, outcome::RATE_LIMITED);
            // Not an outage: retrying would only queue again.
            return Err(CallError::Upstream(DingTalkError::Unavailable(format!(
                "{api}: too many calls (its turn under the rate limit comes after its deadline)"
            ))));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let result = self.exchange_once(api, request.timeout(remaining), parse).await;
        let failed = result.as_ref().err().is_some_and(CallError::is_outage);
        self.breaker.record(failed, Instant::now());
        self.metrics.set_dingtalk_circuit(self.breaker.state().gauge());
        result
    }

    /// One exchange, read and counted (`dingo_dingtalk_calls_total`), with no limiter, breaker
    /// or retry around it.
    async fn exchange_once<T>(
        &self,
        api: &'static str,
        request: reqwest::RequestBuilder,
        parse: &impl Fn(u16, &[u8]) -> Result<T, Failure>,
    ) -> Result<T, CallError> {
        let started = Instant::now();
        let (result, label): (Result<T, CallError>, String) = match exchange(request).await {
            Err(e) => {
                let label = outcome::of_transport(&e);
                (Err(CallError::transport(e)), label.into())
            }
            Ok((status @ (502..=504), _)) => (
                Err(CallError::Unrun(format!("HTTP {status} from the gateway"))),
                outcome::HTTP_5XX.into(),
            ),
            Ok((status, body)) if status >= 500 && !envelope::is_api_busy(&body) => (
                Err(CallError::Unavailable(format!("HTTP {status}"))),
                outcome::HTTP_5XX.into(),
            ),
            Ok((status, body)) => match parse(status, &body) {
                Ok(value) => (Ok(value), outcome::OK.into()),
                Err(failure) => {
                    let label = outcome::of_failure(&failure);
                    (Err(CallError::Failed(failure)), label)
                }
            },
        };
        let took = started.elapsed();
        self.metrics.record_dingtalk_call(api, &label, took);
        tracing::debug!(api, result = %label, ms = took.as_millis() as u64, "DingTalk call");
        result
    }
}

/// Sends `request` and reads the whole body.
async fn exchange(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

/// One call's failure, before it is given a meaning.
#[derive(Debug)]
enum CallError {
    Unavailable(String),
    /// A failure that shows DingTalk did not run the request: no connection, a connection cut
    /// before any answer, or a gateway's 502/503/504 (see [`Repeat::IfUnused`]).
    Unrun(String),
    Failed(Failure),
    /// Already given a meaning (the app token could not be had).
    Upstream(DingTalkError),
}

impl CallError {
    /// Transport errors never carry the URL: it may hold an access token.
    fn transport(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            CallError::Unavailable(format!("timed out: {}", e.without_url()))
        } else if e.is_connect() {
            CallError::Unrun(format!("connection failed: {}", e.without_url()))
        } else if e.is_request() {
            // Sending failed or the connection closed before an answer began.
            CallError::Unrun(format!("connection cut: {}", e.without_url()))
        } else {
            // The answer began and broke off: the API ran.
            CallError::Unavailable(format!("transport error: {}", e.without_url()))
        }
    }

    /// A failure of a second attempt at redeeming a code: a refusal then may only mean that
    /// the first attempt used the code, so it is an outage, not a rejected code.
    fn after_retry(self) -> Self {
        match self {
            CallError::Failed(f @ (Failure::Oapi { .. } | Failure::Api { .. })) if !Self::failure_unrun(&f) => {
                CallError::Unavailable(format!(
                    "a second attempt was refused ({}); the first, which failed, may have used the code",
                    f.describe()
                ))
            }
            other => other,
        }
    }

    /// DingTalk did not run the request: see [`Repeat::IfUnused`].
    fn left_unrun(&self) -> bool {
        match self {
            CallError::Unrun(_) => true,
            CallError::Failed(f) => Self::failure_unrun(f),
            CallError::Unavailable(_) | CallError::Upstream(_) => false,
        }
    }

    /// Busy or over a QPS limit: answered before the API runs.
    fn failure_unrun(failure: &Failure) -> bool {
        match failure {
            Failure::Oapi { code, .. } => *code == OAPI_BUSY || THROTTLED_CODES.contains(code),
            Failure::Api { code, .. } => code == API_BUSY || is_throttled(code),
            Failure::Malformed(_) => false,
        }
    }

    /// The oapi errcode (or sub_code), when this is an oapi error.
    fn oapi_code(&self) -> Option<i64> {
        match self {
            CallError::Failed(Failure::Oapi { code, .. }) => Some(*code),
            _ => None,
        }
    }

    /// The api `code`, when this is an api error.
    fn api_code(&self) -> Option<&str> {
        match self {
            CallError::Failed(Failure::Api { code, .. }) => Some(code),
            _ => None,
        }
    }

    /// DingTalk said the app token is invalid or expired, in either family (§3.5).
    fn is_stale_app_token(&self) -> bool {
        self.oapi_code().is_some_and(|code| STALE_TOKEN_CODES.contains(&code))
            || self.api_code() == Some(STALE_TOKEN_API_CODE)
    }

    /// DingTalk itself failed: unreachable, timed out, 5xx, busy or a garbled body. Such failures
    /// count towards the circuit breaker; any other answer (60121, a refused code, a QPS limit on
    /// one API…) comes from a working DingTalk.
    fn is_outage(&self) -> bool {
        match self {
            CallError::Unavailable(_) | CallError::Unrun(_) | CallError::Failed(Failure::Malformed(_)) => true,
            CallError::Failed(Failure::Oapi { code, .. }) => BUSY_CODES.contains(code),
            CallError::Failed(Failure::Api { code, .. }) => code == API_BUSY,
            CallError::Upstream(_) => false,
        }
    }

    /// DingTalk's QPS or QPM limit for one API (§12).
    fn is_throttled(&self) -> bool {
        match self {
            CallError::Failed(Failure::Oapi { code, .. }) => THROTTLED_CODES.contains(code),
            CallError::Failed(Failure::Api { code, .. }) => is_throttled(code),
            _ => false,
        }
    }

    /// Worth sending again, when the call may be repeated at all.
    fn is_retryable(&self) -> bool {
        self.is_outage() || self.is_throttled()
    }

    fn into_error(self, api: &'static str) -> DingTalkError {
        match self {
            CallError::Upstream(e) => e,
            CallError::Unavailable(why) | CallError::Unrun(why) => DingTalkError::Unavailable(format!("{api}: {why}")),
            CallError::Failed(Failure::Api { code, .. }) if code == API_BUSY => {
                DingTalkError::Unavailable(format!("{api}: busy ({code})"))
            }
            CallError::Failed(Failure::Oapi { code, .. }) if BUSY_CODES.contains(&code) => {
                DingTalkError::Unavailable(format!("{api}: busy (errcode {code})"))
            }
            CallError::Failed(Failure::Oapi { code, .. }) if THROTTLED_CODES.contains(&code) => {
                DingTalkError::Unavailable(format!("{api}: throttled (errcode {code})"))
            }
            CallError::Failed(Failure::Api { code, .. }) if is_throttled(&code) => {
                DingTalkError::Unavailable(format!("{api}: throttled ({code})"))
            }
            CallError::Failed(Failure::Malformed(why)) => {
                DingTalkError::Unavailable(format!("{api}: malformed response: {why}"))
            }
            CallError::Failed(failure) => DingTalkError::Refused {
                api,
                detail: failure.describe(),
            },
        }
    }
}

/// The api family's QPS and QPM limit codes (§11.2, §12).
fn is_throttled(code: &str) -> bool {
    code.starts_with("Forbidden.AccessDenied.Qp")
}

#[cfg(test)]
mod against_sim;
#[cfg(test)]
mod tests;
