//! Client-journey load for the benchmark's `client_journey` scenario (issue 12): one whole
//! login flow per iteration — start a client journey whose first step authenticates the user
//! with an external token against a local validator and whose next step completes it, then
//! exchange the code at the token endpoint — against Tessera.
//!
//! Each of N workers owns one user (`--user-prefix` + its number) and loops on a keep-alive
//! connection until `--seconds` have passed; one iteration (a "flow") is:
//! 1. **start**: `POST /ido/api/v2/journeys/{journey}/start?clientId=…` with
//!    `additionalParams: {username, externalToken}` and a PKCE S256 challenge; the journey runs
//!    `custom_authentication` (the validator accepts the token) and `complete` without waiting
//!    for the client, so the answer must be `journey_success` with a `code`;
//! 2. **token**: `POST /oidc/token` `grant_type=authorization_code` (client_secret_post, the
//!    code, the PKCE verifier): it must answer 200 with an access and an ID token.
//!
//! The validator (`--validator`):
//! - `http` (the default; a `token_validator` connection, SPEC §7.4): this process serves
//!   `POST /validate` on `--validator-listen` (127.0.0.1, so Tessera needs
//!   `outbound.allow_cidrs` to reach it). Each worker's token is random, drawn at start; the
//!   endpoint answers `{"valid": true}` only when `token` is the one drawn for `user_id`. Its
//!   calls are counted, and a run where fewer calls were accepted than flows completed fails.
//! - `jwt` (a `jwt_validator` connection with an inline JWKS: no HTTP hop): the tokens are ES256
//!   JWTs signed once per worker with the key in `--key` (PKCS#8, created when the file does not
//!   exist), `iss` = `bench-legacy`, `aud` = `tessera`, `sub` = the username, valid for an hour.
//!   `--print-jwks` prints that key's public JWKS and exits (for the connection's set-up).
//!
//! A failed step ends its iteration (counted by step; the first few bodies go to stderr) and
//! the worker starts the next one. `--warmup` seconds run first and are not counted. At the end
//! it writes a JSON summary to `--out` in ciba-load's shape (`iterations`, `steps`, `failures`,
//! with `step_order`), which `bench/report.py summarize-ciba` turns into table rows.
//!
//! Usage: `journey-flow-load --url BASE_URL --client-id ID --client-secret S --journey ID
//!         --workers N --user-prefix P --seconds N [--warmup N] --out FILE
//!         [--validator http --validator-listen 127.0.0.1:PORT | --validator jwt --key FILE]
//!         [--cpu-pid SERVER_PID]`
//! (`--cpu-pid`: the server's CPU time over the measured run goes into the summary.)
//!        `journey-flow-load --key FILE --print-jwks`

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

/// Failure bodies printed to stderr, at most.
const MAX_REPORTED_FAILURES: usize = 5;
/// RFC 7636's example verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1rn2B8aY9d6Kw4dNy5r3l6xkVl";
const CHALLENGE: &str = "mNHTXepW0Zp42KplcqHoFXoVE7BFj3yvTvKzgKSJjS8";
/// The `jwt` validator's issuer and audience (bench/run configures the connection with them).
const JWT_ISSUER: &str = "bench-legacy";
const JWT_AUDIENCE: &str = "tessera";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Validator {
    Http,
    Jwt,
}

struct Args {
    url: String,
    client_id: String,
    client_secret: String,
    journey: String,
    workers: usize,
    user_prefix: String,
    seconds: u64,
    warmup: u64,
    out: String,
    validator: Validator,
    validator_listen: Option<SocketAddr>,
    key: Option<String>,
    cpu_pid: Option<u32>,
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("journey-flow-load: {e}");
    std::process::exit(2);
}

/// The `--key` file's key pair (PKCS#8), created when the file does not exist.
fn key_pair(path: &str) -> Result<EcdsaKeyPair, String> {
    let der = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|_| "could not generate a P-256 key".to_string())?;
            std::fs::write(path, doc.as_ref()).map_err(|e| format!("{path}: {e}"))?;
            doc.as_ref().to_vec()
        }
        Err(e) => return Err(format!("{path}: {e}")),
    };
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|_| format!("{path}: not a P-256 PKCS#8 key"))
}

/// The public JWKS of `key` (uncompressed point 04 || x || y).
fn jwks(key: &EcdsaKeyPair) -> Value {
    let point = key.public_key().as_ref();
    let (x, y) = point[1..].split_at(32);
    json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "bench-legacy",
                     "x": B64.encode(x), "y": B64.encode(y)}]})
}

fn sign_jwt(key: &EcdsaKeyPair, sub: &str) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": "bench-legacy"});
    let claims =
        json!({"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600});
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig = key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| "signing failed".to_string())?;
    Ok(format!("{input}.{}", B64.encode(sig.as_ref())))
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut id, mut secret, mut journey, mut out) = (None, None, None, None, None);
    let (mut workers, mut user_prefix, mut seconds, mut warmup) = (64, None, 10, 0);
    let (mut validator, mut validator_listen, mut key) = (Validator::Http, None, None);
    let (mut print_jwks, mut cpu_pid) = (false, None);
    while let Some(flag) = it.next() {
        if flag == "--print-jwks" {
            print_jwks = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value.trim_end_matches('/').to_string()),
            "--client-id" => id = Some(value),
            "--client-secret" => secret = Some(value),
            "--journey" => journey = Some(value),
            "--workers" => {
                workers = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--workers: a positive number")?
            }
            "--user-prefix" => user_prefix = Some(value),
            "--seconds" => seconds = value.parse().map_err(|_| "--seconds: a number")?,
            "--warmup" => warmup = value.parse().map_err(|_| "--warmup: a number")?,
            "--out" => out = Some(value),
            "--validator" => {
                validator = match value.as_str() {
                    "http" => Validator::Http,
                    "jwt" => Validator::Jwt,
                    _ => return Err("--validator: http or jwt".into()),
                }
            }
            "--validator-listen" => {
                validator_listen = Some(
                    value
                        .parse()
                        .map_err(|_| "--validator-listen: an address like 127.0.0.1:9000")?,
                )
            }
            "--key" => key = Some(value),
            "--cpu-pid" => cpu_pid = Some(value.parse().map_err(|_| "--cpu-pid: a process id")?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if print_jwks {
        let key = key_pair(&key.ok_or("--print-jwks needs --key")?)?;
        println!("{}", jwks(&key));
        std::process::exit(0);
    }
    match validator {
        Validator::Http if validator_listen.is_none() => {
            return Err("--validator http needs --validator-listen".into())
        }
        Validator::Jwt if key.is_none() => return Err("--validator jwt needs --key".into()),
        _ => {}
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        client_id: id.ok_or("--client-id is required")?,
        client_secret: secret.ok_or("--client-secret is required")?,
        journey: journey.ok_or("--journey is required")?,
        workers,
        user_prefix: user_prefix.ok_or("--user-prefix is required")?,
        seconds,
        warmup,
        out: out.ok_or("--out is required")?,
        validator,
        validator_listen,
        key,
        cpu_pid,
    })
}

/// The steps, in table order; the first is the whole flow.
const STEPS: [&str; 3] = ["iteration", "start", "token"];

/// What one worker measured (only while `Shared::measuring`).
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
    /// Each worker's user and external token.
    users: Vec<(String, String)>,
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
            eprintln!("journey-flow-load: {step} failed: {text}");
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

/// One flow; `Err` names the step that failed.
async fn flow(
    s: &Shared,
    user: &(String, String),
    w: &mut Worker,
) -> Result<(), (&'static str, Failure)> {
    let a = &s.args;
    let started = Instant::now();
    let answer = call(
        s.http
            .post(format!(
                "{}/ido/api/v2/journeys/{}/start?clientId={}",
                a.url, a.journey, a.client_id
            ))
            .json(&json!({
                "additionalParams": {"username": user.0, "externalToken": user.1},
                "code_challenge": CHALLENGE,
                "code_challenge_method": "S256",
            })),
    )
    .await
    .map_err(|f| ("start", f))?;
    if answer.get("type").and_then(Value::as_str) != Some("journey_success") {
        return Err((
            "start",
            Failure::Answer(format!(
                "not journey_success: {}",
                short(&answer.to_string())
            )),
        ));
    }
    let code = member(&answer, "code").map_err(|f| ("start", f))?;
    w.record("start", started);

    let step = Instant::now();
    let tokens = call(s.http.post(format!("{}/oidc/token", a.url)).form(&[
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
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
    let user = &s.users[n];
    let mut w = Worker::default();
    while Instant::now() < deadline {
        if let Err((step, failure)) = flow(&s, user, &mut w).await {
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

/// The local `token_validator` endpoint: `POST /validate` `{user_id, token}` → 200
/// `{"valid": bool}` (400 for a body that is not that).
struct ValidatorState {
    tokens: HashMap<String, String>,
    /// Counted only while measuring.
    measuring: AtomicBool,
    calls: AtomicU64,
    accepted: AtomicU64,
}

async fn validate(
    State(st): State<Arc<ValidatorState>>,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let measuring = st.measuring.load(Ordering::Relaxed);
    if measuring {
        st.calls.fetch_add(1, Ordering::Relaxed);
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            r#"{"valid":false}"#.into(),
        );
    };
    let user = v.get("user_id").and_then(Value::as_str);
    let token = v.get("token").and_then(Value::as_str);
    let valid = match (user, token) {
        (Some(u), Some(t)) => st.tokens.get(u).is_some_and(|expected| expected == t),
        _ => false,
    };
    if valid && measuring {
        st.accepted.fetch_add(1, Ordering::Relaxed);
    }
    (
        axum::http::StatusCode::OK,
        format!(r#"{{"valid":{valid}}}"#),
    )
}

/// A process's user + system CPU time so far, in seconds (all threads), from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The tick rate (100 on Linux unless getconf says otherwise).
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some(ticks / hz)
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| fail("no randomness"));
    B64.encode(bytes)
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

/// Runs the workers for `seconds`; their measurements.
async fn run(shared: &Arc<Shared>, seconds: u64) -> (Vec<Worker>, u64, f64) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..shared.args.workers)
        .map(|n| tokio::spawn(run_worker(shared.clone(), n, deadline)))
        .collect();
    let mut done = Vec::new();
    let mut lost = 0u64;
    for t in tasks {
        match t.await {
            Ok(w) => done.push(w),
            Err(_) => lost += 1,
        }
    }
    (done, lost, started.elapsed().as_secs_f64().max(1e-9))
}

#[tokio::main]
async fn main() {
    let args = args().unwrap_or_else(|e| fail(e));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.workers)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| fail(e));
    let names: Vec<String> = (1..=args.workers)
        .map(|n| format!("{}{n}", args.user_prefix))
        .collect();
    let mut users = Vec::with_capacity(names.len());
    let mut validator = None;
    match args.validator {
        Validator::Http => {
            for name in &names {
                users.push((name.clone(), random_token()));
            }
            let st = Arc::new(ValidatorState {
                tokens: users.iter().cloned().collect(),
                measuring: AtomicBool::new(false),
                calls: AtomicU64::new(0),
                accepted: AtomicU64::new(0),
            });
            let addr = args
                .validator_listen
                .unwrap_or_else(|| fail("no --validator-listen"));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .unwrap_or_else(|e| fail(format!("{addr}: {e}")));
            let app = Router::new()
                .route("/validate", post(validate))
                .with_state(st.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    eprintln!("journey-flow-load: validator: {e}");
                }
            });
            validator = Some(st);
        }
        Validator::Jwt => {
            let key = key_pair(args.key.as_deref().unwrap_or_default()).unwrap_or_else(|e| fail(e));
            for name in &names {
                let token = sign_jwt(&key, name).unwrap_or_else(|e| fail(e));
                users.push((name.clone(), token));
            }
        }
    }
    let (warmup, seconds, out, workers) =
        (args.warmup, args.seconds, args.out.clone(), args.workers);
    let validator_name = match args.validator {
        Validator::Http => "token_validator (local HTTP)",
        Validator::Jwt => "jwt_validator (inline JWKS)",
    };
    let shared = Arc::new(Shared {
        http,
        args,
        users,
        reported: Mutex::new(0),
    });
    if warmup > 0 {
        let (done, _, _) = run(&shared, warmup).await;
        let ok: usize = done
            .iter()
            .map(|w| w.latencies_us.get("iteration").map_or(0, Vec::len))
            .sum();
        eprintln!("journey-flow-load: warm-up: {ok} flows in {warmup} s");
    }
    let cpu_pid = shared.args.cpu_pid;
    let cpu_before = cpu_pid.and_then(cpu_seconds);
    if let Some(v) = &validator {
        v.measuring.store(true, Ordering::Relaxed);
    }
    let (done, lost_workers, elapsed) = run(&shared, seconds).await;
    if let Some(v) = &validator {
        v.measuring.store(false, Ordering::Relaxed);
    }
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
    let (calls, accepted) = validator.as_ref().map_or((Value::Null, Value::Null), |v| {
        (
            json!(v.calls.load(Ordering::Relaxed)),
            json!(v.accepted.load(Ordering::Relaxed)),
        )
    });
    let summary = json!({
        "target": "tessera",
        "validator": validator_name,
        "workers": workers,
        "duration_s": elapsed,
        "iterations": {"ok": ok, "failed": failed, "errors": errors},
        "iterations_per_s": ok as f64 / elapsed,
        "step_order": STEPS,
        "steps": steps,
        "server_cpu_s": server_cpu_s,
        "validator_calls": calls,
        "validator_accepted": accepted,
        "failures": failures
            .iter()
            .map(|(k, (a, b))| (k.to_string(), json!({"failed": a, "errors": b})))
            .collect::<serde_json::Map<_, _>>(),
    });
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    if let Err(e) = std::fs::write(&out, text + "\n") {
        eprintln!("journey-flow-load: {out}: {e}");
        std::process::exit(1);
    }
    // Every completed flow passed the validator once: fewer accepted calls than flows means
    // the journey did not ask the local validator (the measurement would not be what it says).
    if let Some(v) = &validator {
        let accepted = v.accepted.load(Ordering::Relaxed);
        // A flow in flight at the switch can be counted on one side only: allow `workers`.
        if accepted + (workers as u64) < ok {
            eprintln!(
                "journey-flow-load: the validator accepted {accepted} tokens but {ok} flows completed"
            );
            std::process::exit(1);
        }
    }
}
