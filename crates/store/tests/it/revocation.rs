//! Revoked access-token ids.

use tessera_identity::ChangeKind;

use crate::harness::test_databases;

#[tokio::test]
async fn revoke_jti_is_idempotent_and_listing_excludes_expired() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.revoke_jti("a", 100).await.unwrap();
        store.revoke_jti("a", 100).await.unwrap();
        store.revoke_jti("b", 50).await.unwrap();

        assert!(store.is_jti_revoked("a").await.unwrap());
        assert!(store.is_jti_revoked("b").await.unwrap());
        assert!(!store.is_jti_revoked("c").await.unwrap());

        assert_eq!(store.list_revoked_jtis(40).await.unwrap(), ["a", "b"]);
        // `b` expires at 50: from then on its token is invalid anyway.
        assert_eq!(store.list_revoked_jtis(50).await.unwrap(), ["a"]);
        assert_eq!(
            store.list_revoked_jtis(100).await.unwrap(),
            Vec::<String>::new()
        );

        // The repeated revocation is not announced twice.
        let revocations: Vec<String> = store
            .changes_since(0)
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.kind == ChangeKind::RevokedToken)
            .map(|c| c.key)
            .collect();
        assert_eq!(revocations, ["a", "b"]);
        db.close().await;
    }
}
