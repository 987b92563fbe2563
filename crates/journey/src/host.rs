//! The expression [`Host`] of one run: `@policy.request()` and the IO calls
//! (`@webrequests.<name>`, `@crypto.verifyToken`), plus the connection calls that the
//! `invoke_web_service` and `validate_token` steps make. Counts outbound calls per run and
//! is the run's expression [`Deadline`] (the run's wall time on the injected clock).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indexmap::IndexMap;
use tessera_expr::{
    eval_sync, BoxFuture, Context, ConvertError, Deadline, Host, HostCall, HostError, NoHost,
    PolicyFunction, Program, Value,
};
use tessera_jose::{check_claims, ClaimRules, JoseError};

use crate::client::RunUser;
use crate::connection::{
    Connection, ConnectionKind, HeaderTemplate, JwtValidator, TokenValidator, WebService,
};
use crate::exec::RunEnv;
use crate::outbound::{OutboundRequest, OutboundResponse};

/// A step failure: a code and a message that names no values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepError {
    pub code: String,
    pub message: String,
    /// Limit failures cannot be caught by `on_error`.
    pub fatal: bool,
}

impl StepError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        StepError {
            code: code.to_string(),
            message: message.into(),
            fatal: false,
        }
    }

    pub(crate) fn fatal(code: &str, message: impl Into<String>) -> Self {
        StepError {
            fatal: true,
            ..StepError::new(code, message)
        }
    }
}

/// Who the run has authenticated, and how (kept by the executor for backend and client runs).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthState {
    pub user: Option<RunUser>,
    pub methods: Vec<String>,
    pub auth_time: Option<i64>,
    /// `@policy.userTokens()` of a backend run: fetched once, then cached (also a failure).
    pub tokens: Option<Result<serde_json::Value, (String, String)>>,
    /// Set by an authentication step that starts waiting.
    pub pending: Option<crate::client::PendingAuth>,
}

pub(crate) struct RunHost<'a> {
    pub env: &'a RunEnv<'a>,
    pub request: Value,
    /// When the run started, on `env.clock`.
    started: Duration,
    calls: AtomicU32,
    /// The run's authentication state.
    pub auth: Mutex<AuthState>,
    /// A client run (`userTokens()` is for backend runs only).
    pub client: bool,
    /// The code of the last `@policy` failure, so a step error keeps it (`not_authenticated`).
    pub policy_error: Mutex<Option<String>>,
}

impl<'a> RunHost<'a> {
    pub(crate) fn new(env: &'a RunEnv<'a>, request: Value) -> Self {
        RunHost {
            env,
            request,
            started: env.clock.monotonic(),
            calls: AtomicU32::new(0),
            auth: Mutex::new(AuthState::default()),
            client: false,
            policy_error: Mutex::new(None),
        }
    }

    /// The authentication state (a poisoned lock still holds valid data).
    pub(crate) fn auth(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the code of the last `@policy` failure.
    pub(crate) fn take_policy_error(&self) -> Option<String> {
        self.policy_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    fn policy_failure(&self, code: &str, message: &str) -> HostError {
        *self
            .policy_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(code.to_string());
        HostError::new(format!("{code}: {message}"))
    }

    /// Fetches `@policy.userTokens()` for a backend run that has authenticated a user, once.
    pub(crate) async fn prefetch_user_tokens(&self) {
        if self.client {
            return;
        }
        let (user, methods, auth_time) = {
            let auth = self.auth();
            if auth.tokens.is_some() {
                return;
            }
            match &auth.user {
                Some(u) => (u.clone(), auth.methods.clone(), auth.auth_time.unwrap_or(0)),
                None => return,
            }
        };
        let result = match self.env.directory {
            None => Err((
                "directory_unavailable".to_string(),
                "no user directory is available to this run".to_string(),
            )),
            Some(d) => d
                .issue_tokens(&user, &methods, auth_time)
                .await
                .map_err(|e| (e.code, e.message)),
        };
        self.auth().tokens = Some(result);
    }

    /// Time since the run started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.env.clock.monotonic().saturating_sub(self.started)
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.env.limits.wall_time.saturating_sub(self.elapsed())
    }

    /// A context for evaluating a connection's expressions: the run's limits and deadline,
    /// no host functions.
    fn connection_context(&self) -> Context<'_> {
        Context::new(self.env.now_ms, self.env.random, &NoHost)
            .with_limits(self.env.limits.expr)
            .with_deadline(self)
    }

    async fn connection(&self, name: &str) -> Result<Arc<Connection>, StepError> {
        self.env.connections.connection(name).await.ok_or_else(|| {
            StepError::new(
                "unknown_connection",
                format!("connection `{name}` does not exist"),
            )
        })
    }

    /// Sends one counted request with the connection's timeout capped by the run's time left.
    async fn send(&self, mut request: OutboundRequest) -> Result<OutboundResponse, StepError> {
        let max = self.env.limits.max_outbound_calls;
        if self
            .calls
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            return Err(StepError::new(
                "limit_exceeded",
                format!("outbound call limit of {max} per run exceeded"),
            ));
        }
        let remaining = self.remaining();
        if remaining.is_zero() {
            return Err(StepError::fatal(
                "limit_exceeded",
                "run time limit exceeded",
            ));
        }
        request.timeout = request.timeout.min(remaining);
        let name = request.connection.clone().unwrap_or_default();
        self.env.outbound.send(request).await.map_err(|e| {
            StepError::new(
                "outbound_error",
                format!("call to connection `{name}` failed: {e}"),
            )
        })
    }

    /// `@webrequests.<name>(args)` and `invoke_web_service`: returns `{status, body}`.
    pub(crate) async fn web_request(
        &self,
        name: &str,
        args: Vec<Value>,
    ) -> Result<Value, StepError> {
        let conn = self.connection(name).await?;
        let ConnectionKind::WebService(ws) = &conn.kind else {
            return Err(wrong_type(name, "web_service"));
        };
        let mut scope: IndexMap<String, Value> = IndexMap::new();
        let mut args = args.into_iter();
        for p in &ws.params {
            scope.insert(p.clone(), args.next().unwrap_or(Value::Null));
        }
        let request = self.build(name, ws_parts(ws), &scope)?;
        let response = self.send(request).await?;
        Ok(response_value(&response, ws.json_response))
    }

    /// `validate_token` with either connection type; returns claims or `{status, body}`.
    pub(crate) async fn validate_token(
        &self,
        token: &Value,
        name: &str,
    ) -> Result<Value, StepError> {
        let conn = self.connection(name).await?;
        match &conn.kind {
            ConnectionKind::JwtValidator(v) => self.verify_jwt(token, name, v).await,
            ConnectionKind::TokenValidator(v) => {
                self.token_validator(token, Value::Null, name, v).await
            }
            ConnectionKind::WebService(_) => {
                Err(wrong_type(name, "token_validator or jwt_validator"))
            }
        }
    }

    /// `@crypto.verifyToken(token, name)`: only `jwt_validator` connections.
    pub(crate) async fn verify_token(&self, token: &Value, name: &str) -> Result<Value, StepError> {
        let conn = self.connection(name).await?;
        match &conn.kind {
            ConnectionKind::JwtValidator(v) => self.verify_jwt(token, name, v).await,
            _ => Err(wrong_type(name, "jwt_validator")),
        }
    }

    /// `custom_authentication`: the token must be valid and belong to `username` (a
    /// `jwt_validator`'s `username_claim` equals it; a `token_validator` is called with
    /// `user_id` = the username and its required `valid_when` decides).
    pub(crate) async fn authenticate_token(
        &self,
        token: &Value,
        username: &str,
        name: &str,
    ) -> Result<(), StepError> {
        let conn = self.connection(name).await?;
        match &conn.kind {
            ConnectionKind::JwtValidator(v) => {
                let claims = self.verify_jwt(token, name, v).await?;
                let owner = match &claims {
                    Value::Object(m) => m.get(v.username_claim.as_str()).cloned(),
                    _ => None,
                };
                match owner {
                    Some(Value::String(s)) if &*s == username => Ok(()),
                    _ => Err(StepError::new(
                        "invalid_token",
                        format!(
                            "the token's `{}` claim does not match the username",
                            v.username_claim
                        ),
                    )),
                }
            }
            ConnectionKind::TokenValidator(v) => {
                if v.valid_when.is_none() {
                    return Err(StepError::new(
                        "invalid_connection",
                        format!("`{name}` needs `valid_when` to be used by custom_authentication"),
                    ));
                }
                self.token_validator(token, Value::from(username), name, v)
                    .await
                    .map(|_| ())
            }
            ConnectionKind::WebService(_) => {
                Err(wrong_type(name, "token_validator or jwt_validator"))
            }
        }
    }

    async fn token_validator(
        &self,
        token: &Value,
        user_id: Value,
        name: &str,
        v: &TokenValidator,
    ) -> Result<Value, StepError> {
        let mut scope: IndexMap<String, Value> = IndexMap::new();
        scope.insert("user_id".into(), user_id);
        scope.insert("token".into(), token.clone());
        let parts = Parts {
            url: &v.url,
            method: &v.method,
            headers: &v.headers,
            body: Some(&v.body),
            timeout_ms: v.timeout_ms,
        };
        let request = self.build(name, parts, &scope)?;
        let response = self.send(request).await?;
        let result = response_value(&response, true);
        let valid = match &v.valid_when {
            None => (200..300).contains(&response.status),
            Some(p) => {
                let mut scope: IndexMap<String, Value> = IndexMap::new();
                scope.insert("status".into(), Value::Number(f64::from(response.status)));
                scope.insert(
                    "body".into(),
                    match &result {
                        Value::Object(m) => m.get("body").cloned().unwrap_or(Value::Null),
                        _ => Value::Null,
                    },
                );
                scope.insert("response".into(), result.clone());
                let ctx = self.connection_context();
                match eval_sync(p, &scope, &ctx) {
                    Ok(Value::Bool(b)) => b,
                    Ok(other) => {
                        return Err(StepError::new(
                            "invalid_connection",
                            format!(
                                "valid_when of `{name}` must yield a boolean, got {}",
                                other.type_name()
                            ),
                        ))
                    }
                    Err(e) => {
                        return Err(StepError::new(
                            "invalid_connection",
                            format!("valid_when of `{name}`: {e}"),
                        ))
                    }
                }
            }
        };
        if valid {
            Ok(result)
        } else {
            Err(StepError::new(
                "invalid_token",
                format!("token rejected by `{name}`"),
            ))
        }
    }

    async fn verify_jwt(
        &self,
        token: &Value,
        name: &str,
        v: &JwtValidator,
    ) -> Result<Value, StepError> {
        let Some(token) = token.as_str() else {
            return Err(StepError::new(
                "invalid_token",
                format!("token must be a string, got {}", token.type_name()),
            ));
        };
        let invalid = |e: JoseError| {
            StepError::new("invalid_token", format!("token rejected by `{name}`: {e}"))
        };
        let timeout = Duration::from_secs(5);
        let verified = match (&v.jwks, &v.jwks_uri) {
            (Some(keys), _) => keys.verify(token, &v.algorithms).map_err(invalid)?,
            (None, Some(uri)) => {
                let keys = self
                    .env
                    .jwks
                    .keys(name, uri, self.env.outbound, self.env.now_ms, timeout)
                    .await
                    .map_err(|m| StepError::new("jwks_error", format!("`{name}`: {m}")))?;
                match keys.verify(token, &v.algorithms) {
                    Err(JoseError::UnknownKid) => {
                        let fresh = self
                            .env
                            .jwks
                            .refetch(name, uri, self.env.outbound, self.env.now_ms, timeout)
                            .await
                            .map_err(|m| StepError::new("jwks_error", format!("`{name}`: {m}")))?;
                        match fresh {
                            Some(keys) => keys.verify(token, &v.algorithms).map_err(invalid)?,
                            None => return Err(invalid(JoseError::UnknownKid)),
                        }
                    }
                    other => other.map_err(invalid)?,
                }
            }
            (None, None) => {
                return Err(StepError::new(
                    "invalid_connection",
                    format!("`{name}` has no keys"),
                ))
            }
        };
        let rules = ClaimRules {
            issuer: Some(&v.issuer),
            audience: v.audience.as_deref(),
            now_s: self.env.now_ms.div_euclid(1000),
            leeway_s: v.leeway_s,
            require_exp: true,
        };
        check_claims(&verified.claims, &rules).map_err(invalid)?;
        Ok(Value::from(serde_json::Value::Object(verified.claims)))
    }

    /// Evaluates a connection's URL, headers and body over `scope`.
    fn build(
        &self,
        name: &str,
        parts: Parts<'_>,
        scope: &IndexMap<String, Value>,
    ) -> Result<OutboundRequest, StepError> {
        let ctx = self.connection_context();
        let max_len = self.env.limits.expr.max_string_len;
        let eval = |field: &str, p: &Program| {
            eval_sync(p, scope, &ctx).map_err(|e| {
                let err = StepError::new("connection_error", format!("`{name}` {field}: {e}"));
                if e.code == tessera_expr::ErrorCode::LimitExceeded {
                    StepError::fatal("limit_exceeded", err.message)
                } else {
                    err
                }
            })
        };
        let text = |field: &str, v: Value| {
            v.to_display_string(max_len)
                .map_err(|e| conversion_error(name, field, e))
        };
        let url = text("url", eval("url", parts.url)?)?;
        let mut headers = Vec::new();
        for h in parts.headers {
            let value = text("header", eval("header", &h.value)?)?;
            if value.contains(['\r', '\n', '\0']) {
                return Err(StepError::new(
                    "connection_error",
                    format!("`{name}` header `{}` contains CR, LF or NUL", h.name),
                ));
            }
            headers.push((h.name.clone(), value));
        }
        let body = match parts.body {
            None => None,
            Some(p) => {
                let v = eval("body", p)?;
                let has_ct = headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
                let bytes = match &v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    other => {
                        if !has_ct {
                            headers.push(("content-type".into(), "application/json".into()));
                        }
                        other
                            .to_json_string(max_len)
                            .map_err(|e| conversion_error(name, "body", e))?
                            .into_bytes()
                    }
                };
                Some(bytes)
            }
        };
        Ok(OutboundRequest {
            method: parts.method.to_string(),
            url,
            headers,
            body,
            timeout: Duration::from_millis(parts.timeout_ms),
            connection: Some(name.to_string()),
        })
    }
}

struct Parts<'a> {
    url: &'a Program,
    method: &'a str,
    headers: &'a [HeaderTemplate],
    body: Option<&'a Program>,
    timeout_ms: u64,
}

fn ws_parts(ws: &WebService) -> Parts<'_> {
    Parts {
        url: &ws.url,
        method: &ws.method,
        headers: &ws.headers,
        body: ws.body.as_ref(),
        timeout_ms: ws.timeout_ms,
    }
}

fn wrong_type(name: &str, expected: &str) -> StepError {
    StepError::new(
        "invalid_connection",
        format!("connection `{name}` is not a {expected} connection"),
    )
}

/// A connection field that cannot be written out: a lambda is a `connection_error`; a value
/// too large or deep is a limit, as inside an expression.
fn conversion_error(name: &str, field: &str, e: ConvertError) -> StepError {
    match e {
        ConvertError::Lambda => StepError::new(
            "connection_error",
            format!("`{name}` {field}: a lambda cannot be converted to text"),
        ),
        ConvertError::TooLarge | ConvertError::TooDeep => {
            StepError::fatal("limit_exceeded", format!("`{name}` {field}: {e}"))
        }
    }
}

/// `{status, body}`; a JSON body is parsed when asked (unparsable or empty JSON bodies are
/// kept as text / null).
fn response_value(response: &OutboundResponse, json: bool) -> Value {
    let text = String::from_utf8_lossy(&response.body);
    let body = if json && text.trim().is_empty() {
        Value::Null
    } else if json {
        serde_json::from_str::<serde_json::Value>(&text)
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text.as_ref()))
    } else {
        Value::from(text.as_ref())
    };
    Value::from(serde_json::json!({"status": response.status})).with_key("body", body)
}

trait WithKey {
    fn with_key(self, key: &str, v: Value) -> Value;
}

impl WithKey for Value {
    fn with_key(self, key: &str, v: Value) -> Value {
        match self {
            Value::Object(map) => {
                let mut map = (*map).clone();
                map.insert(key.into(), v);
                Value::object(map)
            }
            other => other,
        }
    }
}

/// The run's time budget, asked by the evaluator every `DEADLINE_CHECK_INTERVAL` (1,024) steps.
impl Deadline for RunHost<'_> {
    fn expired(&self) -> bool {
        self.remaining().is_zero()
    }
}

impl Host for RunHost<'_> {
    fn policy(&self, function: PolicyFunction) -> Result<Value, HostError> {
        match function {
            PolicyFunction::Request => Ok(self.request.clone()),
            PolicyFunction::IsUserAuthenticated => Ok(Value::Bool(self.auth().user.is_some())),
            PolicyFunction::UserContext => Ok(match &self.auth().user {
                None => Value::Null,
                Some(u) => Value::from(serde_json::json!({
                    "user_id": u.user_id,
                    "username": u.username,
                    "email": u.email,
                })),
            }),
            PolicyFunction::UserTokens => {
                if self.client {
                    return Err(self.policy_failure(
                        "not_available",
                        "userTokens() is only available in backend journeys",
                    ));
                }
                let auth = self.auth().clone();
                if auth.user.is_none() {
                    return Err(self.policy_failure(
                        "not_authenticated",
                        "userTokens() needs a user authenticated in this run",
                    ));
                }
                match auth.tokens {
                    Some(Ok(v)) => Ok(Value::from(v)),
                    Some(Err((code, message))) => Err(self.policy_failure(&code, &message)),
                    None => Err(self.policy_failure(
                        "internal_error",
                        "user tokens were not prepared for this step",
                    )),
                }
            }
        }
    }

    fn call<'b>(&'b self, call: HostCall) -> BoxFuture<'b, Result<Value, HostError>> {
        Box::pin(async move {
            let result = match call {
                HostCall::WebRequest { name, args } => self.web_request(&name, args).await,
                HostCall::VerifyToken { token, connection } => match connection.as_str() {
                    Some(name) => self.verify_token(&token, name).await,
                    None => Err(StepError::new(
                        "invalid_argument",
                        "verifyToken: the connection name must be a string",
                    )),
                },
            };
            result.map_err(|e| HostError::new(format!("{}: {}", e.code, e.message)))
        })
    }
}
