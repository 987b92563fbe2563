//! The journey definition as written (SPEC §7.1): header fields plus raw steps, parsed from
//! YAML or JSON. Step fields stay raw JSON here; [`crate::compile_journey`] checks them.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::compile::printable_id;
use crate::error::{place_errors, Located, Locus, ValidationError};
use crate::source_map::{Seg, SourceMap};
use crate::yaml;

/// How long a client journey's waiting step waits for the client, unless the journey says.
pub const DEFAULT_INTERACTION_EXPIRY_MINUTES: u32 = 15;

/// Input format of a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON if the text starts with `{` (after whitespace), else YAML.
    Auto,
    /// YAML 1.2 without anchors/aliases.
    Yaml,
    /// JSON.
    Json,
}

/// Journey type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyType {
    /// Invoked by a backend with one HTTP call; ends with `http_complete`.
    BackendApi,
    /// Driven by a client SDK (client-facing steps are a later issue).
    Client,
}

/// A parsed, not yet validated journey definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyDefinition {
    /// `[a-z0-9_-]+`.
    pub id: String,
    /// Display name (defaults to the id).
    pub name: String,
    /// `type`.
    pub journey_type: JourneyType,
    /// `enforce_token` (default true).
    pub enforce_token: bool,
    /// `interaction_expiry_minutes` (client journeys; 1–1440, default 15): how long a waiting
    /// step waits for the client.
    pub interaction_expiry_minutes: u32,
    /// Steps in order; the first is the start.
    pub steps: Vec<StepDefinition>,
}

/// One step as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDefinition {
    /// Step id.
    pub id: String,
    /// `type`, e.g. `condition`.
    pub step_type: String,
    /// Every other member (including `next`, `on_error`).
    pub fields: Map<String, Value>,
    /// Line where the step starts in the source, when found.
    pub line: Option<u32>,
}

/// Whether a step or journey id fits `[a-z0-9_-]+`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses definition text. Errors are structural (syntax, missing header fields, malformed
/// steps), with their line and column in `text`; step semantics are checked by
/// [`crate::compile_journey`].
pub fn parse_definition(
    text: &str,
    format: Format,
) -> Result<JourneyDefinition, Vec<ValidationError>> {
    let (parsed, map) = parse_located(text, format);
    parsed.map_err(|errors| place_errors(errors, &map))
}

/// [`parse_definition`] with findings not yet placed, and the text's source map (built once
/// for both the parse and the later compile findings).
pub(crate) fn parse_located(
    text: &str,
    format: Format,
) -> (
    Result<JourneyDefinition, Vec<Located<ValidationError>>>,
    SourceMap,
) {
    let format = match format {
        Format::Auto if text.trim_start().starts_with('{') => Format::Json,
        Format::Auto => Format::Yaml,
        other => other,
    };
    let loaded = match format {
        Format::Json => yaml::load_json(text),
        _ => yaml::load_yaml(text),
    };
    let root = match loaded {
        Ok(root) => root,
        Err(e) => {
            let locus = e.position.map_or(Locus::Unknown, Locus::At);
            let error = ValidationError::new(None, "", e.message);
            return (Err(vec![(error, locus)]), SourceMap::default());
        }
    };
    let map = match format {
        Format::Json => SourceMap::json(text),
        _ => SourceMap::yaml(text),
    };
    let parsed = parse_root(root, text, &map);
    (parsed, map)
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

fn parse_root(
    root: Value,
    text: &str,
    map: &SourceMap,
) -> Result<JourneyDefinition, Vec<Located<ValidationError>>> {
    let Value::Object(mut root) = root else {
        return Err(vec![(
            ValidationError::new(None, "", "the definition must be a mapping"),
            Locus::value(Vec::new()),
        )]);
    };
    let mut errors = Vec::new();
    let error = |field: &str, message: &str| {
        (
            ValidationError::new(None, field, message),
            Locus::value(vec![key(field)]),
        )
    };
    let id = match root.remove("id") {
        Some(Value::String(id)) if valid_id(&id) => id,
        Some(_) => {
            errors.push(error("id", "journey id must match [a-z0-9_-]+"));
            String::new()
        }
        None => {
            errors.push(error("id", "missing journey id"));
            String::new()
        }
    };
    let name = match root.remove("name") {
        Some(Value::String(n)) => n,
        None | Some(Value::Null) => id.clone(),
        Some(_) => {
            errors.push(error("name", "name must be a string"));
            String::new()
        }
    };
    let journey_type = match root.remove("type").as_ref().and_then(Value::as_str) {
        Some("backend_api") => JourneyType::BackendApi,
        Some("client") => JourneyType::Client,
        _ => {
            errors.push(error(
                "type",
                "journey type must be `backend_api` or `client`",
            ));
            JourneyType::BackendApi
        }
    };
    let enforce_token = match root.remove("enforce_token") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            errors.push(error("enforce_token", "must be a boolean"));
            true
        }
    };
    let interaction_expiry_minutes = match root.remove("interaction_expiry_minutes") {
        None | Some(Value::Null) => DEFAULT_INTERACTION_EXPIRY_MINUTES,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|m| (1..=1440).contains(&m)) => {
            u32::try_from(n.as_u64().unwrap_or(0)).unwrap_or(DEFAULT_INTERACTION_EXPIRY_MINUTES)
        }
        Some(_) => {
            errors.push(error(
                "interaction_expiry_minutes",
                "must be a whole number of minutes from 1 to 1440",
            ));
            DEFAULT_INTERACTION_EXPIRY_MINUTES
        }
    };
    if interaction_expiry_minutes != DEFAULT_INTERACTION_EXPIRY_MINUTES
        && journey_type != JourneyType::Client
    {
        errors.push(error(
            "interaction_expiry_minutes",
            "only client journeys wait for a client",
        ));
    }
    let raw_steps = match root.remove("steps") {
        Some(Value::Array(steps)) if !steps.is_empty() => steps,
        _ => {
            errors.push(error("steps", "steps must be a non-empty list"));
            Vec::new()
        }
    };
    for field in root.keys() {
        errors.push((
            ValidationError::new(None, printable_id(field), "unknown journey field"),
            Locus::key(vec![key(field)]),
        ));
    }
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (index, raw) in raw_steps.into_iter().enumerate() {
        let step_path = vec![key("steps"), Seg::Index(index)];
        let at = |field: &str| {
            let mut path = step_path.clone();
            path.push(key(field));
            Locus::value(path)
        };
        let Value::Object(mut fields) = raw else {
            errors.push((
                ValidationError::new(None, format!("steps[{index}]"), "a step must be a mapping"),
                Locus::value(step_path),
            ));
            continue;
        };
        let step_id = match fields.remove("id") {
            Some(Value::String(s)) if valid_id(&s) => s,
            _ => {
                errors.push((
                    ValidationError::new(
                        None,
                        format!("steps[{index}].id"),
                        "step id must be a string matching [a-z0-9_-]+",
                    ),
                    at("id"),
                ));
                continue;
            }
        };
        let line = map
            .node_position(&step_path, false)
            .map(|p| p.line)
            .or_else(|| yaml::step_line(text, &step_id));
        let step_type = match fields.remove("type") {
            Some(Value::String(s)) => s,
            _ => {
                errors.push((
                    ValidationError {
                        step_line: line,
                        ..ValidationError::new(Some(&step_id), "type", "missing step type")
                    },
                    at("type"),
                ));
                continue;
            }
        };
        steps.push(StepDefinition {
            id: step_id,
            step_type,
            fields,
            line,
        });
    }
    if errors.is_empty() {
        Ok(JourneyDefinition {
            id,
            name,
            journey_type,
            enforce_token,
            interaction_expiry_minutes,
            steps,
        })
    } else {
        Err(errors)
    }
}
