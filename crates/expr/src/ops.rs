//! Binary operators and indexing: the arithmetic, comparison, bitwise and concatenation rules.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::ast::{BinaryOp, Span};
use crate::error::{ErrorCode, EvalError};
use crate::eval::{type_error, Evaluator};
use crate::number_format::write_js_number;
use crate::value::Value;

/// JavaScript's ToInt32.
pub(crate) fn to_int32(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    let m = x.trunc().rem_euclid(4_294_967_296.0);
    if m >= 2_147_483_648.0 {
        (m - 4_294_967_296.0) as i32
    } else {
        m as i32
    }
}

/// Evaluates every binary operator except the short-circuiting `&&`, `||` and `??`.
pub(crate) fn binary(
    ev: &mut Evaluator<'_>,
    op: BinaryOp,
    left: &Value,
    right: &Value,
    span: Span,
) -> Result<Value, EvalError> {
    use Value::{Array, Number, String as Str};
    let mismatch = |verb: &str| {
        type_error(
            format!(
                "cannot {verb} {} and {}",
                left.type_name(),
                right.type_name()
            ),
            span,
        )
    };
    match op {
        BinaryOp::Add => match (left, right) {
            (Number(a), Number(b)) => Ok(Number(a + b)),
            (Str(_), _) | (_, Str(_)) => {
                // Each side is refused from its cached size before anything is written, so
                // `"" + x` never expands a huge shared value.
                let mut out = String::new();
                ev.write_display(left, &mut out, span)?;
                ev.write_display(right, &mut out, span)?;
                Ok(Value::from(out))
            }
            (Array(a), Array(b)) => {
                let len = a.len() + b.len();
                ev.check_len(len, span)?;
                ev.charge(len, span)?;
                let mut out = Vec::with_capacity(len);
                out.extend(a.iter().cloned());
                out.extend(b.iter().cloned());
                ev.new_array(out, span)
            }
            _ => Err(mismatch("add")),
        },
        BinaryOp::Sub => numbers(left, right)
            .map(|(a, b)| Number(a - b))
            .ok_or_else(|| mismatch("subtract")),
        BinaryOp::Mul => match (left, right) {
            (Number(a), Number(b)) => Ok(Number(a * b)),
            (Str(s), Number(n)) | (Number(n), Str(s)) => repeat(ev, s, *n, span),
            _ => Err(mismatch("multiply")),
        },
        BinaryOp::Div | BinaryOp::Rem => {
            let (a, b) = numbers(left, right).ok_or_else(|| mismatch("divide"))?;
            if b == 0.0 {
                return Err(EvalError::new(
                    ErrorCode::DivisionByZero,
                    "division by zero",
                    span,
                ));
            }
            Ok(Number(if op == BinaryOp::Div { a / b } else { a % b }))
        }
        BinaryOp::Shl | BinaryOp::Shr | BinaryOp::BitAnd | BinaryOp::BitXor | BinaryOp::BitOr => {
            let (a, b) = numbers(left, right)
                .ok_or_else(|| mismatch(&format!("apply `{}` to", op.symbol())))?;
            let (a, b) = (to_int32(a), to_int32(b));
            let r = match op {
                BinaryOp::Shl => a.wrapping_shl((b as u32) & 31),
                BinaryOp::Shr => a.wrapping_shr((b as u32) & 31),
                BinaryOp::BitAnd => a & b,
                BinaryOp::BitXor => a ^ b,
                _ => a | b,
            };
            Ok(Number(f64::from(r)))
        }
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ordering = match (left, right) {
                (Number(a), Number(b)) => a.partial_cmp(b),
                (Str(a), Str(b)) => Some(compare_strings(ev, a, b, span)?),
                _ => {
                    return Err(type_error(
                        format!(
                            "cannot compare {} with {}",
                            left.type_name(),
                            right.type_name()
                        ),
                        span,
                    ))
                }
            };
            // NaN compares false with everything, as in JavaScript.
            let Some(ordering) = ordering else {
                return Ok(Value::Bool(false));
            };
            Ok(Value::Bool(match op {
                BinaryOp::Lt => ordering.is_lt(),
                BinaryOp::Le => ordering.is_le(),
                BinaryOp::Gt => ordering.is_gt(),
                _ => ordering.is_ge(),
            }))
        }
        BinaryOp::Eq => Ok(Value::Bool(ev.values_equal(left, right, span)?)),
        BinaryOp::Ne => Ok(Value::Bool(!ev.values_equal(left, right, span)?)),
        // Short-circuiting operators are handled by the evaluator; reaching here is a bug, and
        // reporting it as a type error is safer than panicking.
        BinaryOp::And | BinaryOp::Or | BinaryOp::Nullish => {
            Err(type_error("internal: short-circuit operator", span))
        }
    }
}

fn numbers(a: &Value, b: &Value) -> Option<(f64, f64)> {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => Some((*a, *b)),
        _ => None,
    }
}

/// Compares two strings by code point, charging for the bytes compared.
pub(crate) fn compare_strings(
    ev: &mut Evaluator<'_>,
    a: &Arc<str>,
    b: &Arc<str>,
    span: Span,
) -> Result<Ordering, EvalError> {
    if Arc::ptr_eq(a, b) {
        return Ok(Ordering::Equal);
    }
    ev.charge_bytes(a.len().min(b.len()), span)?;
    Ok(a.cmp(b))
}

/// `"ab" * 3` → `"ababab"`.
fn repeat(ev: &mut Evaluator<'_>, s: &str, n: f64, span: Span) -> Result<Value, EvalError> {
    if !(n >= 0.0 && n.fract() == 0.0) {
        return Err(EvalError::new(
            ErrorCode::InvalidArgument,
            "a string can only be repeated a non-negative whole number of times",
            span,
        ));
    }
    let total = (s.len() as f64) * n;
    if total > ev.ctx.limits.max_string_len as f64 {
        return Err(EvalError::new(
            ErrorCode::LimitExceeded,
            "string length limit exceeded",
            span,
        ));
    }
    ev.charge_bytes(total as usize, span)?;
    Ok(Value::from(s.repeat(n as usize)))
}

/// `obj[k]`, `arr[i]`, `str[i]` and their `?.[…]` forms. Hashing a key and finding the i-th
/// character of a string are charged for the bytes they touch.
pub(crate) fn index(
    ev: &mut Evaluator<'_>,
    object: &Value,
    index: &Value,
    optional: bool,
    span: Span,
) -> Result<Value, EvalError> {
    match (object, index) {
        (Value::Object(map), Value::String(_) | Value::Number(_)) => {
            let found = match index {
                Value::String(k) => {
                    ev.charge_bytes(k.len(), span)?;
                    map.get(k.as_ref())
                }
                Value::Number(n) => {
                    let mut k = String::new();
                    write_js_number(&mut k, *n);
                    map.get(k.as_str())
                }
                _ => None,
            };
            match found {
                Some(v) => Ok(v.clone()),
                None if optional => Ok(Value::Null),
                None => Err(EvalError::new(ErrorCode::MissingKey, "missing key", span)),
            }
        }
        (Value::Array(items), Value::Number(n)) => {
            let found = if *n >= 0.0 && n.fract() == 0.0 {
                items.get(*n as usize)
            } else {
                None
            };
            match found {
                Some(v) => Ok(v.clone()),
                None if optional => Ok(Value::Null),
                None => Err(EvalError::new(
                    ErrorCode::IndexOutOfRange,
                    format!("index out of range for an array of length {}", items.len()),
                    span,
                )),
            }
        }
        (Value::String(s), Value::Number(n)) => {
            let found = if *n >= 0.0 && n.fract() == 0.0 {
                let i = *n as usize;
                ev.charge_bytes(i.min(s.len()), span)?;
                s.chars().nth(i)
            } else {
                None
            };
            match found {
                Some(c) => Ok(Value::from(c.to_string())),
                None if optional => Ok(Value::Null),
                None => Err(EvalError::new(
                    ErrorCode::IndexOutOfRange,
                    "index out of range for a string",
                    span,
                )),
            }
        }
        _ if optional => Ok(Value::Null),
        _ => Err(type_error(
            format!(
                "cannot index {} with {}",
                object.type_name(),
                index.type_name()
            ),
            span,
        )),
    }
}
