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
//! Invariants:
//! - a worker's runtime outlives the database: a worker keeps driving its runtime (and so the
//!   I/O of any pooled database connection it happened to open) until [`Workers::release`],
//!   which the server calls only after the database is closed;
//! - shutdown is graceful: the acceptor stops (new connections are refused), then every worker
//!   lets its in-flight requests finish.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, Result};
use axum::Router;
use tokio::sync::{mpsc, oneshot, watch};

/// Connections queued per worker before the acceptor waits.
const HANDOFF_DEPTH: usize = 128;

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

/// Starts `workers` serving threads and the acceptor on the current runtime. Serving stops
/// when `shutdown` turns true (or its sender is dropped).
pub fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    workers: usize,
    shutdown: watch::Receiver<bool>,
) -> Result<Workers> {
    let workers = workers.max(1);
    let local = listener.local_addr()?;
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
        let mut stop = shutdown.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name(format!("tessera-http-{i}"))
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("tessera-http-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = Handoff { rx, local };
                    let served = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop.wait_for(|s| *s).await;
                        })
                        .await;
                    let _ = done_tx.send(served);
                    let _ = release_rx.await;
                });
            })?;
        handoffs.push(tx);
        out.done.push(done_rx);
        out.release.push(release_tx);
        out.threads.push(thread);
    }
    tokio::spawn(accept_loop(listener, handoffs, shutdown));
    Ok(out)
}

/// Accepts until shutdown and deals connections round-robin; dropping the listener on return
/// refuses new connections.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    handoffs: Vec<mpsc::Sender<std::net::TcpStream>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = 0usize;
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
        if worker.send(std_stream).await.is_err() {
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

/// A worker's side of the hand-off, as an axum listener: connections arrive already accepted
/// and are registered with the worker's own runtime.
struct Handoff {
    rx: mpsc::Receiver<std::net::TcpStream>,
    local: SocketAddr,
}

impl axum::serve::Listener for Handoff {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some(std_stream) = self.rx.recv().await else {
                // The acceptor has stopped; graceful shutdown ends this worker's serve loop.
                std::future::pending::<()>().await;
                continue;
            };
            let stream = match tokio::net::TcpStream::from_std(std_stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "registering a connection failed");
                    continue;
                }
            };
            match stream.peer_addr() {
                Ok(peer) => return (stream, peer),
                Err(_) => continue, // already closed by the peer
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::Instant;

    use axum::routing::get;
    use tokio::sync::Notify;

    use super::*;

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
        let mut workers = serve(listener, app, 2, stop_rx).unwrap();
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
        let mut workers = serve(listener, app, 2, stop_rx).unwrap();

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
