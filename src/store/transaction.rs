//! Transactions: several statements that are kept together or not at all, with the same meaning
//! on both backends. SQLite takes its write lock when the transaction begins (`BEGIN IMMEDIATE`),
//! so one never fails halfway because another writer came in between; PostgreSQL runs at READ
//! COMMITTED, each statement locking the rows it changes. A transaction dropped without
//! [`Tx::commit`] is rolled back.

use sqlx::{Any, AnyConnection, Transaction};

use super::batch::Batch;
use super::{Backend, Db, StoreError};

#[derive(Debug)]
pub struct Tx {
    tx: Transaction<'static, Any>,
    backend: Backend,
}

impl Db {
    /// Begins a transaction on a connection of its own. Hold it across work in memory only,
    /// never across a call to DingTalk or an app.
    pub async fn transaction(&self) -> Result<Tx, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            backend: self.backend,
        })
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// The transaction's connection, for the statements of the store's modules.
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Sends `batch` in this transaction, in one round trip.
    pub(super) async fn run(&mut self, batch: Batch<'_>) -> Result<(), StoreError> {
        let backend = self.backend;
        batch.execute_within(&mut self.tx, backend).await
    }
}
