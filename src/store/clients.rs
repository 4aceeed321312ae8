//! Clients managed at run time: their settings as stored text (whose shape the OIDC layer
//! owns), the secret only as a hash.

use sqlx::Row;

use super::{Db, StoreError};

/// A managed client's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub client_id: String,
    /// The stored settings (JSON, see `oidc::StoredClient`).
    pub settings: String,
    /// Hex SHA-256 of the secret; `None` for clients without one.
    pub secret_sha256: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Db {
    /// Every managed client, by id.
    pub async fn managed_clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, settings, secret_sha256, created_at, updated_at FROM clients ORDER BY client_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClientRow {
                    client_id: r.try_get("client_id")?,
                    settings: r.try_get("settings")?,
                    secret_sha256: r.try_get("secret_sha256")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// Stores a new client; false (and nothing changes) when one with its id exists.
    pub async fn insert_client(
        &self,
        client_id: &str,
        settings: &str,
        secret_sha256: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO clients (client_id, settings, secret_sha256, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(client_id)
        .bind(settings)
        .bind(secret_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a stored client's settings, and its secret's hash when one is given; false when
    /// there is no such client.
    pub async fn update_client(
        &self,
        client_id: &str,
        settings: &str,
        secret_sha256: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE clients SET settings = $2, secret_sha256 = COALESCE($3, secret_sha256), updated_at = $4
             WHERE client_id = $1",
        )
        .bind(client_id)
        .bind(settings)
        .bind(secret_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
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
