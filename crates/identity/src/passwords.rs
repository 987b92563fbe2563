//! User password hashing: Argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1),
//! run off the async executor on tokio's blocking pool, at most one hash per core at a time.
//!
//! This is the only place in `identity` that uses tokio (`rt` and `sync` only): Argon2 costs
//! tens of milliseconds of CPU and must not block the executor, and a semaphore bounds how
//! many run at once so a burst of logins queues instead of exhausting the blocking pool.

use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, PasswordHash as Phc, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::model::PasswordHash;

/// OWASP's Argon2id recommendation: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// Length of the hash in a PHC string (argon2's default).
const OUTPUT_LEN: usize = 32;

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

fn params() -> Result<Params, Error> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))
}

/// Argon2's working memory (19 MiB a hash), kept for the next hash instead of freed. Freed,
/// glibc keeps such blocks in the arena of whichever blocking-pool thread ran the hash, so a
/// process that had hashed on many threads held hundreds of MiB (the soak of RELIABILITY.md:
/// 550–840 MiB). Reused, the memory is bounded by the hashes running at once, which the
/// semaphore bounds; at most `MAX_POOLED` buffers wait here.
static MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
const MAX_POOLED: usize = 64;

fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let pooled = MEMORY.lock().ok().and_then(|mut pool| pool.pop());
    let mut memory = pooled
        .filter(|m| m.len() == blocks)
        .unwrap_or_else(|| vec![Block::default(); blocks]);
    let out = f(&mut memory);
    if let Ok(mut pool) = MEMORY.lock() {
        if pool.len() < MAX_POOLED {
            pool.push(memory);
        }
    }
    out
}

/// Argon2id of `password` and raw `salt` into `out`, in pooled memory.
fn compute(
    params: Params,
    version: Version,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let blocks = params.block_count();
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
    with_memory(blocks, |memory| {
        argon2.hash_password_into_with_memory(password, salt, out, memory)
    })
    .map_err(|e| Error::internal(format!("argon2 hash: {e}")))
}

fn hash_blocking(password: &[u8]) -> Result<PasswordHash, Error> {
    let bad = |e: argon2::password_hash::Error| Error::internal(format!("argon2 PHC: {e}"));
    let mut salt = [0u8; 16];
    tessera_jose::random_bytes(&mut salt)?;
    let params = params()?;
    let mut out = [0u8; OUTPUT_LEN];
    compute(params.clone(), Version::V0x13, password, &salt, &mut out)?;
    let salt = SaltString::encode_b64(&salt).map_err(bad)?;
    let phc = Phc {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(bad)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(bad)?),
    };
    Ok(PasswordHash(phc.to_string()))
}

fn verify_blocking(phc: &str, password: &[u8]) -> Result<bool, Error> {
    let bad =
        |e: argon2::password_hash::Error| Error::internal(format!("stored password hash: {e}"));
    let parsed = Phc::new(phc).map_err(bad)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(Error::internal("stored password hash: not argon2id"));
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(Error::internal("stored password hash: no salt or hash"));
    };
    let params = Params::try_from(&parsed).map_err(bad)?;
    let version = Version::try_from(parsed.version.unwrap_or(Version::V0x13.into()))
        .map_err(|e| Error::internal(format!("stored password hash: {e}")))?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(bad)?;
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    compute(params, version, password, salt, &mut out)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(bad)? == expected)
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

    /// The pooled-memory path writes and reads the same PHC strings as argon2's own
    /// `PasswordHasher`/`PasswordVerifier`, so hashes stored before it still verify.
    #[test]
    fn phc_strings_agree_with_argon2s_own() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap());
        let theirs = argon2
            .hash_password(
                b"correct horse",
                &SaltString::encode_b64(b"0123456789abcdef").unwrap(),
            )
            .unwrap()
            .to_string();
        assert!(verify_blocking(&theirs, b"correct horse").unwrap());
        assert!(!verify_blocking(&theirs, b"correct horsE").unwrap());
        let ours = hash_blocking(b"correct horse").unwrap().0;
        let parsed = Phc::new(&ours).unwrap();
        assert!(argon2.verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2.verify_password(b"wrong", &parsed).is_err());
        // Other parameters (an older or tuned hash) verify too, in memory of their size.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        );
        let other = small
            .hash_password(b"pw", &SaltString::encode_b64(b"saltsaltsaltsalt").unwrap())
            .unwrap()
            .to_string();
        assert!(verify_blocking(&other, b"pw").unwrap());
        assert!(!verify_blocking(&other, b"px").unwrap());
    }
}
