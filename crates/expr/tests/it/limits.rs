//! Limits: every bound yields `limit_exceeded` quickly instead of hanging, exhausting memory or
//! overflowing the stack.

use std::time::{Duration, Instant};

use tessera_expr::ErrorCode;

use crate::support::run;

fn assert_limit(src: &str) {
    let start = Instant::now();
    let e = run(src).expect_err(src);
    assert_eq!(e.code, ErrorCode::LimitExceeded, "`{src}`: {e}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "`{src}` took {:?}",
        start.elapsed()
    );
}

#[test]
fn sizes() {
    assert_limit("\"a\" * 1e9");
    assert_limit("\"a\" * 1e300");
    assert_limit("@std.range(1e12)");
    assert_limit("@std.range(100001)");
    assert_limit("@std.randomBase64(1e9)");
    assert_limit("let s = \"x\" * 600000 return s + s");
    assert_limit("let s = \"x\" * 600000 return `${s}${s}`");
    assert_limit("@strings.replace(\"x\" * 1000, \"\", \"y\" * 2000)");
    assert_limit("let a = @std.range(60000) return a + a");
}

#[test]
fn steps() {
    assert_limit("@std.reduce(@std.range(100000), (acc, x) => acc + x, 0)");
    assert_limit("@std.map(@std.range(50000), x => @std.map(@std.range(50000), y => y))");
    assert_limit("@std.sort(@std.range(100000), (a, b) => b - a)");
    assert_limit("@std.distinct(@std.range(100000))");
}

#[test]
fn recursion() {
    // Self-application recursion without a base case.
    assert_limit("let f = g => @(g)(g) return @(f)(f)");
    assert_limit("let f = (g, n) => @(g)(g, n + 1) + 1 return @(f)(f, 0)");
}

#[test]
fn value_nesting() {
    // Each iteration wraps the accumulator once more.
    assert_limit("@std.reduce(@std.range(1000), (acc, x) => [acc], [])");
    assert_limit("@std.reduce(@std.range(1000), (acc, x) => {a: acc}, {})");
    assert_limit("@std.reduce(@std.range(1000), (f, x) => (y => @(f)(y)), y => y)");
    // Moderate nesting is fine.
    let v = run("@std.len(@std.reduce(@std.range(50), (acc, x) => [acc], []))").unwrap();
    assert_eq!(v, serde_json::json!(1));
}

#[test]
fn deep_but_legal_programs_fit_a_small_stack() {
    // Worst case: a nearly maximally deep tree at the maximum lambda call depth, on a 2 MiB
    // thread (tokio's default worker stack size) in a debug build.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let body = format!("{}@(g)(g, n){}", "[".repeat(58), "]".repeat(58));
            let src = format!("let f = (g, n) => {body} return @(f)(f, 0)");
            run(&src).map(|_| ()).map_err(|e| e.code)
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), Err(ErrorCode::LimitExceeded));
}
