//! External connections (SPEC §7.4): `token_validator`, `jwt_validator` and `web_service`
//! definitions, parsed and compiled from JSON (or YAML), with secret header values and a
//! redacted public view.
//!
//! Secrets: a header value may be written `{value: "<template>", secret: true}`; such values are
//! what the store seals and what [`Connection::redacted`] leaves out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};
use tessera_expr::{compile, compile_template, BoxFuture, Program};
use tessera_jose::{Algorithm, JwkSet, VerificationKeys};

use crate::compile::{valid_header_name, valid_var};
use crate::definition::Format;
use crate::error::ValidationError;
use crate::yaml;

/// What the public view shows instead of a secret value.
pub const REDACTED: &str = "***";

/// A validated connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Connection name.
    pub name: String,
    /// Compiled definition.
    pub kind: ConnectionKind,
    /// The definition as given (contains secrets: seal it, never show it).
    pub definition: Value,
}

/// The connection types.
#[derive(Debug, Clone)]
pub enum ConnectionKind {
    /// An HTTP service that says whether a token is valid.
    TokenValidator(TokenValidator),
    /// Local JWT verification against a JWKS.
    JwtValidator(JwtValidator),
    /// A web-service function for `@webrequests.<name>` and `invoke_web_service`.
    WebService(WebService),
}

impl ConnectionKind {
    /// The `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            ConnectionKind::TokenValidator(_) => "token_validator",
            ConnectionKind::JwtValidator(_) => "jwt_validator",
            ConnectionKind::WebService(_) => "web_service",
        }
    }
}

/// A compiled header: name, value template, whether the value is secret.
#[derive(Debug, Clone)]
pub struct HeaderTemplate {
    /// Header name.
    pub name: String,
    /// Value template.
    pub value: Program,
    /// Marked `secret: true`.
    pub secret: bool,
}

/// `token_validator`.
#[derive(Debug, Clone)]
pub struct TokenValidator {
    /// URL template (variables `user_id`, `token`).
    pub url: Program,
    /// Method (default POST).
    pub method: String,
    /// Headers (templates over `user_id`, `token`).
    pub headers: Vec<HeaderTemplate>,
    /// Body expression (default `{"user_id": user_id, "token": token}`).
    pub body: Program,
    /// Expression over `status`, `body` (and `response` = `{status, body}`); default: 2xx.
    pub valid_when: Option<Program>,
    /// Timeout (default 5,000 ms).
    pub timeout_ms: u64,
}

/// `jwt_validator`.
#[derive(Debug, Clone)]
pub struct JwtValidator {
    /// Required `iss`.
    pub issuer: String,
    /// Accepted audiences; `None` = explicit `any`.
    pub audience: Option<Vec<String>>,
    /// Allowed algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Where keys are fetched (cached by [`crate::JwksCache`]).
    pub jwks_uri: Option<String>,
    /// Inline keys.
    pub jwks: Option<Arc<VerificationKeys>>,
    /// Claim holding the username (default `sub`).
    pub username_claim: String,
    /// Clock skew allowance in seconds (default 0).
    pub leeway_s: i64,
}

/// `web_service`.
#[derive(Debug, Clone)]
pub struct WebService {
    /// Argument names, bound positionally.
    pub params: Vec<String>,
    /// URL template.
    pub url: Program,
    /// Method (default GET).
    pub method: String,
    /// Header templates.
    pub headers: Vec<HeaderTemplate>,
    /// Body expression (none = no body).
    pub body: Option<Program>,
    /// Parse the response as JSON (`response: json`, default) or keep text.
    pub json_response: bool,
    /// Timeout (default 5,000 ms).
    pub timeout_ms: u64,
}

/// Finds connections by name for a run (the store implements this; maps do too).
pub trait ConnectionLookup: Send + Sync {
    /// The connection called `name`, if any.
    fn connection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Arc<Connection>>>;
}

impl<S: std::hash::BuildHasher + Send + Sync> ConnectionLookup
    for HashMap<String, Arc<Connection>, S>
{
    fn connection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Arc<Connection>>> {
        let found = self.get(name).cloned();
        Box::pin(async move { found })
    }
}

impl<S: std::hash::BuildHasher + Send + Sync> ConnectionLookup
    for IndexMap<String, Arc<Connection>, S>
{
    fn connection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Arc<Connection>>> {
        let found = self.get(name).cloned();
        Box::pin(async move { found })
    }
}

impl ConnectionLookup for BTreeMap<String, Arc<Connection>> {
    fn connection<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Arc<Connection>>> {
        let found = self.get(name).cloned();
        Box::pin(async move { found })
    }
}

impl Connection {
    /// The public view: the definition with every secret header value removed
    /// (`{"secret": true, "value": "***"}`).
    pub fn redacted(&self) -> Value {
        let mut out = self.definition.clone();
        if let Some(Value::Object(headers)) = out.get_mut("headers") {
            for v in headers.values_mut() {
                if is_secret(v) {
                    *v = serde_json::json!({"secret": true, "value": REDACTED});
                }
            }
        }
        out
    }

    /// JSON pointers of the secret values inside [`Connection::definition`]
    /// (e.g. `/headers/Authorization/value`), for sealing.
    pub fn secret_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(Value::Object(headers)) = self.definition.get("headers") {
            for (name, v) in headers {
                if is_secret(v) {
                    let escaped = name.replace('~', "~0").replace('/', "~1");
                    out.push(format!("/headers/{escaped}/value"));
                }
            }
        }
        out
    }

    /// Copies secret values from a previous definition into `new` where `new` marks a header
    /// secret but gives no value or the redaction placeholder (write-only secrets) — but only
    /// while the secret would still go where it went: same type, URL origin and method. A
    /// kept secret for a changed destination is refused (its value must be given again), so
    /// an admin who cannot read a secret cannot send it to a host of their choice either.
    pub fn merge_secrets(new: &mut Value, previous: &Value) -> Result<(), Vec<ValidationError>> {
        let same_destination = destination(new) == destination(previous);
        let Some(Value::Object(headers)) = new.get_mut("headers") else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for (name, v) in headers.iter_mut() {
            let keep_old =
                is_secret(v) && v.get("value").is_none_or(|x| x.as_str() == Some(REDACTED));
            if !keep_old {
                continue;
            }
            let old_value = previous
                .get("headers")
                .and_then(|h| h.get(name))
                .and_then(|old| old.get("value"));
            match old_value {
                Some(old_value) if same_destination => {
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("value".into(), old_value.clone());
                    }
                }
                Some(_) => errors.push(ValidationError::new(
                    None,
                    format!("headers.{}", crate::compile::printable_id(name)),
                    "a kept secret is only kept for the same URL origin and method: give its value again",
                )),
                None => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Where a connection's requests go: its type, method and URL origin (scheme, host, port).
/// A URL template is compared by its text before the first `${`, parsed when it can be,
/// else as written.
fn destination(definition: &Value) -> (Option<String>, Option<String>, Option<String>) {
    let text = |k: &str| {
        definition
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let url = text("url").or_else(|| text("jwks_uri"));
    let origin = url.map(|u| {
        let literal = u.split("${").next().unwrap_or_default();
        match url::Url::parse(literal) {
            Ok(parsed) if parsed.has_host() => parsed.origin().ascii_serialization(),
            _ => u.clone(),
        }
    });
    (
        text("type"),
        text("method").map(|m| m.to_ascii_uppercase()),
        origin,
    )
}

fn is_secret(v: &Value) -> bool {
    v.get("secret").and_then(Value::as_bool) == Some(true)
}

/// Parses a `name → definition` mapping (YAML or JSON).
pub fn parse_connections(
    text: &str,
    format: Format,
) -> Result<IndexMap<String, Arc<Connection>>, Vec<ValidationError>> {
    let loaded = match format {
        Format::Json => yaml::load_json(text),
        Format::Auto if text.trim_start().starts_with('{') => yaml::load_json(text),
        _ => yaml::load_yaml(text),
    };
    let root = loaded.map_err(|e| vec![e.into_validation_error()])?;
    connections_from_value(&root)
}

/// Parses a `name → definition` mapping already loaded as JSON.
pub fn connections_from_value(
    root: &Value,
) -> Result<IndexMap<String, Arc<Connection>>, Vec<ValidationError>> {
    let Value::Object(map) = root else {
        return Err(vec![ValidationError::new(
            None,
            "",
            "connections must be a mapping of name to definition",
        )]);
    };
    let mut out = IndexMap::new();
    let mut errors = Vec::new();
    for (name, def) in map {
        match parse_connection(name, def) {
            Ok(c) => {
                out.insert(name.clone(), Arc::new(c));
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Validates one connection definition (errors carry the name in `step_id`).
pub fn parse_connection(
    name: &str,
    definition: &Value,
) -> Result<Connection, Vec<ValidationError>> {
    let mut cx = Cx {
        name,
        errors: Vec::new(),
    };
    let valid_name = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_name {
        cx.err("name", "connection names match [A-Za-z0-9_-]+");
    }
    let Some(obj) = definition.as_object() else {
        cx.err("", "a connection definition must be a mapping");
        return Err(cx.errors);
    };
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some("token_validator") => cx.token_validator(obj).map(ConnectionKind::TokenValidator),
        Some("jwt_validator") => cx.jwt_validator(obj).map(ConnectionKind::JwtValidator),
        Some("web_service") => cx.web_service(obj).map(ConnectionKind::WebService),
        _ => {
            cx.err(
                "type",
                "type must be token_validator, jwt_validator or web_service",
            );
            None
        }
    };
    match kind {
        Some(kind) if cx.errors.is_empty() => Ok(Connection {
            name: name.to_string(),
            kind,
            definition: definition.clone(),
        }),
        _ => Err(cx.errors),
    }
}

struct Cx<'a> {
    name: &'a str,
    errors: Vec<ValidationError>,
}

impl Cx<'_> {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(ValidationError::new(Some(self.name), field, message));
    }

    fn allow(&mut self, obj: &Map<String, Value>, allowed: &[&str]) {
        for key in obj.keys() {
            if key != "type" && !allowed.contains(&key.as_str()) {
                self.err(key.clone(), "unknown connection field");
            }
        }
    }

    fn token_validator(&mut self, obj: &Map<String, Value>) -> Option<TokenValidator> {
        self.allow(
            obj,
            &[
                "url",
                "method",
                "headers",
                "body",
                "valid_when",
                "timeout_ms",
            ],
        );
        let url = self.program(obj, "url", true);
        let body = match obj.get("body") {
            Some(_) => self.program(obj, "body", false),
            None => compile(r#"{"user_id": user_id, "token": token}"#).ok(),
        };
        let valid_when = obj
            .get("valid_when")
            .and_then(|_| self.program(obj, "valid_when", false));
        Some(TokenValidator {
            method: self.method(obj, "POST"),
            headers: self.headers(obj),
            timeout_ms: self.timeout(obj),
            url: url?,
            body: body?,
            valid_when,
        })
    }

    fn web_service(&mut self, obj: &Map<String, Value>) -> Option<WebService> {
        self.allow(
            obj,
            &[
                "params",
                "url",
                "method",
                "headers",
                "body",
                "response",
                "timeout_ms",
            ],
        );
        let mut params = Vec::new();
        match obj.get("params") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, p) in items.iter().enumerate() {
                    match p.as_str() {
                        Some(s) if valid_var(s) => params.push(s.to_string()),
                        _ => self.err(format!("params[{i}]"), "parameter names are identifiers"),
                    }
                }
            }
            Some(_) => self.err("params", "params must be a list of names"),
        }
        let url = self.program(obj, "url", true);
        let body = obj
            .get("body")
            .and_then(|_| self.program(obj, "body", false));
        let json_response = match obj.get("response").and_then(Value::as_str) {
            None if !obj.contains_key("response") => true,
            Some("json") => true,
            Some("text") => false,
            _ => {
                self.err("response", "response must be json or text");
                true
            }
        };
        Some(WebService {
            params,
            method: self.method(obj, "GET"),
            headers: self.headers(obj),
            timeout_ms: self.timeout(obj),
            url: url?,
            body,
            json_response,
        })
    }

    fn jwt_validator(&mut self, obj: &Map<String, Value>) -> Option<JwtValidator> {
        self.allow(
            obj,
            &[
                "issuer",
                "audience",
                "algorithms",
                "jwks_uri",
                "jwks",
                "username_claim",
                "leeway_s",
            ],
        );
        let issuer = obj
            .get("issuer")
            .and_then(Value::as_str)
            .map(str::to_string);
        if issuer.is_none() {
            self.err("issuer", "issuer is required");
        }
        let audience = match obj.get("audience") {
            Some(Value::String(s)) if s == "any" => None,
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(Value::Array(items))
                if !items.is_empty() && items.iter().all(Value::is_string) =>
            {
                Some(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                )
            }
            _ => {
                self.err(
                    "audience",
                    "audience is required: a string, a list, or `any`",
                );
                None
            }
        };
        let mut algorithms = Vec::new();
        match obj.get("algorithms") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, a) in items.iter().enumerate() {
                    match a.as_str().map(str::parse::<Algorithm>) {
                        Some(Ok(alg)) => algorithms.push(alg),
                        _ => self.err(
                            format!("algorithms[{i}]"),
                            "unsupported algorithm (asymmetric only; never none or HS* with a JWKS)",
                        ),
                    }
                }
            }
            _ => self.err("algorithms", "algorithms is required (a non-empty list)"),
        }
        let jwks_uri = match obj.get("jwks_uri") {
            None | Some(Value::Null) => None,
            Some(Value::String(u)) if u.starts_with("https://") || u.starts_with("http://") => {
                Some(u.clone())
            }
            Some(_) => {
                self.err("jwks_uri", "jwks_uri must be an http(s) URL");
                None
            }
        };
        let jwks = match obj.get("jwks") {
            None | Some(Value::Null) => None,
            Some(v) => match serde_json::from_value::<JwkSet>(v.clone())
                .ok()
                .and_then(|set| VerificationKeys::from_jwks(&set).ok())
            {
                Some(keys) if !keys.is_empty() => Some(Arc::new(keys)),
                _ => {
                    self.err(
                        "jwks",
                        "jwks must be a JWK set with at least one usable public key",
                    );
                    None
                }
            },
        };
        if jwks.is_none() && jwks_uri.is_none() && !obj.contains_key("jwks") {
            self.err("jwks_uri", "one of jwks_uri or jwks is required");
        }
        let username_claim = obj
            .get("username_claim")
            .and_then(Value::as_str)
            .unwrap_or("sub")
            .to_string();
        let leeway_s = match obj.get("leeway_s") {
            None => 0,
            Some(v) => match v.as_i64() {
                Some(l) if (0..=3600).contains(&l) => l,
                _ => {
                    self.err("leeway_s", "leeway_s must be 0..3600");
                    0
                }
            },
        };
        Some(JwtValidator {
            issuer: issuer?,
            audience,
            algorithms,
            jwks_uri,
            jwks,
            username_claim,
            leeway_s,
        })
    }

    fn program(
        &mut self,
        obj: &Map<String, Value>,
        field: &str,
        template: bool,
    ) -> Option<Program> {
        let Some(source) = obj.get(field).and_then(Value::as_str) else {
            self.err(field, format!("`{field}` must be a string"));
            return None;
        };
        let compiled = if template {
            compile_template(source)
        } else {
            compile(source)
        };
        compiled
            .map_err(|e| {
                self.errors.push(ValidationError::at(
                    Some(self.name),
                    field,
                    e.line,
                    e.column,
                    e.message,
                ))
            })
            .ok()
    }

    fn method(&mut self, obj: &Map<String, Value>, default: &str) -> String {
        match obj.get("method").and_then(Value::as_str) {
            None if !obj.contains_key("method") => default.to_string(),
            Some(m)
                if matches!(
                    m.to_ascii_uppercase().as_str(),
                    "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
                ) =>
            {
                m.to_ascii_uppercase()
            }
            _ => {
                self.err("method", "method must be GET, POST, PUT, PATCH or DELETE");
                default.to_string()
            }
        }
    }

    fn timeout(&mut self, obj: &Map<String, Value>) -> u64 {
        match obj.get("timeout_ms") {
            None => 5_000,
            Some(v) => match v.as_u64() {
                Some(t) if (1..=60_000).contains(&t) => t,
                _ => {
                    self.err("timeout_ms", "timeout_ms must be 1..60000");
                    5_000
                }
            },
        }
    }

    fn headers(&mut self, obj: &Map<String, Value>) -> Vec<HeaderTemplate> {
        let mut out = Vec::new();
        match obj.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, v) in map {
                    let field = format!("headers.{name}");
                    if !valid_header_name(name) {
                        self.err(field.clone(), "invalid header name");
                    }
                    let (source, secret) = match v {
                        Value::String(s) => (s.as_str(), false),
                        Value::Object(o) => {
                            match (o.get("value").and_then(Value::as_str), o.get("secret")) {
                                (Some(s), None | Some(Value::Bool(_))) => (s, is_secret(v)),
                                _ => {
                                    self.err(field, "a header is a template or `{value, secret}`");
                                    continue;
                                }
                            }
                        }
                        _ => {
                            self.err(field, "a header is a template or `{value, secret}`");
                            continue;
                        }
                    };
                    match compile_template(source) {
                        Ok(value) => out.push(HeaderTemplate {
                            name: name.clone(),
                            value,
                            secret,
                        }),
                        Err(e) => self.errors.push(ValidationError::at(
                            Some(self.name),
                            field,
                            e.line,
                            e.column,
                            e.message,
                        )),
                    }
                }
            }
            Some(_) => self.err("headers", "headers must be a mapping"),
        }
        out
    }
}
