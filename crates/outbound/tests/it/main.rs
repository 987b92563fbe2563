//! Integration tests of tessera-outbound against a tiny HTTP server on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tessera_journey::{Outbound, OutboundErrorKind, OutboundRequest};
use tessera_outbound::{is_forbidden, HttpOutbound, IpNet, OutboundConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `/ok`, `/big` (2 MiB), `/slow` (2 s delay) and `/redirect` (302 to `/ok`).
async fn server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let response = match path.as_str() {
                    "/big" => {
                        let body = "x".repeat(2 << 20);
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len())
                    }
                    "/big-chunked" => {
                        let chunk = "y".repeat(64 * 1024);
                        let mut s = String::from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
                        for _ in 0..20 {
                            s.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
                        }
                        s.push_str("0\r\n\r\n");
                        s
                    }
                    "/slow" => {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow".to_string()
                    }
                    "/redirect" => "HTTP/1.1 302 Found\r\nlocation: /ok\r\ncontent-length: 0\r\n\r\n".to_string(),
                    _ => "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello".to_string(),
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

fn get(url: String, timeout_ms: u64) -> OutboundRequest {
    OutboundRequest {
        method: "GET".into(),
        url,
        headers: vec![],
        body: None,
        timeout: Duration::from_millis(timeout_ms),
        connection: Some("test".into()),
    }
}

fn allowing_loopback() -> HttpOutbound {
    HttpOutbound::new(OutboundConfig {
        allow_cidrs: vec!["127.0.0.0/8".parse::<IpNet>().unwrap()],
        ..OutboundConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn loopback_is_refused_without_allowlist() {
    let addr = server().await;
    let client = HttpOutbound::new(OutboundConfig::default()).unwrap();
    let err = client
        .send(get(format!("http://127.0.0.1:{}/ok", addr.port()), 2000))
        .await
        .unwrap_err();
    assert_eq!(err.kind, OutboundErrorKind::ForbiddenAddress);
    // Through DNS: `localhost` resolves to loopback and is refused at connect time.
    let err = client
        .send(get(format!("http://localhost:{}/ok", addr.port()), 2000))
        .await
        .unwrap_err();
    assert_eq!(err.kind, OutboundErrorKind::ForbiddenAddress, "{err}");
}

#[tokio::test]
async fn loopback_is_allowed_with_allowlist() {
    let addr = server().await;
    let client = allowing_loopback();
    let r = client
        .send(get(format!("http://127.0.0.1:{}/ok", addr.port()), 2000))
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
    let r = client
        .send(get(format!("http://localhost:{}/ok", addr.port()), 2000))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn oversized_responses_are_refused() {
    let addr = server().await;
    let client = allowing_loopback();
    for path in ["big", "big-chunked"] {
        let err = client
            .send(get(
                format!("http://127.0.0.1:{}/{path}", addr.port()),
                5000,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.kind, OutboundErrorKind::TooLarge, "{path}");
    }
}

#[tokio::test]
async fn timeout_is_honoured() {
    let addr = server().await;
    let client = allowing_loopback();
    let started = std::time::Instant::now();
    let err = client
        .send(get(format!("http://127.0.0.1:{}/slow", addr.port()), 200))
        .await
        .unwrap_err();
    assert_eq!(err.kind, OutboundErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let addr = server().await;
    let client = allowing_loopback();
    let r = client
        .send(get(
            format!("http://127.0.0.1:{}/redirect", addr.port()),
            2000,
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 302);
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn literal_special_addresses_and_other_schemes_are_refused() {
    let client = HttpOutbound::new(OutboundConfig::default()).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://[fd00::1]/",
        "http://[64:ff9b::7f00:1]/",
    ] {
        let err = client.send(get(url.into(), 1000)).await.unwrap_err();
        assert_eq!(err.kind, OutboundErrorKind::ForbiddenAddress, "{url}");
    }
    let err = client
        .send(get("ftp://example.com/".into(), 1000))
        .await
        .unwrap_err();
    assert_eq!(err.kind, OutboundErrorKind::InvalidUrl);
}

#[test]
fn special_purpose_table() {
    let forbidden = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "::1",
        "::",
        "fc00::1",
        "fdff::1",
        "fe80::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ];
    for ip in forbidden {
        assert!(is_forbidden(ip.parse::<IpAddr>().unwrap(), &[]), "{ip}");
    }
    for ip in [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
    ] {
        assert!(!is_forbidden(ip.parse::<IpAddr>().unwrap(), &[]), "{ip}");
    }
    let allow = ["127.0.0.0/8".parse::<IpNet>().unwrap()];
    assert!(!is_forbidden("127.0.0.1".parse().unwrap(), &allow));
    assert!(!is_forbidden("::ffff:127.0.0.1".parse().unwrap(), &allow));
    assert!(is_forbidden("10.0.0.1".parse().unwrap(), &allow));
}
