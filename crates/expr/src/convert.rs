//! Converting values to text (compact JSON and the to-string form of templates and `+`) and to
//! `serde_json`, with a bound on the output.
//!
//! Shared subtrees are written out in full each time they occur, so the output can be far
//! larger than the value's memory. Every conversion is therefore bounded: the cached
//! [`Value::size`] (a lower bound on the JSON length) refuses an oversized value before anything
//! is written, and the writer stops as soon as the output passes the bound (escaping can make
//! the text longer than the size). Recursion follows the value's depth, which is checked
//! against [`VALUE_DEPTH_CEILING`] first.

use crate::number_format::write_js_number;
use crate::value::{Value, VALUE_DEPTH_CEILING};

/// Expanded size up to which the conversions without an explicit bound ([`Value::to_json`],
/// `Serialize`) work: 16 MiB.
pub const DEFAULT_MAX_CONVERSION_SIZE: usize = 16 << 20;

/// Why a value could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A lambda has no JSON or text form.
    #[error("a lambda cannot be converted to JSON or text")]
    Lambda,
    /// The output would pass the size bound (shared parts count each time they occur).
    #[error("the value is too large to convert")]
    TooLarge,
    /// The value nests deeper than [`VALUE_DEPTH_CEILING`].
    #[error("the value is nested too deeply to convert")]
    TooDeep,
}

impl Value {
    /// Appends the to-string form used by templates and `+`: strings as they are, numbers as
    /// JavaScript prints them, `true false null` literally, arrays and objects as compact JSON.
    /// Fails when `out` would grow past `max_len` bytes (checked before writing, from the
    /// cached size) or the value holds a lambda. On failure `out` may hold a partial text.
    pub fn write_display(&self, out: &mut String, max_len: usize) -> Result<(), ConvertError> {
        match self {
            Value::String(s) => {
                if out.len().saturating_add(s.len()) > max_len {
                    return Err(ConvertError::TooLarge);
                }
                out.push_str(s);
                Ok(())
            }
            Value::Number(n) => {
                write_js_number(out, *n);
                check_len(out, max_len)
            }
            other => other.write_json(out, max_len),
        }
    }

    /// Appends compact JSON (like `JSON.stringify`): non-finite numbers become `null`; a lambda
    /// anywhere inside is an error; so is output past `max_len` bytes in `out`.
    pub fn write_json(&self, out: &mut String, max_len: usize) -> Result<(), ConvertError> {
        if self.depth() > VALUE_DEPTH_CEILING {
            return Err(ConvertError::TooDeep);
        }
        if (out.len() as u64).saturating_add(self.size()) > max_len as u64 {
            return Err(ConvertError::TooLarge);
        }
        write_json_bounded(self, out, max_len)?;
        check_len(out, max_len)
    }

    /// Compact JSON text of this value, at most `max_len` bytes.
    pub fn to_json_string(&self, max_len: usize) -> Result<String, ConvertError> {
        let mut out = String::new();
        self.write_json(&mut out, max_len)?;
        Ok(out)
    }

    /// The to-string form (see [`Value::write_display`]), at most `max_len` bytes.
    pub fn to_display_string(&self, max_len: usize) -> Result<String, ConvertError> {
        let mut out = String::new();
        self.write_display(&mut out, max_len)?;
        Ok(out)
    }

    /// Converts to `serde_json::Value`. Integral numbers below 2^53 become JSON integers,
    /// non-finite numbers become `null`, and lambdas are an error; so are values whose
    /// expanded [`Value::size`] passes [`DEFAULT_MAX_CONVERSION_SIZE`].
    pub fn to_json(&self) -> Result<serde_json::Value, ConvertError> {
        self.to_json_within(DEFAULT_MAX_CONVERSION_SIZE)
    }

    /// [`Value::to_json`] for values whose expanded size is at most `max_size`.
    pub fn to_json_within(&self, max_size: usize) -> Result<serde_json::Value, ConvertError> {
        if self.depth() > VALUE_DEPTH_CEILING {
            return Err(ConvertError::TooDeep);
        }
        if self.size() > max_size as u64 {
            return Err(ConvertError::TooLarge);
        }
        to_json_unchecked(self)
    }
}

fn check_len(out: &str, max_len: usize) -> Result<(), ConvertError> {
    if out.len() > max_len {
        Err(ConvertError::TooLarge)
    } else {
        Ok(())
    }
}

/// Writes JSON, stopping once `out` passes `max_len`. Recursion depth is the value's depth,
/// which the caller checked.
fn write_json_bounded(v: &Value, out: &mut String, max_len: usize) -> Result<(), ConvertError> {
    match v {
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
        Value::String(s) => {
            write_json_string(out, s);
            check_len(out, max_len)?;
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_bounded(item, out, max_len)?;
            }
            out.push(']');
            check_len(out, max_len)?;
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json_bounded(v, out, max_len)?;
            }
            out.push('}');
            check_len(out, max_len)?;
        }
        Value::Lambda(_) => return Err(ConvertError::Lambda),
    }
    Ok(())
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
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The caller checked depth and size.
fn to_json_unchecked(v: &Value) -> Result<serde_json::Value, ConvertError> {
    Ok(match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => number_to_json(*n),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::Array(items) => serde_json::Value::Array(
            items
                .iter()
                .map(to_json_unchecked)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map.iter() {
                out.insert(k.to_string(), to_json_unchecked(v)?);
            }
            serde_json::Value::Object(out)
        }
        Value::Lambda(_) => return Err(ConvertError::Lambda),
    })
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

impl TryFrom<&Value> for serde_json::Value {
    type Error = ConvertError;
    fn try_from(v: &Value) -> Result<Self, Self::Error> {
        v.to_json()
    }
}

/// Serializes like [`Value::to_json`]: values deeper than [`VALUE_DEPTH_CEILING`] or larger
/// than [`DEFAULT_MAX_CONVERSION_SIZE`] expanded are an error, so is a lambda.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        if self.depth() > VALUE_DEPTH_CEILING {
            return Err(S::Error::custom(ConvertError::TooDeep));
        }
        if self.size() > DEFAULT_MAX_CONVERSION_SIZE as u64 {
            return Err(S::Error::custom(ConvertError::TooLarge));
        }
        Unchecked(self).serialize(serializer)
    }
}

/// A value whose depth and size were checked at the top of the serialization.
struct Unchecked<'v>(&'v Value);

impl serde::Serialize for Unchecked<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap, SerializeSeq};
        match self.0 {
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
                    seq.serialize_element(&Unchecked(item))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map.iter() {
                    m.serialize_entry(k.as_ref(), &Unchecked(v))?;
                }
                m.end()
            }
            Value::Lambda(_) => Err(S::Error::custom(ConvertError::Lambda)),
        }
    }
}
