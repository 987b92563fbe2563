//! Integration tests of tessera-journey: validation, execution, tokens, the seed example.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authn;
mod client;
mod executor;
mod limits;
mod positions;
mod support;
mod tokens;
mod validation;
