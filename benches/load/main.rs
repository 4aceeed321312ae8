//! `cargo bench --bench load`: dingo (the release binary, `dingo serve`) and the DingTalk
//! simulator (`dingo sim --auto-login zhangsan`), each in its own process on loopback, driven by
//! a load generator in this process; every figure is printed beside a baseline measured in the
//! same run. See README, "Benchmark".
//!
//! Settings (environment): `DINGO_BENCH_SECONDS` per timed phase (default 5),
//! `DINGO_BENCH_CONNECTIONS` concurrent connections (default 16), `DINGO_BENCH_CODES`
//! authorization codes redeemed per algorithm (default 2000), `DINGO_BENCH_ROUNDS` alternating
//! rounds of dingo and baseline per ratio (default 4), `DINGO_BENCH_POSTGRES` a
//! `postgres://` server URL to run the database rows against PostgreSQL too,
//! `DINGO_BENCH_ONLY=faults` only the logins under DingTalk faults, and `DINGO_BENCH_DINGO`
//! another dingo binary to measure (the simulator stays this build's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod baseline;
mod drive;
mod faults;
mod flows;
mod procs;
mod report;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use dingo::crypto::{Alg, SigningKey};

use baseline::{Served, TokenShape};
use drive::{Run, Stop, drive};
use flows::Flow;
use procs::{ES_CLIENT, PERSON, Proc, RS_CLIENT};
use report::{Row, number};

struct Settings {
    seconds: Duration,
    connections: usize,
    codes: usize,
    /// Each ratio is measured in this many alternating rounds of dingo and its baseline, so
    /// that both see the same background load on a shared machine.
    rounds: usize,
    postgres: Option<String>,
    /// Run only this part (`faults`).
    only: Option<String>,
    /// dingo's HTTP workers: actix-web starts one per available CPU.
    workers: usize,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={text:?} is not a number")),
                Err(_) => Ok(default),
            }
        }
        Ok(Settings {
            seconds: Duration::from_secs_f64(var("DINGO_BENCH_SECONDS", 5.0)?),
            connections: var("DINGO_BENCH_CONNECTIONS", 16)?,
            codes: var("DINGO_BENCH_CODES", 2000)?,
            rounds: var("DINGO_BENCH_ROUNDS", 4usize)?.max(1),
            postgres: std::env::var("DINGO_BENCH_POSTGRES").ok().filter(|u| !u.is_empty()),
            only: std::env::var("DINGO_BENCH_ONLY").ok().filter(|o| !o.is_empty()),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it and
    // should not start a benchmark of a debug build.
    if !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("the load benchmark runs with `cargo bench --bench load`");
        return Ok(());
    }
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(settings))
}

fn log(text: impl AsRef<str>) {
    eprintln!("[bench] {}", text.as_ref());
}

/// Bare signing with dingo's own keys (exported) over the claims of a real ID token, on as
/// many threads as dingo has HTTP workers.
struct Signing {
    rs: Arc<(SigningKey, serde_json::Value)>,
    es: Arc<(SigningKey, serde_json::Value)>,
    threads: usize,
}

impl Signing {
    async fn run(&self, alg: Alg, duration: Duration) -> Run {
        let pair = if alg == Alg::ES256 {
            self.es.clone()
        } else {
            self.rs.clone()
        };
        let threads = self.threads;
        tokio::task::spawn_blocking(move || baseline::sign_loop(&pair.0, &pair.1, threads, duration))
            .await
            .unwrap_or_else(|_| Run::empty())
    }
}

/// `0..n` cut into `rounds` consecutive ranges.
fn chunks(n: usize, rounds: usize) -> Vec<(usize, usize)> {
    (0..rounds).map(|r| (r * n / rounds, (r + 1) * n / rounds)).collect()
}

/// What a first login and redemption told: the ID token's header and claims, per client.
struct Sample {
    header: serde_json::Value,
    claims: serde_json::Value,
}

async fn run(s: Settings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let machine = report::machine();
    log(format!(
        "{machine}; {} s per phase, {} connections, {} codes per algorithm, dingo workers {}",
        s.seconds.as_secs_f64(),
        s.connections,
        s.codes,
        s.workers
    ));
    let tmp = tempfile::Builder::new().prefix("dingo-bench-").tempdir()?;
    let http = flows::http_client(s.connections * 2)?;
    if s.only.as_deref() == Some("faults") {
        let rows = faults::rows(tmp.path()).await;
        println!("\n## dingo benchmark: logins under DingTalk faults\n\n{machine}\n");
        print!("{}", report::table(&rows));
        return Ok(());
    }
    let sim = procs::start_sim(&http, tmp.path()).await?;
    let sim_idle = procs::memory_mb(sim.pid(), "VmRSS")?;
    log(format!("simulator on {} (pid {})", sim.base, sim.pid()));

    let call_rows = upstream_calls(&http, tmp.path(), &sim.base).await;

    let dir = tmp.path().join("sqlite");
    let sqlite_url = format!("sqlite://{}", dir.join("dingo.db").display());
    let dingo = procs::start_dingo(&http, &dir, &sim.base, &sqlite_url, &[]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = procs::memory_mb(dingo.pid(), "VmRSS")?;
    log(format!(
        "dingo on {} (pid {}), idle RSS {idle_rss:.1} MB",
        dingo.base,
        dingo.pid()
    ));

    let rs_sample = sample(&http, &dingo.base, RS_CLIENT).await?;
    let es_sample = sample(&http, &dingo.base, ES_CLIENT).await?;
    let signing = Signing {
        rs: Arc::new((exported_key(&dir, &rs_sample, Alg::RS256)?, rs_sample.claims.clone())),
        es: Arc::new((exported_key(&dir, &es_sample, Alg::ES256)?, es_sample.claims.clone())),
        threads: s.workers,
    };

    let mut rows = metadata_rows(&http, &s, &dingo).await?;
    rows.push(token_floor_row(&http, &s, &signing).await?);
    let sqlite = Backend {
        name: "SQLite",
        dingo: &dingo,
        sim: &sim,
        database_url: &sqlite_url,
        postgres: None,
    };
    let shape = TokenShape {
        client_id: ES_CLIENT.into(),
        userid: PERSON.into(),
        sid: es_sample.claims["sid"].as_str().unwrap_or_default().to_owned(),
        scope: flows::SCOPE.into(),
    };
    let sqlite_rows = database_rows(&http, &s, &sqlite, &signing, shape).await?;
    let peak = procs::memory_mb(dingo.pid(), "VmHWM")?;
    let sim_peak = procs::memory_mb(sim.pid(), "VmHWM")?;
    dingo.stop(Duration::from_secs(5));

    let postgres_rows = match &s.postgres {
        Some(server) => Some(postgres_rows(&http, &s, server, tmp.path(), &sim, &signing).await),
        None => None,
    };
    match postgres_rows {
        Some(pg) if pg.len() >= sqlite_rows.len() => {
            // Side by side: each SQLite row, then the same row on PostgreSQL.
            let mut pg = pg.into_iter();
            for row in sqlite_rows {
                rows.push(row);
                if let Some(other) = pg.next() {
                    rows.push(other);
                }
            }
            rows.extend(pg);
        }
        // PostgreSQL could not be measured: why, after the SQLite rows.
        Some(pg) => {
            rows.extend(sqlite_rows);
            rows.extend(pg);
        }
        None => rows.extend(sqlite_rows),
    }
    rows.extend(call_rows);
    rows.extend(faults::rows(tmp.path()).await);
    let sim_what = "the simulator: same binary, actix-web, no database";
    rows.push(Row::at_most(
        "dingo peak RSS (VmHWM) after all SQLite phases",
        peak,
        "MB",
        Some((sim_peak, sim_what)),
        60.0,
    ));
    rows.push(Row::at_most(
        "dingo idle RSS after start",
        idle_rss,
        "MB",
        Some((sim_idle, sim_what)),
        30.0,
    ));
    sim.stop(Duration::from_secs(2));

    println!("\n## dingo benchmark\n");
    println!(
        "{machine} (at start) · load average {} (at end)",
        report::load_average()
    );
    println!(
        "{} s per timed phase · {} connections · {} codes per algorithm · dingo {} HTTP workers · {:.0} s in all\n",
        s.seconds.as_secs_f64(),
        s.connections,
        s.codes,
        s.workers,
        started.elapsed().as_secs_f64()
    );
    print!("{}", report::table(&rows));
    Ok(())
}

/// Logs a login in for `client` and redeems its code: the ID token's header and claims.
async fn sample(http: &reqwest::Client, dingo: &str, client: &str) -> anyhow::Result<Sample> {
    let authorize = flows::authorize_url(dingo, client)?;
    let code = flows::web_login(http, dingo, &authorize)
        .await
        .map_err(anyhow::Error::msg)?;
    let tokens = flows::redeem(http, dingo, client, &code)
        .await
        .map_err(anyhow::Error::msg)?;
    let (header, claims) = flows::jwt_parts(&tokens.id_token)?;
    Ok(Sample { header, claims })
}

/// The key that signed `sample`, exported from dingo's database with `dingo keys export`.
fn exported_key(dir: &Path, sample: &Sample, alg: Alg) -> anyhow::Result<SigningKey> {
    let kid = sample.header["kid"].as_str().context("no kid")?;
    let pem = procs::export_key(dir, kid)?;
    SigningKey::from_pem(&pem, Some(alg)).map_err(anyhow::Error::msg)
}

/// Discovery and JWKS, from dingo and from a bare actix-web handler serving the same bytes.
async fn metadata_rows(http: &reqwest::Client, s: &Settings, dingo: &Proc) -> anyhow::Result<Vec<Row>> {
    let mut served = Vec::new();
    for path in ["/.well-known/openid-configuration", "/jwks.json"] {
        let response = http.get(format!("{}{path}", dingo.base)).send().await?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (content_type, cache_control) = (header("content-type"), header("cache-control"));
        served.push(Served {
            path,
            body: response.bytes().await?,
            content_type,
            cache_control,
        });
    }
    let paths: Vec<&'static str> = served.iter().map(|s| s.path).collect();
    let (bare, handle) = baseline::bare_server(s.workers, served)?;
    let mut rows = Vec::new();
    for (path, name) in paths.into_iter().zip(["discovery", "JWKS"]) {
        let mut runs = [Run::empty(), Run::empty()];
        for _ in 0..s.rounds {
            for (base, total) in [&dingo.base, &bare].into_iter().zip(runs.iter_mut()) {
                let (http, url) = (http.clone(), Arc::new(format!("{base}{path}")));
                let round = s.seconds / s.rounds as u32;
                let run = drive(s.connections, Stop::After(round), dingo.pid(), move |_, _| {
                    let (http, url) = (http.clone(), url.clone());
                    async move { flows::get_ok(&http, &url).await }
                })
                .await;
                total.add(run);
            }
        }
        log(format!("GET {}{path}: {}", dingo.base, runs[0].summary()));
        log(format!("GET {bare}{path} (bare): {}", runs[1].summary()));
        rows.push(Row::at_least(
            format!("{name} (`{path}`)"),
            runs[0].per_second(),
            "req/s",
            (runs[1].per_second(), "bare actix-web handler, same bytes, same workers"),
            Some(0.8),
        ));
    }
    handle.stop(true).await;
    Ok(rows)
}

/// The most any token endpoint could answer here: a bare actix-web handler making one RS256
/// signature per request and nothing else, in rounds alternating with bare signing.
async fn token_floor_row(http: &reqwest::Client, s: &Settings, signing: &Signing) -> anyhow::Result<Row> {
    let (bare, handle) = baseline::bare_token_server(s.workers, signing.rs.clone(), None)?;
    let (mut floor, mut sign) = (Run::empty(), Run::empty());
    for _ in 0..s.rounds {
        let (http, base) = (http.clone(), Arc::new(bare.clone()));
        let round = s.seconds / s.rounds as u32;
        let run = drive(s.connections, Stop::After(round), std::process::id(), move |_, _| {
            let (http, base) = (http.clone(), base.clone());
            async move { flows::redeem(&http, &base, RS_CLIENT, "any-code").await.map(|_| ()) }
        })
        .await;
        let took = run.elapsed;
        floor.add(run);
        sign.add(signing.run(Alg::RS256, took).await);
    }
    handle.stop(true).await;
    log(format!(
        "POST {bare}/token (bare, one RS256 signature): {}",
        floor.summary()
    ));
    log(format!("bare RS256 signing: {}", sign.summary()));
    Ok(Row::at_least(
        "`/token` floor: a bare actix-web handler making one RS256 signature per request, nothing else",
        floor.per_second(),
        "req/s",
        (
            sign.per_second(),
            &format!("bare RS256 signing, {} threads", signing.threads),
        ),
        None,
    ))
}

/// A dingo instance and its database, for the rows that depend on the database.
struct Backend<'a> {
    name: &'static str,
    dingo: &'a Proc,
    /// The simulator this dingo talks to.
    sim: &'a Proc,
    database_url: &'a str,
    /// The PostgreSQL server URL and database name, to read its statistics.
    postgres: Option<(&'a str, &'a str)>,
}

/// Authorization codes for `client`, each from a real login through the simulator.
async fn make_codes(http: &reqwest::Client, s: &Settings, dingo: &Proc, client: &str) -> anyhow::Result<Vec<String>> {
    let codes = Arc::new(Mutex::new(Vec::with_capacity(s.codes)));
    let (http, base, kept) = (http.clone(), Arc::new(dingo.base.clone()), codes.clone());
    let authorize = Arc::new(flows::authorize_url(&dingo.base, client)?);
    let run = drive(s.connections, Stop::Items(0, s.codes), dingo.pid(), move |_, _| {
        let (http, base, authorize, kept) = (http.clone(), base.clone(), authorize.clone(), kept.clone());
        async move {
            let code = flows::web_login(&http, &base, &authorize).await?;
            kept.lock().unwrap_or_else(PoisonError::into_inner).push(code);
            Ok(())
        }
    })
    .await;
    log(format!("{client}: {} codes from logins: {}", s.codes, run.summary()));
    let codes = std::mem::take(&mut *codes.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(codes)
}

/// Redeems codes `start..end` at `/token`; the run and the refresh tokens obtained.
async fn redeem(
    http: &reqwest::Client,
    s: &Settings,
    dingo: &Proc,
    client: &'static str,
    codes: &Arc<Vec<String>>,
    (start, end): (usize, usize),
) -> (Run, Vec<String>) {
    let refresh_tokens = Arc::new(Mutex::new(Vec::new()));
    let (http, base, kept, codes) = (
        http.clone(),
        Arc::new(dingo.base.clone()),
        refresh_tokens.clone(),
        codes.clone(),
    );
    let run = drive(s.connections, Stop::Items(start, end), dingo.pid(), move |_, item| {
        let (http, base, kept, codes) = (http.clone(), base.clone(), kept.clone(), codes.clone());
        async move {
            let tokens = flows::redeem(&http, &base, client, &codes[item]).await?;
            kept.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(tokens.refresh_token);
            Ok(())
        }
    })
    .await;
    let tokens = std::mem::take(&mut *refresh_tokens.lock().unwrap_or_else(PoisonError::into_inner));
    (run, tokens)
}

/// Refreshes for `s.seconds`: each connection follows its own family, presenting each
/// successor once.
async fn refresh_for(
    http: &reqwest::Client,
    s: &Settings,
    dingo: &Proc,
    client: &'static str,
    tokens: &[String],
) -> Run {
    let chains: Arc<Vec<Mutex<String>>> =
        Arc::new(tokens.iter().take(s.connections).cloned().map(Mutex::new).collect());
    let connections = chains.len();
    log(format!("refresh {client}: running"));
    let (http, base) = (http.clone(), Arc::new(dingo.base.clone()));
    let run = drive(connections, Stop::After(s.seconds), dingo.pid(), move |worker, _| {
        let (http, base, chains) = (http.clone(), base.clone(), chains.clone());
        async move {
            let current = chains[worker].lock().unwrap_or_else(PoisonError::into_inner).clone();
            let next = flows::refresh(&http, &base, client, &current).await?;
            *chains[worker].lock().unwrap_or_else(PoisonError::into_inner) = next.refresh_token;
            Ok(())
        }
    })
    .await;
    log(format!("refresh {client}: {}", run.summary()));
    run
}

/// Whole logins for `s.seconds`: authorize → simulator → callback → token. Beside the run, the
/// simulator's CPU seconds meanwhile.
async fn logins_for(
    http: &reqwest::Client,
    s: &Settings,
    b: &Backend<'_>,
    client: &'static str,
) -> anyhow::Result<(Run, f64)> {
    let dingo = b.dingo;
    let sim_pid = b.sim.pid().to_string();
    let sim_before = procs::cpu_ticks(&sim_pid)?;
    let (http, base) = (http.clone(), Arc::new(dingo.base.clone()));
    let authorize = Arc::new(flows::authorize_url(&dingo.base, client)?);
    log(format!("full login {client}: running"));
    let run = drive(s.connections, Stop::After(s.seconds), dingo.pid(), move |_, _| {
        let (http, base, authorize) = (http.clone(), base.clone(), authorize.clone());
        async move {
            let code = flows::web_login(&http, &base, &authorize).await?;
            flows::redeem(&http, &base, client, &code).await.map(|_| ())
        }
    })
    .await;
    let sim_cpu = (procs::cpu_ticks(&sim_pid)? - sim_before) as f64 / procs::clock_ticks();
    log(format!("full login {client}: {}", run.summary()));
    Ok((run, sim_cpu))
}

/// Transactions PostgreSQL has counted for database `name` (every statement outside an explicit
/// transaction is one). A server process publishes its counts at most once a second while busy,
/// and 10 s after its last transaction once idle (PostgreSQL 15 and later), hence the wait.
async fn pg_transactions(server: &str, name: &str) -> anyhow::Result<i64> {
    use sqlx::Connection;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut conn = sqlx::PgConnection::connect(server).await?;
    let n: i64 =
        sqlx::query_scalar("SELECT (xact_commit + xact_rollback)::BIGINT FROM pg_stat_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(n)
}

async fn pg_count(backend: &Backend<'_>) -> Option<i64> {
    let (server, name) = backend.postgres?;
    match pg_transactions(server, name).await {
        Ok(n) => Some(n),
        Err(e) => {
            log(format!("cannot read pg_stat_database: {e}"));
            None
        }
    }
}

fn fail_on_errors(run: &Run, what: &str) -> Flow<()> {
    if run.failed > 0 || run.ok == 0 {
        return Err(format!(
            "{what}: {} of {} failed ({})",
            run.failed,
            run.ok + run.failed,
            run.first_error.as_deref().unwrap_or("nothing succeeded")
        ));
    }
    Ok(())
}

/// The rows that depend on the database: `/token`, refresh and full logins.
async fn database_rows(
    http: &reqwest::Client,
    s: &Settings,
    b: &Backend<'_>,
    signing: &Signing,
    shape: TokenShape,
) -> anyhow::Result<Vec<Row>> {
    let db = b.name;
    let dingo = b.dingo;
    let threads = s.workers;
    let rs_what = format!("bare RS256 signing, {threads} threads");
    let es_what = format!("bare ES256 signing, {threads} threads");
    let mut rows = Vec::new();
    let warn = |result: Flow<()>| {
        if let Err(e) = result {
            log(format!("WARNING {e}"));
        }
    };

    let rs_codes = Arc::new(make_codes(http, s, dingo, RS_CLIENT).await?);
    let es_codes = Arc::new(make_codes(http, s, dingo, ES_CLIENT).await?);
    // The codes of the store-only baseline and of the ES256 floor, inserted beforehand like
    // dingo's, on a pool of dingo's size.
    let pool = dingo::config::DatabaseSettings {
        url: b.database_url.to_owned(),
        ..Default::default()
    }
    .pool_size();
    let shape = Arc::new(shape);
    let store = match baseline::store_codes(b.database_url, pool, s.codes * 2, &shape).await {
        Ok((store_db, mut codes)) => {
            let floor_codes = codes.split_off(s.codes);
            match baseline::bare_token_server(s.workers, signing.es.clone(), Some((store_db.clone(), shape.clone()))) {
                Ok(floor) => Some((store_db, Arc::new(codes), floor, Arc::new(floor_codes))),
                Err(e) => {
                    log(format!("WARNING ES256 floor: {e:#}"));
                    None
                }
            }
        }
        Err(e) => {
            log(format!("WARNING store-only baseline: {e:#}"));
            None
        }
    };

    // `/token` RS256 in rounds, each followed by bare RS256 signing for as long.
    let (mut rs_token, mut rs_sign, mut rs_refresh) = (Run::empty(), Run::empty(), Vec::new());
    let before = pg_count(b).await;
    log("/token RS256: running");
    for range in chunks(rs_codes.len(), s.rounds) {
        let (run, tokens) = redeem(http, s, dingo, RS_CLIENT, &rs_codes, range).await;
        let took = run.elapsed;
        rs_token.add(run);
        rs_refresh.extend(tokens);
        rs_sign.add(signing.run(Alg::RS256, took).await);
    }
    let after = pg_count(b).await;
    let token_statements = before.zip(after).map(|(x, y)| (y - x) as f64 / rs_token.ok as f64);
    log(format!("/token RS256: {}", rs_token.summary()));
    log(format!("bare RS256 signing: {}", rs_sign.summary()));
    warn(fail_on_errors(&rs_token, "/token RS256"));

    // `/token` ES256 in rounds, each followed by the same work through the store alone, by the
    // floor (the store work and a signature behind a bare handler), and by bare ES256 signing.
    let (mut es_token, mut es_store, mut es_floor, mut es_sign, mut es_refresh) =
        (Run::empty(), Run::empty(), Run::empty(), Run::empty(), Vec::new());
    log("/token ES256: running");
    for range in chunks(es_codes.len(), s.rounds) {
        let (run, tokens) = redeem(http, s, dingo, ES_CLIENT, &es_codes, range).await;
        let took = run.elapsed;
        es_token.add(run);
        es_refresh.extend(tokens);
        if let Some((store_db, codes, (floor, _), floor_codes)) = &store {
            let range = (
                range.0 * codes.len() / es_codes.len(),
                range.1 * codes.len() / es_codes.len(),
            );
            es_store.add(baseline::store_token_run(store_db, codes, &shape, s.connections, range).await);
            let (http, base, codes) = (http.clone(), Arc::new(floor.clone()), floor_codes.clone());
            let run = drive(
                s.connections,
                Stop::Items(range.0, range.1),
                std::process::id(),
                move |_, item| {
                    let (http, base, codes) = (http.clone(), base.clone(), codes.clone());
                    async move { flows::redeem(&http, &base, ES_CLIENT, &codes[item]).await.map(|_| ()) }
                },
            )
            .await;
            es_floor.add(run);
        }
        es_sign.add(signing.run(Alg::ES256, took).await);
    }
    if let Some((store_db, _, (_, floor), _)) = store {
        floor.stop(true).await;
        store_db.close().await;
    }
    log(format!("/token ES256: {}", es_token.summary()));
    log(format!("store only, /token's statements: {}", es_store.summary()));
    log(format!(
        "floor, a bare handler making them and signing: {}",
        es_floor.summary()
    ));
    log(format!("bare ES256 signing: {}", es_sign.summary()));
    warn(fail_on_errors(&es_token, "/token ES256"));
    warn(fail_on_errors(&es_store, "store-only /token"));
    warn(fail_on_errors(&es_floor, "ES256 /token floor"));

    rows.push(Row::at_least(
        format!("`/token` code grant, RS256 ID token + access + refresh token [{db}]"),
        rs_token.per_second(),
        "req/s",
        (rs_sign.per_second(), &rs_what),
        Some(0.85),
    ));
    rows.push(Row::plain(
        format!("dingo CPU per `/token` RS256 [{db}]"),
        format!("{} ms", number(rs_token.cpu_ms_each())),
        &format!("{} ms (one bare RS256 signature)", number(rs_sign.cpu_ms_each())),
        "—",
        None,
    ));
    if es_store.ok > 0 {
        rows.push(Row::at_least(
            format!("`/token` code grant, ES256 ID token + access + refresh token [{db}]"),
            es_token.per_second(),
            "req/s",
            (
                es_store.per_second(),
                "its 3 statements through dingo's store, no HTTP, same pool size",
            ),
            Some(0.8),
        ));
        rows.push(Row::at_least(
            format!(
                "`/token` floor, ES256: a bare actix-web handler making `/token`'s store calls and one ES256 signature, nothing else [{db}]"
            ),
            es_floor.per_second(),
            "req/s",
            (es_store.per_second(), "the same store calls, no HTTP"),
            None,
        ));
    } else {
        rows.push(Row::failed(format!("`/token` ES256 [{db}]"), "no store-only baseline"));
    }
    rows.push(Row::plain(
        format!("dingo CPU per `/token` ES256 [{db}]"),
        format!("{} ms", number(es_token.cpu_ms_each())),
        &format!(
            "{} ms (one bare ES256 signature); store only: {} ms",
            number(es_sign.cpu_ms_each()),
            number(es_store.cpu_ms_each())
        ),
        "—",
        None,
    ));

    let calls_before = flows::dingtalk_calls(http, &dingo.base).await?;
    let before = pg_count(b).await;
    let rs_refresh_run = refresh_for(http, s, dingo, RS_CLIENT, &rs_refresh).await;
    let after = pg_count(b).await;
    let calls_after = flows::dingtalk_calls(http, &dingo.base).await?;
    warn(fail_on_errors(&rs_refresh_run, "refresh RS256"));
    let refresh_statements = before
        .zip(after)
        .map(|(x, y)| (y - x) as f64 / rs_refresh_run.ok as f64);
    let refresh_calls = total(&calls_after) - total(&calls_before);
    let es_refresh_run = refresh_for(http, s, dingo, ES_CLIENT, &es_refresh).await;
    warn(fail_on_errors(&es_refresh_run, "refresh ES256"));
    rows.push(Row::at_least(
        format!("refresh_token grant, RS256 [{db}]"),
        rs_refresh_run.per_second(),
        "req/s",
        (rs_sign.per_second(), &rs_what),
        None,
    ));
    rows.push(Row::at_least(
        format!("refresh_token grant, ES256 [{db}]"),
        es_refresh_run.per_second(),
        "req/s",
        (es_sign.per_second(), &es_what),
        None,
    ));
    rows.push(Row::plain(
        format!("DingTalk calls per refresh [{db}]"),
        number(refresh_calls / rs_refresh_run.ok as f64),
        "—",
        "—",
        None,
    ));

    let before = pg_count(b).await;
    let (rs_login, rs_sim) = logins_for(http, s, b, RS_CLIENT).await?;
    let after = pg_count(b).await;
    warn(fail_on_errors(&rs_login, "full login RS256"));
    let login_statements = before.zip(after).map(|(x, y)| (y - x) as f64 / rs_login.ok as f64);
    let (es_login, es_sim) = logins_for(http, s, b, ES_CLIENT).await?;
    warn(fail_on_errors(&es_login, "full login ES256"));
    for (run, sim_cpu, alg, sign, what, cpu_goal) in [
        (&rs_login, rs_sim, "RS256", &rs_sign, &rs_what, 1.5),
        (&es_login, es_sim, "ES256", &es_sign, &es_what, 0.5),
    ] {
        rows.push(Row::at_least(
            format!("full login (authorize → simulator → callback → token), {alg} [{db}]"),
            run.per_second(),
            "logins/s",
            (sign.per_second(), what),
            None,
        ));
        rows.push(Row::at_most(
            format!("dingo CPU per full login, {alg} [{db}]"),
            run.cpu_ms_each(),
            "ms",
            Some((
                sim_cpu * 1000.0 / run.ok as f64,
                "the simulator's CPU per login: its login page and 3 API calls, no database",
            )),
            cpu_goal,
        ));
    }

    let statements = match (token_statements, refresh_statements, login_statements) {
        (Some(t), Some(r), Some(l)) => (
            format!("{} / {} / {} round trips", number(t), number(r), number(l)),
            "transactions counted by PostgreSQL (pg_stat_database): one per round trip, a batch of writes being one statement",
        ),
        _ => (
            "3 / 5 / 10 statements in 2 / 5 / 6 round trips".to_owned(),
            "read from the store code paths: login 1 + 6 + 3 statements in 1 + 3 + 2 round trips",
        ),
    };
    rows.push(Row::plain(
        format!("SQL per `/token` / refresh / full login [{db}]"),
        statements.0,
        statements.1,
        "—",
        None,
    ));
    Ok(rows)
}

fn total(calls: &BTreeMap<String, f64>) -> f64 {
    calls.values().sum()
}

/// The database rows against a fresh PostgreSQL database on `server`, dropped afterwards.
async fn postgres_rows(
    http: &reqwest::Client,
    s: &Settings,
    server: &str,
    tmp: &Path,
    sim: &Proc,
    signing: &Signing,
) -> Vec<Row> {
    use sqlx::Connection;
    let name = format!("dingo_bench_{}", uuid::Uuid::new_v4().simple());
    let attempt = async {
        let mut conn = sqlx::PgConnection::connect(server).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut url = url::Url::parse(server)?;
        url.set_path(&format!("/{name}"));
        let url = url.to_string();
        let dir = tmp.join("postgres");
        let dingo = procs::start_dingo(http, &dir, &sim.base, &url, &[]).await?;
        let sample = sample(http, &dingo.base, ES_CLIENT).await?;
        let backend = Backend {
            name: "PostgreSQL",
            dingo: &dingo,
            sim,
            database_url: &url,
            postgres: Some((server, &name)),
        };
        let shape = TokenShape {
            client_id: ES_CLIENT.into(),
            userid: PERSON.into(),
            sid: sample.claims["sid"].as_str().unwrap_or_default().to_owned(),
            scope: flows::SCOPE.into(),
        };
        let mut rows = database_rows(http, s, &backend, signing, shape).await?;
        rows.push(Row::at_most(
            "dingo peak RSS (VmHWM) after all PostgreSQL phases",
            procs::memory_mb(dingo.pid(), "VmHWM")?,
            "MB",
            None,
            60.0,
        ));
        dingo.stop(Duration::from_secs(5));
        anyhow::Ok(rows)
    };
    let rows = attempt.await.unwrap_or_else(|e| {
        log(format!("PostgreSQL rows failed: {e:#}"));
        vec![Row::failed("database rows [PostgreSQL]", &format!("{e:#}"))]
    });
    let dropped = async {
        let mut conn = sqlx::PgConnection::connect(server).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        anyhow::Ok(())
    };
    if let Err(e) = dropped.await {
        log(format!("cannot drop database {name}: {e}"));
    }
    rows
}

/// How a login reaches DingTalk.
#[derive(Clone, Copy)]
enum Route {
    Web,
    InApp,
    Legacy,
}

/// DingTalk calls per login on each route, for a first login (a fresh dingo: no app token, no
/// cached departments or unionid) and a returning person, each on its own fresh instance.
async fn upstream_calls(http: &reqwest::Client, tmp: &Path, sim: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    // The README's figures for 张三 (平台组 under 研发部: three departments).
    for (route, name, documented) in [
        (Route::Web, "web (OAuth2)", (8.0, 3.0)),
        (Route::InApp, "in-app (免登)", (6.0, 2.0)),
        (Route::Legacy, "legacy scan login", (7.0, 2.0)),
    ] {
        let measure = format!("DingTalk calls per login, {name}: first / returning");
        match calls_per_login(http, tmp, sim, route).await {
            Ok((first, returning, detail)) => {
                log(format!("{name}: first login {detail}"));
                rows.push(Row::plain(
                    measure,
                    format!("{} / {}", number(first), number(returning)),
                    "—",
                    &format!("{} / {} (README)", documented.0, documented.1),
                    Some(first <= documented.0 && returning <= documented.1),
                ));
            }
            Err(e) => rows.push(Row::failed(measure, &format!("{e:#}"))),
        }
    }
    rows
}

async fn calls_per_login(
    http: &reqwest::Client,
    tmp: &Path,
    sim: &str,
    route: Route,
) -> anyhow::Result<(f64, f64, String)> {
    let (dir, env) = match route {
        Route::Web => ("calls-web", vec![]),
        Route::InApp => ("calls-inapp", vec![]),
        Route::Legacy => (
            "calls-legacy",
            vec![
                ("DINGO_DINGTALK__WEB_LOGIN".to_owned(), "legacy".to_owned()),
                (
                    "DINGO_DINGTALK__LEGACY_APP_ID".to_owned(),
                    "dingoa_sample_legacy".to_owned(),
                ),
                (
                    "DINGO_DINGTALK__LEGACY_APP_SECRET".to_owned(),
                    "sample-legacy-secret".to_owned(),
                ),
            ],
        ),
    };
    let dir = tmp.join(dir);
    let url = format!("sqlite://{}", dir.join("dingo.db").display());
    let dingo = procs::start_dingo(http, &dir, sim, &url, &env).await?;
    let authorize = flows::authorize_url(&dingo.base, RS_CLIENT)?;
    let login = || async {
        let code = match route {
            Route::Web | Route::Legacy => flows::web_login(http, &dingo.base, &authorize).await,
            Route::InApp => flows::in_app_login(http, &dingo.base, sim, &authorize).await,
        };
        code.map_err(anyhow::Error::msg)
    };
    let start = flows::dingtalk_calls(http, &dingo.base).await?;
    login().await?;
    let first = flows::dingtalk_calls(http, &dingo.base).await?;
    login().await?;
    let returning = flows::dingtalk_calls(http, &dingo.base).await?;
    dingo.stop(Duration::from_secs(5));
    let detail = first
        .iter()
        .map(|(api, n)| format!("{api} {}", n - start.get(api).copied().unwrap_or(0.0)))
        .collect::<Vec<_>>()
        .join(", ");
    Ok((total(&first) - total(&start), total(&returning) - total(&first), detail))
}
