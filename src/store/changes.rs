//! How instances tell each other that something changed (a client, the keys): each topic has a
//! version in the database that goes up with every change, which an instance compares with the
//! one it last saw. On PostgreSQL a change is also announced with `NOTIFY`, so that instances
//! listening hear of it at once instead of at their next look.

use sqlx::Row;
use sqlx::postgres::PgListener;

use super::{Backend, Db, StoreError};

/// The channel of change notifications.
const CHANNEL: &str = "dingo_changes";

/// What can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The clients managed at run time.
    Clients,
    /// The signing keys.
    Keys,
}

impl Topic {
    pub const ALL: [Topic; 2] = [Topic::Clients, Topic::Keys];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Clients => "clients",
            Topic::Keys => "keys",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl Db {
    /// Records that `topic` changed, for every instance to see.
    pub async fn announce(&self, topic: Topic) -> Result<(), StoreError> {
        let bump = "INSERT INTO changes (topic, version) VALUES ($1, 1)
                    ON CONFLICT (topic) DO UPDATE SET version = changes.version + 1";
        match self.backend {
            Backend::Sqlite => {
                sqlx::query(bump).bind(topic.as_str()).execute(&self.pool).await?;
            }
            Backend::Postgres => {
                // One statement: the NOTIFY is sent when the version's change commits.
                sqlx::query(&format!(
                    "WITH bumped AS ({bump} RETURNING topic) SELECT pg_notify('{CHANNEL}', topic) FROM bumped"
                ))
                .bind(topic.as_str())
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// The version of every topic that has changed at least once.
    pub async fn change_versions(&self) -> Result<Vec<(Topic, i64)>, StoreError> {
        let rows = sqlx::query("SELECT topic, version FROM changes")
            .fetch_all(&self.pool)
            .await?;
        let mut versions = Vec::new();
        for row in &rows {
            let name: String = row.try_get("topic")?;
            if let Some(topic) = Topic::parse(&name) {
                versions.push((topic, row.try_get("version")?));
            }
        }
        Ok(versions)
    }

    /// A connection that hears of changes as they are made: PostgreSQL only (`None` on SQLite,
    /// where only comparing versions tells).
    pub async fn listen_for_changes(&self) -> Result<Option<ChangeListener>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = PgListener::connect(&self.url.0).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(ChangeListener(listener)))
    }
}

pub struct ChangeListener(PgListener);

impl ChangeListener {
    /// Waits for the next change. `None` when the connection was lost meanwhile (it reconnects
    /// at the next call, and changes made meanwhile were not heard: compare versions).
    pub async fn next(&mut self) -> Result<Option<Topic>, StoreError> {
        let notification = self.0.try_recv().await?;
        Ok(notification.and_then(|n| Topic::parse(n.payload())))
    }
}
