//! The journey and connection caches of `JourneyService` (`journeys.rs`, `cache.rs`):
//! another node's change is picked up when this node follows the change feed, and, by the
//! epoch rule, a version this node read *before* another node's PUT or DELETE is never
//! kept once this node has followed that change.
//!
//! The first tests start two `Identity` instances on one database. The epoch-rule tests need
//! a read held between "read from the store" and "return": they build this node's
//! `JourneyService` and `ChangeFeed` by hand over a journey store that can hold one read
//! (the other node is the fixture's `Identity`). They mirror `cache.rs`'s unit tests with
//! the real store and change feed.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use tessera_identity::changes::{ChangeFeed, FollowChanges};
use tessera_identity::journeys::JourneyService;
use tessera_identity::ports::{ChangeStore, JourneyStore, StoreResult};
use tessera_identity::{ConnectionRecord, JourneyRecord, Store, TraceRecord};
use tessera_journey::{Format, RunLimits};
use tokio::sync::oneshot;

use crate::fixture::{backends, Fixture, RecordingOutbound};

const JOURNEY: &str = "checkout";
const CONNECTION: &str = "idp";

/// A journey definition; `status` tells versions apart in a reader's eyes.
fn journey(status: u16) -> String {
    format!(
        "id: {JOURNEY}\ntype: backend_api\nsteps:\n  - {{id: done, type: http_complete, status: {status}}}\n"
    )
}

/// A connection definition; `issuer` tells versions apart.
fn connection(issuer: &str) -> Value {
    json!({
        "type": "jwt_validator",
        "issuer": issuer,
        "audience": "api",
        "algorithms": ["ES256"],
        "jwks_uri": "https://idp.example.test/jwks",
    })
}

async fn put_journey(fx: &Fixture, status: u16) -> i64 {
    let (record, _) = fx
        .identity
        .journeys
        .put_journey(&fx.admin, JOURNEY, &journey(status), Format::Yaml)
        .await
        .unwrap();
    record.version
}

async fn put_connection(fx: &Fixture, issuer: &str) {
    fx.identity
        .journeys
        .put_connection(&fx.admin, CONNECTION, connection(issuer))
        .await
        .unwrap();
}

/// The version of the journey `service` would run.
async fn compiled_version(service: &JourneyService) -> Option<u64> {
    service.compiled(JOURNEY).await.unwrap().map(|j| j.version)
}

/// The issuer of the connection `service` would use.
async fn connection_issuer(service: &JourneyService) -> Option<String> {
    service
        .connection(CONNECTION)
        .await
        .unwrap()
        .map(|c| c.definition["issuer"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_journey_changed_on_another_node_is_reloaded_when_the_change_feed_is_followed() {
    for b in backends().await {
        let here = b.start().await;
        let there = here.another_node().await;
        let journeys = &here.identity.journeys;
        let n = here.backend;

        assert_eq!(put_journey(&there, 200).await, 1);
        assert_eq!(compiled_version(journeys).await, Some(1), "{n}");
        assert_eq!(put_journey(&there, 201).await, 2);
        // Cached until this node follows the change feed...
        assert_eq!(compiled_version(journeys).await, Some(1), "{n}");
        assert!(here.identity.sync_changes().await.unwrap() >= 1, "{n}");
        // ...then the new version.
        assert_eq!(compiled_version(journeys).await, Some(2), "{n}");

        there
            .identity
            .journeys
            .delete_journey(&there.admin, JOURNEY)
            .await
            .unwrap();
        here.identity.sync_changes().await.unwrap();
        assert_eq!(compiled_version(journeys).await, None, "{n}");
        // "No such journey" is cached too, and dropped by the next change.
        assert_eq!(put_journey(&there, 202).await, 3);
        here.identity.sync_changes().await.unwrap();
        assert_eq!(compiled_version(journeys).await, Some(3), "{n}");
    }
}

#[tokio::test]
async fn a_connection_changed_on_another_node_is_reloaded_when_the_change_feed_is_followed() {
    for b in backends().await {
        let here = b.start().await;
        let there = here.another_node().await;
        let journeys = &here.identity.journeys;
        let n = here.backend;

        put_connection(&there, "https://one.test").await;
        assert_eq!(
            connection_issuer(journeys).await.as_deref(),
            Some("https://one.test")
        );
        put_connection(&there, "https://two.test").await;
        assert_eq!(
            connection_issuer(journeys).await.as_deref(),
            Some("https://one.test"),
            "{n}: cached until the change feed is followed"
        );
        assert!(here.identity.sync_changes().await.unwrap() >= 1, "{n}");
        assert_eq!(
            connection_issuer(journeys).await.as_deref(),
            Some("https://two.test"),
            "{n}"
        );

        there
            .identity
            .journeys
            .delete_connection(&there.admin, CONNECTION)
            .await
            .unwrap();
        here.identity.sync_changes().await.unwrap();
        assert_eq!(connection_issuer(journeys).await, None, "{n}");
    }
}

// --- the epoch rule ---

/// One held read: the reader says when it has read the store, then waits for release.
struct Hold {
    read_done: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// The real journey store, except that the next journey or connection read can be held
/// after it read the database and before it returns.
struct HeldReads {
    inner: Arc<dyn Store>,
    hold: Mutex<Option<Hold>>,
}

impl HeldReads {
    /// Holds the next read; returns (a signal that it has read the store, its release).
    fn hold_next_read(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (read_done, read_signal) = oneshot::channel();
        let (release_handle, release) = oneshot::channel();
        *self.hold.lock().unwrap() = Some(Hold { read_done, release });
        (read_signal, release_handle)
    }

    async fn after_read(&self) {
        let hold = self.hold.lock().unwrap().take();
        if let Some(hold) = hold {
            hold.read_done.send(()).unwrap();
            hold.release.await.unwrap();
        }
    }
}

#[async_trait]
impl JourneyStore for HeldReads {
    async fn put_journey(
        &self,
        journey_id: &str,
        format: &str,
        source: &str,
        now_s: i64,
    ) -> StoreResult<JourneyRecord> {
        self.inner
            .put_journey(journey_id, format, source, now_s)
            .await
    }

    async fn latest_journey(&self, journey_id: &str) -> StoreResult<Option<JourneyRecord>> {
        let read = self.inner.latest_journey(journey_id).await;
        self.after_read().await;
        read
    }

    async fn journey_version(
        &self,
        journey_id: &str,
        version: i64,
    ) -> StoreResult<Option<JourneyRecord>> {
        self.inner.journey_version(journey_id, version).await
    }

    async fn list_journeys(&self) -> StoreResult<Vec<JourneyRecord>> {
        self.inner.list_journeys().await
    }

    async fn delete_journey(&self, journey_id: &str) -> StoreResult<()> {
        self.inner.delete_journey(journey_id).await
    }

    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()> {
        self.inner.put_connection(connection).await
    }

    async fn get_connection(&self, name: &str) -> StoreResult<Option<ConnectionRecord>> {
        let read = self.inner.get_connection(name).await;
        self.after_read().await;
        read
    }

    async fn list_connections(&self) -> StoreResult<Vec<ConnectionRecord>> {
        self.inner.list_connections().await
    }

    async fn delete_connection(&self, name: &str) -> StoreResult<()> {
        self.inner.delete_connection(name).await
    }

    async fn insert_traces(&self, traces: &[TraceRecord]) -> StoreResult<()> {
        self.inner.insert_traces(traces).await
    }

    async fn get_trace(
        &self,
        journey_id: &str,
        trace_id: &str,
    ) -> StoreResult<Option<TraceRecord>> {
        self.inner.get_trace(journey_id, trace_id).await
    }

    async fn purge_traces(&self, before_ms: i64) -> StoreResult<u64> {
        self.inner.purge_traces(before_ms).await
    }
}

/// This node: its journey service over [`HeldReads`] and its own change feed.
struct Node {
    journeys: Arc<JourneyService>,
    feed: ChangeFeed,
    reads: Arc<HeldReads>,
}

fn node_beside(fx: &Fixture) -> Node {
    let store = fx.identity.store().clone();
    let reads = Arc::new(HeldReads {
        inner: store.clone(),
        hold: Mutex::new(None),
    });
    let clock = Arc::new(fx.clock.clone());
    let journeys = Arc::new(JourneyService::new(
        reads.clone(),
        clock.clone(),
        fx.kek.clone(),
        Arc::new(RecordingOutbound::default()),
        RunLimits::default(),
    ));
    let changes: Arc<dyn ChangeStore> = store;
    let followers: Vec<Arc<dyn FollowChanges>> = vec![journeys.clone()];
    Node {
        feed: ChangeFeed::new(changes, clock, followers),
        journeys,
        reads,
    }
}

/// Runs `read` while, between its store read and its return, `other_node_writes` runs and
/// this node follows the change feed. Returns what the read answered.
async fn read_raced_by<R, W>(node: &Node, read: R, other_node_writes: W) -> R::Output
where
    R: std::future::Future,
    W: std::future::Future<Output = ()>,
{
    let (read_done, release) = node.reads.hold_next_read();
    let race = async {
        read_done.await.unwrap();
        other_node_writes.await;
        assert!(
            node.feed.sync().await.unwrap() >= 1,
            "the change was followed"
        );
        release.send(()).unwrap();
    };
    let (answer, ()) = tokio::join!(read, race);
    answer
}

#[tokio::test]
async fn a_journey_read_before_a_put_on_another_node_is_not_kept() {
    for b in backends().await {
        let other = b.start().await;
        let node = node_beside(&other);
        let n = other.backend;
        put_journey(&other, 200).await;

        let read = compiled_version(&node.journeys);
        let answered = read_raced_by(&node, read, async {
            assert_eq!(put_journey(&other, 201).await, 2);
        })
        .await;
        // The read in flight answers what it read...
        assert_eq!(answered, Some(1), "{n}");
        // ...but did not cache it over the invalidation.
        assert_eq!(compiled_version(&node.journeys).await, Some(2), "{n}");
        // Without a race, what is read is kept (the cache works at all).
        put_journey(&other, 202).await;
        assert_eq!(compiled_version(&node.journeys).await, Some(2), "{n}");
    }
}

#[tokio::test]
async fn a_journey_read_before_a_delete_on_another_node_is_not_kept() {
    for b in backends().await {
        let other = b.start().await;
        let node = node_beside(&other);
        let n = other.backend;
        put_journey(&other, 200).await;

        let read = compiled_version(&node.journeys);
        let answered = read_raced_by(&node, read, async {
            other
                .identity
                .journeys
                .delete_journey(&other.admin, JOURNEY)
                .await
                .unwrap();
        })
        .await;
        assert_eq!(answered, Some(1), "{n}");
        assert_eq!(compiled_version(&node.journeys).await, None, "{n}");
    }
}

#[tokio::test]
async fn a_connection_read_before_a_put_on_another_node_is_not_kept() {
    for b in backends().await {
        let other = b.start().await;
        let node = node_beside(&other);
        let n = other.backend;
        put_connection(&other, "https://one.test").await;

        let read = connection_issuer(&node.journeys);
        let answered = read_raced_by(&node, read, put_connection(&other, "https://two.test")).await;
        assert_eq!(answered.as_deref(), Some("https://one.test"), "{n}");
        assert_eq!(
            connection_issuer(&node.journeys).await.as_deref(),
            Some("https://two.test"),
            "{n}"
        );
    }
}

#[tokio::test]
async fn a_connection_read_before_a_delete_on_another_node_is_not_kept() {
    for b in backends().await {
        let other = b.start().await;
        let node = node_beside(&other);
        let n = other.backend;
        put_connection(&other, "https://one.test").await;

        let read = connection_issuer(&node.journeys);
        let answered = read_raced_by(&node, read, async {
            other
                .identity
                .journeys
                .delete_connection(&other.admin, CONNECTION)
                .await
                .unwrap();
        })
        .await;
        assert_eq!(answered.as_deref(), Some("https://one.test"), "{n}");
        assert_eq!(connection_issuer(&node.journeys).await, None, "{n}");
    }
}
