//! [`EpochCache`]: the per-node cache every component uses for what it reads on many
//! requests (clients with their application, sessions and users of live checks, compiled
//! journeys, connections).
//!
//! Caches are an optimisation only: local writes invalidate at once, other nodes' writes
//! through the change feed (`changes.rs`). The rule that keeps them from going stale:
//! **a value read from the store is cached only if no invalidation happened since the read
//! began.** Every invalidation bumps an epoch under the map's write lock; a loader reads the
//! epoch before it reads the store and inserts only if the epoch is unchanged. Without it, a
//! request that read a record just before an update or a deletion could put the old record
//! back after this node dropped it, and it would stay until the record's next change.
//! [`EpochCache::get_or_load`] is the one implementation of that rule.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::error::Error;

struct Entry<V> {
    value: V,
    at_ms: i64,
}

/// A map from string keys to values with invalidation epochs, an optional time to live and
/// a bound on its size (reaching it clears the map, so an attacker cycling through ids
/// cannot grow it forever).
pub struct EpochCache<V> {
    map: RwLock<HashMap<String, Entry<V>>>,
    epoch: AtomicU64,
    capacity: usize,
    /// Entries older than this are not returned; `None`: until invalidated.
    ttl_ms: Option<i64>,
}

impl<V: Clone> EpochCache<V> {
    pub fn new(capacity: usize, ttl_ms: Option<i64>) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            capacity,
            ttl_ms,
        }
    }

    /// The cached value, if present and fresh at `now_ms`.
    pub fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        let map = self.map.read();
        let entry = map.get(key)?;
        match self.ttl_ms {
            Some(ttl) if now_ms - entry.at_ms >= ttl => None,
            _ => Some(entry.value.clone()),
        }
    }

    /// The invalidation count; read it before reading a value from the store.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches `value` unless something was invalidated since `epoch` was read; whether it
    /// was cached.
    pub fn insert_if_current(&self, key: &str, value: V, now_ms: i64, epoch: u64) -> bool {
        let mut map = self.map.write();
        if self.epoch.load(Ordering::Acquire) != epoch {
            return false;
        }
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(
            key.to_string(),
            Entry {
                value,
                at_ms: now_ms,
            },
        );
        true
    }

    /// The cached value, or `load()`'s, which is cached under the epoch rule.
    pub async fn get_or_load<F, Fut>(&self, key: &str, now_ms: i64, load: F) -> Result<V, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, Error>>,
    {
        if let Some(v) = self.get(key, now_ms) {
            return Ok(v);
        }
        let epoch = self.epoch();
        let value = load().await?;
        self.insert_if_current(key, value.clone(), now_ms, epoch);
        Ok(value)
    }

    /// Drops one entry (and bumps the epoch).
    pub fn remove(&self, key: &str) {
        let mut map = self.map.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        map.remove(key);
    }

    /// Drops the entries `keep` says no to (and bumps the epoch).
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        let mut map = self.map.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        map.retain(|_, e| keep(&e.value));
    }

    /// Drops everything (and bumps the epoch).
    pub fn clear(&self) {
        let mut map = self.map.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_an_invalidation_is_not_cached() {
        let cache: EpochCache<u32> = EpochCache::new(10, None);
        // Read began, then the record was updated (or deleted) and dropped from the cache.
        let epoch = cache.epoch();
        cache.remove("k");
        assert!(!cache.insert_if_current("k", 1, 0, epoch));
        assert!(cache.get("k", 0).is_none());
        // The same for a wider invalidation.
        let epoch = cache.epoch();
        cache.retain(|_| false);
        assert!(!cache.insert_if_current("k", 1, 0, epoch));
        assert!(cache.get("k", 0).is_none());
        // With no invalidation in between, the value is cached.
        let epoch = cache.epoch();
        assert!(cache.insert_if_current("k", 1, 0, epoch));
        assert_eq!(cache.get("k", 0), Some(1));
        cache.clear();
        assert!(cache.get("k", 0).is_none());
    }

    #[tokio::test]
    async fn get_or_load_does_not_cache_a_load_raced_by_an_invalidation() {
        let cache: EpochCache<u32> = EpochCache::new(10, None);
        // The load runs while another task invalidates the key.
        let v = cache
            .get_or_load("k", 0, || async {
                cache.remove("k");
                Ok(1)
            })
            .await
            .unwrap();
        assert_eq!(v, 1, "the loaded value is still returned");
        assert!(cache.get("k", 0).is_none(), "but not cached");
        let v = cache.get_or_load("k", 0, || async { Ok(2) }).await.unwrap();
        assert_eq!(v, 2);
        assert_eq!(cache.get("k", 0), Some(2));
    }

    #[test]
    fn entries_expire_after_the_ttl_and_the_map_is_bounded() {
        let cache: EpochCache<u32> = EpochCache::new(2, Some(1_000));
        let e = cache.epoch();
        cache.insert_if_current("a", 1, 0, e);
        assert_eq!(cache.get("a", 999), Some(1));
        assert_eq!(cache.get("a", 1_000), None);
        cache.insert_if_current("b", 2, 0, e);
        cache.insert_if_current("c", 3, 0, e);
        assert!(
            cache.get("a", 0).is_none(),
            "reaching the bound cleared the map"
        );
        assert_eq!(cache.get("c", 0), Some(3));
    }
}
