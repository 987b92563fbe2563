//! Mixed load for Tessera's soak figure (reliability/soak.sh): client credentials, refresh
//! rotations, journey invokes and password logins, in fixed proportions, either as fast as
//! the server answers (`--rate 0`: the maximum) or at a fixed rate (open loop: each request
//! has a scheduled send time, and its latency counts from that time, so a stalled server
//! shows as latency instead of a quietly lower rate).
//!
//! `--connections N` workers each own one keep-alive connection and one refresh-token chain
//! (the k-th token of the setup file); worker i sends its k-th request at
//! `start + (k·N + i) / rate`. The operation of each slot comes from a smooth weighted
//! round-robin over `--mix`, so the proportions hold over any window.
//!
//! Every `--interval` seconds it prints one JSON line (`"final": false`) with that window's
//! counts, statuses and latency percentiles; at the end one line with the totals
//! (`"final": true`). Errors are non-2xx answers and connection errors (no answer at all);
//! a refresh chain that was refused stays refused (its later slots count as `skipped`).
//!
//! The setup file (JSON, written by soak.sh) holds `client_id`, `client_secret`,
//! `login_client_id`, `login_client_secret`, `users` (usernames), `password`,
//! `refresh_tokens`, `journey_path` and `journey_body`.
//!
//! Usage: `soak-load --url URL --setup FILE --seconds N [--rate R] [--connections N]
//!         [--interval S] [--mix cc:80,refresh:60,journey:59,login:1]`

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    ClientCredentials,
    Refresh,
    Journey,
    Login,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::ClientCredentials => "client_credentials",
            Op::Refresh => "refresh",
            Op::Journey => "journey",
            Op::Login => "login",
        }
    }
}

#[derive(Deserialize)]
struct Setup {
    client_id: String,
    client_secret: String,
    login_client_id: String,
    login_client_secret: String,
    users: Vec<String>,
    password: String,
    refresh_tokens: Vec<String>,
    journey_path: String,
    journey_body: Value,
}

struct Args {
    url: String,
    setup: String,
    seconds: f64,
    rate: f64,
    connections: usize,
    interval: f64,
    mix: Vec<(Op, u32)>,
}

fn parse_mix(s: &str) -> Result<Vec<(Op, u32)>, String> {
    let mut mix = Vec::new();
    for part in s.split(',') {
        let (name, weight) = part
            .split_once(':')
            .ok_or(format!("--mix: `{part}` is not NAME:WEIGHT"))?;
        let op = match name {
            "cc" | "client_credentials" => Op::ClientCredentials,
            "refresh" => Op::Refresh,
            "journey" => Op::Journey,
            "login" => Op::Login,
            other => return Err(format!("--mix: unknown operation `{other}`")),
        };
        let weight: u32 = weight
            .parse()
            .map_err(|_| format!("--mix: weight of `{name}` is not a number"))?;
        if weight > 0 {
            mix.push((op, weight));
        }
    }
    if mix.is_empty() {
        return Err("--mix: no operation with a weight above 0".into());
    }
    Ok(mix)
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut setup) = (None, None);
    let mut a = Args {
        url: String::new(),
        setup: String::new(),
        seconds: 10.0,
        rate: 0.0,
        connections: 64,
        interval: 10.0,
        mix: parse_mix("cc:80,refresh:60,journey:59,login:1")?,
    };
    let num = |flag: &str, v: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or(format!("{flag}: a number ≥ 0"))
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--setup" => setup = Some(value),
            "--seconds" => a.seconds = num(&flag, &value)?,
            "--rate" => a.rate = num(&flag, &value)?,
            "--interval" => a.interval = num(&flag, &value)?.max(0.1),
            "--connections" => {
                a.connections = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--connections: a number ≥ 1")?
            }
            "--mix" => a.mix = parse_mix(&value)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    a.url = url.ok_or("--url is required")?;
    a.setup = setup.ok_or("--setup is required")?;
    Ok(a)
}

/// The operations of one round of the mix, interleaved (smooth weighted round-robin).
fn schedule(mix: &[(Op, u32)]) -> Vec<Op> {
    let total: i64 = mix.iter().map(|(_, w)| i64::from(*w)).sum();
    let mut current = vec![0i64; mix.len()];
    let mut out = Vec::with_capacity(total as usize);
    for _ in 0..total {
        for (c, (_, w)) in current.iter_mut().zip(mix) {
            *c += i64::from(*w);
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .expect("a non-empty mix");
        current[best] -= total;
        out.push(mix[best].0);
    }
    out
}

/// Counts of one window (or of the whole run).
#[derive(Default)]
struct Window {
    ok: BTreeMap<Op, u64>,
    statuses: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    skipped: u64,
    late_100ms: u64,
    latencies_us: Vec<u32>,
    examples: Vec<String>,
}

impl Window {
    fn record(&mut self, op: Op, outcome: &Outcome, latency: Duration, late: bool) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        match outcome {
            Outcome::Ok => {
                *self.ok.entry(op).or_default() += 1;
                self.latencies_us.push(us);
            }
            Outcome::Status(code, body) => {
                *self
                    .statuses
                    .entry(format!("{} {code}", op.name()))
                    .or_default() += 1;
                self.latencies_us.push(us);
                if self.examples.len() < 5 {
                    self.examples
                        .push(format!("{} {code}: {}", op.name(), truncate(body, 200)));
                }
            }
            Outcome::Error(e) => {
                *self.errors.entry(format!("{} {e}", op.name())).or_default() += 1;
                if self.examples.len() < 5 {
                    self.examples
                        .push(format!("{} connection error: {e}", op.name()));
                }
            }
            Outcome::Skipped => self.skipped += 1,
        }
        if late {
            self.late_100ms += 1;
        }
    }

    fn merge(&mut self, other: &Window) {
        for (k, v) in &other.ok {
            *self.ok.entry(*k).or_default() += v;
        }
        for (k, v) in &other.statuses {
            *self.statuses.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.skipped += other.skipped;
        self.late_100ms += other.late_100ms;
        self.latencies_us.extend_from_slice(&other.latencies_us);
        for e in &other.examples {
            if self.examples.len() < 10 {
                self.examples.push(e.clone());
            }
        }
    }

    fn report(&mut self, t: f64, seconds: f64, fin: bool) -> Value {
        self.latencies_us.sort_unstable();
        let ok: u64 = self.ok.values().sum();
        let non2xx: u64 = self.statuses.values().sum();
        let errors: u64 = self.errors.values().sum();
        let ok_by: BTreeMap<&str, u64> = self.ok.iter().map(|(k, v)| (k.name(), *v)).collect();
        json!({
            "final": fin,
            "t": round3(t),
            "seconds": round3(seconds),
            "ok": ok,
            "ok_per_s": round3(ok as f64 / seconds.max(1e-9)),
            "ok_by_op": ok_by,
            "non2xx": non2xx,
            "non2xx_by": self.statuses,
            "errors": errors,
            "errors_by": self.errors,
            "skipped": self.skipped,
            "late_100ms": self.late_100ms,
            "p50_ms": percentile_ms(&self.latencies_us, 50.0),
            "p99_ms": percentile_ms(&self.latencies_us, 99.0),
            "max_ms": percentile_ms(&self.latencies_us, 100.0),
            "examples": self.examples,
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    round3(f64::from(sorted_us[rank.min(sorted_us.len() - 1)]) / 1000.0)
}

enum Outcome {
    Ok,
    Status(u16, String),
    Error(String),
    Skipped,
}

struct Shared {
    args: Args,
    setup: Setup,
    http: reqwest::Client,
    client_token: String,
    login_token: String,
    schedule: Vec<Op>,
    logins: AtomicU64,
    window: Mutex<Window>,
}

async fn token(
    http: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
) -> Result<String, String> {
    #[derive(Deserialize)]
    struct T {
        access_token: String,
    }
    let r = http
        .post(format!("{url}/oidc/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .map_err(|e| format!("client token: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("client token: HTTP {}", r.status()));
    }
    Ok(r.json::<T>()
        .await
        .map_err(|e| format!("client token: {e}"))?
        .access_token)
}

fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_body() || e.is_decode() {
        "body".into()
    } else {
        "request".into()
    }
}

async fn finish(sent: Result<reqwest::Response, reqwest::Error>) -> (Outcome, Option<Value>) {
    let r = match sent {
        Ok(r) => r,
        Err(e) => return (Outcome::Error(error_kind(&e)), None),
    };
    let status = r.status();
    let body = match r.bytes().await {
        Ok(b) => b,
        Err(e) => return (Outcome::Error(error_kind(&e)), None),
    };
    if status.is_success() {
        (Outcome::Ok, serde_json::from_slice(&body).ok())
    } else {
        (
            Outcome::Status(status.as_u16(), String::from_utf8_lossy(&body).into_owned()),
            None,
        )
    }
}

/// One worker: a chain token, a sequence of scheduled slots.
async fn worker(s: Arc<Shared>, index: usize, start: Instant, deadline: Instant) {
    let n = s.args.connections as u64;
    let mut chain: Option<String> = s.setup.refresh_tokens.get(index).cloned();
    let url = &s.args.url;
    let mut k: u64 = 0;
    loop {
        let slot = k * n + index as u64;
        k += 1;
        let scheduled = if s.args.rate > 0.0 {
            start + Duration::from_secs_f64(slot as f64 / s.args.rate)
        } else {
            Instant::now()
        };
        if scheduled >= deadline {
            break;
        }
        let now = Instant::now();
        if scheduled > now {
            tokio::time::sleep_until(scheduled.into()).await;
        }
        let sent_at = Instant::now();
        let late = sent_at.duration_since(scheduled) > Duration::from_millis(100);
        let op = s.schedule[(slot % s.schedule.len() as u64) as usize];
        let outcome = match op {
            Op::ClientCredentials => {
                let sent = s
                    .http
                    .post(format!("{url}/oidc/token"))
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", s.setup.client_id.as_str()),
                        ("client_secret", s.setup.client_secret.as_str()),
                    ])
                    .send()
                    .await;
                finish(sent).await.0
            }
            Op::Refresh => match chain.clone() {
                None => Outcome::Skipped,
                Some(t) => {
                    let sent = s
                        .http
                        .post(format!("{url}/oidc/token"))
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", t.as_str()),
                            ("client_id", s.setup.client_id.as_str()),
                            ("client_secret", s.setup.client_secret.as_str()),
                        ])
                        .send()
                        .await;
                    let (outcome, body) = finish(sent).await;
                    match (&outcome, body) {
                        (Outcome::Ok, Some(b)) => match b["refresh_token"].as_str() {
                            Some(next) => chain = Some(next.to_string()),
                            None => {
                                chain = None;
                                return_error(&s, "refresh answer without refresh_token");
                            }
                        },
                        // A refusal ends the chain; a connection error keeps the token (its
                        // retry is answered within the reuse window).
                        (Outcome::Status(..), _) => chain = None,
                        _ => {}
                    }
                    outcome
                }
            },
            Op::Journey => {
                let sent = s
                    .http
                    .post(format!("{url}{}", s.setup.journey_path))
                    .bearer_auth(&s.client_token)
                    .json(&s.setup.journey_body)
                    .send()
                    .await;
                finish(sent).await.0
            }
            Op::Login => {
                let i = s.logins.fetch_add(1, Ordering::Relaxed) as usize;
                let user = &s.setup.users[i % s.setup.users.len()];
                let sent = s
                    .http
                    .post(format!("{url}/cis/v1/auth/password/authenticate"))
                    .bearer_auth(&s.login_token)
                    .json(&json!({"username": user, "password": s.setup.password}))
                    .send()
                    .await;
                finish(sent).await.0
            }
        };
        let latency = Instant::now().duration_since(scheduled);
        s.window
            .lock()
            .expect("window lock")
            .record(op, &outcome, latency, late);
    }
}

fn return_error(s: &Shared, what: &str) {
    let mut w = s.window.lock().expect("window lock");
    *w.errors.entry(what.to_string()).or_default() += 1;
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak-load: {e}");
            std::process::exit(2);
        }
    };
    let setup: Setup = match std::fs::read_to_string(&args.setup)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("soak-load: {}: {e}", args.setup);
            std::process::exit(2);
        }
    };
    if setup.users.is_empty() {
        eprintln!("soak-load: the setup file lists no users");
        std::process::exit(2);
    }
    if setup.refresh_tokens.len() < args.connections {
        eprintln!(
            "soak-load: {} refresh tokens for {} connections (one chain each)",
            setup.refresh_tokens.len(),
            args.connections
        );
        std::process::exit(2);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("soak-load: {e}");
            std::process::exit(2);
        });
    let tokens = (
        token(&http, &args.url, &setup.client_id, &setup.client_secret).await,
        token(
            &http,
            &args.url,
            &setup.login_client_id,
            &setup.login_client_secret,
        )
        .await,
    );
    let (client_token, login_token) = match tokens {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("soak-load: {e}");
            std::process::exit(1);
        }
    };
    let shared = Arc::new(Shared {
        schedule: schedule(&args.mix),
        args,
        setup,
        http,
        client_token,
        login_token,
        logins: AtomicU64::new(0),
        window: Mutex::new(Window::default()),
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(shared.args.seconds);
    let workers: Vec<_> = (0..shared.args.connections)
        .map(|i| tokio::spawn(worker(shared.clone(), i, start, deadline)))
        .collect();
    let all = Arc::new(Mutex::new(Window::default()));
    let reporter = {
        let (shared, all) = (shared.clone(), all.clone());
        tokio::spawn(async move {
            let every = Duration::from_secs_f64(shared.args.interval);
            let mut last = start;
            let mut tick = tokio::time::interval_at((start + every).into(), every);
            loop {
                tick.tick().await;
                let now = Instant::now();
                let mut w = std::mem::take(&mut *shared.window.lock().expect("window lock"));
                all.lock().expect("totals lock").merge(&w);
                let line = w.report(
                    now.duration_since(start).as_secs_f64(),
                    now.duration_since(last).as_secs_f64(),
                    false,
                );
                println!("{line}");
                last = now;
            }
        })
    };
    for w in workers {
        let _ = w.await;
    }
    reporter.abort();
    let end = Instant::now();
    let rest = std::mem::take(&mut *shared.window.lock().expect("window lock"));
    let mut total = std::mem::take(&mut *all.lock().expect("totals lock"));
    total.merge(&rest);
    let secs = end.duration_since(start).as_secs_f64();
    let mut line = total.report(secs, secs, true);
    line["rate_target"] = json!(shared.args.rate);
    line["connections"] = json!(shared.args.connections);
    println!("{line}");
}
