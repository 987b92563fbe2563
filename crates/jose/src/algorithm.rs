//! JOSE signature algorithm names (RFC 7518 §3, RFC 8037).
//!
//! Only asymmetric algorithms exist here. `none` and the HMAC family (`HS256`, `HS384`, `HS512`)
//! deliberately have no variant, so they cannot be allowed by configuration or accepted by
//! verification: parsing them yields [`JoseError::UnsupportedAlgorithm`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::JoseError;

/// A JWS algorithm. Tessera signs with `ES256`, `RS256` and `EdDSA`; the others verify only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256 (default for access tokens).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (default for ID tokens).
    RS256,
    /// Ed25519.
    EdDSA,
    /// ECDSA P-384 with SHA-384 (verification only).
    ES384,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (verification only).
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (verification only).
    RS512,
    /// RSASSA-PSS with SHA-256 (verification only).
    PS256,
    /// RSASSA-PSS with SHA-384 (verification only).
    PS384,
    /// RSASSA-PSS with SHA-512 (verification only).
    PS512,
}

impl Algorithm {
    /// Every supported algorithm, signing ones first.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::EdDSA,
        Algorithm::ES384,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];

    /// The algorithms [`crate::SigningKey`] can sign with (what discovery advertises).
    pub const SIGNING: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

    /// The JOSE name, e.g. `"ES256"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES384 => "ES384",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
        }
    }

    /// Whether [`crate::SigningKey`] can sign with this algorithm.
    pub fn can_sign(&self) -> bool {
        Algorithm::SIGNING.contains(self)
    }

    /// Whether this is an RSA algorithm (`RS*` or `PS*`).
    pub fn is_rsa(&self) -> bool {
        matches!(
            self,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = JoseError;

    /// Parses a JOSE name exactly (case-sensitive, as RFC 7515 requires). `none`, `HS*` and
    /// anything unknown are [`JoseError::UnsupportedAlgorithm`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|alg| alg.as_str() == s)
            .ok_or(JoseError::UnsupportedAlgorithm)
    }
}
