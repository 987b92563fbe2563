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

    /// [`create_user`](Self::create_user) and the user's membership of `app_id` (since
    /// `now_s`) in one transaction: both or neither. `NotFound` if the application is gone.
    async fn create_user_in_app(&self, user: &User, app_id: &str, now_s: i64) -> StoreResult<()>;

    /// Makes the user a member of `app_id`; false if they already were. `NotFound` if the
    /// user or the application does not exist.
    async fn add_user_app(&self, user_id: &str, app_id: &str, now_s: i64) -> StoreResult<bool>;

    /// Ends the user's membership of `app_id`; false if they were not a member.
    async fn remove_user_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool>;

    /// Whether the user is a member of `app_id`.
    async fn user_in_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool>;

    async fn get_user(&self, user_id: &str) -> StoreResult<Option<User>>;

    async fn get_user_by(&self, lookup: &UserLookup) -> StoreResult<Option<User>>;

    /// Replaces the whole record; `NotFound` if missing, `Conflict(field)` as for create.
    async fn update_user(&self, user: &User) -> StoreResult<()>;

    /// Deletes the user and everything that is theirs (sessions, refresh tokens, codes, CIBA
    /// requests and memberships go with the row; failure counters are deleted by subject).
    /// `NotFound` if missing.
    async fn delete_user(&self, user_id: &str) -> StoreResult<()>;

    /// Records that the user completed an authentication at `at_ms` (epoch ms): `true` if it
    /// is their first (no earlier one recorded), decided by one conditional update so that
    /// of concurrent first logins exactly one gets `true`. An unknown user changes nothing
    /// (`false`).
    async fn record_authentication(&self, user_id: &str, at_ms: i64) -> StoreResult<bool>;

    /// Users matching every condition of the filter, in its order, and the total count of
    /// matches.
    async fn list_users(&self, filter: &UserFilter) -> StoreResult<UserPage>;
}
