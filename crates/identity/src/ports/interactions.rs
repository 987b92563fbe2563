use async_trait::async_trait;

use super::StoreResult;
use crate::model::{
    AuthorizationCode, AuthorizationRequestRecord, CodeExchange, CodeFirstUse, InteractionRecord,
};

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

    /// Records what the first exchange of a code issued.
    async fn set_authorization_code_first_use(
        &self,
        code_hash: &str,
        first_use: &CodeFirstUse,
    ) -> StoreResult<()>;

    /// Deletes codes that expired before `before_ms`.
    async fn purge_authorization_codes(&self, before_ms: i64) -> StoreResult<u64>;

    async fn create_authorization_request(
        &self,
        record: &AuthorizationRequestRecord,
    ) -> StoreResult<()>;

    /// The pending request, if it has not expired at `now_ms`.
    async fn get_authorization_request(
        &self,
        request_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<AuthorizationRequestRecord>>;

    /// Deletes and returns the pending request (one statement, so one login completes it).
    async fn take_authorization_request(
        &self,
        request_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<AuthorizationRequestRecord>>;

    /// Deletes requests that expired before `before_ms`.
    async fn purge_authorization_requests(&self, before_ms: i64) -> StoreResult<u64>;
}
