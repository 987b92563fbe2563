//! The malformed-request generator (issue 10): requests built from the router's own route
//! table (`tessera_api::endpoints()`), every route and method, with path parameters, query
//! strings, credentials, content types, bodies and framing either valid for the route or
//! mutated — invalid UTF-8, control characters, huge numbers, deep nesting, long strings,
//! duplicate keys, truncated documents, bad percent-encoding, wrong content types,
//! `Content-Length` mismatches. Each answer is judged (`verdict.rs`): below 500, the
//! documented error format, no hang, no dropped connection.
//!
//! Deterministic: case *i* of seed *s* is always the same request (its choices come from a
//! PRNG seeded with *s* and *i*), so a failure reproduces with `MALFORMED_SEED=s` and
//! `MALFORMED_CASE=i`. The server's state still depends on what ran before (a case may find an
//! object another case deleted), which can change its answer but not the request.

pub mod fixture;
pub mod mutate;
pub mod raw;
pub mod templates;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use self::fixture::Values;
use self::verdict::Stats;

/// SplitMix64: small, fast and good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator of case `index` of `seed`, independent of every other case's.
    pub fn for_case(seed: u64, index: usize) -> Self {
        let mut r = Self::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with `percent` % probability.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What to run: from `MALFORMED_REQUESTS` (default `default_requests`), `MALFORMED_SEED`
/// (default: from the clock, printed) and `MALFORMED_CASE` (one case only).
#[derive(Debug, Clone)]
pub struct Settings {
    pub requests: usize,
    pub seed: u64,
    pub only: Option<usize>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Longest wait for one answer before it counts as a hang.
    pub deadline: Duration,
}

impl Settings {
    pub fn from_env(default_requests: usize) -> Self {
        let number = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.trim()
                    .parse::<u64>()
                    .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
            })
        };
        let seed = number("MALFORMED_SEED").unwrap_or_else(|| crate::harness::now_ms() as u64);
        Self {
            requests: number("MALFORMED_REQUESTS").map_or(default_requests, |n| n as usize),
            seed,
            only: number("MALFORMED_CASE").map(|n| n as usize),
            concurrency: 6,
            deadline: Duration::from_secs(20),
        }
    }
}

/// Sends the cases of `settings` to the server of `values` and judges every answer.
pub async fn run(values: &Values, settings: &Settings) -> Stats {
    let routes = Arc::new(tessera_api::endpoints());
    let values = Arc::new(values.clone());
    let indexes: Vec<usize> = match settings.only {
        Some(i) => vec![i],
        None => (0..settings.requests).collect(),
    };
    let mut stats = Stats::default();
    let mut in_flight = JoinSet::new();
    for index in indexes {
        if in_flight.len() >= settings.concurrency.max(1) {
            if let Some(done) = in_flight.join_next().await {
                let (case, verdict) = done.expect("a generator task panicked");
                stats.record(&case, verdict);
            }
        }
        let case = mutate::case(&routes, &values, settings.seed, index);
        let addr = values.addr.clone();
        let deadline = settings.deadline;
        in_flight.spawn(async move {
            let outcome = raw::send(&addr, &case.request, deadline).await;
            let verdict = verdict::judge(&case, &outcome);
            (case, verdict)
        });
    }
    while let Some(done) = in_flight.join_next().await {
        let (case, verdict) = done.expect("a generator task panicked");
        stats.record(&case, verdict);
    }
    stats
}
