//! Bootstrap: once per database, even when two nodes race on an empty one.

use tessera_identity::BootstrapOutcome;

use crate::fixtures::plan;
use crate::harness::test_databases;

#[tokio::test]
async fn bootstrap_creates_the_tenant_once() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert_eq!(store.management_application().await.unwrap(), None);

        let first = plan("a");
        assert_eq!(
            store.bootstrap(&first).await.unwrap(),
            BootstrapOutcome::Created,
            "{}",
            tdb.backend()
        );
        let management = store.management_application().await.unwrap().unwrap();
        assert_eq!(management, first.management_app);
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 3);
        assert_eq!(
            store.get_client("admin-a").await.unwrap(),
            Some(first.admin_client.clone())
        );

        // A second bootstrap, even with another plan, writes nothing.
        assert_eq!(
            store.bootstrap(&plan("b")).await.unwrap(),
            BootstrapOutcome::AlreadyBootstrapped
        );
        assert_eq!(store.list_applications().await.unwrap(), vec![management]);
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 3);
        assert_eq!(store.get_client("admin-b").await.unwrap(), None);
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bootstrap_from_two_handles_creates_one_tenant() {
    for tdb in test_databases().await {
        let node_a = tdb.open().await;
        let node_b = tdb.open().await;
        let (store_a, store_b) = (node_a.store(), node_b.store());
        let (plan_a, plan_b) = (plan("a"), plan("b"));

        let (outcome_a, outcome_b) =
            tokio::join!(store_a.bootstrap(&plan_a), store_b.bootstrap(&plan_b));
        let outcomes = [outcome_a.unwrap(), outcome_b.unwrap()];
        let created = outcomes
            .iter()
            .filter(|o| **o == BootstrapOutcome::Created)
            .count();
        assert_eq!(created, 1, "{}: {outcomes:?}", tdb.backend());

        let winner = if outcomes[0] == BootstrapOutcome::Created {
            &plan_a
        } else {
            &plan_b
        };
        let apps = store_a.list_applications().await.unwrap();
        assert_eq!(apps, vec![winner.management_app.clone()]);
        let kids: Vec<String> = store_b
            .list_signing_keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        let mut expected: Vec<String> = winner.signing_keys.iter().map(|k| k.kid.clone()).collect();
        let mut sorted = kids.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected);
        node_a.close().await;
        node_b.close().await;
    }
}
