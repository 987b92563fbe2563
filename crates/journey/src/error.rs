//! Validation findings: [`ValidationError`] (the journey or connection is refused) and
//! [`Warning`] (accepted, but worth a look). Both serialize for the admin API's 400/200 bodies
//! and print as `LINE:COLUMN: …` for the CLI's `FILE:LINE:COLUMN: …` lines.
//!
//! Inside the crate a finding is built with a [`Locus`] (a path in the document, or an
//! expression position) and gets its line and column from the definition text at the end
//! ([`place_errors`], [`place_warnings`]), when the text is known.

use std::fmt;

use serde::Serialize;

use crate::source_map::{Position, Seg, SourceMap};

/// Why a definition was refused.
///
/// `line`/`column` are the position in the uploaded text (1-based; columns count characters):
/// for an expression error, the offending spot inside the expression; otherwise the offending
/// field (the key of an unknown field, the value of a wrong one) or, for a missing field, the
/// step or mapping that lacks it. `expression_line`/`expression_column` are the position inside
/// the expression's own text. When the spot inside an expression cannot be mapped exactly (see
/// the crate README), `line`/`column` are the start of the expression's scalar and
/// `approximate` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The step (or connection name); `None` for journey-level problems.
    pub step_id: Option<String>,
    /// Field path inside the step, e.g. `expression`, `variables.token`, `cases[1].value`.
    pub field: String,
    /// Line in the definition text, when known.
    pub line: Option<u32>,
    /// Column (in characters) in the definition text, when known.
    pub column: Option<u32>,
    /// Line inside the expression, for expression errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_line: Option<u32>,
    /// Column inside the expression, for expression errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_column: Option<u32>,
    /// True when `line`/`column` are the start of the expression rather than the exact spot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
    /// What is wrong (never contains values).
    pub message: String,
    /// Line of the step in the definition text, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_line: Option<u32>,
}

impl ValidationError {
    /// An error without a position.
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
            expression_line: None,
            expression_column: None,
            approximate: false,
            message: message.into(),
            step_line: None,
        }
    }

    /// An expression compile error at `line:column` of the field's own text.
    pub fn at(
        step_id: Option<&str>,
        field: impl Into<String>,
        line: u32,
        column: u32,
        message: impl Into<String>,
    ) -> Self {
        ValidationError {
            expression_line: Some(line),
            expression_column: Some(column),
            ..ValidationError::new(step_id, field, message)
        }
    }
}

impl ValidationError {
    /// The display form naming `step_id` as `owner` (`"step"` for journeys, `"connection"` for
    /// connection errors, whose `step_id` is the connection name); see the `Display` impl.
    pub fn describe(&self, owner: &str) -> String {
        Described(self, owner).to_string()
    }
}

/// `LINE:COLUMN: step `s`, field `f`: message` (the position when known). An expression
/// position is added when it is not already exact in the file position.
impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Described(self, "step").fmt(f)
    }
}

struct Described<'a>(&'a ValidationError, &'a str);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Described(e, owner) = self;
        if let (Some(l), Some(c)) = (e.line, e.column) {
            write!(f, "{l}:{c}: ")?;
        }
        write_context(f, owner, e.step_id.as_deref(), &e.field)?;
        f.write_str(&e.message)?;
        if let (Some(l), Some(c)) = (e.expression_line, e.expression_column) {
            if e.approximate || e.line.is_none() {
                write!(f, " (at {l}:{c} of the expression)")?;
            }
        }
        Ok(())
    }
}

fn write_context(
    f: &mut fmt::Formatter<'_>,
    owner: &str,
    step_id: Option<&str>,
    field: &str,
) -> fmt::Result {
    match (step_id, field.is_empty()) {
        (Some(s), false) => write!(f, "{owner} `{s}`, field `{field}`: "),
        (Some(s), true) => write!(f, "{owner} `{s}`: "),
        (None, false) => write!(f, "field `{field}`: "),
        (None, true) => Ok(()),
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
    /// Line in the definition text (of the field, or of the step), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Column (in characters) in the definition text, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// `LINE:COLUMN: warning: step `s`, field `f`: message [code]` (the position when known).
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        f.write_str("warning: ")?;
        write_context(f, "step", Some(&self.step_id), &self.field)?;
        write!(f, "{} [{}]", self.message, self.code)
    }
}

/// Where in the definition a finding points, before the text is consulted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Locus {
    /// Nowhere in particular.
    #[default]
    Unknown,
    /// A position already known (a syntax error reported by the loader).
    At(Position),
    /// The node at `path`: its key when `key`, else its value; the nearest existing ancestor
    /// when it is missing.
    Node { path: Vec<Seg>, key: bool },
    /// `line:column` inside the expression at `path`, whose text is `source`.
    Expression {
        path: Vec<Seg>,
        source: String,
        line: u32,
        column: u32,
    },
}

impl Locus {
    /// The value at `path`.
    pub(crate) fn value(path: Vec<Seg>) -> Locus {
        Locus::Node { path, key: false }
    }

    /// The key of the last step of `path`.
    pub(crate) fn key(path: Vec<Seg>) -> Locus {
        Locus::Node { path, key: true }
    }
}

/// A finding with its place in the document, as produced inside the crate.
pub(crate) type Located<T> = (T, Locus);

/// Sets `line`/`column` (and `approximate`) of each error from the text's source map.
pub(crate) fn place_errors(
    errors: Vec<Located<ValidationError>>,
    map: &SourceMap,
) -> Vec<ValidationError> {
    errors
        .into_iter()
        .map(|(mut error, locus)| {
            let (position, exact) = resolve(map, &locus);
            error.line = position.map(|p| p.line);
            error.column = position.map(|p| p.column);
            error.approximate = position.is_some() && !exact;
            error
        })
        .collect()
}

/// Sets `line`/`column` of each warning from the text's source map.
pub(crate) fn place_warnings(warnings: Vec<Located<Warning>>, map: &SourceMap) -> Vec<Warning> {
    warnings
        .into_iter()
        .map(|(mut warning, locus)| {
            let (position, _) = resolve(map, &locus);
            warning.line = position.map(|p| p.line);
            warning.column = position.map(|p| p.column);
            warning
        })
        .collect()
}

/// Drops the places (for callers without the text).
pub(crate) fn unplaced<T>(findings: Vec<Located<T>>) -> Vec<T> {
    findings.into_iter().map(|(finding, _)| finding).collect()
}

fn resolve(map: &SourceMap, locus: &Locus) -> (Option<Position>, bool) {
    match locus {
        Locus::Unknown => (None, true),
        Locus::At(p) => (Some(*p), true),
        Locus::Node { path, key } => (map.node_position(path, *key), true),
        Locus::Expression {
            path,
            source,
            line,
            column,
        } => match map.expression_position(path, source, *line, *column) {
            Some(found) => (Some(found.position), found.exact),
            None => (None, true),
        },
    }
}

/// A field path inside a step (`cases[1].value`): its segments, for locating it, and its
/// display form, the `field` of a finding. Keys are shown printable and short
/// ([`crate::compile::printable_id`]), since they come from the uploaded text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(Vec<Seg>);

impl FieldPath {
    /// Appends a mapping key.
    pub(crate) fn key(mut self, key: &str) -> Self {
        self.0.push(Seg::Key(key.to_string()));
        self
    }

    /// Appends a sequence index.
    pub(crate) fn index(mut self, index: usize) -> Self {
        self.0.push(Seg::Index(index));
        self
    }

    /// The segments.
    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }
}

impl From<&str> for FieldPath {
    fn from(key: &str) -> Self {
        FieldPath::default().key(key)
    }
}

impl From<&String> for FieldPath {
    fn from(key: &String) -> Self {
        FieldPath::default().key(key)
    }
}

impl From<&FieldPath> for FieldPath {
    fn from(path: &FieldPath) -> Self {
        path.clone()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(&crate::compile::printable_id(k))?,
                Seg::Key(k) => write!(f, ".{}", crate::compile::printable_id(k))?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}
