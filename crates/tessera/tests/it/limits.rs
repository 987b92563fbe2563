//! The HTTP layer's limits: stalled connections cannot lock anyone out. A review opened 1,100
//! connections that each sent half a request head and a normal `GET /healthz` timed out (the
//! process ran out of file descriptors), and a POST announcing `Content-Length: 100` and
//! sending nothing stayed open for minutes.

use std::time::Duration;

use reqwest::StatusCode;
use tessera_identity::TestClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{backends, now_ms, TestServer};

async fn connect(srv: &TestServer) -> TcpStream {
    let addr = srv.base.trim_start_matches("http://").to_string();
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (or a timeout fails the test).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out))
        .await
        .expect("the server did not close the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

async fn healthz_answers(srv: &TestServer, times: usize) {
    // Each on a new connection, as a client arriving during the attack would.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..times {
        let r = client.get(srv.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}

/// The real binary, started the way an operator's shell might leave it: with a soft limit of
/// 1,024 open files. It raises the limit itself, so 6,100 stalled connections fit and a
/// client arriving during the attack is still served.
#[tokio::test]
async fn five_thousand_idle_and_1100_half_sent_connections_do_not_lock_clients_out() {
    use std::io::BufRead;
    tessera::http::raise_open_files_limit();
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn 1024 && exec {} serve --listen 127.0.0.1:0 --data-dir {}",
            env!("CARGO_BIN_EXE_tessera"),
            dir.path().join("data").display()
        ))
        .env("TESSERA_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("the server exited").unwrap();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if let Some(addr) = v["addr"].as_str() {
            break addr.to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let mut held = Vec::new();
    for _ in 0..5_000 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    for _ in 0..1_100 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        held.push(s);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..50 {
        let r = client.get(format!("http://{addr}/healthz")).send().await;
        let r = r.expect("a client was locked out");
        assert_eq!(r.status(), StatusCode::OK);
    }
    drop(held);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn stalled_heads_and_bodies_are_cut_off() {
    for b in backends().await {
        let mut config = b.config();
        config.http_header_timeout_ms = 300;
        config.http_body_timeout_ms = 300;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        // Half a request head: closed without an answer after the header timeout.
        let mut half = connect(&srv).await;
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        // An idle keep-alive connection: closed after an answer and the same timeout.
        let mut idle = connect(&srv).await;
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // A body announced and never sent: 408 `request_timeout`, connection closed.
        let mut stalled = connect(&srv).await;
        stalled
            .write_all(
                b"POST /oidc/token HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
            )
            .await
            .unwrap();
        let answer = read_to_close(&mut stalled).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{}: {answer}", b.name);
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
        assert!(
            answer.contains("invalid_request"),
            "an OAuth body: {answer}"
        );
        assert_eq!(read_to_close(&mut half).await, "", "{}", b.name);
        let answered = read_to_close(&mut idle).await;
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
        healthz_answers(&srv, 3).await;
        srv.stop().await;
    }
}

#[tokio::test]
async fn beyond_max_connections_new_connections_are_closed_until_one_frees() {
    for b in backends().await {
        let mut config = b.config();
        config.http_max_connections = 20;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(connect(&srv).await);
        }
        // The limit is counted when the server accepts; give it those 20 first.
        let mut refused = connect(&srv).await;
        let _ = refused
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        assert_eq!(read_to_close(&mut refused).await, "", "{}", b.name);
        drop(held);
        // Freed slots are given back: a client gets in again (retrying while the server
        // notices the closed connections).
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match client.get(srv.url("/healthz")).send().await {
                Ok(r) if r.status() == StatusCode::OK => break,
                other => assert!(
                    std::time::Instant::now() < deadline,
                    "no slot came back: {other:?}"
                ),
            }
            tokio::task::yield_now().await;
        }
        srv.stop().await;
    }
}
