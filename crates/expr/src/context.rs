//! What the caller supplies to an evaluation: the [`Scope`] of variables, and the [`Context`]
//! with the clock, randomness, [`Limits`], an optional [`Deadline`] and the [`Host`] that
//! implements IO functions.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::HostError;
use crate::value::Value;

/// Where bare identifiers that are not `let`-bound or lambda parameters are looked up.
pub trait Scope {
    /// The variable's value, or `None` when it does not exist (an `unknown_variable` error).
    fn get(&self, name: &str) -> Option<&Value>;
}

/// A scope with no variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn get(&self, _name: &str) -> Option<&Value> {
        None
    }
}

impl<S: std::hash::BuildHasher> Scope for indexmap::IndexMap<String, Value, S> {
    fn get(&self, name: &str) -> Option<&Value> {
        indexmap::IndexMap::get(self, name)
    }
}

impl<S: std::hash::BuildHasher> Scope for std::collections::HashMap<String, Value, S> {
    fn get(&self, name: &str) -> Option<&Value> {
        std::collections::HashMap::get(self, name)
    }
}

impl Scope for std::collections::BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        std::collections::BTreeMap::get(self, name)
    }
}

impl<T: Scope + ?Sized> Scope for &T {
    fn get(&self, name: &str) -> Option<&Value> {
        (**self).get(name)
    }
}

/// Bounds on one evaluation (and on parsing, for `max_nesting_depth`). Exceeding any of them is
/// an [`crate::ErrorCode::LimitExceeded`] error, never a hang or a crash.
///
/// The count-based bounds (steps, sizes, depths) come first and make an expression that hits a
/// limit hit it every time; the [`Deadline`] of a [`Context`] is the last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum height of the syntax tree (and parser recursion). Default 64.
    pub max_nesting_depth: u32,
    /// Maximum evaluation steps of one evaluation: one per node evaluated, plus work in
    /// proportion to its size for bulk operations (one per element copied, compared, sorted
    /// or searched, one per expanded node compared or written out, one per 64 bytes of string
    /// built, scanned, compared or hashed). Default 100,000.
    pub max_steps: u64,
    /// Maximum steps of all evaluations through one [`Context`] together. Default unbounded
    /// (`u64::MAX`), so a long-lived context can be reused; a journey run keeps one context
    /// and sets its run budget here (1,000,000 by default).
    pub max_total_steps: u64,
    /// Maximum nesting of lambda calls (`@(f)(…)`, and lambdas called by `map`, `filter`, …).
    /// Default 32.
    pub max_call_depth: u32,
    /// Maximum evaluator recursion overall (tree depth times call depth); keeps the native stack
    /// bounded. Default 512.
    pub max_eval_depth: u32,
    /// Maximum string length in bytes, for every string built, including the to-string and JSON
    /// forms of arrays and objects. Default 1 MiB.
    pub max_string_len: usize,
    /// Maximum array length / object size. Default 100,000.
    pub max_collection_len: usize,
    /// Maximum nesting of arrays, objects and lambda captures in any value built (literals,
    /// `let`, lambdas, function results, `@json.parse`, host results). Default 128; never more
    /// than [`crate::VALUE_DEPTH_CEILING`] whatever is set here.
    pub max_value_depth: u32,
    /// Maximum asynchronous host calls (`@webrequests.*`, `@crypto.verifyToken`) made through
    /// one [`Context`]. Default 10.
    pub max_outbound_calls: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nesting_depth: 64,
            max_steps: 100_000,
            max_total_steps: u64::MAX,
            max_call_depth: 32,
            max_eval_depth: 512,
            max_string_len: 1 << 20,
            max_collection_len: 100_000,
            max_value_depth: 128,
            max_outbound_calls: 10,
        }
    }
}

/// The time budget of evaluations, asked every [`DEADLINE_CHECK_INTERVAL`] steps. The crate
/// reads no clock: the caller implements this over its own (monotonic, injectable) clock.
pub trait Deadline: Send + Sync {
    /// True once evaluation must stop (`limit_exceeded`, "evaluation time limit exceeded").
    fn expired(&self) -> bool;
}

/// Evaluation steps between two [`Deadline::expired`] calls.
pub const DEADLINE_CHECK_INTERVAL: u64 = 1024;

/// `@policy.*` functions, answered synchronously by [`Host::policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyFunction {
    /// `@policy.request()` → `{method, path, params, body, headers}`
    Request,
    /// `@policy.userContext()`
    UserContext,
    /// `@policy.isUserAuthenticated()` (also written without parentheses)
    IsUserAuthenticated,
    /// `@policy.userTokens()`
    UserTokens,
}

impl PolicyFunction {
    /// Resolves a function name after `@policy.`.
    pub fn from_name(name: &str) -> Option<PolicyFunction> {
        Some(match name {
            "request" => PolicyFunction::Request,
            "userContext" => PolicyFunction::UserContext,
            "isUserAuthenticated" => PolicyFunction::IsUserAuthenticated,
            "userTokens" => PolicyFunction::UserTokens,
            _ => return None,
        })
    }

    /// The name as written after `@policy.`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyFunction::Request => "request",
            PolicyFunction::UserContext => "userContext",
            PolicyFunction::IsUserAuthenticated => "isUserAuthenticated",
            PolicyFunction::UserTokens => "userTokens",
        }
    }
}

/// An asynchronous IO call an expression makes through [`Host::call`].
#[derive(Debug, Clone)]
pub enum HostCall {
    /// `@webrequests.<name>(args)`; the host returns `{status, body}`.
    WebRequest {
        /// The `web_service` connection name.
        name: Arc<str>,
        /// Evaluated arguments.
        args: Vec<Value>,
    },
    /// `@crypto.verifyToken(token, connection)`; the host returns the verified claims.
    VerifyToken {
        /// The token argument (normally a string).
        token: Value,
        /// The `jwt_validator` connection name argument (normally a string).
        connection: Value,
    },
}

/// A boxed, sendable future, the return type of [`Host::call`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The functions this crate does not implement itself: the journey run's context and IO.
pub trait Host: Send + Sync {
    /// Answers `@policy.*` from data the run already holds. Must be cheap and must not block.
    fn policy(&self, function: PolicyFunction) -> Result<Value, HostError>;

    /// Performs an IO call. Only reached through [`crate::eval`], never [`crate::eval_sync`].
    fn call<'a>(&'a self, call: HostCall) -> BoxFuture<'a, Result<Value, HostError>>;
}

/// A host with no policy data and no IO: every host function is a `host_error`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl Host for NoHost {
    fn policy(&self, function: PolicyFunction) -> Result<Value, HostError> {
        Err(HostError::new(format!(
            "`@policy.{}` is not available here",
            function.name()
        )))
    }

    fn call<'a>(&'a self, _call: HostCall) -> BoxFuture<'a, Result<Value, HostError>> {
        Box::pin(async { Err(HostError::new("IO functions are not available here")) })
    }
}

/// Source of randomness for `@std.uuid`, `@std.randomBase64` and `@math.random`.
pub trait RandomSource: Send + Sync {
    /// Fills `buf` with random bytes. Implementations for production must be cryptographically
    /// secure (`randomBase64` output is used for nonces and codes).
    fn fill_bytes(&self, buf: &mut [u8]);
}

/// A deterministic, NOT cryptographically secure generator (SplitMix64) for tests and for
/// `journey run` reproducibility.
#[derive(Debug, Default)]
pub struct SeededRandom {
    state: AtomicU64,
}

impl SeededRandom {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandom {
            state: AtomicU64::new(seed),
        }
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .state
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Everything an evaluation needs besides the program and the variables.
///
/// One context is meant to live for a whole journey run, so that `max_outbound_calls` and
/// `max_total_steps` count every IO call and step of the run; update `now_ms` between steps if
/// the clock moves.
pub struct Context<'a> {
    /// The run's clock, epoch milliseconds (`@time.now()`).
    pub now_ms: i64,
    /// Randomness.
    pub random: &'a dyn RandomSource,
    /// Evaluation limits.
    pub limits: Limits,
    /// Policy data and IO.
    pub host: &'a dyn Host,
    /// The time budget, checked every [`DEADLINE_CHECK_INTERVAL`] steps (none by default).
    pub deadline: Option<&'a dyn Deadline>,
    outbound_calls: AtomicU32,
    steps: AtomicU64,
}

impl<'a> Context<'a> {
    /// A context with default limits and no deadline.
    pub fn new(now_ms: i64, random: &'a dyn RandomSource, host: &'a dyn Host) -> Self {
        Context {
            now_ms,
            random,
            limits: Limits::default(),
            host,
            deadline: None,
            outbound_calls: AtomicU32::new(0),
            steps: AtomicU64::new(0),
        }
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the time budget: evaluations through this context stop with `limit_exceeded` once
    /// `deadline` has expired.
    pub fn with_deadline(mut self, deadline: &'a dyn Deadline) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// How many asynchronous host calls have been made through this context.
    pub fn outbound_calls(&self) -> u32 {
        self.outbound_calls.load(Ordering::Relaxed)
    }

    /// Evaluation steps spent through this context so far (against `max_total_steps`).
    pub fn steps_used(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }

    pub(crate) fn record_steps(&self, n: u64) {
        self.steps.fetch_add(n, Ordering::Relaxed);
    }

    /// Reserves one outbound call; false when the limit is reached.
    pub(crate) fn reserve_outbound_call(&self) -> bool {
        self.outbound_calls
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.limits.max_outbound_calls).then_some(n + 1)
            })
            .is_ok()
    }
}
