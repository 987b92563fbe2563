#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The rules of the identity core's components, tested against the real store (SQLite
//! always, PostgreSQL too when `TESSERA_TEST_POSTGRES_URL` is set; each test in its own
//! scratch database) without an HTTP server. Time moves by the test clock, never by sleeping;
//! proofs come from the gate, as in production (`fixture.rs`).

mod authn;
mod fixture;
mod gate;
mod journeys;
mod lockouts;
mod logins;
mod logout;
mod refresh;
mod sessions;
