//! Serving HTTP: one acceptor and `http.workers` single-threaded runtimes.
//!
//! The acceptor task (on the main runtime) accepts connections and hands them round-robin to
//! the workers. Each worker is an OS thread running a current-thread Tokio runtime that serves
//! its connections with axum from start to end. A request is therefore parsed, handled and
//! answered on one thread, with no work stealing and no cross-thread wake-ups on the hot path;
//! on the benchmark's 2 cores this answered ~8% more client-credentials requests than one
//! multi-threaded runtime (BENCHMARKS.md). Background tasks, the SQLite group-commit writer
//! and the database pools stay on the main runtime; handlers reach them through channels and
//! wakers, which work across runtimes.
//!
//! Limits, so that no client can hold the server: at most `max_connections` connections are
//! open (beyond it a new one is accepted and closed at once, so the listen backlog never
//! fills); a connection that does not send a complete request head within `header_timeout` —
//! counted from its start and, between keep-alive requests, from the end of the previous
//! answer — is closed (hyper's header read timeout), which also ends idle keep-alive
//! connections; bodies have their own timeout where they are read (`api::extract`).
//!
//! With TLS (`tls.rs`), the acceptor still only accepts: the handshake runs in the
//! connection's task on its worker, bounded by `tls_handshake_timeout` (a client that opens a
//! connection and never finishes the handshake gives its slot back then). ALPN picks HTTP/2 or
//! HTTP/1.1; an HTTP/2 connection without an open request for `header_timeout` is closed
//! (GOAWAY), the counterpart of HTTP/1.1's idle keep-alive limit.
//!
//! Invariants:
//! - a worker's runtime outlives the database: a worker keeps driving its runtime (and so the
//!   I/O of any pooled database connection it happened to open) until [`Workers::release`],
//!   which the server calls only after the database is closed;
//! - shutdown is graceful: the acceptor stops (new connections are refused), then every worker
//!   lets its in-flight requests finish and closes its idle connections;
//! - the open-connection count is exact: it is taken when a connection is accepted and given
//!   back when its task ends, however it ends.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{mpsc, oneshot, watch};

/// Connections queued per worker before the acceptor waits.
const HANDOFF_DEPTH: usize = 128;

/// The limits of the HTTP layer (`[http]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Serving threads.
    pub workers: usize,
    /// Open connections at most.
    pub max_connections: usize,
    /// Time to send a complete request head (and the longest idle keep-alive wait).
    pub header_timeout: Duration,
}

/// Serving https: the acceptor (current certificate at each handshake) and the time a
/// client has to complete the handshake.
#[derive(Clone)]
pub struct TlsServing {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub handshake_timeout: Duration,
}

/// Raises the soft limit of open files to the hard limit, so `max_connections` can be
/// reached; returns the limit now in force (`None` where the platform has none to raise).
pub fn raise_open_files_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// One open connection, counted until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// A slot, unless `max` are taken.
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        let mut current = open.load(Ordering::Relaxed);
        loop {
            if current >= max {
                return None;
            }
            match open.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Self(open.clone())),
                Err(seen) => current = seen,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The running workers.
pub struct Workers {
    done: Vec<oneshot::Receiver<io::Result<()>>>,
    release: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Waits until every worker has stopped serving (after the shutdown signal and their
    /// in-flight requests); the first error, if any.
    pub async fn served(&mut self) -> Result<()> {
        let mut result = Ok(());
        for done in self.done.drain(..) {
            let outcome = match done.await {
                Ok(r) => r.map_err(|e| anyhow!("serving HTTP: {e}")),
                Err(_) => Err(anyhow!("an HTTP worker thread stopped unexpectedly")),
            };
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    /// Lets the worker threads end (drops their runtimes) and waits for them.
    pub async fn release(mut self) {
        self.release.clear();
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// Starts `limits.workers` serving threads and the acceptor on the current runtime. Serving
/// stops when `shutdown` turns true (or its sender is dropped).
pub fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<TlsServing>,
    shutdown: watch::Receiver<bool>,
) -> Result<Workers> {
    let workers = limits.workers.max(1);
    let mut handoffs = Vec::with_capacity(workers);
    let mut out = Workers {
        done: Vec::with_capacity(workers),
        release: Vec::with_capacity(workers),
        threads: Vec::with_capacity(workers),
    };
    for i in 0..workers {
        let (tx, rx) = mpsc::channel(HANDOFF_DEPTH);
        let (done_tx, done_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let app = app.clone();
        let stop = shutdown.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name(format!("tessera-http-{i}"))
            .build()?;
        let header_timeout = limits.header_timeout;
        let tls = tls.clone();
        let thread = std::thread::Builder::new()
            .name(format!("tessera-http-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    serve_worker(rx, app, header_timeout, tls, stop).await;
                    let _ = done_tx.send(Ok(()));
                    let _ = release_rx.await;
                });
            })?;
        handoffs.push(tx);
        out.done.push(done_rx);
        out.release.push(release_tx);
        out.threads.push(thread);
    }
    let open = Arc::new(AtomicUsize::new(0));
    tokio::spawn(accept_loop(
        listener,
        handoffs,
        open,
        limits.max_connections.max(1),
        shutdown,
    ));
    Ok(out)
}

/// A worker: serves every connection handed to it, each in its own task, until shutdown;
/// then lets in-flight requests finish.
async fn serve_worker(
    mut rx: mpsc::Receiver<(std::net::TcpStream, Slot)>,
    app: Router,
    header_timeout: Duration,
    tls: Option<TlsServing>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    loop {
        let (std_stream, slot) = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            next = rx.recv() => match next {
                Some(next) => next,
                // The acceptor has stopped: the server is shutting down.
                None => break,
            },
        };
        let stream = match tokio::net::TcpStream::from_std(std_stream) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "registering a connection failed");
                continue;
            }
        };
        if let Some(tls) = &tls {
            let guard = graceful.watcher();
            tokio::spawn(serve_tls(
                stream,
                slot,
                tls.clone(),
                app.clone(),
                http.clone(),
                header_timeout,
                stop.clone(),
                guard,
            ));
            continue;
        }
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors of one connection (a reset, a header timeout) concern it alone.
            let _ = connection.await;
            drop(slot);
        });
    }
    graceful.shutdown().await;
}

/// One https connection: the handshake (bounded, abandoned at shutdown), then HTTP/2 or
/// HTTP/1.1 by ALPN until the connection ends or, at shutdown, its requests are answered.
/// `_guard` keeps the worker's graceful shutdown waiting until this connection is done.
#[allow(clippy::too_many_arguments)]
async fn serve_tls(
    stream: tokio::net::TcpStream,
    _slot: Slot,
    tls: TlsServing,
    app: Router,
    http1: hyper::server::conn::http1::Builder,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    _guard: hyper_util::server::graceful::Watcher,
) {
    let handshake = tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(stream));
    let stream = tokio::select! {
        biased;
        _ = stop.wait_for(|s| *s) => return,
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            // A failed or timed-out handshake concerns this connection alone.
            Ok(Err(_)) | Err(_) => return,
        },
    };
    let is_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    if !is_h2 {
        let service = TowerToHyperService::new(app);
        let connection = http1.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.wait_for(|s| *s) => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.await;
        return;
    }
    let activity = Arc::new(Activity::new());
    let service = Tracked {
        app,
        activity: activity.clone(),
    };
    let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new()).max_concurrent_streams(100);
    let connection = h2.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    loop {
        let wake = activity.next_check(idle_timeout);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep_until(wake) => {
                if activity.is_idle(idle_timeout) {
                    break;
                }
            }
        }
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Requests in flight on an HTTP/2 connection and when the last one ended.
struct Activity {
    started: tokio::time::Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `started` to the end of the last request.
    last_end_ms: std::sync::atomic::AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: tokio::time::Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_end_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn idle_until(&self, idle_timeout: Duration) -> tokio::time::Instant {
        self.started
            + Duration::from_millis(self.last_end_ms.load(Ordering::Acquire))
            + idle_timeout
    }

    /// When to look again: the idle deadline, or a full period on while requests run.
    fn next_check(&self, idle_timeout: Duration) -> tokio::time::Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            tokio::time::Instant::now() + idle_timeout
        } else {
            self.idle_until(idle_timeout)
        }
    }

    fn is_idle(&self, idle_timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && tokio::time::Instant::now() >= self.idle_until(idle_timeout)
    }
}

/// One request in flight; its end (answered or dropped) is recorded.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_end_ms.fetch_max(ms, Ordering::AcqRel);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The app, counting requests in flight for the HTTP/2 idle limit.
#[derive(Clone)]
struct Tracked {
    app: Router,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        use tower::ServiceExt;
        let in_flight = InFlight::begin(&self.activity);
        let app = self.app.clone();
        Box::pin(async move {
            let answer = app.oneshot(req.map(axum::body::Body::new)).await;
            drop(in_flight);
            answer
        })
    }
}

/// Accepts until shutdown and deals connections round-robin; dropping the listener on return
/// refuses new connections. Beyond `max_connections` a connection is closed at once.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    handoffs: Vec<mpsc::Sender<(std::net::TcpStream, Slot)>>,
    open: Arc<AtomicUsize>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = 0usize;
    let mut refused: u64 = 0;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::error!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = Slot::take(&open, max_connections) else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max_connections,
                    refused,
                    "connection limit reached; closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "handing a connection to a worker failed");
                continue;
            }
        };
        let worker = &handoffs[next % handoffs.len()];
        next = next.wrapping_add(1);
        if worker.send((std_stream, slot)).await.is_err() {
            return; // the worker stopped: the server is shutting down
        }
    }
}

/// Errors that concern one connection only (the peer went away before accept returned).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Instant;

    use axum::routing::get;
    use tokio::sync::Notify;

    use super::*;

    fn limits(workers: usize) -> HttpLimits {
        HttpLimits {
            workers,
            max_connections: 1000,
            header_timeout: Duration::from_secs(30),
        }
    }

    async fn bind() -> tokio::net::TcpListener {
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    /// A client that opens a new connection for every request.
    fn fresh_client() -> reqwest::Client {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn connections_are_dealt_round_robin_to_the_workers() {
        let app = Router::new().route(
            "/",
            get(|| async { std::thread::current().name().unwrap_or("?").to_string() }),
        );
        let listener = bind().await;
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = watch::channel(false);
        let mut workers = serve(listener, app, limits(2), None, stop_rx).unwrap();
        let mut names = Vec::new();
        for _ in 0..4 {
            let body = fresh_client()
                .get(format!("http://{addr}/"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            names.push(body);
        }
        let distinct: BTreeSet<_> = names.iter().map(String::as_str).collect();
        assert_eq!(
            distinct,
            BTreeSet::from(["tessera-http-0", "tessera-http-1"]),
            "requests were served on {names:?}"
        );
        // Consecutive connections go to different workers.
        assert_ne!(names[0], names[1]);
        stop.send(true).unwrap();
        workers.served().await.unwrap();
        workers.release().await;
    }

    #[tokio::test]
    async fn shutdown_refuses_new_connections_and_finishes_in_flight_requests() {
        let entered = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let (e, r) = (entered.clone(), release.clone());
        let app = Router::new().route(
            "/slow",
            get(move || {
                let (e, r) = (e.clone(), r.clone());
                async move {
                    e.notify_one();
                    r.notified().await;
                    "done"
                }
            }),
        );
        let listener = bind().await;
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = watch::channel(false);
        let mut workers = serve(listener, app, limits(2), None, stop_rx).unwrap();

        let in_flight = tokio::spawn(async move {
            let res = fresh_client()
                .get(format!("http://{addr}/slow"))
                .send()
                .await?;
            let status = res.status();
            Ok::<_, reqwest::Error>((status, res.text().await?))
        });
        entered.notified().await;
        stop.send(true).unwrap();

        // The acceptor drops the listener once it sees the signal: connecting is refused.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::net::TcpStream::connect(addr).await {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => break,
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "still accepting after shutdown: {other:?}"
                    );
                    tokio::task::yield_now().await;
                }
            }
        }

        // The request that was in flight still gets its answer, then serving ends cleanly.
        release.notify_one();
        let (status, body) = in_flight.await.unwrap().unwrap();
        assert_eq!(status, reqwest::StatusCode::OK);
        assert_eq!(body, "done");
        workers.served().await.unwrap();
        workers.release().await;
    }
}
