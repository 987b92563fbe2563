//! The store port of the development outbox: messages stored instead of sent.

use async_trait::async_trait;
use tessera_delivery::OutboxRecord;

use super::StoreResult;

/// The development outbox: messages stored instead of sent.
#[async_trait]
pub trait DevOutboxStore: Send + Sync + 'static {
    /// Stores one message of the development outbox; `Conflict` if its id exists. Records no
    /// change (nothing caches the outbox).
    async fn insert_outbox(&self, record: &OutboxRecord) -> StoreResult<()>;

    /// At most `limit` outbox messages, newest first (by `created_at_ms`, then insertion
    /// order), only those sent to exactly `to` when given.
    async fn list_outbox(&self, to: Option<&str>, limit: u32) -> StoreResult<Vec<OutboxRecord>>;

    /// Deletes outbox messages created before `before_ms`.
    async fn purge_outbox(&self, before_ms: i64) -> StoreResult<u64>;
}
