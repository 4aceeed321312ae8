//! Back-channel logout tokens waiting to be delivered (an outbox: nothing is lost on restart).

use sqlx::Row;

use super::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDelivery {
    pub id: String,
    pub client_id: String,
    pub uri: String,
    pub logout_token: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

impl Db {
    pub async fn enqueue_logout_delivery(&self, d: &LogoutDelivery, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO logout_deliveries (id, client_id, uri, logout_token, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&d.id)
        .bind(&d.client_id)
        .bind(&d.uri)
        .bind(&d.logout_token)
        .bind(d.attempts)
        .bind(d.next_attempt_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` deliveries due at `now`.
    pub async fn due_logout_deliveries(&self, now: i64, limit: i64) -> Result<Vec<LogoutDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, uri, logout_token, attempts, next_attempt_at FROM logout_deliveries
             WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LogoutDelivery {
                    id: r.try_get("id")?,
                    client_id: r.try_get("client_id")?,
                    uri: r.try_get("uri")?,
                    logout_token: r.try_get("logout_token")?,
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                })
            })
            .collect()
    }

    pub async fn delete_logout_delivery(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM logout_deliveries WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn reschedule_logout_delivery(
        &self,
        id: &str,
        attempts: i64,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE logout_deliveries SET attempts = $2, next_attempt_at = $3 WHERE id = $1")
            .bind(id)
            .bind(attempts)
            .bind(next_attempt_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
