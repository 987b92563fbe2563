//! The store port of queued deliveries: the retrying outbox.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::DeliveryJob;

/// Deliveries with retries (SPEC §8): at least once, claimed with leases so that two nodes
/// never work on one job at the same time (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single
/// writer on SQLite); a job whose claimer died is claimed again when its lease ends.
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// Queues a job (durably, before the caller is answered).
    async fn enqueue_delivery(&self, job: &DeliveryJob) -> StoreResult<()>;

    /// Claims at most `limit` jobs due at `now_ms` (not done, next attempt due, no live
    /// lease): each gets `lease_until_ms = now_ms + lease_ms` and one more attempt counted.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryJob>>;

    /// Marks a job done (delivered, or given up).
    async fn finish_delivery(&self, id: &str, now_ms: i64) -> StoreResult<()>;

    /// Releases a claimed job for another attempt at `next_attempt_at_ms`.
    async fn retry_delivery(&self, id: &str, next_attempt_at_ms: i64) -> StoreResult<()>;

    /// Deletes jobs done before `before_ms`.
    async fn purge_deliveries(&self, before_ms: i64) -> StoreResult<u64>;
}
