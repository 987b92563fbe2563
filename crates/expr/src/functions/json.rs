//! `@json`: parse and stringify.

use super::{builtin, Args, Builtin};
use crate::ast::Span;
use crate::error::EvalError;
use crate::eval::Evaluator;
use crate::value::Value;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("json", "parse", 1, 1, parse),
    builtin("json", "stringify", 1, 1, super::strings::to_json),
];

fn parse(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@json.parse", span);
    let s = a.string(0)?;
    ev.charge(s.len() / 64, span)?;
    // serde_json's own recursion limit (128) bounds the nesting of the result.
    let parsed: serde_json::Value =
        serde_json::from_str(s).map_err(|_| a.invalid("the string is not valid JSON"))?;
    let v = Value::from(parsed);
    if let Value::Array(items) = &v {
        ev.check_len(items.len(), span)?;
    }
    if let Value::Object(map) = &v {
        ev.check_len(map.len(), span)?;
    }
    Ok(v)
}
