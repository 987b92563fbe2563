//! The storage port. The `store` crate implements it for SQLite and PostgreSQL; the identity
//! rules never see SQL.
//!
//! Every mutating method runs in one transaction and records a [`Change`] row in that same
//! transaction, so other nodes can invalidate their caches.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{
    Application, BootstrapOutcome, BootstrapPlan, Change, Client, StoredSigningKey,
};

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

    // --- change feed and housekeeping ---
    /// Changes recorded at or after `since_ms` (wall-clock of the writer), oldest first.
    async fn changes_since(&self, since_ms: i64) -> StoreResult<Vec<Change>>;
    /// Deletes expired revocations and changes older than `changes_before_ms`.
    async fn purge(&self, now_s: i64, changes_before_ms: i64) -> StoreResult<u64>;
}
