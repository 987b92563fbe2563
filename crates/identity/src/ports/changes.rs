//! The store port of the change feed other nodes follow to drop what their caches hold.

use crate::model::Change;
use async_trait::async_trait;

use super::StoreResult;

/// The change feed other nodes follow to drop what their caches hold.
#[async_trait]
pub trait ChangeStore: Send + Sync + 'static {
    /// Changes recorded at or after `since_ms` (wall-clock of the writer), oldest first.
    async fn changes_since(&self, since_ms: i64) -> StoreResult<Vec<Change>>;

    /// Deletes change rows older than `before_ms`.
    async fn purge_changes(&self, before_ms: i64) -> StoreResult<u64>;
}
