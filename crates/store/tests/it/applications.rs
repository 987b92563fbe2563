//! Applications: create, read, update, delete, and their errors.

use tessera_identity::{Application, StoreError};

use crate::fixtures::application;
use crate::harness::test_databases;

#[tokio::test]
async fn application_crud() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let first = application("app-1", 100);
        let second = Application {
            description: None,
            ..application("app-2", 200)
        };
        store.create_application(&first).await.unwrap();
        store.create_application(&second).await.unwrap();

        assert_eq!(
            store.get_application("app-1").await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            store.get_application("app-2").await.unwrap(),
            Some(second.clone())
        );
        assert_eq!(store.get_application("missing").await.unwrap(), None);
        assert_eq!(
            store.list_applications().await.unwrap(),
            vec![first.clone(), second.clone()]
        );

        let updated = Application {
            name: "renamed".to_string(),
            description: None,
            updated_at: 300,
            // Neither of these may change through an update.
            created_at: 999,
            management: true,
            ..first.clone()
        };
        store.update_application(&updated).await.unwrap();
        let stored = store.get_application("app-1").await.unwrap().unwrap();
        assert_eq!(stored.name, "renamed");
        assert_eq!(stored.description, None);
        assert_eq!(stored.updated_at, 300);
        assert_eq!(stored.created_at, 100);
        assert!(!stored.management);

        store.delete_application("app-2").await.unwrap();
        assert_eq!(store.get_application("app-2").await.unwrap(), None);
        assert_eq!(store.list_applications().await.unwrap().len(), 1);
        db.close().await;
    }
}

#[tokio::test]
async fn application_conflicts_and_missing_rows() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let app = application("app-1", 100);
        store.create_application(&app).await.unwrap();

        let duplicate = Application {
            name: "other".to_string(),
            ..app.clone()
        };
        assert!(matches!(
            store.create_application(&duplicate).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.get_application("app-1").await.unwrap(), Some(app));

        let ghost = application("ghost", 100);
        assert!(matches!(
            store.update_application(&ghost).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_application("ghost").await,
            Err(StoreError::NotFound)
        ));
        db.close().await;
    }
}

#[tokio::test]
async fn only_one_management_application_may_exist() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let first = Application {
            management: true,
            ..application("mgmt-1", 100)
        };
        let second = Application {
            management: true,
            ..application("mgmt-2", 100)
        };
        store.create_application(&first).await.unwrap();
        assert!(matches!(
            store.create_application(&second).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.management_application().await.unwrap(), Some(first));
        db.close().await;
    }
}
