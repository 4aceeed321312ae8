//! What administrators do to people: list them, disable and enable them, end their sessions.

use sqlx::Row;

use super::{Db, Session, StoreError};

/// A person as an administrator sees them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonSummary {
    pub userid: String,
    pub name: String,
    pub last_login_at: i64,
    pub disabled_at: Option<i64>,
    pub live_sessions: i64,
}

impl Db {
    /// People who have logged in, most recent first.
    pub async fn list_people(&self, now: i64, limit: i64) -> Result<Vec<PersonSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.userid, u.profile, u.last_login_at, u.disabled_at,
                    (SELECT COUNT(*) FROM sessions s WHERE s.userid = u.userid AND s.expires_at > $1) AS live
             FROM users u ORDER BY u.last_login_at DESC, u.userid LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let profile: String = r.try_get("profile")?;
                let name = serde_json::from_str::<serde_json::Value>(&profile)
                    .ok()
                    .and_then(|p| p["name"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                Ok(PersonSummary {
                    userid: r.try_get("userid")?,
                    name,
                    last_login_at: r.try_get("last_login_at")?,
                    disabled_at: r.try_get("disabled_at")?,
                    live_sessions: r.try_get("live")?,
                })
            })
            .collect()
    }

    pub async fn is_user_disabled(&self, userid: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT disabled_at FROM users WHERE userid = $1")
            .bind(userid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
            None => false,
        })
    }

    /// Live sessions, newest first, optionally of one person.
    pub async fn live_sessions(&self, userid: Option<&str>, now: i64, limit: i64) -> Result<Vec<Session>, StoreError> {
        let rows = sqlx::query(
            "SELECT id_hash, sid, userid, route, auth_time, created_at, expires_at FROM sessions
             WHERE expires_at > $1 AND ($2 IS NULL OR userid = $2) ORDER BY created_at DESC LIMIT $3",
        )
        .bind(now)
        .bind(userid)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(super::sessions::read_session).collect()
    }
}
