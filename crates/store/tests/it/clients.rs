//! Clients: CRUD, the foreign key to their application, cascade delete, corrupt settings.

use tessera_identity::{ChangeKind, Client, Permission, StoreError};

use crate::fixtures::{application, client};
use crate::harness::test_databases;

#[tokio::test]
async fn client_crud() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .create_application(&application("app", 1))
            .await
            .unwrap();
        store
            .create_application(&application("other", 1))
            .await
            .unwrap();
        let first = client("c-1", "app", 10);
        let second = client("c-2", "app", 20);
        store.create_client(&first).await.unwrap();
        store.create_client(&second).await.unwrap();
        store
            .create_client(&client("c-3", "other", 5))
            .await
            .unwrap();

        assert_eq!(store.get_client("c-1").await.unwrap(), Some(first.clone()));
        assert_eq!(store.get_client("nope").await.unwrap(), None);
        assert_eq!(
            store.list_clients("app").await.unwrap(),
            vec![first.clone(), second.clone()]
        );
        assert_eq!(
            store.list_clients("nobody").await.unwrap(),
            Vec::<Client>::new()
        );

        let mut updated = first.clone();
        updated.secret_hash = vec![9; 32];
        updated.previous_secret_hash = Some(vec![1, 2, 3, 0, 255]);
        updated.previous_secret_expires_at = Some(5_000);
        updated.settings.name = "renamed".to_string();
        updated.settings.permissions = vec![Permission::AuthDirect];
        updated.settings.ciba_authorization.enabled = true;
        updated.updated_at = 30;
        store.update_client(&updated).await.unwrap();
        assert_eq!(store.get_client("c-1").await.unwrap(), Some(updated));

        store.delete_client("c-2").await.unwrap();
        assert_eq!(store.get_client("c-2").await.unwrap(), None);
        assert_eq!(store.list_clients("app").await.unwrap().len(), 1);
        db.close().await;
    }
}

#[tokio::test]
async fn client_conflicts_and_missing_rows() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .create_application(&application("app", 1))
            .await
            .unwrap();
        let original = client("c-1", "app", 10);
        store.create_client(&original).await.unwrap();

        let mut duplicate = client("c-1", "app", 10);
        duplicate.settings.name = "other".to_string();
        assert!(matches!(
            store.create_client(&duplicate).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.get_client("c-1").await.unwrap(), Some(original));

        // A client of an application that does not exist.
        assert!(matches!(
            store.create_client(&client("c-2", "ghost-app", 10)).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.get_client("c-2").await.unwrap(), None);

        assert!(matches!(
            store.update_client(&client("ghost", "app", 10)).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_client("ghost").await,
            Err(StoreError::NotFound)
        ));
        db.close().await;
    }
}

#[tokio::test]
async fn deleting_an_application_deletes_its_clients() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .create_application(&application("app", 1))
            .await
            .unwrap();
        store
            .create_application(&application("keep", 1))
            .await
            .unwrap();
        store.create_client(&client("c-1", "app", 1)).await.unwrap();
        store.create_client(&client("c-2", "app", 2)).await.unwrap();
        store
            .create_client(&client("k-1", "keep", 3))
            .await
            .unwrap();
        tdb.clock.advance_s(10);
        let before_delete = tdb.clock_now();

        store.delete_application("app").await.unwrap();
        assert_eq!(store.get_client("c-1").await.unwrap(), None);
        assert_eq!(store.get_client("c-2").await.unwrap(), None);
        assert_eq!(
            store.list_clients("app").await.unwrap(),
            Vec::<Client>::new()
        );
        assert!(store.get_client("k-1").await.unwrap().is_some());

        // The cascade is announced: the application and each of its clients.
        let changes: Vec<(ChangeKind, String)> = store
            .changes_since(before_delete)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.kind, c.key))
            .collect();
        assert_eq!(
            changes,
            vec![
                (ChangeKind::Application, "app".to_string()),
                (ChangeKind::Client, "c-1".to_string()),
                (ChangeKind::Client, "c-2".to_string()),
            ]
        );
        db.close().await;
    }
}

#[tokio::test]
async fn corrupt_settings_are_reported_as_corrupt() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .create_application(&application("app", 1))
            .await
            .unwrap();
        store.create_client(&client("c-1", "app", 1)).await.unwrap();
        let changed = tdb
            .raw_execute("UPDATE clients SET settings = '{\"name\": 42' WHERE client_id = 'c-1'")
            .await;
        assert_eq!(changed, 1);

        assert!(matches!(
            store.get_client("c-1").await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store.list_clients("app").await,
            Err(StoreError::Corrupt(_))
        ));
        db.close().await;
    }
}

/// An application and its default client are created together: both, or neither.
#[tokio::test]
async fn an_application_and_its_default_client_are_one_write() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let app = tessera_identity::Application {
            default_client_id: Some("c-1".into()),
            ..application("app", 1)
        };
        store
            .create_application_with_client(&app, &client("c-1", "app", 1))
            .await
            .unwrap();
        assert_eq!(store.get_application("app").await.unwrap(), Some(app));
        assert_eq!(store.list_clients("app").await.unwrap().len(), 1);

        // The client id is taken: the application is not created either.
        assert!(matches!(
            store
                .create_application_with_client(
                    &application("second", 2),
                    &client("c-1", "second", 2)
                )
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.get_application("second").await.unwrap(), None);
        assert_eq!(
            store.list_clients("second").await.unwrap(),
            Vec::<Client>::new()
        );
        db.close().await;
    }
}
