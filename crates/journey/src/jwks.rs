//! A per-connection JWKS cache for `jwt_validator` connections with a `jwks_uri`: keys are
//! fetched on first use, kept for an hour, and refetched for an unknown `kid` at most once a
//! minute (by the run clock), so hostile tokens cannot make Tessera hammer the key server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_jose::{JwkSet, VerificationKeys};

use crate::outbound::{Outbound, OutboundRequest};

/// How long fetched keys are used before a refresh.
const MAX_AGE_MS: i64 = 3_600_000;
/// Minimum gap between refetches triggered by an unknown `kid`.
const REFETCH_GAP_MS: i64 = 60_000;
/// Largest accepted JWKS body.
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct Entry {
    keys: Arc<VerificationKeys>,
    fetched_at_ms: i64,
}

/// Shared JWKS cache (one per server; cheap to share by reference).
#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksCache")
    }
}

impl JwksCache {
    /// An empty cache.
    pub fn new() -> Self {
        JwksCache::default()
    }

    /// Forgets everything cached for a connection (call when it is updated or deleted).
    pub fn invalidate(&self, connection: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|k, _| k.split('\n').next() != Some(connection));
        }
    }

    fn cached(&self, key: &str) -> Option<Entry> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Keys for the connection: cached, or fetched when absent or older than an hour.
    pub(crate) async fn keys(
        &self,
        connection: &str,
        uri: &str,
        outbound: &dyn Outbound,
        now_ms: i64,
        timeout: Duration,
    ) -> Result<Arc<VerificationKeys>, String> {
        let key = format!("{connection}\n{uri}");
        if let Some(entry) = self.cached(&key) {
            if now_ms - entry.fetched_at_ms < MAX_AGE_MS {
                return Ok(entry.keys);
            }
        }
        self.fetch(&key, uri, outbound, now_ms, timeout).await
    }

    /// Refetches after an unknown `kid`, unless the last fetch was less than a minute ago
    /// (then `Ok(None)`).
    pub(crate) async fn refetch(
        &self,
        connection: &str,
        uri: &str,
        outbound: &dyn Outbound,
        now_ms: i64,
        timeout: Duration,
    ) -> Result<Option<Arc<VerificationKeys>>, String> {
        let key = format!("{connection}\n{uri}");
        if let Some(entry) = self.cached(&key) {
            if now_ms - entry.fetched_at_ms < REFETCH_GAP_MS {
                return Ok(None);
            }
        }
        self.fetch(&key, uri, outbound, now_ms, timeout)
            .await
            .map(Some)
    }

    async fn fetch(
        &self,
        key: &str,
        uri: &str,
        outbound: &dyn Outbound,
        now_ms: i64,
        timeout: Duration,
    ) -> Result<Arc<VerificationKeys>, String> {
        let response = outbound
            .send(OutboundRequest {
                method: "GET".into(),
                url: uri.to_string(),
                headers: vec![("accept".into(), "application/json".into())],
                body: None,
                timeout,
                connection: None,
            })
            .await
            .map_err(|e| format!("fetching the JWKS failed: {}", e.kind.as_str()))?;
        if !(200..300).contains(&response.status) || response.body.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "fetching the JWKS failed: status {}",
                response.status
            ));
        }
        let set: JwkSet = serde_json::from_slice(&response.body)
            .map_err(|_| "the JWKS is not a valid JWK set".to_string())?;
        let (keys, _skipped) = VerificationKeys::from_jwks_lenient(&set);
        if keys.is_empty() {
            return Err("the JWKS has no usable key".into());
        }
        let keys = Arc::new(keys);
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                key.to_string(),
                Entry {
                    keys: keys.clone(),
                    fetched_at_ms: now_ms,
                },
            );
        }
        Ok(keys)
    }
}
