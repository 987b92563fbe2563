//! `@std.isValidE164Number` and `@std.getE164Number`: phone numbers in E.164 form.
//!
//! Without a numbering-plan database these check the E.164 *shape* only: `+`, a first digit
//! 1–9, and 2 to 15 digits in total. `getE164Number(phone, countryCallingCode?)` removes common
//! formatting (spaces, `-`, `.`, `(`, `)`, `/`), turns a leading `00` into `+`, and for a national
//! number prefixes the given calling code (`"44"`, `"+44"` or `44`) after dropping one leading
//! trunk `0`. It returns the E.164 string, or `null` when no valid number results.

use super::Args;
use crate::ast::Span;
use crate::error::EvalError;
use crate::eval::Evaluator;
use crate::value::Value;

/// Whether `s` has the E.164 shape.
pub(crate) fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

pub(crate) fn is_valid_e164_number(
    _ev: &mut Evaluator<'_>,
    args: &[Value],
    _span: Span,
) -> Result<Value, EvalError> {
    Ok(Value::Bool(
        args.first().and_then(Value::as_str).is_some_and(is_e164),
    ))
}

pub(crate) fn get_e164_number(
    _ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.getE164Number", span);
    let raw = a.string(0)?;
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect();
    let candidate = if let Some(rest) = cleaned.strip_prefix("00") {
        format!("+{rest}")
    } else if cleaned.starts_with('+') {
        cleaned
    } else {
        let code = match a.get(1) {
            Value::Null => return Ok(Value::Null),
            Value::String(s) => s.trim().trim_start_matches('+').to_string(),
            Value::Number(n) if n.fract() == 0.0 && *n > 0.0 && *n < 1000.0 => {
                format!("{}", *n as u32)
            }
            _ => return Err(a.wrong_type(1, "a country calling code")),
        };
        if code.is_empty() || code.len() > 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(a.invalid("the country calling code must be 1 to 3 digits"));
        }
        let national = cleaned.strip_prefix('0').unwrap_or(&cleaned);
        format!("+{code}{national}")
    };
    Ok(if is_e164(&candidate) {
        Value::from(candidate)
    } else {
        Value::Null
    })
}
