//! Failure counters of (user, method): the brute-force lockouts.

/// The failure counter of one (user, method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailures {
    pub count: i64,
    pub window_started_at: i64,
    pub locked_until: Option<i64>,
}

/// How [`crate::ports::LockoutStore::record_auth_failure`] counts: failures older than the window are
/// forgotten, and reaching `max_failures` locks for `lockout_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    pub now_s: i64,
    pub window_s: i64,
    pub max_failures: i64,
    pub lockout_s: i64,
}
