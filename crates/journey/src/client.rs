//! Client journeys (SPEC §7.2, §7.5): a run started by an app ([`start_client`]) that stops at
//! steps waiting for the client (`information`, `collect`) and continues when the client
//! answers ([`submit_client`]). Between requests the run is a serializable
//! [`ClientRunState`], which the identity core seals and stores; any node can continue it.
//!
//! Users come from a [`Directory`] (the identity core implements it; tests use a stub).

use serde::{Deserialize, Serialize};
use tessera_expr::{BoxFuture, Value};

use crate::compile::{CompiledJourney, FieldType, FormField, StepKind, WaitOptions};
use crate::definition::JourneyType;
use crate::exec::{
    conversion_error, drive, load_vars, new_trace, run_context, End, JourneyFailure, RunEnv,
    RunRequest, RunState, Vars,
};
use crate::host::{AuthState, RunHost, StepError};
use crate::trace::{Trace, TraceOutcome, TraceStep};

/// The authenticated user of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUser {
    /// Tessera user id.
    pub user_id: String,
    /// Username, if the user has one.
    pub username: Option<String>,
    /// Primary email, if any.
    pub email: Option<String>,
}

/// A failure of the directory (its `code` becomes the step error code, e.g. `user_not_found`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryError {
    /// Error code.
    pub code: String,
    /// Description (no secrets).
    pub message: String,
}

/// The channel of a one-time passcode step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasscodeChannel {
    /// `email_otp_authentication` (amr `eotp`).
    Email,
    /// `sms_otp_authentication` (amr `sms`).
    Sms,
}

impl PasscodeChannel {
    /// The amr value a passcode of this channel records.
    pub fn amr(self) -> &'static str {
        match self {
            PasscodeChannel::Email => "eotp",
            PasscodeChannel::Sms => "sms",
        }
    }
}

/// A user as `get_user` and `create_user` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Tessera user id.
    pub user_id: String,
    /// Username, if any.
    pub username: Option<String>,
    /// Primary email, if any.
    pub email: Option<String>,
    /// Phone number (E.164), if any.
    pub phone_number: Option<String>,
}

/// What `create_user` asks for (at least one field set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    /// Username.
    pub username: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
}

/// How `get_user` names the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRef<'a> {
    /// By username (case-insensitive).
    Username(&'a str),
    /// By user id.
    UserId(&'a str),
}

fn not_available<T: Send + 'static>(what: &str) -> BoxFuture<'static, Result<T, DirectoryError>> {
    let e = DirectoryError {
        code: "directory_unavailable".into(),
        message: format!("this user directory does not support {what}"),
    };
    Box::pin(async move { Err(e) })
}

/// What a run asks of the identity core (implemented there; tests use a stub). The
/// methods after `issue_tokens` have defaults answering `directory_unavailable`.
///
/// Error codes the authentication steps read: `invalid_credentials` (wrong password or
/// passcode: the step waits again), `expired_otp_passcode` (waits again), anything else
/// (`auth_locked`, `password_reset_required`, `user_not_active`, `rate_limited`, …) fails
/// the step.
pub trait Directory: Send + Sync {
    /// The user with this username (the store's case-insensitive match), if any; disabled
    /// users are an error `user_not_active`.
    fn find_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<RunUser>, DirectoryError>>;
    /// Creates an active user with this username.
    fn create_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>>;
    /// Backend journeys only: tokens for the invoking client for `user`, authenticated with
    /// `methods` (amr values) at `auth_time` (epoch seconds): `{access_token, id_token,
    /// refresh_token, session_id}`. Called at most once per run, lazily, by `@policy.userTokens()`.
    fn issue_tokens<'a>(
        &'a self,
        user: &'a RunUser,
        methods: &'a [String],
        auth_time: i64,
    ) -> BoxFuture<'a, Result<serde_json::Value, DirectoryError>>;
    /// Checks a password for the run's client exactly like the backend password API (same
    /// lockouts, same cost and answer for unknown users); the user on success.
    fn authenticate_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let _ = (username, password);
        not_available("password authentication")
    }
    /// Sends a new passcode to the user's email or phone (the backend send's rate limits);
    /// answers the address it went to (the step masks it).
    fn send_passcode<'a>(
        &'a self,
        user_id: &'a str,
        channel: PasscodeChannel,
    ) -> BoxFuture<'a, Result<String, DirectoryError>> {
        let _ = (user_id, channel);
        not_available("one-time passcodes")
    }
    /// Redeems a passcode of `channel` sent to the user for the run's client (the backend
    /// check: per-user `otp` lockout, attempt counted first); the user on success.
    fn verify_passcode<'a>(
        &'a self,
        user_id: &'a str,
        channel: PasscodeChannel,
        passcode: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        let _ = (user_id, channel, passcode);
        not_available("one-time passcodes")
    }
    /// The user named, if any (`get_user`).
    fn get_user<'a>(
        &'a self,
        user: UserRef<'a>,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, DirectoryError>> {
        let _ = user;
        not_available("looking users up")
    }
    /// Creates an active user (`create_user`); `user_already_exists` when an identifier is
    /// taken.
    fn create_user_with<'a>(
        &'a self,
        user: &'a NewUser,
    ) -> BoxFuture<'a, Result<UserInfo, DirectoryError>> {
        let _ = user;
        not_available("creating users")
    }
}

/// What an authentication step waits with (kept in the state across the wait).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingAuth {
    /// The step it belongs to.
    pub step_id: String,
    /// Password step: the username the step's expression gave (then only the password is
    /// asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// OTP steps: the user the passcode was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The waiting data shown to the client (a masked address, never a secret).
    pub data: serde_json::Value,
}

/// `a***@example.com`: the first character of the local part, then `***`.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// `+1******0100`: `+`, the first digit and the last four; the rest starred.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 {
        return "***".into();
    }
    let hidden = digits.len() - 5;
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("+{}{}{tail}", digits[0], "*".repeat(hidden))
}

/// The serializable state of a client run between requests (the identity core seals it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRunState {
    /// Position and variables; `current_step` is the waiting (or last) step.
    pub run: RunState,
    /// Id of the step waiting for the client, if any.
    pub waiting: Option<String>,
    /// `additionalParams` (= `@policy.request().params`).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Set by an authentication step.
    pub user: Option<RunUser>,
    /// amr values of the run, in order, no duplicates.
    pub methods: Vec<String>,
    /// Epoch seconds of the last authentication.
    pub auth_time: Option<i64>,
    /// What a waiting authentication step needs when the client answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingAuth>,
}

/// An option the client may answer a waiting step with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientOption {
    /// `client_input`, `cancel`, or a custom branch id.
    pub id: String,
    /// `client_input`, `cancel` or `custom`.
    pub kind: String,
    /// Label of a custom branch.
    pub label: Option<String>,
}

/// What the client sends: `{option, data}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClientSubmit {
    /// The chosen option id.
    pub option: String,
    /// The answer (a `collect` step's values).
    #[serde(default)]
    pub data: serde_json::Value,
}

/// How a client request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientResult {
    /// The run waits for the client at `step_id` (the platform's `client_input_required`).
    InputRequired {
        /// The waiting step.
        step_id: String,
        /// Its type (`information`, `collect`).
        step_type: String,
        /// What the client shows.
        data: serde_json::Value,
        /// The answers it accepts.
        options: Vec<ClientOption>,
        /// Why the last input was refused (`{code, message, fields}`), if it was.
        error: Option<serde_json::Value>,
    },
    /// A `complete` step: `data` is its evaluated `data` (or null). The caller issues a code
    /// if `state.user` is set.
    Success {
        /// The step's data.
        data: serde_json::Value,
    },
    /// A `reject` step.
    Rejected {
        /// The step's data.
        data: serde_json::Value,
    },
    /// The run failed (like backend journeys' [`JourneyFailure`]).
    Failed(JourneyFailure),
}

/// The state, result and trace of one client request.
#[derive(Debug, Clone)]
pub struct ClientOutcome {
    /// The state to store (unchanged for a refused submit).
    pub state: ClientRunState,
    /// The answer.
    pub result: ClientResult,
    /// This request's trace.
    pub trace: Trace,
}

/// Longest string value a `collect` step accepts, in bytes.
pub const MAX_COLLECT_STRING: usize = 4096;

/// The variable that receives the submitted `data`, for any option.
pub const CLIENT_RESPONSE_VARIABLE: &str = "client_response";

/// Starts a client run at the first step with `params` (additionalParams); runs until a step
/// waits or the run ends.
pub async fn start_client(
    journey: &CompiledJourney,
    params: serde_json::Map<String, serde_json::Value>,
    env: &RunEnv<'_>,
) -> ClientOutcome {
    let state = ClientRunState {
        run: RunState::start(journey),
        waiting: None,
        params,
        user: None,
        methods: Vec::new(),
        auth_time: None,
        pending: None,
    };
    if journey.journey_type != JourneyType::Client {
        let e = StepError::fatal(
            "invalid_journey_type",
            "only client journeys can be started by a client",
        );
        return refused(journey, state, e);
    }
    let start = state.run.current_step.clone();
    run_from(journey, state, &start, Vars::new(), None, env).await
}

/// Answers the waiting step with `submit` and runs on. A submit when nothing waits, or with
/// an option the waiting step does not offer, is `Failed` with code `invalid_state` /
/// `invalid_option` and the state unchanged (the caller decides what to store).
pub async fn submit_client(
    journey: &CompiledJourney,
    state: ClientRunState,
    submit: ClientSubmit,
    env: &RunEnv<'_>,
) -> ClientOutcome {
    let waiting = match &state.waiting {
        Some(w)
            if *w == state.run.current_step
                && state.run.journey_id == journey.id
                && state.run.version == journey.version =>
        {
            w.clone()
        }
        _ => {
            let e = StepError::fatal("invalid_state", "no step of this run waits for the client");
            return refused(journey, state, e);
        }
    };
    let Some(index) = journey.step_index(&waiting) else {
        let e = StepError::fatal(
            "invalid_state",
            "the waiting step does not exist in this journey version",
        );
        return refused(journey, state, e);
    };
    let step = &journey.steps[index];
    let Some(wait) = step.kind.wait_options() else {
        let e = StepError::fatal("invalid_state", "the current step does not wait");
        return refused(journey, state, e);
    };
    if matches!(
        step.kind,
        StepKind::PasswordAuthentication { .. } | StepKind::OtpAuthentication { .. }
    ) && matches!(submit.option.as_str(), "client_input" | "resend")
    {
        return submit_auth(journey, state, index, submit, env).await;
    }
    let target = if submit.option == "client_input" {
        step.next
    } else if submit.option == "cancel" && wait.cancel.is_some() {
        wait.cancel
    } else if let Some((_, t, _)) = wait.branches.iter().find(|(id, _, _)| *id == submit.option) {
        Some(*t)
    } else {
        let e = StepError::fatal(
            "invalid_option",
            "the waiting step does not offer this option",
        );
        return refused(journey, state, e);
    };
    let Some(target) = target else {
        let e = StepError::fatal("internal_error", "step has no successor");
        return refused(journey, state, e);
    };
    let submitted_value = Value::from(submit.data.clone());
    if submitted_value.depth() > env.limits.expr.max_value_depth {
        let e = StepError::fatal("invalid_input", "the submitted data is nested too deeply");
        return refused(journey, state, e);
    }
    let mut vars = match load_vars(state.run.variables.clone(), env) {
        Ok(v) => v,
        Err(e) => return refused(journey, state, e),
    };
    if let StepKind::Collect { fields, output, .. } = &step.kind {
        if submit.option == "client_input" {
            if let Err(error) = validate_input(fields, &submit.data) {
                let mut trace = new_trace(journey);
                push_submit(
                    &mut trace,
                    step.id.clone(),
                    step.kind.type_name(),
                    &submit.option,
                    env,
                );
                trace.outcome = TraceOutcome::Waiting {
                    step_id: step.id.clone(),
                };
                let result = ClientResult::InputRequired {
                    step_id: step.id.clone(),
                    step_type: step.kind.type_name().to_string(),
                    data: serde_json::json!({ "fields": fields }),
                    options: options(wait),
                    error: Some(error),
                };
                return ClientOutcome {
                    state,
                    result,
                    trace,
                };
            }
            vars.insert(output.clone(), Value::from(submit.data.clone()));
        }
    }
    // What is sent to an authentication step (a password, a passcode) stays out of the
    // variables, whatever the option.
    if !matches!(
        step.kind,
        StepKind::PasswordAuthentication { .. } | StepKind::OtpAuthentication { .. }
    ) {
        vars.insert(CLIENT_RESPONSE_VARIABLE.into(), submitted_value);
    }
    let submitted = (
        step.id.clone(),
        step.kind.type_name(),
        submit.option.clone(),
    );
    let target_id = journey.steps[target].id.clone();
    run_from(journey, state, &target_id, vars, Some(submitted), env).await
}

fn push_submit(trace: &mut Trace, step_id: String, step_type: &str, option: &str, env: &RunEnv) {
    trace.steps.push(TraceStep {
        step_id,
        step_type: step_type.to_string(),
        started_at_ms: env.now_ms,
        duration_us: 0,
        decision: format!("submit:{option}"),
    });
}

/// Runs from step `start_id` with `vars` and the state's authentication, producing the new
/// state. `submitted` (step id, type, option) is traced first.
async fn run_from(
    journey: &CompiledJourney,
    state: ClientRunState,
    start_id: &str,
    mut vars: Vars,
    submitted: Option<(String, &'static str, String)>,
    env: &RunEnv<'_>,
) -> ClientOutcome {
    let mut trace = new_trace(journey);
    if let Some((id, ty, option)) = submitted {
        push_submit(&mut trace, id, ty, &option, env);
    }
    let Some(index) = journey.step_index(start_id) else {
        let e = StepError::fatal(
            "invalid_state",
            "the run's current step does not exist in this journey version",
        );
        return refused(journey, state, e);
    };
    let request = RunRequest {
        method: "POST".into(),
        path: String::new(),
        params: state.params.clone(),
        body: serde_json::Value::Null,
        headers: serde_json::Map::new(),
    };
    let mut host = RunHost::new(env, request.to_value());
    host.client = true;
    *host.auth() = AuthState {
        user: state.user.clone(),
        methods: state.methods.clone(),
        auth_time: state.auth_time,
        tokens: None,
        pending: None,
    };
    let ctx = run_context(&host);
    let mut steps_taken = state.run.steps_taken;
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
    let auth = host.auth().clone();
    let auth_pending = auth.pending.clone();
    let mut next = ClientRunState {
        run: RunState {
            journey_id: journey.id.clone(),
            version: journey.version,
            current_step: trace
                .steps
                .last()
                .map(|s| s.step_id.clone())
                .unwrap_or_else(|| start_id.to_string()),
            variables: serde_json::Map::new(),
            steps_taken,
        },
        waiting: None,
        params: state.params,
        user: auth.user,
        methods: auth.methods,
        auth_time: auth.auth_time,
        pending: None,
    };
    let max_len = env.limits.expr.max_string_len;
    let result = match end {
        End::Wait(i, data) => {
            let step = &journey.steps[i];
            match save_vars(&vars, max_len) {
                Err(e) => failed(&mut trace, &step.id, e),
                Ok(saved) => {
                    next.run.variables = saved;
                    next.run.current_step = step.id.clone();
                    next.waiting = Some(step.id.clone());
                    next.pending = auth_pending.filter(|p| p.step_id == step.id);
                    trace.outcome = TraceOutcome::Waiting {
                        step_id: step.id.clone(),
                    };
                    let options = step_options(&step.kind);
                    ClientResult::InputRequired {
                        step_id: step.id.clone(),
                        step_type: step.kind.type_name().to_string(),
                        data,
                        options,
                        error: None,
                    }
                }
            }
        }
        End::Success(data) => {
            trace.outcome = TraceOutcome::Success;
            ClientResult::Success { data }
        }
        End::Rejected(data) => {
            trace.outcome = TraceOutcome::Rejected;
            ClientResult::Rejected { data }
        }
        End::Failed(step_id, e) => failed(&mut trace, &step_id, e),
        End::Http(_) => {
            let step_id = next.run.current_step.clone();
            failed(
                &mut trace,
                &step_id,
                StepError::fatal("invalid_state", "http_complete ran in a client journey"),
            )
        }
    };
    ClientOutcome {
        state: next,
        result,
        trace,
    }
}

fn failed(trace: &mut Trace, step_id: &str, e: StepError) -> ClientResult {
    trace.outcome = TraceOutcome::Failed {
        step_id: step_id.to_string(),
        code: e.code.clone(),
    };
    ClientResult::Failed(JourneyFailure {
        step_id: step_id.to_string(),
        code: e.code,
        message: e.message,
    })
}

/// A request refused before any step ran: the state is returned unchanged.
fn refused(journey: &CompiledJourney, state: ClientRunState, e: StepError) -> ClientOutcome {
    let mut trace = new_trace(journey);
    let step_id = state.waiting.clone().unwrap_or_default();
    let result = failed(&mut trace, &step_id, e);
    ClientOutcome {
        state,
        result,
        trace,
    }
}

/// The variables as JSON, for the stored state (a lambda cannot be kept across a wait).
fn save_vars(
    vars: &Vars,
    max_len: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, StepError> {
    let mut out = serde_json::Map::new();
    for (name, v) in vars {
        let json = v
            .to_json_within(max_len)
            .map_err(|e| conversion_error(&format!("variable `{name}`"), e))?;
        out.insert(name.clone(), json);
    }
    Ok(out)
}

/// The options of a waiting step; OTP steps also offer `resend`.
fn step_options(kind: &StepKind) -> Vec<ClientOption> {
    let mut out = kind.wait_options().map(options).unwrap_or_default();
    if matches!(kind, StepKind::OtpAuthentication { .. }) {
        out.insert(
            1,
            ClientOption {
                id: "resend".into(),
                kind: "resend".into(),
                label: None,
            },
        );
    }
    out
}

/// Codes after which an authentication step waits again (with the error) instead of
/// failing.
const RETRY_CODES: [&str; 4] = [
    "invalid_credentials",
    "expired_otp_passcode",
    "rate_limited",
    "invalid_input",
];

fn error_json(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "code": code, "message": message })
}

/// The waiting authentication step again, with `error` (the state keeps waiting there).
fn wait_again(
    journey: &CompiledJourney,
    state: ClientRunState,
    index: usize,
    data: serde_json::Value,
    error: Option<serde_json::Value>,
    mut trace: Trace,
) -> ClientOutcome {
    let step = &journey.steps[index];
    trace.outcome = TraceOutcome::Waiting {
        step_id: step.id.clone(),
    };
    let result = ClientResult::InputRequired {
        step_id: step.id.clone(),
        step_type: step.kind.type_name().to_string(),
        data,
        options: step_options(&step.kind),
        error,
    };
    ClientOutcome {
        state,
        result,
        trace,
    }
}

/// A non-empty string member of the submitted object.
fn input_string<'d>(data: &'d serde_json::Value, name: &str) -> Option<&'d str> {
    data.get(name)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_COLLECT_STRING)
}

/// `client_input` and `resend` at a waiting `password_authentication` or OTP step: the check
/// through the directory, then on (success), the same step again (wrong credentials, an
/// expired passcode, a rate limit, bad input), or the failure branch / the end of the run.
/// Submitted secrets never reach the run's variables.
async fn submit_auth(
    journey: &CompiledJourney,
    mut state: ClientRunState,
    index: usize,
    submit: ClientSubmit,
    env: &RunEnv<'_>,
) -> ClientOutcome {
    let step = &journey.steps[index];
    let pending = match &state.pending {
        Some(p) if p.step_id == step.id => p.clone(),
        _ => {
            let e = StepError::fatal("invalid_state", "the step's pending data is missing");
            return refused(journey, state, e);
        }
    };
    let mut trace = new_trace(journey);
    push_submit(
        &mut trace,
        step.id.clone(),
        step.kind.type_name(),
        &submit.option,
        env,
    );
    let (error_variable, on_failure) = match &step.kind {
        StepKind::PasswordAuthentication {
            error_variable,
            on_failure,
            ..
        }
        | StepKind::OtpAuthentication {
            error_variable,
            on_failure,
            ..
        } => (error_variable.clone(), *on_failure),
        _ => ("error".to_string(), None),
    };
    let Some(directory) = env.directory else {
        let e = DirectoryError {
            code: "directory_unavailable".into(),
            message: "no user directory is available to this run".into(),
        };
        return auth_failure(
            journey,
            state,
            index,
            e,
            &error_variable,
            on_failure,
            trace,
            env,
        )
        .await;
    };
    let invalid = |message: &str| Some(error_json("invalid_input", message));
    let (checked, amr) = match (&step.kind, submit.option.as_str()) {
        (StepKind::OtpAuthentication { channel, .. }, "resend") => {
            let user_id = pending.user_id.clone().unwrap_or_default();
            return match directory.send_passcode(&user_id, *channel).await {
                Ok(address) => {
                    let data = wait_data(*channel, &address);
                    if let Some(p) = state.pending.as_mut() {
                        p.data = data.clone();
                    }
                    wait_again(journey, state, index, data, None, trace)
                }
                Err(e) => {
                    let error = Some(error_json(&e.code, &e.message));
                    wait_again(journey, state, index, pending.data, error, trace)
                }
            };
        }
        (StepKind::PasswordAuthentication { .. }, "client_input") => {
            let username = match &pending.username {
                Some(u) => Some(u.as_str()),
                None => input_string(&submit.data, "username"),
            };
            let password = input_string(&submit.data, "password");
            let (Some(username), Some(password)) = (username, password) else {
                let message = if pending.username.is_some() {
                    "`password` must be a non-empty string"
                } else {
                    "`username` and `password` must be non-empty strings"
                };
                return wait_again(journey, state, index, pending.data, invalid(message), trace);
            };
            let checked = directory.authenticate_password(username, password).await;
            (checked, "pwd")
        }
        (StepKind::OtpAuthentication { channel, .. }, "client_input") => {
            let passcode = match &submit.data {
                serde_json::Value::Object(_) => input_string(&submit.data, "passcode"),
                _ => None,
            };
            let Some(passcode) = passcode else {
                let message = "`passcode` must be a non-empty string";
                return wait_again(journey, state, index, pending.data, invalid(message), trace);
            };
            let user_id = pending.user_id.clone().unwrap_or_default();
            let checked = directory
                .verify_passcode(&user_id, *channel, passcode)
                .await;
            (checked, channel.amr())
        }
        _ => {
            let e = StepError::fatal(
                "invalid_option",
                "the waiting step does not offer this option",
            );
            return refused(journey, state, e);
        }
    };
    let user = match checked {
        Ok(user) => user,
        Err(e) if RETRY_CODES.contains(&e.code.as_str()) => {
            let error = Some(error_json(&e.code, &e.message));
            return wait_again(journey, state, index, pending.data, error, trace);
        }
        Err(e) => {
            return auth_failure(
                journey,
                state,
                index,
                e,
                &error_variable,
                on_failure,
                trace,
                env,
            )
            .await
        }
    };
    if state
        .user
        .as_ref()
        .is_some_and(|old| old.user_id != user.user_id)
    {
        let e = DirectoryError {
            code: "user_mismatch".into(),
            message: "the user differs from the run's authenticated user".into(),
        };
        return auth_failure(
            journey,
            state,
            index,
            e,
            &error_variable,
            on_failure,
            trace,
            env,
        )
        .await;
    }
    state.user = Some(user);
    if !state.methods.iter().any(|m| m == amr) {
        state.methods.push(amr.to_string());
    }
    state.auth_time = Some(env.now_ms.div_euclid(1000));
    state.pending = None;
    let vars = match load_vars(state.run.variables.clone(), env) {
        Ok(v) => v,
        Err(e) => return refused(journey, state, e),
    };
    let Some(next) = step.next else {
        let e = StepError::fatal("internal_error", "step has no successor");
        return refused(journey, state, e);
    };
    let next_id = journey.steps[next].id.clone();
    continue_run(journey, state, &next_id, vars, trace, env).await
}

/// The waiting data of an OTP step: the masked address.
pub(crate) fn wait_data(channel: PasscodeChannel, address: &str) -> serde_json::Value {
    match channel {
        PasscodeChannel::Email => serde_json::json!({ "email": mask_email(address) }),
        PasscodeChannel::Sms => serde_json::json!({ "phone_number": mask_phone(address) }),
    }
}

/// A failed authentication step: the failure branch with `{code, message}` in
/// `error_variable`, or the end of the run.
#[allow(clippy::too_many_arguments)]
async fn auth_failure(
    journey: &CompiledJourney,
    mut state: ClientRunState,
    index: usize,
    e: DirectoryError,
    error_variable: &str,
    on_failure: Option<usize>,
    mut trace: Trace,
    env: &RunEnv<'_>,
) -> ClientOutcome {
    let step = &journey.steps[index];
    state.pending = None;
    match on_failure {
        Some(target) => {
            let mut vars = match load_vars(state.run.variables.clone(), env) {
                Ok(v) => v,
                Err(e) => return refused(journey, state, e),
            };
            vars.insert(
                error_variable.to_string(),
                Value::from(error_json(&e.code, &e.message)),
            );
            let target_id = journey.steps[target].id.clone();
            continue_run(journey, state, &target_id, vars, trace, env).await
        }
        None => {
            state.waiting = None;
            let result = failed(&mut trace, &step.id, StepError::new(&e.code, e.message));
            ClientOutcome {
                state,
                result,
                trace,
            }
        }
    }
}

/// [`run_from`] after a submit already traced in `trace`.
async fn continue_run(
    journey: &CompiledJourney,
    state: ClientRunState,
    start_id: &str,
    vars: Vars,
    trace: Trace,
    env: &RunEnv<'_>,
) -> ClientOutcome {
    let mut outcome = run_from(journey, state, start_id, vars, None, env).await;
    let mut steps = trace.steps;
    steps.append(&mut outcome.trace.steps);
    outcome.trace.steps = steps;
    outcome
}

/// The options of a waiting step: `client_input`, custom branches, then `cancel`.
fn options(wait: &WaitOptions) -> Vec<ClientOption> {
    let mut out = vec![ClientOption {
        id: "client_input".into(),
        kind: "client_input".into(),
        label: None,
    }];
    out.extend(wait.branches.iter().map(|(id, _, label)| ClientOption {
        id: id.clone(),
        kind: "custom".into(),
        label: label.clone(),
    }));
    if wait.cancel.is_some() {
        out.push(ClientOption {
            id: "cancel".into(),
            kind: "cancel".into(),
            label: None,
        });
    }
    out
}

/// Longest field name quoted in an error, in characters.
const SHOWN_NAME_MAX: usize = 64;

/// Checks a `collect` answer against the form: an object, every required field present and
/// non-empty, the types, no unknown fields, at most [`crate::MAX_FORM_FIELDS`] members and
/// [`MAX_COLLECT_STRING`] bytes per string. The error is `{code: invalid_input, message,
/// fields}` naming the fields (never their values).
pub(crate) fn validate_input(
    fields: &[FormField],
    data: &serde_json::Value,
) -> Result<(), serde_json::Value> {
    let invalid = |message: String, names: Vec<String>| serde_json::json!({"code": "invalid_input", "message": message, "fields": names});
    let Some(obj) = data.as_object() else {
        return Err(invalid(
            "the input must be an object of field values".into(),
            Vec::new(),
        ));
    };
    if obj.len() > crate::compile::MAX_FORM_FIELDS {
        return Err(invalid(
            format!("at most {} fields", crate::compile::MAX_FORM_FIELDS),
            Vec::new(),
        ));
    }
    let mut problems: Vec<(String, &'static str)> = Vec::new();
    for key in obj.keys() {
        if !fields.iter().any(|f| f.name == *key) {
            let shown: String = crate::compile::printable_id(key)
                .chars()
                .take(SHOWN_NAME_MAX)
                .collect();
            problems.push((shown, "is not a field of this form"));
        }
    }
    for f in fields {
        let value = obj.get(&f.name);
        let empty = match value {
            None | Some(serde_json::Value::Null) => true,
            Some(serde_json::Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        if empty {
            if f.required {
                problems.push((f.name.clone(), "is required"));
            }
            continue;
        }
        let Some(value) = value else { continue };
        if let Some(problem) = check_type(f.field_type, value) {
            problems.push((f.name.clone(), problem));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let message = problems
        .iter()
        .map(|(name, problem)| format!("field `{name}` {problem}"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(invalid(
        message,
        problems.into_iter().map(|(name, _)| name).collect(),
    ))
}

fn check_type(field_type: FieldType, value: &serde_json::Value) -> Option<&'static str> {
    use serde_json::Value as J;
    if let J::String(s) = value {
        if s.len() > MAX_COLLECT_STRING {
            return Some("is too long (at most 4096 bytes)");
        }
    }
    match (field_type, value) {
        (FieldType::String, J::String(_)) => None,
        (FieldType::String, _) => Some("must be a string"),
        (FieldType::Number, J::Number(_)) => None,
        (FieldType::Number, _) => Some("must be a number"),
        (FieldType::Boolean, J::Bool(_)) => None,
        (FieldType::Boolean, _) => Some("must be a boolean"),
        (FieldType::Email, J::String(s)) if valid_email(s) => None,
        (FieldType::Email, _) => Some("must be an email address"),
        (FieldType::Phone, J::String(s)) if valid_phone(s) => None,
        (FieldType::Phone, _) => {
            Some("must be a phone number in E.164 form (+ and 8 to 15 digits)")
        }
        (FieldType::Date, J::String(s)) if valid_date(s) => None,
        (FieldType::Date, _) => Some("must be a date YYYY-MM-DD"),
    }
}

/// `local@domain.tld`: one `@`, no spaces or controls, a dot inside the domain, ≤ 254 bytes.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain
            .split_once('.')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// E.164: `+`, a non-zero first digit, 8 to 15 digits in all.
fn valid_phone(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A calendar date `YYYY-MM-DD`.
fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field(name: &str, t: FieldType, required: bool) -> FormField {
        FormField {
            name: name.into(),
            field_type: t,
            required,
            label: None,
        }
    }

    #[test]
    fn formats() {
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.de"));
        assert!(!valid_email("@c.de"));
        assert!(valid_phone("+4915112345678"));
        assert!(!valid_phone("015112345678"));
        assert!(!valid_phone("+49 151"));
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2023-02-29"));
        assert!(!valid_date("2023-13-01"));
        assert!(!valid_date("2023-1-011"));
    }

    #[test]
    fn input_checks_name_the_fields() {
        let form = [
            field("name", FieldType::String, true),
            field("age", FieldType::Number, false),
        ];
        assert!(validate_input(&form, &serde_json::json!({"name": "x"})).is_ok());
        let e = validate_input(
            &form,
            &serde_json::json!({"name": " ", "age": "3", "zz": 1}),
        )
        .unwrap_err();
        assert_eq!(e["code"], "invalid_input");
        assert_eq!(e["fields"], serde_json::json!(["zz", "name", "age"]));
        assert!(e["message"]
            .as_str()
            .unwrap()
            .contains("field `name` is required"));
        let long = "x".repeat(MAX_COLLECT_STRING + 1);
        let e = validate_input(&form, &serde_json::json!({ "name": long })).unwrap_err();
        assert!(e["message"].as_str().unwrap().contains("too long"));
        assert!(validate_input(&form, &serde_json::json!([1])).is_err());
    }
}
