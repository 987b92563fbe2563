//! The pure function library: a static table per namespace, resolved by name at compile time,
//! plus helpers for checking arguments.
//!
//! `@policy.*`, `@webrequests.*` and `@crypto.verifyToken` are host functions and are not here.

use std::fmt;
use std::sync::Arc;

use crate::ast::Span;
use crate::error::{ErrorCode, EvalError};
use crate::eval::Evaluator;
use crate::value::{Array, Lambda, Object, Value};

pub(crate) mod crypto;
pub(crate) mod json;
pub(crate) mod math;
pub(crate) mod phone;
pub(crate) mod std_lib;
pub(crate) mod strings;
pub(crate) mod time;

pub use time::iso_from_ms;

/// Signature of a builtin: evaluator (for lambdas, limits, randomness), evaluated arguments,
/// and the call's position for errors.
pub(crate) type BuiltinFn = fn(&mut Evaluator<'_>, &[Value], Span) -> Result<Value, EvalError>;

/// One library function.
pub struct Builtin {
    /// Namespace without `@`, e.g. `std`.
    pub namespace: &'static str,
    /// Function name, e.g. `len`.
    pub name: &'static str,
    /// Minimum number of arguments.
    pub min_args: usize,
    /// Maximum number of arguments (`usize::MAX` for variadic).
    pub max_args: usize,
    pub(crate) call: BuiltinFn,
}

impl fmt::Debug for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}.{}", self.namespace, self.name)
    }
}

impl PartialEq for Builtin {
    fn eq(&self, other: &Builtin) -> bool {
        self.namespace == other.namespace && self.name == other.name
    }
}

pub(crate) const fn builtin(
    namespace: &'static str,
    name: &'static str,
    min_args: usize,
    max_args: usize,
    call: BuiltinFn,
) -> Builtin {
    Builtin {
        namespace,
        name,
        min_args,
        max_args,
        call,
    }
}

/// Every namespace's table.
fn tables() -> [&'static [Builtin]; 6] {
    [
        std_lib::FUNCTIONS,
        strings::FUNCTIONS,
        time::FUNCTIONS,
        json::FUNCTIONS,
        math::FUNCTIONS,
        crypto::FUNCTIONS,
    ]
}

/// Finds a pure library function.
pub(crate) fn lookup(namespace: &str, name: &str) -> Option<&'static Builtin> {
    tables()
        .into_iter()
        .flat_map(|t| t.iter())
        .find(|b| b.namespace == namespace && b.name == name)
}

/// Every pure library function, for documentation and tests.
pub fn all_builtins() -> impl Iterator<Item = &'static Builtin> {
    tables().into_iter().flat_map(|t| t.iter())
}

// ---- argument helpers ----

pub(crate) struct Args<'v> {
    pub values: &'v [Value],
    pub function: &'static str,
    pub span: Span,
}

impl<'v> Args<'v> {
    pub fn new(values: &'v [Value], function: &'static str, span: Span) -> Self {
        Args {
            values,
            function,
            span,
        }
    }

    pub fn get(&self, i: usize) -> &'v Value {
        static NULL: Value = Value::Null;
        self.values.get(i).unwrap_or(&NULL)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn wrong_type(&self, i: usize, expected: &str) -> EvalError {
        EvalError::new(
            ErrorCode::TypeError,
            format!(
                "`{}` argument {} must be {expected}, got {}",
                self.function,
                i + 1,
                self.get(i).type_name()
            ),
            self.span,
        )
    }

    pub fn invalid(&self, message: impl fmt::Display) -> EvalError {
        EvalError::new(
            ErrorCode::InvalidArgument,
            format!("`{}`: {message}", self.function),
            self.span,
        )
    }

    pub fn number(&self, i: usize) -> Result<f64, EvalError> {
        self.get(i)
            .as_f64()
            .ok_or_else(|| self.wrong_type(i, "a number"))
    }

    /// A whole number (any finite integral `f64`).
    pub fn integer(&self, i: usize) -> Result<f64, EvalError> {
        let n = self.number(i)?;
        if n.is_finite() && n.fract() == 0.0 {
            Ok(n)
        } else {
            Err(self.wrong_type(i, "a whole number"))
        }
    }

    pub fn string(&self, i: usize) -> Result<&'v Arc<str>, EvalError> {
        match self.get(i) {
            Value::String(s) => Ok(s),
            _ => Err(self.wrong_type(i, "a string")),
        }
    }

    pub fn array(&self, i: usize) -> Result<&'v Array, EvalError> {
        match self.get(i) {
            Value::Array(a) => Ok(a),
            _ => Err(self.wrong_type(i, "an array")),
        }
    }

    pub fn object(&self, i: usize) -> Result<&'v Object, EvalError> {
        match self.get(i) {
            Value::Object(o) => Ok(o),
            _ => Err(self.wrong_type(i, "an object")),
        }
    }

    pub fn lambda(&self, i: usize) -> Result<&'v Arc<Lambda>, EvalError> {
        match self.get(i) {
            Value::Lambda(l) => Ok(l),
            _ => Err(self.wrong_type(i, "a lambda")),
        }
    }
}

/// Converts a JavaScript-style relative index (negative counts from the end) to `0..=len`.
pub(crate) fn relative_index(n: f64, len: usize) -> usize {
    let len_f = len as f64;
    let n = if n.is_nan() { 0.0 } else { n.trunc() };
    let i = if n < 0.0 {
        (len_f + n).max(0.0)
    } else {
        n.min(len_f)
    };
    i as usize
}

/// A built string: within `max_string_len`, charged for its bytes.
pub(crate) fn string_result(
    ev: &mut Evaluator<'_>,
    s: String,
    span: Span,
) -> Result<Value, EvalError> {
    ev.new_string(s, span)
}

/// A built array: within `max_collection_len` and `max_value_depth`.
pub(crate) fn array_result(
    ev: &Evaluator<'_>,
    items: Vec<Value>,
    span: Span,
) -> Result<Value, EvalError> {
    ev.new_array(items, span)
}
