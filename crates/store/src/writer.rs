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
//!
//! **Failures of the SQLite writer.** SQLite ends a transaction by itself on some errors
//! (`SQLITE_FULL`: the disk or database is full), so the batch's transaction is begun and
//! ended with explicit statements on the pooled connection rather than with sqlx's
//! `Transaction`, whose depth count stays at 1 when SQLite rolled back on its own and then
//! refuses every later `BEGIN`. A connection whose transaction did not end cleanly (`BEGIN`
//! failed, or the closing `ROLLBACK` failed because SQLite had already rolled back) is closed
//! and the pool opens a fresh one for the next batch. Every write of a failed batch reports
//! the failure's class: a write that never ran, or whose batch failed because the database
//! is unavailable, answers `Unavailable` (503) like the write that hit the full disk. The
//! writer also keeps a health flag for readiness: failing after a batch that could not
//! commit, healthy again after one that committed a write; while failing, [`Writer::ready`]
//! tries a write of its own, so a node with no traffic still sees the space come back.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
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

/// The SQLite writer task's queue, and what the task last found about writing.
pub(crate) struct Queue {
    jobs: mpsc::Sender<Box<dyn Job>>,
    health: Arc<Health>,
}

/// Whether the SQLite writer's last batch could commit. Set by the writer task only.
#[derive(Debug, Default)]
struct Health {
    failing: AtomicBool,
}

impl Health {
    fn failing(&self) -> bool {
        self.failing.load(Ordering::Acquire)
    }

    fn set(&self, failing: bool, why: Option<&StoreError>) {
        let was = self.failing.swap(failing, Ordering::AcqRel);
        match (was, failing) {
            (false, true) => {
                let why = why.map(ToString::to_string).unwrap_or_default();
                tracing::warn!(error = %why, "the SQLite writer cannot commit: not ready");
            }
            (true, false) => tracing::info!("the SQLite writer commits again: ready"),
            _ => {}
        }
    }
}

/// An open write transaction and the instant it started (the `at_ms` of its change rows).
pub(crate) struct WriteTx {
    conn: TxConn,
    now_ms: i64,
}

/// The connection a write transaction runs on.
enum TxConn {
    /// PostgreSQL: sqlx's transaction, rolled back if the caller stops waiting half-way.
    Managed(Transaction<'static, Any>),
    /// SQLite's writer connection, inside a transaction the writer task begins and ends.
    Batch(BatchConn),
}

/// The SQLite writer connection during a batch. Unless the batch's transaction ended cleanly
/// (a `COMMIT` or `ROLLBACK` that succeeded), the connection is closed when this is dropped
/// instead of going back to the pool, which opens a fresh one for the next batch: its state
/// is not known (SQLite may have rolled back by itself, the task may have been stopped
/// half-way).
struct BatchConn {
    conn: PoolConnection<Any>,
    clean: bool,
}

impl Drop for BatchConn {
    fn drop(&mut self) {
        if !self.clean {
            tracing::warn!("closing the SQLite writer connection: its transaction did not end cleanly; the next batch opens a new one");
            self.conn.close_on_drop();
        }
    }
}

/// Reports a batched write's outcome once its batch's commit is known: `None` when the
/// commit succeeded, else the commit's error.
type Complete = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// What running one batched write produced.
struct Ran {
    /// The write's own error, if it failed (its savepoint is rolled back).
    error: Option<StoreError>,
    complete: Complete,
}

/// One queued write, type-erased: it either runs in a batch, or fails without running.
trait Job: Send {
    /// Runs the write inside the batch's transaction.
    fn run<'t>(
        self: Box<Self>,
        write: &'t mut WriteTx,
    ) -> Pin<Box<dyn Future<Output = Ran> + Send + 't>>;

    /// Reports `error` to the caller: the write never reached the database.
    fn fail(self: Box<Self>, error: StoreError);
}

/// A write operation and where its caller waits for the outcome.
struct Queued<T, F> {
    op: F,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Queued<T, F>
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t mut WriteTx) -> WriteFuture<'t, T> + Send + 'static,
{
    fn run<'t>(
        self: Box<Self>,
        write: &'t mut WriteTx,
    ) -> Pin<Box<dyn Future<Output = Ran> + Send + 't>> {
        let Queued { op, reply } = *self;
        Box::pin(async move {
            let result = op(write).await;
            let error = result.as_ref().err().cloned();
            let complete: Complete = Box::new(move |commit_error| {
                let outcome = match (result, commit_error) {
                    (Ok(v), None) => Ok(v),
                    (Ok(_), Some(e)) | (Err(e), _) => Err(e),
                };
                // The caller may have stopped waiting; the outcome stands anyway.
                let _ = reply.send(outcome);
            });
            Ran { error, complete }
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        // The caller may have stopped waiting.
        let _ = self.reply.send(Err(error));
    }
}

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
                let (jobs, queued) = mpsc::channel(QUEUE_DEPTH);
                let health = Arc::new(Health::default());
                tokio::spawn(group_commit(pool, dialect, clock, health.clone(), queued));
                Self::Batched(Queue { jobs, health })
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
                    conn: TxConn::Managed(tx),
                    now_ms: clock.now_ms(),
                };
                let output = op(&mut write).await?;
                match write.conn {
                    TxConn::Managed(tx) => tx.commit().await.map_err(backend)?,
                    TxConn::Batch(_) => {
                        return Err(StoreError::Backend(
                            "a direct write ran on the batch writer's connection".into(),
                        ))
                    }
                }
                Ok(output)
            }
            Self::Batched(queue) => {
                let (reply, outcome) = oneshot::channel::<StoreResult<T>>();
                let job: Box<dyn Job> = Box::new(Queued { op, reply });
                queue.jobs.send(job).await.map_err(|_| writer_stopped())?;
                outcome.await.map_err(|_| writer_stopped())?
            }
        }
    }

    /// Whether this node can write, for readiness. PostgreSQL: always (the caller's ping of
    /// the shared pool says whether the server answers). SQLite: the writer task runs and
    /// its last batch committed; while it is failing, a small write of its own (the database
    /// header's `user_version`, rewritten unchanged, in a batch like any write) must commit.
    pub(crate) async fn ready(&self) -> StoreResult<()> {
        let Self::Batched(queue) = self else {
            return Ok(());
        };
        if queue.jobs.is_closed() {
            return Err(writer_stopped());
        }
        if !queue.health.failing() {
            return Ok(());
        }
        self.run(|tx| Box::pin(rewrite_header(tx))).await
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Backend("the database write did not complete (the writer logged why)".into())
}

/// A write that changes nothing but still has to reach the disk: `user_version` (unused by
/// Tessera and sqlx) set to its own value, which dirties the header page.
async fn rewrite_header(tx: &mut WriteTx) -> StoreResult<()> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(tx.conn())
        .await
        .map_err(backend)?;
    tx.conn()
        .execute(format!("PRAGMA user_version = {version}").as_str())
        .await
        .map_err(backend)?;
    Ok(())
}

/// The SQLite writer task: batches queued writes into one transaction each round.
async fn group_commit(
    pool: AnyPool,
    dialect: Dialect,
    clock: Arc<dyn Clock>,
    health: Arc<Health>,
    mut queued: mpsc::Receiver<Box<dyn Job>>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcome = run_batch(&pool, dialect, clock.as_ref(), &mut batch).await;
        match outcome {
            Batch::Committed { wrote: true } => health.set(false, None),
            Batch::Committed { wrote: false } => {}
            Batch::Failed(e) => health.set(true, Some(&e)),
        }
        batch.clear();
    }
}

/// How a batch ended.
enum Batch {
    /// Its transaction committed; `wrote` when at least one write of it succeeded.
    Committed { wrote: bool },
    /// Nothing of it was committed, or only writes that failed for lack of space did not.
    Failed(StoreError),
}

/// Runs `batch` in one transaction, a savepoint per write, and reports every outcome.
async fn run_batch(
    pool: &AnyPool,
    dialect: Dialect,
    clock: &dyn Clock,
    batch: &mut Vec<Box<dyn Job>>,
) -> Batch {
    let conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return fail_all(batch, backend(e)),
    };
    let mut write = WriteTx {
        conn: TxConn::Batch(BatchConn { conn, clean: false }),
        now_ms: clock.now_ms(),
    };
    // Until the transaction ends cleanly, the connection is not `clean`: if `BEGIN` fails,
    // dropping `write` closes it.
    if let Err(e) = write.conn().execute(dialect.begin_write()).await {
        return fail_all(batch, backend(e));
    }
    let mut completions: Vec<Complete> = Vec::with_capacity(batch.len());
    let mut broken: Option<StoreError> = savepoint(&mut write, "SAVEPOINT w").await.err();
    let mut wrote = false;
    let mut no_space: Option<StoreError> = None;
    let count = batch.len();
    // Each write runs inside savepoint `w`. Between writes one round trip to the database
    // ends the previous savepoint and opens the next; the last write's savepoint is ended
    // by the commit (or, if it failed, rolled back first).
    for (i, job) in batch.drain(..).enumerate() {
        if let Some(e) = &broken {
            job.fail(e.clone());
            continue;
        }
        let ran = job.run(&mut write).await;
        let last = i + 1 == count;
        let between = match (&ran.error, last) {
            (None, true) => None,
            (None, false) => Some("RELEASE w; SAVEPOINT w"),
            (Some(_), true) => Some("ROLLBACK TO w; RELEASE w"),
            (Some(_), false) => Some("ROLLBACK TO w; RELEASE w; SAVEPOINT w"),
        };
        if let Some(sql) = between {
            if let Err(e) = savepoint(&mut write, sql).await {
                // A write that failed because the database is unavailable (SQLITE_FULL) can
                // take the whole transaction with it: SQLite rolled back by itself, and the
                // savepoint is gone. That write's error is the batch's cause.
                broken = Some(match &ran.error {
                    Some(cause @ StoreError::Unavailable(_)) => cause.clone(),
                    _ => e,
                });
            }
        }
        match ran.error {
            None => wrote = true,
            Some(e @ StoreError::Unavailable(_)) => no_space = Some(e),
            Some(_) => {}
        }
        completions.push(ran.complete);
    }
    let commit_error = match broken {
        Some(e) => {
            // The transaction's state is unknown: undo all of it.
            end_transaction(&mut write, "ROLLBACK").await;
            Some(e)
        }
        None => match write.conn().execute("COMMIT").await {
            Ok(_) => {
                write.mark_clean();
                None
            }
            Err(e) => {
                // A failed COMMIT may leave the transaction open (a deferred constraint) or
                // gone (SQLite rolled back by itself); either way nothing of it is kept.
                end_transaction(&mut write, "ROLLBACK").await;
                Some(backend(e))
            }
        },
    };
    // The connection goes back to the pool (or is closed) before anyone hears the outcome.
    drop(write);
    for complete in completions {
        complete(commit_error.clone());
    }
    match (commit_error, no_space) {
        (Some(e), _) => Batch::Failed(e),
        (None, Some(e)) if !wrote => Batch::Failed(e),
        (None, _) => Batch::Committed { wrote },
    }
}

/// Fails every write of `batch` without running it, with `error` (its class kept: a batch
/// that could not begin because the database is unavailable answers 503 to all of them).
fn fail_all(batch: &mut Vec<Box<dyn Job>>, error: StoreError) -> Batch {
    tracing::error!(error = %error, writes = batch.len(), "database writes not run");
    for job in batch.drain(..) {
        job.fail(error.clone());
    }
    Batch::Failed(error)
}

/// Ends the batch's transaction with `sql` (`ROLLBACK`). If that fails, the transaction was
/// already gone (SQLite rolled back by itself: "no transaction is active") or the connection
/// is broken; the connection stays unclean and is replaced.
async fn end_transaction(write: &mut WriteTx, sql: &'static str) {
    match write.conn().execute(sql).await {
        Ok(_) => write.mark_clean(),
        Err(e) => tracing::warn!(error = %e, "the SQLite writer's transaction had already ended"),
    }
}

/// Runs savepoint statements (one or several, `;`-separated) on the batch's transaction.
fn savepoint<'t>(write: &'t mut WriteTx, sql: &'static str) -> WriteFuture<'t, ()> {
    Box::pin(async move {
        // An unprepared string: SQLite runs each of its statements in turn.
        write.conn().execute(sql).await.map_err(backend)?;
        Ok(())
    })
}

impl WriteTx {
    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            TxConn::Managed(tx) => tx,
            TxConn::Batch(batch) => &mut batch.conn,
        }
    }

    /// The batch's transaction ended with a `COMMIT` or `ROLLBACK` that succeeded.
    fn mark_clean(&mut self) {
        if let TxConn::Batch(batch) = &mut self.conn {
            batch.clean = true;
        }
    }

    /// Records that `key` of `kind` changed, in this transaction.
    pub(crate) async fn record_change(&mut self, kind: ChangeKind, key: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO changes (kind, key, at_ms) VALUES ($1, $2, $3)")
            .bind(kind.as_str())
            .bind(key)
            .bind(self.now_ms)
            .execute(self.conn())
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The writer's wall clock when the transaction began, in milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        self.now_ms
    }
}

#[cfg(test)]
mod tests {
    //! The SQLite writer against real SQLite failures on a scratch file: `SQLITE_FULL` from a
    //! page limit (`PRAGMA max_page_count`, which every new writer connection gets too, so
    //! "space returns" only when the test raises it), and `SQLITE_BUSY` from another
    //! connection holding the write lock.

    use std::sync::atomic::AtomicU32;
    use std::time::{Duration, Instant};

    use sqlx::any::AnyPoolOptions;
    use sqlx::Connection;
    use tessera_identity::SystemClock;

    use super::*;

    /// SQLite's highest `max_page_count`: no limit.
    const NO_LIMIT: u32 = 4_294_967_294;

    struct Fixture {
        _dir: tempfile::TempDir,
        url: String,
        writer: Arc<Writer>,
        /// The page limit new writer connections get.
        limit: Arc<AtomicU32>,
    }

    async fn fixture() -> Fixture {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = crate::target::sqlite_url(&dir.path().join("w.db")).unwrap();
        let limit = Arc::new(AtomicU32::new(NO_LIMIT));
        let pages = limit.clone();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let pages = pages.load(Ordering::Acquire);
                Box::pin(async move {
                    // A short busy timeout keeps the lock test quick.
                    conn.execute("PRAGMA busy_timeout = 100").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute(format!("PRAGMA max_page_count = {pages}").as_str())
                        .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .unwrap();
        let writer = Arc::new(Writer::new(pool, Dialect::Sqlite, Arc::new(SystemClock)));
        statement(&writer, "CREATE TABLE t (x BLOB NOT NULL)")
            .await
            .unwrap();
        Fixture {
            _dir: dir,
            url,
            writer,
            limit,
        }
    }

    async fn statement(writer: &Writer, sql: &str) -> StoreResult<()> {
        let sql = sql.to_string();
        writer
            .run(move |tx| {
                Box::pin(async move {
                    tx.conn().execute(sql.as_str()).await.map_err(backend)?;
                    Ok(())
                })
            })
            .await
    }

    /// Inserts a row of `bytes` random bytes.
    async fn insert(writer: &Writer, bytes: u32) -> StoreResult<()> {
        statement(
            writer,
            &format!("INSERT INTO t VALUES (randomblob({bytes}))"),
        )
        .await
    }

    async fn scalar(writer: &Writer, sql: &'static str) -> i64 {
        writer
            .run(move |tx| {
                Box::pin(async move {
                    sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(tx.conn())
                        .await
                        .map_err(backend)
                })
            })
            .await
            .unwrap()
    }

    impl Fixture {
        /// Lets the database grow to `pages` pages at most (the current connection, and
        /// every connection opened from now on).
        async fn limit_pages(&self, pages: u32) {
            self.limit.store(pages, Ordering::Release);
            statement(&self.writer, &format!("PRAGMA max_page_count = {pages}"))
                .await
                .unwrap();
        }

        /// No more room: the database cannot grow by a page.
        async fn fill(&self) {
            let pages = scalar(&self.writer, "SELECT page_count FROM pragma_page_count").await;
            self.limit_pages(u32::try_from(pages).unwrap()).await;
        }

        fn failing(&self) -> bool {
            match &*self.writer {
                Writer::Batched(queue) => queue.health.failing(),
                Writer::Direct { .. } => unreachable!("a SQLite writer"),
            }
        }

        /// Waits until `n` writes wait in the writer's queue.
        async fn wait_queued(&self, n: usize) {
            let Writer::Batched(queue) = &*self.writer else {
                unreachable!("a SQLite writer")
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while QUEUE_DEPTH - queue.jobs.capacity() < n {
                assert!(Instant::now() < deadline, "{n} writes never queued");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }

        async fn rows(&self) -> i64 {
            scalar(&self.writer, "SELECT COUNT(*) FROM t").await
        }

        async fn integrity(&self) -> String {
            let mut conn = AnyConnection::connect(&self.url).await.unwrap();
            sqlx::query_scalar::<_, String>("PRAGMA integrity_check")
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }

    fn assert_unavailable<T: std::fmt::Debug>(result: StoreResult<T>, what: &str) {
        match result {
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("{what}: expected Unavailable (503), got {other:?}"),
        }
    }

    /// SQLite rolls the whole transaction back on SQLITE_FULL. The writer answers 503, keeps
    /// answering 503 (not a stuck 500) while the database is full, takes the writes that
    /// still fit, and writes as soon as there is room again, without a restart.
    #[tokio::test]
    async fn after_sqlite_full_the_writer_answers_503_and_writes_again_when_room_returns() {
        let f = fixture().await;
        insert(&f.writer, 1000).await.unwrap();
        f.fill().await;
        assert!(!f.failing());

        assert_unavailable(
            insert(&f.writer, 100_000).await,
            "a write into a full database",
        );
        assert!(
            f.failing(),
            "a batch that could not commit marks the writer failing"
        );
        assert_unavailable(
            insert(&f.writer, 100_000).await,
            "the next write while still full",
        );
        // A small row still fits in the last page: the writer is not stuck.
        insert(&f.writer, 10).await.unwrap();
        assert!(!f.failing(), "a committed write marks the writer healthy");
        assert_unavailable(insert(&f.writer, 100_000).await, "full again");

        // Room returns: the very next write succeeds.
        f.limit_pages(NO_LIMIT).await;
        insert(&f.writer, 100_000).await.unwrap();
        assert!(!f.failing());
        assert_eq!(
            f.rows().await,
            3,
            "the rows that were acknowledged, no others"
        );
        assert_eq!(f.integrity().await, "ok");
    }

    /// The writes that shared a batch with the one that hit SQLITE_FULL: the one that ran
    /// before it (its work was rolled back with the transaction) and the one that never ran
    /// keep the 503 of the cause, not a 500.
    #[tokio::test]
    async fn the_writes_of_a_batch_that_hit_sqlite_full_answer_503() {
        let f = fixture().await;
        insert(&f.writer, 1000).await.unwrap();
        f.fill().await;

        // Hold the writer inside a batch so that the next three writes queue up together.
        let (started, has_started) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let writer = f.writer.clone();
        let holder = tokio::spawn(async move {
            writer
                .run(move |_tx| {
                    Box::pin(async move {
                        let _ = started.send(());
                        let _ = released.await;
                        Ok(())
                    })
                })
                .await
        });
        has_started.await.unwrap();
        let mut queued = Vec::new();
        for (n, bytes) in [(1, 10), (2, 100_000), (3, 10)] {
            let writer = f.writer.clone();
            queued.push(tokio::spawn(async move { insert(&writer, bytes).await }));
            f.wait_queued(n).await;
        }
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        let mut outcomes = Vec::new();
        for write in queued {
            outcomes.push(write.await.unwrap());
        }
        let [ran_before, full, never_ran] = <[_; 3]>::try_from(outcomes).unwrap();
        assert_unavailable(ran_before, "the write that ran before, rolled back with it");
        assert_unavailable(full, "the write that hit SQLITE_FULL");
        assert_unavailable(never_ran, "the write that never ran");

        insert(&f.writer, 10).await.unwrap();
        assert_eq!(f.rows().await, 2);
        assert_eq!(f.integrity().await, "ok");
    }

    /// A COMMIT that fails, once with the transaction already gone (a write swallowed the
    /// SQLITE_FULL that rolled it back) and once with it still open (a deferred foreign key
    /// violated): the batch's writes fail, nothing of them is kept, and the next write
    /// commits.
    #[tokio::test]
    async fn a_failing_commit_leaves_the_writer_able_to_write() {
        let f = fixture().await;
        insert(&f.writer, 1000).await.unwrap();
        f.fill().await;
        let swallowed = f
            .writer
            .run(|tx| {
                Box::pin(async move {
                    let e = tx
                        .conn()
                        .execute("INSERT INTO t VALUES (randomblob(100000))")
                        .await;
                    assert!(e.is_err(), "the database is full");
                    Ok(())
                })
            })
            .await;
        assert!(swallowed.is_err(), "COMMIT with no transaction fails");
        insert(&f.writer, 10).await.unwrap();
        f.limit_pages(NO_LIMIT).await;

        statement(&f.writer, "CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        statement(
            &f.writer,
            "CREATE TABLE child (parent INTEGER REFERENCES parent (id) \
             DEFERRABLE INITIALLY DEFERRED)",
        )
        .await
        .unwrap();
        let violated = statement(&f.writer, "INSERT INTO child VALUES (42)").await;
        assert!(
            matches!(violated, Err(StoreError::Backend(_))),
            "{violated:?}"
        );
        assert_eq!(scalar(&f.writer, "SELECT COUNT(*) FROM child").await, 0);
        insert(&f.writer, 10).await.unwrap();
        assert_eq!(f.rows().await, 3);
        assert_eq!(f.integrity().await, "ok");
    }

    /// Readiness follows the writer: not ready while its batches cannot commit (another
    /// connection holds the write lock: `SQLITE_BUSY`, 503), ready again once the probe write
    /// commits, without any other write.
    #[tokio::test]
    async fn the_writer_is_not_ready_while_it_cannot_commit() {
        let f = fixture().await;
        f.writer.ready().await.unwrap();

        let mut other = AnyConnection::connect(&f.url).await.unwrap();
        other.execute("BEGIN IMMEDIATE").await.unwrap();
        assert_unavailable(insert(&f.writer, 10).await, "a write while locked out");
        assert!(f.failing());
        assert_unavailable(f.writer.ready().await, "readiness while locked out");

        other.execute("ROLLBACK").await.unwrap();
        f.writer.ready().await.unwrap();
        assert!(!f.failing(), "the probe write committed");
        insert(&f.writer, 10).await.unwrap();
        assert_eq!(f.rows().await, 1);
    }
}
