//! [`Database`]: an open database — its pools, its migrations and the [`Store`] over it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::MigrationType;
use sqlx::AnyPool;
use tessera_identity::ports::StoreResult;
use tessera_identity::{Clock, Store, StoreError};

use crate::dialect::{Dialect, Role, DEFAULT_ACQUIRE_TIMEOUT};
use crate::error::backend;
use crate::sql_store::SqlStore;
use crate::target::{sqlite_url, DatabaseTarget};
use crate::writer::Writer;

/// How the migrations applied to a database compare with the ones this binary embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Every embedded migration is applied, and nothing else.
    Current,
    /// Some embedded migrations are not applied yet; `migrate()` applies them.
    /// `applied` is the highest applied version, `known` the highest embedded one.
    Behind { applied: i64, known: i64 },
    /// The database has a migration this binary does not know: it was written by a newer
    /// version. Refuse to start.
    Ahead { applied: i64, known: i64 },
    /// No migration has been applied (a new database).
    Empty,
}

/// Which pool a [`ConnectionSettings`] report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRole {
    Reader,
    Writer,
}

/// Session settings of one pooled connection, as the database reports them (SQLite:
/// `journal_mode`, `synchronous`, `foreign_keys`, `busy_timeout`, `query_only`; PostgreSQL:
/// `synchronous_commit`, `server_version_num`). For start-up logs and tests of durability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub role: PoolRole,
    pub values: BTreeMap<String, String>,
}

/// An open database. Cheap to share behind an `Arc`; [`Database::store`] hands out the
/// [`Store`] the identity layer uses.
pub struct Database {
    dialect: Dialect,
    /// SQLite: the single writer connection. PostgreSQL: the one pool.
    writer_pool: AnyPool,
    /// SQLite: `query_only` readers. PostgreSQL: the same pool as `writer_pool`.
    reader_pool: AnyPool,
    store: Arc<SqlStore>,
}

/// How the database's connections behave; `Default` is what Tessera uses unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// How long an operation waits for a pooled connection before failing with
    /// `Unavailable` (503): the time to the first answer while PostgreSQL is down. Default
    /// 3 s (the reasons are in `dialect.rs`).
    pub acquire_timeout: Duration,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// Opens (on SQLite: creates if missing) the database with the default options. Does not
/// migrate: call [`Database::schema_status`] and [`Database::migrate`] as the start-up policy
/// requires (SQLite: always migrate; PostgreSQL: only with `--migrate`).
pub async fn open(target: &DatabaseTarget, clock: Arc<dyn Clock>) -> StoreResult<Database> {
    Database::open(target, clock, DatabaseOptions::default()).await
}

impl Database {
    /// See [`open`]. `clock` stamps the change rows (`at_ms`) this node writes.
    pub async fn open(
        target: &DatabaseTarget,
        clock: Arc<dyn Clock>,
        options: DatabaseOptions,
    ) -> StoreResult<Self> {
        let acquire_timeout = options.acquire_timeout;
        let (dialect, writer_pool, reader_pool) = match target {
            DatabaseTarget::Sqlite(path) => {
                let url = sqlite_url(path)?;
                // The writer first: it creates the file and switches it to WAL before any
                // reader (which is `query_only`) connects.
                let writer = Dialect::Sqlite
                    .connect(&url, Role::Writer, acquire_timeout)
                    .await?;
                let reader = match Dialect::Sqlite
                    .connect(&url, Role::Reader, acquire_timeout)
                    .await
                {
                    Ok(reader) => reader,
                    Err(e) => {
                        writer.close().await;
                        return Err(e);
                    }
                };
                (Dialect::Sqlite, writer, reader)
            }
            DatabaseTarget::Postgres(url) => {
                let pool = Dialect::Postgres
                    .connect(url, Role::Writer, acquire_timeout)
                    .await?;
                (Dialect::Postgres, pool.clone(), pool)
            }
        };
        let writer = Writer::new(writer_pool.clone(), dialect, clock);
        let store = Arc::new(SqlStore::new(dialect.name(), reader_pool.clone(), writer));
        Ok(Self {
            dialect,
            writer_pool,
            reader_pool,
            store,
        })
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.dialect.name()
    }

    /// The [`Store`] over this database.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Applies the pending embedded migrations. Processes migrating one database at once
    /// apply each migration once: PostgreSQL under sqlx's advisory lock (each migration in
    /// its own transaction), SQLite in one transaction holding the write lock. Fails if the database is [`SchemaStatus::Ahead`] or an applied migration differs
    /// from the embedded one.
    pub async fn migrate(&self) -> StoreResult<()> {
        if let SchemaStatus::Ahead { applied, known } = self.schema_status().await? {
            return Err(StoreError::Backend(format!(
                "schema version {applied} is newer than this binary knows ({known})"
            )));
        }
        self.dialect.migrate(&self.writer_pool).await
    }

    /// Compares the applied migrations with the embedded ones, without changing anything.
    pub async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        let known: BTreeSet<i64> = self
            .dialect
            .migrator()
            .iter()
            .filter(|m| !matches!(m.migration_type, MigrationType::ReversibleDown))
            .map(|m| m.version)
            .collect();
        let tables: i64 = sqlx::query_scalar(self.dialect.migrations_table_count())
            .fetch_one(&self.reader_pool)
            .await
            .map_err(backend)?;
        let applied: BTreeSet<i64> = if tables == 0 {
            BTreeSet::new()
        } else {
            // A failed (dirty) migration does not count as applied; `migrate` reports it.
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.reader_pool)
                .await
                .map_err(backend)?
                .into_iter()
                .collect()
        };
        Ok(compare_versions(&applied, &known))
    }

    /// The durability-relevant settings of one connection of each pool.
    pub async fn connection_settings(&self) -> StoreResult<Vec<ConnectionSettings>> {
        let mut pools = vec![(PoolRole::Writer, &self.writer_pool)];
        if self.dialect == Dialect::Sqlite {
            pools.push((PoolRole::Reader, &self.reader_pool));
        }
        let mut reports = Vec::with_capacity(pools.len());
        for (role, pool) in pools {
            let mut conn = pool.acquire().await.map_err(backend)?;
            let mut values = BTreeMap::new();
            for (name, query) in self.dialect.setting_queries() {
                let value: String = sqlx::query_scalar(query)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(backend)?;
                values.insert((*name).to_string(), value);
            }
            reports.push(ConnectionSettings { role, values });
        }
        Ok(reports)
    }

    /// Closes every connection, waiting for the ones in use to be returned. On SQLite the
    /// last connection to close checkpoints the WAL into the database file.
    pub async fn close(&self) {
        self.reader_pool.close().await;
        self.writer_pool.close().await;
    }
}

fn compare_versions(applied: &BTreeSet<i64>, known: &BTreeSet<i64>) -> SchemaStatus {
    let highest_applied = applied.last().copied().unwrap_or(0);
    let highest_known = known.last().copied().unwrap_or(0);
    if applied.is_empty() {
        SchemaStatus::Empty
    } else if !applied.is_subset(known) {
        SchemaStatus::Ahead {
            applied: highest_applied,
            known: highest_known,
        }
    } else if applied.len() < known.len() {
        SchemaStatus::Behind {
            applied: highest_applied,
            known: highest_known,
        }
    } else {
        SchemaStatus::Current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[i64]) -> BTreeSet<i64> {
        v.iter().copied().collect()
    }

    #[test]
    fn compares_applied_with_known_versions() {
        let known = set(&[1, 2, 3]);
        assert_eq!(compare_versions(&set(&[]), &known), SchemaStatus::Empty);
        assert_eq!(
            compare_versions(&set(&[1]), &known),
            SchemaStatus::Behind {
                applied: 1,
                known: 3
            }
        );
        assert_eq!(
            compare_versions(&set(&[1, 2, 3]), &known),
            SchemaStatus::Current
        );
        assert_eq!(
            compare_versions(&set(&[1, 2, 3, 4]), &known),
            SchemaStatus::Ahead {
                applied: 4,
                known: 3
            }
        );
        // An unknown version below the highest known one is still a newer binary's work.
        assert_eq!(
            compare_versions(&set(&[1, 2]), &set(&[1, 3])),
            SchemaStatus::Ahead {
                applied: 2,
                known: 3
            }
        );
    }
}
