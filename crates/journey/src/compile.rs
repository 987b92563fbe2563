//! Validation of a [`JourneyDefinition`] into a [`CompiledJourney`]: every expression compiled
//! once, every branch resolved to a step index, graph checks (targets, duplicates, terminal
//! paths, reachability) and warnings.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_expr::{
    compile, compile_template, Expr, ExprKind, Function, PolicyFunction, Program, TemplatePart,
};

use crate::definition::{parse_located, Format, JourneyDefinition, JourneyType};
use crate::error::{
    place_errors, place_warnings, unplaced, FieldPath, Located, Locus, ValidationError, Warning,
};
use crate::source_map::Seg;

/// A validated journey, built once per stored version and run many times (share it in an `Arc`).
#[derive(Debug, Clone)]
pub struct CompiledJourney {
    /// Journey id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Journey type.
    pub journey_type: JourneyType,
    /// Whether invoking needs a client token.
    pub enforce_token: bool,
    /// Client journeys: minutes a waiting step waits for the client.
    pub interaction_expiry_minutes: u32,
    /// Stored version (set by the store with [`CompiledJourney::with_version`]; 0 otherwise).
    pub version: u64,
    /// Steps; index 0 is the start.
    pub steps: Vec<CompiledStep>,
}

impl CompiledJourney {
    /// Sets the stored version number recorded in traces and run state.
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// Index of a step by id.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }
}

/// One validated step.
#[derive(Debug, Clone)]
pub struct CompiledStep {
    /// Step id.
    pub id: String,
    /// Behaviour and fields.
    pub kind: StepKind,
    /// Where a non-branching step continues (explicit `next` or the following step).
    pub next: Option<usize>,
    /// `on_error` target.
    pub on_error: Option<usize>,
    /// Line in the definition text.
    pub line: Option<u32>,
    /// Whether an expression of the step calls `@policy.userTokens()` (fetched before it runs).
    pub(crate) uses_user_tokens: bool,
}

/// A web-service call of `invoke_web_service`.
#[derive(Debug, Clone)]
pub struct ServiceCall {
    /// `web_service` connection name.
    pub connection: String,
    /// Positional arguments.
    pub args: Vec<Program>,
    /// Variable receiving `{status, body}`.
    pub output: String,
}

/// The extra answers a waiting step accepts besides `client_input`.
#[derive(Debug, Clone, Default)]
pub struct WaitOptions {
    /// Custom branches: `(id, target, label)`.
    pub branches: Vec<(String, usize, Option<String>)>,
    /// Target of the `cancel` option.
    pub cancel: Option<usize>,
}

/// The type of a `collect` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Any string.
    String,
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Boolean,
    /// An email address.
    Email,
    /// A phone number in E.164 form.
    Phone,
    /// A date `YYYY-MM-DD`.
    Date,
}

/// One field of a `collect` form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FormField {
    /// Name (a key of the submitted object).
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Must be present and non-empty.
    pub required: bool,
    /// Label shown by the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Most fields in a `collect` form.
pub const MAX_FORM_FIELDS: usize = 64;

/// The step types.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// Ordered assignments.
    SetVariables {
        /// `(name, expression)`.
        variables: Vec<(String, Program)>,
    },
    /// Client step: shows a message and waits for the client.
    Information {
        /// Title template.
        title: Option<Program>,
        /// Text template.
        text: Option<Program>,
        /// Button text template.
        button_text: Option<Program>,
        /// Extra options.
        wait: WaitOptions,
    },
    /// Client step: asks the client for a form's values and stores them in `output`.
    Collect {
        /// The form schema.
        fields: Vec<FormField>,
        /// Variable receiving the submitted object.
        output: String,
        /// Extra options.
        wait: WaitOptions,
    },
    /// Client terminal step: success.
    Complete {
        /// Data returned to the client.
        data: Option<Program>,
    },
    /// Client terminal step: rejection.
    Reject {
        /// Data returned to the client.
        data: Option<Program>,
    },
    /// Authenticates a user with an external token (SPEC §7.2).
    CustomAuthentication {
        /// Username expression.
        username: Program,
        /// Token expression.
        token: Program,
        /// `token_validator` or `jwt_validator` connection name.
        validator: String,
        /// amr template (default `flex.login`).
        amr: Option<Program>,
        /// Variable receiving `{code, message}` on a failure branch (default `error`).
        error_variable: String,
        /// `None` = abort; else the failure branch.
        on_failure: Option<usize>,
        /// Create an unknown user instead of failing with `user_not_found`.
        create_user_if_missing: bool,
    },
    /// Boolean branch.
    Condition {
        /// Must yield a boolean.
        expression: Program,
        /// Target when true.
        on_true: usize,
        /// Target when false.
        on_false: usize,
    },
    /// First case whose value equals the expression.
    Match {
        /// The value matched.
        expression: Program,
        /// `(value, target)`.
        cases: Vec<(Program, usize)>,
        /// Target when nothing matched (else a `no_match` step error).
        otherwise: Option<usize>,
    },
    /// Terminal step of backend journeys.
    HttpComplete {
        /// 200–599.
        status: u16,
        /// `(name, template)`.
        headers: Vec<(String, Program)>,
        /// Template for `Location`.
        redirect_uri: Option<Program>,
        /// `json` (true) or `text`.
        json: bool,
        /// Body expression.
        body: Option<Program>,
    },
    /// Calls web-service connections.
    InvokeWebService {
        /// The calls, in order.
        calls: Vec<ServiceCall>,
    },
    /// Client step: waits for `{username, password}` (or only `{password}` when `username`
    /// names the user) and checks it through the [`crate::Directory`].
    PasswordAuthentication {
        /// Username expression (optional).
        username: Option<Program>,
        /// Variable receiving `{code, message}` on the failure branch (default `error`).
        error_variable: String,
        /// `None`: a failure ends the run; else the failure branch.
        on_failure: Option<usize>,
        /// Extra options (`cancel`, branches).
        wait: WaitOptions,
    },
    /// Client step: sends a one-time passcode by email or SMS, then waits for `{passcode}`
    /// (options `resend` and, when declared, `cancel`).
    OtpAuthentication {
        /// Email or SMS.
        channel: crate::client::PasscodeChannel,
        /// Username expression naming the user (default: the run's authenticated user).
        username: Option<Program>,
        /// Variable receiving `{code, message}` on the failure branch (default `error`).
        error_variable: String,
        /// `None`: a failure ends the run; else the failure branch.
        on_failure: Option<usize>,
        /// Extra options (`cancel`, branches).
        wait: WaitOptions,
    },
    /// Creates a user (not authenticated by it).
    CreateUser {
        /// Username expression.
        username: Option<Program>,
        /// Email expression.
        email: Option<Program>,
        /// Phone number expression.
        phone_number: Option<Program>,
        /// Variable receiving `{user_id, username, email, phone_number}`.
        output: Option<String>,
    },
    /// Looks a user up by username or user id.
    GetUser {
        /// Username expression.
        username: Option<Program>,
        /// User id expression.
        user_id: Option<Program>,
        /// Variable receiving `{user_id, username, email, phone_number}` or null.
        output: String,
    },
    /// Validates a token with a connection.
    ValidateToken {
        /// Token expression.
        token: Program,
        /// `token_validator` or `jwt_validator` connection name.
        validator: String,
        /// Optional variable receiving the claims (jwt) or `{status, body}` (token validator).
        output: Option<String>,
    },
}

impl StepKind {
    /// The `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::SetVariables { .. } => "set_variables",
            StepKind::Condition { .. } => "condition",
            StepKind::Match { .. } => "match",
            StepKind::HttpComplete { .. } => "http_complete",
            StepKind::InvokeWebService { .. } => "invoke_web_service",
            StepKind::ValidateToken { .. } => "validate_token",
            StepKind::Information { .. } => "information",
            StepKind::Collect { .. } => "collect",
            StepKind::Complete { .. } => "complete",
            StepKind::Reject { .. } => "reject",
            StepKind::CustomAuthentication { .. } => "custom_authentication",
            StepKind::PasswordAuthentication { .. } => "password_authentication",
            StepKind::OtpAuthentication {
                channel: crate::client::PasscodeChannel::Email,
                ..
            } => "email_otp_authentication",
            StepKind::OtpAuthentication { .. } => "sms_otp_authentication",
            StepKind::CreateUser { .. } => "create_user",
            StepKind::GetUser { .. } => "get_user",
        }
    }

    /// The options of a waiting step (`None` for steps that do not wait).
    pub fn wait_options(&self) -> Option<&WaitOptions> {
        match self {
            StepKind::Information { wait, .. }
            | StepKind::Collect { wait, .. }
            | StepKind::PasswordAuthentication { wait, .. }
            | StepKind::OtpAuthentication { wait, .. } => Some(wait),
            _ => None,
        }
    }

    /// Every expression of the step.
    pub(crate) fn programs(&self) -> Vec<&Program> {
        match self {
            StepKind::SetVariables { variables } => variables.iter().map(|(_, p)| p).collect(),
            StepKind::Condition { expression, .. } => vec![expression],
            StepKind::Match {
                expression, cases, ..
            } => std::iter::once(expression)
                .chain(cases.iter().map(|(p, _)| p))
                .collect(),
            StepKind::HttpComplete {
                headers,
                redirect_uri,
                body,
                ..
            } => headers
                .iter()
                .map(|(_, p)| p)
                .chain(redirect_uri)
                .chain(body)
                .collect(),
            StepKind::InvokeWebService { calls } => {
                calls.iter().flat_map(|c| c.args.iter()).collect()
            }
            StepKind::ValidateToken { token, .. } => vec![token],
            StepKind::Information {
                title,
                text,
                button_text,
                ..
            } => title.iter().chain(text).chain(button_text).collect(),
            StepKind::Collect { .. } => Vec::new(),
            StepKind::Complete { data } | StepKind::Reject { data } => data.iter().collect(),
            StepKind::CustomAuthentication {
                username,
                token,
                amr,
                ..
            } => [username, token].into_iter().chain(amr).collect(),
            StepKind::PasswordAuthentication { username, .. }
            | StepKind::OtpAuthentication { username, .. } => username.iter().collect(),
            StepKind::CreateUser {
                username,
                email,
                phone_number,
                ..
            } => username.iter().chain(email).chain(phone_number).collect(),
            StepKind::GetUser {
                username, user_id, ..
            } => username.iter().chain(user_id).collect(),
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self,
            StepKind::HttpComplete { .. } | StepKind::Complete { .. } | StepKind::Reject { .. }
        )
    }

    fn is_branching(&self) -> bool {
        matches!(self, StepKind::Condition { .. } | StepKind::Match { .. })
    }
}

/// A validated journey and its warnings.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The journey, ready to run.
    pub journey: CompiledJourney,
    /// Findings that do not refuse it.
    pub warnings: Vec<Warning>,
}

/// Parses and validates in one go (what the admin API and `journey check` call). Errors and
/// warnings carry their line and column in `text`.
pub fn check_journey(text: &str, format: Format) -> Result<Checked, Vec<ValidationError>> {
    let (parsed, map) = parse_located(text, format);
    let definition = parsed.map_err(|errors| place_errors(errors, &map))?;
    let (journey, warnings) =
        compile_located(&definition).map_err(|errors| place_errors(errors, &map))?;
    Ok(Checked {
        journey,
        warnings: place_warnings(warnings, &map),
    })
}

/// Validates a definition: compiles every expression and resolves every target. Without the
/// text, findings have no line and column (only `step_line`); [`check_journey`] has both.
pub fn compile_journey(def: &JourneyDefinition) -> Result<Checked, Vec<ValidationError>> {
    let (journey, warnings) = compile_located(def).map_err(unplaced)?;
    Ok(Checked {
        journey,
        warnings: unplaced(warnings),
    })
}

/// The path of step `index` in the document.
fn step_path(index: usize) -> Vec<Seg> {
    vec![Seg::Key("steps".into()), Seg::Index(index)]
}

/// The path of a field of step `index`.
fn field_path(index: usize, field: &FieldPath) -> Vec<Seg> {
    let mut path = step_path(index);
    path.extend_from_slice(field.segs());
    path
}

type Compiled = (CompiledJourney, Vec<Located<Warning>>);

/// [`compile_journey`] with findings not yet placed in the text.
fn compile_located(def: &JourneyDefinition) -> Result<Compiled, Vec<Located<ValidationError>>> {
    let mut errors = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for (i, step) in def.steps.iter().enumerate() {
        if index_of.insert(step.id.as_str(), i).is_some() {
            errors.push((
                ValidationError {
                    step_line: step.line,
                    ..ValidationError::new(Some(&step.id), "id", "duplicate step id")
                },
                Locus::value(field_path(i, &FieldPath::from("id"))),
            ));
        }
    }
    let mut steps = Vec::with_capacity(def.steps.len());
    let mut taint_sources: Vec<(String, Vec<Arc<str>>, bool)> = Vec::new();
    let mut decisions: Vec<Decision> = Vec::new();
    for (i, step) in def.steps.iter().enumerate() {
        let mut cx = StepCx {
            step_id: &step.id,
            index: i,
            line: step.line,
            fields: &step.fields,
            index_of: &index_of,
            errors: Vec::new(),
        };
        let kind = cx.kind(&step.step_type, def.journey_type);
        let next_explicit = cx.target_opt("next");
        let on_error = cx.target_opt("on_error");
        if let Some(kind) = &kind {
            if kind.is_branching() && step.fields.contains_key("next") {
                cx.err(
                    "next",
                    "a branching step names its targets; `next` is not allowed",
                );
            }
            collect_taint(kind, &step.id, i, &mut taint_sources, &mut decisions);
        }
        errors.extend(cx.errors);
        let Some(kind) = kind else { continue };
        let next = if kind.is_terminal() || kind.is_branching() {
            None
        } else {
            next_explicit.or_else(|| (i + 1 < def.steps.len()).then_some(i + 1))
        };
        if next.is_none() && !kind.is_terminal() && !kind.is_branching() {
            let terminal = match def.journey_type {
                JourneyType::BackendApi => "an `http_complete` step",
                JourneyType::Client => "a terminal step",
            };
            errors.push((
                ValidationError {
                    step_line: step.line,
                    ..ValidationError::new(
                        Some(&step.id),
                        "next",
                        format!("the journey can end here without reaching {terminal}"),
                    )
                },
                Locus::value(field_path(i, &FieldPath::from("next"))),
            ));
        }
        let uses_user_tokens = kind.programs().into_iter().any(uses_user_tokens);
        steps.push(CompiledStep {
            id: step.id.clone(),
            kind,
            next,
            on_error,
            line: step.line,
            uses_user_tokens,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let journey = CompiledJourney {
        id: def.id.clone(),
        name: def.name.clone(),
        journey_type: def.journey_type,
        enforce_token: def.enforce_token,
        interaction_expiry_minutes: def.interaction_expiry_minutes,
        version: 0,
        steps,
    };
    let mut warnings = unreachable_warnings(&journey);
    warnings.extend(taint_warnings(&taint_sources, &decisions));
    Ok((journey, warnings))
}

/// Successors of a step (including its error target).
pub(crate) fn successors(step: &CompiledStep) -> Vec<usize> {
    let mut out: Vec<usize> = step.next.into_iter().chain(step.on_error).collect();
    match &step.kind {
        StepKind::Condition {
            on_true, on_false, ..
        } => out.extend([*on_true, *on_false]),
        StepKind::Match {
            cases, otherwise, ..
        } => {
            out.extend(cases.iter().map(|(_, t)| *t));
            out.extend(*otherwise);
        }
        StepKind::Information { wait, .. } | StepKind::Collect { wait, .. } => {
            out.extend(wait.branches.iter().map(|(_, t, _)| *t));
            out.extend(wait.cancel);
        }
        StepKind::PasswordAuthentication {
            wait, on_failure, ..
        }
        | StepKind::OtpAuthentication {
            wait, on_failure, ..
        } => {
            out.extend(wait.branches.iter().map(|(_, t, _)| *t));
            out.extend(wait.cancel);
            out.extend(*on_failure);
        }
        StepKind::CustomAuthentication { on_failure, .. } => out.extend(*on_failure),
        _ => {}
    }
    out
}

fn unreachable_warnings(journey: &CompiledJourney) -> Vec<Located<Warning>> {
    let mut seen = vec![false; journey.steps.len()];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        if i >= seen.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        stack.extend(successors(&journey.steps[i]));
    }
    journey
        .steps
        .iter()
        .zip(seen)
        .enumerate()
        .filter(|(_, (_, reached))| !reached)
        .map(|(i, (s, _))| {
            let warning = Warning {
                code: "unreachable_step".into(),
                step_id: s.id.clone(),
                field: String::new(),
                message: "step is unreachable from the first step".into(),
                line: None,
                column: None,
            };
            (warning, Locus::value(step_path(i)))
        })
        .collect()
}

/// A condition or match expression: where it is, the variables it reads, and whether it
/// decodes a token without verifying it.
struct Decision {
    step_id: String,
    step_index: usize,
    field: FieldPath,
    reads: Vec<Arc<str>>,
    unverified: bool,
}

/// Records variables set from unverified token decoding, and decision expressions.
fn collect_taint(
    kind: &StepKind,
    step_id: &str,
    step_index: usize,
    sources: &mut Vec<(String, Vec<Arc<str>>, bool)>,
    decisions: &mut Vec<Decision>,
) {
    let mut decision = |field: FieldPath, p: &Program| {
        decisions.push(Decision {
            step_id: step_id.to_string(),
            step_index,
            field,
            reads: p.global_variables(),
            unverified: p.uses_unverified_token_decoding(),
        })
    };
    match kind {
        StepKind::SetVariables { variables } => {
            for (name, p) in variables {
                sources.push((
                    name.clone(),
                    p.global_variables(),
                    p.uses_unverified_token_decoding(),
                ));
            }
        }
        StepKind::Condition { expression, .. } => decision("expression".into(), expression),
        StepKind::Match {
            expression, cases, ..
        } => {
            decision("expression".into(), expression);
            for (i, (p, _)) in cases.iter().enumerate() {
                decision(FieldPath::from("cases").index(i).key("value"), p);
            }
        }
        _ => {}
    }
}

/// Warns when a condition or match rests (directly or through variables) on
/// `@crypto.extractTokenClaims`/`extractTokenHeader`, which do not verify anything.
fn taint_warnings(
    sources: &[(String, Vec<Arc<str>>, bool)],
    decisions: &[Decision],
) -> Vec<Located<Warning>> {
    let mut tainted: HashSet<&str> = HashSet::new();
    loop {
        let before = tainted.len();
        for (name, reads, direct) in sources {
            if *direct || reads.iter().any(|r| tainted.contains(&**r)) {
                tainted.insert(name.as_str());
            }
        }
        if tainted.len() == before {
            break;
        }
    }
    decisions
        .iter()
        .filter(|d| d.unverified || d.reads.iter().any(|r| tainted.contains(&**r)))
        .map(|d| {
            let warning = Warning {
                code: "unverified_token_decision".into(),
                step_id: d.step_id.clone(),
                field: d.field.to_string(),
                message: "this decision rests on @crypto.extractTokenClaims/extractTokenHeader, which do NOT verify the token; use @crypto.verifyToken or a validate_token step".into(),
                line: None,
                column: None,
            };
            (warning, Locus::value(field_path(d.step_index, &d.field)))
        })
        .collect()
}

/// Reads and checks the fields of one step.
struct StepCx<'a> {
    step_id: &'a str,
    /// Index of the step in `steps`, for locating findings.
    index: usize,
    line: Option<u32>,
    fields: &'a Map<String, Value>,
    index_of: &'a HashMap<&'a str, usize>,
    errors: Vec<Located<ValidationError>>,
}

impl StepCx<'_> {
    /// An error about the value of `field` (or, when missing, about the step).
    fn err(&mut self, field: impl Into<FieldPath>, message: impl Into<String>) {
        let field = field.into();
        let locus = Locus::value(field_path(self.index, &field));
        self.push(&field, message, locus);
    }

    /// An error about the key `field` itself (an unknown field).
    fn err_key(&mut self, field: FieldPath, message: impl Into<String>) {
        let locus = Locus::key(field_path(self.index, &field));
        self.push(&field, message, locus);
    }

    fn push(&mut self, field: &FieldPath, message: impl Into<String>, locus: Locus) {
        let error = ValidationError {
            step_line: self.line,
            ..ValidationError::new(Some(self.step_id), field.to_string(), message)
        };
        self.errors.push((error, locus));
    }

    fn kind(&mut self, step_type: &str, journey_type: JourneyType) -> Option<StepKind> {
        let allowed: &[&str] = match step_type {
            "set_variables" => &["variables"],
            "condition" => &["expression", "on_true", "on_false"],
            "match" => &["expression", "cases", "otherwise"],
            "http_complete" => &["status", "headers", "redirect_uri", "response_type", "body"],
            "invoke_web_service" => &["calls"],
            "validate_token" => &["token", "validator", "output"],
            "information" => &["title", "text", "button_text", "branches", "cancel"],
            "collect" => &["fields", "output", "branches", "cancel"],
            "complete" | "reject" => &["data"],
            "custom_authentication" => &[
                "username",
                "token",
                "validator",
                "amr",
                "error_variable",
                "on_failure",
                "create_user_if_missing",
            ],
            "password_authentication" | "email_otp_authentication" | "sms_otp_authentication" => &[
                "username",
                "error_variable",
                "on_failure",
                "branches",
                "cancel",
            ],
            "create_user" => &["username", "email", "phone_number", "output"],
            "get_user" => &["username", "user_id", "output"],
            _ => {
                self.err("type", "unknown step type");
                return None;
            }
        };
        for key in self.fields.keys() {
            if !allowed.contains(&key.as_str()) && key != "next" && key != "on_error" {
                self.err_key(key.into(), format!("unknown field for `{step_type}`"));
            }
        }
        if step_type == "http_complete" && journey_type != JourneyType::BackendApi {
            self.err(
                "type",
                "`http_complete` is only allowed in backend_api journeys",
            );
            return None;
        }
        if matches!(
            step_type,
            "information"
                | "collect"
                | "complete"
                | "reject"
                | "password_authentication"
                | "email_otp_authentication"
                | "sms_otp_authentication"
        ) && journey_type != JourneyType::Client
        {
            self.err(
                "type",
                format!("`{step_type}` is a client step, only allowed in client journeys"),
            );
            return None;
        }
        let kind = match step_type {
            "set_variables" => self.set_variables(),
            "information" => self.information(),
            "collect" => self.collect(),
            "complete" => Some(StepKind::Complete {
                data: self.expr_opt("data"),
            }),
            "reject" => Some(StepKind::Reject {
                data: self.expr_opt("data"),
            }),
            "custom_authentication" => self.custom_authentication(),
            "password_authentication" => self.authentication(None),
            "email_otp_authentication" => {
                self.authentication(Some(crate::client::PasscodeChannel::Email))
            }
            "sms_otp_authentication" => {
                self.authentication(Some(crate::client::PasscodeChannel::Sms))
            }
            "create_user" => self.create_user(),
            "get_user" => self.get_user(),
            "condition" => {
                let (e, t, f) = (
                    self.expr("expression"),
                    self.target("on_true"),
                    self.target("on_false"),
                );
                Some(StepKind::Condition {
                    expression: e?,
                    on_true: t?,
                    on_false: f?,
                })
            }
            "match" => self.match_step(),
            "http_complete" => self.http_complete(),
            "invoke_web_service" => self.invoke(),
            _ => {
                let (t, v, o) = (
                    self.expr("token"),
                    self.name("validator"),
                    self.var_name_opt("output"),
                );
                Some(StepKind::ValidateToken {
                    token: t?,
                    validator: v?,
                    output: o,
                })
            }
        };
        kind.filter(|_| self.errors.is_empty())
    }

    fn template_opt(&mut self, field: &str) -> Option<Program> {
        match self.fields.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => self.compile_value(&field.into(), v, true),
        }
    }

    fn expr_opt(&mut self, field: &str) -> Option<Program> {
        match self.fields.get(field) {
            None => None,
            Some(v) => self.compile_value(&field.into(), v, false),
        }
    }

    /// `branches: [{id, next, label?}]` and `cancel: <step id>`.
    fn wait_options(&mut self) -> WaitOptions {
        let mut wait = WaitOptions {
            branches: Vec::new(),
            cancel: self.target_opt("cancel"),
        };
        match self.fields.get("branches") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let at = FieldPath::from("branches").index(i);
                    let Some(obj) = item.as_object() else {
                        self.err(&at, "a branch is `{id, next, label}`");
                        continue;
                    };
                    for key in obj.keys() {
                        if !matches!(key.as_str(), "id" | "next" | "label") {
                            self.err_key(at.clone().key(key), "unknown field");
                        }
                    }
                    let id = match obj.get("id").and_then(Value::as_str) {
                        Some(id)
                            if crate::definition::valid_id(id)
                                && !matches!(id, "client_input" | "cancel" | "resend") =>
                        {
                            if wait.branches.iter().any(|(b, _, _)| b == id) {
                                self.err(at.clone().key("id"), "duplicate branch id");
                                None
                            } else {
                                Some(id.to_string())
                            }
                        }
                        _ => {
                            self.err(
                                at.clone().key("id"),
                                "a branch id matches [a-z0-9_-]+ and is not `client_input`, `cancel` or `resend`",
                            );
                            None
                        }
                    };
                    let label = match obj.get("label") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(l)) => Some(l.clone()),
                        Some(_) => {
                            self.err(at.clone().key("label"), "`label` must be a string");
                            None
                        }
                    };
                    let next = self.resolve(&at.key("next"), obj.get("next"));
                    if let (Some(id), Some(next)) = (id, next) {
                        wait.branches.push((id, next, label));
                    }
                }
            }
            Some(_) => self.err(
                "branches",
                "`branches` must be a list of `{id, next, label}`",
            ),
        }
        wait
    }

    fn information(&mut self) -> Option<StepKind> {
        let title = self.template_opt("title");
        let text = self.template_opt("text");
        let button_text = self.template_opt("button_text");
        let wait = self.wait_options();
        Some(StepKind::Information {
            title,
            text,
            button_text,
            wait,
        })
    }

    fn collect(&mut self) -> Option<StepKind> {
        let mut fields: Vec<FormField> = Vec::new();
        match self.fields.get("fields") {
            Some(Value::Array(items)) if !items.is_empty() => {
                if items.len() > MAX_FORM_FIELDS {
                    self.err("fields", format!("at most {MAX_FORM_FIELDS} fields"));
                }
                for (i, item) in items.iter().enumerate() {
                    let at = FieldPath::from("fields").index(i);
                    let Some(obj) = item.as_object() else {
                        self.err(&at, "a field is `{name, type, required, label}`");
                        continue;
                    };
                    for key in obj.keys() {
                        if !matches!(key.as_str(), "name" | "type" | "required" | "label") {
                            self.err_key(at.clone().key(key), "unknown field");
                        }
                    }
                    let name = match obj.get("name").and_then(Value::as_str) {
                        Some(n) if valid_var(n) && n.len() <= 64 => {
                            if fields.iter().any(|f| f.name == n) {
                                self.err(at.clone().key("name"), "duplicate field name");
                            }
                            Some(n.to_string())
                        }
                        _ => {
                            self.err(
                                at.clone().key("name"),
                                "a field name is an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64)",
                            );
                            None
                        }
                    };
                    let field_type = match obj.get("type").and_then(Value::as_str) {
                        Some("string") => Some(FieldType::String),
                        Some("number") => Some(FieldType::Number),
                        Some("boolean") => Some(FieldType::Boolean),
                        Some("email") => Some(FieldType::Email),
                        Some("phone") => Some(FieldType::Phone),
                        Some("date") => Some(FieldType::Date),
                        _ => {
                            self.err(
                                at.clone().key("type"),
                                "`type` must be string, number, boolean, email, phone or date",
                            );
                            None
                        }
                    };
                    let required = match obj.get("required") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => {
                            self.err(at.clone().key("required"), "must be a boolean");
                            false
                        }
                    };
                    let label = match obj.get("label") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(l)) => Some(l.clone()),
                        Some(_) => {
                            self.err(at.clone().key("label"), "`label` must be a string");
                            None
                        }
                    };
                    if let (Some(name), Some(field_type)) = (name, field_type) {
                        fields.push(FormField {
                            name,
                            field_type,
                            required,
                            label,
                        });
                    }
                }
            }
            _ => self.err(
                "fields",
                "`fields` must be a non-empty list of `{name, type, required, label}`",
            ),
        }
        let output = match self.fields.get("output").and_then(Value::as_str) {
            Some(o) if valid_var(o) => Some(o.to_string()),
            _ => {
                self.err("output", "`output` must be a variable name");
                None
            }
        };
        let wait = self.wait_options();
        Some(StepKind::Collect {
            fields,
            output: output?,
            wait,
        })
    }

    fn custom_authentication(&mut self) -> Option<StepKind> {
        let username = self.expr("username");
        let token = self.expr("token");
        let validator = self.name("validator");
        let amr = self.template_opt("amr");
        let error_variable = match self.fields.get("error_variable") {
            None | Some(Value::Null) => Some("error".to_string()),
            Some(_) => self.var_name_opt("error_variable"),
        };
        let on_failure = match self.fields.get("on_failure") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "abort" => None,
            Some(_) => self.target_opt("on_failure"),
        };
        let create_user_if_missing = match self.fields.get("create_user_if_missing") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.err("create_user_if_missing", "must be a boolean");
                false
            }
        };
        Some(StepKind::CustomAuthentication {
            username: username?,
            token: token?,
            validator: validator?,
            amr,
            error_variable: error_variable?,
            on_failure,
            create_user_if_missing,
        })
    }

    /// `error_variable` (default `error`) and `on_failure` (`abort` default, or a step id).
    fn failure_branch(&mut self) -> (Option<String>, Option<usize>) {
        let error_variable = match self.fields.get("error_variable") {
            None | Some(Value::Null) => Some("error".to_string()),
            Some(_) => self.var_name_opt("error_variable"),
        };
        let on_failure = match self.fields.get("on_failure") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "abort" => None,
            Some(_) => self.target_opt("on_failure"),
        };
        (error_variable, on_failure)
    }

    /// `password_authentication` (no channel) and the OTP steps.
    fn authentication(
        &mut self,
        channel: Option<crate::client::PasscodeChannel>,
    ) -> Option<StepKind> {
        let username = self.expr_opt("username");
        let (error_variable, on_failure) = self.failure_branch();
        let wait = self.wait_options();
        let error_variable = error_variable?;
        Some(match channel {
            None => StepKind::PasswordAuthentication {
                username,
                error_variable,
                on_failure,
                wait,
            },
            Some(channel) => StepKind::OtpAuthentication {
                channel,
                username,
                error_variable,
                on_failure,
                wait,
            },
        })
    }

    fn create_user(&mut self) -> Option<StepKind> {
        let username = self.expr_opt("username");
        let email = self.expr_opt("email");
        let phone_number = self.expr_opt("phone_number");
        if username.is_none() && email.is_none() && phone_number.is_none() {
            self.err(
                "username",
                "`create_user` needs at least one of `username`, `email`, `phone_number`",
            );
        }
        let output = self.var_name_opt("output");
        Some(StepKind::CreateUser {
            username,
            email,
            phone_number,
            output,
        })
    }

    fn get_user(&mut self) -> Option<StepKind> {
        let username = self.expr_opt("username");
        let user_id = self.expr_opt("user_id");
        if username.is_some() == user_id.is_some() {
            self.err(
                "username",
                "`get_user` needs exactly one of `username`, `user_id`",
            );
        }
        let output = match self.fields.get("output").and_then(Value::as_str) {
            Some(o) if valid_var(o) => Some(o.to_string()),
            _ => {
                self.err("output", "`output` must be a variable name");
                None
            }
        };
        Some(StepKind::GetUser {
            username,
            user_id,
            output: output?,
        })
    }

    fn set_variables(&mut self) -> Option<StepKind> {
        let Some(Value::Object(map)) = self.fields.get("variables") else {
            self.err(
                "variables",
                "`variables` must be a mapping of name to expression",
            );
            return None;
        };
        let mut variables = Vec::new();
        for (name, v) in map {
            let field = FieldPath::from("variables").key(name);
            if !valid_var(name) {
                self.err_key(
                    field.clone(),
                    "variable names are identifiers ([A-Za-z_][A-Za-z0-9_]*)",
                );
            }
            if let Some(p) = self.compile_value(&field, v, false) {
                variables.push((name.clone(), p));
            }
        }
        Some(StepKind::SetVariables { variables })
    }

    fn match_step(&mut self) -> Option<StepKind> {
        let expression = self.expr("expression");
        let mut cases = Vec::new();
        match self.fields.get("cases") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let case = FieldPath::from("cases").index(i);
                    let Some(obj) = item.as_object() else {
                        self.err(&case, "a case is `{value, next}`");
                        continue;
                    };
                    let value = match obj.get("value") {
                        Some(v) => self.compile_value(&case.clone().key("value"), v, false),
                        None => {
                            self.err(case.clone().key("value"), "missing");
                            None
                        }
                    };
                    let next = self.resolve(&case.key("next"), obj.get("next"));
                    if let (Some(v), Some(n)) = (value, next) {
                        cases.push((v, n));
                    }
                }
            }
            _ => self.err("cases", "`cases` must be a non-empty list"),
        }
        let otherwise = self.target_opt("otherwise");
        Some(StepKind::Match {
            expression: expression?,
            cases,
            otherwise,
        })
    }

    fn http_complete(&mut self) -> Option<StepKind> {
        let status = match self.fields.get("status").and_then(Value::as_u64) {
            Some(s @ 200..=599) => s as u16,
            _ => {
                self.err("status", "`status` must be an integer from 200 to 599");
                0
            }
        };
        let mut headers = Vec::new();
        match self.fields.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, v) in map {
                    let field = FieldPath::from("headers").key(name);
                    if !valid_header_name(name) {
                        self.err_key(field.clone(), "invalid header name");
                    }
                    if let Some(p) = self.compile_value(&field, v, true) {
                        headers.push((name.clone(), p));
                    }
                }
            }
            Some(_) => self.err("headers", "`headers` must be a mapping of name to template"),
        }
        let redirect_uri = self
            .fields
            .get("redirect_uri")
            .and_then(|v| self.compile_value(&"redirect_uri".into(), v, true));
        let json = match self.fields.get("response_type").and_then(Value::as_str) {
            None if !self.fields.contains_key("response_type") => true,
            Some("json") => true,
            Some("text") => false,
            _ => {
                self.err("response_type", "`response_type` must be `json` or `text`");
                true
            }
        };
        let body = self
            .fields
            .get("body")
            .and_then(|v| self.compile_value(&"body".into(), v, false));
        Some(StepKind::HttpComplete {
            status,
            headers,
            redirect_uri,
            json,
            body,
        })
    }

    fn invoke(&mut self) -> Option<StepKind> {
        let Some(Value::Array(items)) = self.fields.get("calls") else {
            self.err(
                "calls",
                "`calls` must be a list of `{connection, args, output}`",
            );
            return None;
        };
        let mut calls = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let call = FieldPath::from("calls").index(i);
            let Some(obj) = item.as_object() else {
                self.err(&call, "a call is `{connection, args, output}`");
                continue;
            };
            for key in obj.keys() {
                if !matches!(key.as_str(), "connection" | "args" | "output") {
                    self.err_key(call.clone().key(key), "unknown field");
                }
            }
            let connection = obj
                .get("connection")
                .and_then(Value::as_str)
                .map(str::to_string);
            if connection.is_none() {
                self.err(call.clone().key("connection"), "missing connection name");
            }
            let output = obj
                .get("output")
                .and_then(Value::as_str)
                .filter(|o| valid_var(o));
            if output.is_none() {
                self.err(
                    call.clone().key("output"),
                    "`output` must be a variable name",
                );
            }
            let mut args = Vec::new();
            let args_field = call.key("args");
            match obj.get("args") {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => {
                    for (j, v) in a.iter().enumerate() {
                        if let Some(p) = self.compile_value(&args_field.clone().index(j), v, false)
                        {
                            args.push(p);
                        }
                    }
                }
                Some(_) => self.err(&args_field, "`args` must be a list"),
            }
            if let (Some(connection), Some(output)) = (connection, output) {
                calls.push(ServiceCall {
                    connection,
                    args,
                    output: output.to_string(),
                });
            }
        }
        Some(StepKind::InvokeWebService { calls })
    }

    fn expr(&mut self, field: &str) -> Option<Program> {
        match self.fields.get(field) {
            Some(v) => self.compile_value(&field.into(), v, false),
            None => {
                self.err(field, format!("missing `{field}`"));
                None
            }
        }
    }

    fn name(&mut self, field: &str) -> Option<String> {
        match self.fields.get(field).and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => {
                self.err(field, format!("`{field}` must be a connection name"));
                None
            }
        }
    }

    fn var_name_opt(&mut self, field: &str) -> Option<String> {
        let v = self.fields.get(field)?;
        match v.as_str() {
            Some(s) if valid_var(s) => Some(s.to_string()),
            _ => {
                self.err(field, "must be a variable name");
                None
            }
        }
    }

    /// Compiles an expression (or, with `template`, an interpolated string) field. Scalars
    /// other than strings are taken as their source text (`status: 1` → `1`).
    fn compile_value(&mut self, field: &FieldPath, v: &Value, template: bool) -> Option<Program> {
        let source = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null if !template => "null".to_string(),
            _ => {
                self.err(field, "must be a string (an expression)");
                return None;
            }
        };
        let compiled = if template {
            compile_template(&source)
        } else {
            compile(&source)
        };
        match compiled {
            Ok(p) => Some(p),
            Err(e) => {
                let error = ValidationError {
                    step_line: self.line,
                    ..ValidationError::at(
                        Some(self.step_id),
                        field.to_string(),
                        e.line,
                        e.column,
                        e.message,
                    )
                };
                let locus = Locus::Expression {
                    path: field_path(self.index, field),
                    source,
                    line: e.line,
                    column: e.column,
                };
                self.errors.push((error, locus));
                None
            }
        }
    }

    fn target(&mut self, field: &str) -> Option<usize> {
        let v = self.fields.get(field);
        if v.is_none() {
            self.err(field, format!("missing `{field}` target"));
            return None;
        }
        self.resolve(&field.into(), v)
    }

    fn target_opt(&mut self, field: &str) -> Option<usize> {
        let v = self.fields.get(field)?;
        self.resolve(&field.into(), Some(v))
    }

    fn resolve(&mut self, field: &FieldPath, v: Option<&Value>) -> Option<usize> {
        match v.and_then(Value::as_str) {
            Some(target) => match self.index_of.get(target) {
                Some(i) => Some(*i),
                None => {
                    let shown = printable_id(target);
                    self.err(field, format!("target step `{shown}` does not exist"));
                    None
                }
            },
            None => {
                self.err(field, "target must be a step id");
                None
            }
        }
    }
}

/// Whether a program calls `@policy.userTokens()`.
fn uses_user_tokens(p: &Program) -> bool {
    fn visit(e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Call { function, args, .. } => {
                matches!(function, Function::Policy(PolicyFunction::UserTokens))
                    || args.iter().any(visit)
            }
            ExprKind::Template(parts) => parts.iter().any(|p| match p {
                TemplatePart::Expr(x) => visit(x),
                _ => false,
            }),
            ExprKind::Array(items) => items.iter().any(visit),
            ExprKind::Object(entries) => entries.iter().any(|(_, x)| visit(x)),
            ExprKind::Member { object, .. } => visit(object),
            ExprKind::Index { object, index, .. } => visit(object) || visit(index),
            ExprKind::Unary(_, x) => visit(x),
            ExprKind::Binary(_, a, b) | ExprKind::Try(a, b) => visit(a) || visit(b),
            ExprKind::Conditional(a, b, c) => visit(a) || visit(b) || visit(c),
            ExprKind::Let { bindings, body } => {
                bindings.iter().any(|(_, x)| visit(x)) || visit(body)
            }
            ExprKind::Lambda(def) => visit(&def.body),
            ExprKind::CallLambda { callee, args } => visit(callee) || args.iter().any(visit),
            _ => false,
        }
    }
    visit(p.root())
}

/// Longest id shown in a message, in characters.
const SHOWN_ID_MAX: usize = 64;

/// A step id as written, made safe to show in a message: control and invisible formatting
/// characters (bidi overrides, zero-width) removed, cut to [`SHOWN_ID_MAX`] characters. Ids are
/// part of the definition, never run-time values.
pub(crate) fn printable_id(id: &str) -> String {
    let mut kept = id
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c));
    let mut shown: String = kept.by_ref().take(SHOWN_ID_MAX).collect();
    if kept.next().is_some() {
        shown.push('…');
    }
    shown
}

/// Zero-width and bidirectional formatting characters, which can make a message read
/// differently from what it says.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Variable names usable from expressions.
pub(crate) fn valid_var(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// RFC 9110 token characters.
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
