//! Run limits against the review's attacks on the running server: one journey request must
//! never crash or stall the server. Each attack ends in `limit_exceeded`, the same way on every
//! run (count-based limits first), quickly, on a 2 MiB stack (an HTTP worker's).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::json;
use tessera_journey::{
    resume_backend, FrozenClock, JwksCache, RunClock, RunEnv, RunLimits, RunOutcome, RunRequest,
    RunResult, RunState, SeededRandom, StubOutbound,
};

use crate::support::{journey, request};

const HEAD: &str = "id: j\ntype: backend_api\nsteps:\n";

/// A clock that moves `tick` forward every time it is read.
struct TickingClock {
    now_us: AtomicU64,
    tick_us: u64,
}

impl RunClock for TickingClock {
    fn monotonic(&self) -> Duration {
        Duration::from_micros(self.now_us.fetch_add(self.tick_us, Ordering::SeqCst))
    }
}

/// Runs the journey on a 2 MiB thread with a current-thread runtime, like an HTTP worker.
fn run_small(yaml: String, req: RunRequest, limits: RunLimits, clock: Option<u64>) -> RunOutcome {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let j = journey(&yaml);
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let ticking = clock.map(|tick_us| TickingClock {
                now_us: AtomicU64::new(0),
                tick_us,
            });
            let clock: &dyn RunClock = match &ticking {
                Some(c) => c,
                None => &FrozenClock,
            };
            let random = SeededRandom::new(7);
            let (conns, out, jwks) = (IndexMap::new(), StubOutbound::new(vec![]), JwksCache::new());
            let env = RunEnv::new(1_700_000_000_000, clock, &random, &conns, &out, &jwks)
                .with_limits(limits);
            rt.block_on(tessera_journey::run_backend(&j, req, &env))
        })
        .unwrap()
        .join()
        .unwrap()
}

fn failure(outcome: &RunOutcome) -> (String, String, String) {
    match &outcome.result {
        RunResult::Failed(f) => (f.step_id.clone(), f.code.clone(), f.message.clone()),
        RunResult::Completed(r) => panic!("expected a failure, got {r:?}"),
    }
}

/// Runs twice and checks both runs fail the same way; returns (step, code, message).
fn fails_twice(yaml: &str, req: RunRequest) -> (String, String, String) {
    let first = run_small(yaml.to_string(), req.clone(), RunLimits::default(), None);
    let second = run_small(yaml.to_string(), req, RunLimits::default(), None);
    let f = failure(&first);
    assert_eq!(f, failure(&second), "the same failure on every run");
    assert_eq!(first.trace.path(), second.trace.path());
    assert_eq!(f.1, "limit_exceeded", "{f:?}");
    f
}

fn doubling(name: &str, leaf: &str, n: usize) -> String {
    let mut s = format!("      {name}0: '{leaf}'\n");
    for i in 1..=n {
        s.push_str(&format!(
            "      {name}{i}: '[{name}{p}, {name}{p}]'\n",
            p = i - 1
        ));
    }
    s
}

/// The review's stack overflow: a `set_variables` step with `v1=[x], v2=[v1], …, v2000=[v1999]`
/// in a condition loop crashed the process.
#[test]
fn set_variables_chain_of_2000_nested_lets_in_a_loop_is_limit_exceeded() {
    let mut vars = String::from("      v0: 'x'\n");
    for i in 1..=2000 {
        vars.push_str(&format!("      v{i}: '[v{}]'\n", i - 1));
    }
    let yaml = format!(
        "{HEAD}  - {{id: init, type: set_variables, variables: {{x: '1'}}}}\n  - id: chain\n    type: set_variables\n    variables:\n{vars}  - {{id: again, type: condition, expression: 'true', on_true: chain, on_false: done}}\n  - {{id: done, type: http_complete, status: 200}}\n"
    );
    let (step, _, message) = fails_twice(&yaml, request(json!({})));
    assert_eq!(step, "chain");
    assert!(
        message.contains("value nesting depth limit exceeded"),
        "{message}"
    );
    // One variable nested once more per round trip: the carried value hits the same bound.
    let yaml = format!(
        "{HEAD}  - {{id: init, type: set_variables, variables: {{v: '1'}}}}\n  - {{id: wrap, type: set_variables, variables: {{v: '[v]'}}}}\n  - {{id: again, type: condition, expression: 'true', on_true: wrap, on_false: done}}\n  - {{id: done, type: http_complete, status: 200}}\n"
    );
    let (step, _, message) = fails_twice(&yaml, request(json!({})));
    assert_eq!(step, "wrap");
    assert!(
        message.contains("value nesting depth limit exceeded"),
        "{message}"
    );
}

/// The review's abort: `a1=[a0,a0] … a34=[a33,a33]` then `"" + a34` allocated 4 GiB. Refused
/// from the cached size, in an expression and when the step writes a body or header.
#[test]
fn doubling_34_times_then_string_concat_is_limit_exceeded() {
    let build = format!(
        "  - id: build\n    type: set_variables\n    variables:\n{}",
        doubling("a", "\"x\"", 34)
    );
    for (tail, field) in [
        ("  - {id: s, type: set_variables, variables: {s: '\"\" + a34'}}\n  - {id: done, type: http_complete, status: 200}\n", "variables.s"),
        ("  - {id: done, type: http_complete, status: 200, body: 'a34'}\n", "body"),
        ("  - {id: done, type: http_complete, status: 200, response_type: text, body: 'a34'}\n", "body"),
        ("  - {id: done, type: http_complete, status: 200, headers: {X-A: '${a34}'}}\n", "headers.X-A"),
    ] {
        let yaml = format!("{HEAD}{build}{tail}");
        let (_, _, message) = fails_twice(&yaml, request(json!({})));
        assert!(message.starts_with(field), "{message}");
        assert!(message.contains("string length limit exceeded"), "{message}");
    }
}

/// The review's stall: `==` between two separately built 29-level (and 34-level) trees blocked
/// the worker for seconds to minutes. A condition loop comparing them now ends at the step
/// limit, quickly; a `match` on them matches.
#[test]
fn equality_of_separately_built_trees_in_a_condition_loop_is_fast() {
    for levels in [29, 34] {
        let build = format!(
            "  - id: build\n    type: set_variables\n    variables:\n{}{}",
            doubling("a", "1", levels),
            doubling("b", "1", levels)
        );
        let yaml = format!(
            "{HEAD}{build}  - {{id: cmp, type: condition, expression: 'a{levels} == b{levels}', on_true: cmp, on_false: done}}\n  - {{id: done, type: http_complete, status: 200}}\n"
        );
        let (step, _, message) = fails_twice(&yaml, request(json!({})));
        assert_eq!(step, "cmp");
        assert!(message.contains("step limit of 1000"), "{message}");

        let yaml = format!(
            "{HEAD}{build}  - id: m\n    type: match\n    expression: 'a{levels}'\n    cases: [{{value: '[1]', next: no}}, {{value: 'b{levels}', next: yes}}]\n  - {{id: no, type: http_complete, status: 500}}\n  - {{id: yes, type: http_complete, status: 200}}\n"
        );
        let out = run_small(yaml, request(json!({})), RunLimits::default(), None);
        assert_eq!(out.trace.path(), ["build", "m", "yes"]);
    }
}

/// Deep JSON in a step: parsing it, or receiving it in the request body, is `limit_exceeded`.
#[test]
fn deep_json_in_a_run_is_limit_exceeded() {
    let doc = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let yaml = format!("{HEAD}  - {{id: p, type: set_variables, variables: {{v: '@json.parse(@policy.request().body.doc)'}}}}\n  - {{id: done, type: http_complete, status: 200}}\n");
    let (step, _, message) = fails_twice(&yaml, request(json!({ "doc": doc })));
    assert_eq!(step, "p");
    assert!(
        message.contains("value nesting depth limit exceeded"),
        "{message}"
    );

    let mut body = json!(1);
    for _ in 0..200 {
        body = json!([body]);
    }
    let yaml = format!("{HEAD}  - {{id: p, type: set_variables, variables: {{v: '@policy.request().body'}}}}\n  - {{id: done, type: http_complete, status: 200}}\n");
    let (step, _, message) = fails_twice(&yaml, request(body));
    assert_eq!(step, "p");
    assert!(
        message.contains("value nesting depth limit exceeded"),
        "{message}"
    );
}

/// The run's expression budget (`max_expression_steps`) spans every evaluation of the run: a
/// loop of expressions that each stay under the per-evaluation limit still ends, at the same
/// point on every run, with no clock involved.
#[test]
fn expression_budget_is_counted_across_steps() {
    let yaml = format!(
        "{HEAD}  - {{id: work, type: set_variables, variables: {{n: '@std.len(@std.range(50000))'}}}}\n  - {{id: again, type: condition, expression: 'n > 0', on_true: work, on_false: done}}\n  - {{id: done, type: http_complete, status: 200}}\n"
    );
    let (step, _, message) = fails_twice(&yaml, request(json!({})));
    assert_eq!(step, "work");
    assert!(
        message.contains("total evaluation step limit exceeded"),
        "{message}"
    );
    let out = run_small(yaml, request(json!({})), RunLimits::default(), None);
    // About 1,000,000 / 50,000 rounds of two steps each.
    let len = out.trace.path().len();
    assert!((30..50).contains(&len), "{len}");
}

/// The time limit is the last resort: with the count-based limits lifted, one runaway
/// expression stops at the run's deadline (asked inside the evaluation, on the injected
/// clock), not after minutes.
#[test]
fn runaway_expression_stops_at_the_run_deadline() {
    let yaml = format!(
        "{HEAD}  - {{id: spin, type: set_variables, variables: {{v: '@std.map(@std.range(90000), x => @std.map(@std.range(90000), y => y))'}}}}\n  - {{id: done, type: http_complete, status: 200}}\n"
    );
    let limits = RunLimits {
        wall_time: Duration::from_millis(100),
        max_expression_steps: u64::MAX,
        expr: tessera_expr_limits_lifted(),
        ..RunLimits::default()
    };
    // Every clock read moves 10 ms: the deadline passes after about ten checks.
    let out = run_small(yaml, request(json!({})), limits, Some(10_000));
    let (step, code, message) = failure(&out);
    assert_eq!((step.as_str(), code.as_str()), ("spin", "limit_exceeded"));
    assert!(
        message.contains("evaluation time limit exceeded"),
        "{message}"
    );
}

fn tessera_expr_limits_lifted() -> tessera_expr::Limits {
    tessera_expr::Limits {
        max_steps: u64::MAX,
        ..RunLimits::default().expr
    }
}

/// Variables carried in a stored run state obey the same depth bound.
#[tokio::test]
async fn resumed_run_with_a_too_deep_variable_is_limit_exceeded() {
    let j = journey(&format!(
        "{HEAD}  - {{id: done, type: http_complete, status: 200, body: 'v'}}\n"
    ));
    let mut v = json!(1);
    for _ in 0..200 {
        v = json!([v]);
    }
    let mut state = RunState::start(&j);
    state.variables.insert("v".into(), v);
    let random = SeededRandom::new(7);
    let (conns, out, jwks) = (IndexMap::new(), StubOutbound::new(vec![]), JwksCache::new());
    let env = RunEnv::new(0, &FrozenClock, &random, &conns, &out, &jwks);
    let outcome = resume_backend(&j, state, request(json!({})), &env).await;
    let (_, code, message) = failure(&outcome);
    assert_eq!(code, "limit_exceeded");
    assert_eq!(message, "variable `v`: value nesting depth limit exceeded");
}
