//! Fuzz target: evaluating any program that compiles, with small limits on every cost (steps,
//! total steps, nesting, call and evaluation depth, value depth, string and collection size,
//! outbound calls, and a wall-time deadline) and a dummy host, never panics, hangs or overflows
//! the stack; it returns a value or an error, within the limits: no more steps than allowed
//! are recorded, no more outbound calls are made, and a string result is within the size limit.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use tessera_expr::{
    compile_with_limits, eval, eval_sync, BoxFuture, Context, Deadline, Host, HostCall, HostError,
    Limits, PolicyFunction, SeededRandom, Value,
};

/// The time budget of one evaluation (libFuzzer's `-timeout` catches a deadline not honoured).
struct Budget(Instant);

impl Deadline for Budget {
    fn expired(&self) -> bool {
        self.0.elapsed() > Duration::from_millis(200)
    }
}

struct DummyHost;

impl Host for DummyHost {
    fn policy(&self, function: PolicyFunction) -> Result<Value, HostError> {
        match function {
            PolicyFunction::IsUserAuthenticated => Ok(Value::Bool(true)),
            PolicyFunction::UserTokens => Err(HostError::new("no tokens")),
            _ => Ok(Value::from(serde_json_like())),
        }
    }

    fn call<'a>(&'a self, call: HostCall) -> BoxFuture<'a, Result<Value, HostError>> {
        Box::pin(async move {
            match call {
                HostCall::WebRequest { args, .. } => Ok(Value::array(args)),
                HostCall::VerifyToken { token, .. } => Ok(token),
            }
        })
    }
}

fn serde_json_like() -> Value {
    let mut map = tessera_expr::Map::new();
    map.insert("body".into(), Value::from("x"));
    map.insert("n".into(), Value::Number(1.0));
    Value::object(map)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = Box::pin(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        max_nesting_depth: 32,
        max_steps: 20_000,
        max_total_steps: 50_000,
        max_call_depth: 8,
        max_eval_depth: 128,
        max_string_len: 64 * 1024,
        max_collection_len: 10_000,
        max_value_depth: 32,
        max_outbound_calls: 3,
    };
    let Ok(program) = compile_with_limits(src, &limits) else {
        return;
    };
    let mut scope = indexmap::IndexMap::new();
    scope.insert("a".to_string(), Value::Number(3.0));
    scope.insert("s".to_string(), Value::from("text"));
    scope.insert("o".to_string(), serde_json_like());
    scope.insert(
        "arr".to_string(),
        Value::array(vec![Value::Number(1.0), Value::Null]),
    );
    let random = SeededRandom::new(1);
    let budget = Budget(Instant::now());
    let ctx = Context::new(1_700_000_000_000, &random, &DummyHost)
        .with_limits(limits)
        .with_deadline(&budget);
    let result = if program.is_async() {
        block_on(eval(&program, &scope, &ctx))
    } else {
        eval_sync(&program, &scope, &ctx)
    };
    assert!(
        ctx.steps_used() <= limits.max_total_steps,
        "total step limit passed"
    );
    if !program.is_async() {
        assert!(ctx.steps_used() <= limits.max_steps, "step limit passed");
    }
    assert!(
        ctx.outbound_calls() <= limits.max_outbound_calls,
        "outbound call limit passed"
    );
    if let Ok(v) = result {
        if let Value::String(s) = &v {
            assert!(s.len() <= limits.max_string_len, "string limit passed");
        }
        let max = limits.max_string_len;
        let _ = v.to_json_within(max);
        if let Ok(json) = v.to_json_string(max) {
            assert!(json.len() <= max, "JSON text passed its bound");
        }
        let mut text = String::new();
        if v.write_display(&mut text, max).is_ok() {
            assert!(text.len() <= max, "display text passed its bound");
        }
    }
});
