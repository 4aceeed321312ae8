//! Logins while DingTalk misbehaves. For each fault, a simulator injecting it (seeded, so that
//! a run replays) and a fresh dingo: whole web logins of a returning person at a fixed
//! concurrency, each timed; the share that reached the app with a code, and the p99. Then
//! dingo's CPU per login with DingTalk answering at once and 50 ms late, at a concurrency where
//! latency keeps many calls in flight, in alternating rounds.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::drive::{Run, Stop, drive};
use crate::flows;
use crate::procs::{self, Proc, RS_CLIENT};
use crate::report::{Row, number};

/// Logins per fault run, and how many at once.
const LOGINS: usize = 300;
const CONCURRENCY: usize = 10;
/// Logins in flight at once for the CPU measurement, where latency keeps them all waiting.
const LATENCY_CONCURRENCY: usize = 50;
/// Alternating rounds of the CPU measurement, and logins in each.
const ROUNDS: usize = 4;
const LOGINS_PER_ROUND: usize = 500;
/// At least this share of logins must succeed under each fault.
const SUCCESS_GOAL: f64 = 99.0;

/// `(what, simulator flags)`.
const FAULTS: &[(&str, &[&str])] = &[
    ("no fault", &[]),
    (
        "30 % of DingTalk answers 502",
        &["--fault", "502,fraction=0.3", "--seed", "17"],
    ),
    (
        "10 % of DingTalk connections reset",
        &["--fault", "reset,fraction=0.1", "--seed", "17"],
    ),
    (
        "30 % of DingTalk answers busy",
        &["--fault", "busy,fraction=0.3", "--seed", "17"],
    ),
];

pub async fn rows(tmp: &Path) -> Vec<Row> {
    // Idle connections kept for every login in flight: the load generator itself opens no new
    // connections to dingo, so that dingo's CPU is its own work.
    let http = match flows::http_client(2 * LATENCY_CONCURRENCY) {
        Ok(http) => http,
        Err(e) => return vec![Row::failed("logins under DingTalk faults", &format!("{e:#}"))],
    };
    let http = &http;
    let mut rows = Vec::new();
    for (i, (what, flags)) in FAULTS.iter().enumerate() {
        let dir = tmp.join(format!("faults-{i}"));
        match fault_run(http, &dir, flags).await {
            Ok((ok, p99)) => {
                let share = ok as f64 * 100.0 / LOGINS as f64;
                crate::log(format!("logins with {what}: {ok}/{LOGINS} ok, p99 {p99:.0} ms"));
                rows.push(Row::plain(
                    format!("logins with {what} ({LOGINS} at concurrency {CONCURRENCY}): success, p99"),
                    format!("{} %, p99 {} ms", number(share), number(p99)),
                    "—",
                    &format!("≥ {SUCCESS_GOAL} %"),
                    Some(share >= SUCCESS_GOAL),
                ));
            }
            Err(e) => rows.push(Row::failed(format!("logins with {what}"), &format!("{e:#}"))),
        }
    }
    match cpu_at_latencies(http, tmp).await {
        Ok((at_once, late)) => rows.push(Row::at_most(
            format!("dingo CPU per login with DingTalk 50 ms late (concurrency {LATENCY_CONCURRENCY})"),
            late,
            "ms",
            Some((at_once, "DingTalk answering at once")),
            at_once * 1.1,
        )),
        Err(e) => rows.push(Row::failed("dingo CPU per login at 0 and 50 ms", &format!("{e:#}"))),
    }
    rows
}

/// A simulator with `flags`, a fresh dingo; `LOGINS` logins after a first one (the returning
/// person): how many reached the app, and the p99 of all, in milliseconds.
async fn fault_run(http: &reqwest::Client, dir: &Path, flags: &[&str]) -> anyhow::Result<(usize, f64)> {
    let (sim, dingo) = start(http, dir, flags).await?;
    let authorize = flows::authorize_url(&dingo.base, RS_CLIENT)?;
    let next = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::with_capacity(LOGINS)));
    let ok = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (http, base, authorize) = (http.clone(), dingo.base.clone(), authorize.clone());
            let (next, times, ok) = (next.clone(), times.clone(), ok.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < LOGINS {
                    let started = Instant::now();
                    if flows::web_login(&http, &base, &authorize).await.is_ok() {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    let took = started.elapsed().as_secs_f64() * 1000.0;
                    times.lock().unwrap_or_else(PoisonError::into_inner).push(took);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    dingo.stop(Duration::from_secs(5));
    sim.stop(Duration::from_secs(2));
    let mut times = std::mem::take(&mut *times.lock().unwrap_or_else(PoisonError::into_inner));
    times.sort_by(f64::total_cmp);
    let p99 = times.get(times.len() * 99 / 100).copied().unwrap_or(f64::NAN);
    Ok((ok.load(Ordering::Relaxed), p99))
}

/// dingo's CPU milliseconds per login with DingTalk answering at once, and 50 ms late: two
/// simulator and dingo pairs side by side, measured in alternating rounds so that both see the
/// same background load.
async fn cpu_at_latencies(http: &reqwest::Client, tmp: &Path) -> anyhow::Result<(f64, f64)> {
    let mut pairs = Vec::new();
    for ms in ["0", "50"] {
        let (sim, dingo) = start(http, &tmp.join(format!("latency-{ms}")), &["--latency-ms", ms]).await?;
        let split = procs::cpu_split(&dingo.pid().to_string())?;
        pairs.push((ms, sim, dingo, Run::empty(), split));
    }
    for _ in 0..ROUNDS {
        for (_, _, dingo, total, _) in pairs.iter_mut() {
            let authorize = Arc::new(flows::authorize_url(&dingo.base, RS_CLIENT)?);
            let (http2, base) = (http.clone(), Arc::new(dingo.base.clone()));
            let run = drive(
                LATENCY_CONCURRENCY,
                Stop::Items(0, LOGINS_PER_ROUND),
                dingo.pid(),
                move |_, _| {
                    let (http, base, authorize) = (http2.clone(), base.clone(), authorize.clone());
                    async move { flows::web_login(&http, &base, &authorize).await.map(|_| ()) }
                },
            )
            .await;
            anyhow::ensure!(run.failed == 0, "{} logins failed: {:?}", run.failed, run.first_error);
            total.add(run);
        }
    }
    let mut each = Vec::new();
    for (ms, sim, dingo, total, (user0, system0)) in pairs {
        // Where the time went, over the whole measurement (the other pair's rounds included).
        let (user, system) = procs::cpu_split(&dingo.pid().to_string())?;
        let per_login = |ticks: u64| ticks as f64 / procs::clock_ticks() * 1000.0 / total.ok as f64;
        crate::log(format!(
            "logins with DingTalk {ms} ms late: {}; user {:.3} ms, system {:.3} ms per login",
            total.summary(),
            per_login(user - user0),
            per_login(system - system0)
        ));
        each.push(total.cpu_ms_each());
        dingo.stop(Duration::from_secs(5));
        sim.stop(Duration::from_secs(2));
    }
    Ok((each[0], each[1]))
}

/// The simulator with `flags` and a fresh dingo on SQLite in `dir`, after one login (so that
/// the app token and the person are known: the runs measure a returning person's logins). The
/// faults may fail that login, and open a circuit breaker for a while: it is tried for a minute.
async fn start(http: &reqwest::Client, dir: &Path, flags: &[&str]) -> anyhow::Result<(Proc, Proc)> {
    let sim = procs::start_sim_with(http, dir, flags).await?;
    let url = format!("sqlite://{}", dir.join("dingo.db").display());
    let dingo = procs::start_dingo(http, &dir.join("dingo"), &sim.base, &url, &[]).await?;
    let authorize = flows::authorize_url(&dingo.base, RS_CLIENT)?;
    for _ in 0..120 {
        if flows::web_login(http, &dingo.base, &authorize).await.is_ok() {
            return Ok((sim, dingo));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("no first login got through")
}
