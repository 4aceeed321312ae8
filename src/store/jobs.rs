//! The job queue: work done in the background, once across every instance. An instance leases
//! due jobs for a while; what it has not finished when the lease runs out (it crashed, or was
//! stopped) another instance takes over. Each change of a leased job names its lease, so a
//! job taken over is never finished twice.

use std::sync::LazyLock;

use sqlx::Row;

use super::batch::Batch;
use super::transaction::Tx;
use super::{Backend, Db, StoreError};

/// A job to do from `run_at` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub id: String,
    pub kind: String,
    /// JSON; never a secret (it is stored in clear and shown to operators).
    pub payload: String,
    pub run_at: i64,
}

/// A job leased to this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJob {
    pub id: String,
    pub payload: String,
    /// This attempt included.
    pub attempts: i64,
    pub created_at: i64,
    pub lease: String,
}

/// How a lease picks due jobs. PostgreSQL skips rows another instance is leasing at this very
/// moment; SQLite has one writer at a time, so its statement alone is enough.
fn lease_sql(backend: Backend) -> &'static str {
    static SQLITE: LazyLock<String> = LazyLock::new(|| lease_statement(""));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| lease_statement("FOR UPDATE SKIP LOCKED"));
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

fn lease_statement(lock: &str) -> String {
    format!(
        "UPDATE jobs SET leased_by = $3, leased_until = $4, attempts = attempts + 1
         WHERE id IN (SELECT id FROM jobs
                      WHERE kind = $1 AND dead_at IS NULL AND run_at <= $2
                        AND (leased_until IS NULL OR leased_until <= $2)
                      ORDER BY run_at LIMIT $5 {lock})
         RETURNING id, payload, attempts, created_at"
    )
}

impl Db {
    /// Queues jobs; see [`Tx::enqueue_jobs`].
    pub async fn enqueue_jobs(&self, jobs: &[NewJob], now: i64) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        enqueue(&mut batch, jobs, now);
        self.run(batch).await
    }

    /// Leases up to `limit` due jobs of `kind` until `until`, under the lease id `lease`.
    pub async fn lease_jobs(
        &self,
        kind: &str,
        now: i64,
        until: i64,
        lease: &str,
        limit: i64,
    ) -> Result<Vec<LeasedJob>, StoreError> {
        let rows = sqlx::query(lease_sql(self.backend))
            .bind(kind)
            .bind(now)
            .bind(lease)
            .bind(until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LeasedJob {
                    id: r.try_get("id")?,
                    payload: r.try_get("payload")?,
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                    lease: lease.to_owned(),
                })
            })
            .collect()
    }

    /// A job done: it goes. False when the lease was lost (another instance took the job over).
    pub async fn finish_job(&self, job: &LeasedJob) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND leased_by = $2")
            .bind(&job.id)
            .bind(&job.lease)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A failed attempt: the job is due again at `run_at`.
    pub async fn retry_job(&self, job: &LeasedJob, run_at: i64, error: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET run_at = $3, leased_by = NULL, leased_until = NULL, last_error = $4
             WHERE id = $1 AND leased_by = $2",
        )
        .bind(&job.id)
        .bind(&job.lease)
        .bind(run_at)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A job given up: kept, dead, for operators to see until it is purged.
    pub async fn bury_job(&self, job: &LeasedJob, now: i64, error: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET dead_at = $3, leased_by = NULL, leased_until = NULL, last_error = $4
             WHERE id = $1 AND leased_by = $2",
        )
        .bind(&job.id)
        .bind(&job.lease)
        .bind(now)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A recurring job's next round: due at `run_at`, with `payload`, its attempts counted
    /// afresh.
    pub async fn reschedule_job(&self, job: &LeasedJob, run_at: i64, payload: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET run_at = $3, payload = $4, attempts = 0, leased_by = NULL, leased_until = NULL,
                             last_error = NULL
             WHERE id = $1 AND leased_by = $2",
        )
        .bind(&job.id)
        .bind(&job.lease)
        .bind(run_at)
        .bind(payload)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queues `job` unless a job with its id exists (a recurring job every instance ensures at
    /// start-up). True when queued now.
    pub async fn ensure_job(&self, job: &NewJob, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO jobs (id, kind, payload, attempts, run_at, created_at) VALUES ($1, $2, $3, 0, $4, $5)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(job.run_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The payload of job `id`, if it exists.
    pub async fn job_payload(&self, id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT payload FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("payload")?)).transpose()
    }

    /// Jobs waiting (due or not) and dead, of every kind.
    pub async fn count_jobs(&self) -> Result<JobCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN dead_at IS NULL THEN 1 ELSE 0 END), 0) AS waiting,
                    COALESCE(SUM(CASE WHEN dead_at IS NULL THEN 0 ELSE 1 END), 0) AS dead
             FROM jobs",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(JobCounts {
            waiting: row.try_get("waiting")?,
            dead: row.try_get("dead")?,
        })
    }
}

/// How many jobs there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobCounts {
    pub waiting: i64,
    pub dead: i64,
}

impl Tx {
    /// Queues jobs as part of this transaction: they exist if and only if it commits.
    pub async fn enqueue_jobs(&mut self, jobs: &[NewJob], now: i64) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        enqueue(&mut batch, jobs, now);
        self.run(batch).await
    }
}

fn enqueue<'q>(batch: &mut Batch<'q>, jobs: &'q [NewJob], now: i64) {
    for job in jobs {
        batch
            .add("INSERT INTO jobs (id, kind, payload, attempts, run_at, created_at) VALUES ($1, $2, $3, 0, $4, $5)")
            .bind(&job.id)
            .bind(&job.kind)
            .bind(&job.payload)
            .bind(job.run_at)
            .bind(now);
    }
}
