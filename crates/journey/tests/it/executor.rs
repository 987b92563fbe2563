//! Executor: the seed journey, branching, errors, limits, web services.

use serde_json::json;
use tessera_journey::{
    parse_test_cases, run_test_case, FrozenClock, JwksCache, RunEnv, RunLimits, RunResult,
    SeededRandom, StubOutbound, TraceOutcome,
};

use crate::support::{connections, journey, request, run, run_with, stub};

const HEAD: &str = "id: j\ntype: backend_api\nsteps:\n";

fn failure(outcome: &tessera_journey::RunOutcome) -> &tessera_journey::JourneyFailure {
    match &outcome.result {
        RunResult::Failed(f) => f,
        RunResult::Completed(r) => panic!("expected failure, got {r:?}"),
    }
}

fn response(outcome: &tessera_journey::RunOutcome) -> &tessera_journey::HttpResponse {
    match &outcome.result {
        RunResult::Completed(r) => r,
        RunResult::Failed(f) => panic!("expected completion, got {f:?}"),
    }
}

#[tokio::test]
async fn seed_example_cases_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/journeys");
    let text = std::fs::read_to_string(format!("{dir}/validate-transaction.yaml")).unwrap();
    let j = journey(&text);
    let cases = parse_test_cases(
        &std::fs::read_to_string(format!("{dir}/validate-transaction.tests/cases.yaml")).unwrap(),
    )
    .unwrap();
    assert!(cases.len() >= 3);
    let mut statuses = Vec::new();
    for case in &cases {
        let r = run_test_case(case, &j, "case").await;
        assert!(r.passed, "{}: {:?}", r.name, r.diff);
        statuses.push(case.expect.status);
    }
    for s in [401, 200, 307] {
        assert!(statuses.contains(&Some(s)));
    }
    // A wrong expectation is reported with a diff.
    let mut wrong = cases[1].clone();
    wrong.expect.status = Some(201);
    let r = run_test_case(&wrong, &j, "wrong").await;
    assert!(!r.passed);
    assert_eq!(r.diff, ["status: expected 201, got 200"]);
}

#[tokio::test]
async fn set_variables_are_ordered_and_http_complete_serializes() {
    let j = journey(&format!("{HEAD}  - id: s\n    type: set_variables\n    variables:\n      a: '2'\n      b: 'a * 10'\n  - id: done\n    type: http_complete\n    status: 201\n    headers: {{X-Sum: '${{a + b}}'}}\n    body: '{{total: a + b, who: @policy.request().body.name}}'\n"));
    let out = run(&j, request(json!({"name": "ann"}))).await;
    let r = response(&out);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-sum"), Some("22"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap(),
        json!({"total": 22, "who": "ann"})
    );
    assert_eq!(out.trace.path(), ["s", "done"]);
    assert_eq!(out.trace.outcome, TraceOutcome::Completed { status: 201 });
}

#[tokio::test]
async fn text_and_empty_bodies() {
    let j = journey(&format!("{HEAD}  - {{id: t, type: http_complete, status: 200, response_type: text, body: '\"hi \" + 1'}}\n"));
    let out = run(&j, request(json!({}))).await;
    assert_eq!(response(&out).body, "hi 1");
    assert_eq!(
        response(&out).header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let j = journey(&format!(
        "{HEAD}  - {{id: t, type: http_complete, status: 204}}\n"
    ));
    let out = run(&j, request(json!({}))).await;
    assert_eq!(response(&out).body, "");
    assert!(response(&out).headers.is_empty());
}

#[tokio::test]
async fn header_with_crlf_is_a_step_error() {
    let j = journey(&format!("{HEAD}  - {{id: t, type: http_complete, status: 200, headers: {{X-A: '${{@policy.request().body.v}}'}}}}\n"));
    let out = run(&j, request(json!({"v": "a\r\nSet-Cookie: x=1"}))).await;
    let f = failure(&out);
    assert_eq!(
        (f.step_id.as_str(), f.code.as_str()),
        ("t", "invalid_header")
    );
    let out = run(&j, request(json!({"v": "a\u{0}"}))).await;
    assert_eq!(failure(&out).code, "invalid_header");
}

#[tokio::test]
async fn condition_must_be_boolean_and_on_error_catches() {
    let j = journey(&format!("{HEAD}  - {{id: c, type: condition, expression: '@policy.request().body.v', on_true: yes, on_false: no}}\n  - {{id: yes, type: http_complete, status: 200}}\n  - {{id: no, type: http_complete, status: 403}}\n"));
    assert_eq!(
        response(&run(&j, request(json!({"v": true}))).await).status,
        200
    );
    assert_eq!(
        response(&run(&j, request(json!({"v": false}))).await).status,
        403
    );
    let out = run(&j, request(json!({"v": "yes"}))).await;
    let f = failure(&out);
    assert_eq!((f.step_id.as_str(), f.code.as_str()), ("c", "type_error"));
    assert!(f.message.contains("boolean"), "{}", f.message);
    assert_eq!(out.trace.steps[0].decision, "error:type_error");

    let j = journey(&format!("{HEAD}  - {{id: c, type: condition, expression: '1/0 > 1', on_true: yes, on_false: yes, on_error: oops}}\n  - {{id: yes, type: http_complete, status: 200}}\n  - {{id: oops, type: http_complete, status: 500, body: '{{code: error.code, step: error.step_id}}'}}\n"));
    let out = run(&j, request(json!({}))).await;
    assert_eq!(response(&out).status, 500);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&response(&out).body).unwrap(),
        json!({"code": "division_by_zero", "step": "c"})
    );
    assert_eq!(out.trace.path(), ["c", "oops"]);
}

#[tokio::test]
async fn match_cases_and_otherwise() {
    let j = journey(&format!("{HEAD}  - id: m\n    type: match\n    expression: '@policy.request().body.k'\n    cases:\n      - {{value: '\"a\"', next: ra}}\n      - {{value: '1 + 1', next: rb}}\n    otherwise: rc\n  - {{id: ra, type: http_complete, status: 200}}\n  - {{id: rb, type: http_complete, status: 201}}\n  - {{id: rc, type: http_complete, status: 202}}\n"));
    assert_eq!(
        response(&run(&j, request(json!({"k": "a"}))).await).status,
        200
    );
    let out = run(&j, request(json!({"k": 2}))).await;
    assert_eq!(response(&out).status, 201);
    assert_eq!(out.trace.steps[0].decision, "case:1");
    let out = run(&j, request(json!({"k": "zzz"}))).await;
    assert_eq!(response(&out).status, 202);
    assert_eq!(out.trace.steps[0].decision, "otherwise");
}

#[tokio::test]
async fn step_limit_ends_a_loop() {
    let j = journey(&format!("{HEAD}  - {{id: a, type: condition, expression: 'true', on_true: a, on_false: b}}\n  - {{id: b, type: http_complete, status: 200}}\n"));
    let out = run(&j, request(json!({}))).await;
    let f = failure(&out);
    assert_eq!(f.code, "limit_exceeded");
    assert!(f.message.contains("step limit of 1000"));
    assert_eq!(out.trace.steps.len(), 1000);
}

#[tokio::test]
async fn wall_time_limit_is_checked_between_steps() {
    let j = journey(&format!(
        "{HEAD}  - {{id: b, type: http_complete, status: 200}}\n"
    ));
    let out_stub = StubOutbound::new(vec![]);
    let random = SeededRandom::new(1);
    let conns = indexmap::IndexMap::new();
    let jwks = JwksCache::new();
    let limits = RunLimits {
        wall_time: std::time::Duration::ZERO,
        ..RunLimits::default()
    };
    let env = RunEnv::new(0, &FrozenClock, &random, &conns, &out_stub, &jwks).with_limits(limits);
    let out = tessera_journey::run_backend(&j, request(json!({})), &env).await;
    assert_eq!(failure(&out).message, "run time limit exceeded");
}

const SVC: &str = "svc:\n  type: web_service\n  params: [user]\n  method: POST\n  url: \"https://api.example.com/users/${user}\"\n  headers:\n    Authorization: {value: \"Bearer k3y\", secret: true}\n  body: '{user: user}'\n";

#[tokio::test]
async fn invoke_web_service_and_webrequests() {
    let j = journey(&format!("{HEAD}  - id: call\n    type: invoke_web_service\n    calls:\n      - {{connection: svc, args: ['\"u1\"'], output: r}}\n  - id: again\n    type: set_variables\n    variables:\n      r2: '@webrequests.svc(\"u2\")'\n  - {{id: done, type: http_complete, status: 200, body: '{{a: r.body.ok, s: r.status, b: r2.body.ok}}'}}\n"));
    let conns = connections(SVC);
    let outbound = StubOutbound::new(vec![stub("svc", 202, json!({"ok": 1}))]);
    let out = run_with(
        &j,
        request(json!({})),
        &conns,
        &outbound,
        &JwksCache::new(),
        0,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&response(&out).body).unwrap(),
        json!({"a": 1, "s": 202, "b": 1})
    );
    let reqs = outbound.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].url, "https://api.example.com/users/u1");
    assert_eq!(reqs[1].url, "https://api.example.com/users/u2");
    assert_eq!(reqs[0].method, "POST");
    assert!(reqs[0]
        .headers
        .contains(&("Authorization".into(), "Bearer k3y".into())));
    assert_eq!(
        reqs[0].body.as_deref(),
        Some(br#"{"user":"u1"}"#.as_slice())
    );
}

#[tokio::test]
async fn failing_call_fails_the_step_and_unknown_connection() {
    let j = journey(&format!("{HEAD}  - id: call\n    type: invoke_web_service\n    calls: [{{connection: svc, args: ['1'], output: r}}]\n  - {{id: done, type: http_complete, status: 200}}\n"));
    let outbound = StubOutbound::new(vec![]);
    let out = run_with(
        &j,
        request(json!({})),
        &connections(SVC),
        &outbound,
        &JwksCache::new(),
        0,
    )
    .await;
    assert_eq!(failure(&out).code, "outbound_error");
    let out = run_with(
        &j,
        request(json!({})),
        &indexmap::IndexMap::new(),
        &outbound,
        &JwksCache::new(),
        0,
    )
    .await;
    assert_eq!(failure(&out).code, "unknown_connection");
}

#[tokio::test]
async fn max_outbound_calls_is_enforced() {
    let j = journey(&format!("{HEAD}  - id: s\n    type: set_variables\n    variables:\n      all: '@std.map(@std.range(11), i => @webrequests.svc(i))'\n  - {{id: done, type: http_complete, status: 200}}\n"));
    let outbound = StubOutbound::new(vec![stub("svc", 200, json!({}))]);
    let out = run_with(
        &j,
        request(json!({})),
        &connections(SVC),
        &outbound,
        &JwksCache::new(),
        0,
    )
    .await;
    let f = failure(&out);
    assert!(f.message.contains("outbound call limit"), "{f:?}");
    assert_eq!(outbound.requests().len(), 10);
}

#[tokio::test]
async fn failures_and_traces_never_contain_values() {
    let secret = "sup3r-s3cret-token-value";
    let j = journey(&format!("{HEAD}  - id: s\n    type: set_variables\n    variables:\n      t: '@policy.request().body.token'\n      n: 't * 2 + t.missing'\n  - {{id: done, type: http_complete, status: 200}}\n"));
    let out = run(&j, request(json!({"token": secret}))).await;
    let f = failure(&out);
    let rendered = format!("{f:?} {}", serde_json::to_string(f).unwrap());
    let trace = serde_json::to_string(&out.trace).unwrap();
    assert!(!rendered.contains(secret), "{rendered}");
    assert!(!trace.contains(secret), "{trace}");
    assert!(f.message.contains("variables.n"));
}

#[test]
fn run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let j = journey(&format!(
        "{HEAD}  - {{id: b, type: http_complete, status: 200}}\n"
    ));
    let outbound = StubOutbound::new(vec![]);
    let random = SeededRandom::new(1);
    let conns = indexmap::IndexMap::new();
    let jwks = JwksCache::new();
    let env = RunEnv::new(0, &FrozenClock, &random, &conns, &outbound, &jwks);
    let fut = tessera_journey::run_backend(&j, request(json!({})), &env);
    assert_send(&fut);
}
