//! The store port of tenant settings documents (login preferences).

use async_trait::async_trait;

use super::StoreResult;

/// Tenant settings documents (login preferences).
#[async_trait]
pub trait SettingsStore: Send + Sync + 'static {
    /// The tenant settings document `name` (JSON text), if one was stored.
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>>;

    /// Creates or replaces the settings document `name` and records a `Settings` change keyed
    /// by `name`, so every node reloads it.
    async fn put_setting(&self, name: &str, doc: &str, now_s: i64) -> StoreResult<()>;
}
