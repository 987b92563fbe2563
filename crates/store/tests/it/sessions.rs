//! Sessions and brute-force counters: sessions round-trip, methods are added atomically only
//! to live sessions of their user, ending records a change, and concurrent failures all
//! count.

use std::sync::Arc;

use tessera_identity::{ChangeKind, FailurePolicy, SessionRecord, Store, StoreError};

use crate::fixtures::user;
use crate::harness::test_databases;

fn session_at(hash: &str, user_id: &str) -> SessionRecord {
    crate::fixtures::session(hash, user_id, 1_000)
}

fn policy(now_s: i64) -> FailurePolicy {
    FailurePolicy {
        now_s,
        window_s: 900,
        max_failures: 5,
        lockout_s: 600,
    }
}

#[tokio::test]
async fn sessions_round_trip_and_gain_methods_only_while_live() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        store.create_user(&user("u2")).await.unwrap();
        let s = session_at("h1", "u1");
        store.create_session(&s).await.unwrap();
        assert_eq!(store.get_session("h1").await.unwrap(), Some(s.clone()));
        assert_eq!(store.get_session("nope").await.unwrap(), None);
        assert!(matches!(
            store.create_session(&s).await.unwrap_err(),
            StoreError::Conflict(_)
        ));
        // A session of an unknown user is refused by the foreign key.
        assert!(store
            .create_session(&session_at("h-x", "ghost"))
            .await
            .is_err());

        // Another user's session, an idle one and an unknown one change nothing.
        assert_eq!(
            store
                .add_session_method("h1", "u2", "eotp", 200, 0)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .add_session_method("h1", "u1", "eotp", 200, 150)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .add_session_method("nope", "u1", "eotp", 200, 0)
                .await
                .unwrap(),
            None
        );
        assert_eq!(store.get_session("h1").await.unwrap(), Some(s.clone()));

        let updated = store
            .add_session_method("h1", "u1", "eotp", 200, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.methods, ["pwd", "eotp"], "{backend}");
        assert_eq!(updated.auth_time, 200);
        assert_eq!(updated.last_used_at, 200);
        // Adding a method twice keeps one entry.
        let again = store
            .add_session_method("h1", "u1", "pwd", 210, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.methods, ["pwd", "eotp"]);
        assert_eq!(store.get_session("h1").await.unwrap(), Some(again));

        let touched = store.touch_session("h1", 300, 0).await.unwrap().unwrap();
        assert_eq!(touched.last_used_at, 300);
        assert_eq!(touched.auth_time, 210);
        assert_eq!(store.touch_session("h1", 300, 301).await.unwrap(), None);

        // Expired sessions cannot be used or ended.
        assert_eq!(store.touch_session("h1", 1_000, 0).await.unwrap(), None);
        assert!(!store.end_session("h1", 1_000).await.unwrap());

        assert!(store.end_session("h1", 400).await.unwrap());
        assert!(!store.end_session("h1", 401).await.unwrap());
        assert!(!store.end_session("nope", 401).await.unwrap());
        assert_eq!(
            store.get_session("h1").await.unwrap().unwrap().ended_at,
            Some(400)
        );
        assert_eq!(store.touch_session("h1", 402, 0).await.unwrap(), None);
        assert_eq!(
            store
                .add_session_method("h1", "u1", "sms", 402, 0)
                .await
                .unwrap(),
            None
        );

        let session_changes: Vec<_> = store
            .changes_since(0)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.kind == ChangeKind::Session)
            .map(|c| c.key)
            .collect();
        // create, two method additions, end.
        assert_eq!(session_changes, ["h1", "h1", "h1", "h1"], "{backend}");

        // Deleting the user deletes its sessions.
        store.create_session(&session_at("h2", "u2")).await.unwrap();
        store.delete_user("u2").await.unwrap();
        assert_eq!(store.get_session("h2").await.unwrap(), None);
        db.close().await;
    }
}

#[tokio::test]
async fn failures_count_lock_and_start_over() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        assert_eq!(store.get_lock("u1", "pwd").await.unwrap(), None);
        for n in 1..=4 {
            let f = store
                .record_auth_failure("u1", "pwd", policy(100 + n))
                .await
                .unwrap();
            assert_eq!(f.count, n, "{backend}");
            assert_eq!(f.window_started_at, 101);
            assert_eq!(f.locked_until, None);
        }
        // Methods count separately.
        let other = store
            .record_auth_failure("u1", "eotp", policy(105))
            .await
            .unwrap();
        assert_eq!(other.count, 1);

        let fifth = store
            .record_auth_failure("u1", "pwd", policy(105))
            .await
            .unwrap();
        assert_eq!(fifth.count, 5);
        assert_eq!(fifth.locked_until, Some(705));
        assert_eq!(store.get_lock("u1", "pwd").await.unwrap(), Some(fifth));

        // After the lock expires the count starts over.
        let after = store
            .record_auth_failure("u1", "pwd", policy(705))
            .await
            .unwrap();
        assert_eq!((after.count, after.locked_until), (1, None), "{backend}");
        // So it does after the window.
        let later = store
            .record_auth_failure("u1", "pwd", policy(705 + 900))
            .await
            .unwrap();
        assert_eq!(later.count, 1);
        assert_eq!(later.window_started_at, 1_605);

        store.reset_auth_failures("u1", "pwd").await.unwrap();
        assert_eq!(store.get_lock("u1", "pwd").await.unwrap(), None);
        assert!(store.get_lock("u1", "eotp").await.unwrap().is_some());
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_failures_count_exactly() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.create_user(&user("u1")).await.unwrap();
        let store: Arc<dyn Store> = store;
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let p = FailurePolicy {
                        max_failures: 1_000,
                        ..policy(100)
                    };
                    store.record_auth_failure("u1", "pwd", p).await.unwrap()
                })
            })
            .collect();
        let mut counts = Vec::new();
        for t in tasks {
            counts.push(t.await.unwrap().count);
        }
        counts.sort_unstable();
        assert_eq!(counts, (1..=24).collect::<Vec<_>>(), "{}", tdb.backend());
        assert_eq!(
            store.get_lock("u1", "pwd").await.unwrap().unwrap().count,
            24
        );
        db.close().await;
    }
}

/// A user's live sessions are listed oldest first, and "log out everywhere" ends exactly
/// the live ones, each with a change row, leaving other users' sessions alone.
#[tokio::test]
async fn a_users_sessions_are_listed_and_ended_together() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        store.create_user(&user("u2")).await.unwrap();
        let mut older = session_at("a-old", "u1");
        older.created_at = 50;
        store.create_session(&older).await.unwrap();
        store
            .create_session(&session_at("b-new", "u1"))
            .await
            .unwrap();
        store
            .create_session(&session_at("c-ended", "u1"))
            .await
            .unwrap();
        assert!(store.end_session("c-ended", 150).await.unwrap());
        let mut idle = session_at("d-idle", "u1");
        idle.last_used_at = 10;
        store.create_session(&idle).await.unwrap();
        store
            .create_session(&session_at("e-other", "u2"))
            .await
            .unwrap();

        let live: Vec<_> = store
            .list_user_sessions("u1", 200, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.session_hash)
            .collect();
        assert_eq!(live, ["a-old", "b-new"], "{backend}");
        // Past their absolute end (1000), none is listed.
        assert!(store
            .list_user_sessions("u1", 1_000, 0)
            .await
            .unwrap()
            .is_empty());

        let before = store.changes_since(0).await.unwrap().len();
        let mut ended = store.end_user_sessions("u1", 300).await.unwrap();
        ended.sort();
        // The idle one is not usable but not ended either: it ends too.
        assert_eq!(ended, ["a-old", "b-new", "d-idle"], "{backend}");
        let after = store.changes_since(0).await.unwrap().len();
        assert_eq!(after - before, 3, "{backend}");
        assert!(store
            .list_user_sessions("u1", 300, 0)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.end_user_sessions("u1", 301).await.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store
                .get_session("e-other")
                .await
                .unwrap()
                .unwrap()
                .ended_at,
            None
        );
        db.close().await;
    }
}
