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

    // --- browser sessions (the authorization endpoint) ---

    /// Inserts a browser session whose cookie token hashes to `token_hash`, with `client_id`
    /// as its first client. Records a `Session` change.
    async fn create_browser_session(
        &self,
        session: &SessionRecord,
        token_hash: &str,
    ) -> StoreResult<()>;

    /// The browser session whose cookie token hashes to `token_hash` (live or not).
    async fn browser_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;

    /// A new login of the same user in the live browser session `session_hash` still behind
    /// `old_token_hash`: the methods are added, `auth_time` set, and the cookie token
    /// replaced by `new_token_hash` (rotated at every login), in one conditional update;
    /// `None` if the session is no longer live or its token changed. Records a `Session`
    /// change.
    async fn relogin_browser_session(
        &self,
        session_hash: &str,
        old_token_hash: &str,
        new_token_hash: &str,
        methods: &[String],
        auth_time: i64,
        now_s: i64,
        min_last_used_s: i64,
    ) -> StoreResult<Option<SessionRecord>>;

    /// Records that `client_id` got tokens from the session (idempotent).
    async fn add_session_client(
        &self,
        session_hash: &str,
        client_id: &str,
        now_s: i64,
    ) -> StoreResult<()>;

    /// The clients that got tokens from the session, in the order they first did.
    async fn session_clients(&self, session_hash: &str) -> StoreResult<Vec<String>>;
}
