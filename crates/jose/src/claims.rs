//! Registered-claim checks (RFC 7519 §4.1) shared by every JWT validator.
//!
//! Time is a parameter (`now_s`), never read here, so expiry is testable without sleeping.

use serde_json::{Map, Value};

use crate::JoseError;

/// What [`check_claims`] enforces.
#[derive(Clone, Copy, Debug)]
pub struct ClaimRules<'a> {
    /// Expected `iss`, compared exactly; `None` skips the check.
    pub issuer: Option<&'a str>,
    /// Acceptable audiences: `aud` (string or array) must contain at least one. `None` means
    /// any audience (an explicit `any` in configuration); `Some(&[])` accepts nothing.
    pub audience: Option<&'a [String]>,
    /// Current time, seconds since the Unix epoch.
    pub now_s: i64,
    /// Allowed clock skew in seconds for `exp` and `nbf` (negative values count as 0).
    pub leeway_s: i64,
    /// Whether a missing `exp` is an error.
    pub require_exp: bool,
}

/// Checks `exp` (required if `require_exp`, valid while `now < exp + leeway`), `nbf` if present
/// (valid once `now + leeway >= nbf`), `iss` and `aud` per `rules`.
pub fn check_claims(claims: &Map<String, Value>, rules: &ClaimRules) -> Result<(), JoseError> {
    let leeway = rules.leeway_s.max(0);
    match numeric_date(claims, "exp")? {
        Some(exp) if rules.now_s >= exp.saturating_add(leeway) => return Err(JoseError::Expired),
        None if rules.require_exp => return Err(JoseError::MissingClaim("exp")),
        Some(_) | None => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf")? {
        if rules.now_s.saturating_add(leeway) < nbf {
            return Err(JoseError::NotYetValid);
        }
    }
    if let Some(expected) = rules.issuer {
        match claims.get("iss") {
            None => return Err(JoseError::MissingClaim("iss")),
            Some(Value::String(iss)) if iss == expected => {}
            Some(Value::String(_)) => return Err(JoseError::IssuerMismatch),
            Some(_) => return Err(JoseError::InvalidClaim("iss")),
        }
    }
    if let Some(expected) = rules.audience {
        let matches = |aud: &str| expected.iter().any(|e| e == aud);
        let ok = match claims.get("aud") {
            None => return Err(JoseError::MissingClaim("aud")),
            Some(Value::String(aud)) => matches(aud),
            Some(Value::Array(items)) => {
                items.iter().any(|item| item.as_str().is_some_and(matches))
            }
            Some(_) => return Err(JoseError::InvalidClaim("aud")),
        };
        if !ok {
            return Err(JoseError::AudienceMismatch);
        }
    }
    Ok(())
}

/// Reads a NumericDate claim; fractional seconds are truncated toward the past.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, JoseError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(v) = n.as_i64() {
                Ok(Some(v))
            } else if let Some(v) = n.as_f64().filter(|v| v.is_finite()) {
                // `as` saturates at the i64 range, which is the wanted clamping.
                Ok(Some(v.floor() as i64))
            } else {
                Err(JoseError::InvalidClaim(name))
            }
        }
        Some(_) => Err(JoseError::InvalidClaim(name)),
    }
}
