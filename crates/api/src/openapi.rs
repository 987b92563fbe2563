//! The OpenAPI 3.1 description of the HTTP surface, served at `/openapi.json`.
//! It is data: a test checks that every route of the router appears in it.

/// The document, kept beside this file as JSON.
pub const DOCUMENT: &str = include_str!("openapi.json");
