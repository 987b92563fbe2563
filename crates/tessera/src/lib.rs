//! The `tessera` binary's library half: configuration, start-up and telemetry. `main.rs`
//! parses the command line and calls into here; the end-to-end tests start servers through
//! [`server::start`].
//!
//! Architecture invariant: only this crate reads environment variables and files.

pub mod config;
pub mod demo;
pub mod http;
pub mod journey_cli;
pub mod server;
pub mod telemetry;
pub mod tls;
