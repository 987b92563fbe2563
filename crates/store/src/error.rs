//! Turning sqlx errors into [`StoreError`]s. Database texts only ever reach
//! `StoreError::Backend` (for logs); conflict messages are written here, in our words, because
//! the API may show them to callers.

use sqlx::error::ErrorKind;
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
/// timed out or closed) are `Unavailable`: the API answers 503 and the caller may retry.
pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
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
