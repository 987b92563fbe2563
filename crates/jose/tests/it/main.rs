//! Integration tests for `tessera-jose`, one module per feature (one test binary links faster).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod claims;
mod interop;
mod kek;
mod keys;
mod primitives;
mod refusals;
mod support;
