//! The identity domain of Tessera: applications, clients, signing keys, tokens and users.
//!
//! This crate knows nothing about HTTP, SQL, environment variables or files. It defines the
//! ports it needs (`Store`, `Clock`) and implements the rules: who may get which token, what a
//! token contains, how secrets are checked, how keys rotate. The `api` crate turns HTTP requests
//! into calls on [`Identity`]; the `store` crate implements [`Store`] for SQLite and PostgreSQL.

pub mod cache;
pub mod clients;
pub mod clock;
pub mod codes;
pub mod dev_outbox;
pub mod error;
pub mod journeys;
pub mod keys;
pub mod magic_link;
pub mod messages;
pub mod model;
pub mod oauth;
pub mod otp;
pub mod passwords;
pub mod ports;
pub mod preferences;
pub mod ratelimit;
pub mod refresh;
pub mod service;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;

pub use clock::{Clock, SystemClock, TestClock};
pub use error::{Error, Rejection, StoreError};
pub use model::*;
pub use oauth::{OAuthError, OAuthErrorCode};
pub use ports::Store;
pub use service::Identity;
pub use settings::IdentitySettings;
