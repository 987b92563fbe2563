//! Signing keys: the [`Keys`] component (load, sign, verify our own tokens, rotate, follow
//! other nodes' rotations) and the in-memory key ring.
//!
//! Keys live in the store with their private part sealed under the KEK; the ring holds them
//! unsealed and is swapped whole (`ArcSwap`) when the store's keys change, so signing never
//! takes a lock.
//!
//! Invariants:
//! - Rotation publishes new keys at once and signs with them only after
//!   `activation_delay_s`, so relying parties' JWKS caches see a key before any token it
//!   signed; the old keys stay published until activation + the longest client token
//!   lifetime + leeway, then housekeeping deletes them.
//! - Reloads are serialized ("read, install" under one lock): a reload that read before a
//!   rotation can never install its older copy after the rotation's own reload.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tessera_jose::{Algorithm, JwkSet, Kek, SigningKey, VerificationKeys};

/// Algorithms Tessera signs with, and so accepts for its own tokens.
const OWN_ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

use serde::Serialize;
use serde_json::{Map, Value};

use crate::caller::Admin;
use crate::changes::FollowChanges;
use crate::clock::Clock;
use crate::error::Error;
use crate::model::{Change, ChangeKind, StoredSigningKey};
use crate::ports::{ClientStore, KeyStore};

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
struct KeyRing {
    current: ArcSwap<KeySnapshot>,
}

impl KeyRing {
    fn load(stored: &[StoredSigningKey], kek: &Kek) -> Result<Self, Error> {
        Ok(Self {
            current: ArcSwap::from_pointee(KeySnapshot::build(stored, kek)?),
        })
    }

    fn replace(&self, stored: &[StoredSigningKey], kek: &Kek) -> Result<(), Error> {
        self.current
            .store(Arc::new(KeySnapshot::build(stored, kek)?));
        Ok(())
    }

    fn snapshot(&self) -> arc_swap::Guard<Arc<KeySnapshot>> {
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

/// A token Tessera signed, with a valid signature of one of our keys (nothing else checked).
#[derive(Debug)]
pub struct SignedToken {
    pub typ: Option<String>,
    pub claims: Map<String, Value>,
}

/// The signing keys of the tenant.
pub struct Keys {
    store: Arc<dyn KeyStore>,
    /// Read for the longest token lifetime a rotation must keep old keys published.
    clients: Arc<dyn ClientStore>,
    kek: Arc<Kek>,
    clock: Arc<dyn Clock>,
    ring: KeyRing,
    /// Held across "read from the store, install in memory".
    reload: tokio::sync::Mutex<()>,
    activation_delay_s: i64,
    leeway_s: i64,
}

impl Keys {
    /// Drops retired keys and loads the others.
    pub async fn load(
        store: Arc<dyn KeyStore>,
        clients: Arc<dyn ClientStore>,
        kek: Arc<Kek>,
        clock: Arc<dyn Clock>,
        activation_delay_s: i64,
        leeway_s: i64,
    ) -> Result<Self, Error> {
        store.delete_retired_signing_keys(clock.now_s()).await?;
        let ring = KeyRing::load(&store.list_signing_keys().await?, &kek)?;
        Ok(Self {
            store,
            clients,
            kek,
            clock,
            ring,
            reload: tokio::sync::Mutex::new(()),
            activation_delay_s,
            leeway_s,
        })
    }

    /// The public keys to publish now.
    pub fn jwks(&self) -> JwkSet {
        self.ring.snapshot().jwks(self.clock.now_s())
    }

    /// A rotated-in key signs only after this many seconds.
    pub fn activation_delay_s(&self) -> i64 {
        self.activation_delay_s
    }

    /// Signs `claims` with the current key of `alg`.
    pub fn sign<T: Serialize>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
    ) -> Result<String, Error> {
        let payload = serde_json::to_vec(claims).map_err(|e| Error::internal(e.to_string()))?;
        let snapshot = self.ring.snapshot();
        let key = snapshot
            .signer(alg, self.clock.now_s())
            .ok_or_else(|| Error::internal(format!("no active {} signing key", alg.as_str())))?;
        Ok(key.sign_jwt(typ, &payload)?)
    }

    /// Checks the signature of a token one of our keys signed; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<SignedToken> {
        let snapshot = self.ring.snapshot();
        let verified = snapshot
            .verification()
            .verify(token, &OWN_ALGORITHMS)
            .ok()?;
        Some(SignedToken {
            typ: verified.header.typ,
            claims: verified.claims,
        })
    }

    /// Rotates the signing keys (admins): new keys are published now and sign after the
    /// activation delay; the old ones stay published for the longest token lifetime after
    /// that.
    pub async fn rotate(&self, _admin: &Admin) -> Result<Vec<StoredSigningKey>, Error> {
        let now = self.clock.now_s();
        let activate_at = now + self.activation_delay_s;
        let retire_at = activate_at + self.longest_token_ttl().await? + self.leeway_s;
        let existing = self.store.list_signing_keys().await?;
        let retire: Vec<(String, i64)> = existing
            .iter()
            .filter(|k| k.retire_at.is_none())
            .map(|k| (k.kid.clone(), retire_at))
            .collect();
        let new_keys = SIGNING_ALGORITHMS
            .iter()
            .map(|alg| new_stored_key(*alg, &self.kek, now, activate_at))
            .collect::<Result<Vec<_>, _>>()?;
        self.store.rotate_signing_keys(&new_keys, &retire).await?;
        self.reload().await?;
        Ok(new_keys)
    }

    async fn longest_token_ttl(&self) -> Result<i64, Error> {
        let mut longest: i64 = 3600;
        for app in self.clients.list_applications().await? {
            for c in self.clients.list_clients(&app.app_id).await? {
                longest = longest
                    .max(i64::from(c.settings.access_token_ttl))
                    .max(i64::from(c.settings.id_token_ttl));
            }
        }
        Ok(longest)
    }

    /// Re-reads the keys from the store.
    pub async fn reload(&self) -> Result<(), Error> {
        let _serialized = self.reload.lock().await;
        let stored = self.store.list_signing_keys().await?;
        self.ring.replace(&stored, &self.kek)
    }

    /// Housekeeping: deletes retired keys.
    pub async fn purge(&self) -> Result<(), Error> {
        let removed = self
            .store
            .delete_retired_signing_keys(self.clock.now_s())
            .await?;
        if removed > 0 {
            self.reload().await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl FollowChanges for Keys {
    fn follows(&self, kind: ChangeKind) -> bool {
        kind == ChangeKind::SigningKeys
    }

    async fn apply(&self, _changes: &[&Change]) -> Result<(), Error> {
        self.reload().await
    }
}
