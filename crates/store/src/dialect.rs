//! The few places where SQLite and PostgreSQL differ: connection setup, migrations, how a
//! write transaction begins, and catalog queries. Everything else — every query of the
//! [`Store`](tessera_identity::Store) implementation — is one SQL text for both, run through
//! sqlx's `Any` driver (SQLite accepts `$1` placeholders).

use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Executor};
use tessera_identity::StoreError;

use crate::error::backend;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a SQLite connection waits for another writer's lock before failing.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;
/// SQLite readers: WAL lets them read while the writer writes.
const SQLITE_READERS: u32 = 4;
/// PostgreSQL connections per node (reads and writes share them).
const POSTGRES_CONNECTIONS: u32 = 10;
/// How long a request waits for a pooled connection (a free one, or a new one being opened)
/// unless configured otherwise (`database.acquire_timeout_ms`). While PostgreSQL is down,
/// every request that needs it waits this long before its 503, so it is kept under the 5 to
/// 10 s timeouts that clients, proxies and health checks commonly use: they then get the
/// 503 rather than a timeout of their own. It is long enough that a burst which keeps all
/// pooled connections busy for a moment waits instead of failing (a query takes
/// milliseconds, and opening a connection on a network link well under a second).
pub(crate) const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which SQL dialect a database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// What a pooled connection is for; SQLite readers are opened `query_only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Reader,
    Writer,
}

impl Dialect {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The migrations embedded in this binary for the dialect.
    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write lock up front
    /// (`IMMEDIATE`) so a transaction that reads before it writes cannot fail with
    /// `SQLITE_BUSY_SNAPSHOT` when another process wrote in between; the busy timeout applies
    /// instead.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// Applies the pending migrations of this dialect.
    pub(crate) async fn migrate(self, pool: &AnyPool) -> Result<(), StoreError> {
        let failed =
            |e: sqlx::migrate::MigrateError| StoreError::Backend(format!("migration failed: {e}"));
        match self {
            Self::Sqlite => {
                // sqlx takes no lock on SQLite, so two processes could both see a migration
                // as pending and the second would fail half-way. Holding the write lock for
                // the whole run serialises them; each migration becomes a savepoint.
                let mut tx = pool.begin_with(self.begin_write()).await.map_err(backend)?;
                self.migrator().run(&mut *tx).await.map_err(failed)?;
                tx.commit().await.map_err(backend)
            }
            Self::Postgres => self.migrator().run(pool).await.map_err(failed),
        }
    }

    /// Counts tables named `_sqlx_migrations` visible to the connection (0 or 1).
    pub(crate) fn migrations_table_count(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master \
                 WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Self::Postgres => {
                "SELECT COUNT(*) AS n FROM pg_catalog.pg_tables \
                 WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'"
            }
        }
    }

    /// The settings worth reporting for a connection, each as `(name, query)`; the query
    /// returns one text column.
    pub(crate) fn setting_queries(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Sqlite => &[
                (
                    "journal_mode",
                    "SELECT CAST(journal_mode AS TEXT) AS v FROM pragma_journal_mode",
                ),
                (
                    "synchronous",
                    "SELECT CAST(synchronous AS TEXT) AS v FROM pragma_synchronous",
                ),
                (
                    "foreign_keys",
                    "SELECT CAST(foreign_keys AS TEXT) AS v FROM pragma_foreign_keys",
                ),
                (
                    "busy_timeout",
                    "SELECT CAST(timeout AS TEXT) AS v FROM pragma_busy_timeout",
                ),
                (
                    "query_only",
                    "SELECT CAST(query_only AS TEXT) AS v FROM pragma_query_only",
                ),
            ],
            Self::Postgres => &[
                (
                    "synchronous_commit",
                    "SELECT current_setting('synchronous_commit') AS v",
                ),
                (
                    "server_version_num",
                    "SELECT current_setting('server_version_num') AS v",
                ),
            ],
        }
    }

    /// Opens a pool for `role`. SQLite: one writer connection (all writes are serialised
    /// through it, which is where group commit will batch them) and a few `query_only`
    /// readers. PostgreSQL: callers use one pool for both roles.
    pub(crate) async fn connect(
        self,
        url: &str,
        role: Role,
        acquire_timeout: Duration,
    ) -> Result<AnyPool, StoreError> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = url.parse().map_err(backend)?;
        let max_connections = match (self, role) {
            (Self::Sqlite, Role::Writer) => 1,
            (Self::Sqlite, Role::Reader) => SQLITE_READERS,
            (Self::Postgres, _) => POSTGRES_CONNECTIONS,
        };
        AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move { self.prepare_connection(conn, role).await })
            })
            .connect_with(options)
            .await
            .map_err(backend)
    }

    /// Session settings every new connection gets before first use.
    async fn prepare_connection(
        self,
        conn: &mut AnyConnection,
        role: Role,
    ) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite => {
                // The busy timeout first, so switching to WAL waits for a concurrent opener.
                conn.execute(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str())
                    .await?;
                // WAL: readers never block on the writer. FULL: a commit is fsynced before it
                // returns, so an acknowledged write survives power loss.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                if role == Role::Reader {
                    conn.execute("PRAGMA query_only = ON").await?;
                }
            }
            Self::Postgres => {
                // The server default, enforced per session: a commit is durable on return.
                conn.execute("SET synchronous_commit = on").await?;
            }
        }
        Ok(())
    }
}
