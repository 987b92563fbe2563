//! The storage port. The `store` crate implements it for SQLite and PostgreSQL; the identity
//! rules never see SQL.
//!
//! Every mutating method runs in one transaction and records a [`Change`] row in that same
//! transaction, so other nodes can invalidate their caches.

use async_trait::async_trait;
use tessera_delivery::OutboxRecord;

use crate::codes::{CodeRedemption, OneTimeCode, Redemption};
use crate::error::StoreError;
use crate::model::{
    Application, AuthFailures, BootstrapOutcome, BootstrapPlan, Change, Client, ConnectionRecord,
    FailurePolicy, JourneyRecord, SessionRecord, StoredSigningKey, TraceRecord, User, UserFilter,
    UserLookup, UserPage,
};
use crate::refresh::{RefreshFamily, RefreshRotation, Rotation};

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is, for logs and `/readyz` ("sqlite" or "postgres").
    fn backend(&self) -> &'static str;

    /// Cheap liveness probe of the database.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates the tenant, its signing keys, the management application and its admin client
    /// in one transaction, unless a tenant exists. Two nodes racing on an empty database
    /// produce one tenant: the loser sees `AlreadyBootstrapped`.
    async fn bootstrap(&self, plan: &BootstrapPlan) -> StoreResult<BootstrapOutcome>;

    /// The management application (exists after bootstrap).
    async fn management_application(&self) -> StoreResult<Option<Application>>;

    // --- signing keys ---
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>>;
    /// Inserts new keys and sets `retire_at` on the listed older keys, in one transaction.
    async fn rotate_signing_keys(
        &self,
        new_keys: &[StoredSigningKey],
        retire: &[(String, i64)],
    ) -> StoreResult<()>;
    /// Deletes keys whose `retire_at` is before `now_s`.
    async fn delete_retired_signing_keys(&self, now_s: i64) -> StoreResult<u64>;

    // --- applications ---
    async fn create_application(&self, app: &Application) -> StoreResult<()>;
    async fn get_application(&self, app_id: &str) -> StoreResult<Option<Application>>;
    async fn list_applications(&self) -> StoreResult<Vec<Application>>;
    /// Replaces name, description and updated_at. `NotFound` if missing.
    async fn update_application(&self, app: &Application) -> StoreResult<()>;
    /// Deletes the application and its clients. `NotFound` if missing.
    async fn delete_application(&self, app_id: &str) -> StoreResult<()>;

    // --- clients ---
    /// `Conflict` if the client_id exists; `NotFound` if the application does not.
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    async fn list_clients(&self, app_id: &str) -> StoreResult<Vec<Client>>;
    /// Replaces settings, secret hashes and updated_at. `NotFound` if missing.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;
    /// `NotFound` if missing.
    async fn delete_client(&self, client_id: &str) -> StoreResult<()>;

    // --- token revocation ---
    /// Records a revoked access-token `jti` until `expires_at_s`. Idempotent.
    async fn revoke_jti(&self, jti: &str, expires_at_s: i64) -> StoreResult<()>;
    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// All revoked jtis not yet expired (loaded into memory at start).
    async fn list_revoked_jtis(&self, now_s: i64) -> StoreResult<Vec<String>>;

    // --- journeys ---
    /// Stores a new version of a journey (version = previous latest + 1, or 1; numbering
    /// continues after a delete) and records a `Journey` change. Returns the stored record.
    async fn put_journey(
        &self,
        journey_id: &str,
        format: &str,
        source: &str,
        now_s: i64,
    ) -> StoreResult<JourneyRecord>;
    /// The latest version of a live (not deleted) journey.
    async fn latest_journey(&self, journey_id: &str) -> StoreResult<Option<JourneyRecord>>;
    /// One specific version (also of a deleted journey, so in-flight runs can finish).
    async fn journey_version(
        &self,
        journey_id: &str,
        version: i64,
    ) -> StoreResult<Option<JourneyRecord>>;
    /// The latest version of every live journey, ordered by id.
    async fn list_journeys(&self) -> StoreResult<Vec<JourneyRecord>>;
    /// Marks a journey deleted (its versions are kept); `NotFound` if it is not live.
    async fn delete_journey(&self, journey_id: &str) -> StoreResult<()>;

    // --- connections ---
    /// Creates or replaces a connection; records a `Connection` change.
    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()>;
    async fn get_connection(&self, name: &str) -> StoreResult<Option<ConnectionRecord>>;
    async fn list_connections(&self) -> StoreResult<Vec<ConnectionRecord>>;
    /// `NotFound` if missing.
    async fn delete_connection(&self, name: &str) -> StoreResult<()>;

    // --- journey run traces ---
    /// Inserts a batch of traces in one transaction (no change rows; traces are not cached).
    async fn insert_traces(&self, traces: &[TraceRecord]) -> StoreResult<()>;
    async fn get_trace(&self, journey_id: &str, trace_id: &str)
        -> StoreResult<Option<TraceRecord>>;
    /// Deletes traces created before `before_ms`.
    async fn purge_traces(&self, before_ms: i64) -> StoreResult<u64>;

    // --- users ---
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
    /// Users matching every given filter, oldest first, and the total count of matches.
    async fn list_users(&self, filter: &UserFilter) -> StoreResult<UserPage>;

    // --- sessions ---
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

    // --- one-time codes ---
    /// Stores a new one-time code (OTP or magic link) and, in the same transaction, marks the
    /// user's older live codes of the same client and kind consumed. `NotFound` if the user
    /// does not exist. Records no change (codes are not cached).
    async fn create_one_time_code(&self, code: &OneTimeCode) -> StoreResult<()>;
    /// Consumes the newest live code matching `redemption` with one conditional update
    /// (`... AND consumed_at IS NULL`), so of concurrent redeems of one code, on any nodes,
    /// exactly one gets `Consumed`. Without a live match: `Expired` if an unused matching code
    /// has expired, else `Invalid`; nothing changes.
    async fn redeem_one_time_code(&self, redemption: &CodeRedemption) -> StoreResult<Redemption>;
    /// Deletes codes that expired before `expired_before_s`.
    async fn purge_one_time_codes(&self, expired_before_s: i64) -> StoreResult<u64>;

    // --- brute-force counters ---
    /// Counts one failure of (user, method) atomically (one upsert, so concurrent failures
    /// all count) and returns the counter after it: a window older than `window_s` or an
    /// expired lock starts over at 1, and reaching `max_failures` sets `locked_until`.
    async fn record_auth_failure(
        &self,
        user_id: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> StoreResult<AuthFailures>;
    /// Forgets the failures of (user, method).
    async fn reset_auth_failures(&self, user_id: &str, method: &str) -> StoreResult<()>;
    /// The failure counter of (user, method), if any.
    async fn get_lock(&self, user_id: &str, method: &str) -> StoreResult<Option<AuthFailures>>;

    // --- settings and development outbox ---
    /// The tenant settings document `name` (JSON text), if one was stored.
    async fn get_setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Creates or replaces the settings document `name` and records a `Settings` change keyed
    /// by `name`, so every node reloads it.
    async fn put_setting(&self, name: &str, doc: &str, now_s: i64) -> StoreResult<()>;
    /// Stores one message of the development outbox; `Conflict` if its id exists. Records no
    /// change (nothing caches the outbox).
    async fn insert_outbox(&self, record: &OutboxRecord) -> StoreResult<()>;
    /// At most `limit` outbox messages, newest first (by `created_at_ms`, then insertion
    /// order), only those sent to exactly `to` when given.
    async fn list_outbox(&self, to: Option<&str>, limit: u32) -> StoreResult<Vec<OutboxRecord>>;
    /// Deletes outbox messages created before `before_ms`.
    async fn purge_outbox(&self, before_ms: i64) -> StoreResult<u64>;

    // --- refresh tokens ---
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

    // --- change feed and housekeeping ---
    /// Changes recorded at or after `since_ms` (wall-clock of the writer), oldest first.
    async fn changes_since(&self, since_ms: i64) -> StoreResult<Vec<Change>>;
    /// Deletes expired revocations and changes older than `changes_before_ms`.
    async fn purge(&self, now_s: i64, changes_before_ms: i64) -> StoreResult<u64>;
}
