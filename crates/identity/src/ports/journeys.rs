//! The store port of journey definitions (versioned), connections and run traces.

use crate::model::{ConnectionRecord, JourneyRecord, TraceRecord};
use async_trait::async_trait;

use super::StoreResult;

/// Journey definitions (versioned), connections and run traces.
#[async_trait]
pub trait JourneyStore: Send + Sync + 'static {
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

    /// Creates or replaces a connection; records a `Connection` change.
    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()>;

    async fn get_connection(&self, name: &str) -> StoreResult<Option<ConnectionRecord>>;

    async fn list_connections(&self) -> StoreResult<Vec<ConnectionRecord>>;

    /// `NotFound` if missing.
    async fn delete_connection(&self, name: &str) -> StoreResult<()>;

    /// Inserts a batch of traces in one transaction (no change rows; traces are not cached).
    async fn insert_traces(&self, traces: &[TraceRecord]) -> StoreResult<()>;

    async fn get_trace(&self, journey_id: &str, trace_id: &str)
        -> StoreResult<Option<TraceRecord>>;

    /// Deletes traces created before `before_ms`.
    async fn purge_traces(&self, before_ms: i64) -> StoreResult<u64>;
}
