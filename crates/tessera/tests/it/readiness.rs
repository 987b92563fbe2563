//! Readiness follows the node's ability to write: with SQLite, another process holding the
//! write lock past the busy timeout makes writes answer 503 and `/readyz` 503 (fast, with
//! `/healthz` still 200); once the lock is gone, `/readyz` is 200 again without any other
//! write and writes succeed, without a restart.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor};
use tessera::config::Database;

use crate::harness::{backends, code, paths};

#[tokio::test]
async fn readyz_fails_while_sqlite_cannot_commit_and_passes_again_after() {
    let backend = backends().await.into_iter().next().unwrap();
    let Database::Sqlite(path) = &backend.database else {
        panic!("the first backend is SQLite");
    };
    let srv = backend.start().await;
    let admin = srv.admin_token().await;
    let (status, _) = srv
        .post(paths::USERS, &admin, json!({"username": "before"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Another process takes SQLite's write lock (a backup, an operator's sqlite3 session).
    let mut other = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let (status, body) = srv
        .post(paths::USERS, &admin, json!({"username": "locked-out"}))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(code(&body), "service_unavailable", "{body}");

    let asked = Instant::now();
    let r = srv.http.get(srv.url("/readyz")).send().await.unwrap();
    let took = asked.elapsed();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "unavailable"
    );
    // Its own 1 s timeout, not the 5 s busy timeout (with slack for a loaded machine).
    assert!(took < Duration::from_millis(2_500), "/readyz took {took:?}");
    let r = srv.http.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "liveness does not depend on the database"
    );

    // The lock goes away: ready again through the probe write, with no other write.
    other.execute("ROLLBACK").await.unwrap();
    let r = srv.http.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, body) = srv
        .post(paths::USERS, &admin, json!({"username": "after"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    srv.stop().await;
}
