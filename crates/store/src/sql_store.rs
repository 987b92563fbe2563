//! [`SqlStore`]: the [`Store`](tessera_identity::Store) over SQL, one implementation for both
//! backends, and the helpers for writes that are one statement in their own transaction.
//!
//! Each port is implemented in the file of its aggregate (`tenant.rs`, `keys.rs`,
//! `clients.rs`, …). Reads go to the reader pool (SQLite: `query_only` connections that WAL
//! lets run while the writer writes); every mutation goes through [`Writer`] and records its
//! change rows in the same transaction.

use sqlx::AnyPool;
use tessera_identity::ports::StoreResult;
use tessera_identity::{ChangeKind, StoreError};

use crate::error::backend;
use crate::query::{execute, Statement};
use crate::writer::Writer;

/// The SQL implementation of every store port, shared by SQLite and PostgreSQL.
pub(crate) struct SqlStore {
    /// "sqlite" or "postgres".
    pub(crate) backend: &'static str,
    /// Where reads go. Never written through.
    pub(crate) reader: AnyPool,
    /// Where every mutation goes.
    pub(crate) writer: Writer,
}

/// What a recorded write does when its statement changed no row.
#[derive(Clone, Copy)]
enum NoRow {
    /// Fail with `NotFound` (an update or delete by key of a missing row).
    NotFound,
    /// Succeed without recording a change (nothing changed).
    Unchanged,
}

impl SqlStore {
    pub(crate) fn new(backend: &'static str, reader: AnyPool, writer: Writer) -> Self {
        Self {
            backend,
            reader,
            writer,
        }
    }

    /// Runs `statement` in its own write transaction, recording no change, and returns how
    /// many rows it changed. For what no node caches.
    pub(crate) async fn write(
        &self,
        statement: Statement<'static>,
        on_error: impl FnOnce(sqlx::Error) -> StoreError + Send + 'static,
    ) -> StoreResult<u64> {
        self.writer
            .run(move |tx| Box::pin(async move { execute(tx.conn(), statement, on_error).await }))
            .await
    }

    /// Runs `statement` in its own write transaction and, if it changed a row, records a
    /// change of `kind` for `key` in the same transaction. For inserts and upserts (which
    /// always change a row) and idempotent inserts (`ON CONFLICT DO NOTHING`: a second one
    /// changes nothing, so it announces nothing).
    pub(crate) async fn write_recording(
        &self,
        statement: Statement<'static>,
        on_error: impl FnOnce(sqlx::Error) -> StoreError + Send + 'static,
        kind: ChangeKind,
        key: &str,
    ) -> StoreResult<()> {
        self.write_then_record(statement, on_error, kind, key, NoRow::Unchanged)
            .await
    }

    /// Runs `statement`, an update or delete of the row whose key is `key`, in its own write
    /// transaction and records a change of `kind` for `key`; `NotFound` (nothing written) when
    /// it matched no row.
    pub(crate) async fn write_one(
        &self,
        statement: Statement<'static>,
        on_error: impl FnOnce(sqlx::Error) -> StoreError + Send + 'static,
        kind: ChangeKind,
        key: &str,
    ) -> StoreResult<()> {
        self.write_then_record(statement, on_error, kind, key, NoRow::NotFound)
            .await
    }

    /// Deletes the row whose key column equals `key` (`sql` binds it as `$1`) and records a
    /// change of `kind`; `NotFound` when no row matched.
    pub(crate) async fn delete_one(
        &self,
        sql: &'static str,
        key: &str,
        kind: ChangeKind,
    ) -> StoreResult<()> {
        let statement = sqlx::query(sql).bind(key.to_string());
        self.write_one(statement, backend, kind, key).await
    }

    /// Runs one `DELETE … WHERE <column> < $1` (or `<=`; `sql` binds `bound` as `$1`) and
    /// returns how many rows went: the housekeeping purges. Records no change.
    pub(crate) async fn delete_older(&self, sql: &'static str, bound: i64) -> StoreResult<u64> {
        self.write(sqlx::query(sql).bind(bound), backend).await
    }

    async fn write_then_record(
        &self,
        statement: Statement<'static>,
        on_error: impl FnOnce(sqlx::Error) -> StoreError + Send + 'static,
        kind: ChangeKind,
        key: &str,
        no_row: NoRow,
    ) -> StoreResult<()> {
        let key = key.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let changed = execute(tx.conn(), statement, on_error).await?;
                    match (changed, no_row) {
                        (0, NoRow::NotFound) => Err(StoreError::NotFound),
                        (0, NoRow::Unchanged) => Ok(()),
                        _ => tx.record_change(kind, &key).await,
                    }
                })
            })
            .await
    }
}
