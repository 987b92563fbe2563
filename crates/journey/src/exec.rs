//! The backend-journey executor: runs a [`CompiledJourney`] from its first step (or from a
//! stored [`RunState`]) until an `http_complete` step answers or the run fails, recording a
//! [`Trace`]. Bounded by [`RunLimits`] (steps, expression budget, wall time, outbound calls).
//!
//! The count-based limits come first, so a journey that hits a limit hits it on every run; the
//! wall time, measured on the injected [`RunClock`], is the last resort. It is checked between
//! steps, before every expression, and inside every evaluation (the expression [`Context`]
//! gets the run's deadline), so one runaway expression stops at the run's budget.

use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tessera_expr::{eval, Context, ConvertError, Deadline, Limits, Program, RandomSource, Value};

use crate::client::{
    Directory, DirectoryError, NewUser, PasscodeChannel, PendingAuth, RunUser, UserInfo, UserRef,
};
use crate::clock::RunClock;
use crate::compile::{CompiledJourney, CompiledStep, StepKind};
use crate::connection::ConnectionLookup;
use crate::host::{RunHost, StepError};
use crate::jwks::JwksCache;
use crate::outbound::Outbound;
use crate::trace::{Trace, TraceOutcome, TraceStep};

/// Bounds on one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunLimits {
    /// Steps executed (default 1,000).
    pub max_steps: u32,
    /// Wall time on the [`RunClock`] (default 10 s): checked between steps, before every
    /// expression, inside every evaluation (every `tessera_expr::DEADLINE_CHECK_INTERVAL`
    /// steps), and capping every outbound timeout.
    pub wall_time: Duration,
    /// Outbound calls per run (default 10), from expressions and steps together.
    pub max_outbound_calls: u32,
    /// Evaluation steps of all the run's expressions together (default 1,000,000): the run's
    /// expression budget, so a loop of expressions ends on a count, not on the clock.
    pub max_expression_steps: u64,
    /// Limits for each expression evaluation (`max_outbound_calls` and `max_total_steps` are
    /// taken from the fields above); `expr.max_string_len` also bounds response bodies and
    /// header values.
    pub expr: Limits,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_steps: 1_000,
            wall_time: Duration::from_secs(10),
            max_outbound_calls: 10,
            max_expression_steps: 1_000_000,
            expr: Limits::default(),
        }
    }
}

/// What a run needs from its surroundings.
pub struct RunEnv<'a> {
    /// The run's time, epoch milliseconds (`@time.now()`, token expiry).
    pub now_ms: i64,
    /// The monotonic clock the run's time budget (`RunLimits::wall_time`) is measured with.
    pub clock: &'a dyn RunClock,
    /// Randomness (cryptographically secure in production).
    pub random: &'a dyn RandomSource,
    /// Connections by name.
    pub connections: &'a dyn ConnectionLookup,
    /// Outbound HTTP.
    pub outbound: &'a dyn Outbound,
    /// JWKS cache shared across runs.
    pub jwks: &'a JwksCache,
    /// Bounds.
    pub limits: RunLimits,
    /// The user directory for authentication steps (`None`: `custom_authentication` fails
    /// with `directory_unavailable`).
    pub directory: Option<&'a dyn Directory>,
}

impl<'a> RunEnv<'a> {
    /// An environment with default limits.
    pub fn new(
        now_ms: i64,
        clock: &'a dyn RunClock,
        random: &'a dyn RandomSource,
        connections: &'a dyn ConnectionLookup,
        outbound: &'a dyn Outbound,
        jwks: &'a JwksCache,
    ) -> Self {
        RunEnv {
            now_ms,
            clock,
            random,
            connections,
            outbound,
            jwks,
            limits: RunLimits::default(),
            directory: None,
        }
    }

    /// Sets the user directory.
    pub fn with_directory(mut self, directory: &'a dyn Directory) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: RunLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// The invoking HTTP request, as `@policy.request()` shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunRequest {
    /// HTTP method.
    pub method: String,
    /// Request path.
    #[serde(default)]
    pub path: String,
    /// Query parameters.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// JSON body (`null` when none).
    #[serde(default)]
    pub body: serde_json::Value,
    /// Headers (lowercase names).
    #[serde(default)]
    pub headers: serde_json::Map<String, serde_json::Value>,
}

impl RunRequest {
    pub(crate) fn to_value(&self) -> Value {
        Value::from(serde_json::json!({
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "body": self.body,
            "headers": self.headers,
        }))
    }
}

/// The HTTP answer of an `http_complete` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order (including `Content-Type` and `Location` when set).
    pub headers: Vec<(String, String)>,
    /// Body text (empty when none).
    pub body: String,
}

impl HttpResponse {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a run failed; safe to return to the caller (no values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyFailure {
    /// The failing step.
    pub step_id: String,
    /// Error code (`type_error`, `limit_exceeded`, `invalid_token`, …).
    pub code: String,
    /// Description naming types, paths and positions.
    pub message: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunResult {
    /// An `http_complete` step answered.
    Completed(HttpResponse),
    /// The run failed (answer 500 `journey_failed`).
    Failed(JourneyFailure),
}

/// The result and trace of a run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The answer or failure.
    pub result: RunResult,
    /// The trace (always present, also for failures).
    pub trace: Trace,
}

/// Serializable position of a run, so client-facing steps (a later issue) can pause and
/// resume on any node. Variables hold run data: store them sealed or at least server-side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Journey id.
    pub journey_id: String,
    /// Journey version the run started on.
    pub version: u64,
    /// Step to execute next.
    pub current_step: String,
    /// Variables.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Steps executed so far.
    pub steps_taken: u32,
}

impl RunState {
    /// The state at the journey's first step.
    pub fn start(journey: &CompiledJourney) -> RunState {
        RunState {
            journey_id: journey.id.clone(),
            version: journey.version,
            current_step: journey
                .steps
                .first()
                .map(|s| s.id.clone())
                .unwrap_or_default(),
            variables: serde_json::Map::new(),
            steps_taken: 0,
        }
    }
}

/// Runs a backend journey from its first step.
pub async fn run_backend(
    journey: &CompiledJourney,
    request: RunRequest,
    env: &RunEnv<'_>,
) -> RunOutcome {
    resume_backend(journey, RunState::start(journey), request, env).await
}

pub(crate) enum Flow {
    Goto(usize, String),
    Complete(HttpResponse),
    /// A `complete` step's data.
    Success(serde_json::Value),
    /// A `reject` step's data.
    Rejected(serde_json::Value),
    /// A step waits for the client with this data.
    Wait(serde_json::Value),
}

/// How one request's part of a run ended.
pub(crate) enum End {
    Http(HttpResponse),
    Success(serde_json::Value),
    Rejected(serde_json::Value),
    /// Waiting at this step index with this data.
    Wait(usize, serde_json::Value),
    Failed(String, StepError),
}

/// The run's variables, carried between steps.
pub(crate) type Vars = IndexMap<String, Value>;

/// An empty trace of `journey` (outcome filled in at the end).
pub(crate) fn new_trace(journey: &CompiledJourney) -> Trace {
    Trace {
        journey_id: journey.id.clone(),
        version: journey.version,
        steps: Vec::new(),
        outcome: TraceOutcome::Failed {
            step_id: String::new(),
            code: String::new(),
        },
    }
}

/// The expression context of a run: its limits, budget and deadline.
pub(crate) fn run_context<'h>(host: &'h RunHost<'h>) -> Context<'h> {
    let env = host.env;
    let mut limits = env.limits.expr;
    limits.max_outbound_calls = env.limits.max_outbound_calls;
    limits.max_total_steps = env.limits.max_expression_steps;
    Context::new(env.now_ms, env.random, host)
        .with_limits(limits)
        .with_deadline(host)
}

/// Variables of a stored state, checked against the depth bound.
pub(crate) fn load_vars(
    variables: serde_json::Map<String, serde_json::Value>,
    env: &RunEnv<'_>,
) -> Result<Vars, StepError> {
    let vars: Vars = variables
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    // Variables carried from an earlier part of the run obey the same depth bound as the
    // values expressions build (they were built by expressions, or parsed as JSON).
    if let Some((name, _)) = vars
        .iter()
        .find(|(_, v)| v.depth() > env.limits.expr.max_value_depth)
    {
        return Err(StepError::fatal(
            "limit_exceeded",
            format!("variable `{name}`: value nesting depth limit exceeded"),
        ));
    }
    Ok(vars)
}

/// Runs steps from `index` until a step answers, waits, or the run fails. `steps_taken`
/// counts the run's steps (across requests); the step limit applies to this request's.
pub(crate) async fn drive(
    journey: &CompiledJourney,
    mut index: usize,
    vars: &mut Vars,
    steps_taken: &mut u32,
    host: &RunHost<'_>,
    ctx: &Context<'_>,
    trace: &mut Trace,
) -> End {
    let env = host.env;
    let mut this_request: u32 = 0;
    loop {
        let Some(step) = journey.steps.get(index) else {
            return End::Failed(
                String::new(),
                StepError::fatal("internal_error", "step index out of range"),
            );
        };
        if this_request >= env.limits.max_steps {
            let e = StepError::fatal(
                "limit_exceeded",
                format!("step limit of {} exceeded", env.limits.max_steps),
            );
            return End::Failed(step.id.clone(), e);
        }
        if host.remaining().is_zero() {
            return End::Failed(
                step.id.clone(),
                StepError::fatal("limit_exceeded", "run time limit exceeded"),
            );
        }
        this_request += 1;
        *steps_taken = steps_taken.saturating_add(1);
        let begun = env.clock.monotonic();
        let started_at_ms = env.now_ms + i64::try_from(host.elapsed().as_millis()).unwrap_or(0);
        if step.uses_user_tokens {
            host.prefetch_user_tokens().await;
        }
        let result = execute(step, vars, ctx, host).await;
        let duration_us = u64::try_from(env.clock.monotonic().saturating_sub(begun).as_micros())
            .unwrap_or(u64::MAX);
        let decision = match &result {
            Ok(Flow::Goto(_, d)) => d.clone(),
            Ok(Flow::Complete(_)) => "completed".to_string(),
            Ok(Flow::Success(_)) => "success".to_string(),
            Ok(Flow::Rejected(_)) => "rejected".to_string(),
            Ok(Flow::Wait(_)) => "waiting".to_string(),
            Err(e) => format!("error:{}", e.code),
        };
        trace.steps.push(TraceStep {
            step_id: step.id.clone(),
            step_type: step.kind.type_name().to_string(),
            started_at_ms,
            duration_us,
            decision,
        });
        match result {
            Ok(Flow::Goto(next, _)) => index = next,
            Ok(Flow::Complete(response)) => return End::Http(response),
            Ok(Flow::Success(data)) => return End::Success(data),
            Ok(Flow::Rejected(data)) => return End::Rejected(data),
            Ok(Flow::Wait(data)) => return End::Wait(index, data),
            Err(e) => match step.on_error {
                Some(target) if !e.fatal => {
                    let error = serde_json::json!({"code": e.code, "message": e.message, "step_id": step.id});
                    vars.insert("error".into(), Value::from(error));
                    index = target;
                }
                _ => return End::Failed(step.id.clone(), e),
            },
        }
    }
}

/// Continues a run from `state` (used by [`run_backend`]).
pub async fn resume_backend(
    journey: &CompiledJourney,
    state: RunState,
    request: RunRequest,
    env: &RunEnv<'_>,
) -> RunOutcome {
    let host = RunHost::new(env, request.to_value());
    let ctx = run_context(&host);
    let trace = new_trace(journey);
    let Some(index) = journey.step_index(&state.current_step) else {
        let failure = StepError::fatal(
            "invalid_state",
            "the run's current step does not exist in this journey version",
        );
        return fail(trace, "", failure);
    };
    let mut vars = match load_vars(state.variables, env) {
        Ok(v) => v,
        Err(e) => return fail(trace, &state.current_step, e),
    };
    let mut trace = trace;
    let mut steps_taken = state.steps_taken;
    let end = drive(
        journey,
        index,
        &mut vars,
        &mut steps_taken,
        &host,
        &ctx,
        &mut trace,
    )
    .await;
    match end {
        End::Http(response) => {
            trace.outcome = TraceOutcome::Completed {
                status: response.status,
            };
            RunOutcome {
                result: RunResult::Completed(response),
                trace,
            }
        }
        End::Failed(step_id, e) => fail(trace, &step_id, e),
        // Client steps are refused in backend journeys at validation.
        End::Success(_) | End::Rejected(_) | End::Wait(..) => {
            let step_id = trace
                .steps
                .last()
                .map(|s| s.step_id.clone())
                .unwrap_or_default();
            fail(
                trace,
                &step_id,
                StepError::fatal("invalid_state", "a client step ran in a backend journey"),
            )
        }
    }
}

pub(crate) fn fail(mut trace: Trace, step_id: &str, e: StepError) -> RunOutcome {
    trace.outcome = TraceOutcome::Failed {
        step_id: step_id.to_string(),
        code: e.code.clone(),
    };
    RunOutcome {
        result: RunResult::Failed(JourneyFailure {
            step_id: step_id.to_string(),
            code: e.code,
            message: e.message,
        }),
        trace,
    }
}

async fn run_expr(
    field: &str,
    p: &Program,
    vars: &IndexMap<String, Value>,
    ctx: &Context<'_>,
    host: &RunHost<'_>,
) -> Result<Value, StepError> {
    if ctx.deadline.is_some_and(Deadline::expired) {
        return Err(StepError::fatal(
            "limit_exceeded",
            "run time limit exceeded",
        ));
    }
    host.take_policy_error();
    let result = eval(p, vars, ctx).await;
    let policy_code = host.take_policy_error();
    result.map_err(|e| {
        // A failing `@policy` function keeps its own code (`not_authenticated`, …).
        if let Some(code) = policy_code.filter(|_| e.code == tessera_expr::ErrorCode::HostError) {
            return StepError::new(&code, format!("{field}: {e}"));
        }
        let code = e.code.as_str();
        let err = StepError::new(code, format!("{field}: {e}"));
        // A run out of expression budget stays out of budget; the same for outbound calls.
        if code == "limit_exceeded" && !e.message.contains("outbound") {
            StepError { fatal: true, ..err }
        } else {
            err
        }
    })
}

pub(crate) async fn execute(
    step: &CompiledStep,
    vars: &mut IndexMap<String, Value>,
    ctx: &Context<'_>,
    host: &RunHost<'_>,
) -> Result<Flow, StepError> {
    let next = || {
        step.next
            .map(|n| Flow::Goto(n, "next".into()))
            .ok_or_else(|| StepError::new("internal_error", "step has no successor"))
    };
    let max_len = ctx.limits.max_string_len;
    match &step.kind {
        StepKind::SetVariables { variables } => {
            for (name, p) in variables {
                let v = run_expr(&format!("variables.{name}"), p, vars, ctx, host).await?;
                vars.insert(name.clone(), v);
            }
            next()
        }
        StepKind::Condition {
            expression,
            on_true,
            on_false,
        } => match run_expr("expression", expression, vars, ctx, host).await? {
            Value::Bool(true) => Ok(Flow::Goto(*on_true, "true".into())),
            Value::Bool(false) => Ok(Flow::Goto(*on_false, "false".into())),
            other => Err(StepError::new(
                "type_error",
                format!(
                    "expression: a condition must yield a boolean, got {}",
                    other.type_name()
                ),
            )),
        },
        StepKind::Match {
            expression,
            cases,
            otherwise,
        } => {
            let v = run_expr("expression", expression, vars, ctx, host).await?;
            for (i, (case, target)) in cases.iter().enumerate() {
                let c = run_expr(&format!("cases[{i}].value"), case, vars, ctx, host).await?;
                // Like `==` inside an expression, bounded by the per-evaluation step limit.
                match c.deep_eq_within(&v, ctx.limits.max_steps) {
                    Some(true) => return Ok(Flow::Goto(*target, format!("case:{i}"))),
                    Some(false) => {}
                    None => {
                        return Err(StepError::fatal(
                            "limit_exceeded",
                            format!("cases[{i}].value: comparison step limit exceeded"),
                        ))
                    }
                }
            }
            match otherwise {
                Some(t) => Ok(Flow::Goto(*t, "otherwise".into())),
                None => Err(StepError::new(
                    "no_match",
                    "no case matched and there is no `otherwise`",
                )),
            }
        }
        StepKind::HttpComplete {
            status,
            headers,
            redirect_uri,
            json,
            body,
        } => {
            let mut out: Vec<(String, String)> = Vec::new();
            for (name, p) in headers {
                let v = run_expr(&format!("headers.{name}"), p, vars, ctx, host).await?;
                let field = format!("headers.{name}");
                out.push((name.clone(), header_value(&field, &v, max_len)?));
            }
            if let Some(p) = redirect_uri {
                let v = run_expr("redirect_uri", p, vars, ctx, host).await?;
                out.push((
                    "Location".into(),
                    header_value("redirect_uri", &v, max_len)?,
                ));
            }
            let has_ct = out
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
            let body = match body {
                None => String::new(),
                Some(p) => {
                    let v = run_expr("body", p, vars, ctx, host).await?;
                    let (text, ct) = if *json {
                        let text = v
                            .to_json_string(max_len)
                            .map_err(|e| conversion_error("body", e))?;
                        (text, "application/json")
                    } else {
                        (display("body", &v, max_len)?, "text/plain; charset=utf-8")
                    };
                    if !has_ct {
                        out.push(("Content-Type".into(), ct.into()));
                    }
                    text
                }
            };
            Ok(Flow::Complete(HttpResponse {
                status: *status,
                headers: out,
                body,
            }))
        }
        StepKind::InvokeWebService { calls } => {
            for (i, call) in calls.iter().enumerate() {
                let mut args = Vec::with_capacity(call.args.len());
                for (j, p) in call.args.iter().enumerate() {
                    args.push(
                        run_expr(&format!("calls[{i}].args[{j}]"), p, vars, ctx, host).await?,
                    );
                }
                let result = host.web_request(&call.connection, args).await?;
                vars.insert(call.output.clone(), result);
            }
            next()
        }
        StepKind::ValidateToken {
            token,
            validator,
            output,
        } => {
            let t = run_expr("token", token, vars, ctx, host).await?;
            let result = host.validate_token(&t, validator).await?;
            if let Some(out) = output {
                vars.insert(out.clone(), result);
            }
            next()
        }
        StepKind::Information {
            title,
            text,
            button_text,
            ..
        } => {
            let mut data = serde_json::Map::new();
            for (field, p) in [
                ("title", title),
                ("text", text),
                ("button_text", button_text),
            ] {
                let v = match p {
                    Some(p) => {
                        let v = run_expr(field, p, vars, ctx, host).await?;
                        serde_json::Value::String(display(field, &v, max_len)?)
                    }
                    None => serde_json::Value::Null,
                };
                data.insert(field.into(), v);
            }
            Ok(Flow::Wait(serde_json::Value::Object(data)))
        }
        StepKind::Collect { fields, .. } => Ok(Flow::Wait(serde_json::json!({ "fields": fields }))),
        StepKind::Complete { data } => Ok(Flow::Success(
            step_data(data.as_ref(), vars, ctx, host).await?,
        )),
        StepKind::Reject { data } => Ok(Flow::Rejected(
            step_data(data.as_ref(), vars, ctx, host).await?,
        )),
        StepKind::PasswordAuthentication { username, .. } => {
            let username = opt_string("username", username.as_ref(), vars, ctx, host).await?;
            let data = match &username {
                Some(u) => serde_json::json!({ "username": u }),
                None => serde_json::json!({}),
            };
            host.auth().pending = Some(PendingAuth {
                step_id: step.id.clone(),
                username,
                user_id: None,
                data: data.clone(),
            });
            Ok(Flow::Wait(data))
        }
        StepKind::OtpAuthentication {
            channel,
            username,
            error_variable,
            on_failure,
            ..
        } => {
            let username = opt_string("username", username.as_ref(), vars, ctx, host).await?;
            match otp_start(step, *channel, username, host).await {
                Ok(data) => Ok(Flow::Wait(data)),
                Err(e) if e.fatal => Err(e),
                Err(e) => match on_failure {
                    Some(target) => {
                        let error = serde_json::json!({"code": e.code, "message": e.message});
                        vars.insert(error_variable.clone(), Value::from(error));
                        Ok(Flow::Goto(*target, format!("failure:{}", e.code)))
                    }
                    None => Err(e),
                },
            }
        }
        StepKind::CreateUser {
            username,
            email,
            phone_number,
            output,
        } => {
            let new = NewUser {
                username: opt_string("username", username.as_ref(), vars, ctx, host).await?,
                email: opt_string("email", email.as_ref(), vars, ctx, host).await?,
                phone_number: opt_string("phone_number", phone_number.as_ref(), vars, ctx, host)
                    .await?,
            };
            if new.username.is_none() && new.email.is_none() && new.phone_number.is_none() {
                return Err(StepError::new(
                    "invalid_input",
                    "create_user: username, email and phone_number are all empty",
                ));
            }
            let directory = require_directory(host)?;
            let user = directory
                .create_user_with(&new)
                .await
                .map_err(from_directory)?;
            if let Some(out) = output {
                vars.insert(out.clone(), user_json(&user));
            }
            next()
        }
        StepKind::GetUser {
            username,
            user_id,
            output,
        } => {
            let username = opt_string("username", username.as_ref(), vars, ctx, host).await?;
            let user_id = opt_string("user_id", user_id.as_ref(), vars, ctx, host).await?;
            let directory = require_directory(host)?;
            let lookup = match (&username, &user_id) {
                (Some(u), _) => Some(UserRef::Username(u)),
                (None, Some(id)) => Some(UserRef::UserId(id)),
                (None, None) => None,
            };
            let found = match lookup {
                Some(l) => directory.get_user(l).await.map_err(from_directory)?,
                None => None,
            };
            let v = found.as_ref().map(user_json).unwrap_or(Value::Null);
            vars.insert(output.clone(), v);
            next()
        }
        StepKind::CustomAuthentication {
            username,
            token,
            validator,
            amr,
            error_variable,
            on_failure,
            create_user_if_missing,
        } => {
            let u = run_expr("username", username, vars, ctx, host).await?;
            let t = run_expr("token", token, vars, ctx, host).await?;
            let amr = match amr {
                None => String::new(),
                Some(p) => {
                    let v = run_expr("amr", p, vars, ctx, host).await?;
                    display("amr", &v, max_len)?.trim().to_string()
                }
            };
            let amr = if amr.is_empty() {
                DEFAULT_AMR.to_string()
            } else {
                amr
            };
            let outcome =
                custom_authentication(&u, &t, validator, *create_user_if_missing, host).await;
            match outcome {
                Ok(user) => {
                    let mut auth = host.auth();
                    if auth
                        .user
                        .as_ref()
                        .is_some_and(|old| old.user_id != user.user_id)
                    {
                        auth.methods.clear();
                    }
                    auth.user = Some(user);
                    if !auth.methods.contains(&amr) {
                        auth.methods.push(amr);
                    }
                    auth.auth_time = Some(host.env.now_ms.div_euclid(1000));
                    auth.tokens = None;
                    drop(auth);
                    next()
                }
                Err(e) if e.fatal => Err(e),
                Err(e) => match on_failure {
                    Some(target) => {
                        let error = serde_json::json!({"code": e.code, "message": e.message});
                        vars.insert(error_variable.clone(), Value::from(error));
                        Ok(Flow::Goto(*target, format!("failure:{}", e.code)))
                    }
                    None => Err(e),
                },
            }
        }
    }
}

/// A string-or-null expression field (`None` when absent or null).
async fn opt_string(
    field: &str,
    p: Option<&Program>,
    vars: &IndexMap<String, Value>,
    ctx: &Context<'_>,
    host: &RunHost<'_>,
) -> Result<Option<String>, StepError> {
    let Some(p) = p else { return Ok(None) };
    match run_expr(field, p, vars, ctx, host).await? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.to_string())),
        other => Err(StepError::new(
            "type_error",
            format!("{field}: must be a string, got {}", other.type_name()),
        )),
    }
}

fn require_directory<'a>(host: &RunHost<'a>) -> Result<&'a dyn Directory, StepError> {
    host.env.directory.ok_or_else(|| {
        StepError::new(
            "directory_unavailable",
            "no user directory is available to this run",
        )
    })
}

fn from_directory(e: DirectoryError) -> StepError {
    StepError::new(&e.code, e.message)
}

fn user_json(user: &UserInfo) -> Value {
    Value::from(serde_json::json!({
        "user_id": user.user_id,
        "username": user.username,
        "email": user.email,
        "phone_number": user.phone_number,
    }))
}

/// Entering an OTP step: the user (named, else the run's), a passcode sent, the masked
/// address to wait with.
async fn otp_start(
    step: &CompiledStep,
    channel: PasscodeChannel,
    username: Option<String>,
    host: &RunHost<'_>,
) -> Result<serde_json::Value, StepError> {
    let directory = require_directory(host)?;
    let user_id = match username {
        Some(name) => match directory.find_user(&name).await.map_err(from_directory)? {
            Some(u) => u.user_id,
            None => {
                return Err(StepError::new(
                    "user_not_found",
                    "no user with this username",
                ))
            }
        },
        None => match host.auth().user.clone() {
            Some(u) => u.user_id,
            None => {
                return Err(StepError::new(
                    "not_authenticated",
                    "no user is authenticated in this run and the step names none",
                ))
            }
        },
    };
    let address = directory
        .send_passcode(&user_id, channel)
        .await
        .map_err(from_directory)?;
    let data = crate::client::wait_data(channel, &address);
    host.auth().pending = Some(PendingAuth {
        step_id: step.id.clone(),
        username: None,
        user_id: Some(user_id),
        data: data.clone(),
    });
    Ok(data)
}

/// The amr recorded when `custom_authentication` has none.
pub const DEFAULT_AMR: &str = "flex.login";

async fn step_data(
    data: Option<&Program>,
    vars: &IndexMap<String, Value>,
    ctx: &Context<'_>,
    host: &RunHost<'_>,
) -> Result<serde_json::Value, StepError> {
    match data {
        None => Ok(serde_json::Value::Null),
        Some(p) => {
            let v = run_expr("data", p, vars, ctx, host).await?;
            v.to_json_within(ctx.limits.max_string_len)
                .map_err(|e| conversion_error("data", e))
        }
    }
}

/// The checks of `custom_authentication`: the directory is there, the token is valid and
/// belongs to the username, the user exists (or is created). Errors other than limits go to
/// the step's failure branch.
async fn custom_authentication(
    username: &Value,
    token: &Value,
    validator: &str,
    create_user_if_missing: bool,
    host: &RunHost<'_>,
) -> Result<RunUser, StepError> {
    let Some(directory) = host.env.directory else {
        return Err(StepError::new(
            "directory_unavailable",
            "no user directory is available to this run",
        ));
    };
    let username = match username {
        Value::String(s) if !s.trim().is_empty() => s.to_string(),
        other => {
            return Err(StepError::new(
                "invalid_username",
                format!(
                    "username: must be a non-empty string, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    if !matches!(token, Value::String(s) if !s.is_empty()) {
        return Err(StepError::new(
            "invalid_token",
            format!(
                "token: must be a non-empty string, got {}",
                token.type_name()
            ),
        ));
    }
    host.authenticate_token(token, &username, validator).await?;
    let directory_error = |e: DirectoryError| StepError::new(&e.code, e.message);
    match directory
        .find_user(&username)
        .await
        .map_err(directory_error)?
    {
        Some(user) => Ok(user),
        None if create_user_if_missing => directory
            .create_user(&username)
            .await
            .map_err(directory_error),
        None => Err(StepError::new(
            "user_not_found",
            "no user with this username",
        )),
    }
}

/// The to-string form of a body or header value, at most `max_len` bytes.
fn display(field: &str, v: &Value, max_len: usize) -> Result<String, StepError> {
    v.to_display_string(max_len)
        .map_err(|e| conversion_error(field, e))
}

/// A value that cannot become a body or header: a lambda is the journey's mistake (catchable);
/// a value too large or deep to write out is a limit, like inside an expression.
pub(crate) fn conversion_error(field: &str, e: ConvertError) -> StepError {
    match e {
        ConvertError::Lambda => StepError::new(
            "type_error",
            format!("{field}: a lambda cannot be converted to text"),
        ),
        ConvertError::TooLarge => StepError::fatal(
            "limit_exceeded",
            format!("{field}: string length limit exceeded"),
        ),
        ConvertError::TooDeep => StepError::fatal(
            "limit_exceeded",
            format!("{field}: value nesting depth limit exceeded"),
        ),
    }
}

fn header_value(field: &str, v: &Value, max_len: usize) -> Result<String, StepError> {
    let s = display(field, v, max_len)?;
    if s.contains(['\r', '\n', '\0']) {
        return Err(StepError::new(
            "invalid_header",
            format!("{field}: header value contains CR, LF or NUL"),
        ));
    }
    Ok(s)
}
