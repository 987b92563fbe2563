//! [`Lockouts`]: brute-force counters of (user, method), kept in the database so they hold
//! across nodes. A failure is counted by one atomic upsert (concurrent failures all count
//! before the limit is compared); reaching the policy's `max_failures` locks the method for
//! `lockout_s`; a success resets the counter.

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::Error;
use crate::model::{AuthFailures, FailurePolicy};
use crate::ports::LockoutStore;

pub struct Lockouts {
    store: Arc<dyn LockoutStore>,
    clock: Arc<dyn Clock>,
}

impl Lockouts {
    pub fn new(store: Arc<dyn LockoutStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Whether (user, method) is locked now.
    pub async fn is_locked(&self, user_id: &str, method: &str) -> Result<bool, Error> {
        let now = self.clock.now_s();
        Ok(self
            .store
            .get_lock(user_id, method)
            .await?
            .is_some_and(|f| f.locked_until.is_some_and(|until| until > now)))
    }

    /// Counts one failure and returns the counter after it.
    pub async fn record_failure(
        &self,
        user_id: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> Result<AuthFailures, Error> {
        Ok(self
            .store
            .record_auth_failure(user_id, method, policy)
            .await?)
    }

    /// Forgets the failures of (user, method) after a success (no write when there are none).
    pub async fn reset(&self, user_id: &str, method: &str) -> Result<(), Error> {
        if self.store.get_lock(user_id, method).await?.is_some() {
            self.store.reset_auth_failures(user_id, method).await?;
        }
        Ok(())
    }

    /// Housekeeping: counters whose lock ended are deleted.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store.purge_lockouts(self.clock.now_s()).await?;
        Ok(())
    }

    pub fn now_s(&self) -> i64 {
        self.clock.now_s()
    }
}
