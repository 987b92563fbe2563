//! Interoperability with a third-party relying party: `tests/interop/ciba.mjs` drives CIBA
//! with the npm `openid-client` library (discovery, `initiateBackchannelAuthentication`,
//! `pollBackchannelAuthenticationGrant`, ping mode with its own notification receiver, the ID
//! token validated by the library, errors the library raises) against a server whose issuer
//! is the URL node talks to. This module prepares the node packages (`npm ci` when
//! `node_modules` is missing), sets up the clients and the user, runs the script and checks
//! its JSON output against what it set up.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{backends, now_ms, TestServer, SECRET};

/// The npm package with the script, its `package.json` and `package-lock.json`.
const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");
/// The oldest Node.js major `openid-client` 6 supports.
const MIN_NODE_MAJOR: u32 = 20;
/// A backstop: the script ends itself after 60 s.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);
const LOGIN_URI: &str = "https://app.example/ciba";

/// The interop directory once its packages are installed; `npm ci` runs at most once per
/// test process, whichever test asks first.
pub(crate) fn prepared_interop_dir() -> Result<PathBuf, String> {
    static PREPARED: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = PathBuf::from(INTEROP_DIR);
    PREPARED.get_or_init(|| prepare(&dir)).clone().map(|()| dir)
}

fn prepare(dir: &Path) -> Result<(), String> {
    let version = tool_version("node")?;
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("`node --version` printed {version:?}"))?;
    if major < MIN_NODE_MAJOR {
        return Err(format!(
            "the interop tests need Node.js {MIN_NODE_MAJOR} or newer; `node --version` is {}",
            version.trim()
        ));
    }
    let modules = dir.join("node_modules");
    if !modules.exists() {
        install(dir)?;
    }
    // An install from an older package.json would test another library version.
    let wanted = pinned_version(&dir.join("package.json"))?;
    let installed = pinned_version_of_installed(&modules)?;
    if wanted != installed {
        return Err(format!(
            "{} holds openid-client {installed}, package.json pins {wanted}: run `npm ci` in {}",
            modules.display(),
            dir.display()
        ));
    }
    Ok(())
}

fn tool_version(tool: &str) -> Result<String, String> {
    let out = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "the interop tests need Node.js {MIN_NODE_MAJOR}+ and npm on the PATH, and \
                 running `{tool} --version` failed: {e}"
            )
        })?;
    if !out.status.success() {
        return Err(format!("`{tool} --version` exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `npm ci` in a scratch directory beside `node_modules`, then one rename into place, so a
/// test process running at the same time never sees a half-installed tree (whichever rename
/// comes second finds the directory there and keeps it).
fn install(dir: &Path) -> Result<(), String> {
    tool_version("npm")?;
    let staging = tempfile::Builder::new()
        .prefix(".npm-ci-")
        .tempdir_in(dir)
        .map_err(|e| format!("creating a scratch directory in {}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), staging.path().join(file))
            .map_err(|e| format!("copying {file}: {e}"))?;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(staging.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running `npm ci`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`npm ci --no-audit --no-fund` in {} failed ({}): {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let modules = dir.join("node_modules");
    if let Err(e) = std::fs::rename(staging.path().join("node_modules"), &modules) {
        if !modules.join("openid-client").exists() {
            return Err(format!("moving node_modules into place: {e}"));
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The exact `openid-client` version `package.json` depends on.
fn pinned_version(package_json: &Path) -> Result<String, String> {
    read_json(package_json)?["dependencies"]["openid-client"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{} has no openid-client dependency", package_json.display()))
}

fn pinned_version_of_installed(modules: &Path) -> Result<String, String> {
    let path = modules.join("openid-client/package.json");
    read_json(&path)?["version"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{} has no version", path.display()))
}

/// Runs `node <script>` in `dir` with `input` in `TESSERA_INTEROP`; its stdout as JSON.
/// Panics with the script's stderr if it fails.
async fn run_script(dir: &Path, script: &str, input: &Value) -> Value {
    run_json_script(Path::new("node"), dir, script, input).await
}

/// Runs `<program> <script>` in `dir` with `input` in the environment variable
/// `TESSERA_INTEROP`, without blocking the test's runtime (the server runs on it); its stdout
/// as JSON. Panics with the script's stderr if it fails or runs past its deadline.
pub(crate) async fn run_json_script(
    program: &Path,
    dir: &Path,
    script: &str,
    input: &Value,
) -> Value {
    let name = program.display();
    let mut child = Command::new(program)
        .arg(script)
        .current_dir(dir)
        .env("TESSERA_INTEROP", input.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name} {script}: {e}"));
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        tokio::task::spawn_blocking(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).map(|_| text)
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    // The server runs on this test's runtime: wait without blocking it.
    let deadline = Instant::now() + SCRIPT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{name} {script} did not end within {SCRIPT_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stdout = stdout.await.unwrap().unwrap();
    let stderr = stderr.await.unwrap().unwrap();
    assert!(
        status.success(),
        "{name} {script} failed ({status}):\n{stderr}\nstdout: {stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name} {script} printed no JSON ({e}): {stdout}\n{stderr}"))
}

#[tokio::test]
async fn openid_client_runs_ciba_in_poll_and_ping_mode() {
    let dir = tokio::task::spawn_blocking(prepared_interop_dir)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    for b in backends().await {
        let srv = TestServer::start_on_wall_clock(b.config_with_address_issuer()).await;
        assert_eq!(srv.issuer, srv.base, "the issuer is the URL node uses");
        let admin = srv.admin_token().await;
        let ciba = json!({"ciba_authorization": {"enabled": true, "login_uri": LOGIN_URI}});
        // The poll client authenticates with HTTP Basic, the ping client in the form.
        let mut basic = ciba.clone();
        basic["token_endpoint_auth_method"] = json!("client_secret_basic");
        let (_, poll_id, poll_secret) = srv.app_and_client(&admin, basic).await;
        // The ping client's ID tokens are ES256 (the default is RS256).
        let mut es256 = ciba.clone();
        es256["id_token_signed_response_alg"] = json!("ES256");
        let (ping_app, ping_id, ping_secret) = srv.app_and_client(&admin, es256).await;
        let (_, backend_id, backend_secret) = srv.app_and_client(&admin, json!({})).await;
        let backend = srv.token(&backend_id, &backend_secret).await;
        let ann = srv
            .create_user(
                &backend,
                json!({"username": "ann", "credentials": {"password": SECRET}}),
            )
            .await;
        let input = json!({
            "issuer": srv.issuer,
            "admin": {"client_id": crate::harness::ADMIN_ID, "client_secret": crate::harness::ADMIN_SECRET},
            "poll_client": {"client_id": poll_id, "client_secret": poll_secret, "id_token_alg": "RS256"},
            "ping_client": {"app_id": ping_app, "client_id": ping_id, "client_secret": ping_secret, "id_token_alg": "ES256"},
            "backend_client": {"client_id": backend_id, "client_secret": backend_secret},
            "user": {"user_id": ann, "username": "ann", "password": SECRET},
        });
        let started_s = now_ms() / 1000;
        let out = run_script(&dir, "ciba.mjs", &input).await;
        let ended_s = now_ms() / 1000 + 1;
        let name = b.name;

        assert_eq!(out["discovery"]["issuer"], srv.issuer, "{name}");
        assert_eq!(
            out["discovery"]["backchannel_token_delivery_modes_supported"],
            json!(["poll", "ping"])
        );
        assert_eq!(
            out["unknown_user"],
            json!({"error": "unknown_user_id", "status": 400, "error_description": "the hint does not identify a user who can be asked"}),
            "{name}"
        );

        // A wrong secret: 401 `invalid_client` with a Basic challenge the library parses
        // (naming the error when the client used Basic, RFC 6749 §5.2).
        for (method, params) in [
            (
                "basic",
                json!({"realm": "tessera", "error": "invalid_client"}),
            ),
            ("post", json!({"realm": "tessera"})),
        ] {
            let w = &out["wrong_secret"][method];
            assert_eq!(w["status"], 401, "{name} {method}: {w}");
            assert_eq!(
                w["challenges"],
                json!([{"scheme": "basic", "parameters": params}]),
                "{name} {method}"
            );
            assert_eq!(w["body"]["error"], "invalid_client", "{name} {method}");
        }

        for (mode, client_id, alg) in [("poll", &poll_id, "RS256"), ("ping", &ping_id, "ES256")] {
            let r = &out[mode];
            assert_eq!(r["id_token_alg"], alg, "{name} {mode}");
            let c = &r["claims"];
            assert_eq!(c["iss"], srv.issuer, "{name} {mode}");
            assert_eq!(c["sub"], ann.as_str(), "{name} {mode}");
            assert_eq!(c["aud"], client_id.as_str(), "{name} {mode}");
            assert_eq!(c["amr"], json!(["pwd"]), "{name} {mode}");
            let auth_time = c["auth_time"].as_i64().unwrap();
            assert!(
                (started_s..=ended_s).contains(&auth_time),
                "{name} {mode}: auth_time {auth_time} outside the run [{started_s}, {ended_s}]"
            );
            assert!(c["iat"].as_i64().unwrap() >= auth_time, "{name} {mode}");
            assert!(c["exp"].as_i64().unwrap() > ended_s, "{name} {mode}");
            assert_eq!(r["token_type"], "bearer", "{name} {mode}");
            assert_eq!(r["scope"], "openid", "{name} {mode}");
            assert!(r["expires_in"].as_i64().unwrap() > 0, "{name} {mode}");
            assert_eq!(r["has_refresh_token"], false, "{name} {mode}");
        }
        // The library waited the interval the server asked for, which the server accepted:
        // one pending answer (the user decided after it), the tokens (no slow_down), then
        // the refused second redemption.
        assert_eq!(
            out["poll"]["token_endpoint_answers"],
            json!(["authorization_pending", "200", "invalid_grant"]),
            "{name}"
        );
        assert_eq!(out["poll"]["interval"], 5);
        assert_eq!(out["poll"]["expires_in_request"], 300);
        assert_eq!(out["poll"]["second_redemption"]["error"], "invalid_grant");
        assert_eq!(out["poll"]["second_redemption"]["status"], 400);
        assert_eq!(
            (&out["denied"]["error"], &out["denied"]["status"]),
            (&json!("access_denied"), &json!(400)),
            "{name}: {}",
            out["denied"]
        );
        assert_eq!(
            out["denied"]["token_endpoint_answers"],
            json!(["access_denied"])
        );
        // Ping: the notification came first, then one grant request got the tokens.
        assert_eq!(
            out["ping"]["token_endpoint_answers"],
            json!(["200"]),
            "{name}"
        );
        assert_eq!(
            out["ping"]["notification"]["authorization_scheme"],
            "Bearer"
        );
        assert!(out["ping"]["notification"]["body"]["auth_req_id"].is_string());
        srv.stop().await;
    }
}
