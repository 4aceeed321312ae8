//! The only code that speaks SQL. One method per operation; the SQL is the portable subset
//! (TEXT ids, BIGINT unix seconds, `$n` placeholders, `RETURNING`).

mod assertions;
mod audit;
mod clients;
mod codes;
mod deliveries;
mod logins;
mod people;
mod purge;
mod refresh;
mod sessions;
mod signing_keys;
mod tokens;
mod users;

use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use audit::{AuditEvent, AuditFilter};
pub use codes::{CodeRedemption, NewAuthorizationCode, RedeemedCode};
pub use deliveries::LogoutDelivery;
pub use logins::PendingLogin;
pub use people::PersonSummary;
pub use refresh::{RefreshToken, Rotation};
pub use sessions::Session;
pub use signing_keys::StoredSigningKey;
pub use tokens::{AccessTokenRecord, NewAccessToken};
pub use users::UserRecord;

/// Set on every SQLite connection.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
];

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A handle to the database (cheap to clone).
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
}

impl Db {
    /// Connects to `url`; a SQLite file is created when missing and runs in WAL mode.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = if url.starts_with("sqlite:") && !url.contains("mode=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_owned()
        };
        let is_sqlite = url.starts_with("sqlite:");
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if is_sqlite {
                        // WAL lets readers proceed while a login writes; NORMAL is durable in WAL.
                        for pragma in SQLITE_PRAGMAS {
                            conn.execute(*pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        SQLITE_MIGRATIONS.run(&self.pool).await?;
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

#[cfg(test)]
mod tests;
