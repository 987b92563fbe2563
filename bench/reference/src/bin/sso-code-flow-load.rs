//! Authorization-code load for the benchmark's `sso_code_flow` scenario (issue 13): the
//! authorization code flow of a user who already has a browser session at the provider —
//! what every further app of a single-sign-on user costs — against Tessera or the
//! node-oidc-provider peer.
//!
//! Each of N workers plays one browser with its own cookie jar (cookies kept by hand) and user
//! (`--user-prefix` + its number) and first logs in once:
//! - `--target tessera`: the hosted login, over HTTP as the page's script does it —
//!   `GET /oidc/auth` → 303 to `/oidc/login?request=…` (login cookie) → the page's JSON
//!   configuration (`<script type="application/json" id="tessera-page">`) → the login journey
//!   over the IDO JSON API (`start` with the page's PKCE challenge, one `submit` of
//!   `{username, password}` per waiting step) → the page's completion form
//!   (`form#tessera-complete`: hidden `request` and `csrf`, and the journey's `code`) posted
//!   to `/oidc/login/complete` → 303 to the redirect URI with a code (session cookie);
//! - `--target node`: `GET /auth` → 303 to node-oidc-provider's devInteractions form →
//!   `POST /interaction/:uid` (`prompt=login`, `login=<account>`) → redirects to the code.
//!
//! That first code is exchanged too (checked, not counted). Then it loops until `--seconds`
//! have passed; one iteration (a "flow") is:
//! 1. **authorize**: `GET /oidc/auth` (node: `/auth`) with `prompt=none`, a PKCE S256
//!    challenge, state and nonce, and the session cookie → it must answer a redirect to the
//!    redirect URI with `code` and the same `state`;
//! 2. **token**: `POST /oidc/token` (node: `/token`), `grant_type=authorization_code`,
//!    client_secret_post, the code, the redirect URI and the PKCE verifier → 200 with an
//!    access and an ID token.
//!
//! A failed step ends its iteration (counted by step; the first few bodies go to stderr).
//! `--warmup` seconds run first and are not counted. It writes a JSON summary to `--out` in
//! ciba-load's shape (`iterations`, `steps` with `step_order`, `failures`, `server_cpu_s` when
//! `--cpu-pid` names the server), which `bench/report.py summarize-flow` turns into rows.
//!
//! Usage: `sso-code-flow-load --target tessera|node --url BASE_URL --client-id ID
//!         --client-secret S --redirect-uri URI --workers N --user-prefix P
//!         [--password PW] --seconds N [--warmup N] --out FILE [--cpu-pid SERVER_PID]`

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};

/// Failure bodies printed to stderr, at most.
const MAX_REPORTED_FAILURES: usize = 5;
/// RFC 7636's example verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1rn2B8aY9d6Kw4dNy5r3l6xkVl";
const CHALLENGE: &str = "mNHTXepW0Zp42KplcqHoFXoVE7BFj3yvTvKzgKSJjS8";
/// Redirects followed by hand during the login, at most.
const MAX_HOPS: usize = 10;
/// Login journey steps answered, at most.
const MAX_STEPS: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Tessera,
    Node,
}

struct Args {
    target: Target,
    url: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    workers: usize,
    user_prefix: String,
    password: String,
    seconds: u64,
    warmup: u64,
    out: String,
    cpu_pid: Option<u32>,
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("sso-code-flow-load: {e}");
    std::process::exit(2);
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut target, mut url, mut id, mut secret, mut redirect) = (None, None, None, None, None);
    let (mut workers, mut user_prefix, mut password) = (64, None, "bench-password".to_string());
    let (mut seconds, mut warmup, mut out, mut cpu_pid) = (10, 0, None, None);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--target" => {
                target = Some(match value.as_str() {
                    "tessera" => Target::Tessera,
                    "node" => Target::Node,
                    _ => return Err("--target: tessera or node".into()),
                })
            }
            "--url" => url = Some(value.trim_end_matches('/').to_string()),
            "--client-id" => id = Some(value),
            "--client-secret" => secret = Some(value),
            "--redirect-uri" => redirect = Some(value),
            "--workers" => {
                workers = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--workers: a positive number")?
            }
            "--user-prefix" => user_prefix = Some(value),
            "--password" => password = value,
            "--seconds" => seconds = value.parse().map_err(|_| "--seconds: a number")?,
            "--warmup" => warmup = value.parse().map_err(|_| "--warmup: a number")?,
            "--out" => out = Some(value),
            "--cpu-pid" => cpu_pid = Some(value.parse().map_err(|_| "--cpu-pid: a process id")?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        target: target.ok_or("--target is required")?,
        url: url.ok_or("--url is required")?,
        client_id: id.ok_or("--client-id is required")?,
        client_secret: secret.ok_or("--client-secret is required")?,
        redirect_uri: redirect.ok_or("--redirect-uri is required")?,
        workers,
        user_prefix: user_prefix.ok_or("--user-prefix is required")?,
        password,
        seconds,
        warmup,
        out: out.ok_or("--out is required")?,
        cpu_pid,
    })
}

/// The steps, in table order; the first is the whole flow.
const STEPS: [&str; 3] = ["iteration", "authorize", "token"];

/// What one worker measured.
#[derive(Default)]
struct Worker {
    latencies_us: BTreeMap<&'static str, Vec<u32>>,
    /// Failed iterations by the step that failed: (wrong answer, connection errors).
    failures: BTreeMap<&'static str, (u64, u64)>,
}

impl Worker {
    fn record(&mut self, step: &'static str, started: Instant) {
        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.latencies_us.entry(step).or_default().push(us);
    }
}

enum Failure {
    Answer(String),
    Transport(String),
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

fn transport(e: reqwest::Error) -> Failure {
    Failure::Transport(e.to_string())
}

/// One browser's cookies (name → value), kept by hand: every cookie is sent to the one
/// origin under test.
#[derive(Default, Clone)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn absorb(&mut self, headers: &HeaderMap) {
        for h in headers.get_all(SET_COOKIE) {
            let Ok(text) = h.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = text.split(';').any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == "max-age=0" || a.starts_with("expires=thu, 01 jan 1970")
            });
            if expired || value.is_empty() {
                self.0.remove(name.trim());
            } else {
                self.0.insert(name.trim().to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

struct Shared {
    http: reqwest::Client,
    args: Args,
    reported: Mutex<usize>,
}

impl Shared {
    fn report(&self, what: &str, failure: &Failure) {
        let mut n = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if *n < MAX_REPORTED_FAILURES {
            *n += 1;
            let text = match failure {
                Failure::Answer(t) | Failure::Transport(t) => t,
            };
            eprintln!("sso-code-flow-load: {what} failed: {text}");
        }
    }

    fn auth_path(&self) -> &'static str {
        match self.args.target {
            Target::Tessera => "/oidc/auth",
            Target::Node => "/auth",
        }
    }

    fn token_path(&self) -> &'static str {
        match self.args.target {
            Target::Tessera => "/oidc/token",
            Target::Node => "/token",
        }
    }

    /// The authorization request URL (with `prompt=none` when `silent`).
    fn authorize_url(&self, state: &str, silent: bool) -> Result<Url, Failure> {
        let a = &self.args;
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", a.client_id.as_str()),
            ("redirect_uri", a.redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", state),
            ("nonce", state),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        if silent {
            params.push(("prompt", "none"));
        }
        Url::parse_with_params(&format!("{}{}", a.url, self.auth_path()), &params)
            .map_err(|e| Failure::Answer(format!("bad URL: {e}")))
    }

    /// GET `url` with the jar's cookies; (status, Location, body).
    async fn get(
        &self,
        jar: &mut Jar,
        url: &str,
    ) -> Result<(StatusCode, Option<String>, String), Failure> {
        let r = self
            .http
            .get(url)
            .header(COOKIE, jar.header())
            .send()
            .await
            .map_err(transport)?;
        jar.absorb(r.headers());
        let status = r.status();
        let location = r
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        let body = r.text().await.map_err(transport)?;
        Ok((status, location, body))
    }

    /// The code in a redirect to the client, after checking the state.
    fn code_from(&self, location: &str, state: &str) -> Result<String, Failure> {
        if !location.starts_with(&self.args.redirect_uri) {
            return Err(Failure::Answer(format!(
                "redirected to {}",
                short(location)
            )));
        }
        let url = Url::parse(location).map_err(|e| Failure::Answer(format!("{location}: {e}")))?;
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        if q.get("state").map(String::as_str) != Some(state) {
            return Err(Failure::Answer(format!("state lost: {}", short(location))));
        }
        q.get("code")
            .cloned()
            .ok_or_else(|| Failure::Answer(format!("no code: {}", short(location))))
    }

    /// Follows redirects from `url` until one points at the redirect URI (its Location) or a
    /// page answers: `Err(Ok((url, body)))` for the page.
    async fn follow(
        &self,
        jar: &mut Jar,
        mut url: String,
    ) -> Result<Result<String, (String, String)>, Failure> {
        for _ in 0..MAX_HOPS {
            if url.starts_with(&self.args.redirect_uri) {
                return Ok(Ok(url));
            }
            let (status, location, body) = self.get(jar, &url).await?;
            match location {
                Some(l) if status.is_redirection() => {
                    url = Url::parse(&url)
                        .and_then(|base| base.join(&l))
                        .map_err(|e| Failure::Answer(format!("{l}: {e}")))?
                        .to_string();
                }
                _ if status == StatusCode::OK => return Ok(Err((url, body))),
                _ => {
                    return Err(Failure::Answer(format!(
                        "GET {url}: HTTP {status}: {}",
                        short(&body)
                    )))
                }
            }
        }
        Err(Failure::Answer(format!("more than {MAX_HOPS} redirects")))
    }

    /// JSON POST as the page's script sends it (same-origin fetch: Origin and cookies); the
    /// 2xx answer.
    async fn post_json(&self, jar: &Jar, url: &str, body: &Value) -> Result<Value, Failure> {
        let r = self
            .http
            .post(url)
            .header(ORIGIN, self.args.url.as_str())
            .header(COOKIE, jar.header())
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = r.status();
        let text = r.text().await.map_err(transport)?;
        if !status.is_success() {
            return Err(Failure::Answer(format!(
                "POST {url}: HTTP {status}: {}",
                short(&text)
            )));
        }
        serde_json::from_str(&text)
            .map_err(|_| Failure::Answer(format!("not JSON: {}", short(&text))))
    }

    /// The first login of worker `n`: its cookie jar with the session, once the first code
    /// was exchanged.
    async fn log_in(&self, n: usize) -> Result<Jar, Failure> {
        let mut jar = Jar::default();
        let user = format!("{}{}", self.args.user_prefix, n + 1);
        let state = format!("login-{n}");
        let start = self.authorize_url(&state, false)?.to_string();
        let location = match self.follow(&mut jar, start).await? {
            Ok(l) => {
                return Err(Failure::Answer(format!(
                    "no login page: straight to {}",
                    short(&l)
                )))
            }
            Err((page_url, html)) => match self.args.target {
                Target::Tessera => self.hosted_login(&mut jar, &page_url, &html, &user).await?,
                Target::Node => {
                    self.dev_interaction_login(&mut jar, &page_url, &user)
                        .await?
                }
            },
        };
        let code = self.code_from(&location, &state)?;
        self.exchange(&code).await?;
        Ok(jar)
    }

    /// Tessera's hosted login page, as its script runs it; the completion's redirect.
    async fn hosted_login(
        &self,
        jar: &mut Jar,
        page_url: &str,
        html: &str,
        user: &str,
    ) -> Result<String, Failure> {
        let marker = "id=\"tessera-page\">";
        let cfg: Value = html
            .find(marker)
            .map(|i| &html[i + marker.len()..])
            .and_then(|rest| rest.find("</script>").map(|end| &rest[..end]))
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(|| Failure::Answer(format!("no page config at {page_url}")))?;
        let field = |k: &str| {
            cfg.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    Failure::Answer(format!(
                        "page config without {k}: {}",
                        short(&cfg.to_string())
                    ))
                })
        };
        let (client_id, journey, challenge) = (
            field("clientId")?,
            field("journeyId")?,
            field("codeChallenge")?,
        );
        // The completion form the script submits: its hidden `request` and `csrf`.
        let complete = form_fields(html, "tessera-complete")
            .ok_or_else(|| Failure::Answer(format!("no form#tessera-complete at {page_url}")))?;
        let params = match cfg.get("loginHint").and_then(Value::as_str) {
            Some(hint) if !hint.is_empty() => json!({"login_hint": hint}),
            _ => json!({}),
        };
        let base = &self.args.url;
        let start = Url::parse_with_params(
            &format!("{base}/ido/api/v2/journeys/{journey}/start"),
            &[("clientId", client_id.as_str())],
        )
        .map_err(|e| Failure::Answer(e.to_string()))?;
        let mut answer = self
            .post_json(
                jar,
                start.as_str(),
                &json!({"additionalParams": params, "code_challenge": challenge, "code_challenge_method": "S256"}),
            )
            .await?;
        for _ in 0..MAX_STEPS {
            if answer.get("type").and_then(Value::as_str) != Some("client_input_required") {
                break;
            }
            let interaction = answer
                .get("interaction_id")
                .and_then(Value::as_str)
                .ok_or_else(|| Failure::Answer("no interaction_id".into()))?;
            answer = self
                .post_json(
                    jar,
                    &format!("{base}/ido/api/v2/interactions/{interaction}/submit"),
                    &json!({"option": "client_input", "data": {"username": user, "password": self.args.password}}),
                )
                .await?;
        }
        let code = match (
            answer.get("type").and_then(Value::as_str),
            answer.get("code").and_then(Value::as_str),
        ) {
            (Some("journey_success"), Some(code)) => code.to_string(),
            _ => {
                return Err(Failure::Answer(format!(
                    "login journey: {}",
                    short(&answer.to_string())
                )))
            }
        };
        let r = self
            .http
            .post(format!("{base}/oidc/login/complete"))
            .header(COOKIE, jar.header())
            .header(ORIGIN, base.as_str())
            .form(
                &complete
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            if k == "code" {
                                code.as_str()
                            } else {
                                v.as_str()
                            },
                        )
                    })
                    .collect::<Vec<_>>(),
            )
            .send()
            .await
            .map_err(transport)?;
        jar.absorb(r.headers());
        let status = r.status();
        let location = r
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string);
        match location {
            Some(l) if status == StatusCode::SEE_OTHER => Ok(l),
            _ => Err(Failure::Answer(format!(
                "login/complete: HTTP {status}: {}",
                short(&r.text().await.unwrap_or_default())
            ))),
        }
    }

    /// node-oidc-provider's devInteractions login form; the redirect to the client.
    async fn dev_interaction_login(
        &self,
        jar: &mut Jar,
        page_url: &str,
        user: &str,
    ) -> Result<String, Failure> {
        let r = self
            .http
            .post(page_url)
            .header(COOKIE, jar.header())
            .form(&[("prompt", "login"), ("login", user), ("password", "x")])
            .send()
            .await
            .map_err(transport)?;
        jar.absorb(r.headers());
        let location = r
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| Failure::Answer(format!("login form: HTTP {}", r.status())))?;
        let next = Url::parse(page_url)
            .and_then(|b| b.join(location))
            .map_err(|e| Failure::Answer(e.to_string()))?
            .to_string();
        match self.follow(jar, next).await? {
            Ok(l) => Ok(l),
            Err((url, body)) => Err(Failure::Answer(format!(
                "stopped at {url}: {}",
                short(&body)
            ))),
        }
    }

    /// The code exchange; Ok when 200 with an access and an ID token.
    async fn exchange(&self, code: &str) -> Result<(), Failure> {
        let a = &self.args;
        let r = self
            .http
            .post(format!("{}{}", a.url, self.token_path()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", a.redirect_uri.as_str()),
                ("code_verifier", VERIFIER),
                ("client_id", a.client_id.as_str()),
                ("client_secret", a.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(transport)?;
        let status = r.status();
        let text = r.text().await.map_err(transport)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != StatusCode::OK || !v["access_token"].is_string() || !v["id_token"].is_string()
        {
            return Err(Failure::Answer(format!(
                "token: HTTP {status}: {}",
                short(&text)
            )));
        }
        Ok(())
    }

    /// One flow with the session in `jar`; `Err` names the step that failed.
    async fn flow(
        &self,
        jar: &mut Jar,
        state: &str,
        w: &mut Worker,
    ) -> Result<(), (&'static str, Failure)> {
        let started = Instant::now();
        let url = self
            .authorize_url(state, true)
            .map_err(|f| ("authorize", f))?;
        let (status, location, body) = self
            .get(jar, url.as_str())
            .await
            .map_err(|f| ("authorize", f))?;
        let code = match location {
            Some(l) if status.is_redirection() => {
                self.code_from(&l, state).map_err(|f| ("authorize", f))?
            }
            _ => {
                return Err((
                    "authorize",
                    Failure::Answer(format!("HTTP {status}: {}", short(&body))),
                ))
            }
        };
        w.record("authorize", started);
        let step = Instant::now();
        self.exchange(&code).await.map_err(|f| ("token", f))?;
        w.record("token", step);
        w.record("iteration", started);
        Ok(())
    }
}

/// The `name`/`value` pairs of the inputs of the form with id `id` (HTML-unescaped), as a
/// browser would post them; `None` without such a form.
fn form_fields(html: &str, id: &str) -> Option<Vec<(String, String)>> {
    let start = html.find(&format!("<form id=\"{id}\""))?;
    let form = &html[start..];
    let form = &form[..form.find("</form>")?];
    let attr = |tag: &str, name: &str| {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        let end = tag[at..].find('"')?;
        Some(unescape(&tag[at..at + end]))
    };
    let mut out = Vec::new();
    for part in form.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap_or(part.len())];
        if let Some(name) = attr(tag, "name") {
            out.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    Some(out)
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn run_worker(s: Arc<Shared>, n: usize, mut jar: Jar, deadline: Instant) -> (Worker, Jar) {
    let mut w = Worker::default();
    let mut i = 0u64;
    while Instant::now() < deadline {
        i += 1;
        let state = format!("w{n}-{i}");
        if let Err((step, failure)) = s.flow(&mut jar, &state, &mut w).await {
            s.report(step, &failure);
            let entry = w.failures.entry(step).or_default();
            match failure {
                Failure::Answer(_) => entry.0 += 1,
                Failure::Transport(_) => entry.1 += 1,
            }
        }
    }
    (w, jar)
}

/// A process's user + system CPU time so far, in seconds (all threads), from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some(ticks / hz)
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    f64::from(sorted_us[rank.min(sorted_us.len() - 1)]) / 1000.0
}

fn step_summary(sorted_us: &[u32]) -> Value {
    let mean = if sorted_us.is_empty() {
        0.0
    } else {
        sorted_us.iter().map(|u| f64::from(*u)).sum::<f64>() / sorted_us.len() as f64 / 1000.0
    };
    json!({
        "count": sorted_us.len(),
        "mean_ms": mean,
        "p50_ms": percentile_ms(sorted_us, 50.0),
        "p90_ms": percentile_ms(sorted_us, 90.0),
        "p99_ms": percentile_ms(sorted_us, 99.0),
        "max_ms": percentile_ms(sorted_us, 100.0),
    })
}

/// Runs every worker (with its jar) for `seconds`; their measurements and jars.
async fn run(
    shared: &Arc<Shared>,
    jars: Vec<Jar>,
    seconds: u64,
) -> (Vec<Worker>, Vec<Jar>, u64, f64) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = jars
        .into_iter()
        .enumerate()
        .map(|(n, jar)| tokio::spawn(run_worker(shared.clone(), n, jar, deadline)))
        .collect();
    let (mut done, mut kept, mut lost) = (Vec::new(), Vec::new(), 0u64);
    for t in tasks {
        match t.await {
            Ok((w, jar)) => {
                done.push(w);
                kept.push(jar);
            }
            Err(_) => lost += 1,
        }
    }
    (done, kept, lost, started.elapsed().as_secs_f64().max(1e-9))
}

#[tokio::main]
async fn main() {
    let args = args().unwrap_or_else(|e| fail(e));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.workers)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| fail(e));
    let (warmup, seconds, out, workers, target) = (
        args.warmup,
        args.seconds,
        args.out.clone(),
        args.workers,
        args.target,
    );
    let shared = Arc::new(Shared {
        http,
        args,
        reported: Mutex::new(0),
    });

    // Every worker logs in once (a few at a time: a login runs Argon2id on Tessera).
    let login_started = Instant::now();
    let mut jars = Vec::with_capacity(workers);
    for chunk in (0..workers).collect::<Vec<_>>().chunks(8) {
        let logins: Vec<_> = chunk
            .iter()
            .map(|&n| {
                let s = shared.clone();
                tokio::spawn(async move { s.log_in(n).await })
            })
            .collect();
        for (n, l) in chunk.iter().zip(logins) {
            match l.await {
                Ok(Ok(jar)) => jars.push(jar),
                Ok(Err(f)) => {
                    shared.report(&format!("login of worker {n}"), &f);
                    fail("a worker could not log in");
                }
                Err(e) => fail(format!("login task: {e}")),
            }
        }
    }
    eprintln!(
        "sso-code-flow-load: {workers} sessions logged in in {:.1} s",
        login_started.elapsed().as_secs_f64()
    );

    if warmup > 0 {
        let (done, kept, _, _) = run(&shared, jars, warmup).await;
        jars = kept;
        let ok: usize = done
            .iter()
            .map(|w| w.latencies_us.get("iteration").map_or(0, Vec::len))
            .sum();
        eprintln!("sso-code-flow-load: warm-up: {ok} flows in {warmup} s");
    }
    let cpu_pid = shared.args.cpu_pid;
    let cpu_before = cpu_pid.and_then(cpu_seconds);
    let (done, _, lost_workers, elapsed) = run(&shared, jars, seconds).await;
    let server_cpu_s = match (cpu_before, cpu_pid.and_then(cpu_seconds)) {
        (Some(a), Some(b)) => json!(b - a),
        _ => Value::Null,
    };

    let mut latencies: BTreeMap<&'static str, Vec<u32>> = BTreeMap::new();
    let mut failures: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    for w in done {
        for (step, l) in w.latencies_us {
            latencies.entry(step).or_default().extend_from_slice(&l);
        }
        for (step, (a, b)) in w.failures {
            let e = failures.entry(step).or_default();
            e.0 += a;
            e.1 += b;
        }
    }
    let mut steps = serde_json::Map::new();
    for step in STEPS {
        if let Some(l) = latencies.get_mut(step) {
            l.sort_unstable();
            steps.insert(step.to_string(), step_summary(l));
        }
    }
    let ok = latencies.get("iteration").map_or(0, Vec::len) as u64;
    let failed: u64 = failures.values().map(|(a, _)| a).sum();
    let errors: u64 = failures.values().map(|(_, b)| b).sum::<u64>() + lost_workers;
    let summary = json!({
        "target": match target { Target::Tessera => "tessera", Target::Node => "node" },
        "validator": "an existing browser session, prompt=none",
        "workers": workers,
        "duration_s": elapsed,
        "iterations": {"ok": ok, "failed": failed, "errors": errors},
        "iterations_per_s": ok as f64 / elapsed,
        "step_order": STEPS,
        "steps": steps,
        "server_cpu_s": server_cpu_s,
        "failures": failures
            .iter()
            .map(|(k, (a, b))| (k.to_string(), json!({"failed": a, "errors": b})))
            .collect::<serde_json::Map<_, _>>(),
    });
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    if let Err(e) = std::fs::write(&out, text + "\n") {
        eprintln!("sso-code-flow-load: {out}: {e}");
        std::process::exit(1);
    }
}
