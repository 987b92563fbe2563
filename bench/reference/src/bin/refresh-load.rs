//! Chained refresh-grant load for Tessera's benchmark (SPEC §10: ≥ 5,000 durable refreshes/s).
//!
//! A refresh token is single-use, so a fixed-request load generator cannot drive the grant:
//! each of N workers here owns one token chain and loops `POST /oidc/token
//! grant_type=refresh_token` on a keep-alive connection, always presenting the token the
//! previous response returned. A chain stops at its first failure (a lost chain cannot
//! continue). At the end it prints one TSV row in the format of `bench/report.py`'s summary
//! and writes every chain's last acknowledged token, one per line, to `--out`, so the next
//! run can continue the chains and a durability check can look them up after `kill -9`.
//!
//! Usage: `refresh-load --url URL --client-id ID --client-secret S --tokens FILE --out FILE
//!         --seconds N [--label SCENARIO/SERVER]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

#[derive(Deserialize)]
struct TokenResponse {
    refresh_token: String,
}

struct Args {
    url: String,
    client_id: String,
    client_secret: String,
    tokens: String,
    out: String,
    seconds: u64,
    label: String,
}

fn args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut id, mut secret, mut tokens, mut out) = (None, None, None, None, None);
    let (mut seconds, mut label) = (10, "refresh/tessera".to_string());
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--client-id" => id = Some(value),
            "--client-secret" => secret = Some(value),
            "--tokens" => tokens = Some(value),
            "--out" => out = Some(value),
            "--seconds" => seconds = value.parse().map_err(|_| "--seconds: a number")?,
            "--label" => label = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        client_id: id.ok_or("--client-id is required")?,
        client_secret: secret.ok_or("--client-secret is required")?,
        tokens: tokens.ok_or("--tokens is required")?,
        out: out.ok_or("--out is required")?,
        seconds,
        label,
    })
}

/// What one worker measured.
struct Chain {
    latencies_us: Vec<u32>,
    non_ok: u64,
    errors: u64,
    last_token: String,
}

async fn run_chain(
    http: reqwest::Client,
    args: Arc<Args>,
    mut token: String,
    deadline: Instant,
) -> Chain {
    let mut chain = Chain {
        latencies_us: Vec::with_capacity(1 << 16),
        non_ok: 0,
        errors: 0,
        last_token: String::new(),
    };
    while Instant::now() < deadline {
        let started = Instant::now();
        let sent = http
            .post(&args.url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", args.client_id.as_str()),
                ("client_secret", args.client_secret.as_str()),
            ])
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(_) => {
                chain.errors += 1;
                break;
            }
        };
        if !response.status().is_success() {
            chain.non_ok += 1;
            break;
        }
        match response.json::<TokenResponse>().await {
            Ok(body) => {
                let us = started.elapsed().as_micros();
                chain
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
                token = body.refresh_token;
            }
            Err(_) => {
                chain.errors += 1;
                break;
            }
        }
    }
    chain.last_token = token;
    chain
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    f64::from(sorted_us[rank.min(sorted_us.len() - 1)]) / 1000.0
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("refresh-load: {e}");
            std::process::exit(2);
        }
    };
    let tokens: Vec<String> = match std::fs::read_to_string(&args.tokens) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(e) => {
            eprintln!("refresh-load: {}: {e}", args.tokens);
            std::process::exit(2);
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(tokens.len())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| {
            eprintln!("refresh-load: {e}");
            std::process::exit(2);
        });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = tokens
        .into_iter()
        .map(|t| tokio::spawn(run_chain(http.clone(), args.clone(), t, deadline)))
        .collect();
    let mut latencies: Vec<u32> = Vec::new();
    let (mut non_ok, mut errors, mut last) = (0u64, 0u64, Vec::new());
    for w in workers {
        match w.await {
            Ok(chain) => {
                latencies.extend_from_slice(&chain.latencies_us);
                non_ok += chain.non_ok;
                errors += chain.errors;
                last.push(chain.last_token);
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    latencies.sort_unstable();
    let ok = latencies.len() as u64;
    let total = ok + non_ok + errors;
    let (scenario, server) = args.label.split_once('/').unwrap_or(("refresh", "tessera"));
    println!(
        "{scenario}\t{server}\t{:.0}\t{:.0}\t{:.3}\t{:.3}\t{ok}\t{non_ok}\t{errors}\t{total}",
        ok as f64 / elapsed,
        total as f64 / elapsed,
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );
    if let Err(e) = std::fs::write(&args.out, last.join("\n") + "\n") {
        eprintln!("refresh-load: {}: {e}", args.out);
        std::process::exit(1);
    }
}
