//! [`SqlStore`]: the [`Store`](tessera_identity::Store) over SQL, one implementation for both
//! backends. Each port is implemented in the file of its aggregate (`tenant.rs`, `keys.rs`,
//! `clients.rs`, …).
//!
//! Reads go to the reader pool (SQLite: `query_only` connections that WAL lets run while the
//! writer writes); every mutation goes through [`Writer`] and records its change rows in the
//! same transaction.

use sqlx::AnyPool;
use tessera_identity::ports::StoreResult;
use tessera_identity::{ChangeKind, StoreError};

use crate::error::backend;
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

impl SqlStore {
    pub(crate) fn new(backend: &'static str, reader: AnyPool, writer: Writer) -> Self {
        Self {
            backend,
            reader,
            writer,
        }
    }

    /// Deletes the row whose key column equals `key` (`sql` binds it as `$1`) and records a
    /// change of `kind`; `NotFound` when no row matched.
    pub(crate) async fn delete_one(
        &self,
        sql: &'static str,
        key: &str,
        kind: ChangeKind,
    ) -> StoreResult<()> {
        let key = key.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let deleted = sqlx::query(sql)
                        .bind(&key)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if deleted == 0 {
                        return Err(StoreError::NotFound);
                    }
                    tx.record_change(kind, &key).await
                })
            })
            .await
    }

    /// Runs one `DELETE … WHERE <column> < $1` (`sql` binds `bound` as `$1`) and returns how
    /// many rows went: the housekeeping purges.
    pub(crate) async fn delete_older(&self, sql: &'static str, bound: i64) -> StoreResult<u64> {
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    Ok(sqlx::query(sql)
                        .bind(bound)
                        .execute(tx.conn())
                        .await
                        .map_err(backend)?
                        .rows_affected())
                })
            })
            .await
    }
}
