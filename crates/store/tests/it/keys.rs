//! Signing keys: rotation (insert new, retire old, atomically) and deletion of retired keys.

use tessera_identity::StoreError;
use tessera_jose::Algorithm;

use crate::fixtures::signing_key;
use crate::harness::test_databases;

fn kids(keys: &[tessera_identity::StoredSigningKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

#[tokio::test]
async fn key_rotation_and_deleting_retired_keys() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let k1 = signing_key("k1", Algorithm::ES256, 100);
        let k2 = signing_key("k2", Algorithm::RS256, 100);
        store
            .rotate_signing_keys(&[k1.clone(), k2.clone()], &[])
            .await
            .unwrap();
        assert_eq!(
            store.list_signing_keys().await.unwrap(),
            vec![k1.clone(), k2.clone()]
        );

        let k3 = signing_key("k3", Algorithm::ES256, 200);
        store
            .rotate_signing_keys(std::slice::from_ref(&k3), &[("k1".to_string(), 500)])
            .await
            .unwrap();
        let keys = store.list_signing_keys().await.unwrap();
        assert_eq!(kids(&keys), ["k1", "k2", "k3"]);
        assert_eq!(keys[0].retire_at, Some(500));
        assert_eq!(keys[1].retire_at, None);
        assert_eq!(keys[2], k3);

        // Not yet past its retirement: kept.
        assert_eq!(store.delete_retired_signing_keys(500).await.unwrap(), 0);
        assert_eq!(store.list_signing_keys().await.unwrap().len(), 3);
        assert_eq!(store.delete_retired_signing_keys(501).await.unwrap(), 1);
        assert_eq!(
            kids(&store.list_signing_keys().await.unwrap()),
            ["k2", "k3"]
        );
        db.close().await;
    }
}

#[tokio::test]
async fn a_failed_rotation_changes_nothing() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let k1 = signing_key("k1", Algorithm::ES256, 100);
        store
            .rotate_signing_keys(std::slice::from_ref(&k1), &[])
            .await
            .unwrap();

        // Retiring an unknown key: the new key of the same call is not kept either.
        let k2 = signing_key("k2", Algorithm::ES256, 200);
        assert!(matches!(
            store
                .rotate_signing_keys(std::slice::from_ref(&k2), &[("ghost".to_string(), 1)])
                .await,
            Err(StoreError::NotFound)
        ));
        // A duplicate kid.
        assert!(matches!(
            store.rotate_signing_keys(&[k2, k1.clone()], &[]).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.list_signing_keys().await.unwrap(), vec![k1]);
        db.close().await;
    }
}

#[tokio::test]
async fn a_corrupt_public_jwk_is_reported_as_corrupt() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .rotate_signing_keys(&[signing_key("k1", Algorithm::ES256, 100)], &[])
            .await
            .unwrap();
        assert_eq!(
            tdb.raw_execute("UPDATE signing_keys SET public_jwk = '[1'")
                .await,
            1
        );
        assert!(matches!(
            store.list_signing_keys().await,
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            tdb.raw_execute(
                "UPDATE signing_keys SET public_jwk = '{\"kty\":\"EC\"}', alg = 'none'"
            )
            .await,
            1
        );
        assert!(matches!(
            store.list_signing_keys().await,
            Err(StoreError::Corrupt(_))
        ));
        db.close().await;
    }
}
