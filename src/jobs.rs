//! The job worker: takes due jobs of one kind from the queue every instance shares
//! (`store::jobs`), runs a round of them at once, and records each outcome. A job is done by one
//! instance at a time, retried with backoff when it fails, and kept dead, for operators to see
//! (`dingo_jobs_dead`), after its last attempt. Back-channel logout notices go through it now;
//! the change-event inbox will too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::crypto::random_token;
use crate::store::{Db, LeasedJob, StoreError};
use crate::telemetry::Metrics;

/// How an attempt at a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed for a reason that may pass (never a secret: it is stored and logged).
    Retry(String),
    /// Failed for good: no later attempt could succeed.
    GiveUp(String),
    /// A recurring job's round is over: it runs again at `at` (unix seconds) with `payload`.
    Reschedule {
        at: i64,
        payload: String,
    },
}

/// What runs the jobs of one kind.
pub trait Handler: Send + Sync + 'static {
    /// The kind of job this handles (the `kind` column).
    fn kind(&self) -> &'static str;
    fn run(&self, job: LeasedJob) -> impl Future<Output = Outcome> + Send;
}

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Jobs leased and run at once, per round.
    pub concurrency: i64,
    /// How long a leased job is this instance's; an attempt must end well within it.
    pub lease: Duration,
    /// Attempts before a job is given up.
    pub max_attempts: i64,
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            concurrency: 16,
            lease: Duration::from_secs(60),
            max_attempts: 8,
            poll: Duration::from_secs(1),
        }
    }
}

pub struct Worker<H> {
    db: Db,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    handler: Arc<H>,
    pace: Pace,
}

impl<H: Handler> Worker<H> {
    pub fn new(db: Db, clock: SharedClock, metrics: Arc<Metrics>, handler: H, pace: Pace) -> Self {
        Self {
            db,
            clock,
            metrics,
            handler: Arc::new(handler),
            pace,
        }
    }

    /// Runs rounds until `stop` is cancelled: at once when `wake` is notified, else every poll.
    /// A full round is followed by another at once. A round under way is finished first.
    pub async fn run(self, wake: Arc<Notify>, stop: CancellationToken) {
        loop {
            let ran = match self.run_once().await {
                Ok(ran) => ran,
                Err(e) => {
                    tracing::error!(kind = self.handler.kind(), cause = %e, "cannot read the job queue");
                    0
                }
            };
            if ran as i64 >= self.pace.concurrency {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.pace.poll) => {}
            }
        }
    }

    /// One round: leases the due jobs (up to `concurrency`), runs them at once and records how
    /// each ended. Returns how many ran.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let kind = self.handler.kind();
        let now = self.clock.now();
        let lease = random_token();
        let until = now + i64::try_from(self.pace.lease.as_secs()).unwrap_or(i64::MAX / 2);
        let jobs = self
            .db
            .lease_jobs(kind, now, until, &lease, self.pace.concurrency)
            .await?;
        let ran = jobs.len();
        let mut attempts = JoinSet::new();
        for job in jobs {
            let handler = self.handler.clone();
            attempts.spawn(async move { (handler.run(job.clone()).await, job) });
        }
        while let Some(finished) = attempts.join_next().await {
            let (outcome, job) = match finished {
                Ok(done) => done,
                Err(e) => {
                    // The job stays leased, and is tried again once its lease runs out.
                    tracing::error!(kind, cause = %e, "a job's attempt panicked");
                    continue;
                }
            };
            self.record(&job, outcome).await?;
        }
        Ok(ran)
    }

    async fn record(&self, job: &LeasedJob, outcome: Outcome) -> Result<(), StoreError> {
        let kind = self.handler.kind();
        let now = self.clock.now();
        let kept = match outcome {
            Outcome::Done => {
                self.metrics.record_job(kind, "done");
                self.db.finish_job(job).await?
            }
            Outcome::Retry(why) if job.attempts < self.pace.max_attempts => {
                tracing::warn!(kind, attempts = job.attempts, %why, "a job failed; it will be tried again");
                self.metrics.record_job(kind, "retried");
                self.db.retry_job(job, now + backoff(job.attempts), &why).await?
            }
            Outcome::Reschedule { at, payload } => {
                self.metrics.record_job(kind, "done");
                self.db.reschedule_job(job, at, &payload).await?
            }
            Outcome::Retry(why) | Outcome::GiveUp(why) => {
                tracing::error!(kind, attempts = job.attempts, %why, "a job is given up");
                self.metrics.record_job(kind, "dead");
                self.db.bury_job(job, now, &why).await?
            }
        };
        if !kept {
            tracing::warn!(
                kind,
                "a job's lease ran out before its attempt ended; another instance took it over"
            );
        }
        Ok(())
    }
}

/// Seconds before the attempt after `attempts`: 5, 10, 20, … up to an hour.
pub fn backoff(attempts: i64) -> i64 {
    (5_i64 << (attempts - 1).clamp(0, 20)).min(3600)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let waits: Vec<i64> = (1..=12).map(super::backoff).collect();
        assert_eq!(&waits[..4], &[5, 10, 20, 40]);
        assert_eq!(waits[11], 3600);
    }
}
