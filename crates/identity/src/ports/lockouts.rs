//! The store port of failure counters and their lockouts.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{AuthFailures, FailurePolicy};

/// Failure counters of (subject, method) and their lockouts. A subject is a user id, or
/// `id:` and a keyed hash of an identifier that names no user (so unknown identifiers lock
/// out exactly like known ones).
#[async_trait]
pub trait LockoutStore: Send + Sync + 'static {
    /// Counts one failure of (subject, method) atomically (one upsert, so concurrent
    /// failures all count) and returns the counter after it: a window older than `window_s`
    /// or an expired lock starts over at 1, and reaching `max_failures` sets `locked_until`.
    async fn record_auth_failure(
        &self,
        subject: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> StoreResult<AuthFailures>;

    /// Forgets the failures of (subject, method).
    async fn reset_auth_failures(&self, subject: &str, method: &str) -> StoreResult<()>;

    /// The failure counter of (subject, method), if any.
    async fn get_lock(&self, subject: &str, method: &str) -> StoreResult<Option<AuthFailures>>;

    /// Deletes counters whose lock ended at or before `now_s`, and counters of unknown
    /// identifiers (`id:` subjects) idle since before `idle_before_s` and not locked.
    async fn purge_lockouts(&self, now_s: i64, idle_before_s: i64) -> StoreResult<u64>;
}
