//! Test databases: a temporary SQLite file for every test, plus a fresh PostgreSQL database
//! (created on the server named by `TESSERA_TEST_POSTGRES_URL`, dropped afterwards) when that
//! variable is set. PostgreSQL databases are cloned from a migrated template
//! (`tessera_store::scratch`), except for the schema tests, which want empty ones.

use std::sync::{Arc, Once};

use sqlx::{AnyConnection, Connection, Executor};
use tempfile::TempDir;
use tessera_identity::{Clock, Store, TestClock};
use tessera_store::scratch::ScratchPostgres;
use tessera_store::{Database, DatabaseTarget};

pub const POSTGRES_ENV: &str = "TESSERA_TEST_POSTGRES_URL";

/// Where every test clock starts (2023-11-14, in milliseconds).
pub const T0_MS: i64 = 1_700_000_000_000;

/// One scratch database and the clock its writers use.
pub struct TestDb {
    pub target: DatabaseTarget,
    pub clock: TestClock,
    _dir: Option<TempDir>,
    /// Held for its `Drop`, which drops the PostgreSQL database.
    _postgres: Option<ScratchPostgres>,
}

/// The databases every test case runs against: SQLite always, PostgreSQL when configured
/// (already migrated; `open` finds it current).
pub async fn test_databases() -> Vec<TestDb> {
    databases(true).await
}

/// Like [`test_databases`], but the PostgreSQL database is empty (no schema yet).
pub async fn empty_test_databases() -> Vec<TestDb> {
    databases(false).await
}

async fn databases(migrated: bool) -> Vec<TestDb> {
    let mut databases = vec![TestDb::sqlite()];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => {
            databases.push(TestDb::postgres(url.trim(), migrated).await)
        }
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                eprintln!("{POSTGRES_ENV} is not set: PostgreSQL store tests are skipped");
            });
        }
    }
    databases
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            target: DatabaseTarget::Sqlite(dir.path().join("tessera.db")),
            clock: TestClock::new(T0_MS),
            _dir: Some(dir),
            _postgres: None,
        }
    }

    async fn postgres(admin_url: &str, migrated: bool) -> Self {
        let scratch = ScratchPostgres::create(admin_url, migrated).await.unwrap();
        Self {
            target: DatabaseTarget::Postgres(scratch.url.clone()),
            clock: TestClock::new(T0_MS),
            _dir: None,
            _postgres: Some(scratch),
        }
    }

    pub fn backend(&self) -> &'static str {
        self.target.backend()
    }

    /// The test clock's current time in milliseconds.
    pub fn clock_now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Opens a handle without migrating.
    pub async fn open_unmigrated(&self) -> Database {
        tessera_store::open(&self.target, Arc::new(self.clock.clone()))
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.backend()))
    }

    /// Opens a handle and applies the migrations.
    pub async fn open(&self) -> Database {
        let db = self.open_unmigrated().await;
        db.migrate().await.unwrap();
        db
    }

    /// Opens a migrated handle and returns its store too.
    pub async fn open_store(&self) -> (Database, Arc<dyn Store>) {
        let db = self.open().await;
        let store = db.store();
        (db, store)
    }

    /// A plain connection to the database, for poking at it behind the store's back.
    pub async fn raw(&self) -> AnyConnection {
        match &self.target {
            DatabaseTarget::Sqlite(path) => {
                raw_connect(&format!("sqlite://{}?mode=rw", path.display())).await
            }
            DatabaseTarget::Postgres(url) => raw_connect(url).await,
        }
    }

    /// Runs one statement behind the store's back.
    pub async fn raw_execute(&self, sql: &str) -> u64 {
        let mut conn = self.raw().await;
        let affected = conn.execute(sql).await.unwrap().rows_affected();
        conn.close().await.unwrap();
        affected
    }
}

async fn raw_connect(url: &str) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url).await.unwrap()
}
