//! The change feed: one row per mutation, stamped with the writer's clock, and purging.

use tessera_identity::{Change, ChangeKind, StoreError};
use tessera_jose::Algorithm;

use crate::fixtures::{application, client, plan, signing_key};
use crate::harness::{test_databases, T0_MS};

fn kinds_and_keys(changes: &[Change]) -> Vec<(ChangeKind, &str)> {
    changes.iter().map(|c| (c.kind, c.key.as_str())).collect()
}

#[tokio::test]
async fn every_mutation_records_a_change() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let step = |n: i64| T0_MS + n * 1_000;

        store.bootstrap(&plan("p")).await.unwrap();
        tdb.clock.set_ms(step(1));
        store
            .create_application(&application("app", 1))
            .await
            .unwrap();
        tdb.clock.set_ms(step(2));
        store
            .update_application(&application("app", 1))
            .await
            .unwrap();
        tdb.clock.set_ms(step(3));
        store.create_client(&client("c", "app", 1)).await.unwrap();
        tdb.clock.set_ms(step(4));
        store.update_client(&client("c", "app", 1)).await.unwrap();
        tdb.clock.set_ms(step(5));
        store.delete_client("c").await.unwrap();
        tdb.clock.set_ms(step(6));
        store.delete_application("app").await.unwrap();
        tdb.clock.set_ms(step(7));
        store
            .rotate_signing_keys(
                &[signing_key("k-new", Algorithm::ES256, 1)],
                &[("es-p".to_string(), 10)],
            )
            .await
            .unwrap();
        tdb.clock.set_ms(step(8));
        assert_eq!(store.delete_retired_signing_keys(11).await.unwrap(), 1);
        tdb.clock.set_ms(step(9));
        store.revoke_jti("jti-1", 99).await.unwrap();

        let changes = store.changes_since(0).await.unwrap();
        assert_eq!(
            kinds_and_keys(&changes),
            vec![
                (ChangeKind::SigningKeys, "es-p"),
                (ChangeKind::SigningKeys, "rs-p"),
                (ChangeKind::SigningKeys, "ed-p"),
                (ChangeKind::Application, "mgmt-p"),
                (ChangeKind::Client, "admin-p"),
                (ChangeKind::Application, "app"),
                (ChangeKind::Application, "app"),
                (ChangeKind::Client, "c"),
                (ChangeKind::Client, "c"),
                (ChangeKind::Client, "c"),
                (ChangeKind::Application, "app"),
                (ChangeKind::SigningKeys, "k-new"),
                (ChangeKind::SigningKeys, "es-p"),
                (ChangeKind::SigningKeys, "es-p"),
                (ChangeKind::RevokedToken, "jti-1"),
            ],
            "{}",
            tdb.backend()
        );
        let stamps: Vec<i64> = changes.iter().map(|c| c.at_ms).collect();
        assert_eq!(
            stamps,
            vec![
                step(0),
                step(0),
                step(0),
                step(0),
                step(0),
                step(1),
                step(2),
                step(3),
                step(4),
                step(5),
                step(6),
                step(7),
                step(7),
                step(8),
                step(9),
            ]
        );
        assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
        db.close().await;
    }
}

#[tokio::test]
async fn changes_since_is_inclusive_and_filters_older_rows() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        for (i, jti) in ["a", "b", "c"].iter().enumerate() {
            tdb.clock.set_ms(T0_MS + 1_000 * i as i64);
            store.revoke_jti(jti, i64::MAX).await.unwrap();
        }
        let keys = |changes: Vec<Change>| changes.into_iter().map(|c| c.key).collect::<Vec<_>>();
        assert_eq!(
            keys(store.changes_since(T0_MS).await.unwrap()),
            ["a", "b", "c"]
        );
        assert_eq!(
            keys(store.changes_since(T0_MS + 1_000).await.unwrap()),
            ["b", "c"]
        );
        assert_eq!(
            keys(store.changes_since(T0_MS + 1_001).await.unwrap()),
            ["c"]
        );
        assert_eq!(
            keys(store.changes_since(T0_MS + 2_001).await.unwrap()),
            Vec::<String>::new()
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_failed_mutation_records_no_change() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .create_application(&application("app", 1))
            .await
            .unwrap();
        let before = store.changes_since(0).await.unwrap();

        assert!(matches!(
            store.create_application(&application("app", 1)).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.create_client(&client("c", "ghost", 1)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_client("ghost").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.changes_since(0).await.unwrap(), before);
        db.close().await;
    }
}

#[tokio::test]
async fn purge_deletes_expired_revocations_and_old_changes() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.revoke_jti("old", 100).await.unwrap(); // change at T0
        tdb.clock.set_ms(T0_MS + 5_000);
        store.revoke_jti("live", 200).await.unwrap(); // change at T0 + 5 s

        // One expired revocation and one change row older than the cut-off.
        assert_eq!(store.purge_revocations(100).await.unwrap(), 1);
        assert_eq!(store.purge_changes(T0_MS + 5_000).await.unwrap(), 1);
        assert!(!store.is_jti_revoked("old").await.unwrap());
        assert!(store.is_jti_revoked("live").await.unwrap());
        let remaining = store.changes_since(0).await.unwrap();
        assert_eq!(remaining.len(), 1);
        assert_eq!(remaining[0].key, "live");

        // Sequence numbers keep growing after a purge.
        let last_seq = remaining[0].seq;
        store.revoke_jti("next", 300).await.unwrap();
        let latest = store.changes_since(0).await.unwrap();
        assert!(latest.iter().any(|c| c.key == "next" && c.seq > last_seq));
        assert_eq!(store.purge_revocations(100).await.unwrap(), 0);
        assert_eq!(store.purge_changes(0).await.unwrap(), 0);
        db.close().await;
    }
}
