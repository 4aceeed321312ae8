//! `cargo bench --bench events`: how fast a leave reaches the apps. One dingo instance (SQLite, in
//! this process, release build) and the DingTalk simulator on loopback, a back-channel logout
//! receiver, an organisation of generated members each logged in at an app; then, for Stream and
//! for HTTP push in turn:
//! - **latency**: members leave one at a time, and the time from the leave to the app's logout
//!   token arriving is recorded (p50, p99, max over `DINGO_BENCH_LEAVES`, default 100);
//! - **throughput**: `DINGO_BENCH_BURST` members (default 1000) leave at once; events per second
//!   until every event is recorded, and until every logout has been delivered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use dingo::clock::SystemClock;
use dingo::sim::{Directory, HttpSubscription, Simulator, StreamSubscription};
use dingo::startup::Application;
use tokio::sync::Notify;

const CLIENT: &str = "bench-app";
const SECRET: &str = "bench-app-secret-0123456789";
const REDIRECT: &str = "http://127.0.0.1:1/callback";
const TOKEN: &str = "benchEventToken42";
const AES_KEY: &str = "o1w0aum42yaptlz8alnhwikjd3jenzt9cb9wmzptgus";

#[derive(Clone, Copy)]
enum Mode {
    Stream,
    Http,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Http => "http",
        }
    }
}

/// The back-channel logout endpoint: when each subject's logout token arrived.
#[derive(Default)]
struct Logouts {
    arrived: Mutex<HashMap<String, Instant>>,
    changed: Notify,
}

impl Logouts {
    async fn wait_for(&self, subjects: &[String], limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            {
                let arrived = self.arrived.lock().unwrap();
                if subjects.iter().all(|s| arrived.contains_key(s)) {
                    return subjects.iter().map(|s| arrived[s]).max();
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

async fn receive(logouts: web::Data<Logouts>, form: web::Form<HashMap<String, String>>) -> HttpResponse {
    let now = Instant::now();
    let subject = form
        .get("logout_token")
        .and_then(|jwt| jwt.split('.').nth(1))
        .and_then(dingo::crypto::b64url_decode)
        .and_then(|payload| serde_json::from_slice::<serde_json::Value>(&payload).ok())
        .and_then(|claims| claims["sub"].as_str().map(str::to_owned));
    if let Some(subject) = subject {
        logouts.arrived.lock().unwrap().entry(subject).or_insert(now);
        logouts.changed.notify_waiters();
    }
    HttpResponse::Ok().finish()
}

/// An organisation of `n` members in one department, ids `m0000`….
fn directory(n: usize) -> Directory {
    let mut toml = String::from(
        "corp_id = \"dingbenchorg\"\ncorp_name = \"压测 Bench\"\n[[apps]]\nclient_id = \"dingbenchappkey\"\nclient_secret = \"bench-app-secret\"\n\
         [[departments]]\ndept_id = 1\nname = \"压测\"\n",
    );
    for i in 0..n {
        let _ = write!(
            toml,
            "[[users]]\nuserid = \"m{i:04}\"\nunionid = \"u{i:04}iEiE\"\nname = \"成员{i}\"\ndept_id_list = [1]\n"
        );
    }
    Directory::from_toml(&toml).unwrap()
}

/// Logs `person` in at the bench app: (code) → the token response must be 200.
async fn log_in(address: &str, sim: &Simulator, person: &str) {
    sim.set_auto_login(Some(person.to_owned()));
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = format!(
        "{address}/authorize?client_id={CLIENT}&redirect_uri={}&response_type=code&scope=openid&state=s&nonce=n",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let code = loop {
        let response = browser.get(&url).send().await.unwrap();
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let next = url::Url::parse(&url).unwrap().join(&location).unwrap();
        if next.as_str().starts_with(REDIRECT) {
            break next.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        }
        url = next.into();
    };
    let answer = browser
        .post(format!("{address}/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

struct Figures {
    latencies: Vec<Duration>,
    recorded_per_second: f64,
    logged_out_per_second: f64,
}

async fn measure(mode: Mode, leaves: usize, burst: usize) -> Figures {
    let sim = Simulator::new(directory(leaves + burst), Arc::new(SystemClock));
    let sim_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sim_address = format!("http://{}", sim_listener.local_addr().unwrap());
    tokio::spawn(sim.serve(sim_listener).unwrap());
    let logouts = web::Data::new(Logouts::default());
    let receiver_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver = format!("http://{}/logout", receiver_listener.local_addr().unwrap());
    let shared = logouts.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/logout", web::post().to(receive))
    })
    .workers(2)
    .listen(receiver_listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let events = match mode {
        Mode::Stream => "mode = \"stream\"".to_owned(),
        Mode::Http => format!("mode = \"http\"\ntoken = \"{TOKEN}\"\naes_key = \"{AES_KEY}\""),
    };
    let text = format!(
        r#"
[server]
issuer = "{address}"
listen = "{listen}"
[database]
url = "sqlite://{db}"
[keys]
dir = {keys:?}
[dingtalk]
client_id = "dingbenchappkey"
client_secret = "bench-app-secret"
corp_id = "dingbenchorg"
login_base_url = "{sim_address}"
api_base_url = "{sim_address}"
oapi_base_url = "{sim_address}"
rate_limit_per_second = 0
[limits]
oauth_client_per_minute = 0
oauth_address_per_minute = 0
authorize_address_per_minute = 0
login_address_per_minute = 0
[[clients]]
client_id = "{CLIENT}"
redirect_uris = ["{REDIRECT}"]
scopes = ["openid"]
secret_sha256 = "{hash}"
backchannel_logout_uri = "{receiver}"
[events]
{events}
reconcile_every = 0
"#,
        listen = listener.local_addr().unwrap(),
        db = dir.path().join("dingo.db").display(),
        keys = dir.path().join("keys"),
        hash = dingo::crypto::sha256_hex(SECRET),
    );
    let settings = dingo::config::load_str(&text, std::iter::empty()).unwrap_or_else(|e| panic!("{e}"));
    match mode {
        Mode::Stream => sim.subscribe_stream(Some(StreamSubscription::default())),
        Mode::Http => sim.subscribe_http(Some(HttpSubscription::new(
            &format!("{address}/dingtalk/events"),
            TOKEN,
            AES_KEY,
        ))),
    }
    let app = Application::build_with(
        &settings,
        Arc::new(SystemClock),
        listener,
        None,
        dingo::startup::Background::default(),
    )
    .await
    .unwrap();
    let db = app.db().clone();
    let running = tokio::spawn(async move {
        let _ = app.run_until_stopped().await;
    });
    if let Mode::Stream = mode {
        while sim.gateway_stats().connected == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let members: Vec<String> = (0..leaves + burst).map(|i| format!("m{i:04}")).collect();
    eprintln!("{}: logging {} members in", mode.name(), members.len());
    for person in &members {
        log_in(&address, &sim, person).await;
    }

    let mut latencies = Vec::with_capacity(leaves);
    for person in &members[..leaves] {
        let left = Instant::now();
        sim.leave(person, None);
        let told = logouts
            .wait_for(std::slice::from_ref(person), Duration::from_secs(30))
            .await
            .expect("the logout arrives");
        latencies.push(told - left);
    }

    let burst_members = &members[leaves..];
    let before = db.count_org_events().await.unwrap();
    let started = Instant::now();
    for person in burst_members {
        sim.leave(person, None);
    }
    let target = before + burst_members.len() as i64;
    while db.count_org_events().await.unwrap() < target {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recorded = started.elapsed();
    let last = logouts
        .wait_for(burst_members, Duration::from_secs(300))
        .await
        .expect("every logout arrives");
    let logged_out = last - started;
    running.abort();
    Figures {
        latencies,
        recorded_per_second: burst_members.len() as f64 / recorded.as_secs_f64(),
        logged_out_per_second: burst_members.len() as f64 / logged_out.as_secs_f64(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("the events benchmark runs with `cargo bench --bench events`");
        return;
    }
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    };
    let (leaves, burst) = (var("DINGO_BENCH_LEAVES", 100), var("DINGO_BENCH_BURST", 1000));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows: Vec<(Mode, Figures)> = [Mode::Stream, Mode::Http]
        .into_iter()
        .map(|mode| (mode, runtime.block_on(measure(mode, leaves, burst))))
        .collect();
    println!("| mode | leave → logout p50 | p99 | max | burst of {burst}: recorded | logged out |");
    println!("|---|---|---|---|---|---|");
    for (mode, figures) in rows {
        let mut sorted = figures.latencies.clone();
        sorted.sort();
        println!(
            "| {} | {} | {} | {} | {:.0} events/s | {:.0} events/s |",
            mode.name(),
            ms(percentile(&sorted, 50.0)),
            ms(percentile(&sorted, 99.0)),
            ms(*sorted.last().unwrap()),
            figures.recorded_per_second,
            figures.logged_out_per_second,
        );
    }
    println!("\n({leaves} leaves one at a time, then {burst} at once; SQLite; one instance; loopback)");
}
