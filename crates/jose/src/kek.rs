//! Key-encryption key (AES-256-GCM sealing at rest) and the keyed secret hasher.
//!
//! Sealed format: `nonce (12 random bytes) || ciphertext || tag (16 bytes)`. The associated
//! data (e.g. the key id or a row id) is authenticated, not stored, so a sealed blob copied to
//! another row fails to open. Random 96-bit nonces are safe for far more than the number of
//! keys and secrets Tessera will ever seal under one KEK.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::{constant_time_eq, random_bytes, JoseError};

/// Length of a KEK in bytes.
pub const KEK_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The key-encryption key. `Debug` prints `Kek(***)`.
///
/// The raw bytes are not kept: only aws-lc's AES-GCM and HMAC key objects, which aws-lc frees
/// (and is responsible for clearing) on drop. Callers should hold the raw bytes in
/// `Zeroizing` only as long as needed.
pub struct Kek {
    aead: LessSafeKey,
    /// HMAC key over the KEK used as the HKDF pseudo-random key for [`Kek::derive`].
    derive_prk: hmac::Key,
}

impl Kek {
    /// A KEK from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Kek, JoseError> {
        if bytes.len() != KEK_LEN {
            return Err(JoseError::InvalidKey("KEK must be exactly 32 bytes"));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| JoseError::InvalidKey("KEK rejected"))?;
        Ok(Kek {
            aead: LessSafeKey::new(unbound),
            derive_prk: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        })
    }

    /// A fresh random KEK and its raw bytes (for persisting, e.g. base64 in a file).
    pub fn generate() -> Result<(Kek, Zeroizing<Vec<u8>>), JoseError> {
        let mut bytes = Zeroizing::new(vec![0u8; KEK_LEN]);
        random_bytes(&mut bytes)?;
        let kek = Kek::from_bytes(&bytes)?;
        Ok((kek, bytes))
    }

    /// Encrypts and authenticates `plaintext`, binding `aad`. Output is
    /// `nonce || ciphertext || tag`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
        let mut nonce_bytes = [0u8; NONCE_LEN];
        random_bytes(&mut nonce_bytes)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(plaintext);
        let tag = self.aead.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts what [`Kek::seal`] produced with the same `aad`. Any tampering, a wrong key
    /// or wrong `aad` is [`JoseError::Decrypt`].
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, JoseError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(JoseError::Decrypt);
        }
        let (nonce_bytes, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| JoseError::Decrypt)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = self
            .aead
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| JoseError::Decrypt)?
            .len();
        buf.truncate(plaintext_len);
        Ok(buf)
    }

    /// Derives an independent 32-byte sub-key for `label` (e.g. `"client-secret-hmac"`).
    ///
    /// This is HKDF-SHA256-Expand (RFC 5869 §2.3) with the KEK as the pseudo-random key and
    /// `label` as info: `HMAC-SHA256(KEK, label || 0x01)`. The KEK is already uniformly random,
    /// so the Extract step is not needed. Different labels give unrelated keys.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.derive_prk);
        ctx.update(label.as_bytes());
        ctx.update(&[0x01]);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(***)")
    }
}

/// HMAC-SHA-256 with a cached key, for storing client secrets as keyed hashes.
pub struct SecretHasher {
    key: hmac::Key,
}

impl SecretHasher {
    /// A hasher keyed with `key` (typically `kek.derive("client-secret-hmac")`).
    pub fn new(key: &[u8; 32]) -> SecretHasher {
        SecretHasher {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// `HMAC-SHA-256(key, secret)`.
    pub fn hash(&self, secret: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&self.key, secret);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `secret` hashes to `expected`, compared in constant time.
    pub fn verify(&self, secret: &[u8], expected: &[u8]) -> bool {
        constant_time_eq(&self.hash(secret), expected)
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(***)")
    }
}
