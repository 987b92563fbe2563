//! Run-time values: JSON values plus lambdas, cheap to clone (strings, arrays and objects sit
//! behind `Arc`), with the language's truthiness, equality and to-string rules.
//!
//! Conversion to `serde_json::Value` fails for lambdas (they have no JSON form); numbers that are
//! not finite become JSON `null`, as `JSON.stringify` does.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::ast::LambdaDef;
use crate::number_format::write_js_number;

/// An object: insertion-ordered keys.
pub type Map = IndexMap<Arc<str>, Value>;

/// A value of the expression language.
#[derive(Clone, Default)]
pub enum Value {
    /// `null`
    #[default]
    Null,
    /// `true` / `false`
    Bool(bool),
    /// Every number is an `f64` (integers are exact up to 2^53).
    Number(f64),
    /// A string.
    String(Arc<str>),
    /// An array.
    Array(Arc<Vec<Value>>),
    /// An object with insertion-ordered keys.
    Object(Arc<Map>),
    /// A function value made by `x => …`.
    Lambda(Arc<Lambda>),
}

/// A lambda value: its definition plus the enclosing `let`/parameter values it captured.
///
/// Bare identifiers inside a lambda body that are not captured locals resolve against the scope
/// of whoever evaluates the call.
pub struct Lambda {
    pub(crate) def: Arc<LambdaDef>,
    pub(crate) captured: Vec<Value>,
}

impl Lambda {
    /// Number of declared parameters.
    pub fn arity(&self) -> usize {
        self.def.params.len()
    }
}

/// The error for converting a lambda to JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a lambda cannot be converted to JSON")]
pub struct LambdaToJsonError;

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// An array value.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    /// An object value.
    pub fn object(map: Map) -> Value {
        Value::Object(Arc::new(map))
    }

    /// The name `@std.typeOf` returns: `number string boolean null object array lambda`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Lambda(_) => "lambda",
        }
    }

    /// JavaScript truthiness: `null`, `false`, `0`, `-0`, `NaN` and `""` are falsy; everything
    /// else, including `[]`, `{}` and lambdas, is truthy.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) | Value::Lambda(_) => true,
        }
    }

    /// The string if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Deep equality without coercion. Numbers compare as `f64` (`NaN != NaN`); lambdas are
    /// equal only to themselves; object key order does not matter.
    pub fn deep_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_eq(y)))
            }
            (Value::Object(a), Value::Object(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len()
                        && a.iter()
                            .all(|(k, v)| b.get(k).is_some_and(|w| v.deep_eq(w))))
            }
            (Value::Lambda(a), Value::Lambda(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Appends the to-string form used by templates and `+`: strings as they are, numbers as
    /// JavaScript prints them, `true false null` literally, arrays and objects as compact JSON.
    /// Lambdas have no string form.
    pub fn write_display(&self, out: &mut String) -> Result<(), LambdaToJsonError> {
        match self {
            Value::String(s) => {
                out.push_str(s);
                Ok(())
            }
            Value::Number(n) => {
                write_js_number(out, *n);
                Ok(())
            }
            other => other.write_json(out),
        }
    }

    /// Appends compact JSON (like `JSON.stringify`): non-finite numbers become `null`;
    /// a lambda anywhere inside is an error.
    pub fn write_json(&self, out: &mut String) -> Result<(), LambdaToJsonError> {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => {
                if n.is_finite() {
                    write_js_number(out, *n);
                } else {
                    out.push_str("null");
                }
            }
            Value::String(s) => write_json_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out)?;
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, k);
                    out.push(':');
                    v.write_json(out)?;
                }
                out.push('}');
            }
            Value::Lambda(_) => return Err(LambdaToJsonError),
        }
        Ok(())
    }

    /// Compact JSON text of this value.
    pub fn to_json_string(&self) -> Result<String, LambdaToJsonError> {
        let mut out = String::new();
        self.write_json(&mut out)?;
        Ok(out)
    }

    /// Converts to `serde_json::Value`. Integral numbers below 2^53 become JSON integers,
    /// non-finite numbers become `null`, and lambdas are an error.
    pub fn to_json(&self) -> Result<serde_json::Value, LambdaToJsonError> {
        Ok(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => serde_json::Value::Array(
                items.iter().map(Value::to_json).collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map.iter() {
                    out.insert(k.to_string(), v.to_json()?);
                }
                serde_json::Value::Object(out)
            }
            Value::Lambda(_) => return Err(LambdaToJsonError),
        })
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Writes `s` as a JSON string literal with `JSON.stringify`'s escaping.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        Value::from(&v)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
            serde_json::Value::Array(items) => {
                Value::Array(Arc::new(items.iter().map(Value::from).collect()))
            }
            serde_json::Value::Object(map) => Value::Object(Arc::new(
                map.iter()
                    .map(|(k, v)| (Arc::from(k.as_str()), Value::from(v)))
                    .collect(),
            )),
        }
    }
}

impl TryFrom<&Value> for serde_json::Value {
    type Error = LambdaToJsonError;
    fn try_from(v: &Value) -> Result<Self, Self::Error> {
        v.to_json()
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Arc::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Arc::from(s))
    }
}

impl PartialEq for Value {
    /// Same as [`Value::deep_eq`].
    fn eq(&self, other: &Value) -> bool {
        self.deep_eq(other)
    }
}

/// Debug output shows only the structure's types for strings, so secrets do not end up in logs
/// through `{:?}`: strings print as `<string len=N>`.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{}", crate::number_format::js_number_to_string(*n)),
            Value::String(s) => write!(f, "<string len={}>", s.chars().count()),
            Value::Array(items) => f.debug_list().entries(items.iter()).finish(),
            Value::Object(map) => f
                .debug_map()
                .entries(map.iter().map(|(k, v)| (k.as_ref(), v)))
                .finish(),
            Value::Lambda(l) => write!(f, "<lambda/{}>", l.arity()),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => {
                if !n.is_finite() {
                    serializer.serialize_unit()
                } else if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                    serializer.serialize_i64(*n as i64)
                } else {
                    serializer.serialize_f64(*n)
                }
            }
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map.iter() {
                    m.serialize_entry(k.as_ref(), v)?;
                }
                m.end()
            }
            Value::Lambda(_) => Err(S::Error::custom(LambdaToJsonError)),
        }
    }
}
