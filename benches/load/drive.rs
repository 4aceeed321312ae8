//! The load generator: `connections` tasks running one operation after another, for a fixed
//! time or over a fixed list of items, counting successes and failures, and the CPU time the
//! process under test used meanwhile.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::flows::Flow;
use crate::procs::{clock_ticks, cpu_ticks};

#[derive(Clone, Copy)]
pub enum Stop {
    /// Start no operation after this long.
    After(Duration),
    /// Run the operation once for each item of `start..end`.
    Items(usize, usize),
}

pub struct Run {
    pub ok: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// CPU seconds (user + system) of the watched process during the run.
    pub cpu: f64,
}

impl Run {
    pub fn empty() -> Run {
        Run {
            ok: 0,
            failed: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            cpu: 0.0,
        }
    }

    /// Adds another round of the same measurement.
    pub fn add(&mut self, other: Run) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.first_error = self.first_error.take().or(other.first_error);
        self.elapsed += other.elapsed;
        self.cpu += other.cpu;
    }

    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU milliseconds of the watched process per successful operation.
    pub fn cpu_ms_each(&self) -> f64 {
        if self.ok == 0 {
            return f64::NAN;
        }
        self.cpu * 1000.0 / self.ok as f64
    }

    /// One line for the log: rate, failures and the first error.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} ok in {:.2} s = {:.0}/s, {:.3} ms CPU each",
            self.ok,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.cpu_ms_each()
        );
        if self.failed > 0 {
            text.push_str(&format!(
                ", {} FAILED (first: {})",
                self.failed,
                self.first_error.as_deref().unwrap_or("?")
            ));
        }
        text
    }
}

/// Runs `op(worker, item)` from `connections` concurrent tasks until `stop`, watching the CPU
/// time of process `pid`.
pub async fn drive<F, Fut>(connections: usize, stop: Stop, pid: u32, op: F) -> Run
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Flow<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let first = match stop {
        Stop::After(_) => 0,
        Stop::Items(start, _) => start,
    };
    let next = Arc::new(AtomicUsize::new(first));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let pid = pid.to_string();
    let cpu_before = cpu_ticks(&pid).unwrap_or(0);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|worker| {
            let (op, next, ok, failed, first_error) = (
                op.clone(),
                next.clone(),
                ok.clone(),
                failed.clone(),
                first_error.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let item = next.fetch_add(1, Ordering::Relaxed);
                    let go_on = match stop {
                        Stop::After(limit) => started.elapsed() < limit,
                        Stop::Items(_, end) => item < end,
                    };
                    if !go_on {
                        break;
                    }
                    match op(worker, item).await {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            first_error
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .get_or_insert(e);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_ticks(&pid).unwrap_or(cpu_before);
    let first_error = first_error.lock().unwrap_or_else(PoisonError::into_inner).take();
    Run {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        first_error,
        elapsed,
        cpu: (cpu_after - cpu_before) as f64 / clock_ticks(),
    }
}
