//! One-time codes: the stored form shared by email/SMS passcodes (`otp.rs`) and email magic
//! links (`magic_link.rs`), their keyed hashing and random generation.
//!
//! Invariants:
//! - A code is never stored. The store keeps `code_hash` = base64url(HMAC-SHA-256) under a key
//!   derived from the KEK with [`CODE_HASH_LABEL`], so a copy of the database does not let
//!   anyone try the 10^6 possible six-digit codes offline.
//! - Passcodes are hashed together with their user id (`"otp" 0 user_id 0 code`), so equal
//!   digits of two users never share a hash; link codes (256 random bits) are hashed alone
//!   (`"eml" 0 code`), since the link is the only thing the caller presents.
//! - Creating a code invalidates the user's older live codes for the same client and kind,
//!   and redeeming is one conditional update in the store: of two concurrent redeems of one
//!   code (on any nodes) exactly one gets it.

use tessera_jose::SecretHasher;
use zeroize::Zeroizing;

use crate::error::Error;
pub use crate::model::{CodeRedemption, OneTimeCode, Redemption};

/// The KEK derivation label of the one-time code hasher.
pub const CODE_HASH_LABEL: &str = "tessera one-time code hmac v1";

/// amr of an email one-time passcode.
pub const EOTP: &str = "eotp";
/// amr of an SMS one-time passcode.
pub const SMS: &str = "sms";
/// amr of an email magic link.
pub const EML: &str = "eml";

/// A code handed to the caller or put in a message. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The keyed hash of a passcode of `user_id`.
pub(crate) fn passcode_hash(hasher: &SecretHasher, user_id: &str, code: &str) -> String {
    let mut input = Zeroizing::new(Vec::with_capacity(user_id.len() + code.len() + 5));
    input.extend_from_slice(b"otp\0");
    input.extend_from_slice(user_id.as_bytes());
    input.push(0);
    input.extend_from_slice(code.as_bytes());
    tessera_jose::b64url_encode(&hasher.hash(&input))
}

/// The keyed hash of a magic-link code.
pub(crate) fn link_hash(hasher: &SecretHasher, code: &str) -> String {
    let mut input = Zeroizing::new(Vec::with_capacity(code.len() + 4));
    input.extend_from_slice(b"eml\0");
    input.extend_from_slice(code.as_bytes());
    tessera_jose::b64url_encode(&hasher.hash(&input))
}

/// The keyed hash of a password-reset token.
pub(crate) fn reset_hash(hasher: &SecretHasher, token: &str) -> String {
    let mut input = Zeroizing::new(Vec::with_capacity(token.len() + 4));
    input.extend_from_slice(b"rst\0");
    input.extend_from_slice(token.as_bytes());
    tessera_jose::b64url_encode(&hasher.hash(&input))
}

/// Largest multiple of 10 that fits in a byte: bytes at or above it are drawn again, so each
/// digit is uniform.
const DIGIT_BYTE_LIMIT: u8 = 250;

/// `len` uniformly random decimal digits from the OS CSPRNG (rejection sampling, no modulo
/// bias).
pub fn random_digits(len: usize) -> Result<Secret, Error> {
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new(vec![0u8; len + 8]);
    while out.len() < len {
        tessera_jose::random_bytes(&mut buf)?;
        for &byte in buf.iter() {
            if out.len() == len {
                break;
            }
            if byte < DIGIT_BYTE_LIMIT {
                out.push(char::from(b'0' + byte % 10));
            }
        }
    }
    Ok(Secret(out))
}

/// A random row id.
pub(crate) fn new_code_id() -> Result<String, Error> {
    Ok(tessera_jose::random_token_b64url(16)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn digits_are_digits_of_the_asked_length_and_roughly_uniform() {
        let mut counts = [0u32; 10];
        for _ in 0..2_000 {
            let d = random_digits(6).unwrap();
            assert_eq!(d.expose().len(), 6);
            for c in d.expose().bytes() {
                assert!(c.is_ascii_digit());
                counts[usize::from(c - b'0')] += 1;
            }
        }
        // 12,000 digits: each expected 1,200; a biased generator would be far off.
        for c in counts {
            assert!((1_000..1_400).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn hashes_bind_the_user_and_hide_the_code() {
        let h = SecretHasher::new(&[7u8; 32]);
        let a = passcode_hash(&h, "u1", "123456");
        assert_eq!(a, passcode_hash(&h, "u1", "123456"));
        assert_ne!(a, passcode_hash(&h, "u2", "123456"));
        assert_ne!(a, passcode_hash(&h, "u1", "123457"));
        assert_ne!(link_hash(&h, "123456"), a);
        assert!(!a.contains("123456"));
        let other = SecretHasher::new(&[8u8; 32]);
        assert_ne!(a, passcode_hash(&other, "u1", "123456"));
        assert_eq!(format!("{:?}", Secret::new("123456")), "***");
    }
}
