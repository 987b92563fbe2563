//! The key ring: the signing keys in memory, which one signs now, and what the JWKS shows.
//!
//! Keys live in the store with their private part sealed under the KEK; the ring holds them
//! unsealed and is swapped whole (`ArcSwap`) when the store's keys change, so signing never
//! takes a lock.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_jose::{Algorithm, JwkSet, Kek, SigningKey, VerificationKeys};

use crate::error::Error;
use crate::model::StoredSigningKey;

/// The algorithms Tessera signs with; each has its own current key.
pub const SIGNING_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

struct RingKey {
    signer: Arc<SigningKey>,
    activate_at: i64,
    retire_at: Option<i64>,
}

/// An immutable snapshot of the keys.
pub struct KeySnapshot {
    keys: Vec<RingKey>,
    verification: VerificationKeys,
}

impl KeySnapshot {
    fn build(stored: &[StoredSigningKey], kek: &Kek) -> Result<Self, Error> {
        let mut keys = Vec::with_capacity(stored.len());
        let mut jwks = JwkSet::default();
        for s in stored {
            let der = kek.open(&s.sealed_private_key, s.kid.as_bytes())?;
            let signer = SigningKey::from_pkcs8(s.alg, s.kid.clone(), &der)?;
            jwks.keys.push(signer.public_jwk());
            keys.push(RingKey {
                signer: Arc::new(signer),
                activate_at: s.activate_at,
                retire_at: s.retire_at,
            });
        }
        // Newest activation first, so the first active key of an algorithm is the current one.
        keys.sort_by_key(|k| std::cmp::Reverse(k.activate_at));
        let verification = VerificationKeys::from_jwks(&jwks)?;
        Ok(Self { keys, verification })
    }

    /// The key that signs `alg` tokens at `now_s`: the newest one already active.
    pub fn signer(&self, alg: Algorithm, now_s: i64) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .find(|k| k.signer.alg() == alg && k.activate_at <= now_s)
            .map(|k| &k.signer)
    }

    /// The public keys to publish at `now_s`: every key not yet retired, current and next.
    pub fn jwks(&self, now_s: i64) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| k.retire_at.is_none_or(|r| r > now_s))
                .map(|k| k.signer.public_jwk())
                .collect(),
        }
    }

    /// Verification keys for tokens Tessera itself issued.
    pub fn verification(&self) -> &VerificationKeys {
        &self.verification
    }
}

/// The shared, swappable key ring.
pub struct KeyRing {
    current: ArcSwap<KeySnapshot>,
}

impl KeyRing {
    pub fn load(stored: &[StoredSigningKey], kek: &Kek) -> Result<Self, Error> {
        Ok(Self {
            current: ArcSwap::from_pointee(KeySnapshot::build(stored, kek)?),
        })
    }

    pub fn replace(&self, stored: &[StoredSigningKey], kek: &Kek) -> Result<(), Error> {
        self.current
            .store(Arc::new(KeySnapshot::build(stored, kek)?));
        Ok(())
    }

    pub fn snapshot(&self) -> arc_swap::Guard<Arc<KeySnapshot>> {
        self.current.load()
    }
}

/// Creates a fresh key of `alg` sealed for storage.
pub fn new_stored_key(
    alg: Algorithm,
    kek: &Kek,
    now_s: i64,
    activate_at: i64,
) -> Result<StoredSigningKey, Error> {
    let kid = format!(
        "{}-{}",
        alg.as_str().to_ascii_lowercase(),
        tessera_jose::random_token_b64url(12)?
    );
    let key = SigningKey::generate(alg, kid.clone())?;
    let der = key.to_pkcs8();
    let sealed = kek.seal(&der, kid.as_bytes())?;
    Ok(StoredSigningKey {
        kid,
        alg,
        public_jwk: key.public_jwk(),
        sealed_private_key: sealed,
        created_at: now_s,
        activate_at,
        retire_at: None,
    })
}
