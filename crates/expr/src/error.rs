//! Error types: [`ParseError`] for compile-time problems and [`EvalError`] for run-time ones.
//!
//! Security rule for every message built in this crate: messages name types, keys written in the
//! source, and positions, but never values. Values may be tokens or other secrets, and error
//! messages end up in traces and logs.

use std::fmt;

/// A syntax or name-resolution error found while compiling an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {line}:{column}")]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: u32,
    /// 1-based column (in characters) of the offending token.
    pub column: u32,
    /// What went wrong, without the position.
    pub message: String,
    source_line: String,
}

impl ParseError {
    pub(crate) fn new(source: &str, line: u32, column: u32, message: impl Into<String>) -> Self {
        let source_line = source
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("")
            .to_string();
        ParseError {
            line,
            column,
            message: message.into(),
            source_line,
        }
    }

    /// The offending source line followed by a caret under the column, e.g.
    ///
    /// ```text
    /// 1 + * 2
    ///     ^
    /// ```
    pub fn snippet(&self) -> String {
        let pad: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{}\n{}^", self.source_line, pad)
    }

    /// The message, position and snippet together, for display to the journey author.
    pub fn render(&self) -> String {
        format!("{self}\n{}", self.snippet())
    }
}

/// Machine-readable category of an [`EvalError`]; the `code` field of the error object that
/// `try … catch (e => …)` receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An operand or argument had the wrong type.
    TypeError,
    /// `a.b` or `a[k]` on an object without that key (use `?.` to get null instead).
    MissingKey,
    /// `a[i]` outside the array (use `?.[i]` to get null instead).
    IndexOutOfRange,
    /// `/` or `%` by zero.
    DivisionByZero,
    /// A bare identifier that is neither bound by `let`/a lambda nor in the caller's scope.
    UnknownVariable,
    /// An evaluation limit (steps, depth, sizes, outbound calls) was exceeded.
    LimitExceeded,
    /// An argument had the right type but an unusable value (bad number string, bad JWT, …).
    InvalidArgument,
    /// The host (policy context, web requests, token verification) reported an error.
    HostError,
    /// The program calls asynchronous host functions but was evaluated with `eval_sync`.
    AsyncRequired,
    /// Internal: evaluation paused for an asynchronous call. Never escapes the crate.
    Suspended,
}

impl ErrorCode {
    /// The snake_case code string, e.g. `"division_by_zero"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TypeError => "type_error",
            ErrorCode::MissingKey => "missing_key",
            ErrorCode::IndexOutOfRange => "index_out_of_range",
            ErrorCode::DivisionByZero => "division_by_zero",
            ErrorCode::UnknownVariable => "unknown_variable",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::HostError => "host_error",
            ErrorCode::AsyncRequired => "async_required",
            ErrorCode::Suspended => "suspended",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error raised while evaluating a program. Display renders `"<message> at <line>:<col>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {line}:{column}")]
pub struct EvalError {
    /// Category.
    pub code: ErrorCode,
    /// Description naming types, keys and functions, never values.
    pub message: String,
    /// 1-based line of the failing node (0 when not tied to a node).
    pub line: u32,
    /// 1-based column of the failing node (0 when not tied to a node).
    pub column: u32,
}

impl EvalError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>, span: crate::ast::Span) -> Self {
        EvalError {
            code,
            message: message.into(),
            line: span.line,
            column: span.column,
        }
    }
}

/// An error reported by a [`crate::Host`] implementation. The message must follow the same rule
/// as every other error here: no secret values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HostError {
    /// Description for the journey author.
    pub message: String,
}

impl HostError {
    /// A host error with the given message.
    pub fn new(message: impl Into<String>) -> Self {
        HostError {
            message: message.into(),
        }
    }
}
