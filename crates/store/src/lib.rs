//! Tessera's storage: the [`Store`](tessera_identity::Store) port implemented for SQLite and
//! PostgreSQL, and the schema migrations of both.
//!
//! Architecture invariant: this is the only crate that knows SQL, and it knows no HTTP.
//!
//! Entry point: [`open`] a [`DatabaseTarget`] into a [`Database`], check
//! [`Database::schema_status`], [`Database::migrate`] as policy allows, then hand
//! [`Database::store`] to the identity layer.
//!
//! Both backends run the same SQL through sqlx's `Any` driver; the `dialect` module holds the few
//! differences (connection settings, migrations, how a write transaction begins). On SQLite,
//! writes go through one connection (WAL, `synchronous=FULL`) and reads through a pool of
//! `query_only` connections that never wait for the writer.
//!
//! Layout: `sql_store` holds the `SqlStore` struct and its one-statement write helpers,
//! `query` the statement-level helpers (fetch and decode, execute), `rows` the column and JSON
//! decoding helpers, `writer` the write path (group commit on SQLite). Every other module is
//! one aggregate: the port it implements, its SQL, its column lists and its row decoders.

mod database;
mod dialect;
mod error;
mod query;
mod rows;
#[cfg(feature = "test-support")]
pub mod scratch;
mod sql_store;
mod target;
mod writer;

// One module per aggregate, each implementing one port of `tessera_identity::ports`.
mod changes;
mod ciba;
mod clients;
mod codes;
mod deliveries;
mod interactions;
mod journeys;
mod keys;
mod lockouts;
mod outbox;
mod refresh;
mod revocations;
mod sessions;
mod settings;
mod tenant;
mod users;

pub use database::{open, ConnectionSettings, Database, DatabaseOptions, PoolRole, SchemaStatus};
pub use outbox::StoreOutbox;
pub use target::DatabaseTarget;
