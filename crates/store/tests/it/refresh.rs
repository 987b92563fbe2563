//! Refresh tokens: rotation consumes exactly once (also under concurrency), reuse revokes the
//! family, logout revokes the session's tokens, and the group-commit writer keeps each
//! write's outcome its own.

use std::sync::Arc;

use tessera_identity::refresh::{RefreshToken, Rotation};
use tessera_identity::{SessionRecord, Store, StoreError, User, UserStatus};

use crate::harness::test_databases;

fn user(user_id: &str) -> User {
    User {
        user_id: user_id.to_string(),
        username: Some(format!("name-{user_id}")),
        email: None,
        email_verified: false,
        phone_number: None,
        phone_number_verified: false,
        external_user_id: None,
        name: None,
        custom_data: Default::default(),
        status: UserStatus::Active,
        password_hash: None,
        password_force_replace: false,
        created_at: 1,
        updated_at: 1,
    }
}

fn session(hash: &str, user_id: &str) -> SessionRecord {
    SessionRecord {
        session_hash: hash.to_string(),
        user_id: user_id.to_string(),
        client_id: "c-1".to_string(),
        methods: vec!["pwd".to_string()],
        auth_time: 100,
        created_at: 100,
        last_used_at: 100,
        expires_at: 10_000,
        ended_at: None,
    }
}

fn token(hash: &str, family: &str, session_hash: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.to_string(),
        family_id: family.to_string(),
        client_id: "c-1".to_string(),
        user_id: "u1".to_string(),
        session_hash: session_hash.to_string(),
        session_sealed: "sealed".to_string(),
        grant_doc: "{}".to_string(),
        created_at: 100,
        expires_at: 1_000,
        family_expires_at: 5_000,
        used_at: None,
        revoked_at: None,
    }
}

async fn setup(store: &Arc<dyn Store>) {
    store.create_user(&user("u1")).await.unwrap();
    store.create_session(&session("s1", "u1")).await.unwrap();
}

#[tokio::test]
async fn rotation_consumes_once_and_reuse_revokes_the_family() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        setup(&store).await;
        store
            .create_refresh_token(&token("t1", "f1", "s1"))
            .await
            .unwrap();
        assert_eq!(
            store.get_refresh_token("t1").await.unwrap(),
            Some(token("t1", "f1", "s1")),
            "{backend}"
        );

        // Another client's token, an unknown one and an expired one change nothing.
        for (hash, client, now) in [
            ("t1", "c-2", 200),
            ("nope", "c-1", 200),
            ("t1", "c-1", 1_000),
        ] {
            assert_eq!(
                store
                    .rotate_refresh_token(hash, client, "x", 9_999, now)
                    .await
                    .unwrap(),
                Rotation::Invalid,
                "{backend} {hash} {client} {now}"
            );
        }
        assert_eq!(
            store.get_refresh_token("x").await.unwrap(),
            None,
            "{backend}"
        );

        // The successor keeps the family and is capped at the family's end.
        let Rotation::Rotated(t2) = store
            .rotate_refresh_token("t1", "c-1", "t2", 9_999, 200)
            .await
            .unwrap()
        else {
            panic!("{backend}: not rotated")
        };
        assert_eq!(t2.token_hash, "t2");
        assert_eq!(t2.family_id, "f1");
        assert_eq!(t2.expires_at, 5_000, "{backend}");
        assert_eq!(t2.created_at, 200);
        assert_eq!(t2.used_at, None);
        assert_eq!(
            store
                .get_refresh_token("t1")
                .await
                .unwrap()
                .unwrap()
                .used_at,
            Some(200)
        );

        // Presenting t1 again revokes the family, including the live t2.
        assert_eq!(
            store
                .rotate_refresh_token("t1", "c-1", "t3", 9_999, 300)
                .await
                .unwrap(),
            Rotation::Reused {
                family_id: "f1".into()
            },
            "{backend}"
        );
        assert_eq!(store.get_refresh_token("t3").await.unwrap(), None);
        assert_eq!(
            store
                .get_refresh_token("t2")
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(300)
        );
        assert_eq!(
            store
                .rotate_refresh_token("t2", "c-1", "t4", 9_999, 301)
                .await
                .unwrap(),
            Rotation::Invalid,
            "{backend}: a revoked token does not rotate"
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
            .create_refresh_token(&token("t1", "f1", "s1"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .rotate_refresh_token("t1", "c-1", &format!("next-{i}"), 9_999, 200)
                    .await
                    .unwrap()
            }));
        }
        let mut rotated = 0;
        for t in tasks {
            match t.await.unwrap() {
                Rotation::Rotated(_) => rotated += 1,
                Rotation::Reused { family_id } => assert_eq!(family_id, "f1"),
                Rotation::Invalid => panic!("{backend}: a loser must see the reuse"),
            }
        }
        assert_eq!(rotated, 1, "{backend}");
        db.close().await;
    }
}

#[tokio::test]
async fn ending_a_session_revokes_its_refresh_tokens_and_purge_drops_ended_families() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        setup(&store).await;
        store.create_session(&session("s2", "u1")).await.unwrap();
        store
            .create_refresh_token(&token("a", "fa", "s1"))
            .await
            .unwrap();
        store
            .create_refresh_token(&token("b", "fb", "s2"))
            .await
            .unwrap();
        assert!(store.end_session("s1", 200).await.unwrap());
        assert_eq!(
            store
                .get_refresh_token("a")
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(200)
        );
        assert_eq!(
            store
                .get_refresh_token("b")
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

        store.purge(5_000, 0).await.unwrap();
        assert_eq!(
            store.get_refresh_token("a").await.unwrap(),
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
            // Every fourth write reuses an earlier hash: a primary-key conflict.
            let hash = if i % 4 == 3 {
                format!("t{}", i - 1)
            } else {
                format!("t{i}")
            };
            tasks.push(tokio::spawn(async move {
                let r = store
                    .create_refresh_token(&token(&hash, &format!("f{i}"), "s1"))
                    .await;
                (hash, i, r)
            }));
        }
        let mut ok = 0;
        for t in tasks {
            let (hash, i, r) = t.await.unwrap();
            match r {
                Ok(()) => {
                    ok += 1;
                    let stored = store.get_refresh_token(&hash).await.unwrap().unwrap();
                    assert_eq!(stored.family_id, format!("f{i}"), "{backend}");
                }
                Err(StoreError::Conflict(_)) => assert!(i % 4 >= 2, "{backend}: {i}"),
                Err(e) => panic!("{backend}: {e}"),
            }
        }
        assert_eq!(ok, 48, "{backend}");
        db.close().await;
    }
}
