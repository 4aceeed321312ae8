//! The demo relying party: logs in through dingo with the `openidconnect` crate (PKCE, nonce,
//! signature and at_hash checked) and shows what it learnt.

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

use crate::crypto::b64url_decode;
use crate::html::{escape, page};

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
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
}

impl DemoApp {
    pub fn new(issuer: &str, client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
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
                http,
                pending: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::new(self.clone()))
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback));
    }

    async fn metadata(&self) -> anyhow::Result<CoreProviderMetadata> {
        let issuer = IssuerUrl::new(self.inner.issuer.clone())?;
        CoreProviderMetadata::discover_async(issuer, &self.inner.http)
            .await
            .map_err(|e| anyhow!("discovery failed: {e}"))
    }

    async fn authorization_url(&self) -> anyhow::Result<String> {
        let client = CoreClient::from_provider_metadata(self.metadata().await?, self.client_id(), self.client_secret())
            .set_redirect_uri(RedirectUrl::new(self.inner.redirect_uri.clone())?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("phone".into()))
            .add_scope(Scope::new("groups".into()))
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

async fn login(app: web::Data<DemoApp>) -> HttpResponse {
    match app.authorization_url().await {
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
    match app.complete(code, state).await {
        Ok((id_claims, userinfo)) => page(
            StatusCode::OK,
            "已登录 · Logged in",
            &format!(
                "<h1>已登录</h1><p class=\"en\" lang=\"en\">Logged in</p>\
                 <h2>ID token（已验证签名、nonce、at_hash）· verified claims</h2><pre id=\"id-token\">{}</pre>\
                 <h2>UserInfo</h2><pre id=\"userinfo\">{}</pre><a class=\"button\" href=\"./\">返回 · Back</a>",
                escape(&id_claims),
                escape(&userinfo)
            ),
        ),
        Err(e) => failure(&e),
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
