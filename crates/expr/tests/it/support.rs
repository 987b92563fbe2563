//! Shared fixtures: a scope with typical journey variables, a fixed clock, a seeded random
//! source and a scripted host.

use std::sync::atomic::{AtomicUsize, Ordering};

use indexmap::IndexMap;
use serde_json::json;
use tessera_expr::{
    compile, eval, eval_sync, BoxFuture, Context, EvalError, Host, HostCall, HostError,
    PolicyFunction, SeededRandom, Value,
};

/// 2023-11-14T22:13:20.000Z
pub const NOW_MS: i64 = 1_700_000_000_000;

/// A JWT whose payload is {"sub":"alice","exp":1800000000,"amr":["pwd","mfa"]} (unsigned).
pub fn sample_jwt() -> String {
    use base64::Engine;
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2ln",
        enc(json!({"alg": "RS256", "kid": "k1"})),
        enc(json!({"sub": "alice", "exp": 1_800_000_000, "amr": ["pwd", "mfa"]}))
    )
}

pub fn scope() -> IndexMap<String, Value> {
    let mut s = IndexMap::new();
    let vars = json!({
        "access_token": {"exp": 1_800_000_000, "sub": "alice"},
        "id_token": {"exp": "1800000000", "amr": ["pwd", "mfa"]},
        "expired_token": {"exp": 1_600_000_000},
        "user": {"name": "Ann", "email": "ann@example.com", "age": 42, "tags": ["a", "b"]},
        "nums": [3, 1, 2],
        "empty": [],
        "nothing": null,
        "s": "hello",
        "n": 7,
    });
    if let serde_json::Value::Object(map) = vars {
        for (k, v) in map {
            s.insert(k, Value::from(v));
        }
    }
    s
}

/// A host answering `@policy.*` from fixed data and web requests / token verification from a
/// script, counting calls.
#[derive(Default)]
pub struct TestHost {
    pub calls: AtomicUsize,
}

impl Host for TestHost {
    fn policy(&self, function: PolicyFunction) -> Result<Value, HostError> {
        Ok(match function {
            PolicyFunction::Request => Value::from(json!({
                "method": "POST",
                "path": "/ido/api/v2/invoke-api-journey/j1",
                "params": {"clientId": "app"},
                "body": {"external_access_token": sample_jwt()},
                "headers": {},
            })),
            PolicyFunction::UserContext => Value::from(json!({"user_id": "u1", "username": "ann"})),
            PolicyFunction::IsUserAuthenticated => Value::Bool(true),
            PolicyFunction::UserTokens => return Err(HostError::new("no tokens in this run")),
        })
    }

    fn call<'a>(&'a self, call: HostCall) -> BoxFuture<'a, Result<Value, HostError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            match call {
                HostCall::WebRequest { name, args } => match &*name {
                    "echo" => Ok(Value::from(json!({
                        "status": 200,
                        "body": args.iter().map(|a| a.to_json().unwrap()).collect::<Vec<_>>(),
                    }))),
                    "fail" => Err(HostError::new("connection `fail` timed out")),
                    _ => Err(HostError::new("unknown connection")),
                },
                HostCall::VerifyToken { token, connection } => {
                    if connection.as_str() == Some("partner") && token.as_str().is_some() {
                        Ok(Value::from(json!({"sub": "alice"})))
                    } else {
                        Err(HostError::new("token is invalid"))
                    }
                }
            }
        })
    }
}

/// Compiles and evaluates synchronously with the standard fixtures.
pub fn run(src: &str) -> Result<serde_json::Value, EvalError> {
    let program = compile(src).unwrap_or_else(|e| panic!("compile `{src}`: {}", e.render()));
    let host = TestHost::default();
    let random = SeededRandom::new(7);
    let ctx = Context::new(NOW_MS, &random, &host);
    let v = eval_sync(&program, &scope(), &ctx)?;
    Ok(v.to_json().expect("result converts to JSON"))
}

/// Compiles and evaluates with the async entry point.
pub fn run_async(
    src: &str,
    host: &TestHost,
    ctx_limits: Option<tessera_expr::Limits>,
) -> Result<serde_json::Value, EvalError> {
    let program = compile(src).unwrap_or_else(|e| panic!("compile `{src}`: {}", e.render()));
    let random = SeededRandom::new(7);
    let mut ctx = Context::new(NOW_MS, &random, host);
    if let Some(l) = ctx_limits {
        ctx = ctx.with_limits(l);
    }
    let scope = scope();
    let v = block_on(eval(&program, &scope, &ctx))?;
    Ok(v.to_json().expect("result converts to JSON"))
}

/// A minimal executor: the test host's futures are always ready.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = Box::pin(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
