//! [`Lockouts`]: brute-force counters, kept in the database so they hold across nodes. A
//! failure is counted by one atomic upsert (concurrent failures all count before the limit
//! is compared); the failure that reaches the policy's `max_failures` locks the method for
//! `lockout_s`; a success resets the counter.
//!
//! Counters belong to a *subject*: the user, or — when the identifier a request names is no
//! user's — `id:` and a keyed hash of that normalised identifier. Unknown identifiers thus
//! count and lock out exactly like known ones, so the visible answers (400 until the limit,
//! then 403 `auth_locked`) do not tell which accounts exist. Counters of unknown identifiers
//! are forgotten after a day without a failure.

use std::sync::Arc;

use tessera_jose::{Kek, SecretHasher};

use crate::clock::Clock;
use crate::error::Error;
use crate::model::{AuthFailures, FailurePolicy};
use crate::ports::LockoutStore;

/// The KEK derivation label of the hasher of unknown identifiers.
const SUBJECT_HASH_LABEL: &str = "tessera lockout subject hmac v1";

/// How long a counter of an unknown identifier survives without a new failure.
const UNKNOWN_IDLE_S: i64 = 24 * 3600;

pub struct Lockouts {
    store: Arc<dyn LockoutStore>,
    clock: Arc<dyn Clock>,
    hasher: SecretHasher,
}

impl Lockouts {
    pub fn new(store: Arc<dyn LockoutStore>, clock: Arc<dyn Clock>, kek: &Kek) -> Self {
        Self {
            store,
            clock,
            hasher: SecretHasher::new(&kek.derive(SUBJECT_HASH_LABEL)),
        }
    }

    /// The subject of a request: the user it names, else its normalised identifier (`key`,
    /// e.g. `email:ann@example.com`), hashed so the table holds no addresses of strangers.
    pub fn subject(&self, user_id: Option<&str>, key: &str) -> String {
        match user_id {
            Some(id) => id.to_string(),
            None => format!(
                "id:{}",
                tessera_jose::b64url_encode(&self.hasher.hash(key.as_bytes()))
            ),
        }
    }

    /// Whether (subject, method) is locked now.
    pub async fn is_locked(&self, subject: &str, method: &str) -> Result<bool, Error> {
        let now = self.clock.now_s();
        Ok(self
            .store
            .get_lock(subject, method)
            .await?
            .is_some_and(|f| f.locked_until.is_some_and(|until| until > now)))
    }

    /// Counts one failure and returns the counter after it.
    pub async fn record_failure(
        &self,
        subject: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> Result<AuthFailures, Error> {
        Ok(self
            .store
            .record_auth_failure(subject, method, policy)
            .await?)
    }

    /// Forgets the failures of (subject, method) after a success (no write when there are
    /// none).
    pub async fn reset(&self, subject: &str, method: &str) -> Result<(), Error> {
        if self.store.get_lock(subject, method).await?.is_some() {
            self.store.reset_auth_failures(subject, method).await?;
        }
        Ok(())
    }

    /// Housekeeping: counters whose lock ended, and idle counters of unknown identifiers.
    pub async fn purge(&self) -> Result<(), Error> {
        let now = self.clock.now_s();
        self.store.purge_lockouts(now, now - UNKNOWN_IDLE_S).await?;
        Ok(())
    }

    pub fn now_s(&self) -> i64 {
        self.clock.now_s()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_identifiers_get_stable_opaque_subjects() {
        struct NoStore;
        #[async_trait::async_trait]
        impl LockoutStore for NoStore {
            async fn record_auth_failure(
                &self,
                _: &str,
                _: &str,
                _: FailurePolicy,
            ) -> crate::ports::StoreResult<AuthFailures> {
                unreachable!()
            }
            async fn reset_auth_failures(&self, _: &str, _: &str) -> crate::ports::StoreResult<()> {
                unreachable!()
            }
            async fn get_lock(
                &self,
                _: &str,
                _: &str,
            ) -> crate::ports::StoreResult<Option<AuthFailures>> {
                unreachable!()
            }
            async fn purge_lockouts(&self, _: i64, _: i64) -> crate::ports::StoreResult<u64> {
                unreachable!()
            }
        }
        let (kek, _) = Kek::generate().unwrap();
        let l = Lockouts::new(Arc::new(NoStore), Arc::new(crate::TestClock::new(0)), &kek);
        assert_eq!(l.subject(Some("u1"), "email:a@b.c"), "u1");
        let s = l.subject(None, "email:a@b.c");
        assert!(s.starts_with("id:"));
        assert!(!s.contains("a@b.c"));
        assert_eq!(s, l.subject(None, "email:a@b.c"));
        assert_ne!(s, l.subject(None, "email:x@b.c"));
    }
}
