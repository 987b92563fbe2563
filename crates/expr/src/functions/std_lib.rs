//! `@std`: collections, higher-order functions, aggregates, number parsing and helpers.

use base64::Engine;
use std::cmp::Ordering;

use super::{array_result, builtin, relative_index, string_result, Args, Builtin};
use crate::ast::Span;
use crate::error::{ErrorCode, EvalError};
use crate::eval::Evaluator;
use crate::ops::compare_strings;
use crate::value::{Map, Value};

const MANY: usize = usize::MAX;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("std", "len", 1, 1, len),
    builtin("std", "contains", 2, 2, contains),
    builtin("std", "containsIf", 2, 2, contains_if),
    builtin("std", "keys", 1, 1, keys),
    builtin("std", "values", 1, 1, values),
    builtin("std", "kv", 3, 3, kv),
    builtin("std", "map", 2, 2, map),
    builtin("std", "filter", 2, 2, filter),
    builtin("std", "reduce", 3, 3, reduce),
    builtin("std", "find", 2, 2, find),
    builtin("std", "rfind", 2, 2, rfind),
    builtin("std", "findFirst", 2, 2, find_first),
    builtin("std", "distinct", 1, 1, distinct),
    builtin("std", "reverse", 1, 1, reverse),
    builtin("std", "sort", 1, 2, sort),
    builtin("std", "slice", 2, 3, slice),
    builtin("std", "splice", 2, MANY, splice),
    builtin("std", "range", 1, 3, range),
    builtin("std", "sum", 1, 1, sum),
    builtin("std", "avg", 1, 1, avg),
    builtin("std", "min", 1, MANY, min),
    builtin("std", "max", 1, MANY, max),
    builtin("std", "stdev", 1, 1, stdev),
    builtin("std", "strToInt", 1, 1, str_to_int),
    builtin("std", "strToDouble", 1, 1, str_to_double),
    builtin("std", "typeOf", 1, 1, type_of),
    builtin("std", "uuid", 0, 0, uuid),
    builtin("std", "randomBase64", 1, 1, random_base64),
    builtin("std", "jsonPath", 2, 2, json_path),
    builtin(
        "std",
        "isValidE164Number",
        1,
        1,
        super::phone::is_valid_e164_number,
    ),
    builtin("std", "getE164Number", 1, 2, super::phone::get_e164_number),
];

fn len(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    // The string argument's bytes were charged by the caller (see `Evaluator::call`).
    let a = Args::new(args, "@std.len", span);
    let n = match a.get(0) {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => return Err(a.wrong_type(0, "a string, array or object")),
    };
    Ok(Value::Number(n as f64))
}

fn contains(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.contains", span);
    match a.get(0) {
        Value::Array(items) => {
            let needle = a.get(1);
            for item in items.iter() {
                if ev.values_equal(item, needle, span)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        Value::String(s) => {
            let needle = a.string(1)?;
            Ok(Value::Bool(s.contains(needle.as_ref())))
        }
        _ => Err(a.wrong_type(0, "an array or a string")),
    }
}

fn contains_if(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.containsIf", span);
    let items = a.array(0)?;
    let f = a.lambda(1)?;
    for (i, item) in items.iter().enumerate() {
        if ev
            .call_lambda(f, &[item.clone(), Value::Number(i as f64)], span)?
            .is_truthy()
        {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn keys(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.keys", span);
    let map = a.object(0)?;
    ev.charge(map.len(), span)?;
    array_result(
        ev,
        map.keys().map(|k| Value::String(k.clone())).collect(),
        span,
    )
}

fn values(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.values", span);
    let map = a.object(0)?;
    ev.charge(map.len(), span)?;
    array_result(ev, map.values().cloned().collect(), span)
}

fn kv(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.kv", span);
    let key = a.string(1)?;
    let mut map: Map = match a.get(0) {
        Value::Object(map) => {
            ev.charge(map.len(), span)?;
            (**map).clone()
        }
        Value::Null => Map::new(),
        _ => return Err(a.wrong_type(0, "an object or null")),
    };
    map.insert(key.clone(), a.get(2).clone());
    ev.new_object(map, span)
}

fn map(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.map", span);
    let items = a.array(0)?;
    let f = a.lambda(1)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(ev.call_lambda(f, &[item.clone(), Value::Number(i as f64)], span)?);
    }
    array_result(ev, out, span)
}

fn filter(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.filter", span);
    let items = a.array(0)?;
    let f = a.lambda(1)?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if ev
            .call_lambda(f, &[item.clone(), Value::Number(i as f64)], span)?
            .is_truthy()
        {
            out.push(item.clone());
        }
    }
    array_result(ev, out, span)
}

fn reduce(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.reduce", span);
    let items = a.array(0)?;
    let f = a.lambda(1)?;
    let mut acc = a.get(2).clone();
    for (i, item) in items.iter().enumerate() {
        // The accumulator is how an expression nests values in a loop (`(acc, x) => [acc]`);
        // every value built inside the lambda was checked against `max_value_depth` already.
        acc = ev.call_lambda(f, &[acc, item.clone(), Value::Number(i as f64)], span)?;
    }
    Ok(acc)
}

/// Index of the first (or last) element equal to `needle`, or matching it when it is a lambda.
fn find_index(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
    name: &'static str,
    from_end: bool,
) -> Result<Value, EvalError> {
    let a = Args::new(args, name, span);
    let items = a.array(0)?;
    let needle = a.get(1);
    let mut found = -1.0;
    let order: Vec<usize> = if from_end {
        (0..items.len()).rev().collect()
    } else {
        (0..items.len()).collect()
    };
    for i in order {
        let item = &items[i];
        let hit = match needle {
            Value::Lambda(f) => ev
                .call_lambda(f, &[item.clone(), Value::Number(i as f64)], span)?
                .is_truthy(),
            other => ev.values_equal(item, other, span)?,
        };
        if hit {
            found = i as f64;
            break;
        }
    }
    Ok(Value::Number(found))
}

fn find(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    find_index(ev, args, span, "@std.find", false)
}

fn rfind(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    find_index(ev, args, span, "@std.rfind", true)
}

fn find_first(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.findFirst", span);
    let items = a.array(0)?;
    let f = a.lambda(1)?;
    for (i, item) in items.iter().enumerate() {
        if ev
            .call_lambda(f, &[item.clone(), Value::Number(i as f64)], span)?
            .is_truthy()
        {
            return Ok(item.clone());
        }
    }
    Ok(Value::Null)
}

fn distinct(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.distinct", span);
    let items = a.array(0)?;
    let mut out: Vec<Value> = Vec::new();
    for item in items.iter() {
        ev.charge(1, span)?;
        let mut seen = false;
        for x in &out {
            if ev.values_equal(x, item, span)? {
                seen = true;
                break;
            }
        }
        if !seen {
            out.push(item.clone());
        }
    }
    array_result(ev, out, span)
}

fn reverse(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.reverse", span);
    match a.get(0) {
        Value::Array(items) => {
            ev.charge(items.len(), span)?;
            array_result(ev, items.iter().rev().cloned().collect(), span)
        }
        Value::String(s) => string_result(ev, s.chars().rev().collect::<String>(), span),
        _ => Err(a.wrong_type(0, "an array or a string")),
    }
}

fn sort(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.sort", span);
    let items = a.array(0)?;
    ev.charge(items.len(), span)?;
    let mut v: Vec<Value> = items.iter().cloned().collect();
    match a.get(1) {
        Value::Null => {
            let all_numbers = v.iter().all(|x| matches!(x, Value::Number(_)));
            let all_strings = v.iter().all(|x| matches!(x, Value::String(_)));
            if !all_numbers && !all_strings {
                return Err(a.invalid(
                    "without a comparator the array must hold only numbers or only strings",
                ));
            }
            merge_sort(&mut v, &mut |x: &Value, y: &Value| {
                ev.charge(1, span)?;
                match (x, y) {
                    (Value::Number(p), Value::Number(q)) => Ok(p.total_cmp(q)),
                    (Value::String(p), Value::String(q)) => compare_strings(ev, p, q, span),
                    _ => Ok(Ordering::Equal),
                }
            })?;
        }
        Value::Lambda(f) => {
            let f = f.clone();
            merge_sort(&mut v, &mut |x: &Value, y: &Value| {
                let r = ev.call_lambda(&f, &[x.clone(), y.clone()], span)?;
                match r {
                    Value::Number(n) if n < 0.0 => Ok(Ordering::Less),
                    Value::Number(n) if n > 0.0 => Ok(Ordering::Greater),
                    Value::Number(_) => Ok(Ordering::Equal),
                    _ => Err(a.invalid("the comparator must return a number")),
                }
            })?;
        }
        _ => return Err(a.wrong_type(1, "a lambda")),
    }
    array_result(ev, v, span)
}

/// A stable merge sort with a fallible comparator. `slice::sort_by` may panic when a comparator
/// is not a total order, and comparators here are user lambdas.
fn merge_sort(
    v: &mut Vec<Value>,
    cmp: &mut dyn FnMut(&Value, &Value) -> Result<Ordering, EvalError>,
) -> Result<(), EvalError> {
    let n = v.len();
    if n < 2 {
        return Ok(());
    }
    let mut src = std::mem::take(v);
    let mut width = 1;
    while width < n {
        let mut dst = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j) = (start, mid);
            while i < mid && j < end {
                if cmp(&src[j], &src[i])? == Ordering::Less {
                    dst.push(src[j].clone());
                    j += 1;
                } else {
                    dst.push(src[i].clone());
                    i += 1;
                }
            }
            dst.extend(src[i..mid].iter().cloned());
            dst.extend(src[j..end].iter().cloned());
            start = end;
        }
        src = dst;
        width *= 2;
    }
    *v = src;
    Ok(())
}

fn slice(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.slice", span);
    let start = a.number(1)?;
    let end = match a.get(2) {
        Value::Null => None,
        _ => Some(a.number(2)?),
    };
    match a.get(0) {
        Value::Array(items) => {
            let len = items.len();
            let s = relative_index(start, len);
            let e = end.map_or(len, |e| relative_index(e, len));
            let out: Vec<Value> = if s < e {
                items[s..e].to_vec()
            } else {
                Vec::new()
            };
            ev.charge(out.len(), span)?;
            array_result(ev, out, span)
        }
        Value::String(text) => {
            let chars: Vec<char> = text.chars().collect();
            let len = chars.len();
            let s = relative_index(start, len);
            let e = end.map_or(len, |e| relative_index(e, len));
            let out: String = if s < e {
                chars[s..e].iter().collect()
            } else {
                String::new()
            };
            string_result(ev, out, span)
        }
        _ => Err(a.wrong_type(0, "an array or a string")),
    }
}

fn splice(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.splice", span);
    let items = a.array(0)?;
    let len = items.len();
    let start = relative_index(a.number(1)?, len);
    let delete = match a.get(2) {
        Value::Null if a.len() < 3 => len - start,
        _ => {
            let d = a.number(2)?;
            if d.is_nan() || d <= 0.0 {
                0
            } else {
                (d.trunc() as usize).min(len - start)
            }
        }
    };
    let inserted = args.get(3..).unwrap_or(&[]);
    let mut out = Vec::with_capacity(len - delete + inserted.len());
    out.extend(items[..start].iter().cloned());
    out.extend(inserted.iter().cloned());
    out.extend(items[start + delete..].iter().cloned());
    ev.charge(out.len(), span)?;
    array_result(ev, out, span)
}

fn range(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.range", span);
    let (start, end) = if a.len() == 1 {
        (0.0, a.integer(0)?)
    } else {
        (a.integer(0)?, a.integer(1)?)
    };
    let step = if a.len() == 3 { a.integer(2)? } else { 1.0 };
    if step == 0.0 {
        return Err(a.invalid("the step must not be zero"));
    }
    let count = ((end - start) / step).ceil().max(0.0);
    if count > ev.ctx.limits.max_collection_len as f64 {
        return Err(EvalError::new(
            ErrorCode::LimitExceeded,
            "array or object size limit exceeded",
            span,
        ));
    }
    let count = count as usize;
    ev.charge(count, span)?;
    array_result(
        ev,
        (0..count)
            .map(|i| Value::Number(start + step * i as f64))
            .collect(),
        span,
    )
}

fn numbers<'v>(a: &Args<'v>, i: usize) -> Result<Vec<f64>, EvalError> {
    let items = a.array(i)?;
    items
        .iter()
        .map(|x| {
            x.as_f64()
                .ok_or_else(|| a.invalid("the array must hold only numbers"))
        })
        .collect()
}

/// The numbers to aggregate: one array argument, or the arguments themselves.
fn numbers_or_args<'v>(a: &Args<'v>) -> Result<Vec<f64>, EvalError> {
    if a.len() == 1 && matches!(a.get(0), Value::Array(_)) {
        numbers(a, 0)
    } else {
        (0..a.len()).map(|i| a.number(i)).collect()
    }
}

fn sum(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.sum", span);
    let v = numbers(&a, 0)?;
    ev.charge(v.len(), span)?;
    Ok(Value::Number(v.iter().sum()))
}

fn avg(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.avg", span);
    let v = numbers(&a, 0)?;
    ev.charge(v.len(), span)?;
    if v.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::Number(v.iter().sum::<f64>() / v.len() as f64))
}

fn min(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.min", span);
    let v = numbers_or_args(&a)?;
    ev.charge(v.len(), span)?;
    Ok(v.into_iter()
        .reduce(f64::min)
        .map_or(Value::Null, Value::Number))
}

fn max(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.max", span);
    let v = numbers_or_args(&a)?;
    ev.charge(v.len(), span)?;
    Ok(v.into_iter()
        .reduce(f64::max)
        .map_or(Value::Null, Value::Number))
}

fn stdev(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.stdev", span);
    let v = numbers(&a, 0)?;
    ev.charge(v.len(), span)?;
    if v.is_empty() {
        return Ok(Value::Null);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Ok(Value::Number(var.sqrt()))
}

/// Parses a decimal number string strictly: optional sign, digits, optional fraction and
/// exponent, surrounding whitespace allowed. No `Infinity`, `NaN`, hex or trailing junk.
pub(crate) fn parse_decimal(s: &str) -> Option<f64> {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let mut seen_digit = false;
    let mut chars = body.chars().peekable();
    while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
        chars.next();
        seen_digit = true;
    }
    if chars.peek() == Some(&'.') {
        chars.next();
        while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
            chars.next();
            seen_digit = true;
        }
    }
    if !seen_digit {
        return None;
    }
    if matches!(chars.peek(), Some('e' | 'E')) {
        chars.next();
        if matches!(chars.peek(), Some('+' | '-')) {
            chars.next();
        }
        let mut exp_digit = false;
        while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
            chars.next();
            exp_digit = true;
        }
        if !exp_digit {
            return None;
        }
    }
    if chars.next().is_some() {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn to_number(a: &Args<'_>) -> Result<f64, EvalError> {
    match a.get(0) {
        Value::Number(n) => Ok(*n),
        Value::String(s) => {
            parse_decimal(s).ok_or_else(|| a.invalid("the string is not a decimal number"))
        }
        _ => Err(a.wrong_type(0, "a number or a numeric string")),
    }
}

fn str_to_int(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.strToInt", span);
    Ok(Value::Number(to_number(&a)?.trunc()))
}

fn str_to_double(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.strToDouble", span);
    Ok(Value::Number(to_number(&a)?))
}

fn type_of(_ev: &mut Evaluator<'_>, args: &[Value], _span: Span) -> Result<Value, EvalError> {
    Ok(Value::from(
        args.first().unwrap_or(&Value::Null).type_name(),
    ))
}

fn uuid(ev: &mut Evaluator<'_>, _args: &[Value], _span: Span) -> Result<Value, EvalError> {
    let mut b = [0u8; 16];
    ev.random_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(Value::from(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )))
}

fn random_base64(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.randomBase64", span);
    let n = a.integer(0)?;
    if n < 0.0 {
        return Err(a.invalid("the byte count must not be negative"));
    }
    if n * 4.0 / 3.0 > ev.ctx.limits.max_string_len as f64 {
        return Err(EvalError::new(
            ErrorCode::LimitExceeded,
            "string length limit exceeded",
            span,
        ));
    }
    let mut bytes = vec![0u8; n as usize];
    ev.random_bytes(&mut bytes);
    string_result(
        ev,
        base64::engine::general_purpose::STANDARD.encode(bytes),
        span,
    )
}

fn json_path(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@std.jsonPath", span);
    let path = a.string(1)?;
    let input = a.get(0);
    // The query runs on a `serde_json` copy, which expands shared parts: it is refused from
    // the cached expanded size before it is made, and charged for that size.
    let doc = input
        .to_json_within(ev.ctx.limits.max_string_len)
        .map_err(|e| match e {
            crate::ConvertError::Lambda => a.invalid("a lambda cannot be queried"),
            other => crate::eval::convert_error(other, "a query document", span),
        })?;
    ev.charge(size_cost(input.size()), span)?;
    let path = serde_json_path::JsonPath::parse(path)
        .map_err(|_| a.invalid("the JSONPath expression is malformed"))?;
    let nodes = path.query(&doc).all();
    ev.check_len(nodes.len(), span)?;
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        // Results may overlap (`$..*`): charge each copy as it is made.
        let v = Value::from(node);
        ev.charge(1 + size_cost(v.size()), span)?;
        out.push(v);
    }
    array_result(ev, out, span)
}

/// Steps charged for copying a value of expanded size `size` into or out of `serde_json`: a
/// node there costs tens of bytes, so one step per 8 units of size.
pub(crate) fn size_cost(size: u64) -> usize {
    usize::try_from(size / 8).unwrap_or(usize::MAX)
}
