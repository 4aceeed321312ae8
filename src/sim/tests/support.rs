use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::clock::{SharedClock, TestClock};
use crate::sim::{Directory, Simulator};

pub(super) const CLIENT_ID: &str = "dingsampleappkey";
pub(super) const CLIENT_SECRET: &str = "sample-app-secret";
pub(super) const ZHANGSAN_UNIONID: &str = "iPzYl6CnAhbjj3QxQiS5fhgiEiE";
pub(super) const ZHAOLIU_UNIONID: &str = "m9RtC4pWdYjE2uAaS6kQhZgiEiE";
pub(super) const CALLBACK: &str = "https://rp.example/callback";
pub(super) const CORP_ID: &str = "dingsampleorg";
pub(super) const LEGACY_APP_ID: &str = "dingoa_sample_legacy";
pub(super) const LEGACY_APP_SECRET: &str = "sample-legacy-secret";

/// A running simulator, its clock and a client that does not follow redirects.
pub(super) struct TestSim {
    pub(super) sim: Simulator,
    pub(super) clock: Arc<TestClock>,
    pub(super) base: Url,
    pub(super) http: reqwest::Client,
}

pub(super) async fn spawn() -> TestSim {
    spawn_with(Directory::sample()).await
}

pub(super) async fn spawn_with(directory: Directory) -> TestSim {
    let clock = TestClock::new();
    let sim = Simulator::new(directory, clock.clone() as SharedClock);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(sim.serve(listener).unwrap());
    TestSim {
        sim,
        clock,
        base: Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        http: client(),
    }
}

/// A sample simulator mounted under `prefix` inside an app, as the demo mounts it, and the
/// app's base URL.
pub(super) async fn spawn_under_prefix(prefix: &'static str) -> (Simulator, Url) {
    let sim = Simulator::new(Directory::sample(), TestClock::new() as SharedClock);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mounted = sim.clone();
    let server = HttpServer::new(move || {
        let sim = mounted.clone();
        App::new().service(web::scope(prefix).configure(move |cfg| sim.configure(cfg)))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (sim, Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap())
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestSim {
    pub(super) fn url(&self, path: &str) -> Url {
        self.base.join(path.trim_start_matches('/')).unwrap()
    }

    /// `GET /oauth2/auth` with the usual parameters plus/over `extra`.
    pub(super) async fn authorize(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut params: Vec<(&str, &str)> = vec![
            ("redirect_uri", CALLBACK),
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("scope", "openid"),
            ("state", "st-1"),
            ("prompt", "consent"),
        ];
        for (k, v) in extra {
            params.retain(|(pk, _)| pk != k);
            params.push((k, v));
        }
        self.http
            .get(self.url("/oauth2/auth"))
            .query(&params)
            .send()
            .await
            .unwrap()
    }

    /// Auto-login as `person` with `scope`; returns the auth code from the redirect.
    pub(super) async fn code_for(&self, person: &str, scope: &str) -> String {
        self.sim.set_auto_login(Some(person.to_owned()));
        let response = self.authorize(&[("scope", scope)]).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = location(&response);
        query_value(&location, "authCode").unwrap()
    }

    /// `POST /jsapi/requestAuthCode`, as the `dd` stand-in script does.
    pub(super) async fn mint(&self, body: &Value) -> Value {
        let (status, answer) = self.post_json("/jsapi/requestAuthCode", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    /// An in-app code for the current in-app person.
    pub(super) async fn inapp_code(&self) -> String {
        let answer = self.mint(&json!({ "corpId": CORP_ID })).await;
        answer["code"].as_str().unwrap().to_owned()
    }

    /// `GET {path}?{query}` on oapi, which always answers HTTP 200.
    pub(super) async fn oapi_get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self.http.get(self.url(path)).query(query).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub(super) async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let response = self.http.post(self.url(path)).json(body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    pub(super) async fn exchange(&self, code: &str) -> (StatusCode, Value) {
        self.post_json(
            "/v1.0/oauth2/userAccessToken",
            &json!({
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "code": code,
                "grantType": "authorization_code",
            }),
        )
        .await
    }

    /// A user access token for `person` (via auto-login and the code exchange).
    pub(super) async fn user_token(&self, person: &str) -> String {
        let code = self.code_for(person, "openid").await;
        let (status, body) = self.exchange(&code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["accessToken"].as_str().unwrap().to_owned()
    }

    pub(super) async fn users_me(&self, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url("/v1.0/contact/users/me"))
            .header("x-acs-dingtalk-access-token", token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    pub(super) async fn gettoken(&self, key: &str, secret: &str) -> Value {
        let response = self
            .http
            .get(self.url("/gettoken"))
            .query(&[("appkey", key), ("appsecret", secret)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub(super) async fn app_token(&self) -> String {
        let body = self.gettoken(CLIENT_ID, CLIENT_SECRET).await;
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST {path}?access_token={token}` with a JSON body; oapi always answers HTTP 200.
    pub(super) async fn topapi(&self, path: &str, token: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(self.url(path))
            .query(&[("access_token", token)])
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

pub(super) fn location(response: &reqwest::Response) -> Url {
    let value = response.headers()["location"].to_str().unwrap();
    Url::parse(value).unwrap()
}

pub(super) fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// Asserts the api.dingtalk.com error envelope and returns its `code`.
pub(super) fn api_error_code(body: &Value) -> &str {
    assert!(body["message"].is_string(), "{body}");
    let requestid = body["requestid"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(requestid).is_ok(), "{requestid}");
    assert!(body.get("errcode").is_none(), "{body}");
    body["code"].as_str().unwrap()
}
