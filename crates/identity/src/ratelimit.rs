//! Abuse rate limits of the backend authentication APIs (SPEC §5, §9).
//!
//! Every message send (OTP, magic link) passes three limits: per destination address, per
//! client and global; every authenticate call (OTP, magic link, password) passes a limit per
//! identifier (when the call names one) and per client. Over any limit the call fails with
//! [`Code::RateLimited`](crate::error::Code::RateLimited) (429 with `Retry-After`) before anything is sent or checked, and
//! no counter moves.
//!
//! Invariants:
//! - **Per node.** Counters live in this node's memory: with N nodes behind a balancer a
//!   caller can get up to N times a limit. The brute-force protection that must hold across
//!   nodes (OTP failure counting and lockout) is in the database, not here.
//! - Fixed windows that start at a key's first hit; the injected clock's time is passed in,
//!   so tests move time instead of sleeping.
//! - Bounded memory: expired windows are dropped at least once a minute and whenever the map
//!   reaches `max_keys`; if it is still full, a new key is not tracked (fail open for that
//!   key — the global send limit, one key, always applies).

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::error::Error;

/// At most `max` hits per `window_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_s: i64,
}

impl Limit {
    pub const fn new(max: u32, window_s: i64) -> Self {
        Self { max, window_s }
    }
}

/// The limits; defaults in [`RateLimitSettings::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Messages to one email address or phone number (default 5 per 10 minutes).
    pub send_per_destination: Limit,
    /// Messages sent for one client (default 60 per minute).
    pub send_per_client: Limit,
    /// Messages sent by this node (default 600 per minute).
    pub send_global: Limit,
    /// Authenticate calls naming one identifier (default 20 per minute).
    pub auth_per_identifier: Limit,
    /// Authenticate calls of one client (default 600 per minute).
    pub auth_per_client: Limit,
    /// CIBA backchannel requests naming one user hint (default 10 per 10 minutes): with the
    /// per-destination send limit, what keeps the endpoint from flooding a user's phone.
    pub backchannel_per_user: Limit,
    /// CIBA backchannel requests of one client (default 600 per minute).
    pub backchannel_per_client: Limit,
    /// Client-journey starts naming one client (default 6,000 per minute): anyone may start
    /// one, and each start that waits for the client stores an interaction.
    pub journey_start_per_client: Limit,
    /// Most keys tracked at once (default 100,000).
    pub max_keys: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            send_per_destination: Limit::new(5, 600),
            send_per_client: Limit::new(60, 60),
            send_global: Limit::new(600, 60),
            auth_per_identifier: Limit::new(20, 60),
            auth_per_client: Limit::new(600, 60),
            backchannel_per_user: Limit::new(10, 600),
            backchannel_per_client: Limit::new(600, 60),
            journey_start_per_client: Limit::new(6_000, 60),
            max_keys: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    SendDestination,
    SendClient,
    SendGlobal,
    AuthIdentifier,
    AuthClient,
    BackchannelUser,
    BackchannelClient,
    JourneyStartClient,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    ends_ms: i64,
    count: u32,
}

struct State {
    windows: HashMap<(Scope, String), Window>,
    last_sweep_ms: i64,
}

/// The in-memory limiter of one node.
pub struct RateLimiter {
    settings: RateLimitSettings,
    state: Mutex<State>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

const SWEEP_EVERY_MS: i64 = 60_000;

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State {
                windows: HashMap::new(),
                last_sweep_ms: i64::MIN,
            }),
        }
    }

    /// Counts one message send to `destination` (a normalised address, or a user id when
    /// nothing is sent) for `client_id`.
    pub fn check_send(&self, now_ms: i64, client_id: &str, destination: &str) -> Result<(), Error> {
        let s = &self.settings;
        self.hit(
            now_ms,
            &[
                (Scope::SendDestination, destination, s.send_per_destination),
                (Scope::SendClient, client_id, s.send_per_client),
                (Scope::SendGlobal, "", s.send_global),
            ],
        )
    }

    /// Counts one authenticate call of `client_id`, naming `identifier` if it has one.
    pub fn check_authenticate(
        &self,
        now_ms: i64,
        client_id: &str,
        identifier: Option<&str>,
    ) -> Result<(), Error> {
        let s = &self.settings;
        match identifier {
            Some(id) => self.hit(
                now_ms,
                &[
                    (Scope::AuthIdentifier, id, s.auth_per_identifier),
                    (Scope::AuthClient, client_id, s.auth_per_client),
                ],
            ),
            None => self.hit(now_ms, &[(Scope::AuthClient, client_id, s.auth_per_client)]),
        }
    }

    /// Counts one CIBA backchannel request of `client_id` naming the user hint `hint_key`.
    pub fn check_backchannel(
        &self,
        now_ms: i64,
        client_id: &str,
        hint_key: &str,
    ) -> Result<(), Error> {
        let s = &self.settings;
        self.hit(
            now_ms,
            &[
                (Scope::BackchannelUser, hint_key, s.backchannel_per_user),
                (
                    Scope::BackchannelClient,
                    client_id,
                    s.backchannel_per_client,
                ),
            ],
        )
    }

    /// Counts one client-journey start naming `client_id`.
    pub fn check_journey_start(&self, now_ms: i64, client_id: &str) -> Result<(), Error> {
        self.hit(
            now_ms,
            &[(
                Scope::JourneyStartClient,
                client_id,
                self.settings.journey_start_per_client,
            )],
        )
    }

    /// How many windows are tracked (for tests).
    pub fn tracked_keys(&self) -> usize {
        self.state.lock().windows.len()
    }

    /// Checks every limit, then counts the hit on all of them, or on none when one is full.
    fn hit(&self, now_ms: i64, keys: &[(Scope, &str, Limit)]) -> Result<(), Error> {
        let mut state = self.state.lock();
        if state.windows.len() >= self.settings.max_keys
            || now_ms.saturating_sub(state.last_sweep_ms) >= SWEEP_EVERY_MS
        {
            state.windows.retain(|_, w| w.ends_ms > now_ms);
            state.last_sweep_ms = now_ms;
        }
        let mut retry_after_ms: i64 = 0;
        for (scope, key, limit) in keys {
            if let Some(w) = state.windows.get(&(*scope, (*key).to_string())) {
                if w.ends_ms > now_ms && w.count >= limit.max {
                    retry_after_ms = retry_after_ms.max(w.ends_ms - now_ms);
                }
            }
        }
        if retry_after_ms > 0 {
            // Whole seconds, rounded up, at least one.
            let secs = (retry_after_ms + 999) / 1000;
            return Err(Error::rate_limited(u64::try_from(secs.max(1)).unwrap_or(1)));
        }
        for (scope, key, limit) in keys {
            let full = state.windows.len() >= self.settings.max_keys;
            let window_ms = limit.window_s.saturating_mul(1000);
            match state.windows.get_mut(&(*scope, (*key).to_string())) {
                Some(w) if w.ends_ms > now_ms => w.count = w.count.saturating_add(1),
                Some(w) => {
                    *w = Window {
                        ends_ms: now_ms.saturating_add(window_ms),
                        count: 1,
                    }
                }
                None if full => {}
                None => {
                    state.windows.insert(
                        (*scope, (*key).to_string()),
                        Window {
                            ends_ms: now_ms.saturating_add(window_ms),
                            count: 1,
                        },
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::clock::{Clock, TestClock};

    fn limiter() -> RateLimiter {
        RateLimiter::new(RateLimitSettings {
            send_per_destination: Limit::new(2, 600),
            send_per_client: Limit::new(3, 60),
            send_global: Limit::new(4, 60),
            auth_per_identifier: Limit::new(2, 60),
            auth_per_client: Limit::new(3, 60),
            backchannel_per_user: Limit::new(2, 600),
            backchannel_per_client: Limit::new(3, 60),
            journey_start_per_client: Limit::new(2, 60),
            max_keys: 8,
        })
    }

    #[test]
    fn journey_starts_are_limited_per_client() {
        let l = limiter();
        l.check_journey_start(0, "c1").unwrap();
        l.check_journey_start(0, "c1").unwrap();
        assert_eq!(retry(l.check_journey_start(1_000, "c1")), 59);
        l.check_journey_start(1_000, "c2").unwrap();
        l.check_journey_start(60_000, "c1").unwrap();
    }

    fn retry(r: Result<(), Error>) -> u64 {
        match r {
            Err(e) if e.is(crate::error::Code::RateLimited) => e.retry_after_s().unwrap(),
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }

    #[test]
    fn backchannel_requests_are_limited_per_user_hint_and_per_client() {
        let l = limiter();
        let now = 1_000_000;
        l.check_backchannel(now, "c1", "hint:ann").unwrap();
        l.check_backchannel(now, "c1", "hint:ann").unwrap();
        // Two per user hint per 10 minutes.
        assert_eq!(retry(l.check_backchannel(now, "c1", "hint:ann")), 600);
        // Other users are asked still, up to three per client per minute.
        l.check_backchannel(now, "c1", "hint:bob").unwrap();
        assert!(retry(l.check_backchannel(now, "c1", "hint:eve")) > 0);
        l.check_backchannel(now + 60_000, "c1", "hint:eve").unwrap();
    }

    #[test]
    fn sends_are_limited_per_destination_until_the_window_ends() {
        let clock = TestClock::new(1_000_000);
        let l = limiter();
        l.check_send(clock.now_ms(), "c1", "a@x").unwrap();
        clock.advance_s(100);
        l.check_send(clock.now_ms(), "c1", "a@x").unwrap();
        // The window started at the first send: 500 s are left.
        assert_eq!(retry(l.check_send(clock.now_ms(), "c1", "a@x")), 500);
        // Another destination still passes.
        l.check_send(clock.now_ms(), "c1", "b@x").unwrap();
        clock.advance_s(500);
        l.check_send(clock.now_ms(), "c2", "a@x").unwrap();
    }

    #[test]
    fn a_refused_hit_counts_nowhere() {
        let clock = TestClock::new(0);
        let l = limiter();
        l.check_send(clock.now_ms(), "c1", "a").unwrap();
        l.check_send(clock.now_ms(), "c1", "a").unwrap();
        // Destination `a` is full; the client counter must not move.
        for _ in 0..5 {
            retry(l.check_send(clock.now_ms(), "c1", "a"));
        }
        l.check_send(clock.now_ms(), "c1", "b").unwrap();
        // Now the client has 3 sends: its limit.
        assert_eq!(retry(l.check_send(clock.now_ms(), "c1", "c")), 60);
    }

    #[test]
    fn the_global_send_limit_spans_clients() {
        let clock = TestClock::new(0);
        let l = limiter();
        for i in 0..4 {
            l.check_send(clock.now_ms(), &format!("c{i}"), &format!("d{i}"))
                .unwrap();
        }
        clock.advance_ms(30_500);
        assert_eq!(retry(l.check_send(clock.now_ms(), "c9", "d9")), 30);
        clock.advance_ms(29_500);
        l.check_send(clock.now_ms(), "c9", "d9").unwrap();
    }

    #[test]
    fn authenticate_limits_per_identifier_and_client() {
        let clock = TestClock::new(0);
        let l = limiter();
        l.check_authenticate(clock.now_ms(), "c1", Some("email:a"))
            .unwrap();
        l.check_authenticate(clock.now_ms(), "c1", Some("email:a"))
            .unwrap();
        retry(l.check_authenticate(clock.now_ms(), "c1", Some("email:a")));
        l.check_authenticate(clock.now_ms(), "c1", None).unwrap();
        retry(l.check_authenticate(clock.now_ms(), "c1", None));
        l.check_authenticate(clock.now_ms(), "c2", None).unwrap();
        clock.advance_s(60);
        l.check_authenticate(clock.now_ms(), "c1", Some("email:a"))
            .unwrap();
    }

    #[test]
    fn memory_stays_bounded_and_expired_windows_go() {
        let clock = TestClock::new(0);
        let l = limiter();
        for i in 0..50 {
            let _ = l.check_authenticate(clock.now_ms(), "c", Some(&format!("id{i}")));
        }
        assert!(l.tracked_keys() <= 8, "{}", l.tracked_keys());
        clock.advance_s(61);
        l.check_authenticate(clock.now_ms(), "c", Some("fresh"))
            .unwrap();
        assert_eq!(l.tracked_keys(), 2);
        let state = l.state.lock();
        assert!(state.windows.values().all(|w| w.count == 1));
    }
}
