//! `@math`: JavaScript `Math`-style numeric functions.

use super::{builtin, Args, Builtin};
use crate::ast::Span;
use crate::error::EvalError;
use crate::eval::Evaluator;
use crate::value::Value;

const MANY: usize = usize::MAX;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("math", "abs", 1, 1, abs),
    builtin("math", "ceil", 1, 1, ceil),
    builtin("math", "floor", 1, 1, floor),
    builtin("math", "round", 1, 1, round),
    builtin("math", "min", 1, MANY, min),
    builtin("math", "max", 1, MANY, max),
    builtin("math", "pow", 2, 2, pow),
    builtin("math", "sqrt", 1, 1, sqrt),
    builtin("math", "random", 0, 0, random),
];

fn unary(
    args: &[Value],
    span: Span,
    name: &'static str,
    f: fn(f64) -> f64,
) -> Result<Value, EvalError> {
    let a = Args::new(args, name, span);
    Ok(Value::Number(f(a.number(0)?)))
}

fn abs(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    unary(args, span, "@math.abs", f64::abs)
}

fn ceil(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    unary(args, span, "@math.ceil", f64::ceil)
}

fn floor(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    unary(args, span, "@math.floor", f64::floor)
}

/// JavaScript `Math.round`: halves round towards +∞ (`-2.5` → `-2`).
pub(crate) fn js_round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let f = x.floor();
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

fn round(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    unary(args, span, "@math.round", js_round)
}

fn sqrt(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    unary(args, span, "@math.sqrt", f64::sqrt)
}

fn fold(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
    name: &'static str,
    f: fn(f64, f64) -> f64,
) -> Result<Value, EvalError> {
    let a = Args::new(args, name, span);
    let values: Vec<f64> = if a.len() == 1 && matches!(a.get(0), Value::Array(_)) {
        let items = a.array(0)?;
        items
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or_else(|| a.invalid("the array must hold only numbers"))
            })
            .collect::<Result<_, _>>()?
    } else {
        (0..a.len())
            .map(|i| a.number(i))
            .collect::<Result<_, _>>()?
    };
    ev.charge(values.len(), span)?;
    Ok(values
        .into_iter()
        .reduce(f)
        .map_or(Value::Null, Value::Number))
}

fn min(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    fold(ev, args, span, "@math.min", f64::min)
}

fn max(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    fold(ev, args, span, "@math.max", f64::max)
}

fn pow(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@math.pow", span);
    Ok(Value::Number(a.number(0)?.powf(a.number(1)?)))
}

fn random(ev: &mut Evaluator<'_>, _args: &[Value], _span: Span) -> Result<Value, EvalError> {
    let mut b = [0u8; 8];
    ev.random_bytes(&mut b);
    let bits = u64::from_le_bytes(b) >> 11;
    Ok(Value::Number(bits as f64 / (1u64 << 53) as f64))
}
