//! Refresh families: a rotation wins exactly once (also under concurrency), the previous
//! generation presented again within the reuse window is a retry and after it a replay that
//! revokes the family, forged secrets and older generations revoke nothing, logout revokes
//! the session's tokens, and the group-commit writer keeps each write's outcome its own.

use std::sync::Arc;

use tessera_identity::{RefreshFamily, RefreshRotation, Rotation};
use tessera_identity::{SessionRecord, Store, StoreError};

use crate::fixtures::user;
use crate::harness::test_databases;

fn session_at(hash: &str, user_id: &str) -> SessionRecord {
    crate::fixtures::session(hash, user_id, 10_000)
}

fn family(family_id: &str, hash: &str, session_hash: &str) -> RefreshFamily {
    RefreshFamily {
        family_id: family_id.to_string(),
        generation: 0,
        token_hash: hash.to_string(),
        previous_hash: None,
        client_id: "c-1".to_string(),
        user_id: "u1".to_string(),
        session_hash: session_hash.to_string(),
        session_sealed: "sealed".to_string(),
        grant_doc: "{}".to_string(),
        created_at: 100,
        rotated_at: 100,
        expires_at: 1_000,
        family_expires_at: 5_000,
        revoked_at: None,
        successor_sealed: None,
    }
}

fn rotation(
    family_id: &str,
    generation: i64,
    hash: &str,
    client: &str,
    next: &str,
    now: i64,
) -> RefreshRotation {
    RefreshRotation {
        family_id: family_id.to_string(),
        generation,
        token_hash: hash.to_string(),
        client_id: client.to_string(),
        next_hash: next.to_string(),
        next_sealed: format!("sealed-{next}"),
        next_expires_at: 9_999,
        now_s: now,
        reuse_window_s: 2,
    }
}

async fn setup(store: &Arc<dyn Store>) {
    store.create_user(&user("u1")).await.unwrap();
    store.create_session(&session_at("s1", "u1")).await.unwrap();
}

#[tokio::test]
async fn rotation_consumes_once_and_reuse_revokes_the_family() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        setup(&store).await;
        store
            .create_refresh_family(&family("f1", "h0", "s1"))
            .await
            .unwrap();
        assert_eq!(
            store.get_refresh_family("f1").await.unwrap(),
            Some(family("f1", "h0", "s1")),
            "{backend}"
        );

        // Another client, an unknown family, a wrong hash, a future generation and an expired
        // token change nothing.
        for r in [
            rotation("f1", 0, "h0", "c-2", "x", 200),
            rotation("nope", 0, "h0", "c-1", "x", 200),
            rotation("f1", 0, "forged", "c-1", "x", 200),
            rotation("f1", 1, "h0", "c-1", "x", 200),
            rotation("f1", 0, "h0", "c-1", "x", 1_000),
        ] {
            assert_eq!(
                store.rotate_refresh_token(&r).await.unwrap(),
                Rotation::Invalid,
                "{backend} {r:?}"
            );
        }
        assert_eq!(
            store.get_refresh_family("f1").await.unwrap(),
            Some(family("f1", "h0", "s1"))
        );

        // The rotation moves the generation on and caps the expiry at the family's end.
        let Rotation::Rotated(f) = store
            .rotate_refresh_token(&rotation("f1", 0, "h0", "c-1", "h1", 200))
            .await
            .unwrap()
        else {
            panic!("{backend}: not rotated")
        };
        assert_eq!(
            (f.generation, f.token_hash.as_str()),
            (1, "h1"),
            "{backend}"
        );
        assert_eq!(f.previous_hash.as_deref(), Some("h0"));
        assert_eq!(f.expires_at, 5_000, "{backend}");
        assert_eq!(f.rotated_at, 200);
        assert_eq!(f.successor_sealed.as_deref(), Some("sealed-h1"));
        assert_eq!(
            store.get_refresh_family("f1").await.unwrap(),
            Some(*f.clone())
        );

        // Within the reuse window, generation 0 again is a retry: nothing changes and the
        // family (with the sealed successor) comes back.
        assert_eq!(
            store
                .rotate_refresh_token(&rotation("f1", 0, "h0", "c-1", "other", 202))
                .await
                .unwrap(),
            Rotation::Retry(f.clone()),
            "{backend}"
        );
        // A forged secret for generation 0, or another client, is merely invalid.
        for r in [
            rotation("f1", 0, "forged", "c-1", "x", 202),
            rotation("f1", 0, "h0", "c-2", "x", 202),
        ] {
            assert_eq!(
                store.rotate_refresh_token(&r).await.unwrap(),
                Rotation::Invalid,
                "{backend} {r:?}"
            );
        }
        assert_eq!(store.get_refresh_family("f1").await.unwrap(), Some(*f));

        // After the window, presenting generation 0 again revokes the family, including the
        // live generation 1.
        assert_eq!(
            store
                .rotate_refresh_token(&rotation("f1", 0, "h0", "c-1", "h2", 300))
                .await
                .unwrap(),
            Rotation::Reused {
                family_id: "f1".into()
            },
            "{backend}"
        );
        let f = store.get_refresh_family("f1").await.unwrap().unwrap();
        assert_eq!((f.generation, f.revoked_at), (1, Some(300)), "{backend}");
        assert_eq!(
            store
                .rotate_refresh_token(&rotation("f1", 1, "h1", "c-1", "h2", 301))
                .await
                .unwrap(),
            Rotation::Invalid,
            "{backend}: a revoked family does not rotate"
        );
        db.close().await;
    }
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_have_one_winner() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        setup(&store).await;
        store
            .create_refresh_family(&family("f1", "h0", "s1"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .rotate_refresh_token(&rotation(
                        "f1",
                        0,
                        "h0",
                        "c-1",
                        &format!("next-{i}"),
                        200,
                    ))
                    .await
                    .unwrap()
            }));
        }
        let mut rotated = 0;
        for t in tasks {
            match t.await.unwrap() {
                Rotation::Rotated(_) => rotated += 1,
                // Losers at the same instant are retries within the reuse window.
                Rotation::Retry(f) => assert_eq!(f.generation, 1, "{backend}"),
                other => panic!("{backend}: a loser must see a retry, got {other:?}"),
            }
        }
        assert_eq!(rotated, 1, "{backend}");
        db.close().await;
    }
}

#[tokio::test]
async fn ending_a_session_revokes_its_families_and_purge_drops_ended_ones() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        setup(&store).await;
        store.create_session(&session_at("s2", "u1")).await.unwrap();
        store
            .create_refresh_family(&family("fa", "a", "s1"))
            .await
            .unwrap();
        store
            .create_refresh_family(&family("fb", "b", "s2"))
            .await
            .unwrap();
        assert!(matches!(
            store
                .create_refresh_family(&family("fb", "c", "s2"))
                .await
                .unwrap_err(),
            StoreError::Conflict(_)
        ));
        assert!(store.end_session("s1", 200).await.unwrap());
        assert_eq!(
            store
                .get_refresh_family("fa")
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(200)
        );
        assert_eq!(
            store
                .get_refresh_family("fb")
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            None
        );
        assert_eq!(
            store.revoke_refresh_family("fb", 250).await.unwrap(),
            1,
            "{backend}"
        );
        assert_eq!(
            store.revoke_refresh_family("fb", 260).await.unwrap(),
            0,
            "{backend}"
        );

        store.purge_refresh_families(5_000).await.unwrap();
        assert_eq!(
            store.get_refresh_family("fa").await.unwrap(),
            None,
            "{backend}"
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_failing_write_does_not_undo_the_writes_committed_with_it() {
    // On SQLite concurrent writes share one commit (a savepoint each): conflicts in some of
    // them must fail only those, and every acknowledged write must be readable after.
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        setup(&store).await;
        let mut tasks = Vec::new();
        for i in 0..64 {
            let store = store.clone();
            // Every fourth write reuses an earlier family id: a primary-key conflict.
            let id = if i % 4 == 3 {
                format!("f{}", i - 1)
            } else {
                format!("f{i}")
            };
            tasks.push(tokio::spawn(async move {
                let r = store
                    .create_refresh_family(&family(&id, &format!("h{i}"), "s1"))
                    .await;
                (id, i, r)
            }));
        }
        let mut ok = 0;
        for t in tasks {
            let (id, i, r) = t.await.unwrap();
            match r {
                Ok(()) => {
                    ok += 1;
                    let stored = store.get_refresh_family(&id).await.unwrap().unwrap();
                    assert_eq!(stored.token_hash, format!("h{i}"), "{backend}");
                }
                Err(StoreError::Conflict(_)) => assert!(i % 4 >= 2, "{backend}: {i}"),
                Err(e) => panic!("{backend}: {e}"),
            }
        }
        assert_eq!(ok, 48, "{backend}");
        db.close().await;
    }
}
