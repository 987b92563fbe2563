//! The store port of refresh-token families, one row each, rotated in place.

use crate::model::{RefreshFamily, RefreshRotation, Rotation};
use async_trait::async_trait;

use super::StoreResult;

/// Refresh-token families, one row each, rotated in place.
#[async_trait]
pub trait RefreshStore: Send + Sync + 'static {
    /// Inserts a new family (generation 0). Records no change (families are not cached).
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()>;

    async fn get_refresh_family(&self, family_id: &str) -> StoreResult<Option<RefreshFamily>>;

    /// In one transaction: if the family's current generation is `generation` with
    /// `token_hash`, it is `client_id`'s, unrevoked and unexpired at `now_s`, moves it to the
    /// next generation with `next_hash` (expiring at the earlier of `next_expires_at` and the
    /// family's end) → `Rotated` (the updated family). A replay of an older generation of
    /// `client_id`'s family revokes the family (committed) → `Reused`. Anything else changes
    /// nothing → `Invalid`. Two concurrent rotations of one token: exactly one is `Rotated`.
    async fn rotate_refresh_token(&self, rotation: &RefreshRotation) -> StoreResult<Rotation>;

    /// Revokes a family; returns 1 if it was live, else 0.
    async fn revoke_refresh_family(&self, family_id: &str, now_s: i64) -> StoreResult<u64>;

    /// Deletes families past their end (`family_expires_at <= now_s`); a revoked family is
    /// kept until then, and presenting any of its tokens stays `Invalid`.
    async fn purge_refresh_families(&self, now_s: i64) -> StoreResult<u64>;
}
