//! The write path. Every mutation is a closure that runs inside one transaction, given a
//! [`WriteTx`] that also records change rows with the writer's clock.
//!
//! Write operations own their data (`'static` closures), so a later group-commit writer can
//! send them to one task that runs several inside one SQLite transaction (a savepoint each)
//! and commits once; the `Store` methods will not change when it does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tessera_identity::store::StoreResult;
use tessera_identity::{ChangeKind, Clock};

use crate::dialect::Dialect;
use crate::error::backend;

/// The future a write operation returns, borrowing its transaction.
pub(crate) type WriteFuture<'t, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 't>>;

/// Runs write operations, one transaction each.
pub(crate) struct Writer {
    pool: AnyPool,
    dialect: Dialect,
    clock: Arc<dyn Clock>,
}

/// An open write transaction and the instant it started (the `at_ms` of its change rows).
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    now_ms: i64,
}

impl Writer {
    pub(crate) fn new(pool: AnyPool, dialect: Dialect, clock: Arc<dyn Clock>) -> Self {
        Self {
            pool,
            dialect,
            clock,
        }
    }

    /// Runs `op` in a transaction and commits if it returns `Ok`; an `Err` rolls back.
    pub(crate) async fn run<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut WriteTx) -> WriteFuture<'t, T> + Send + 'static,
    {
        let tx = self
            .pool
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(backend)?;
        let mut write = WriteTx {
            tx,
            now_ms: self.clock.now_ms(),
        };
        let output = op(&mut write).await?;
        write.tx.commit().await.map_err(backend)?;
        Ok(output)
    }
}

impl WriteTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Records that `key` of `kind` changed, in this transaction.
    pub(crate) async fn record_change(&mut self, kind: ChangeKind, key: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO changes (kind, key, at_ms) VALUES ($1, $2, $3)")
            .bind(kind.as_str())
            .bind(key)
            .bind(self.now_ms)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The writer's wall clock when the transaction began, in milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }
}
