//! Integration tests for tessera-expr: data-driven value and error tables, parse errors,
//! host calls, limits, the print/parse round trip, and regressions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cases;
mod errors;
mod host;
mod limits;
mod parse_errors;
mod regressions;
mod roundtrip;
mod shared_values;
mod support;
