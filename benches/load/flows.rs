//! What a browser and a relying party do, over plain HTTP: a login through the simulator, the
//! in-app login, code redemption and refresh. Cookies are carried by hand (dingo's only), so
//! one connection pool serves every simulated browser.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use serde_json::Value;

use crate::procs::{CLIENT_SECRET, REDIRECT_URI};

pub type Flow<T> = Result<T, String>;

/// The scope every benchmark login asks for: an ID token with profile claims, and a refresh token.
pub const SCOPE: &str = "openid profile email offline_access";

/// A user agent inside the DingTalk client (its in-app login page).
const DINGTALK_UA: &str = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) \
                           Chrome/120.0 Mobile Safari/537.36 AliApp(DingTalk/7.6.0) DingTalk/7.6.0";

/// An HTTP client that follows no redirects and keeps up to `connections` idle connections.
pub fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(connections)
        .build()?)
}

fn err(what: &str) -> impl Fn(reqwest::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// `name=value` of every `Set-Cookie` of `response`, added to (or replacing in) `jar`.
fn keep_cookies(jar: &mut Vec<(String, String)>, response: &reqwest::Response) {
    for header in response.headers().get_all(SET_COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        let pair = text.split(';').next().unwrap_or_default();
        if let Some((name, value)) = pair.split_once('=') {
            jar.retain(|(n, _)| n != name);
            jar.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The authorization request of `client`.
pub fn authorize_url(dingo: &str, client: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(&format!("{dingo}/authorize"))?;
    url.query_pairs_mut()
        .append_pair("client_id", client)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("response_type", "code")
        .append_pair("scope", SCOPE)
        .append_pair("state", "bench-state")
        .append_pair("nonce", "bench-nonce");
    Ok(url.into())
}

/// The `code` of a redirect to the relying party.
fn code_of(location: &str) -> Flow<String> {
    let url = url::Url::parse(location).map_err(|e| format!("{location}: {e}"))?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no code in {location}"))
}

/// A login in a fresh browser (no dingo session): `/authorize` → DingTalk's login page (the
/// simulator, which signs the auto-login person in) → dingo's callback → the relying party,
/// whose authorization code is returned. Works for the web and the legacy scan login alike.
/// `authorize` is the authorization request ([`authorize_url`]).
pub async fn web_login(http: &reqwest::Client, dingo: &str, authorize: &str) -> Flow<String> {
    let mut jar = Vec::new();
    let mut url = authorize.to_owned();
    for _ in 0..6 {
        let mut request = http.get(&url);
        let ours = url.starts_with(dingo);
        if ours && !jar.is_empty() {
            request = request.header(COOKIE, cookie_header(&jar));
        }
        let response = request.send().await.map_err(err("login"))?;
        if ours {
            keep_cookies(&mut jar, &response);
        }
        let status = response.status();
        let Some(location) = response.headers().get(LOCATION).and_then(|l| l.to_str().ok()) else {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("{status} without a redirect at {url}: {}", excerpt(&body)));
        };
        if location.starts_with(REDIRECT_URI) {
            return code_of(location);
        }
        url = location.to_owned();
    }
    Err("too many redirects".into())
}

/// A login inside the DingTalk client (免登): dingo's in-app page, the JSAPI stand-in's
/// `requestAuthCode` at the simulator, and the page's post back to dingo.
pub async fn in_app_login(http: &reqwest::Client, dingo: &str, sim: &str, authorize: &str) -> Flow<String> {
    let mut jar = Vec::new();
    let page = http
        .get(authorize)
        .header(USER_AGENT, DINGTALK_UA)
        .send()
        .await
        .map_err(err("in-app page"))?;
    keep_cookies(&mut jar, &page);
    let html = page.text().await.map_err(err("in-app page"))?;
    let attribute = |name: &str| {
        let marker = format!("{name}=\"");
        html.find(&marker)
            .map(|i| {
                html[i + marker.len()..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .ok_or_else(|| format!("no {name} in the in-app page: {}", excerpt(&html)))
    };
    let state = html
        .split("<input ")
        .find(|input| input.contains("name=\"state\""))
        .and_then(|input| input.split("value=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .ok_or_else(|| format!("no state in the in-app page: {}", excerpt(&html)))?
        .to_owned();
    let answer: Value = http
        .post(format!("{sim}/jsapi/requestAuthCode"))
        .json(&serde_json::json!({"corpId": attribute("data-corp-id")?, "clientId": attribute("data-client-id")?}))
        .send()
        .await
        .map_err(err("requestAuthCode"))?
        .json()
        .await
        .map_err(err("requestAuthCode"))?;
    let auth_code = answer["code"]
        .as_str()
        .ok_or_else(|| format!("requestAuthCode: {answer}"))?;
    let response = http
        .post(format!("{dingo}/login/dingtalk/inapp"))
        .header(COOKIE, cookie_header(&jar))
        .form(&[
            ("state", state.as_str()),
            ("method", "request_auth_code"),
            ("code", auth_code),
        ])
        .send()
        .await
        .map_err(err("in-app post"))?;
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| format!("in-app post answered {}", response.status()))?;
    code_of(location)
}

/// What `/token` returned.
pub struct Tokens {
    pub id_token: String,
    pub refresh_token: String,
}

async fn token_request(http: &reqwest::Client, dingo: &str, client: &str, form: &[(&str, &str)]) -> Flow<Tokens> {
    let response = http
        .post(format!("{dingo}/token"))
        .basic_auth(client, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .map_err(err("token"))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(err("token"))?;
    if status != 200 {
        return Err(format!("/token answered {status}: {body}"));
    }
    let text = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} in {body}"))
    };
    Ok(Tokens {
        id_token: text("id_token")?,
        refresh_token: text("refresh_token")?,
    })
}

/// The authorization_code grant, with `client_secret_basic`.
pub async fn redeem(http: &reqwest::Client, dingo: &str, client: &str, code: &str) -> Flow<Tokens> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    token_request(http, dingo, client, &form).await
}

/// The refresh_token grant: returns the successor.
pub async fn refresh(http: &reqwest::Client, dingo: &str, client: &str, token: &str) -> Flow<Tokens> {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    token_request(http, dingo, client, &form).await
}

/// A GET answering 200, its body dropped.
pub async fn get_ok(http: &reqwest::Client, url: &str) -> Flow<()> {
    let response = http.get(url).send().await.map_err(err("get"))?;
    let status = response.status();
    response.bytes().await.map_err(err("get"))?;
    if status == 200 {
        Ok(())
    } else {
        Err(format!("{url} answered {status}"))
    }
}

/// The header and claims of a JWT (its signature is not checked).
pub fn jwt_parts(jwt: &str) -> anyhow::Result<(Value, Value)> {
    let mut parts = jwt.split('.');
    let mut decode = || -> anyhow::Result<Value> {
        let part = parts.next().ok_or_else(|| anyhow::anyhow!("not a JWT"))?;
        let bytes = dingo::crypto::b64url_decode(part).ok_or_else(|| anyhow::anyhow!("not base64url"))?;
        Ok(serde_json::from_slice(&bytes)?)
    };
    let header = decode()?;
    Ok((header, decode()?))
}

/// DingTalk calls dingo has made so far, by API, from its `/metrics`
/// (`dingo_dingtalk_calls_total{api,result}`, summed over results).
pub async fn dingtalk_calls(http: &reqwest::Client, dingo: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let text = http.get(format!("{dingo}/metrics")).send().await?.text().await?;
    let mut calls = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("dingo_dingtalk_calls_total{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let api = labels
            .split("api=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?");
        *calls.entry(api.to_owned()).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    Ok(calls)
}

fn excerpt(text: &str) -> String {
    text.chars().take(300).collect()
}
