//! A minimal W3C WebDriver client for the browser tests (`browser.rs`, `hosted_interop.rs`):
//! Debian's `chromedriver` driving headless Chromium, spoken to with reqwest (new session,
//! navigate, find element, send keys, click, get text, execute script, and Chromium's
//! performance log for the URLs a page requested).
//!
//! Without `/usr/bin/chromedriver` and `/usr/bin/chromium` (or the paths in
//! `TESSERA_CHROMEDRIVER` / `TESSERA_CHROMIUM`) [`ChromeDriver::start`] answers `None` with a
//! notice (developer machines); with `TESSERA_REQUIRE_CHROMIUM=1` (set by `.ci/run`, which
//! installs the packages) it fails instead.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Where Debian installs them; `TESSERA_CHROMEDRIVER` and `TESSERA_CHROMIUM` override.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const REQUIRE_ENV: &str = "TESSERA_REQUIRE_CHROMIUM";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for an element or a text lasts.
pub const WAIT: Duration = Duration::from_secs(15);

/// A chromedriver process on a free loopback port, killed on drop.
pub struct ChromeDriver {
    child: Child,
    chromium: String,
    url: String,
    http: reqwest::Client,
}

impl ChromeDriver {
    /// Starts chromedriver, or `None` (with a notice) when it or Chromium is not installed.
    pub async fn start() -> Option<Self> {
        let chromedriver =
            std::env::var("TESSERA_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
        let chromium = std::env::var("TESSERA_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        let missing: Vec<&str> = [chromedriver.as_str(), chromium.as_str()]
            .into_iter()
            .filter(|p| !std::path::Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            let msg = format!(
                "{} not installed (Debian: apt-get install -y chromium chromium-driver)",
                missing.join(" and ")
            );
            if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                panic!("{msg}; {REQUIRE_ENV}=1 requires the browser tests to run");
            }
            eprintln!("SKIPPED browser test: {msg}");
            return None;
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Self {
            child,
            chromium,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(r) = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .await
            {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return Some(driver);
                    }
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium session with its own profile directory.
    pub async fn session(&self) -> Browser {
        self.new_session(json!({})).await
    }

    /// A session that also records Chromium's performance log (DevTools network events),
    /// read with [`Browser::requested_urls`].
    pub async fn session_with_network_log(&self) -> Browser {
        self.new_session(json!({"performance": "ALL"})).await
    }

    async fn new_session(&self, logging: Value) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": logging,
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--no-default-browser-check",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let r = self
            .http
            .post(format!("{}/session", self.url))
            .json(&caps)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "new session: {v}");
        let id = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.url),
            _profile: profile,
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A WebDriver command; its `value`, or `Err(value)` on a WebDriver error.
    pub async fn try_cmd(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let ok = r.status().is_success();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].clone())
        }
    }

    pub async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        match self.try_cmd(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {path}: {e}"),
        }
    }

    pub async fn navigate(&self, url: &str) {
        self.cmd(Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn try_find(&self, css: &str) -> Option<String> {
        let v = self
            .try_cmd(
                Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        v[ELEMENT].as_str().map(str::to_string)
    }

    /// Waits for an element to exist; its reference.
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            assert!(Instant::now() < deadline, "no element {css}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clears an input and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The rendered text of an element ("" when hidden), if it exists.
    pub async fn text(&self, css: &str) -> Option<String> {
        let e = self.try_find(css).await?;
        let v = self
            .try_cmd(Method::GET, &format!("/element/{e}/text"), None)
            .await
            .ok()?;
        v.as_str().map(str::to_string)
    }

    /// Waits until the element's rendered text contains `want`; the text.
    pub async fn wait_text(&self, css: &str, want: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text(css).await;
            if let Some(t) = &text {
                if t.contains(want) {
                    return t.clone();
                }
            }
            if Instant::now() >= deadline {
                let error = self.text("#error").await.unwrap_or_default();
                let url = self.try_cmd(Method::GET, "/url", None).await;
                let source = self.try_cmd(Method::GET, "/source", None).await;
                panic!(
                    "{css} never showed {want:?}: {text:?} (page error: {error:?}; at {url:?}; \
                     source: {source:?})"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs an async script (`arguments[last]` is the callback); its result.
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// The page's current URL.
    pub async fn url(&self) -> String {
        let v = self.cmd(Method::GET, "/url", None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The URLs of every request the browser sent since the last call (redirects included:
    /// each hop is a `Network.requestWillBeSent`), from the performance log of a
    /// [`ChromeDriver::session_with_network_log`] session; reading the log empties it.
    pub async fn requested_urls(&self) -> Vec<String> {
        let entries = self
            .cmd(
                Method::POST,
                "/se/log",
                Some(json!({"type": "performance"})),
            )
            .await;
        let mut urls = Vec::new();
        for entry in entries.as_array().into_iter().flatten() {
            let Some(text) = entry["message"].as_str() else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let message = &message["message"];
            if message["method"] == "Network.requestWillBeSent" {
                if let Some(url) = message["params"]["request"]["url"].as_str() {
                    urls.push(url.to_string());
                }
            }
        }
        urls
    }

    /// Ends the session (closing Chromium); also done on drop.
    pub fn quit(self) {}
}

/// Ends the session even when an assertion failed, so no Chromium outlives the test: a
/// blocking `DELETE /session/{id}` over a plain socket (Drop cannot await).
impl Drop for Browser {
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Some(rest) = self.base.strip_prefix("http://") else {
            return;
        };
        let Some((addr, path)) = rest.split_once('/') else {
            return;
        };
        let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
            return;
        };
        let _ = conn.set_read_timeout(Some(WAIT));
        let request = format!(
            "DELETE /{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        if conn.write_all(request.as_bytes()).is_ok() {
            // The answer's first bytes: the session is gone (chromedriver may keep the
            // connection open, so no read to the end).
            let mut answer = [0u8; 512];
            let _ = conn.read(&mut answer);
        }
    }
}
