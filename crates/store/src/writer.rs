//! The write path. Every mutation is a closure that runs inside one transaction, given a
//! [`WriteTx`] that also records change rows with the writer's clock.
//!
//! PostgreSQL runs each write in its own transaction on the pool (the server orders them).
//! SQLite has one writer connection and an fsync per commit (`synchronous=FULL`), so its
//! writes go through **group commit**: one task owns the connection, takes every write that
//! is waiting (up to [`MAX_BATCH`]), runs each inside its own savepoint of one transaction
//! and commits once. A write that fails rolls back to its savepoint and reports its own
//! error; the others still commit. Nobody hears `Ok` before the commit that holds their
//! write is durable, and a failed commit fails every write of the batch. A caller that stops
//! waiting does not cancel its write: once queued, it runs and commits or fails as a whole.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tessera_identity::ports::StoreResult;
use tessera_identity::{ChangeKind, Clock, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::dialect::Dialect;
use crate::error::backend;

/// The future a write operation returns, borrowing its transaction.
pub(crate) type WriteFuture<'t, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 't>>;

/// Most writes committed together. Bounds the time the first write of a batch waits for the
/// last, and the work lost to a failed commit.
const MAX_BATCH: usize = 256;

/// How many writes may wait for the SQLite writer task before callers wait to enqueue.
const QUEUE_DEPTH: usize = 4096;

/// Runs write operations: one transaction each (PostgreSQL) or batched (SQLite).
pub(crate) enum Writer {
    Direct {
        pool: AnyPool,
        dialect: Dialect,
        clock: Arc<dyn Clock>,
    },
    Batched(Queue),
}

/// The SQLite writer task's queue.
pub(crate) struct Queue(mpsc::Sender<Job>);

/// An open write transaction and the instant it started (the `at_ms` of its change rows).
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    now_ms: i64,
}

/// Reports a batched write's outcome once its batch's commit is known: `None` when the
/// commit succeeded, else the commit's error.
type Complete = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// What running one batched write produced.
struct Ran {
    ok: bool,
    complete: Complete,
}

/// One queued write, type-erased.
type Job = Box<
    dyn for<'t> FnOnce(&'t mut WriteTx) -> Pin<Box<dyn Future<Output = Ran> + Send + 't>> + Send,
>;

impl Writer {
    /// The writer for `dialect` over `pool` (SQLite: the single writer connection, and a
    /// group-commit task is spawned on the current Tokio runtime).
    pub(crate) fn new(pool: AnyPool, dialect: Dialect, clock: Arc<dyn Clock>) -> Self {
        match dialect {
            Dialect::Postgres => Self::Direct {
                pool,
                dialect,
                clock,
            },
            Dialect::Sqlite => {
                let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
                tokio::spawn(group_commit(pool, dialect, clock, jobs));
                Self::Batched(Queue(queue))
            }
        }
    }

    /// Runs `op` in a transaction; its changes are committed if it returns `Ok`, rolled back
    /// if it returns `Err`.
    pub(crate) async fn run<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut WriteTx) -> WriteFuture<'t, T> + Send + 'static,
    {
        match self {
            Self::Direct {
                pool,
                dialect,
                clock,
            } => {
                let tx = pool
                    .begin_with(dialect.begin_write())
                    .await
                    .map_err(backend)?;
                let mut write = WriteTx {
                    tx,
                    now_ms: clock.now_ms(),
                };
                let output = op(&mut write).await?;
                write.tx.commit().await.map_err(backend)?;
                Ok(output)
            }
            Self::Batched(Queue(queue)) => {
                let (send, receive) = oneshot::channel::<StoreResult<T>>();
                let job: Job = Box::new(move |write: &mut WriteTx| {
                    Box::pin(async move {
                        let result = op(write).await;
                        let ok = result.is_ok();
                        let complete: Complete = Box::new(move |commit_error| {
                            let outcome = match (result, commit_error) {
                                (Ok(v), None) => Ok(v),
                                (Ok(_), Some(e)) | (Err(e), _) => Err(e),
                            };
                            // The caller may have stopped waiting; the outcome stands anyway.
                            let _ = send.send(outcome);
                        });
                        Ran { ok, complete }
                    })
                });
                queue.send(job).await.map_err(|_| writer_stopped())?;
                receive.await.map_err(|_| writer_stopped())?
            }
        }
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Backend("the database write did not complete (the writer logged why)".into())
}

/// The SQLite writer task: batches queued writes into one transaction each round.
async fn group_commit(
    pool: AnyPool,
    dialect: Dialect,
    clock: Arc<dyn Clock>,
    mut jobs: mpsc::Receiver<Job>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        run_batch(&pool, dialect, clock.as_ref(), &mut batch).await;
        batch.clear();
    }
}

/// Runs `batch` in one transaction, a savepoint per write, and reports every outcome.
async fn run_batch(pool: &AnyPool, dialect: Dialect, clock: &dyn Clock, batch: &mut Vec<Job>) {
    let tx = match pool.begin_with(dialect.begin_write()).await {
        Ok(tx) => tx,
        Err(e) => {
            let e = backend(e);
            // Nothing ran: every write fails with the reason, untouched.
            for job in batch.drain(..) {
                fail_unrun(job, &e);
            }
            return;
        }
    };
    let mut write = WriteTx {
        tx,
        now_ms: clock.now_ms(),
    };
    let mut completions: Vec<Complete> = Vec::with_capacity(batch.len());
    let mut broken: Option<StoreError> = savepoint(&mut write, "SAVEPOINT w").await.err();
    let count = batch.len();
    // Each write runs inside savepoint `w`. Between writes one round trip to the database
    // ends the previous savepoint and opens the next; the last write's savepoint is ended
    // by the commit (or, if it failed, rolled back first).
    for (i, job) in batch.drain(..).enumerate() {
        if let Some(e) = &broken {
            fail_unrun(job, e);
            continue;
        }
        let ran = job(&mut write).await;
        let last = i + 1 == count;
        let between = match (ran.ok, last) {
            (true, true) => None,
            (true, false) => Some("RELEASE w; SAVEPOINT w"),
            (false, true) => Some("ROLLBACK TO w; RELEASE w"),
            (false, false) => Some("ROLLBACK TO w; RELEASE w; SAVEPOINT w"),
        };
        if let Some(sql) = between {
            if let Err(e) = savepoint(&mut write, sql).await {
                broken = Some(e);
            }
        }
        completions.push(ran.complete);
    }
    let commit_error = match broken {
        Some(e) => {
            // The transaction's state is unknown: undo all of it.
            let _ = write.tx.rollback().await;
            Some(e)
        }
        None => write.tx.commit().await.err().map(backend),
    };
    for complete in completions {
        complete(commit_error.clone());
    }
}

/// Runs savepoint statements (one or several, `;`-separated) on the batch's transaction.
fn savepoint<'t>(write: &'t mut WriteTx, sql: &'static str) -> WriteFuture<'t, ()> {
    Box::pin(async move {
        use sqlx::Executor;
        // An unprepared string: SQLite runs each of its statements in turn.
        write.conn().execute(sql).await.map_err(backend)?;
        Ok(())
    })
}

/// Fails a write that never ran. It is never polled; its result channel reports `e`.
fn fail_unrun(job: Job, e: &StoreError) {
    // The job owns the caller's oneshot sender; it can only report through running, so it
    // is dropped and the caller sees a closed channel mapped to this error's text in logs.
    tracing::error!(error = %e, "database write not run");
    drop(job);
}

impl WriteTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Records that `key` of `kind` changed, in this transaction.
    pub(crate) async fn record_change(&mut self, kind: ChangeKind, key: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO changes (kind, key, at_ms) VALUES ($1, $2, $3)")
            .bind(kind.as_str())
            .bind(key)
            .bind(self.now_ms)
            .execute(&mut *self.tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The writer's wall clock when the transaction began, in milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }
}
