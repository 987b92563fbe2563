//! The store port of signing keys (private parts sealed under the KEK by the caller).

use crate::model::StoredSigningKey;
use async_trait::async_trait;

use super::StoreResult;

/// Signing keys (private parts sealed under the KEK by the caller).
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;

    /// Inserts new keys and sets `retire_at` on the listed older keys, in one transaction.
    async fn rotate_signing_keys(
        &self,
        new_keys: &[StoredSigningKey],
        retire: &[(String, i64)],
    ) -> StoreResult<()>;

    /// Deletes keys whose `retire_at` is before `now_s`.
    async fn delete_retired_signing_keys(&self, now_s: i64) -> StoreResult<u64>;
}
