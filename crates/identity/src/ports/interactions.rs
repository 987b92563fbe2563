use async_trait::async_trait;

use super::StoreResult;
use crate::model::{AuthorizationCode, CodeExchange, InteractionRecord};

/// Client-journey interactions and authorization codes. No change rows: nothing caches them;
/// every node reads them from the database.
#[async_trait]
pub trait InteractionStore: Send + Sync {
    async fn create_interaction(&self, record: &InteractionRecord) -> StoreResult<()>;

    async fn get_interaction(&self, interaction_id: &str)
        -> StoreResult<Option<InteractionRecord>>;

    /// Replaces the state if the stored version is still `expected_version` (one conditional
    /// update): `false` when another continuation won.
    async fn update_interaction(
        &self,
        interaction_id: &str,
        expected_version: i64,
        state_sealed: &str,
        expires_at_ms: i64,
    ) -> StoreResult<bool>;

    /// Deletes the interaction if the stored version is still `expected_version`: `false`
    /// when another continuation won.
    async fn finish_interaction(
        &self,
        interaction_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool>;

    /// Deletes interactions that expired before `before_ms`; how many.
    async fn purge_interactions(&self, before_ms: i64) -> StoreResult<u64>;

    async fn create_authorization_code(&self, code: &AuthorizationCode) -> StoreResult<()>;

    /// Consumes a live code of `client_id` (one conditional update); a consumed one is
    /// answered as a replay.
    async fn exchange_authorization_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<CodeExchange>;

    /// Records the session a consumed code created.
    async fn set_authorization_code_sid(&self, code_hash: &str, sid: &str) -> StoreResult<()>;

    /// Deletes codes that expired before `before_ms`.
    async fn purge_authorization_codes(&self, before_ms: i64) -> StoreResult<u64>;
}
