//! The only code that speaks SQL. One method per operation; the SQL is the portable subset
//! (TEXT ids, BIGINT unix seconds, `$n` placeholders, `RETURNING`). The dialects part in a few
//! places: how several writes travel as one (`batch`), how a transaction begins (`transaction`)
//! and how a job is leased (`jobs`).

mod assertions;
mod audit;
mod batch;
mod changes;
mod clients;
mod codes;
mod consents;
mod device;
mod issuance;
mod jobs;
mod logins;
mod org_events;
mod people;
mod purge;
mod pushed;
mod refresh;
mod revocation;
mod sessions;
mod signing_keys;
mod tokens;
mod transaction;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

pub use audit::{AuditEvent, AuditFilter};
pub use changes::{ChangeListener, Topic};
pub use clients::ClientRow;
pub use codes::{CodeRedemption, NewAuthorizationCode, RedeemedCode};
pub use device::{DeviceApproval, DeviceGrant, DeviceStatus, NewDeviceGrant, PolledDevice};
pub use issuance::{Checkout, CompletedLogin};
pub use jobs::{JobCounts, LeasedJob, NewJob};
pub use logins::PendingLogin;
pub use org_events::NewOrgEvent;
pub use people::PersonSummary;
pub use refresh::{RefreshToken, Rotation};
pub use revocation::{LeftMark, Revoked};
pub use sessions::Session;
pub use signing_keys::StoredSigningKey;
pub use tokens::{AccessTokenRecord, NewAccessToken};
pub use transaction::Tx;
pub use users::UserRecord;

/// Set on every SQLite connection. WAL lets readers proceed while a login writes; NORMAL is
/// durable in WAL.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA wal_autocheckpoint = 10000",
];

/// A PostgreSQL connection that has sat idle for longer than this is tested before it is used
/// (the server may have restarted meanwhile). One in steady use is not: the test is a round trip,
/// and sqlx already tests every connection when it goes back to the pool.
const TEST_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

pub use crate::dburl::Backend;

/// The migrations of a backend.
fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails as unavailable.
    pub acquire_timeout: Duration,
}

impl DbOptions {
    /// `max_connections`, and the default wait for a connection.
    pub fn pool(max_connections: u32) -> Self {
        Self {
            max_connections,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL: expected sqlite:… or postgres://…")]
    UnsupportedUrl,
}

impl StoreError {
    /// True when the database could not be reached or is shutting down (as opposed to a query it
    /// refused): the request may succeed if tried again shortly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(e) => e.code().is_some_and(|code| {
                    // PostgreSQL: connection exceptions, and the server shutting down or starting.
                    code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

/// A handle to the database (cheap to clone).
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// For the connection that listens for changes (PostgreSQL).
    url: ConnectUrl,
}

/// A database URL, which may hold a password: never shown.
#[derive(Clone)]
struct ConnectUrl(std::sync::Arc<str>);

impl std::fmt::Debug for ConnectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Db {
    /// Connects to `url` with a pool of `max_connections`; see [`Db::connect_with`].
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, &DbOptions::pool(max_connections)).await
    }

    /// Connects to `url`. The database is created when missing: a SQLite file (run in WAL
    /// mode), or a PostgreSQL database (which needs the CREATEDB privilege; else create it first).
    pub async fn connect_with(url: &str, options: &DbOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or(StoreError::UnsupportedUrl)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            Backend::Sqlite => url.to_owned(),
            Backend::Postgres => {
                create_postgres_database(url).await?;
                url.to_owned()
            }
        };
        let connect = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A SQLite connection is a file handle in this process and cannot go stale.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if backend == Backend::Postgres && meta.idle_for > TEST_WHEN_IDLE_FOR {
                        // An error closes this connection; the pool hands out another.
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            conn.execute(*pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        Ok(Self {
            pool,
            backend,
            url: ConnectUrl(url.as_str().into()),
        })
    }

    /// Sends `batch` on a connection of its own.
    async fn run(&self, batch: batch::Batch<'_>) -> Result<(), StoreError> {
        batch.execute(&mut *self.pool.acquire().await?, self.backend).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration of this backend. SQLite's run with foreign keys off, as
    /// rebuilding a table needs (SQLite cannot change a column's constraints in place), and the
    /// keys are checked once they are done.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            migrator(self.backend).run(&self.pool).await?;
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        conn.execute("PRAGMA foreign_keys = OFF").await?;
        let migrated = migrator(self.backend).run(&mut *conn).await;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        migrated?;
        let broken = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *conn).await?;
        if !broken.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "{} row(s) name a row that does not exist (PRAGMA foreign_key_check)",
                broken.len()
            )));
        }
        Ok(())
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the PostgreSQL database `url` names unless it exists (another instance starting at
/// the same moment may win the race; that is fine).
async fn create_postgres_database(url: &str) -> Result<(), StoreError> {
    if sqlx::Postgres::database_exists(url).await? {
        return Ok(());
    }
    if let Err(e) = sqlx::Postgres::create_database(url).await
        && !sqlx::Postgres::database_exists(url).await?
    {
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
