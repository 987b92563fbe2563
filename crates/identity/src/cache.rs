//! Per-node caches of things read on every request: clients with their application, revoked
//! token ids, and verified bearer tokens.
//!
//! Caches are an optimisation only. They are invalidated by this node's own writes at once
//! and by other nodes' writes through the change feed (see `Identity::sync_changes`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::model::{Application, Client, SessionRecord, User};

/// A client together with the application it belongs to.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub client: Client,
    pub app: Application,
}

impl ClientRecord {
    pub fn is_admin(&self) -> bool {
        self.app.management
    }
}

/// Clients by id. A record read from the store is cached only if no invalidation happened
/// since the read began ([`ClientCache::epoch`] / [`ClientCache::insert_if_current`]): otherwise
/// a request that read a client just before an update or a deletion could put the old record
/// back after this node had dropped it, and it would stay until the client's next change.
#[derive(Default)]
pub struct ClientCache {
    by_id: RwLock<HashMap<String, Arc<ClientRecord>>>,
    /// Bumped (under the write lock) by every invalidation.
    epoch: AtomicU64,
}

impl ClientCache {
    pub fn get(&self, client_id: &str) -> Option<Arc<ClientRecord>> {
        self.by_id.read().get(client_id).cloned()
    }

    /// The invalidation count; read it before reading a record from the store.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches `record` unless something was invalidated since `epoch` was read; whether it
    /// was cached.
    pub fn insert_if_current(&self, record: Arc<ClientRecord>, epoch: u64) -> bool {
        let mut map = self.by_id.write();
        if self.epoch.load(Ordering::Acquire) != epoch {
            return false;
        }
        // A bounded cache: an attacker cycling through client ids cannot grow it forever.
        if map.len() >= 50_000 {
            map.clear();
        }
        map.insert(record.client.client_id.clone(), record);
        true
    }

    pub fn remove(&self, client_id: &str) {
        let mut map = self.by_id.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        map.remove(client_id);
    }

    pub fn remove_app(&self, app_id: &str) {
        let mut map = self.by_id.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        map.retain(|_, r| r.app.app_id != app_id);
    }

    pub fn clear(&self) {
        let mut map = self.by_id.write();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }
}

/// The ids of revoked, unexpired access tokens.
#[derive(Default)]
pub struct RevokedSet {
    jtis: RwLock<HashSet<String>>,
}

impl RevokedSet {
    pub fn contains(&self, jti: &str) -> bool {
        self.jtis.read().contains(jti)
    }

    pub fn insert(&self, jti: String) {
        self.jtis.write().insert(jti);
    }

    pub fn replace_all(&self, jtis: Vec<String>) {
        *self.jtis.write() = jtis.into_iter().collect();
    }
}

/// What verifying a bearer token established; cached until the token expires.
#[derive(Debug, Clone)]
pub struct VerifiedAccessToken {
    pub client_id: String,
    pub sub: String,
    pub jti: String,
    pub exp: i64,
    pub scope: Option<String>,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Verified bearer tokens by their exact text, so repeated calls skip the signature check.
/// Revocation, client state and expiry are still checked on every use.
pub struct TokenCache {
    entries: RwLock<HashMap<Box<str>, Arc<VerifiedAccessToken>>>,
    capacity: usize,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    pub fn get(&self, token: &str) -> Option<Arc<VerifiedAccessToken>> {
        self.entries.read().get(token).cloned()
    }

    pub fn insert(&self, token: &str, verified: Arc<VerifiedAccessToken>, now_s: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.entries.write();
        if map.len() >= self.capacity {
            map.retain(|_, v| v.exp > now_s);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(token.into(), verified);
    }
}

/// The session and user-status checks of user access tokens, reused for `ttl_ms`. Dropped
/// at once by this node's logouts and user writes, and by other nodes' through the change
/// feed (`Session` and `User` changes).
pub struct LiveChecks {
    sessions: RwLock<HashMap<String, CachedSession>>,
    users: RwLock<HashMap<String, CachedUser>>,
    ttl_ms: i64,
    /// Bumped (under the map's write lock) by every removal, so that a record read before a
    /// logout or a user change is not put back after it (see [`ClientCache`]).
    session_epoch: AtomicU64,
    user_epoch: AtomicU64,
}

/// A user as last read (`None`: it did not exist) and when, in milliseconds.
type CachedUser = (Option<Arc<User>>, i64);

/// A session as last read (`None`: it did not exist) and when, in milliseconds.
type CachedSession = (Option<Arc<SessionRecord>>, i64);

/// Entries kept per map before it is cleared.
const LIVE_CHECK_CAPACITY: usize = 100_000;

impl LiveChecks {
    pub fn new(ttl_ms: i64) -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
            users: RwLock::new(HashMap::new()),
            ttl_ms,
            session_epoch: AtomicU64::new(0),
            user_epoch: AtomicU64::new(0),
        }
    }

    /// Read before reading a session from the store; pass it to [`Self::put_session`].
    pub fn session_epoch(&self) -> u64 {
        self.session_epoch.load(Ordering::Acquire)
    }

    /// Read before reading a user from the store; pass it to [`Self::put_user`].
    pub fn user_epoch(&self) -> u64 {
        self.user_epoch.load(Ordering::Acquire)
    }

    /// The cached session (`Some(None)`: known not to exist), if still fresh.
    pub fn session(&self, session_hash: &str, now_ms: i64) -> Option<Option<Arc<SessionRecord>>> {
        let map = self.sessions.read();
        let (record, at) = map.get(session_hash)?;
        (now_ms - *at < self.ttl_ms).then(|| record.clone())
    }

    /// Caches `record` unless a session was dropped since `epoch` was read.
    pub fn put_session(
        &self,
        session_hash: &str,
        record: Option<Arc<SessionRecord>>,
        now_ms: i64,
        epoch: u64,
    ) {
        let mut map = self.sessions.write();
        if self.session_epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if map.len() >= LIVE_CHECK_CAPACITY {
            map.clear();
        }
        map.insert(session_hash.to_string(), (record, now_ms));
    }

    pub fn remove_session(&self, session_hash: &str) {
        let mut map = self.sessions.write();
        self.session_epoch.fetch_add(1, Ordering::AcqRel);
        map.remove(session_hash);
    }

    /// The cached user (`Some(None)`: known not to exist), if still fresh.
    pub fn user(&self, user_id: &str, now_ms: i64) -> Option<Option<Arc<User>>> {
        let map = self.users.read();
        let (record, at) = map.get(user_id)?;
        (now_ms - *at < self.ttl_ms).then(|| record.clone())
    }

    /// Caches `record` unless a user was dropped since `epoch` was read.
    pub fn put_user(&self, user_id: &str, record: Option<Arc<User>>, now_ms: i64, epoch: u64) {
        let mut map = self.users.write();
        if self.user_epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if map.len() >= LIVE_CHECK_CAPACITY {
            map.clear();
        }
        map.insert(user_id.to_string(), (record, now_ms));
    }

    pub fn remove_user(&self, user_id: &str) {
        let mut map = self.users.write();
        self.user_epoch.fetch_add(1, Ordering::AcqRel);
        map.remove(user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(client_id: &str, app_id: &str) -> Arc<ClientRecord> {
        let settings = serde_json::from_value(serde_json::json!({"name": "c"})).unwrap();
        Arc::new(ClientRecord {
            client: Client {
                client_id: client_id.into(),
                app_id: app_id.into(),
                secret_hash: vec![1],
                previous_secret_hash: None,
                previous_secret_expires_at: None,
                settings,
                created_at: 0,
                updated_at: 0,
            },
            app: Application {
                app_id: app_id.into(),
                name: "a".into(),
                description: None,
                management: false,
                created_at: 0,
                updated_at: 0,
            },
        })
    }

    #[test]
    fn a_record_read_before_an_invalidation_is_not_cached() {
        let cache = ClientCache::default();
        // Read began, then the client was updated (or deleted) and dropped from the cache.
        let epoch = cache.epoch();
        cache.remove("c1");
        assert!(!cache.insert_if_current(record("c1", "a1"), epoch));
        assert!(cache.get("c1").is_none());
        // The same for an application-wide invalidation.
        let epoch = cache.epoch();
        cache.remove_app("a1");
        assert!(!cache.insert_if_current(record("c1", "a1"), epoch));
        assert!(cache.get("c1").is_none());
        // With no invalidation in between, the record is cached.
        let epoch = cache.epoch();
        assert!(cache.insert_if_current(record("c1", "a1"), epoch));
        assert!(cache.get("c1").is_some());
        cache.remove_app("a1");
        assert!(cache.get("c1").is_none());
    }

    #[test]
    fn a_session_or_user_read_before_a_logout_or_change_is_not_cached() {
        let live = LiveChecks::new(2_000);
        let session = Arc::new(SessionRecord {
            session_hash: "h1".into(),
            user_id: "u1".into(),
            client_id: "c1".into(),
            methods: vec!["pwd".into()],
            auth_time: 0,
            created_at: 0,
            last_used_at: 0,
            expires_at: 10_000,
            ended_at: None,
        });
        // Read began, then this node logged the session out: the live copy is not cached.
        let epoch = live.session_epoch();
        live.remove_session("h1");
        live.put_session("h1", Some(session.clone()), 0, epoch);
        assert!(live.session("h1", 1).is_none());
        // With no logout in between, it is cached until the TTL.
        let epoch = live.session_epoch();
        live.put_session("h1", Some(session), 0, epoch);
        assert!(live.session("h1", 1).is_some_and(|s| s.is_some()));
        assert!(live.session("h1", 2_000).is_none(), "expired after the TTL");
        // Users: the same.
        let epoch = live.user_epoch();
        live.remove_user("u1");
        live.put_user("u1", None, 0, epoch);
        assert!(live.user("u1", 1).is_none());
        let epoch = live.user_epoch();
        live.put_user("u1", None, 0, epoch);
        assert_eq!(live.user("u1", 1).map(|u| u.is_none()), Some(true));
    }
}
