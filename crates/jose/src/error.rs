//! The single error type of this crate.
//!
//! Messages are deliberately generic: they never contain token contents, claim values, key
//! material or the text of underlying parser errors (serde_json messages can quote input), so an
//! error may be logged or shown without leaking anything.

/// Everything that can go wrong in JOSE handling, key management and sealing.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum JoseError {
    /// The token or encoded value is structurally invalid; the text says which part (static).
    #[error("malformed input: {0}")]
    Malformed(&'static str),
    /// The token is larger than [`crate::MAX_TOKEN_LEN`].
    #[error("token too large")]
    TooLarge,
    /// A part decoded, but it is not the JSON expected there (which part is static text).
    #[error("invalid JSON in {0}")]
    Json(&'static str),
    /// The algorithm is unknown, or never accepted (`none`, `HS*`), or not usable for signing.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The algorithm is supported but not in the caller's allow-list.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The protected header carries `crit` (no critical extensions are understood).
    #[error("unsupported critical header parameter")]
    UnsupportedCritical,
    /// The selected key's type, curve or declared `alg` does not fit the token's algorithm.
    #[error("key type does not fit the algorithm")]
    KeyTypeMismatch,
    /// The token names a `kid` that is not in the key set.
    #[error("unknown key id")]
    UnknownKid,
    /// The token has no `kid` and no key, or more than one key, fits its algorithm.
    #[error("no unambiguous key for the algorithm")]
    NoSuitableKey,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A key (JWK, PKCS#8, KEK) is invalid for the stated purpose; the text says why (static).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// An RSA key is shorter than 2048 bits.
    #[error("RSA key too small (minimum 2048 bits)")]
    WeakKey,
    /// The JWK's key type or curve is not supported.
    #[error("unsupported key type")]
    UnsupportedKeyType,
    /// Sealed data failed authentication (tampered, wrong key or wrong associated data).
    #[error("decryption failed")]
    Decrypt,
    /// `exp` has passed (after leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (after leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is missing or differs from the expected issuer.
    #[error("issuer mismatch")]
    IssuerMismatch,
    /// `aud` is missing or contains none of the expected audiences.
    #[error("audience mismatch")]
    AudienceMismatch,
    /// A required claim is missing (static claim name).
    #[error("missing claim: {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type (static claim name).
    #[error("invalid claim: {0}")]
    InvalidClaim(&'static str),
    /// The crypto library reported an unspecified failure (e.g. RNG or key generation).
    #[error("cryptographic operation failed")]
    Crypto,
}

impl From<aws_lc_rs::error::Unspecified> for JoseError {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        JoseError::Crypto
    }
}
