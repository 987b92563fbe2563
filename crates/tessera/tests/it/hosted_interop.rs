//! The authorization code flow through Tessera's hosted login with third-party relying
//! parties (issue 13 point 9):
//!
//! - `openid_client_rps_in_chromium_log_in_share_the_session_and_log_out`: two relying
//!   parties built with npm `openid-client` (`tests/interop/rp.mjs`; one confidential, one
//!   public with PKCE only) and headless Chromium. RP1 `/login` → the hosted login page → the
//!   username and password typed into the form its script renders → RP1 shows the user's sub
//!   (the library validated state, nonce, `iss` and the ID token, then called userinfo); RP2
//!   `/login` → straight back to RP2 with the user signed in, no request ever reaching
//!   `/oidc/login` (Chromium's network log); RP1 `/logout` → Tessera ends the session → RP1's
//!   `/logged-out` with its state; RP2 `/login` again → the login page.
//! - `authlib_runs_the_code_flow_sso_and_logout_over_http`: `tests/interop/authlib_rp.py`
//!   (Python `authlib` + `requests`, no browser) drives the same flow at the HTTP level for a
//!   confidential and a public client: the hosted page's JSON configuration, the login journey
//!   over the IDO JSON API, the completion form, the code exchange, the ID token checked
//!   against the JWKS, userinfo, then `prompt=none` SSO, RP-initiated logout and
//!   `login_required`.
//!
//! Discovery must list the `end_session_endpoint`; the logout parts are required.
//!
//! Both run on SQLite and, when `TESSERA_TEST_POSTGRES_URL` is set, PostgreSQL, against a
//! server whose issuer is its own address (the libraries check discovery's `issuer`). Without
//! Chromium the first passes with a notice unless `TESSERA_REQUIRE_CHROMIUM=1`; without a
//! Python that has the pinned packages (`tests/interop/.venv`, made by `.ci/run`, or
//! `TESSERA_PYTHON`) the second passes with a notice unless `TESSERA_REQUIRE_AUTHLIB=1`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, TestServer, ALL_PERMISSIONS, SECRET};
use crate::interop::{prepared_interop_dir, run_json_script};
use crate::webdriver::{Browser, ChromeDriver, WAIT};

const REQUIRE_AUTHLIB_ENV: &str = "TESSERA_REQUIRE_AUTHLIB";
/// The hosted login page's path.
const LOGIN_PAGE: &str = "/oidc/login";
/// The form the page's script renders, found by its autocomplete attributes.
const USERNAME_FIELD: &str = "input[autocomplete=username]";
const PASSWORD_FIELD: &str = "input[autocomplete=current-password]";
const SUBMIT: &str = "form#tessera-step button[type=submit]";
/// The button of Tessera's logout confirmation, when it asks.
const CONFIRM_LOGOUT: &str = "form#tessera-logout button[type=submit]";
/// The dev cookie names on an `http://127.0.0.1` issuer.
const SESSION_COOKIE: &str = "tessera-session";

// ---------------------------------------------------------------------------------------------
// The openid-client relying party, as a running node process.

/// `node rp.mjs` on a free loopback port, killed on drop. Its stdout lines (JSON: first its
/// port and URIs, then one per login or logout) are collected as they come.
struct RelyingParty {
    child: Child,
    origin: String,
    redirect_uri: String,
    post_logout_redirect_uri: String,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: Arc<Mutex<String>>,
}

impl RelyingParty {
    /// Starts an RP for `client_id` (public when `secret` is `None`) named `name`, once it
    /// discovered the issuer and listens.
    async fn start(
        dir: &Path,
        issuer: &str,
        client_id: &str,
        secret: Option<&str>,
        name: &str,
    ) -> Self {
        let mut child = Command::new("node")
            .arg("rp.mjs")
            .args(["--issuer", issuer, "--client-id", client_id, "--name", name])
            .args(["--client-secret", secret.unwrap_or("none"), "--port", "0"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting node rp.mjs: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let (lines, out) = (lines.clone(), child.stdout.take().unwrap());
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                    lines.lock().unwrap().push(v);
                }
            });
            let (stderr, mut err) = (stderr.clone(), child.stderr.take().unwrap());
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = err.read_to_string(&mut text);
                stderr.lock().unwrap().push_str(&text);
            });
        }
        // Discovery talks to the server on this test's runtime: wait without blocking it.
        let deadline = Instant::now() + WAIT;
        let first = loop {
            if let Some(first) = lines.lock().unwrap().first().cloned() {
                break first;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "rp.mjs {name} exited ({status}): {}",
                    stderr.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "rp.mjs {name} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let port = first["port"]
            .as_u64()
            .unwrap_or_else(|| panic!("rp.mjs printed {first}"));
        Self {
            child,
            origin: format!("http://127.0.0.1:{port}"),
            redirect_uri: first["redirect_uri"].as_str().unwrap().to_string(),
            post_logout_redirect_uri: first["post_logout_redirect_uri"]
                .as_str()
                .unwrap()
                .to_string(),
            lines,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// The events it printed (`login`, `logout`, `callback_failed`, …).
    fn events(&self) -> Vec<Value> {
        self.lines.lock().unwrap().iter().skip(1).cloned().collect()
    }
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up shared by both tests.

/// A server with an application holding a confidential and a public client, and a user
/// `ann` with a password.
struct Setup {
    srv: TestServer,
    admin: String,
    app_id: String,
    confidential: (String, String),
    public_id: String,
    ann: String,
}

async fn setup(srv: TestServer) -> Setup {
    let admin = srv.admin_token().await;
    let (s, app) = srv
        .send_json(
            Method::POST,
            "/cis/v1/applications",
            &admin,
            Some(json!({"name": "Interop app"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let app_id = app["result"]["app_id"].as_str().unwrap().to_string();
    let new_client = |body: Value| {
        let (srv, admin, app_id) = (&srv, &admin, &app_id);
        async move {
            let (s, c) = srv
                .send_json(
                    Method::POST,
                    &format!("/cis/v1/applications/{app_id}/clients"),
                    admin,
                    Some(body),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{c}");
            c
        }
    };
    let c = new_client(json!({"name": "Confidential RP"})).await;
    let confidential = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    let c = new_client(json!({"name": "Public RP", "token_endpoint_auth_method": "none"})).await;
    let public_id = c["client_id"].as_str().unwrap().to_string();
    let users = srv
        .client_token(&admin, json!({"permissions": ALL_PERMISSIONS}))
        .await;
    let ann = srv
        .create_user(
            &users,
            json!({"username": "ann", "email": "ann@example.com",
                   "credentials": {"password": SECRET}}),
        )
        .await;
    Setup {
        srv,
        admin,
        app_id,
        confidential,
        public_id,
        ann,
    }
}

impl Setup {
    /// Whether discovery lists an `end_session_endpoint` (RP-initiated logout).
    async fn serves_logout(&self) -> bool {
        let r = self
            .srv
            .http
            .get(self.srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap();
        let d: Value = r.json().await.unwrap();
        d["end_session_endpoint"].is_string()
    }

    /// Registers a client's redirect URI and, when given, its post-logout redirect URI.
    async fn register_uris(&self, client_id: &str, redirect_uri: &str, post_logout: Option<&str>) {
        let mut body = json!({"redirect_uris": [redirect_uri]});
        if let Some(p) = post_logout {
            body["post_logout_redirect_uris"] = json!([p]);
        }
        let (s, v) = self
            .srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{}/clients/{client_id}", self.app_id),
                &self.admin,
                Some(body),
            )
            .await;
        assert!(s.is_success(), "updating {client_id}: {s} {v}");
    }
}

fn path_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// openid-client in Chromium.

/// Types the user's credentials into the hosted login page's form and submits it.
async fn log_in_on_the_page(browser: &Browser, username: &str, password: &str) {
    browser.fill(USERNAME_FIELD, username).await;
    browser.fill(PASSWORD_FIELD, password).await;
    browser.click(SUBMIT).await;
}

/// The JSON in an element the RP's signed-in page shows.
async fn shown_json(browser: &Browser, css: &str) -> Value {
    let text = browser.text(css).await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{css}: {e}: {text}"))
}

/// Waits for the RP's signed-out page; on the way, confirms Tessera's logout page if it
/// asks (RP-initiated logout lets the provider ask the user).
async fn wait_logged_out(browser: &Browser, rp: &RelyingParty, tessera: &str) {
    let deadline = Instant::now() + WAIT;
    let mut confirmed = false;
    loop {
        if browser.try_find("#logged-out").await.is_some() {
            return;
        }
        let url = browser.url().await;
        if !confirmed
            && url.starts_with(tessera)
            && browser.try_find(CONFIRM_LOGOUT).await.is_some()
        {
            browser.click(CONFIRM_LOGOUT).await;
            confirmed = true;
        }
        if Instant::now() >= deadline {
            let error = browser.text("#error").await;
            panic!(
                "never back on {}/logged-out: at {url} (error {error:?}; RP events {:?}; stderr {})",
                rp.origin,
                rp.events(),
                rp.stderr.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn openid_client_rps_in_chromium_log_in_share_the_session_and_log_out() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    let dir = tokio::task::spawn_blocking(prepared_interop_dir)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    for b in backends().await {
        let name = b.name;
        let srv = TestServer::start_on_wall_clock(b.config_with_address_issuer()).await;
        let issuer = srv.issuer.clone();
        let s = setup(srv).await;
        let (rp1_id, rp1_secret) = s.confidential.clone();
        let rp1 = RelyingParty::start(&dir, &issuer, &rp1_id, Some(&rp1_secret), "rp1").await;
        let rp2 = RelyingParty::start(&dir, &issuer, &s.public_id, None, "rp2").await;
        let logout = s.serves_logout().await;
        let post_logout = |rp: &RelyingParty| logout.then(|| rp.post_logout_redirect_uri.clone());
        s.register_uris(&rp1_id, &rp1.redirect_uri, post_logout(&rp1).as_deref())
            .await;
        s.register_uris(
            &s.public_id,
            &rp2.redirect_uri,
            post_logout(&rp2).as_deref(),
        )
        .await;
        let browser = driver.session_with_network_log().await;

        // 1. RP1 → the hosted login page → signed in to RP1.
        browser.navigate(&rp1.url("/login")).await;
        browser.find(USERNAME_FIELD).await;
        let page = browser.url().await;
        assert!(
            page.starts_with(&format!("{issuer}{LOGIN_PAGE}?")),
            "{name}: {page}"
        );
        log_in_on_the_page(&browser, "ann", SECRET).await;
        assert_eq!(browser.wait_text("#sub", &s.ann).await, s.ann, "{name}");
        assert_eq!(path_of(&browser.url().await), "/callback", "{name}");
        assert!(browser.url().await.starts_with(&rp1.origin), "{name}");
        assert_eq!(browser.text("#iss-param").await.unwrap(), issuer, "{name}");
        let c1 = shown_json(&browser, "#claims").await;
        assert_eq!(c1["iss"], issuer.as_str(), "{name}");
        assert_eq!(c1["aud"], rp1_id.as_str(), "{name} {c1}");
        assert_eq!(c1["sub"], s.ann.as_str(), "{name}");
        assert!(c1["nonce"].is_string(), "{name} {c1}");
        assert!(c1["at_hash"].is_string(), "{name} {c1}");
        assert!(c1["auth_time"].is_i64(), "{name} {c1}");
        assert!(
            c1["amr"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("pwd"))),
            "{name} {c1}"
        );
        let sid = c1["sid"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no sid: {c1}"));
        let u1 = shown_json(&browser, "#userinfo").await;
        assert_eq!(u1["sub"], s.ann.as_str(), "{name} {u1}");
        // The browser session cookie: the dev name on an http loopback issuer, HttpOnly, Lax.
        let cookies = browser.cmd(Method::GET, "/cookie", None).await;
        let session = cookies
            .as_array()
            .and_then(|a| a.iter().find(|c| c["name"] == SESSION_COOKIE))
            .unwrap_or_else(|| panic!("{name}: no {SESSION_COOKIE} cookie: {cookies}"));
        assert_eq!(session["httpOnly"], true, "{name} {session}");
        assert_eq!(session["sameSite"], "Lax", "{name} {session}");
        assert_eq!(session["secure"], false, "{name} {session}");

        // 2. RP2: single sign-on, no login page on the way.
        browser.requested_urls().await;
        browser.navigate(&rp2.url("/login")).await;
        assert_eq!(browser.wait_text("#sub", &s.ann).await, s.ann, "{name}");
        let requested = browser.requested_urls().await;
        assert!(
            requested
                .iter()
                .any(|u| u.starts_with(&issuer) && path_of(u) == "/oidc/auth"),
            "{name}: the network log shows no authorization request: {requested:?}"
        );
        assert!(
            !requested
                .iter()
                .any(|u| u.starts_with(&issuer) && path_of(u) == LOGIN_PAGE),
            "{name}: SSO went through the login page: {requested:?}"
        );
        assert!(browser.url().await.starts_with(&rp2.redirect_uri), "{name}");
        let c2 = shown_json(&browser, "#claims").await;
        assert_eq!(c2["aud"], s.public_id.as_str(), "{name} {c2}");
        assert_eq!(c2["sid"], sid, "{name}: one browser session for both RPs");
        assert_eq!(
            c2["auth_time"], c1["auth_time"],
            "{name}: no new authentication"
        );

        assert!(logout, "{name}: discovery lists an end_session_endpoint");
        // 3. RP1 logs out through Tessera's end-session endpoint.
        browser.navigate(&rp1.url("/logout")).await;
        wait_logged_out(&browser, &rp1, &issuer).await;
        assert!(
            browser
                .url()
                .await
                .starts_with(&rp1.post_logout_redirect_uri),
            "{name}"
        );
        let events: Vec<String> = rp1
            .events()
            .iter()
            .map(|e| e["event"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(events, ["login", "logout"], "{name}: {:?}", rp1.events());

        // 4. The session is over: RP2 gets the login page again.
        browser.navigate(&rp2.url("/login")).await;
        browser.find(USERNAME_FIELD).await;
        let page = browser.url().await;
        assert!(
            page.starts_with(&format!("{issuer}{LOGIN_PAGE}?")),
            "{name}: {page}"
        );
        assert_eq!(rp2.events().len(), 1, "{name}: {:?}", rp2.events());

        browser.quit();
        drop((rp1, rp2));
        s.srv.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// authlib over HTTP.

/// A Python with authlib, requests and joserfc: `TESSERA_PYTHON`, else the interop
/// directory's `.venv` (made by `.ci/run`), else `python3`. `None` (with a notice) when none
/// has them, unless `TESSERA_REQUIRE_AUTHLIB=1`.
fn python_with_authlib(dir: &Path) -> Option<PathBuf> {
    let venv = dir.join(".venv/bin/python");
    let candidate = match std::env::var_os("TESSERA_PYTHON") {
        Some(p) => PathBuf::from(p),
        None if venv.exists() => venv,
        None => PathBuf::from("python3"),
    };
    let probe = Command::new(&candidate)
        .args(["-c", "import authlib, requests, joserfc"])
        .stdin(Stdio::null())
        .output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some(candidate),
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => e.to_string(),
    };
    let msg = format!(
        "{} cannot import authlib, requests and joserfc ({problem}); install them with \
         `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt` in {}",
        candidate.display(),
        dir.display()
    );
    if std::env::var(REQUIRE_AUTHLIB_ENV).is_ok_and(|v| v == "1") {
        panic!("{msg}; {REQUIRE_AUTHLIB_ENV}=1 requires the authlib test to run");
    }
    eprintln!("SKIPPED authlib test: {msg}");
    None
}

#[tokio::test]
async fn authlib_runs_the_code_flow_sso_and_logout_over_http() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop"));
    let Some(python) = python_with_authlib(&dir) else {
        return;
    };
    for b in backends().await {
        let name = b.name;
        let srv = TestServer::start_on_wall_clock(b.config_with_address_issuer()).await;
        let issuer = srv.issuer.clone();
        let s = setup(srv).await;
        let (conf_id, conf_secret) = s.confidential.clone();
        for (client_id, secret, host) in [
            (conf_id.as_str(), Some(conf_secret.as_str()), "confidential"),
            (s.public_id.as_str(), None, "public"),
        ] {
            // Never requested: the script reads the code from the redirect's Location.
            let redirect_uri = format!("https://{host}.authlib.example/callback");
            let post_logout = format!("https://{host}.authlib.example/logged-out");
            let logout = s.serves_logout().await;
            let post_logout = logout.then_some(post_logout);
            s.register_uris(client_id, &redirect_uri, post_logout.as_deref())
                .await;
            let input = json!({
                "issuer": issuer,
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uri": redirect_uri,
                "post_logout_redirect_uri": post_logout,
                "username": "ann",
                "password": SECRET,
            });
            let out = run_json_script(&python, &dir, "authlib_rp.py", &input).await;
            let what = format!("{name} {host}");

            assert_eq!(out["discovery"]["issuer"], issuer.as_str(), "{what}");
            assert_eq!(
                out["discovery"]["authorization_response_iss_parameter_supported"], true,
                "{what}"
            );
            assert_eq!(out["login_page_path"], LOGIN_PAGE, "{what}");
            let csp = out["login_page_csp"].as_str().unwrap_or_default();
            assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
            assert!(
                out["cookies_after_login"]
                    .as_array()
                    .is_some_and(|c| c.contains(&json!(SESSION_COOKIE))),
                "{what}: {}",
                out["cookies_after_login"]
            );
            assert_eq!(
                out["callback_params"],
                json!(["code", "iss", "state"]),
                "{what}"
            );
            let c = &out["claims"];
            assert_eq!(c["sub"], s.ann.as_str(), "{what}");
            assert_eq!(c["aud"], client_id, "{what}");
            assert!(c["sid"].is_string(), "{what}: {c}");
            assert!(
                c["amr"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!("pwd"))),
                "{what}: {c}"
            );
            assert_eq!(out["userinfo"]["sub"], s.ann.as_str(), "{what}");
            assert_eq!(
                out["token"]["token_type"].as_str().map(str::to_lowercase),
                Some("bearer".into()),
                "{what}"
            );
            assert_eq!(
                out["code_replay"]["status"], 400,
                "{what}: {}",
                out["code_replay"]
            );
            assert_eq!(out["code_replay"]["error"], "invalid_grant", "{what}");

            // SSO: the authorization request straight back to the client.
            assert_eq!(out["sso"]["hops"], json!(["/oidc/auth"]), "{what}");
            assert_eq!(out["sso"]["sub"], s.ann.as_str(), "{what}");
            assert_eq!(out["sso"]["sid"], c["sid"], "{what}");
            assert_eq!(out["sso"]["auth_time"], c["auth_time"], "{what}");
            // Logout, then prompt=none finds no session.
            let post_logout = post_logout.expect("discovery lists an end_session_endpoint");
            assert_eq!(out["logout"]["redirect"], post_logout.as_str(), "{what}");
            assert_eq!(out["after_logout"]["error"], "login_required", "{what}");
            assert_eq!(out["after_logout"]["iss"], issuer.as_str(), "{what}");
        }
        s.srv.stop().await;
    }
}
