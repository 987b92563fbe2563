//! Small primitives: base64url, SHA-256, secure randomness and constant-time comparison.
//!
//! All of them delegate to `base64` and aws-lc-rs; nothing here implements cryptography.

use aws_lc_rs::{constant_time, digest, rand};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::JoseError;

/// Encodes bytes as unpadded base64url (RFC 4648 §5), as JOSE requires.
pub fn b64url_encode(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes strict unpadded base64url: padding, other alphabets and non-canonical trailing bits
/// are refused, so each value has exactly one accepted encoding.
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JoseError::Malformed("base64url"))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    let digest = digest::digest(&digest::SHA512, data);
    let mut out = [0u8; 64];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Compares two byte strings in time independent of their contents (not of their lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// Fills `buf` from the operating system's CSPRNG (through aws-lc).
pub fn random_bytes(buf: &mut [u8]) -> Result<(), JoseError> {
    rand::fill(buf).map_err(|_| JoseError::Crypto)
}

/// `bytes` random bytes encoded as unpadded base64url (e.g. 32 for a 256-bit opaque token).
pub fn random_token_b64url(bytes: usize) -> Result<String, JoseError> {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    random_bytes(&mut buf)?;
    Ok(b64url_encode(&buf))
}

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Largest multiple of 62 that fits in a byte: bytes at or above it are rejected so that every
/// character is exactly equally likely (no modulo bias).
const ALPHANUMERIC_ACCEPT_BELOW: u8 = 248;

/// A uniformly random string of `len` characters from `[A-Za-z0-9]`.
///
/// Each character carries log2(62) ≈ 5.95 bits, so 43 characters give ≥ 256 bits (the client
/// secret minimum). Uses rejection sampling, never `byte % 62` on the full byte range.
pub fn random_alphanumeric(len: usize) -> Result<String, JoseError> {
    let mut out = String::with_capacity(len);
    // 248/256 of bytes are accepted; drawing a little more than needed usually takes one round.
    let mut buf = zeroize::Zeroizing::new(vec![0u8; len + len / 8 + 8]);
    while out.len() < len {
        random_bytes(&mut buf)?;
        for &byte in buf.iter() {
            if out.len() == len {
                break;
            }
            if byte < ALPHANUMERIC_ACCEPT_BELOW {
                out.push(char::from(ALPHANUMERIC[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}
