//! SQLite-only behaviour: the file keeps its data across restarts, and readers do not wait
//! for a writer (WAL).

use std::time::Duration;

use sqlx::{Connection, Executor};
use tessera_identity::BootstrapOutcome;

use crate::fixtures::{application, client, plan};
use crate::harness::TestDb;

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let tdb = TestDb::sqlite();
    let (db, store) = tdb.open_store().await;
    store.bootstrap(&plan("p")).await.unwrap();
    store
        .create_application(&application("app", 1))
        .await
        .unwrap();
    store.create_client(&client("c", "app", 1)).await.unwrap();
    store.revoke_jti("j", i64::MAX).await.unwrap();
    drop(store);
    db.close().await;

    let (reopened, store) = tdb.open_store().await;
    assert_eq!(
        store.bootstrap(&plan("q")).await.unwrap(),
        BootstrapOutcome::AlreadyBootstrapped
    );
    assert_eq!(
        store.get_application("app").await.unwrap(),
        Some(application("app", 1))
    );
    assert_eq!(
        store.get_client("c").await.unwrap(),
        Some(client("c", "app", 1))
    );
    assert_eq!(store.list_revoked_jtis(0).await.unwrap(), ["j"]);
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 3);
    reopened.close().await;
}

#[tokio::test]
async fn reads_do_not_wait_for_an_open_write_transaction() {
    let tdb = TestDb::sqlite();
    let (db, store) = tdb.open_store().await;
    store
        .create_application(&application("app", 1))
        .await
        .unwrap();

    // Another process holds the write lock with an uncommitted change.
    let mut other_writer = tdb.raw().await;
    other_writer.execute("BEGIN IMMEDIATE").await.unwrap();
    other_writer
        .execute("UPDATE applications SET name = 'uncommitted' WHERE app_id = 'app'")
        .await
        .unwrap();

    // Well under the 5 s busy timeout a blocked read would wait for.
    let read = tokio::time::timeout(Duration::from_secs(2), store.get_application("app"))
        .await
        .expect("the read waited for the writer")
        .unwrap()
        .unwrap();
    assert_eq!(read.name, "app name");

    other_writer.execute("ROLLBACK").await.unwrap();
    other_writer.close().await.unwrap();
    db.close().await;
}
