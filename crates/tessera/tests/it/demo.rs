//! `tessera demo` through the real binary (SQLite only, like the command): it starts, prints
//! its values and curl commands, and the printed flow works — the migration journey from
//! start to tokens with the custom amr, a refused legacy token, the backend journey, the
//! demo page on the helper listener (its origin allowed by the demo client), the legacy validator
//! down or timing out (abort, and the failure branch); SIGTERM stops it and deletes its temp
//! data dir.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::claims;

/// Stops the demo when the test ends or fails: SIGTERM (so it deletes its temp data dir),
/// then SIGKILL after 10 s.
pub(crate) struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tessera demo` on free ports; returns it, its printed `key: value` lines and the
/// whole output up to the end of the printed commands.
pub(crate) fn start_demo() -> (Demo, BTreeMap<String, String>, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("TESSERA_DATABASE_URL", "postgres://must-not-be-read")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut demo = Demo(child);
    let stdout = demo.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut text = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains("/ido/api/v2/invoke-api-journey/validate-transaction");
                text.push_str(&line);
                text.push('\n');
                if done {
                    break;
                }
            }
            Err(e) => panic!("tessera demo printed no commands ({e}):\n{text}"),
        }
    }
    // The rest of the last command.
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
        text.push_str(&line);
        text.push('\n');
    }
    let values = text
        .lines()
        .take_while(|l| !l.starts_with("The validator"))
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    (demo, values, text)
}

/// A token of the demo's admin client (its credentials are in the data dir).
pub(crate) async fn admin_token(http: &reqwest::Client, base: &str, data_dir: &str) -> String {
    let admin: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(data_dir).join("admin-credentials.json"))
            .unwrap(),
    )
    .unwrap();
    let r = http
        .post(format!("{base}/oidc/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", admin["client_id"].as_str().unwrap()),
            ("client_secret", admin["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The passcode last emailed to `to`, from the development outbox.
pub(crate) async fn passcode(http: &reqwest::Client, base: &str, admin: &str, to: &str) -> String {
    let outbox: Value = http
        .get(format!("{base}/cis/v1/dev/outbox?to={to}"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    outbox[0]["text"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() >= 6)
        .unwrap()
        .to_string()
}

/// The origin of a URL (`http://host:port`).
fn origin(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("http://{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

#[tokio::test]
async fn tessera_demo_runs_the_printed_flow_and_stops_on_sigterm() {
    let (mut demo, values, text) = start_demo();
    let base = values["Tessera"].clone();
    let client_id = values["client_id"].clone();
    let secret = values["client_secret"].clone();
    let page = values["Demo page"].clone();
    let data_dir = values["Data dir"]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(std::path::Path::new(&data_dir).is_dir(), "{data_dir}");
    assert!(text.contains(&format!("CLIENT_ID={client_id}")), "{text}");
    assert!(text.contains("code_verifier="), "{text}");
    // The admin secret is not printed, only where to read it.
    let admin: Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(&data_dir).join("admin-credentials.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(!text.contains(admin["client_secret"].as_str().unwrap()));

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let verifier = text
        .split("code_verifier=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let challenge = text
        .split("\"code_challenge\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    // 1. Start with the legacy login's values, as printed.
    let start = format!("/ido/api/v2/journeys/migrate-legacy-user/start?clientId={client_id}");
    let r = http
        .post(format!("{base}{start}"))
        .json(&json!({"additionalParams": {"username": values["Demo user"].split_whitespace().next().unwrap(),
                                           "externalToken": values["Legacy token"], "amr": "legacy.sso"},
                      "code_challenge": challenge, "code_challenge_method": "S256"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "client_input_required", "{v}");
    assert_eq!(v["journey_step_id"], "second_factor");
    assert_eq!(v["data"]["email"], "a***@example.com", "{v}");
    assert!(v["client_response_options"]["resend"].is_object(), "{v}");
    let id = v["interaction_id"].as_str().unwrap();

    // 2. Submit the emailed passcode (from the development outbox).
    let admin_token = admin_token(&http, &base, &data_dir).await;
    let passcode = passcode(&http, &base, &admin_token, "ann@example.com").await;
    let r = http
        .post(format!("{base}/ido/api/v2/interactions/{id}/submit"))
        .json(&json!({"option": "client_input", "data": {"passcode": passcode}}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "journey_success", "{v}");
    let code = v["code"].as_str().unwrap();

    // 3. Exchange with the printed verifier.
    let r = http
        .post(format!("{base}/oidc/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("code", code),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let at = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["amr"], json!(["legacy.sso", "eotp", "mfa"]), "{at}");
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id_token["email"], "ann@example.com",
        "the demo user: {id_token}"
    );

    // A token the toy validator refuses: a rejection naming the step.
    let r = http
        .post(format!("{base}{start}"))
        .json(&json!({"additionalParams": {"username": "ann", "externalToken": "legacy-bob"}}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "journey_rejection", "{v}");
    assert_eq!(v["error_data"]["code"], "invalid_token", "{v}");
    assert_eq!(v["error_data"]["step_id"], "legacy_login", "{v}");
    // The fallback variant rejects an unknown user through its branch.
    let r = http
        .post(format!(
            "{base}/ido/api/v2/journeys/migrate-legacy-user-fallback/start?clientId={client_id}"
        ))
        .json(&json!({"additionalParams": {"username": "zed", "externalToken": "legacy-zed"}}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "journey_rejection", "{v}");
    assert_eq!(v["data"], json!({"reason": "user_not_found"}), "{v}");

    // The backend journey with the printed tokens.
    let access = text
        .split("\"external_access_token\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let id_tok = text
        .split("\"external_id_token\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let r = http
        .post(format!("{base}/oidc/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let client_token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .post(format!(
            "{base}/ido/api/v2/invoke-api-journey/validate-transaction?clientId={client_id}"
        ))
        .bearer_auth(&client_token)
        .json(&json!({"external_access_token": access, "external_id_token": id_tok}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"result": "allowed"})
    );

    // The demo page on the helper listener; its origin may call Tessera (CORS), and the
    // page talks to Tessera directly.
    let helper = origin(&page);
    assert_eq!(origin(&values["Validator"]), helper);
    let r = http.get(&page).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("app.js"));
    let r = http
        .get(format!("{helper}/demo/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let server_path = url::Url::parse(&page)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "serverPath")
        .unwrap()
        .1
        .to_string();
    assert_eq!(server_path, format!("{base}/ido"));
    let r = http
        .post(format!("{base}{start}"))
        .header("origin", &helper)
        .json(
            &json!({"additionalParams": {"username": "newbie", "externalToken": "legacy-newbie"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"].to_str().unwrap(),
        helper
    );
    // A user created from the legacy login has no email for the second factor.
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "journey_rejection", "{v}");
    assert_eq!(v["error_data"]["code"], "user_email_address_missing", "{v}");
    // The helper serves nothing else.
    let r = http
        .get(format!("{helper}/ido/sdk/tessera-ido.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The toy validator's contract.
    for (body, status) in [
        (json!({"user_id": "ann", "token": "legacy-ann"}), 200),
        (json!({"user_id": "ann", "token": "legacy-bob"}), 401),
        (json!({"token": "legacy-"}), 401),
    ] {
        let r = http
            .post(&values["Validator"])
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
    }
    // `/` leads to the prefilled page.
    let no_redirect = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(format!("{helper}/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains(&format!("clientId={client_id}")));

    // The printed shell commands themselves, when curl and jq are installed.
    let has = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("curl") && has("jq") && has("bash") {
        let script: String = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("TESSERA="))
            .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap_or(l)))
            .collect();
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stderr.contains("\"journey_success\""), "{stderr}");
        assert!(stdout.contains("\"access_token\""), "{stdout}");
        assert!(stdout.contains("\"journey_rejection\""), "{stdout}");
        assert!(stdout.contains("{\"result\":\"allowed\"}"), "{stdout}");
    } else {
        eprintln!("SKIPPED running the printed commands: needs bash, curl and jq");
    }

    // The legacy validator down, then too slow: the migration journey aborts, the fallback
    // variant takes its failure branch (the admin re-points `legacy`).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    for target in [closed, silent_addr] {
        let r = http
            .put(format!("{base}/ido/api/v2/connections/legacy"))
            .bearer_auth(&admin_token)
            .json(
                &json!({"type": "token_validator", "url": format!("http://{target}/validate"),
                          "valid_when": "status == 200 && body.valid == true", "timeout_ms": 500}),
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        let began = Instant::now();
        let v: Value = http
            .post(format!("{base}{start}"))
            .json(&json!({"additionalParams": {"username": "ann", "externalToken": "legacy-ann"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["type"], "journey_rejection", "{target}: {v}");
        assert_eq!(v["error_data"]["code"], "outbound_error", "{target}: {v}");
        assert!(v.get("code").is_none());
        assert!(began.elapsed() < Duration::from_secs(4), "{target}");
        let v: Value = http
            .post(format!(
                "{base}/ido/api/v2/journeys/migrate-legacy-user-fallback/start?clientId={client_id}"
            ))
            .json(&json!({"additionalParams": {"username": "ann", "externalToken": "legacy-ann"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["type"], "journey_rejection", "{target}: {v}");
        assert_eq!(
            v["data"],
            json!({"reason": "outbound_error"}),
            "{target}: {v}"
        );
    }
    hold.abort();

    // SIGTERM stops everything and deletes the temp data dir.
    let pid = demo.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = demo.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "tessera demo did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    assert!(!std::path::Path::new(&data_dir).exists(), "{data_dir}");
    assert!(http.get(&page).send().await.is_err());
}

#[test]
fn tessera_demo_refuses_a_data_dir_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a fresh data dir"), "{stderr}");
    assert!(dir.path().join("something").exists());
}
