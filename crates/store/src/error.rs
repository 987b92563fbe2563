//! Turning sqlx errors into [`StoreError`]s. Database texts only ever reach
//! `StoreError::Backend` (for logs); conflict messages are written here, in our words, because
//! the API may show them to callers.

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;
use tessera_identity::StoreError;

/// A constraint the database reported as violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    Unique,
    ForeignKey,
}

/// Which constraint `error` violated, if it is a constraint violation we map specially.
pub(crate) fn violation(error: &sqlx::Error) -> Option<Violation> {
    match error {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => Some(Violation::Unique),
            ErrorKind::ForeignKeyViolation => Some(Violation::ForeignKey),
            _ => None,
        },
        _ => None,
    }
}

/// Any database failure, for logs. Failures to reach the database (I/O, TLS, a pool that
/// timed out or closed) and database errors that say it cannot serve right now (see
/// [`unavailable`]) are `Unavailable`: the API answers 503 and the caller may retry.
pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    if unavailable(&error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Backend(error.to_string())
    }
}

/// Whether `error` means the database cannot serve us for now, so a retry may succeed.
fn unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                postgres_unavailable(pg.code())
            } else if let Some(sqlite) = db.try_downcast_ref::<SqliteError>() {
                sqlite
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(sqlite_unavailable)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of a server that is going away, starting up or out of resources
/// (PostgreSQL's Appendix A): class 08, connection exception (but not 08P01, a protocol
/// violation, which is a bug); class 53, insufficient resources (disk full, out of memory,
/// too many connections); 57P01 `admin_shutdown` (what a statement in flight gets from
/// `pg_ctl stop -m fast`), 57P02 `crash_shutdown`, 57P03 `cannot_connect_now` (starting up or
/// shutting down) and 57P05 `idle_session_timeout`.
fn postgres_unavailable(sqlstate: &str) -> bool {
    (sqlstate.starts_with("08") && sqlstate != "08P01")
        || sqlstate.starts_with("53")
        || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "57P05")
}

/// SQLite result codes (sqlx reports the extended code; its low byte is the primary one) of a
/// database that cannot take writes for now: `SQLITE_FULL` (13, "database or disk is full")
/// and `SQLITE_BUSY` (5, "database is locked": another process held the write lock for the
/// whole busy timeout, e.g. a backup or an operator's `sqlite3` session).
fn sqlite_unavailable(code: i32) -> bool {
    const SQLITE_BUSY: i32 = 5;
    const SQLITE_FULL: i32 = 13;
    matches!(code & 0xff, SQLITE_BUSY | SQLITE_FULL)
}

/// A failed write: unique violations become `Conflict(conflict())`, foreign-key violations
/// `NotFound` (the referenced row is missing), anything else `Backend`.
pub(crate) fn write_error(error: sqlx::Error, conflict: impl FnOnce() -> String) -> StoreError {
    match violation(&error) {
        Some(Violation::Unique) => StoreError::Conflict(conflict()),
        Some(Violation::ForeignKey) => StoreError::NotFound,
        None => backend(error),
    }
}

/// A stored value that does not decode.
pub(crate) fn corrupt(what: impl std::fmt::Display, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use sqlx::{AnyConnection, Connection, Executor};

    use super::*;

    #[test]
    fn postgres_sqlstates_of_an_unavailable_server() {
        let cases = [
            ("57P01", true),  // admin_shutdown: pg_ctl stop -m fast, pg_terminate_backend
            ("57P02", true),  // crash_shutdown
            ("57P03", true),  // cannot_connect_now
            ("57P05", true),  // idle_session_timeout
            ("08006", true),  // connection_failure
            ("08003", true),  // connection_does_not_exist
            ("08000", true),  // connection_exception
            ("53100", true),  // disk_full
            ("53200", true),  // out_of_memory
            ("53300", true),  // too_many_connections
            ("08P01", false), // protocol_violation: a bug, not an outage
            ("57014", false), // query_canceled
            ("57P04", false), // database_dropped
            ("23505", false), // unique_violation
            ("42601", false), // syntax_error
            ("40001", false), // serialization_failure
        ];
        for (sqlstate, expected) in cases {
            assert_eq!(postgres_unavailable(sqlstate), expected, "{sqlstate}");
        }
    }

    #[test]
    fn sqlite_codes_of_a_full_disk() {
        assert!(sqlite_unavailable(13)); // SQLITE_FULL
        assert!(sqlite_unavailable(5)); // SQLITE_BUSY
        assert!(sqlite_unavailable(517)); // SQLITE_BUSY_SNAPSHOT
        assert!(!sqlite_unavailable(1)); // SQLITE_ERROR
        assert!(!sqlite_unavailable(2067)); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_unavailable(10)); // SQLITE_IOERR
    }

    /// A real SQLITE_FULL through the `Any` driver (the store's path): an in-memory database
    /// limited to a few pages fills up like a full disk.
    #[tokio::test]
    async fn sqlite_database_or_disk_is_full_is_unavailable() {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect("sqlite::memory:").await.unwrap();
        conn.execute("CREATE TABLE t (x BLOB)").await.unwrap();
        conn.execute("PRAGMA max_page_count = 4").await.unwrap();
        let error = conn
            .execute("INSERT INTO t VALUES (randomblob(100000))")
            .await
            .unwrap_err();
        match &error {
            sqlx::Error::Database(db) => assert_eq!(db.code().as_deref(), Some("13"), "{db}"),
            other => panic!("expected SQLITE_FULL, got {other:?}"),
        }
        assert!(
            matches!(backend(error), StoreError::Unavailable(_)),
            "SQLITE_FULL must answer 503"
        );
        // Other database errors stay `Backend` (500).
        let error = conn.execute("SELEC 1").await.unwrap_err();
        assert!(matches!(backend(error), StoreError::Backend(_)));
    }

    /// A real 57P01 (what a statement in flight gets when PostgreSQL is stopped with
    /// `pg_ctl stop -m fast`): a session terminating itself. Runs when
    /// `TESSERA_TEST_POSTGRES_URL` is set, like the PostgreSQL suites.
    #[tokio::test]
    async fn postgres_admin_shutdown_is_unavailable() {
        let Ok(url) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
            eprintln!("TESSERA_TEST_POSTGRES_URL not set: PostgreSQL case skipped");
            return;
        };
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let error = conn
            .execute("SELECT pg_terminate_backend(pg_backend_pid())")
            .await
            .unwrap_err();
        match &error {
            sqlx::Error::Database(db) => assert_eq!(db.code().as_deref(), Some("57P01"), "{db}"),
            other => panic!("expected admin_shutdown, got {other:?}"),
        }
        assert!(
            matches!(backend(error), StoreError::Unavailable(_)),
            "57P01 must answer 503"
        );
    }
}
