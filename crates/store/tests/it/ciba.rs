//! CIBA requests and the delivery queue: a request is decided once and handed out once, even
//! by concurrent callers; a decision queues its ping in the same transaction; due jobs are
//! claimed with leases so that two claimers never take the same job, and a job whose lease
//! ended is claimed again.

use std::collections::HashSet;
use std::sync::Arc;

use tessera_identity::{CibaPoll, CibaRequest, CibaStatus, DeliveryJob, Store};

use crate::fixtures::user;
use crate::harness::test_databases;

fn request(hash: &str, client_id: &str, user_id: &str) -> CibaRequest {
    CibaRequest {
        request_hash: hash.into(),
        client_id: client_id.into(),
        user_id: user_id.into(),
        scope: "openid".into(),
        binding_message: Some("W4".into()),
        delivery_mode: "poll".into(),
        notification_token_sealed: None,
        created_at_ms: 1_000_000,
        expires_at_ms: 1_300_000,
        interval_s: 5,
        last_polled_at_ms: None,
        status: CibaStatus::Pending,
        decided_at_ms: None,
        auth_time: None,
        methods: Vec::new(),
    }
}

fn job(id: &str, due_ms: i64) -> DeliveryJob {
    DeliveryJob {
        id: id.into(),
        kind: "ciba_ping".into(),
        payload_sealed: "sealed".into(),
        attempts: 0,
        next_attempt_at_ms: due_ms,
        lease_until_ms: None,
        created_at_ms: due_ms,
        done_at_ms: None,
    }
}

#[tokio::test]
async fn requests_are_decided_once_and_handed_out_once() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        store.create_user(&user("u1")).await.unwrap();
        store.create_user(&user("u2")).await.unwrap();
        let r = request("h1", "c1", "u1");
        store.create_ciba_request(&r).await.unwrap();
        assert_eq!(store.get_ciba_request("h1").await.unwrap(), Some(r.clone()));

        // Polls: pending, then too soon (the interval grows), then pending again.
        let now = 1_010_000;
        assert_eq!(
            store.poll_ciba_request("h1", "c1", now).await.unwrap(),
            CibaPoll::Pending
        );
        assert_eq!(
            store
                .poll_ciba_request("h1", "c1", now + 1_000)
                .await
                .unwrap(),
            CibaPoll::SlowDown { interval_s: 10 }
        );
        assert_eq!(
            store
                .poll_ciba_request("h1", "c1", now + 12_000)
                .await
                .unwrap(),
            CibaPoll::Pending
        );
        // Another client's poll, an unknown request.
        assert_eq!(
            store.poll_ciba_request("h1", "c2", now).await.unwrap(),
            CibaPoll::Invalid
        );
        assert_eq!(
            store.poll_ciba_request("nope", "c1", now).await.unwrap(),
            CibaPoll::Invalid
        );

        // Another user cannot decide; the user decides once, with a queued ping.
        let methods = vec!["pwd".to_string()];
        assert!(store
            .decide_ciba_request("h1", "u2", true, 1_020, &methods, now, None)
            .await
            .unwrap()
            .is_none());
        let ping = job("j1", now);
        let decided = store
            .decide_ciba_request("h1", "u1", true, 1_020, &methods, now, Some(&ping))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(decided.status, CibaStatus::Approved, "{backend}");
        assert_eq!(decided.methods, methods);
        assert_eq!(decided.auth_time, Some(1_020));
        assert!(store
            .decide_ciba_request(
                "h1",
                "u1",
                false,
                1_020,
                &methods,
                now,
                Some(&job("j2", now))
            )
            .await
            .unwrap()
            .is_none());
        // Only the winning decision's ping was queued.
        let claimed = store.claim_deliveries(now, 30_000, 10).await.unwrap();
        assert_eq!(
            claimed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["j1"]
        );

        // Two concurrent polls of the approved request: exactly one gets it.
        let (a, b) = tokio::join!(
            store.poll_ciba_request("h1", "c1", now + 20_000),
            store.poll_ciba_request("h1", "c1", now + 20_000)
        );
        let got = [a.unwrap(), b.unwrap()]
            .into_iter()
            .filter(|p| matches!(p, CibaPoll::Approved(_)))
            .count();
        assert_eq!(got, 1, "{backend}");
        assert_eq!(
            store
                .poll_ciba_request("h1", "c1", now + 30_000)
                .await
                .unwrap(),
            CibaPoll::Invalid
        );

        // Denied and expired requests say so; expired ones cannot be decided and are purged.
        store
            .create_ciba_request(&request("h2", "c1", "u1"))
            .await
            .unwrap();
        store
            .decide_ciba_request("h2", "u1", false, 1_020, &methods, now, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.poll_ciba_request("h2", "c1", now).await.unwrap(),
            CibaPoll::Denied
        );
        store
            .create_ciba_request(&request("h3", "c1", "u1"))
            .await
            .unwrap();
        assert!(store
            .decide_ciba_request("h3", "u1", true, 1_020, &methods, 1_300_000, None)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            store
                .poll_ciba_request("h3", "c1", 1_300_000)
                .await
                .unwrap(),
            CibaPoll::Expired
        );
        assert_eq!(store.purge_ciba_requests(1_300_001).await.unwrap(), 3);
        assert_eq!(store.get_ciba_request("h3").await.unwrap(), None);
        // Deleting the user deletes their requests.
        store
            .create_ciba_request(&request("h4", "c1", "u2"))
            .await
            .unwrap();
        store.delete_user("u2").await.unwrap();
        assert_eq!(store.get_ciba_request("h4").await.unwrap(), None);
        db.close().await;
    }
}

#[tokio::test]
async fn due_jobs_are_claimed_by_one_claimer_and_again_after_their_lease() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let backend = tdb.backend();
        let now = 5_000_000;
        for i in 0..40 {
            store
                .enqueue_delivery(&job(&format!("j{i}"), now))
                .await
                .unwrap();
        }
        store
            .enqueue_delivery(&job("later", now + 60_000))
            .await
            .unwrap();

        // Four claimers at once: every due job is claimed exactly once.
        let claims = futures_claims(store.clone(), now, 4).await;
        let mut seen = HashSet::new();
        for id in claims.iter().flatten() {
            assert!(seen.insert(id.clone()), "{backend}: {id} claimed twice");
        }
        assert_eq!(seen.len(), 40, "{backend}");
        assert!(!seen.contains("later"));
        // Leased jobs are not claimed again before the lease ends...
        assert!(store
            .claim_deliveries(now + 1_000, 30_000, 100)
            .await
            .unwrap()
            .is_empty());
        // ...finished and rescheduled ones leave the lease; a dead claimer's come back after it.
        store.finish_delivery("j0", now + 1_000).await.unwrap();
        store.retry_delivery("j1", now + 10_000).await.unwrap();
        let again = store
            .claim_deliveries(now + 31_000, 30_000, 100)
            .await
            .unwrap();
        let ids: HashSet<_> = again.iter().map(|j| j.id.clone()).collect();
        assert!(!ids.contains("j0"), "{backend}: a finished job came back");
        assert!(ids.contains("j1") && ids.contains("j2"), "{backend}");
        let j2 = again.iter().find(|j| j.id == "j2").unwrap();
        assert_eq!(j2.attempts, 2, "each claim counts an attempt");
        assert_eq!(j2.lease_until_ms, Some(now + 61_000));
        // Done jobs are purged after a while, pending ones never.
        assert_eq!(store.purge_deliveries(now + 2_000).await.unwrap(), 1);
        db.close().await;
    }
}

/// `n` claimers claiming 10 jobs at a time until none is left; the ids each one got.
async fn futures_claims(store: Arc<dyn Store>, now: i64, n: usize) -> Vec<Vec<String>> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.claim_deliveries(now, 30_000, 10).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
