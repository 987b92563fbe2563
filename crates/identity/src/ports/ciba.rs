//! The store port of CIBA backchannel authentication requests.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{CibaPoll, CibaRequest, DeliveryJob};

/// Backchannel authentication requests, keyed by the hash of their `auth_req_id`. Every
/// state change is one conditional update, so two nodes can never both decide a request or
/// both hand out its tokens. Requests are cached nowhere and record no change rows.
#[async_trait]
pub trait CibaStore: Send + Sync + 'static {
    /// Inserts a new request.
    async fn create_ciba_request(&self, request: &CibaRequest) -> StoreResult<()>;

    async fn get_ciba_request(&self, request_hash: &str) -> StoreResult<Option<CibaRequest>>;

    /// Records the user's decision on a pending, unexpired request of `user_id`, once: the
    /// updated request, or `None` when it is unknown, another user's, decided or expired.
    /// When it records the decision it also queues `notify` (the ping of a ping-mode client)
    /// in the same transaction, so a decision is never recorded without its notification.
    #[allow(clippy::too_many_arguments)]
    async fn decide_ciba_request(
        &self,
        request_hash: &str,
        user_id: &str,
        approved: bool,
        auth_time: i64,
        methods: &[String],
        now_ms: i64,
        notify: Option<&DeliveryJob>,
    ) -> StoreResult<Option<CibaRequest>>;

    /// One poll of `client_id` at `now_ms`, decided atomically (see [`CibaPoll`]): a pending
    /// request polled before `last_polled + interval` grows its interval by 5 s; an approved
    /// one is handed out exactly once.
    async fn poll_ciba_request(
        &self,
        request_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<CibaPoll>;

    /// Deletes requests that expired before `before_ms`.
    async fn purge_ciba_requests(&self, before_ms: i64) -> StoreResult<u64>;
}
