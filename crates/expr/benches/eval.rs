//! Criterion benchmarks: evaluation time of typical compiled expressions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use indexmap::IndexMap;
use serde_json::json;
use tessera_expr::{compile, eval_sync, Context, Deadline, Limits, NoHost, SeededRandom, Value};

const CASES: &[(&str, &str)] = &[
    (
        "seed_condition",
        "@std.strToInt(access_token.exp) > @time.now()/1000 && @std.contains(id_token.amr, \"mfa\")",
    ),
    (
        "seed_condition_two_tokens",
        "@std.strToInt(access_token.exp) > @time.now()/1000 && @std.strToInt(id_token.exp)> (@time.now()/1000)",
    ),
    ("arithmetic", "(n * 3 + 4) % 7 - n / 2 >= 1 ? n << 2 : ~n"),
    ("template", "`Hello ${user.name}, you have ${n} new messages (${user.email})`"),
    ("map_filter_lambda", "@std.filter(@std.map(nums, x => x * 2), x => x > 4)"),
    ("object_access", "user.profile.address.city == \"Paris\" && user?.missing?.x == null"),
    ("let_binding", "let a = n + 1, b = a * 2 return a + b"),
];

fn scope() -> IndexMap<String, Value> {
    let mut s = IndexMap::new();
    let vars = json!({
        "access_token": {"exp": 1_800_000_000, "sub": "alice"},
        "id_token": {"exp": "1800000000", "amr": ["pwd", "otp", "mfa"]},
        "user": {"name": "Ann", "email": "ann@example.com",
                 "profile": {"address": {"city": "Paris"}}},
        "n": 7,
        "nums": [1, 2, 3, 4, 5, 6],
    });
    if let serde_json::Value::Object(map) = vars {
        for (k, v) in map {
            s.insert(k, Value::from(v));
        }
    }
    s
}

/// A deadline that never expires, like a journey run's with time to spare.
struct Never;

impl Deadline for Never {
    fn expired(&self) -> bool {
        false
    }
}

fn bench(c: &mut Criterion) {
    let scope = scope();
    let random = SeededRandom::new(1);
    let ctx = Context::new(1_700_000_000_000, &random, &NoHost);
    let mut group = c.benchmark_group("eval");
    for (name, src) in CASES {
        let program = compile(src).unwrap();
        // Make sure every case succeeds before timing it.
        eval_sync(&program, &scope, &ctx).unwrap();
        group.bench_function(*name, |b| {
            b.iter(|| eval_sync(std::hint::black_box(&program), &scope, &ctx).unwrap())
        });
    }
    group.finish();
    // As a journey run evaluates: a deadline and a run-wide step budget on the context.
    let program = compile(CASES[0].1).unwrap();
    let limits = Limits {
        max_total_steps: u64::MAX,
        ..Limits::default()
    };
    let run_ctx = Context::new(1_700_000_000_000, &random, &NoHost)
        .with_limits(limits)
        .with_deadline(&Never);
    c.bench_function("eval_in_run/seed_condition", |b| {
        b.iter(|| eval_sync(std::hint::black_box(&program), &scope, &run_ctx).unwrap())
    });
    c.bench_function("compile/seed_condition", |b| {
        b.iter(|| compile(std::hint::black_box(CASES[0].1)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
