//! Serving https (`--tls-cert`, `--tls-key`): discovery and tokens over TLS, plain http
//! refused on the TLS port, certificate reload (good and bad pairs), the handshake timeout and
//! start-up errors.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tessera::server::{self, MigrateMode};
use tessera::tls::Reload;
use tessera_identity::TestClock;
use tokio::io::AsyncReadExt;

use crate::harness::{backends, now_ms, TestCa, TestServer, TestTls};

/// A client that opens a new connection for every request and trusts `ca` only.
fn fresh_client(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn start(b: &crate::harness::Backend, tls: &TestTls) -> TestServer {
    TestServer::start_tls(
        b.config_with_address_issuer(),
        TestClock::new(now_ms()),
        tls,
    )
    .await
}

fn certs(srv: &TestServer) -> std::sync::Arc<tessera::tls::Certificates> {
    srv.server.as_ref().unwrap().tls.clone().unwrap()
}

#[tokio::test]
async fn discovery_and_a_client_credentials_token_over_https() {
    for b in backends().await {
        let tls = TestTls::new();
        let srv = start(&b, &tls).await;
        assert_eq!(srv.issuer, format!("https://{}", srv.addr()), "{}", b.name);

        let r = srv
            .http
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.version(),
            reqwest::Version::HTTP_2,
            "ALPN chose HTTP/2 for a client offering it"
        );
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["issuer"], srv.issuer.as_str());
        assert_eq!(doc["token_endpoint"], format!("{}/oidc/token", srv.issuer));

        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv.app_and_client(&admin, serde_json::json!({})).await;
        let token = srv.token(&client_id, &secret).await;
        let claims = crate::harness::claims(&token);
        assert_eq!(claims["iss"], srv.issuer.as_str());
        assert_eq!(claims["sub"], client_id.as_str());

        // An HTTP/1.1-only client gets HTTP/1.1 on the same port.
        let http1 = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(tls.ca.cert_pem.as_bytes()).unwrap(),
            )
            .http1_only()
            .build()
            .unwrap();
        let r = http1
            .post(srv.url("/oidc/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.version(), reqwest::Version::HTTP_11);

        // A client that does not trust the test CA refuses the server.
        let other = TestCa::new("Some other CA");
        let err = fresh_client(&other)
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_no_answer() {
    for b in backends().await {
        let tls = TestTls::new();
        let srv = start(&b, &tls).await;
        let plain = reqwest::Client::new();
        let res = plain
            .get(format!(
                "http://{}/.well-known/openid-configuration",
                srv.addr()
            ))
            .send()
            .await;
        assert!(res.is_err(), "plain http was answered: {res:?}");
        // The server still serves https afterwards.
        let r = srv
            .http
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_to_new_connections_only() {
    for b in backends().await {
        let tls = TestTls::new();
        let srv = start(&b, &tls).await;
        let discovery = srv.url("/.well-known/openid-configuration");
        // A connection made before the reload, kept alive by the pool.
        let kept = tls.client();
        assert_eq!(
            kept.get(&discovery).send().await.unwrap().status(),
            StatusCode::OK
        );

        let next = TestCa::new("Next CA");
        let (cert, key) = next.server_pair();
        tls.write(&cert, &key);
        let mut installed = certs(&srv).installed();
        assert_eq!(certs(&srv).reload().await, Reload::Reloaded, "{}", b.name);
        assert!(installed.has_changed().unwrap(), "the reload is announced");
        assert_eq!(*installed.borrow_and_update(), 1);

        // New connections: the new CA's certificate; a client of the old CA refuses it.
        let r = fresh_client(&next).get(&discovery).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let err = fresh_client(&tls.ca)
            .get(&discovery)
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        // The open connection keeps the certificate it was made with.
        assert_eq!(
            kept.get(&discovery).send().await.unwrap().status(),
            StatusCode::OK
        );
        // Nothing changed since: nothing to do.
        assert_eq!(certs(&srv).reload().await, Reload::Unchanged);
        srv.stop().await;
    }
}

#[tokio::test]
async fn the_background_poll_picks_up_changed_files() {
    let tls = TestTls {
        reload_interval: Duration::from_millis(100),
        ..TestTls::new()
    };
    for b in backends().await {
        let (cert, key) = tls.ca.server_pair();
        tls.write(&cert, &key);
        let srv = start(&b, &tls).await;
        let mut installed = certs(&srv).installed();
        let next = TestCa::new("Polled CA");
        let (cert, key) = next.server_pair();
        tls.write(&cert, &key);
        tokio::time::timeout(Duration::from_secs(20), installed.changed())
            .await
            .expect("the poll installed the new pair")
            .unwrap();
        let r = fresh_client(&next)
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_bad_new_pair_keeps_the_previous_certificate() {
    for b in backends().await {
        let tls = TestTls::new();
        let srv = start(&b, &tls).await;
        let discovery = srv.url("/.well-known/openid-configuration");
        let (good_cert, good_key) = (
            std::fs::read_to_string(&tls.cert).unwrap(),
            std::fs::read_to_string(&tls.key).unwrap(),
        );

        // Not PEM at all.
        tls.write("not a certificate", &good_key);
        match certs(&srv).reload().await {
            Reload::Rejected(why) => {
                assert!(why.contains(&tls.cert.display().to_string()), "{why}");
                assert!(why.contains("no PEM CERTIFICATE"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // The same bad files again: already reported.
        assert_eq!(certs(&srv).reload().await, Reload::Unchanged);

        // A key that belongs to another certificate (a rotation caught half-way).
        let (_, other_key) = TestCa::new("Half-way CA").server_pair();
        tls.write(&good_cert, &other_key);
        match certs(&srv).reload().await {
            Reload::Rejected(why) => {
                assert!(why.contains("does not belong"), "{why}");
                assert!(why.contains(&tls.key.display().to_string()), "{why}");
                assert!(!why.contains("PRIVATE KEY"), "no key material: {why}");
            }
            other => panic!("{other:?}"),
        }
        // A key file without a key.
        tls.write(
            &good_cert,
            "-----BEGIN NOTHING-----\n-----END NOTHING-----\n",
        );
        assert!(matches!(
            certs(&srv).reload().await,
            Reload::Rejected(why) if why.contains("holds no PEM private key")
        ));
        // A file that went away.
        std::fs::remove_file(&tls.key).unwrap();
        assert!(matches!(
            certs(&srv).reload().await,
            Reload::Rejected(why) if why.contains("reading")
        ));

        // Still the first certificate for new connections.
        let r = fresh_client(&tls.ca).get(&discovery).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(
            *certs(&srv).installed().borrow(),
            0,
            "nothing was installed"
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_connection_that_never_handshakes_is_closed_after_the_timeout() {
    for b in backends().await {
        let tls = TestTls {
            handshake_timeout: Duration::from_millis(300),
            ..TestTls::new()
        };
        let srv = start(&b, &tls).await;
        let started = Instant::now();
        let mut stalled = tokio::net::TcpStream::connect(srv.addr()).await.unwrap();
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(20), stalled.read(&mut buf))
            .await
            .expect("the server closed the connection");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "the server sent {read:?} to a client that said nothing"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "closed before the timeout: {:?}",
            started.elapsed()
        );
        // Other clients were served meanwhile and still are.
        let r = srv
            .http
            .get(srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_bad_pair_at_start_fails_naming_the_file() {
    for b in backends().await {
        let tls = TestTls::new();
        let (_, other_key) = tls.ca.server_pair();
        std::fs::write(&tls.key, other_key).unwrap();
        let mut config = b.config_with_address_issuer();
        config.tls = Some(tls.config());
        let err = server::start(
            config.clone(),
            std::sync::Arc::new(TestClock::new(now_ms())),
            MigrateMode::Migrate,
        )
        .await
        .err()
        .expect("a mismatched pair is refused");
        let text = format!("{err:#}");
        assert!(text.contains("does not belong"), "{text}");
        assert!(text.contains(&tls.key.display().to_string()), "{text}");

        let missing = tls.dir.path().join("missing.pem");
        config.tls = Some(tessera::tls::TlsConfig {
            cert: missing.clone(),
            ..tls.config()
        });
        let err = server::start(
            config,
            std::sync::Arc::new(TestClock::new(now_ms())),
            MigrateMode::Migrate,
        )
        .await
        .err()
        .expect("a missing file is refused");
        let text = format!("{err:#}");
        assert!(text.contains(&missing.display().to_string()), "{text}");
        assert!(text.contains("TLS certificate"), "{text}");
    }
}
