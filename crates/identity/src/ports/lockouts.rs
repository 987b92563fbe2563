//! The store port of failure counters of (user, method) and their lockouts.

use crate::model::{AuthFailures, FailurePolicy};
use async_trait::async_trait;

use super::StoreResult;

/// Failure counters of (user, method) and their lockouts.
#[async_trait]
pub trait LockoutStore: Send + Sync + 'static {
    /// Counts one failure of (user, method) atomically (one upsert, so concurrent failures
    /// all count) and returns the counter after it: a window older than `window_s` or an
    /// expired lock starts over at 1, and reaching `max_failures` sets `locked_until`.
    async fn record_auth_failure(
        &self,
        user_id: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> StoreResult<AuthFailures>;

    /// Forgets the failures of (user, method).
    async fn reset_auth_failures(&self, user_id: &str, method: &str) -> StoreResult<()>;

    /// The failure counter of (user, method), if any.
    async fn get_lock(&self, user_id: &str, method: &str) -> StoreResult<Option<AuthFailures>>;

    /// Deletes counters whose lock ended at or before `now_s`.
    async fn purge_lockouts(&self, now_s: i64) -> StoreResult<u64>;
}
