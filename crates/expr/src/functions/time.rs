//! `@time`: the run's clock (injected through [`crate::Context::now_ms`]) and ISO-8601
//! conversion. Times are epoch milliseconds; ISO strings are UTC with milliseconds, exactly as
//! JavaScript's `toISOString` prints them.

use super::{builtin, Args, Builtin};
use crate::ast::Span;
use crate::error::EvalError;
use crate::eval::Evaluator;
use crate::value::Value;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("time", "now", 0, 0, now),
    builtin("time", "nowISO", 0, 0, now_iso),
    builtin("time", "toISO", 1, 1, to_iso),
    builtin("time", "parseISO", 1, 1, parse_iso),
];

/// JavaScript's limit on dates: ±100,000,000 days from the epoch.
const MAX_MS: f64 = 8.64e15;
const MS_PER_DAY: i64 = 86_400_000;

fn now(ev: &mut Evaluator<'_>, _args: &[Value], _span: Span) -> Result<Value, EvalError> {
    Ok(Value::Number(ev.ctx.now_ms as f64))
}

fn now_iso(ev: &mut Evaluator<'_>, _args: &[Value], _span: Span) -> Result<Value, EvalError> {
    Ok(Value::from(iso_from_ms(ev.ctx.now_ms as f64)))
}

fn to_iso(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@time.toISO", span);
    let ms = a.number(0)?;
    if !ms.is_finite() || ms.abs() > MAX_MS {
        return Err(a.invalid("the time is out of range"));
    }
    Ok(Value::from(iso_from_ms(ms)))
}

fn parse_iso(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@time.parseISO", span);
    let s = a.string(0)?;
    match ms_from_iso(s) {
        Some(ms) => Ok(Value::Number(ms as f64)),
        None => Err(a.invalid("the string is not an ISO-8601 date-time")),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ` for epoch milliseconds (years outside 0..=9999 use JavaScript's
/// `±YYYYYY` form). Out-of-range input is clamped to JavaScript's date range.
pub fn iso_from_ms(ms: f64) -> String {
    let ms = if ms.is_finite() {
        ms.clamp(-MAX_MS, MAX_MS)
    } else {
        0.0
    } as i64;
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y < 0 {
        format!("-{:06}", -y)
    } else {
        format!("+{y:06}")
    };
    format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Parses `YYYY-MM-DD`, or `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` with an optional `Z` or `±HH:MM`
/// offset. A date-time without an offset is taken as UTC (JavaScript would use local time; a
/// server has no meaningful local time).
pub(crate) fn ms_from_iso(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * MS_PER_DAY;
    if b.len() == 10 {
        return Some(ms);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = num(11, 2)?;
    let minute = num(14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut millis = 0;
    if b.get(i) == Some(&b':') {
        second = num(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
            // Milliseconds from the first three fraction digits; further digits are truncated.
            let digits = &b[start..i.min(start + 3)];
            let mut v = 0;
            for d in digits {
                v = v * 10 + i64::from(d - b'0');
            }
            for _ in digits.len()..3 {
                v *= 10;
            }
            millis = v;
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    ms += ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    match b.get(i) {
        None => Some(ms),
        Some(b'Z' | b'z') if i + 1 == b.len() => Some(ms),
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(i + 1, 2)?;
            let om = match b.get(i + 3) {
                Some(b':') => num(i + 4, 2).filter(|_| i + 6 == b.len())?,
                Some(_) => num(i + 3, 2).filter(|_| i + 5 == b.len())?,
                None => 0,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let offset = (oh * 60 + om) * 60_000;
            Some(if *sign == b'+' {
                ms - offset
            } else {
                ms + offset
            })
        }
        _ => None,
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
