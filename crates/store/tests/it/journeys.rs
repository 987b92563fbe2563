//! Journeys (versioned, soft-deleted), connections and journey run traces.

use std::collections::BTreeSet;

use tessera_identity::{
    Change, ChangeKind, ConnectionRecord, JourneyRecord, StoreError, TraceRecord,
};

use crate::harness::{test_databases, T0_MS};

fn journey(journey_id: &str, version: i64, source: &str, created_at: i64) -> JourneyRecord {
    JourneyRecord {
        journey_id: journey_id.to_string(),
        version,
        format: "yaml".to_string(),
        source: source.to_string(),
        created_at,
    }
}

fn connection(name: &str, definition: &str, updated_at: i64) -> ConnectionRecord {
    ConnectionRecord {
        name: name.to_string(),
        definition: definition.to_string(),
        updated_at,
    }
}

fn trace(trace_id: &str, journey_id: &str, created_at_ms: i64) -> TraceRecord {
    TraceRecord {
        trace_id: trace_id.to_string(),
        journey_id: journey_id.to_string(),
        created_at_ms,
        trace: format!(r#"{{"trace":"{trace_id}","steps":[]}}"#),
    }
}

fn kinds_and_keys(changes: &[Change]) -> Vec<(ChangeKind, &str)> {
    changes.iter().map(|c| (c.kind, c.key.as_str())).collect()
}

#[tokio::test]
async fn each_put_stores_the_next_version() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert_eq!(store.latest_journey("login").await.unwrap(), None);

        for (n, created_at) in [(1, 100), (2, 200), (3, 300)] {
            let stored = store
                .put_journey("login", "yaml", &format!("source {n}"), created_at)
                .await
                .unwrap();
            assert_eq!(
                stored,
                journey("login", n, &format!("source {n}"), created_at),
                "{}",
                tdb.backend()
            );
        }
        // Another id numbers its own versions from 1.
        let other = store
            .put_journey("signup", "json", "{}", 400)
            .await
            .unwrap();
        assert_eq!(other.version, 1);
        assert_eq!(other.format, "json");

        assert_eq!(
            store.latest_journey("login").await.unwrap(),
            Some(journey("login", 3, "source 3", 300))
        );
        assert_eq!(
            store.journey_version("login", 1).await.unwrap(),
            Some(journey("login", 1, "source 1", 100))
        );
        assert_eq!(
            store.journey_version("login", 2).await.unwrap(),
            Some(journey("login", 2, "source 2", 200))
        );
        assert_eq!(store.journey_version("login", 4).await.unwrap(), None);
        assert_eq!(store.journey_version("nope", 1).await.unwrap(), None);
        assert_eq!(store.latest_journey("nope").await.unwrap(), None);
        db.close().await;
    }
}

#[tokio::test]
async fn list_returns_the_latest_version_of_live_journeys_by_id() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert_eq!(
            store.list_journeys().await.unwrap(),
            Vec::<JourneyRecord>::new()
        );
        store.put_journey("b", "yaml", "b1", 1).await.unwrap();
        store.put_journey("c", "yaml", "c1", 2).await.unwrap();
        store.put_journey("a", "yaml", "a1", 3).await.unwrap();
        store.put_journey("b", "yaml", "b2", 4).await.unwrap();
        store.put_journey("c", "yaml", "c2", 5).await.unwrap();
        store.delete_journey("c").await.unwrap();

        assert_eq!(
            store.list_journeys().await.unwrap(),
            vec![journey("a", 1, "a1", 3), journey("b", 2, "b2", 4)],
            "{}",
            tdb.backend()
        );
        db.close().await;
    }
}

#[tokio::test]
async fn delete_hides_a_journey_but_keeps_its_versions_and_numbering() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.put_journey("flow", "yaml", "v1", 10).await.unwrap();
        store.put_journey("flow", "yaml", "v2", 20).await.unwrap();
        store.put_journey("kept", "yaml", "k1", 30).await.unwrap();

        store.delete_journey("flow").await.unwrap();
        assert_eq!(store.latest_journey("flow").await.unwrap(), None);
        assert_eq!(
            store.list_journeys().await.unwrap(),
            vec![journey("kept", 1, "k1", 30)]
        );
        // In-flight runs still load the version they started with.
        assert_eq!(
            store.journey_version("flow", 2).await.unwrap(),
            Some(journey("flow", 2, "v2", 20))
        );
        assert_eq!(
            store.journey_version("flow", 1).await.unwrap(),
            Some(journey("flow", 1, "v1", 10))
        );
        // Deleting a deleted journey finds nothing live.
        assert!(matches!(
            store.delete_journey("flow").await,
            Err(StoreError::NotFound)
        ));

        // Re-creating continues the numbering.
        let recreated = store.put_journey("flow", "json", "v3", 40).await.unwrap();
        assert_eq!(recreated.version, 3, "{}", tdb.backend());
        assert_eq!(
            store.latest_journey("flow").await.unwrap(),
            Some(recreated.clone())
        );
        assert_eq!(
            store.list_journeys().await.unwrap(),
            vec![recreated, journey("kept", 1, "k1", 30)]
        );
        db.close().await;
    }
}

#[tokio::test]
async fn deleting_a_missing_journey_is_not_found() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert!(matches!(
            store.delete_journey("ghost").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.changes_since(0).await.unwrap(), Vec::<Change>::new());
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_of_one_journey_get_distinct_versions() {
    const WRITERS: i64 = 10;
    for tdb in test_databases().await {
        // Two handles, as two nodes would have: writers race within a pool and across pools.
        let node_a = tdb.open().await;
        let node_b = tdb.open().await;
        let mut tasks = Vec::new();
        for n in 0..WRITERS {
            let store = if n % 2 == 0 {
                node_a.store()
            } else {
                node_b.store()
            };
            tasks.push(tokio::spawn(async move {
                store
                    .put_journey("busy", "yaml", &format!("writer {n}"), n)
                    .await
            }));
        }
        let mut versions = BTreeSet::new();
        let mut source_of_version = Vec::new();
        for task in tasks {
            let stored = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{}: concurrent put failed: {e}", tdb.backend()));
            assert!(versions.insert(stored.version), "duplicate {stored:?}");
            source_of_version.push((stored.version, stored.source));
        }
        assert_eq!(
            versions,
            (1..=WRITERS).collect::<BTreeSet<_>>(),
            "{}",
            tdb.backend()
        );

        let store = node_a.store();
        // Each returned record is what was stored under its number.
        for (version, source) in source_of_version {
            let stored = store
                .journey_version("busy", version)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(stored.source, source);
        }
        assert_eq!(
            store.latest_journey("busy").await.unwrap().unwrap().version,
            WRITERS
        );
        let changes = store.changes_since(0).await.unwrap();
        assert_eq!(changes.len(), 10);
        assert!(changes
            .iter()
            .all(|c| c.kind == ChangeKind::Journey && c.key == "busy"));
        node_a.close().await;
        node_b.close().await;
    }
}

#[tokio::test]
async fn connection_crud() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert_eq!(store.get_connection("crm").await.unwrap(), None);
        assert_eq!(
            store.list_connections().await.unwrap(),
            Vec::<ConnectionRecord>::new()
        );

        let crm = connection("crm", r#"{"url":"https://crm.example"}"#, 10);
        let billing = connection("billing", r#"{"url":"https://billing.example"}"#, 20);
        store.put_connection(&crm).await.unwrap();
        store.put_connection(&billing).await.unwrap();
        assert_eq!(
            store.get_connection("crm").await.unwrap(),
            Some(crm.clone())
        );
        assert_eq!(
            store.list_connections().await.unwrap(),
            vec![billing.clone(), crm.clone()],
            "{}",
            tdb.backend()
        );

        // Put replaces.
        let replaced = connection("crm", r#"{"url":"https://crm2.example"}"#, 30);
        store.put_connection(&replaced).await.unwrap();
        assert_eq!(
            store.get_connection("crm").await.unwrap(),
            Some(replaced.clone())
        );
        assert_eq!(store.list_connections().await.unwrap().len(), 2);

        store.delete_connection("billing").await.unwrap();
        assert_eq!(store.get_connection("billing").await.unwrap(), None);
        assert_eq!(store.list_connections().await.unwrap(), vec![replaced]);
        assert!(matches!(
            store.delete_connection("billing").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_connection("ghost").await,
            Err(StoreError::NotFound)
        ));
        db.close().await;
    }
}

#[tokio::test]
async fn traces_are_stored_in_batches_and_found_by_journey_and_id() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let first = trace("t-1", "login", T0_MS);
        let second = trace("t-2", "login", T0_MS + 1_000);
        let third = trace("t-3", "signup", T0_MS + 2_000);
        store
            .insert_traces(&[first.clone(), second.clone(), third.clone()])
            .await
            .unwrap();
        store.insert_traces(&[]).await.unwrap();

        assert_eq!(
            store.get_trace("login", "t-1").await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            store.get_trace("signup", "t-3").await.unwrap(),
            Some(third.clone())
        );
        // The trace exists, but not for this journey.
        assert_eq!(store.get_trace("signup", "t-1").await.unwrap(), None);
        assert_eq!(store.get_trace("login", "t-9").await.unwrap(), None);
        // Traces are not cached: no change rows.
        assert_eq!(store.changes_since(0).await.unwrap(), Vec::<Change>::new());

        // Strictly before the cut-off.
        assert_eq!(store.purge_traces(T0_MS + 1_000).await.unwrap(), 1);
        assert_eq!(store.get_trace("login", "t-1").await.unwrap(), None);
        assert_eq!(store.get_trace("login", "t-2").await.unwrap(), Some(second));
        assert_eq!(store.purge_traces(T0_MS + 1_000).await.unwrap(), 0);
        assert_eq!(store.purge_traces(T0_MS + 10_000).await.unwrap(), 2);
        assert_eq!(store.get_trace("signup", "t-3").await.unwrap(), None);
        assert_eq!(store.changes_since(0).await.unwrap(), Vec::<Change>::new());
        db.close().await;
    }
}

#[tokio::test]
async fn a_failing_trace_batch_inserts_nothing() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .insert_traces(&[trace("t-1", "login", T0_MS)])
            .await
            .unwrap();
        // The batch's last trace collides: the whole batch rolls back.
        let result = store
            .insert_traces(&[
                trace("t-2", "login", T0_MS),
                trace("t-3", "login", T0_MS),
                trace("t-1", "login", T0_MS + 5),
            ])
            .await;
        assert!(
            matches!(result, Err(StoreError::Conflict(_))),
            "{}: {result:?}",
            tdb.backend()
        );
        assert_eq!(store.get_trace("login", "t-2").await.unwrap(), None);
        assert_eq!(store.get_trace("login", "t-3").await.unwrap(), None);
        assert_eq!(
            store.get_trace("login", "t-1").await.unwrap(),
            Some(trace("t-1", "login", T0_MS))
        );
        db.close().await;
    }
}

#[tokio::test]
async fn journey_and_connection_mutations_record_changes() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let step = |n: i64| T0_MS + n * 1_000;

        store.put_journey("j", "yaml", "v1", 1).await.unwrap();
        tdb.clock.set_ms(step(1));
        store.put_journey("j", "yaml", "v2", 2).await.unwrap();
        tdb.clock.set_ms(step(2));
        store.delete_journey("j").await.unwrap();
        tdb.clock.set_ms(step(3));
        store
            .put_connection(&connection("conn", "{}", 3))
            .await
            .unwrap();
        tdb.clock.set_ms(step(4));
        store
            .put_connection(&connection("conn", r#"{"a":1}"#, 4))
            .await
            .unwrap();
        tdb.clock.set_ms(step(5));
        store.delete_connection("conn").await.unwrap();
        // Failed mutations and trace writes record nothing.
        tdb.clock.set_ms(step(6));
        assert!(store.delete_journey("j").await.is_err());
        assert!(store.delete_connection("conn").await.is_err());
        store
            .insert_traces(&[trace("t", "j", step(6))])
            .await
            .unwrap();
        assert_eq!(store.purge_traces(i64::MAX).await.unwrap(), 1);

        let changes = store.changes_since(0).await.unwrap();
        assert_eq!(
            kinds_and_keys(&changes),
            vec![
                (ChangeKind::Journey, "j"),
                (ChangeKind::Journey, "j"),
                (ChangeKind::Journey, "j"),
                (ChangeKind::Connection, "conn"),
                (ChangeKind::Connection, "conn"),
                (ChangeKind::Connection, "conn"),
            ],
            "{}",
            tdb.backend()
        );
        let stamps: Vec<i64> = changes.iter().map(|c| c.at_ms).collect();
        assert_eq!(stamps, (0..6).map(step).collect::<Vec<_>>());
        db.close().await;
    }
}

#[tokio::test]
async fn purge_leaves_journeys_connections_and_traces_alone() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.put_journey("j", "yaml", "v1", 1).await.unwrap();
        store
            .put_connection(&connection("conn", "{}", 1))
            .await
            .unwrap();
        store
            .insert_traces(&[trace("t", "j", T0_MS)])
            .await
            .unwrap();

        // Both change rows go; nothing else does.
        assert_eq!(store.purge_changes(i64::MAX).await.unwrap(), 2);
        assert_eq!(
            store.latest_journey("j").await.unwrap(),
            Some(journey("j", 1, "v1", 1))
        );
        assert!(store.get_connection("conn").await.unwrap().is_some());
        assert!(store.get_trace("j", "t").await.unwrap().is_some());
        db.close().await;
    }
}
