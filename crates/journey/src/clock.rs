//! The run's monotonic clock: what the time budget of a run (`RunLimits::wall_time`) is
//! measured with. It is injected through [`crate::RunEnv`]; this crate reads no clock itself.

use std::time::Duration;

/// A monotonic clock: time since a fixed, arbitrary origin, never decreasing. The server
/// passes one over `std::time::Instant`; tests pass one they move by hand.
pub trait RunClock: Send + Sync {
    /// Time since the clock's origin.
    fn monotonic(&self) -> Duration;
}

/// A clock that never moves. A run on it is bounded by the count-based limits only (steps,
/// evaluation steps, sizes, outbound calls), so its outcome never depends on the machine's
/// speed: the offline test-case runner uses it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrozenClock;

impl RunClock for FrozenClock {
    fn monotonic(&self) -> Duration {
        Duration::ZERO
    }
}
