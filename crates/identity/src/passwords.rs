//! User password hashing: Argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1),
//! run off the async executor on tokio's blocking pool, at most one hash per core at a time.
//!
//! This is the only place in `identity` that uses tokio (`rt` and `sync` only): Argon2 costs
//! tens of milliseconds of CPU and must not block the executor, and a semaphore bounds how
//! many run at once so a burst of logins queues instead of exhausting the blocking pool.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::model::PasswordHash;

/// OWASP's Argon2id recommendation: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

/// Hashes and verifies user passwords with bounded concurrency.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(cores)
    }
}

fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &[u8]) -> Result<PasswordHash, Error> {
    let mut salt = [0u8; 16];
    tessera_jose::random_bytes(&mut salt)?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::internal(format!("argon2 salt: {e}")))?;
    let hash = argon2()?
        .hash_password(password, &salt)
        .map_err(|e| Error::internal(format!("argon2 hash: {e}")))?;
    Ok(PasswordHash(hash.to_string()))
}

fn verify_blocking(phc: &str, password: &[u8]) -> Result<bool, Error> {
    let parsed = argon2::password_hash::PasswordHash::new(phc)
        .map_err(|e| Error::internal(format!("stored password hash: {e}")))?;
    Ok(argon2()?.verify_password(password, &parsed).is_ok())
}

/// A hash of a random password with the same parameters, so checking an unknown user costs
/// the same time as checking a real one. Computed once per process.
fn dummy_hash() -> Result<&'static str, Error> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let mut random = [0u8; 32];
    tessera_jose::random_bytes(&mut random)?;
    let hash = hash_blocking(&random)?;
    Ok(DUMMY.get_or_init(|| hash.0))
}

impl Passwords {
    /// At most `concurrency` (≥ 1) hashes run at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Error> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("password hasher closed"))?;
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::internal("password hashing needs a tokio runtime"))?;
        handle
            .spawn_blocking(job)
            .await
            .map_err(|e| Error::internal(format!("password hashing task: {e}")))?
    }

    /// Hashes a password (Argon2id, random 128-bit salt, PHC string).
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<PasswordHash, Error> {
        self.run(move || hash_blocking(password.as_bytes())).await
    }

    /// Checks `password` against `hash`. Without a hash (unknown user, or a user without a
    /// password) it checks against a dummy hash and returns false, taking the same time.
    pub async fn verify(
        &self,
        hash: Option<&PasswordHash>,
        password: Zeroizing<String>,
    ) -> Result<bool, Error> {
        let stored = hash.map(|h| h.0.clone());
        self.run(move || match stored {
            Some(phc) => verify_blocking(&phc, password.as_bytes()),
            None => {
                verify_blocking(dummy_hash()?, password.as_bytes())?;
                Ok(false)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let p = Passwords::new(2);
        let h = p
            .hash(Zeroizing::new("correct horse".into()))
            .await
            .unwrap();
        assert!(
            h.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            h.0
        );
        assert!(p
            .verify(Some(&h), Zeroizing::new("correct horse".into()))
            .await
            .unwrap());
        assert!(!p
            .verify(Some(&h), Zeroizing::new("correct horsE".into()))
            .await
            .unwrap());
        assert!(!p
            .verify(None, Zeroizing::new("correct horse".into()))
            .await
            .unwrap());
        // Salted: the same password hashes differently.
        let h2 = p
            .hash(Zeroizing::new("correct horse".into()))
            .await
            .unwrap();
        assert_ne!(h, h2);
        assert_eq!(format!("{h:?}"), "PasswordHash(***)");
    }
}
