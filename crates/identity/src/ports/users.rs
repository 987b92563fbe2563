//! The store port of users, one row each with their normalised unique keys and password hash.

use crate::model::{User, UserFilter, UserLookup, UserPage};
use async_trait::async_trait;

use super::StoreResult;

/// Users, one row each with their normalised unique keys and password hash.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a user (with its normalised unique keys and password hash) and records a `User`
    /// change. A unique violation is `Conflict(field)` where `field` is exactly `"email"`,
    /// `"phone_number"`, `"username"` or `"user_id"`.
    async fn create_user(&self, user: &User) -> StoreResult<()>;

    async fn get_user(&self, user_id: &str) -> StoreResult<Option<User>>;

    async fn get_user_by(&self, lookup: &UserLookup) -> StoreResult<Option<User>>;

    /// Replaces the whole record; `NotFound` if missing, `Conflict(field)` as for create.
    async fn update_user(&self, user: &User) -> StoreResult<()>;

    /// `NotFound` if missing.
    async fn delete_user(&self, user_id: &str) -> StoreResult<()>;

    /// Records that the user completed an authentication at `at_ms` (epoch ms): `true` if it
    /// is their first (no earlier one recorded), decided by one conditional update so that
    /// of concurrent first logins exactly one gets `true`. An unknown user changes nothing
    /// (`false`).
    async fn record_authentication(&self, user_id: &str, at_ms: i64) -> StoreResult<bool>;

    /// Users matching every given filter, oldest first, and the total count of matches.
    async fn list_users(&self, filter: &UserFilter) -> StoreResult<UserPage>;
}
