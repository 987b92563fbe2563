//! Host functions: policy lookups, asynchronous IO calls through replay, and the outbound limit.

use std::sync::atomic::Ordering;

use serde_json::json;
use tessera_expr::{compile, eval_sync, Context, ErrorCode, Limits, NoHost, SeededRandom, Value};

use crate::support::{run_async, scope, TestHost, NOW_MS};

#[test]
fn async_flag_is_recorded_at_compile_time() {
    assert!(!compile("@policy.request().body").unwrap().is_async());
    assert!(!compile("@crypto.sha256(\"x\")").unwrap().is_async());
    assert!(compile("@webrequests.echo(1)").unwrap().is_async());
    assert!(compile("1 + @crypto.verifyToken(t, \"partner\").sub")
        .unwrap()
        .is_async());
    assert!(compile("x => @webrequests.echo(x)").unwrap().is_async());
}

#[test]
fn eval_sync_rejects_async_programs() {
    let program = compile("@webrequests.echo(1)").unwrap();
    let random = SeededRandom::new(1);
    let ctx = Context::new(NOW_MS, &random, &NoHost);
    let e = eval_sync(&program, &scope(), &ctx).unwrap_err();
    assert_eq!(e.code, ErrorCode::AsyncRequired);
}

#[test]
fn web_requests_and_token_verification() {
    let host = TestHost::default();
    let v = run_async(
        "let r = @webrequests.echo(1, \"two\") return r.status == 200 ? r.body : null",
        &host,
        None,
    )
    .unwrap();
    assert_eq!(v, json!([1, "two"]));
    assert_eq!(host.calls.load(Ordering::SeqCst), 1);

    let host = TestHost::default();
    let v = run_async("@crypto.verifyToken(\"tok\", \"partner\").sub", &host, None).unwrap();
    assert_eq!(v, json!("alice"));
}

#[test]
fn calls_run_in_order_and_each_runs_once() {
    let host = TestHost::default();
    let v = run_async(
        "[@webrequests.echo(1).body[0], @webrequests.echo(2).body[0], @webrequests.echo(3).body[0]]",
        &host,
        None,
    )
    .unwrap();
    assert_eq!(v, json!([1, 2, 3]));
    assert_eq!(host.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn short_circuit_skips_calls() {
    let host = TestHost::default();
    let v = run_async("false && @webrequests.echo(1)", &host, None).unwrap();
    assert_eq!(v, json!(false));
    assert_eq!(host.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn host_errors_are_catchable() {
    let host = TestHost::default();
    let v = run_async("try @webrequests.fail() catch e => e", &host, None).unwrap();
    assert_eq!(
        v,
        json!({"code": "host_error", "message": "connection `fail` timed out at 1:5"})
    );
    let e = run_async("@crypto.verifyToken(\"tok\", \"other\")", &host, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::HostError);
}

#[test]
fn random_values_are_stable_across_replays() {
    let host = TestHost::default();
    let v = run_async(
        "let id = @std.uuid(), r = @webrequests.echo(id) return r.body[0] == id",
        &host,
        None,
    )
    .unwrap();
    assert_eq!(v, json!(true));
}

#[test]
fn outbound_call_limit() {
    let host = TestHost::default();
    let limits = Limits {
        max_outbound_calls: 2,
        ..Limits::default()
    };
    let e = run_async(
        "@std.map(@std.range(5), i => @webrequests.echo(i).status)",
        &host,
        Some(limits),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(host.calls.load(Ordering::SeqCst), 2);

    // The default allows ten per context.
    let host = TestHost::default();
    let v = run_async(
        "@std.map(@std.range(10), i => @webrequests.echo(i).status)",
        &host,
        None,
    )
    .unwrap();
    assert_eq!(v, json!(vec![200; 10]));
}

#[test]
fn the_limit_spans_evaluations_sharing_a_context() {
    let host = TestHost::default();
    let random = SeededRandom::new(1);
    let ctx = Context::new(NOW_MS, &random, &host).with_limits(Limits {
        max_outbound_calls: 3,
        ..Limits::default()
    });
    let program = compile("@webrequests.echo(1).status").unwrap();
    let scope = scope();
    for _ in 0..3 {
        assert!(crate::support::block_on(tessera_expr::eval(&program, &scope, &ctx)).is_ok());
    }
    let e = crate::support::block_on(tessera_expr::eval(&program, &scope, &ctx)).unwrap_err();
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(ctx.outbound_calls(), 3);
}

#[test]
fn policy_without_host_is_a_host_error() {
    let program = compile("@policy.request()").unwrap();
    let random = SeededRandom::new(1);
    let ctx = Context::new(NOW_MS, &random, &NoHost);
    let e = eval_sync(&program, &scope(), &ctx).unwrap_err();
    assert_eq!(e.code, ErrorCode::HostError);
}

#[test]
fn program_introspection() {
    let p = compile(
        "@crypto.extractTokenClaims(@policy.request().body.t).sub == user.name && user.age > n",
    )
    .unwrap();
    assert!(p.uses_unverified_token_decoding());
    let names: Vec<String> = p.global_variables().iter().map(|s| s.to_string()).collect();
    assert_eq!(names, ["user", "n"]);
    let p = compile("let user = 1 return x => user + x").unwrap();
    assert!(!p.uses_unverified_token_decoding());
    assert!(p.global_variables().is_empty());
}

#[test]
fn values_convert_to_and_from_json() {
    let j = json!({"a": [1, 2.5, "s", null, true], "b": {"c": {}}});
    let v = Value::from(j.clone());
    assert_eq!(v.to_json().unwrap(), j);
    assert_eq!(serde_json::to_value(&v).unwrap(), j);
    assert_eq!(v.to_json_string(usize::MAX).unwrap(), j.to_string());
    let program = compile("x => x").unwrap();
    let random = SeededRandom::new(1);
    let ctx = Context::new(NOW_MS, &random, &NoHost);
    let lambda = eval_sync(&program, &scope(), &ctx).unwrap();
    assert!(lambda.to_json().is_err());
    assert!(serde_json::to_value(&lambda).is_err());
    assert_eq!(Value::Number(f64::NAN).to_json().unwrap(), json!(null));
}
