//! JOSE for Tessera: JWS/JWT signing and verification, JWK/JWKS, key generation, sealing of
//! keys at rest under a key-encryption key, keyed hashing of client secrets and secure random
//! helpers.
//!
//! Architecture invariant: this crate knows no database, HTTP framework, async runtime or other
//! workspace crate. All cryptography goes through aws-lc-rs; nothing is hand-rolled. No error
//! message contains token contents or key material.
//!
//! Only asymmetric JWS algorithms exist ([`Algorithm`]); `none` and `HS*` cannot be expressed,
//! so they can be neither configured nor accepted.

mod algorithm;
mod claims;
mod encoding;
mod error;
mod jwk;
mod kek;
mod signing;
mod verify;

pub use algorithm::Algorithm;
pub use claims::{check_claims, ClaimRules};
pub use encoding::{
    b64url_decode, b64url_encode, constant_time_eq, random_alphanumeric, random_bytes,
    random_token_b64url, sha256, sha512,
};
pub use error::JoseError;
pub use jwk::{Jwk, JwkSet};
pub use kek::{Kek, SecretHasher, KEK_LEN};
pub use signing::{SigningKey, CACHED_TYPS};
pub use verify::{
    decode_unverified, Header, VerificationKey, VerificationKeys, VerifiedJwt, MAX_TOKEN_LEN,
};
