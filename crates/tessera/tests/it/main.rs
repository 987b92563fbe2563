#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests: real Tessera servers on 127.0.0.1:0 spoken to over HTTP, against SQLite
//! always and PostgreSQL when `TESSERA_TEST_POSTGRES_URL` is set (each test in its own
//! database).

mod admin;
mod authorization;
mod authorize;
mod bad_input;
mod bootstrap;
mod browser;
mod ciba;
mod cli;
mod client_journeys;
mod client_journeys_authn;
mod compat;
mod compat_otp;
mod compat_passwords;
mod compat_tutorials;
mod compat_users;
mod connections;
mod control_chars;
mod demo;
mod discovery;
mod generator;
mod hardening;
mod harness;
mod hosted_interop;
mod interop;
mod journeys;
mod keys;
mod limits;
mod logout;
mod logs;
mod magic_link;
mod malformed;
mod multi_node;
mod otp;
mod outbox;
mod preferences;
mod readiness;
mod refresh;
mod security;
mod sessions;
mod tls;
mod tokens;
mod users;
mod webdriver;
