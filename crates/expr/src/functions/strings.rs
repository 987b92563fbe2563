//! `@strings`: string utilities. Lengths and indices count Unicode code points (JavaScript counts
//! UTF-16 units; the two differ only for characters outside the Basic Multilingual Plane).

use super::{array_result, builtin, string_result, Args, Builtin};
use crate::ast::Span;
use crate::error::{ErrorCode, EvalError};
use crate::eval::Evaluator;
use crate::value::Value;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("strings", "toJson", 1, 1, to_json),
    builtin("strings", "length", 1, 1, length),
    builtin("strings", "substring", 2, 3, substring),
    builtin("strings", "toUpperCase", 1, 1, to_upper_case),
    builtin("strings", "toLowerCase", 1, 1, to_lower_case),
    builtin("strings", "trim", 1, 1, trim),
    builtin("strings", "split", 2, 2, split),
    builtin("strings", "join", 1, 2, join),
    builtin("strings", "replace", 3, 3, replace),
    builtin("strings", "startsWith", 2, 2, starts_with),
    builtin("strings", "endsWith", 2, 2, ends_with),
    builtin("strings", "indexOf", 2, 2, index_of),
];

pub(crate) fn to_json(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
) -> Result<Value, EvalError> {
    let s = ev.json_text(args.first().unwrap_or(&Value::Null), span)?;
    Ok(Value::from(s))
}

fn length(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.length", span);
    Ok(Value::Number(a.string(0)?.chars().count() as f64))
}

fn substring(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.substring", span);
    let s = a.string(0)?;
    let len = s.chars().count();
    // JavaScript substring: clamp both ends to 0..=len and swap them if reversed.
    let clamp = |n: f64| -> usize {
        if n.is_nan() || n <= 0.0 {
            0
        } else {
            (n.trunc() as usize).min(len)
        }
    };
    let start = clamp(a.number(1)?);
    let end = match a.get(2) {
        Value::Null => len,
        _ => clamp(a.number(2)?),
    };
    let (from, to) = if start <= end {
        (start, end)
    } else {
        (end, start)
    };
    string_result(
        ev,
        s.chars().skip(from).take(to - from).collect::<String>(),
        span,
    )
}

fn to_upper_case(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.toUpperCase", span);
    string_result(ev, a.string(0)?.to_uppercase(), span)
}

fn to_lower_case(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.toLowerCase", span);
    string_result(ev, a.string(0)?.to_lowercase(), span)
}

fn trim(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.trim", span);
    string_result(ev, a.string(0)?.trim().to_string(), span)
}

fn split(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.split", span);
    let s = a.string(0)?;
    let sep = a.string(1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::from(c.to_string())).collect()
    } else {
        s.split(sep.as_ref()).map(Value::from).collect()
    };
    ev.charge(parts.len(), span)?;
    array_result(ev, parts, span)
}

fn join(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.join", span);
    let items = a.array(0)?;
    let sep = match a.get(1) {
        Value::Null => ",",
        _ => a.string(1)?.as_ref(),
    };
    ev.charge(items.len(), span)?;
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
            ev.check_str_len(out.len(), span)?;
        }
        ev.write_display(item, &mut out, span)?;
    }
    Ok(Value::from(out))
}

fn replace(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.replace", span);
    let s = a.string(0)?;
    let from = a.string(1)?;
    let to = a.string(2)?;
    let occurrences = if from.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(from.as_ref()).count()
    };
    let new_len = (s.len() as f64) + (occurrences as f64) * (to.len() as f64 - from.len() as f64);
    if new_len > ev.ctx.limits.max_string_len as f64 {
        return Err(EvalError::new(
            ErrorCode::LimitExceeded,
            "string length limit exceeded",
            span,
        ));
    }
    string_result(ev, s.replace(from.as_ref(), to), span)
}

fn starts_with(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.startsWith", span);
    Ok(Value::Bool(a.string(0)?.starts_with(a.string(1)?.as_ref())))
}

fn ends_with(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.endsWith", span);
    Ok(Value::Bool(a.string(0)?.ends_with(a.string(1)?.as_ref())))
}

fn index_of(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@strings.indexOf", span);
    let s = a.string(0)?;
    let sub = a.string(1)?;
    Ok(Value::Number(match s.find(sub.as_ref()) {
        Some(byte) => s[..byte].chars().count() as f64,
        None => -1.0,
    }))
}
