//! Migrations and schema status; connection settings that make commits durable.

use tessera_store::{PoolRole, SchemaStatus};

use crate::fixtures::application;
use crate::harness::empty_test_databases as test_databases;

/// A migration version no binary will embed for a long time.
const FUTURE_VERSION: i64 = 99_990_101_000_000;

#[tokio::test]
async fn a_new_database_is_empty_until_migrated() {
    for tdb in test_databases().await {
        let db = tdb.open_unmigrated().await;
        assert_eq!(db.schema_status().await.unwrap(), SchemaStatus::Empty);
        db.migrate().await.unwrap();
        assert_eq!(db.schema_status().await.unwrap(), SchemaStatus::Current);
        db.close().await;
    }
}

#[tokio::test]
async fn migrations_are_idempotent_on_reopen() {
    for tdb in test_databases().await {
        let db = tdb.open().await;
        db.store()
            .create_application(&application("app", 1))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db.close().await;

        let reopened = tdb.open().await;
        reopened.migrate().await.unwrap();
        assert_eq!(
            reopened.schema_status().await.unwrap(),
            SchemaStatus::Current
        );
        assert!(reopened
            .store()
            .get_application("app")
            .await
            .unwrap()
            .is_some());
        reopened.close().await;
    }
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_detected() {
    for tdb in test_databases().await {
        let db = tdb.open().await;
        let checksum = match tdb.backend() {
            "sqlite" => "x'00'",
            _ => "'\\x00'::bytea",
        };
        let inserted = tdb
            .raw_execute(&format!(
                "INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES ({FUTURE_VERSION}, 'from the future', TRUE, {checksum}, 1)"
            ))
            .await;
        assert_eq!(inserted, 1);

        let status = db.schema_status().await.unwrap();
        match status {
            SchemaStatus::Ahead { applied, known } => {
                assert_eq!(applied, FUTURE_VERSION);
                assert!((1..FUTURE_VERSION).contains(&known));
            }
            other => panic!("{}: expected Ahead, got {other:?}", tdb.backend()),
        }
        assert!(db.migrate().await.is_err());
        db.close().await;
    }
}

#[tokio::test]
async fn connections_are_configured_for_durability() {
    for tdb in test_databases().await {
        let db = tdb.open().await;
        let reports = db.connection_settings().await.unwrap();
        match tdb.backend() {
            "sqlite" => {
                assert_eq!(reports.len(), 2);
                for report in &reports {
                    let value = |name: &str| report.values.get(name).map(String::as_str);
                    assert_eq!(value("journal_mode"), Some("wal"), "{report:?}");
                    // 2 = FULL: every commit is fsynced.
                    assert_eq!(value("synchronous"), Some("2"), "{report:?}");
                    assert_eq!(value("foreign_keys"), Some("1"), "{report:?}");
                    assert_eq!(value("busy_timeout"), Some("5000"), "{report:?}");
                    let query_only = if report.role == PoolRole::Reader {
                        "1"
                    } else {
                        "0"
                    };
                    assert_eq!(value("query_only"), Some(query_only), "{report:?}");
                }
            }
            _ => {
                assert_eq!(reports.len(), 1);
                assert_eq!(
                    reports[0]
                        .values
                        .get("synchronous_commit")
                        .map(String::as_str),
                    Some("on")
                );
                let version: i64 = reports[0].values["server_version_num"].parse().unwrap();
                assert!(version >= 140_000, "PostgreSQL {version} is older than 14");
            }
        }
        db.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_migrating_at_once_both_succeed() {
    for tdb in test_databases().await {
        let node_a = tdb.open_unmigrated().await;
        let node_b = tdb.open_unmigrated().await;
        let (a, b) = tokio::join!(node_a.migrate(), node_b.migrate());
        a.unwrap_or_else(|e| panic!("{}: node a: {e}", tdb.backend()));
        b.unwrap_or_else(|e| panic!("{}: node b: {e}", tdb.backend()));
        assert_eq!(node_a.schema_status().await.unwrap(), SchemaStatus::Current);
        assert_eq!(node_b.schema_status().await.unwrap(), SchemaStatus::Current);
        node_a.close().await;
        node_b.close().await;
    }
}

#[tokio::test]
async fn the_journeys_migration_is_a_known_version() {
    for tdb in test_databases().await {
        let db = tdb.open().await;
        let store = db.store();
        // Its tables exist after `migrate`.
        store.put_journey("j", "yaml", "v1", 1).await.unwrap();

        // Forget that 0002 ran: the binary still knows it, so the database is behind.
        let forgotten = tdb
            .raw_execute("DELETE FROM _sqlx_migrations WHERE version = 2")
            .await;
        assert_eq!(forgotten, 1, "{}", tdb.backend());
        assert!(matches!(
            db.schema_status().await.unwrap(),
            SchemaStatus::Behind { known, .. } if known >= 3
        ));
        db.close().await;
    }
}

#[tokio::test]
async fn the_users_migration_is_a_known_version() {
    for tdb in test_databases().await {
        let db = tdb.open().await;
        // Its table exists after `migrate`.
        assert_eq!(db.store().get_user("u").await.unwrap(), None);
        let forgotten = tdb
            .raw_execute("DELETE FROM _sqlx_migrations WHERE version = 3")
            .await;
        assert_eq!(forgotten, 1, "{}", tdb.backend());
        assert!(matches!(
            db.schema_status().await.unwrap(),
            SchemaStatus::Behind { known, .. } if known >= 3
        ));
        db.close().await;
    }
}
