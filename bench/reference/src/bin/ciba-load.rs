//! CIBA load for the benchmark's `ciba` scenario: backchannel request → the user's approval →
//! token poll, per second, against Tessera or the node-oidc-provider peer.
//!
//! Each of N workers owns one user (`--hint-prefix` + its number) and loops on a keep-alive
//! connection until `--seconds` have passed; one iteration is:
//! 1. **backchannel**: `POST` the backchannel endpoint, form `client_id`, `client_secret`
//!    (client_secret_post), `scope=openid`, `login_hint`; the answer's `auth_req_id`;
//! 2. **approval**: the user approves. Tessera accepts a decision only with a token from an
//!    authentication made after the request, so the approval is that authentication plus the
//!    decision: `POST /cis/v1/auth/otp/send` (`channel: direct`, which hands the code back;
//!    the client token needs `auth:direct`) → `POST /cis/v1/auth/otp/authenticate` → `POST
//!    /cis/auth/backchannel/complete` with the user's access token. The node peer's
//!    `POST /bench/ciba/approve` records the decision only (no authentication);
//! 3. **token**: `POST` the token endpoint with `grant_type=urn:openid:params:grant-type:ciba`
//!    once: it must answer 200 with an access and an ID token on this first poll.
//!
//! A failed step ends its iteration (counted by step; the first few bodies go to stderr) and
//! the worker starts the next one. Each step's latency is measured on its own (the approval
//! also by its sub-requests), and so is the whole iteration. At the end it writes a JSON
//! summary to `--out`, which `bench/report.py summarize-ciba` turns into table rows.
//!
//! Usage: `ciba-load --target tessera|node --url BASE_URL --client-id ID --client-secret S
//!         --workers N --hint-prefix P --seconds N --out FILE [--bearer CLIENT_TOKEN]`
//! (`--bearer`, for Tessera: the client token that calls the OTP API.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// Failure bodies printed to stderr, at most.
const MAX_REPORTED_FAILURES: usize = 5;

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
    workers: usize,
    hint_prefix: String,
    seconds: u64,
    out: String,
    bearer: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut target, mut url, mut id, mut secret, mut out, mut bearer) =
        (None, None, None, None, None, None);
    let (mut workers, mut hint_prefix, mut seconds) = (64, None, 10);
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
            "--workers" => {
                workers = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--workers: a positive number")?
            }
            "--hint-prefix" => hint_prefix = Some(value),
            "--seconds" => seconds = value.parse().map_err(|_| "--seconds: a number")?,
            "--out" => out = Some(value),
            "--bearer" => bearer = Some(value),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let target = target.ok_or("--target is required")?;
    if target == Target::Tessera && bearer.is_none() {
        return Err(
            "--bearer (a client token with auth and auth:direct) is required for tessera".into(),
        );
    }
    Ok(Args {
        target,
        url: url.ok_or("--url is required")?,
        client_id: id.ok_or("--client-id is required")?,
        client_secret: secret.ok_or("--client-secret is required")?,
        workers,
        hint_prefix: hint_prefix.ok_or("--hint-prefix is required")?,
        seconds,
        out: out.ok_or("--out is required")?,
        bearer,
    })
}

/// The steps, in the order of an iteration; `approval.*` are the approval's sub-requests.
const STEPS: [&str; 7] = [
    "iteration",
    "backchannel",
    "approval",
    "token",
    "approval.otp_send",
    "approval.otp_authenticate",
    "approval.complete",
];

/// What one worker measured.
#[derive(Default)]
struct Worker {
    /// Latencies in µs by step.
    latencies_us: BTreeMap<&'static str, Vec<u32>>,
    /// Failed iterations by the step that failed: (non-2xx or wrong answer, connection errors).
    failures: BTreeMap<&'static str, (u64, u64)>,
}

impl Worker {
    fn record(&mut self, step: &'static str, started: Instant) {
        let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.latencies_us.entry(step).or_default().push(us);
    }
}

/// Why a step failed.
enum Failure {
    /// A response that is not what the step needs (status, body).
    Answer(String),
    /// Connection error or unreadable body.
    Transport(String),
}

struct Shared {
    http: reqwest::Client,
    args: Args,
    reported: Mutex<usize>,
}

impl Shared {
    fn report(&self, step: &str, failure: &Failure) {
        let mut n = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if *n < MAX_REPORTED_FAILURES {
            *n += 1;
            let text = match failure {
                Failure::Answer(t) | Failure::Transport(t) => t,
            };
            eprintln!("ciba-load: {step} failed: {text}");
        }
    }
}

/// At most 300 characters of `text`.
fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Sends `request`; the JSON body of a 2xx answer.
async fn call(request: reqwest::RequestBuilder) -> Result<Value, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::Transport(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Failure::Transport(e.to_string()))?;
    if !status.is_success() {
        return Err(Failure::Answer(format!("HTTP {status}: {}", short(&text))));
    }
    serde_json::from_str(&text).map_err(|_| Failure::Answer(format!("not JSON: {}", short(&text))))
}

/// A string member of `body`, or the failure that names what is missing.
fn member(body: &Value, key: &str) -> Result<String, Failure> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Failure::Answer(format!("no `{key}` in {}", short(&body.to_string()))))
}

/// One iteration; `Err` names the step that failed.
async fn iteration(s: &Shared, hint: &str, w: &mut Worker) -> Result<(), (&'static str, Failure)> {
    let a = &s.args;
    let (backchannel, token) = match a.target {
        Target::Tessera => ("/oidc/backchannel", "/oidc/token"),
        Target::Node => ("/backchannel", "/token"),
    };
    let started = Instant::now();
    let mut form = vec![
        ("client_id", a.client_id.as_str()),
        ("client_secret", a.client_secret.as_str()),
        ("scope", "openid"),
        ("login_hint", hint),
    ];
    // Tessera: hand the link back instead of sending it (the node peer sends nothing
    // either), and look the hint up as a username only.
    if a.target == Target::Tessera {
        form.push((
            "request_context",
            r#"{"channel":"link","login_hint_type":"username"}"#,
        ));
    }
    let body = call(s.http.post(format!("{}{backchannel}", a.url)).form(&form))
        .await
        .map_err(|f| ("backchannel", f))?;
    let auth_req_id = member(&body, "auth_req_id").map_err(|f| ("backchannel", f))?;
    w.record("backchannel", started);

    let approval = Instant::now();
    match a.target {
        Target::Tessera => {
            let bearer = a.bearer.as_deref().unwrap_or_default();
            let step = Instant::now();
            let sent = call(
                s.http
                    .post(format!("{}/cis/v1/auth/otp/send", a.url))
                    .bearer_auth(bearer)
                    .json(&json!({"channel": "direct", "identifier_type": "username", "identifier": hint})),
            )
            .await
            .map_err(|f| ("approval", f))?;
            let code = member(&sent, "code").map_err(|f| ("approval", f))?;
            w.record("approval.otp_send", step);
            let step = Instant::now();
            let login = call(
                s.http
                    .post(format!("{}/cis/v1/auth/otp/authenticate", a.url))
                    .bearer_auth(bearer)
                    .json(&json!({"passcode": code, "identifier_type": "username", "identifier": hint})),
            )
            .await
            .map_err(|f| ("approval", f))?;
            let user_token = member(&login, "access_token").map_err(|f| ("approval", f))?;
            w.record("approval.otp_authenticate", step);
            let step = Instant::now();
            call(
                s.http
                    .post(format!("{}/cis/auth/backchannel/complete", a.url))
                    .bearer_auth(user_token)
                    .json(&json!({"auth_req_id": auth_req_id, "approved": true})),
            )
            .await
            .map_err(|f| ("approval", f))?;
            w.record("approval.complete", step);
        }
        Target::Node => {
            call(
                s.http
                    .post(format!("{}/bench/ciba/approve", a.url))
                    .json(&json!({"auth_req_id": auth_req_id})),
            )
            .await
            .map_err(|f| ("approval", f))?;
        }
    }
    w.record("approval", approval);

    let step = Instant::now();
    let tokens = call(s.http.post(format!("{}{token}", a.url)).form(&[
        ("grant_type", CIBA_GRANT),
        ("auth_req_id", auth_req_id.as_str()),
        ("client_id", a.client_id.as_str()),
        ("client_secret", a.client_secret.as_str()),
    ]))
    .await
    .map_err(|f| ("token", f))?;
    for key in ["access_token", "id_token"] {
        member(&tokens, key).map_err(|f| ("token", f))?;
    }
    w.record("token", step);
    w.record("iteration", started);
    Ok(())
}

async fn run_worker(s: Arc<Shared>, n: usize, deadline: Instant) -> Worker {
    let hint = format!("{}{n}", s.args.hint_prefix);
    let mut w = Worker::default();
    while Instant::now() < deadline {
        if let Err((step, failure)) = iteration(&s, &hint, &mut w).await {
            s.report(step, &failure);
            let entry = w.failures.entry(step).or_default();
            match failure {
                Failure::Answer(_) => entry.0 += 1,
                Failure::Transport(_) => entry.1 += 1,
            }
        }
    }
    w
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

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ciba-load: {e}");
            std::process::exit(2);
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.workers)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("ciba-load: {e}");
            std::process::exit(2);
        });
    let (workers, seconds, out) = (args.workers, args.seconds, args.out.clone());
    let target = match args.target {
        Target::Tessera => "tessera",
        Target::Node => "node",
    };
    let shared = Arc::new(Shared {
        http,
        args,
        reported: Mutex::new(0),
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (1..=workers)
        .map(|n| tokio::spawn(run_worker(shared.clone(), n, deadline)))
        .collect();
    let mut latencies: BTreeMap<&'static str, Vec<u32>> = BTreeMap::new();
    let mut failures: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut lost_workers = 0u64;
    for t in tasks {
        match t.await {
            Ok(w) => {
                for (step, l) in w.latencies_us {
                    latencies.entry(step).or_default().extend_from_slice(&l);
                }
                for (step, (a, b)) in w.failures {
                    let e = failures.entry(step).or_default();
                    e.0 += a;
                    e.1 += b;
                }
            }
            Err(_) => lost_workers += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
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
        "target": target,
        "workers": workers,
        "duration_s": elapsed,
        "iterations": {"ok": ok, "failed": failed, "errors": errors},
        "iterations_per_s": ok as f64 / elapsed,
        "steps": steps,
        "failures": failures
            .iter()
            .map(|(k, (a, b))| (k.to_string(), json!({"failed": a, "errors": b})))
            .collect::<serde_json::Map<_, _>>(),
    });
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    if let Err(e) = std::fs::write(&out, text + "\n") {
        eprintln!("ciba-load: {out}: {e}");
        std::process::exit(1);
    }
}
