//! Validation findings: [`ValidationError`] (the journey or connection is refused) and
//! [`Warning`] (accepted, but worth a look). Both serialize for the admin API's 400/200 bodies.

use serde::Serialize;

/// Why a definition was refused. `line`/`column` locate an expression error inside `field`
/// (1-based, within the expression's own text); `step_line` is the definition line where the
/// step starts, when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The step (or connection name); `None` for journey-level problems.
    pub step_id: Option<String>,
    /// Field path inside the step, e.g. `expression`, `variables.token`, `cases[1].value`.
    pub field: String,
    /// Line inside the expression, for expression errors.
    pub line: Option<u32>,
    /// Column inside the expression, for expression errors.
    pub column: Option<u32>,
    /// What is wrong (never contains values).
    pub message: String,
    /// Line of the step in the definition text, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_line: Option<u32>,
}

impl ValidationError {
    /// An error without an expression position.
    pub fn new(
        step_id: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ValidationError {
            step_id: step_id.map(str::to_string),
            field: field.into(),
            line: None,
            column: None,
            message: message.into(),
            step_line: None,
        }
    }

    /// An expression compile error at `line:column` of the field's text.
    pub fn at(
        step_id: Option<&str>,
        field: impl Into<String>,
        line: u32,
        column: u32,
        message: impl Into<String>,
    ) -> Self {
        ValidationError {
            line: Some(line),
            column: Some(column),
            ..ValidationError::new(step_id, field, message)
        }
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = self.step_id.as_deref().unwrap_or("-");
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{step}:{}:{l}:{c}: {}", self.field, self.message),
            _ => write!(f, "{step}:{}:-:-: {}", self.field, self.message),
        }
    }
}

/// A finding that does not refuse the definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// `unreachable_step` or `unverified_token_decision`.
    pub code: String,
    /// The step concerned.
    pub step_id: String,
    /// The field concerned (empty for whole-step warnings).
    pub field: String,
    /// Explanation.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}",
            self.step_id, self.field, self.message
        )
    }
}
