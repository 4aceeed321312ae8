//! The job queue and its worker, on the suite's database (SQLite, or PostgreSQL in its pass),
//! reached through two pools as two instances would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dingo::clock::{Clock, SharedClock, TestClock};
use dingo::crypto::random_token;
use dingo::jobs::{Handler, Outcome, Pace, Worker};
use dingo::store::{Db, JobCounts, LeasedJob, NewJob};
use dingo::telemetry::Metrics;

const KIND: &str = "test_job";

/// Counts the attempts at each job and answers with `outcome`; a round's attempts meet at
/// `barrier` when one is set (they only get past it together).
#[derive(Clone)]
struct Recorder {
    runs: Arc<Mutex<HashMap<String, u32>>>,
    outcome: Outcome,
    barrier: Option<Arc<tokio::sync::Barrier>>,
}

impl Recorder {
    fn new(outcome: Outcome) -> Self {
        Self {
            runs: Arc::default(),
            outcome,
            barrier: None,
        }
    }

    fn runs(&self) -> HashMap<String, u32> {
        self.runs.lock().unwrap().clone()
    }
}

impl Handler for Recorder {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, job: LeasedJob) -> Outcome {
        if let Some(barrier) = &self.barrier {
            barrier.wait().await;
        }
        tokio::task::yield_now().await;
        *self.runs.lock().unwrap().entry(job.payload).or_default() += 1;
        self.outcome.clone()
    }
}

/// Two handles on one fresh database: two instances.
async fn two_instances() -> (Db, Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::database::database_url(dir.path());
    let a = Db::connect(&url, 4).await.unwrap();
    a.migrate().await.unwrap();
    let b = Db::connect(&url, 4).await.unwrap();
    (a, b, dir)
}

fn worker(
    db: &Db,
    clock: &Arc<TestClock>,
    metrics: &Arc<Metrics>,
    handler: Recorder,
    max_attempts: i64,
) -> Worker<Recorder> {
    let pace = Pace {
        concurrency: 8,
        lease: Duration::from_secs(60),
        max_attempts,
        poll: Duration::from_secs(1),
    };
    let clock: SharedClock = clock.clone();
    Worker::new(db.clone(), clock, metrics.clone(), handler, pace)
}

async fn enqueue(db: &Db, clock: &TestClock, n: usize) -> Vec<String> {
    let jobs: Vec<NewJob> = (0..n)
        .map(|i| NewJob {
            id: random_token(),
            kind: KIND.to_owned(),
            payload: format!("job-{i}"),
            run_at: clock.now(),
        })
        .collect();
    db.enqueue_jobs(&jobs, clock.now()).await.unwrap();
    jobs.into_iter().map(|j| j.payload).collect()
}

#[tokio::test]
async fn two_instances_draining_one_queue_do_each_job_once() {
    let (a, b, _dir) = two_instances().await;
    let clock = TestClock::new();
    let metrics = Arc::new(Metrics::new());
    let queued = enqueue(&a, &clock, 60).await;
    let recorder = Recorder::new(Outcome::Done);
    let (first, second) = (
        worker(&a, &clock, &metrics, recorder.clone(), 8),
        worker(&b, &clock, &metrics, recorder.clone(), 8),
    );
    let drain = |w: Worker<Recorder>| async move {
        let mut total = 0;
        loop {
            match w.run_once().await.unwrap() {
                0 => return total,
                n => total += n,
            }
        }
    };
    let (x, y) = tokio::join!(drain(first), drain(second));
    assert_eq!(x + y, 60, "every job leased once between them ({x} + {y})");
    let runs = recorder.runs();
    assert_eq!(runs.len(), queued.len());
    assert!(runs.values().all(|&n| n == 1), "each job ran once: {runs:?}");
    assert_eq!(a.count_jobs().await.unwrap(), JobCounts { waiting: 0, dead: 0 });
}

#[tokio::test]
async fn a_round_runs_its_jobs_at_once() {
    let (db, _, _dir) = two_instances().await;
    let clock = TestClock::new();
    enqueue(&db, &clock, 4).await;
    let mut recorder = Recorder::new(Outcome::Done);
    // Four attempts that can only finish together: one after another, they never would.
    recorder.barrier = Some(Arc::new(tokio::sync::Barrier::new(4)));
    let w = worker(&db, &clock, &Arc::new(Metrics::new()), recorder.clone(), 8);
    let ran = tokio::time::timeout(Duration::from_secs(10), w.run_once()).await;
    assert_eq!(ran.expect("the round did not block").unwrap(), 4);
    assert_eq!(recorder.runs().len(), 4);
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_kept_dead_and_counted() {
    let (db, _, _dir) = two_instances().await;
    let clock = TestClock::new();
    let metrics = Arc::new(Metrics::new());
    enqueue(&db, &clock, 1).await;
    let recorder = Recorder::new(Outcome::Retry("the app answered 503".into()));
    let w = worker(&db, &clock, &metrics, recorder.clone(), 3);
    assert_eq!(w.run_once().await.unwrap(), 1, "attempt 1");
    assert_eq!(w.run_once().await.unwrap(), 0, "not due before its backoff");
    clock.advance(5);
    assert_eq!(w.run_once().await.unwrap(), 1, "attempt 2, after 5 s");
    clock.advance(5);
    assert_eq!(w.run_once().await.unwrap(), 0, "the next backoff is 10 s");
    clock.advance(5);
    assert_eq!(w.run_once().await.unwrap(), 1, "attempt 3, the last");
    clock.advance(3600);
    assert_eq!(w.run_once().await.unwrap(), 0, "a dead job is not tried again");
    assert_eq!(recorder.runs()["job-0"], 3);
    assert_eq!(db.count_jobs().await.unwrap(), JobCounts { waiting: 0, dead: 1 });
    dingo::housekeeping::run_once(&db, &(clock.clone() as SharedClock), &metrics, 86_400).await;
    let text = metrics.render();
    for line in [
        "dingo_jobs_total{kind=\"test_job\",outcome=\"retried\"} 2",
        "dingo_jobs_total{kind=\"test_job\",outcome=\"dead\"} 1",
        "dingo_jobs_dead 1",
        "dingo_jobs_waiting 0",
    ] {
        assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
    }
    // Dead jobs are kept a week for operators, then purged.
    clock.advance(8 * 86_400);
    dingo::housekeeping::run_once(&db, &(clock.clone() as SharedClock), &metrics, 86_400 * 30).await;
    assert_eq!(db.count_jobs().await.unwrap(), JobCounts { waiting: 0, dead: 0 });
}

#[tokio::test]
async fn a_job_an_instance_leased_and_never_finished_is_taken_over_once_its_lease_runs_out() {
    let (a, b, _dir) = two_instances().await;
    let clock = TestClock::new();
    enqueue(&a, &clock, 1).await;
    // An instance leases the job and dies before finishing it.
    let now = clock.now();
    let lost = a.lease_jobs(KIND, now, now + 60, "crashed", 10).await.unwrap();
    assert_eq!(lost.len(), 1);
    let recorder = Recorder::new(Outcome::Done);
    let w = worker(&b, &clock, &Arc::new(Metrics::new()), recorder.clone(), 8);
    assert_eq!(w.run_once().await.unwrap(), 0, "leased elsewhere");
    clock.advance(61);
    assert_eq!(w.run_once().await.unwrap(), 1, "taken over");
    assert_eq!(recorder.runs()["job-0"], 1);
    assert!(
        !a.finish_job(&lost[0]).await.unwrap(),
        "the old lease can no longer finish it"
    );
}
