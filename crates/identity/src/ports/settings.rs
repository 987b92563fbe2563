//! The store port of tenant settings documents (login preferences) and of applications' own
//! login preferences.

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

    /// The application's own login-preferences document (JSON text), if it has one.
    async fn get_app_login_preferences(&self, app_id: &str) -> StoreResult<Option<String>>;

    /// Every application's own login-preferences document, as `(app_id, doc)`.
    async fn list_app_login_preferences(&self) -> StoreResult<Vec<(String, String)>>;

    /// Creates or replaces the application's own login preferences and records a `Settings`
    /// change keyed by [`app_login_preferences_key`]. `NotFound` if the application does not
    /// exist. (The document goes with the application; its deletion records an
    /// `Application` change.)
    async fn put_app_login_preferences(
        &self,
        app_id: &str,
        doc: &str,
        now_s: i64,
    ) -> StoreResult<()>;
}

/// The key of the `Settings` change that an application's own login preferences record.
pub fn app_login_preferences_key(app_id: &str) -> String {
    format!("login_preferences/{app_id}")
}
