//! Shared query helpers: run one statement and decode its rows, on the reader pool or inside a
//! write transaction. The SQL stays at the call site; these helpers only remove the
//! fetch / map-error / decode / collect boilerplate around it.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Executor};
use tessera_identity::ports::StoreResult;
use tessera_identity::StoreError;

use crate::error::backend;

/// A statement with its arguments bound. `Statement<'static>` (SQL text `'static`, every
/// argument owned) can be handed to the writer, which may run it on another task.
pub(crate) type Statement<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Runs `query` and decodes the row it returns, if any.
pub(crate) async fn fetch_optional<'q, 'c, E, T>(
    executor: E,
    query: Statement<'q>,
    decode: impl Fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Option<T>>
where
    E: Executor<'c, Database = Any>,
{
    query
        .fetch_optional(executor)
        .await
        .map_err(backend)?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Runs `query` and decodes every row it returns, in order.
pub(crate) async fn fetch_all<'q, 'c, E, T>(
    executor: E,
    query: Statement<'q>,
    decode: impl Fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>>
where
    E: Executor<'c, Database = Any>,
{
    query
        .fetch_all(executor)
        .await
        .map_err(backend)?
        .iter()
        .map(decode)
        .collect()
}

/// Runs `statement` and returns how many rows it changed; a failure goes through `on_error`
/// ([`backend`], or [`write_error`](crate::error::write_error) where a constraint can say
/// `Conflict` or `NotFound`).
pub(crate) async fn execute<'q, 'c, E>(
    executor: E,
    statement: Statement<'q>,
    on_error: impl FnOnce(sqlx::Error) -> StoreError,
) -> StoreResult<u64>
where
    E: Executor<'c, Database = Any>,
{
    Ok(statement
        .execute(executor)
        .await
        .map_err(on_error)?
        .rows_affected())
}
