//! Fuzz target: evaluating any program that compiles, with small limits and a dummy host,
//! never panics, hangs or overflows the stack; it returns a value or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_expr::{
    compile_with_limits, eval, eval_sync, BoxFuture, Context, Host, HostCall, HostError,
    Limits, PolicyFunction, SeededRandom, Value,
};

struct DummyHost;

impl Host for DummyHost {
    fn policy(&self, function: PolicyFunction) -> Result<Value, HostError> {
        match function {
            PolicyFunction::IsUserAuthenticated => Ok(Value::Bool(true)),
            PolicyFunction::UserTokens => Err(HostError::new("no tokens")),
            _ => Ok(Value::from(
                serde_json_like(),
            )),
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
        max_steps: 20_000,
        max_string_len: 64 * 1024,
        max_collection_len: 10_000,
        max_outbound_calls: 3,
        ..Limits::default()
    };
    let Ok(program) = compile_with_limits(src, &limits) else {
        return;
    };
    let mut scope = indexmap::IndexMap::new();
    scope.insert("a".to_string(), Value::Number(3.0));
    scope.insert("s".to_string(), Value::from("text"));
    scope.insert("o".to_string(), serde_json_like());
    scope.insert("arr".to_string(), Value::array(vec![Value::Number(1.0), Value::Null]));
    let random = SeededRandom::new(1);
    let ctx = Context::new(1_700_000_000_000, &random, &DummyHost).with_limits(limits);
    let result = if program.is_async() {
        block_on(eval(&program, &scope, &ctx))
    } else {
        eval_sync(&program, &scope, &ctx)
    };
    if let Ok(v) = result {
        let _ = v.to_json();
        let mut s = String::new();
        let _ = v.write_display(&mut s);
    }
});
