//! The store port of revoked access-token ids, kept until the tokens expire.

use async_trait::async_trait;

use super::StoreResult;

/// Revoked access-token ids, kept until the tokens expire.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Records a revoked access-token `jti` until `expires_at_s`. Idempotent.
    async fn revoke_jti(&self, jti: &str, expires_at_s: i64) -> StoreResult<()>;

    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool>;

    /// All revoked jtis not yet expired (loaded into memory at start).
    async fn list_revoked_jtis(&self, now_s: i64) -> StoreResult<Vec<String>>;

    /// Deletes revocations of tokens that expired at or before `now_s`.
    async fn purge_revocations(&self, now_s: i64) -> StoreResult<u64>;
}
