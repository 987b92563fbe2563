//! JavaScript's `Number.prototype.toString()` for `f64` (ECMA-262 Number::toString, radix 10).
//!
//! Rust's `{:e}` formatting already yields the shortest digit string that round-trips, which is
//! exactly the digit string JavaScript uses; this module only applies JavaScript's rules for
//! where the decimal point goes and when to switch to exponent notation.

use std::fmt::Write;

/// Formats `x` the way JavaScript prints numbers: `1`, `1.5`, `1e+21`, `1e-7`, `NaN`, `-Infinity`.
pub fn js_number_to_string(x: f64) -> String {
    let mut out = String::new();
    write_js_number(&mut out, x);
    out
}

/// Appends the JavaScript rendering of `x` to `out`.
pub fn write_js_number(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x == 0.0 {
        // Both zeros print as "0".
        out.push('0');
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let mut x = x;
    if x < 0.0 {
        out.push('-');
        x = -x;
    }
    // Fast path for integers below 2^53, by far the most common case.
    if x.fract() == 0.0 && x < 9_007_199_254_740_992.0 {
        let _ = write!(out, "{}", x as u64);
        return;
    }
    let sci = format!("{x:e}");
    let (mantissa, exponent) = match sci.split_once('e') {
        Some(parts) => parts,
        None => (sci.as_str(), "0"),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        let (int_part, frac_part) = digits.split_at(n as usize);
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}
