//! The DingTalk client: the only code that knows DingTalk's URLs, headers, JSON and error codes.
//! The wire contract it follows is DINGTALK-API.md.

mod app_token;
mod envelope;
mod models;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use crate::clock::SharedClock;
use crate::config::{DingTalkSettings, Secret};
use crate::identity::{Identity, Upstream, UpstreamError as DingTalkError};
use app_token::AppTokenCache;
pub use envelope::Failure;
use models::{AppAccessToken, ByUnionId, Me, OapiResult, UserAccessToken, UserDetail};

/// oapi codes meaning "the app token is no good": fetch a new one and retry once (§3.5).
const STALE_TOKEN_CODES: &[i64] = &[40014, 42001, 40001, 33001];
/// oapi codes meaning "try later" (§11.1).
const BUSY_CODES: &[i64] = &[-1, 15, 90002, 90018, 90019];

impl Upstream for DingTalk {
    fn login_url(&self, callback: &str, state: &str) -> String {
        DingTalk::login_url(self, callback, state)
    }

    async fn resolve_web_login(&self, code: &str) -> Result<Identity, DingTalkError> {
        self.web_login(code).await
    }
}

/// A DingTalk app's client, holding its cached app access token.
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
    app_token: AppTokenCache,
    clock: SharedClock,
}

impl DingTalk {
    pub fn new(settings: &DingTalkSettings, clock: SharedClock) -> Result<Self, DingTalkError> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .user_agent(concat!("dingo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DingTalkError::Unavailable(e.without_url().to_string()))?;
        let login_base =
            Url::parse(&settings.login_base_url).map_err(|e| DingTalkError::Refused {
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
            app_token: AppTokenCache::default(),
            clock,
        })
    }

    pub fn corp_id(&self) -> &str {
        &self.corp_id
    }

    /// DingTalk's web login page for this app (§6.1); `redirect_uri` is dingo's callback.
    pub fn login_url(&self, redirect_uri: &str, state: &str) -> String {
        let mut url = self.login_base.clone();
        url.set_path(&format!("{}/oauth2/auth", url.path().trim_end_matches('/')));
        url.query_pairs_mut()
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", &self.login_scope)
            .append_pair("state", state)
            .append_pair("prompt", "consent");
        url.into()
    }

    /// The web login chain (§13 "Web"): code → user token → unionId → userid → profile.
    pub async fn web_login(&self, auth_code: &str) -> Result<Identity, DingTalkError> {
        let user_token = self.user_access_token(auth_code).await?;
        if user_token
            .corp_id
            .as_ref()
            .is_some_and(|corp| corp != &self.corp_id)
        {
            return Err(DingTalkError::NotMember);
        }
        let me = self.current_user(&user_token.access_token).await?;
        let userid = self.userid_by_unionid(&me.union_id).await?;
        let detail = self.user_detail(&userid).await?;
        Ok(self.identity(detail, &me))
    }

    fn identity(&self, d: UserDetail, me: &Me) -> Identity {
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        Identity {
            userid: d.userid,
            unionid: d.unionid,
            corp_id: self.corp_id.clone(),
            name: d.name,
            avatar: non_empty(d.avatar).or_else(|| non_empty(me.avatar_url.clone())),
            mobile: non_empty(d.mobile),
            state_code: non_empty(d.state_code),
            org_email: non_empty(d.org_email),
            email: non_empty(d.email).or_else(|| non_empty(me.email.clone())),
            job_number: non_empty(d.job_number),
            title: non_empty(d.title),
            dept_ids: d.dept_id_list,
            active: d.active,
            admin: d.admin,
            boss: d.boss,
        }
    }

    async fn user_access_token(&self, code: &str) -> Result<UserAccessToken, DingTalkError> {
        let body = json!({
            "clientId": self.client_id,
            "clientSecret": self.client_secret.expose(),
            "code": code,
            "grantType": "authorization_code",
        });
        let request = self
            .http
            .post(format!("{}/v1.0/oauth2/userAccessToken", self.api_base))
            .json(&body);
        self.api_call("oauth2/userAccessToken", request)
            .await
            .map_err(|e| match e {
                CallError::Failed(Failure::Api { code, .. })
                    if code == "invalidParameter.authCode.notFound" || code == "invalidCode" =>
                {
                    DingTalkError::InvalidCode
                }
                other => other.into_error("oauth2/userAccessToken"),
            })
    }

    async fn current_user(&self, user_token: &str) -> Result<Me, DingTalkError> {
        let request = self
            .http
            .get(format!("{}/v1.0/contact/users/me", self.api_base))
            .header("x-acs-dingtalk-access-token", user_token);
        self.api_call("contact/users/me", request)
            .await
            .map_err(|e| e.into_error("contact/users/me"))
    }

    async fn userid_by_unionid(&self, unionid: &str) -> Result<String, DingTalkError> {
        let found: ByUnionId = self
            .oapi_call("topapi/user/getbyunionid", &json!({ "unionid": unionid }))
            .await?;
        if found.contact_type != 0 {
            return Err(DingTalkError::NotMember);
        }
        Ok(found.userid)
    }

    async fn user_detail(&self, userid: &str) -> Result<UserDetail, DingTalkError> {
        self.oapi_call(
            "topapi/v2/user/get",
            &json!({ "userid": userid, "language": "zh_CN" }),
        )
        .await
    }

    /// An app access token, from the cache or freshly fetched by one request (§3.2, §3.5).
    async fn app_token(&self) -> Result<String, DingTalkError> {
        let now = self.clock.now();
        self.app_token
            .get_or_fetch(now, || async {
                let body =
                    json!({"appKey": self.client_id, "appSecret": self.client_secret.expose()});
                let request = self
                    .http
                    .post(format!("{}/v1.0/oauth2/accessToken", self.api_base))
                    .json(&body);
                let token: AppAccessToken = self
                    .api_call("oauth2/accessToken", request)
                    .await
                    .map_err(|e| e.into_error("oauth2/accessToken"))?;
                Ok((token.access_token, now + token.expire_in))
            })
            .await
    }

    /// A `topapi` POST with the app token; a stale token is replaced and the call retried once.
    async fn oapi_call<T: DeserializeOwned>(
        &self,
        api: &'static str,
        body: &impl Serialize,
    ) -> Result<T, DingTalkError> {
        let mut retried = false;
        loop {
            let token = self.app_token().await?;
            let request = self
                .http
                .post(format!("{}/{api}", self.oapi_base))
                .query(&[("access_token", token.as_str())])
                .json(body);
            let result: Result<OapiResult<T>, CallError> = self
                .send(request, |_, bytes| envelope::parse_oapi(bytes))
                .await;
            match result {
                Ok(ok) => return Ok(ok.result),
                Err(CallError::Failed(Failure::Oapi { code, .. }))
                    if STALE_TOKEN_CODES.contains(&code) && !retried =>
                {
                    self.app_token.invalidate(&token).await;
                    retried = true;
                }
                Err(CallError::Failed(Failure::Oapi { code: 60121, .. })) => {
                    return Err(DingTalkError::NotMember);
                }
                Err(e) => return Err(e.into_error(api)),
            }
        }
    }

    async fn api_call<T: DeserializeOwned>(
        &self,
        _api: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CallError> {
        self.send(request, envelope::parse_api).await
    }

    async fn send<T>(
        &self,
        request: reqwest::RequestBuilder,
        parse: impl FnOnce(u16, &[u8]) -> Result<T, Failure>,
    ) -> Result<T, CallError> {
        let response = request.send().await.map_err(CallError::transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(CallError::transport)?;
        if status >= 500 {
            return Err(CallError::Unavailable(format!("HTTP {status}")));
        }
        parse(status, &body).map_err(CallError::Failed)
    }
}

/// One call's failure, before it is given a meaning.
#[derive(Debug)]
enum CallError {
    Unavailable(String),
    Failed(Failure),
}

impl CallError {
    /// Transport errors never carry the URL: it may hold an access token.
    fn transport(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "transport error"
        };
        CallError::Unavailable(format!("{kind}: {}", e.without_url()))
    }

    fn into_error(self, api: &'static str) -> DingTalkError {
        match self {
            CallError::Unavailable(why) => DingTalkError::Unavailable(format!("{api}: {why}")),
            CallError::Failed(Failure::Oapi { code, .. }) if BUSY_CODES.contains(&code) => {
                DingTalkError::Unavailable(format!("{api}: busy (errcode {code})"))
            }
            CallError::Failed(Failure::Api { code, .. })
                if code.starts_with("Forbidden.AccessDenied.Qp") =>
            {
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

#[cfg(test)]
mod tests;
