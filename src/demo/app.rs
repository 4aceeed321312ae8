//! The demo relying party: logs in through dingo with the `openidconnect` crate (PKCE, nonce,
//! signature and at_hash checked) and shows what it learnt. It keeps a session per login and
//! implements OpenID back-channel logout, so it can show when dingo ended a session — e.g.
//! after the person was made to leave in the simulator's organisation console.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use anyhow::{Context, anyhow};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::clock::SharedClock;
use crate::crypto::b64url_decode;
use crate::html::{escape, no_store, page};
use crate::sim::Simulator;

/// What the demo remembers between sending the person to dingo and their return.
struct Pending {
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

#[derive(Clone)]
pub struct DemoApp {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    /// The simulator's organisation console, linked from the logged-in page.
    org_console: String,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    /// The demo's own sessions, by the value of its cookie.
    sessions: Mutex<HashMap<String, Session>>,
    /// When someone left the organisation, to show how soon their logout followed.
    sim: Option<Simulator>,
    clock: SharedClock,
}

/// One login at the demo app.
#[derive(Clone)]
struct Session {
    sub: String,
    name: String,
    /// dingo's session id (`sid`), which its back-channel logout names.
    sid: String,
    /// When dingo's back-channel logout ended it (epoch ms).
    logged_out_at_ms: Option<i64>,
}

/// The demo app's session cookie.
const COOKIE: &str = "demo_session";
/// The event a logout token must carry (OpenID Back-Channel Logout 1.0 §2.4).
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

impl DemoApp {
    /// `sim`, when the organisation is simulated, says when people left.
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        org_console: &str,
        sim: Option<Simulator>,
        clock: SharedClock,
    ) -> Self {
        // An OIDC client must not follow redirects from the provider's endpoints.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                issuer: issuer.to_owned(),
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                org_console: org_console.to_owned(),
                http,
                pending: Mutex::new(HashMap::new()),
                sessions: Mutex::new(HashMap::new()),
                sim,
                clock,
            }),
        }
    }

    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
            .route("/session", web::get().to(session))
            .route("/backchannel-logout", web::post().to(backchannel_logout));
    }

    async fn metadata(&self) -> anyhow::Result<CoreProviderMetadata> {
        let issuer = IssuerUrl::new(self.inner.issuer.clone())?;
        CoreProviderMetadata::discover_async(issuer, &self.inner.http)
            .await
            .map_err(|e| anyhow!("discovery failed: {e}"))
    }

    async fn authorization_url(&self, prompt: Option<&str>) -> anyhow::Result<String> {
        let client = CoreClient::from_provider_metadata(self.metadata().await?, self.client_id(), self.client_secret())
            .set_redirect_uri(RedirectUrl::new(self.inner.redirect_uri.clone())?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        if let Some(prompt) = prompt {
            request = request.add_extra_param("prompt", prompt);
        }
        let (url, state, nonce) = request
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("phone".into()))
            .add_scope(Scope::new("groups".into()))
            .add_scope(Scope::new("dingtalk".into()))
            .set_pkce_challenge(challenge)
            .url();
        self.pending()?
            .insert(state.secret().clone(), Pending { nonce, verifier });
        Ok(url.into())
    }

    /// Redeems the code, verifies the ID token and fetches userinfo; returns both as JSON text.
    async fn complete(&self, code: &str, state: &str) -> anyhow::Result<(String, String)> {
        let pending = self.pending()?.remove(state).context("unknown or already used state")?;
        let client = CoreClient::from_provider_metadata(self.metadata().await?, self.client_id(), self.client_secret())
            .set_redirect_uri(RedirectUrl::new(self.inner.redirect_uri.clone())?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.inner.http)
            .await
            .map_err(|e| anyhow!("token request failed: {e}"))?;
        let id_token = tokens.id_token().context("the token response has no id_token")?;
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &pending.nonce)?;
        let expected_hash = claims.access_token_hash().context("the ID token has no at_hash")?;
        let actual_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg()?,
            id_token.signing_key(&verifier)?,
        )?;
        if &actual_hash != expected_hash {
            return Err(anyhow!("at_hash does not match the access token"));
        }
        // The signature is verified: show every claim of the token, DingTalk's included.
        let jwt = id_token.to_string();
        let payload = jwt
            .split('.')
            .nth(1)
            .and_then(b64url_decode)
            .context("unreadable ID token")?;
        let id_claims: serde_json::Value = serde_json::from_slice(&payload)?;
        let userinfo_url = client.user_info_url().context("no userinfo endpoint")?;
        let userinfo: serde_json::Value = self
            .inner
            .http
            .get(userinfo_url.as_str())
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if userinfo["sub"] != id_claims["sub"] {
            return Err(anyhow!("userinfo is about another subject"));
        }
        Ok((
            serde_json::to_string_pretty(&id_claims)?,
            serde_json::to_string_pretty(&userinfo)?,
        ))
    }

    fn pending(&self) -> anyhow::Result<std::sync::MutexGuard<'_, HashMap<String, Pending>>> {
        self.inner.pending.lock().map_err(|_| anyhow!("demo state poisoned"))
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks a logout token as Back-Channel Logout 1.0 §2.6 says (signature by a published
    /// key, issuer, audience, the event, no nonce, a sid) and ends the sessions it names; how
    /// many.
    async fn log_out(&self, logout_token: &str) -> anyhow::Result<usize> {
        use jsonwebtoken::jwk::JwkSet;
        use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
        let header = decode_header(logout_token)?;
        let metadata = self.metadata().await?;
        let keys: JwkSet = self
            .inner
            .http
            .get(metadata.jwks_uri().as_str())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let kid = header.kid.as_deref().context("the logout token names no key")?;
        let jwk = keys.find(kid).context("the logout token's key is not published")?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.inner.client_id]);
        validation.set_issuer(&[&self.inner.issuer]);
        validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
        let claims = decode::<serde_json::Value>(logout_token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims;
        if claims["events"].get(BACKCHANNEL_EVENT).is_none() || claims.get("nonce").is_some() {
            return Err(anyhow!("not a logout token"));
        }
        let sid = claims["sid"].as_str().context("the logout token names no sid")?;
        let now = self.inner.clock.now_ms();
        let mut ended = 0;
        for session in self
            .sessions()
            .values_mut()
            .filter(|s| s.sid == sid && s.logged_out_at_ms.is_none())
        {
            session.logged_out_at_ms = Some(now);
            ended += 1;
        }
        Ok(ended)
    }

    /// When `userid` left the simulated organisation (epoch ms).
    fn left_at_ms(&self, userid: &str) -> Option<i64> {
        let sim = self.inner.sim.as_ref()?;
        sim.leavers().into_iter().find(|(u, _)| u == userid).map(|(_, at)| at)
    }

    fn client_id(&self) -> ClientId {
        ClientId::new(self.inner.client_id.clone())
    }

    fn client_secret(&self) -> Option<ClientSecret> {
        Some(ClientSecret::new(self.inner.client_secret.clone()))
    }
}

async fn home() -> HttpResponse {
    page(
        StatusCode::OK,
        "dingo 演示应用 · Demo app",
        "<h1>dingo 演示应用</h1><p class=\"en\" lang=\"en\">dingo demo app</p>\
         <p>这是一个普通的 OpenID Connect 应用，通过 dingo 使用钉钉登录。</p>\
         <p class=\"en\" lang=\"en\">An ordinary OpenID Connect app that logs in with DingTalk through dingo.</p>\
         <a class=\"button\" id=\"login\" href=\"login\">用钉钉登录 · Log in with DingTalk</a>",
    )
}

/// `/login`, or `/login?prompt=consent` (or `login`) to pass a prompt on to dingo.
async fn login(app: web::Data<DemoApp>, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let prompt = query
        .get("prompt")
        .filter(|p| matches!(p.as_str(), "consent" | "login"));
    match app.authorization_url(prompt.map(String::as_str)).await {
        Ok(url) => HttpResponse::Found().insert_header((LOCATION, url)).finish(),
        Err(e) => failure(&e),
    }
}

async fn callback(app: web::Data<DemoApp>, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    if let Some(error) = query.get("error") {
        let description = query.get("error_description").map(String::as_str).unwrap_or_default();
        return failure(&anyhow!("dingo answered {error}: {description}"));
    }
    let (Some(code), Some(state)) = (query.get("code"), query.get("state")) else {
        return failure(&anyhow!("the callback has no code or state"));
    };
    let (id_claims, userinfo) = match app.complete(code, state).await {
        Ok(shown) => shown,
        Err(e) => return failure(&e),
    };
    let claims: serde_json::Value = serde_json::from_str(&id_claims).unwrap_or_default();
    let text = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
    let session = Session {
        sub: text("sub"),
        name: text("name"),
        sid: text("sid"),
        logged_out_at_ms: None,
    };
    let cookie_value = crate::crypto::random_token();
    app.sessions().insert(cookie_value.clone(), session.clone());
    let mut response = page(
        StatusCode::OK,
        "已登录 · Logged in",
        &format!(
            "<h1>已登录</h1><p class=\"en\" lang=\"en\">Logged in</p>\
             <h2>ID token（已验证签名、nonce、at_hash）· verified claims</h2><pre id=\"id-token\">{}</pre>\
             <h2>UserInfo</h2><pre id=\"userinfo\">{}</pre>\
             <h2>会话 · Session</h2><p>在<a href=\"{org}\" id=\"org-console\">通讯录管理</a>中让 {name} 离职，\
             dingo 会在一秒内通过 back-channel logout 告知本应用；然后查看<a href=\"session\" id=\"session\">会话状态</a>。</p>\
             <p class=\"en\" lang=\"en\">Make {name} leave in the <a href=\"{org}\">organisation console</a>: dingo tells \
             this app by back-channel logout within a second. Then look at the <a href=\"session\">session status</a>.</p>\
             <a class=\"button\" href=\"./\">返回 · Back</a>",
            escape(&id_claims),
            escape(&userinfo),
            org = escape(&app.inner.org_console),
            name = escape(&session.name),
        ),
    );
    let cookie = actix_web::cookie::Cookie::build(COOKIE, cookie_value)
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    let _ = response.add_cookie(&cookie);
    response
}

/// `GET /session`: whether the demo's session is still live, or when dingo ended it.
async fn session(app: web::Data<DemoApp>, req: actix_web::HttpRequest) -> HttpResponse {
    let found = req.cookie(COOKIE).and_then(|c| app.sessions().get(c.value()).cloned());
    let Some(session) = found else {
        return page(
            StatusCode::OK,
            "未登录 · Not logged in",
            "<h1 id=\"state\">未登录</h1><p class=\"en\" lang=\"en\">Not logged in</p>\
             <a class=\"button\" href=\"login\">用钉钉登录 · Log in with DingTalk</a>",
        );
    };
    let name = escape(&session.name);
    let body = match session.logged_out_at_ms {
        None => format!(
            "<h1 id=\"state\">仍在登录</h1><p class=\"en\" lang=\"en\">Still logged in</p>\
             <p>{name}（{sub}）的会话仍然有效。</p><p class=\"en\" lang=\"en\">{name}'s session is live.</p>\
             <a class=\"button\" href=\"session\">刷新 · Refresh</a>",
            sub = escape(&session.sub),
        ),
        Some(at) => {
            let after = app
                .left_at_ms(&session.sub)
                .map(|left| {
                    let ms = (at - left).max(0);
                    format!(
                        "<p id=\"after\" data-ms=\"{ms}\">离职后 {ms} 毫秒收到。</p>\
                         <p class=\"en\" lang=\"en\">Received {ms} ms after they left.</p>"
                    )
                })
                .unwrap_or_default();
            format!(
                "<h1 id=\"state\">已被注销</h1><p class=\"en\" lang=\"en\">Logged out</p>\
                 <p>dingo 通过 back-channel logout 结束了 {name} 的会话。</p>\
                 <p class=\"en\" lang=\"en\">dingo ended {name}'s session by back-channel logout.</p>{after}\
                 <a class=\"button\" href=\"login\">重新登录 · Log in again</a>"
            )
        }
    };
    page(StatusCode::OK, "会话 · Session", &body)
}

/// `POST /backchannel-logout` (form `logout_token`): 200 once checked, 400 otherwise.
async fn backchannel_logout(app: web::Data<DemoApp>, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let token = form.get("logout_token").map(String::as_str).unwrap_or_default();
    match app.log_out(token).await {
        Ok(ended) => {
            tracing::info!(ended, "demo app: back-channel logout received");
            no_store(&mut HttpResponse::Ok()).finish()
        }
        Err(e) => {
            tracing::warn!(error = %e, "demo app: a logout token was refused");
            no_store(&mut HttpResponse::BadRequest()).json(serde_json::json!({"error": "invalid_request"}))
        }
    }
}

fn failure(e: &anyhow::Error) -> HttpResponse {
    tracing::warn!(error = %e, "demo login failed");
    page(
        StatusCode::BAD_GATEWAY,
        "登录失败 · Login failed",
        &format!(
            "<h1>登录失败</h1><p class=\"en\" lang=\"en\">Login failed</p><pre>{}</pre>\
             <a class=\"button\" href=\"./\">重试 · Try again</a>",
            escape(&e.to_string())
        ),
    )
}
