#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The store test suite: every case runs against SQLite (a temporary file) and, when
//! `TESSERA_TEST_POSTGRES_URL` is set, against PostgreSQL too, each test in its own database.

mod applications;
mod bootstrap;
mod changes;
mod ciba;
mod clients;
mod codes;
mod fixtures;
mod harness;
mod journeys;
mod keys;
mod refresh;
mod revocation;
mod schema;
mod sessions;
mod settings;
mod sqlite;
mod users;
