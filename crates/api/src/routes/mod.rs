//! The HTTP routes, one module per area.

pub mod admin;
pub mod auth;
pub mod authorize;
pub mod ciba;
pub mod client_journeys;
pub mod journeys;
pub mod oidc;
pub mod ops;
pub mod passwords;
pub mod sdk;
pub mod settings;
pub mod users;
