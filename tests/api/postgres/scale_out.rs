//! Two `dingo serve` processes on different ports sharing one PostgreSQL database and one
//! simulator, as behind a load balancer: the test routes each request to the instance it
//! chooses, and every step of a login may land on either.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use url::Url;

use crate::ops::{
    CLIENT_ID, CLIENT_SECRET, Instance, REDIRECT_URI, authorize_url, browser, query, start_instance, start_sim,
};
use crate::support::app::verify_jwt;
use crate::support::database::{postgres_database, postgres_required};
use crate::support::process::{Process, dingo, free_port};

/// The instances' shared public address (the load balancer's), and their own ports.
struct Cluster {
    issuer: String,
    ports: [u16; 2],
    dirs: [tempfile::TempDir; 2],
    database: String,
    sim: String,
    extra: String,
}

impl Cluster {
    /// Starts both instances at the same moment (on an empty database, they race to migrate it
    /// and to create the first keys).
    fn start(&self) -> [Process; 2] {
        std::thread::scope(|scope| {
            let started = [0, 1].map(|i| scope.spawn(move || self.start_one(i)));
            started.map(|s| s.join().unwrap())
        })
    }

    fn start_one(&self, i: usize) -> Process {
        let instance = Instance {
            issuer: &self.issuer,
            port: self.ports[i],
            database: &self.database,
        };
        start_instance(self.dirs[i].path(), &instance, &self.sim, &self.sim, &self.extra, &[])
    }

    /// `url` (one of the public address) as sent to instance `i`.
    fn at(&self, i: usize, url: &str) -> String {
        let mut url = Url::parse(url).unwrap();
        if url.as_str().starts_with(&self.issuer) {
            url.set_port(Some(self.ports[i])).unwrap();
        }
        url.into()
    }

    async fn jwks(&self, i: usize) -> Value {
        reqwest::get(self.at(i, &format!("{}/jwks.json", self.issuer)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn token(&self, i: usize, form: &[(&str, &str)]) -> Value {
        let response = reqwest::Client::new()
            .post(self.at(i, &format!("{}/token", self.issuer)))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "instance {i}");
        response.json().await.unwrap()
    }

    /// Redeems on instance `i` the code the client was sent back with.
    async fn redeem(&self, i: usize, landed: &Url) -> Value {
        let code = query(landed)["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ];
        self.token(i, &form).await
    }

    /// A login begun on instance `start`, whose DingTalk callback lands on `callback`; returns
    /// where the browser is sent back to the client.
    async fn login(&self, browser: &reqwest::Client, start: usize, callback: usize, extra: &str) -> Url {
        let mut authorize = Url::parse(&authorize_url(&self.issuer, "st")).unwrap();
        let pairs: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        authorize
            .query_pairs_mut()
            .clear()
            .extend_pairs(pairs.iter().map(|(k, v)| match k.as_str() {
                "scope" => (k.as_str(), "openid profile offline_access"),
                _ => (k.as_str(), v.as_str()),
            }));
        let authorize = format!("{authorize}{extra}");
        let mut url = self.at(start, &authorize);
        for hop in 0.. {
            assert!(hop < 10, "too many redirects");
            let response = browser.get(&url).send().await.unwrap();
            assert!(response.status().is_redirection(), "{url}: {}", response.status());
            let location = response.headers()["location"].to_str().unwrap();
            let next = Url::parse(&url).unwrap().join(location).unwrap();
            if next.as_str().starts_with(REDIRECT_URI) {
                return next;
            }
            url = self.at(callback, next.as_str());
        }
        unreachable!()
    }

    fn keys_cli(&self, i: usize, args: &[&str]) -> String {
        let output = dingo()
            .arg("keys")
            .args(args)
            .arg("--config")
            .arg(self.dirs[i].path().join("dingo.toml"))
            .current_dir(self.dirs[i].path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_else(|| panic!("no {key} in {value}"))
}

fn stop(mut process: Process) {
    process.signal("TERM");
    assert!(process.wait().0.success());
}

fn dir_holds_no_key(dir: &Path) -> bool {
    !dir.join("keys").exists() || std::fs::read_dir(dir.join("keys")).unwrap().count() == 0
}

#[tokio::test]
async fn postgres_two_instances_share_logins_sessions_tokens_and_keys_across_restarts() {
    let server = postgres_required("postgres_two_instances_share_logins_sessions_tokens_and_keys_across_restarts");
    let (_sim, sim) = start_sim();
    let kek = base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let cluster = Cluster {
        issuer: format!("http://127.0.0.1:{}", free_port()),
        ports: [free_port(), free_port()],
        dirs: [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()],
        database: postgres_database(&server, &uuid::Uuid::new_v4().to_string()),
        sim,
        extra: format!("[keys]\nkek = \"{kek}\"\nreload_every = 1\n"),
    };
    let running = cluster.start();
    let published = kids(&cluster.jwks(0).await);
    assert_eq!(
        published.len(),
        3,
        "one key per algorithm, however the start raced: {published:?}"
    );
    assert_eq!(published, kids(&cluster.jwks(1).await), "one key set for both");
    assert!(
        cluster.dirs.iter().all(|d| dir_holds_no_key(d.path())),
        "no key file on either machine"
    );

    // A login starts on A, DingTalk calls back to B, the code is redeemed on A.
    let browser = browser();
    let landed = cluster.login(&browser, 0, 1, "").await;
    let tokens = cluster.redeem(0, &landed).await;
    let claims = verify_jwt(
        &cluster.jwks(1).await,
        str_of(&tokens, "id_token"),
        &cluster.issuer,
        CLIENT_ID,
    );
    assert_eq!(claims["sub"], "zhangsan");

    // The refresh happens on B; B's userinfo knows A's access token.
    let refreshed = cluster
        .token(
            1,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&tokens, "refresh_token")),
            ],
        )
        .await;
    let userinfo = reqwest::Client::new()
        .get(cluster.at(1, &format!("{}/userinfo", cluster.issuer)))
        .bearer_auth(str_of(&tokens, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);

    // The session made through B answers a silent login on A; a logout on A ends it for B.
    let silent = cluster.login(&browser, 0, 0, "&prompt=none").await;
    assert!(query(&silent).contains_key("code"), "{silent}");
    let logout = format!(
        "{}/logout?id_token_hint={}",
        cluster.issuer,
        str_of(&refreshed, "id_token")
    );
    let response = browser.get(cluster.at(0, &logout)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let silent = cluster.login(&browser, 1, 1, "&prompt=none").await;
    assert_eq!(query(&silent)["error"], "login_required");

    // A key rotated through A's command line is in B's JWKS, and B signs with it. (With
    // --now it signs at once: each instance follows within keys.reload_every, so both JWKS are
    // awaited before B's tokens are checked against A's.)
    let before = kids(&cluster.jwks(1).await);
    cluster.keys_cli(0, &["rotate", "--now", "--alg", "RS256"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let new_kid = loop {
        let now = kids(&cluster.jwks(1).await);
        if let Some(kid) = now.iter().find(|k| !before.contains(k))
            && kids(&cluster.jwks(0).await).contains(kid)
        {
            break kid.clone();
        }
        assert!(Instant::now() < deadline, "the rotated key was never published by both");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let from_b = loop {
        let landed = cluster.login(&browser, 1, 1, "").await;
        let tokens = cluster.redeem(1, &landed).await;
        if kid_of(str_of(&tokens, "id_token")) == new_kid {
            break tokens;
        }
        assert!(Instant::now() < deadline, "B never signed with the rotated key");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let id_token = str_of(&from_b, "id_token").to_owned();
    assert_eq!(
        verify_jwt(&cluster.jwks(0).await, &id_token, &cluster.issuer, CLIENT_ID)["sub"],
        "zhangsan"
    );

    // Both restart: nothing is lost.
    let published = kids(&cluster.jwks(0).await);
    let [a, b] = running;
    stop(a);
    stop(b);
    let _restarted = cluster.start();
    assert_eq!(kids(&cluster.jwks(1).await), published);
    verify_jwt(&cluster.jwks(1).await, &id_token, &cluster.issuer, CLIENT_ID);
    let again = cluster
        .token(
            1,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", str_of(&from_b, "refresh_token")),
            ],
        )
        .await;
    assert_eq!(kid_of(str_of(&again, "id_token")), new_kid);
    let silent = cluster.login(&browser, 0, 0, "&prompt=none").await;
    assert!(
        query(&silent).contains_key("code"),
        "the session survives the restart: {silent}"
    );
}
