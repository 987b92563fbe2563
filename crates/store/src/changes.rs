//! [`ChangeStore`] over SQL: the `changes` table, the feed other nodes poll to drop what their
//! caches hold. Rows are written by every other aggregate through
//! [`WriteTx::record_change`](crate::writer::WriteTx::record_change), in the transaction of
//! the write they announce; this file only reads and purges them.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{ChangeStore, StoreResult};
use tessera_identity::{Change, ChangeKind};

use crate::query::fetch_all;
use crate::rows::column;
use crate::sql_store::SqlStore;

/// The columns [`decode_change`] reads.
const CHANGE_COLUMNS: &str = "seq, kind, key, at_ms";

#[async_trait]
impl ChangeStore for SqlStore {
    async fn changes_since(&self, since_ms: i64) -> StoreResult<Vec<Change>> {
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM changes WHERE at_ms >= $1 ORDER BY seq");
        let query = sqlx::query(&sql).bind(since_ms);
        fetch_all(&self.reader, query, decode_change).await
    }

    async fn purge_changes(&self, before_ms: i64) -> StoreResult<u64> {
        // Housekeeping records no change: old change rows are meaningless to every cache.
        self.delete_older("DELETE FROM changes WHERE at_ms < $1", before_ms)
            .await
    }
}

fn decode_change(row: &AnyRow) -> StoreResult<Change> {
    let kind: String = column(row, "kind", "change")?;
    Ok(Change {
        seq: column(row, "seq", "change")?,
        kind: ChangeKind::parse(&kind),
        key: column(row, "key", "change")?,
        at_ms: column(row, "at_ms", "change")?,
    })
}
