//! Clients managed at run time. Their settings are stored as JSON; the secret only as a hash.

use sqlx::Row;

use super::{Db, StoreError};
use crate::config::ClientSettings;

impl Db {
    /// Every managed client with its secret's hash.
    pub async fn managed_clients(&self) -> Result<Vec<(ClientSettings, Option<String>)>, StoreError> {
        let rows = sqlx::query("SELECT client_id, settings, secret_sha256 FROM clients ORDER BY client_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("client_id")?;
                let text: String = r.try_get("settings")?;
                let settings = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("settings of client {id}: {e}")))?;
                Ok((settings, r.try_get("secret_sha256")?))
            })
            .collect()
    }

    /// Stores a client (new or changed); `secret_sha256` is kept unless a new one is given.
    pub async fn save_client(
        &self,
        settings: &ClientSettings,
        secret_sha256: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut stored = settings.clone();
        stored.secret_sha256 = None;
        stored.secret_env = None;
        stored.secret_file = None;
        let text = serde_json::to_string(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO clients (client_id, settings, secret_sha256, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (client_id) DO UPDATE SET settings = excluded.settings,
                 secret_sha256 = COALESCE(excluded.secret_sha256, clients.secret_sha256), updated_at = excluded.updated_at",
        )
        .bind(&settings.client_id)
        .bind(&text)
        .bind(secret_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a managed client; false when there was none.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
