//! Integration tests of tessera-delivery: a real SMTP server and a real HTTP webhook on
//! loopback, the development outbox over an in-memory store, routing and configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod outbox;
mod router;
mod sms;
mod smtp;
