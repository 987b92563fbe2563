//! The store port of sessions, keyed by the hash of their id.

use crate::model::SessionRecord;
use async_trait::async_trait;

use super::StoreResult;

/// Sessions, keyed by the hash of their id.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts a session (`Conflict` if the hash exists; `NotFound` if the user does not).
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;

    async fn get_session(&self, session_hash: &str) -> StoreResult<Option<SessionRecord>>;

    /// Atomically adds `method` (if absent) to a live session of `user_id`, sets `auth_time`
    /// and `last_used_at` to `now_s`, and returns the updated session. A session that is
    /// unknown, another user's, ended, expired (`expires_at <= now_s`) or idle
    /// (`last_used_at < min_last_used_s`) gives `None` and nothing changes. Records a
    /// `Session` change.
    async fn add_session_method(
        &self,
        session_hash: &str,
        user_id: &str,
        method: &str,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Option<SessionRecord>>;

    /// Sets `last_used_at` of a live session (same conditions as `add_session_method`, any
    /// user) and returns it; `None` if it is not live. Records no change.
    async fn touch_session(
        &self,
        session_hash: &str,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Option<SessionRecord>>;

    /// Ends a live session and revokes its refresh tokens; false if it is unknown, already
    /// ended or expired. Records a `Session` change so other nodes drop it from their caches.
    async fn end_session(&self, session_hash: &str, now_s: i64) -> StoreResult<bool>;

    /// The live sessions of `user_id` (not ended, `expires_at > now_s`, used since
    /// `min_last_used_s`), oldest first.
    async fn list_user_sessions(
        &self,
        user_id: &str,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// Ends every session of `user_id` that is not ended or expired, revoking their refresh
    /// tokens in the same transaction, and returns their hashes. Records a `Session` change
    /// for each.
    async fn end_user_sessions(&self, user_id: &str, now_s: i64) -> StoreResult<Vec<String>>;

    /// Deletes sessions past their absolute end (`expires_at <= now_s`).
    async fn purge_sessions(&self, now_s: i64) -> StoreResult<u64>;
}
