//! `@json`: parse and stringify, and the bounded JSON parsing shared with `@crypto`.

use super::{builtin, Args, Builtin};
use crate::ast::Span;
use crate::error::EvalError;
use crate::eval::{limit_error, Evaluator, LimitKind};
use crate::value::Value;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("json", "parse", 1, 1, parse),
    builtin("json", "stringify", 1, 1, super::strings::to_json),
];

fn parse(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@json.parse", span);
    let s = a.string(0)?;
    parse_json(ev, s.as_bytes(), span)?.ok_or_else(|| a.invalid("the string is not valid JSON"))
}

/// The deepest nesting `serde_json`'s parser accepts (its recursion limit is 128 levels,
/// exclusive); deeper text is a limit error here, not a parser error.
const PARSER_MAX_DEPTH: usize = 127;

/// Parses JSON text into a value within the limits: the text's nesting is measured before it
/// is parsed (deeper than `max_value_depth` is `limit_exceeded`, not a parser error), and the
/// number of values it can produce is charged before anything is allocated. `Ok(None)` when
/// the text is not JSON.
pub(crate) fn parse_json(
    ev: &mut Evaluator<'_>,
    text: &[u8],
    span: Span,
) -> Result<Option<Value>, EvalError> {
    let outline = outline(text);
    if outline.depth > (ev.max_value_depth() as usize).min(PARSER_MAX_DEPTH) {
        return Err(limit_error(LimitKind::ValueDepth, span));
    }
    ev.charge(outline.values, span)?;
    let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(text) else {
        return Ok(None);
    };
    check_collections(ev, &parsed, span)?;
    Ok(Some(Value::from(&parsed)))
}

/// What a scan of JSON text (valid or not) finds without parsing it.
struct Outline {
    /// Deepest nesting of `[` and `{` outside strings.
    depth: usize,
    /// An upper bound on the number of values: one, plus one per `,`, `[` and `{`.
    values: usize,
}

fn outline(text: &[u8]) -> Outline {
    let mut depth = 0usize;
    let mut out = Outline {
        depth: 0,
        values: 1,
    };
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                out.depth = out.depth.max(depth);
                out.values += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => out.values += 1,
            _ => {}
        }
    }
    out
}

/// Every array and object of a parsed document must fit `max_collection_len`.
fn check_collections(
    ev: &Evaluator<'_>,
    doc: &serde_json::Value,
    span: Span,
) -> Result<(), EvalError> {
    let mut pending = vec![doc];
    while let Some(v) = pending.pop() {
        match v {
            serde_json::Value::Array(items) => {
                ev.check_len(items.len(), span)?;
                pending.extend(items.iter().filter(|x| x.is_array() || x.is_object()));
            }
            serde_json::Value::Object(map) => {
                ev.check_len(map.len(), span)?;
                pending.extend(map.values().filter(|x| x.is_array() || x.is_object()));
            }
            _ => {}
        }
    }
    Ok(())
}
