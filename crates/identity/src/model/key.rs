//! A signing key as the store keeps it.

use tessera_jose::{Algorithm, Jwk};

/// A signing key as stored: public JWK in the clear, private key sealed with the KEK.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub public_jwk: Jwk,
    pub sealed_private_key: Vec<u8>,
    pub created_at: i64,
    /// Not used for signing before this instant (seconds), so caches see the key first.
    pub activate_at: i64,
    /// Removed from the JWKS after this instant (seconds); set when a newer key replaces it.
    pub retire_at: Option<i64>,
}
