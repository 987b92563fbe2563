//! One-time codes: a new code replaces the user's older live code of the same client and
//! kind (only that one), redeeming is exactly-once even under concurrency, expired and
//! foreign-client codes are told apart from wrong ones, and housekeeping drops old codes.

use std::sync::Arc;

use tessera_identity::{CodeRedemption, OneTimeCode, Redemption};
use tessera_identity::{Store, StoreError};

use crate::fixtures::user;
use crate::harness::test_databases;

fn code(id: &str, hash: &str, user_id: &str, client_id: &str, kind: &str, at: i64) -> OneTimeCode {
    OneTimeCode {
        code_id: id.to_string(),
        code_hash: hash.to_string(),
        user_id: user_id.to_string(),
        client_id: client_id.to_string(),
        kind: kind.to_string(),
        destination: Some("a@example.com".to_string()),
        redirect_uri: (kind == "eml").then(|| "https://app.example/cb".to_string()),
        state: (kind == "eml").then(|| "st".to_string()),
        created_at: at,
        expires_at: at + 300,
        consumed_at: None,
        custom_destination: false,
        approval_data: None,
    }
}

fn redeem(
    hash: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    now_s: i64,
) -> CodeRedemption {
    CodeRedemption {
        code_hash: hash.to_string(),
        user_id: user_id.map(str::to_string),
        kinds: vec!["eotp".to_string(), "sms".to_string()],
        client_id: client_id.map(str::to_string),
        now_s,
    }
}

async fn try_redeem(store: &Arc<dyn Store>, r: CodeRedemption) -> Redemption {
    store.redeem_one_time_code(&r).await.unwrap()
}

#[tokio::test]
async fn codes_redeem_once_and_round_trip() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let b = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        // A passcode sent to a caller-chosen address with approval data: both come back.
        let mut c = code("id1", "h1", "u1", "c1", "eotp", 100);
        c.custom_destination = true;
        c.approval_data = serde_json::json!({"transaction_id": "tx-1", "sum": "200"})
            .as_object()
            .cloned();
        store.create_one_time_code(&c).await.unwrap();

        // Wrong hash, wrong user, wrong kind: invalid, nothing consumed.
        let r = try_redeem(&store, redeem("hx", Some("u1"), Some("c1"), 110));
        assert_eq!(r.await, Redemption::Invalid, "{b}");
        let r = try_redeem(&store, redeem("h1", Some("u2"), Some("c1"), 110));
        assert_eq!(r.await, Redemption::Invalid, "{b}");
        let mut eml = redeem("h1", Some("u1"), Some("c1"), 110);
        eml.kinds = vec!["eml".to_string()];
        assert_eq!(
            store.redeem_one_time_code(&eml).await.unwrap(),
            Redemption::Invalid
        );

        let got = store
            .redeem_one_time_code(&redeem("h1", Some("u1"), Some("c1"), 120))
            .await
            .unwrap();
        let mut expected = c.clone();
        expected.consumed_at = Some(120);
        assert_eq!(got, Redemption::Consumed(Box::new(expected)), "{b}");
        // Used: invalid from now on.
        let again = try_redeem(&store, redeem("h1", Some("u1"), Some("c1"), 121));
        assert_eq!(again.await, Redemption::Invalid, "{b}");

        // Magic links: found by hash alone; state and redirect_uri come back.
        let link = code("id2", "lh", "u1", "c1", "eml", 100);
        store.create_one_time_code(&link).await.unwrap();
        let mut r = redeem("lh", None, Some("c1"), 130);
        r.kinds = vec!["eml".to_string()];
        match store.redeem_one_time_code(&r).await.unwrap() {
            Redemption::Consumed(got) => {
                assert_eq!(got.redirect_uri.as_deref(), Some("https://app.example/cb"));
                assert_eq!(got.state.as_deref(), Some("st"));
                assert_eq!(got.user_id, "u1");
            }
            other => panic!("{b}: {other:?}"),
        }

        // A code for a missing user is refused.
        let e = store
            .create_one_time_code(&code("id3", "h3", "nobody", "c1", "eotp", 100))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{b}: {e:?}");
        db.close().await;
    }
}

#[tokio::test]
async fn expired_and_foreign_client_codes_are_told_apart() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let b = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        store
            .create_one_time_code(&code("id1", "h1", "u1", "c1", "sms", 100))
            .await
            .unwrap();
        // Another client: invalid unless any client may redeem.
        let r = try_redeem(&store, redeem("h1", Some("u1"), Some("c2"), 150));
        assert_eq!(r.await, Redemption::Invalid, "{b}");
        // At expires_at the code is expired, and stays unconsumed.
        let r = try_redeem(&store, redeem("h1", Some("u1"), Some("c1"), 400));
        assert_eq!(r.await, Redemption::Expired, "{b}");
        let r = try_redeem(&store, redeem("h1", Some("u1"), Some("c1"), 500));
        assert_eq!(r.await, Redemption::Expired, "{b}");
        // Before expiry, with cross-client use allowed, another client may redeem it.
        let r = try_redeem(&store, redeem("h1", Some("u1"), None, 399));
        assert!(matches!(r.await, Redemption::Consumed(_)), "{b}");

        // Housekeeping deletes codes expired before the cut-off only.
        store
            .create_one_time_code(&code("id2", "h2", "u1", "c1", "eotp", 1_000))
            .await
            .unwrap();
        assert_eq!(store.purge_one_time_codes(1_000).await.unwrap(), 1, "{b}");
        let r = try_redeem(&store, redeem("h2", Some("u1"), Some("c1"), 1_001));
        assert!(matches!(r.await, Redemption::Consumed(_)), "{b}");
        db.close().await;
    }
}

#[tokio::test]
async fn a_new_code_replaces_only_the_same_client_and_kind() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let b = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        store.create_user(&user("u2")).await.unwrap();
        for c in [
            code("a", "ha", "u1", "c1", "eotp", 100),
            code("b", "hb", "u1", "c1", "sms", 100),
            code("c", "hc", "u1", "c2", "eotp", 100),
            code("d", "hd", "u2", "c1", "eotp", 100),
            // Replaces `a` only.
            code("e", "he", "u1", "c1", "eotp", 101),
        ] {
            store.create_one_time_code(&c).await.unwrap();
        }
        let try_it = |hash: &str, user: &str, client: &str| {
            let store = store.clone();
            let r = redeem(hash, Some(user), Some(client), 150);
            async move { store.redeem_one_time_code(&r).await.unwrap() }
        };
        assert_eq!(try_it("ha", "u1", "c1").await, Redemption::Invalid, "{b}");
        for (h, u, c) in [
            ("hb", "u1", "c1"),
            ("hc", "u1", "c2"),
            ("hd", "u2", "c1"),
            ("he", "u1", "c1"),
        ] {
            assert!(
                matches!(try_it(h, u, c).await, Redemption::Consumed(_)),
                "{b}: {h}"
            );
        }
        db.close().await;
    }
}

#[tokio::test]
async fn concurrent_redeems_of_one_code_have_exactly_one_winner() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let b = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        for round in 0..5 {
            let hash = format!("h{round}");
            store
                .create_one_time_code(&code(&format!("id{round}"), &hash, "u1", "c1", "eotp", 100))
                .await
                .unwrap();
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let store: Arc<dyn Store> = store.clone();
                    let r = redeem(&hash, Some("u1"), Some("c1"), 150);
                    tokio::spawn(async move { store.redeem_one_time_code(&r).await.unwrap() })
                })
                .collect();
            let mut winners = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Redemption::Consumed(_) => winners += 1,
                    Redemption::Invalid => {}
                    Redemption::Expired => panic!("{b}: not expired"),
                }
            }
            assert_eq!(winners, 1, "{b} round {round}");
        }
        db.close().await;
    }
}
