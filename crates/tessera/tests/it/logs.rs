//! The real binary at TRACE level never logs a secret: run a full client flow against
//! `tessera serve` and grep everything it wrote to stderr for every secret created.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tessera_identity::TestClock;

use crate::harness::{TestServer, ADMIN_ID, ADMIN_SECRET};

#[tokio::test]
async fn trace_logs_of_a_full_run_contain_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "trace",
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("TESSERA_ADMIN_CLIENT_ID", ADMIN_ID)
        .env("TESSERA_ADMIN_CLIENT_SECRET", ADMIN_SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut logs = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        assert!(Instant::now() < deadline, "server did not start: {logs}");
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("server exited: {logs}");
        }
        logs.push_str(&line);
        if line.contains("tessera is listening") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            break v["addr"].as_str().unwrap().to_string();
        }
    };
    let srv = TestServer {
        server: None,
        base: format!("http://{addr}"),
        issuer: format!("http://{addr}"),
        clock: TestClock::new(0),
        http: reqwest::Client::new(),
    };
    let admin = srv.admin_token().await;
    let (app_id, id, secret) = srv.app_and_client(&admin, json!({})).await;
    let token = srv.token(&id, &secret).await;
    let (_, rotated) = srv
        .send_json(
            Method::POST,
            &format!("/cis/v1/applications/{app_id}/clients/{id}/secret"),
            &admin,
            None,
        )
        .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    srv.form(
        "/oidc/introspect",
        &[
            ("client_id", &id),
            ("client_secret", &new_secret),
            ("token", &token),
        ],
    )
    .await;
    srv.form(
        "/oidc/revoke",
        &[
            ("client_id", &id),
            ("client_secret", &new_secret),
            ("token", &token),
        ],
    )
    .await;
    srv.http
        .get(srv.url("/cis/v1/applications?secret_in_query="))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();

    #[cfg(unix)]
    {
        // SIGTERM: graceful shutdown, then the rest of the log.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    logs.push_str(&rest);
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    assert!(logs.contains("shutting down"), "the shutdown is logged");
    assert!(logs.lines().count() > 5, "trace logging produced output");
    for (name, value) in [
        ("admin secret", ADMIN_SECRET),
        ("client secret", secret.as_str()),
        ("rotated secret", new_secret.as_str()),
        ("admin token", admin.as_str()),
        ("client token", token.as_str()),
    ] {
        assert!(!logs.contains(value), "the {name} appears in the logs");
    }
    // Token signatures alone must not appear either.
    assert!(!logs.contains(token.rsplit('.').next().unwrap()));
}
