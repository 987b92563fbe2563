//! [`LiveChecks`]: whether a session is live and a user active, as read at most
//! `ttl_ms` ago on this node. A user access token is accepted only while both hold (SPEC §4),
//! and refresh needs the same answers, so they are cached briefly; this node's logouts and
//! user writes drop them at once (the `sessions` and `users` components call
//! [`LiveChecks::forget_session`] / [`LiveChecks::forget_user`]), other nodes' through
//! `Session`/`User` change rows. Both caches follow the epoch rule of `cache.rs`.

use std::sync::Arc;

use crate::cache::EpochCache;
use crate::changes::FollowChanges;
use crate::clock::Clock;
use crate::error::Error;
use crate::model::{Change, ChangeKind, SessionRecord, User, UserStatus};
use crate::ports::{SessionStore, UserStore};

/// Entries kept per map before it is cleared.
const CAPACITY: usize = 100_000;

pub struct LiveChecks {
    sessions: Arc<dyn SessionStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    session_cache: EpochCache<Option<Arc<SessionRecord>>>,
    user_cache: EpochCache<Option<Arc<User>>>,
}

impl LiveChecks {
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        ttl_ms: i64,
    ) -> Self {
        Self {
            sessions,
            users,
            clock,
            session_cache: EpochCache::new(CAPACITY, Some(ttl_ms)),
            user_cache: EpochCache::new(CAPACITY, Some(ttl_ms)),
        }
    }

    /// The session as read at most `ttl_ms` ago (`None`: it does not exist).
    pub async fn session(&self, session_hash: &str) -> Result<Option<Arc<SessionRecord>>, Error> {
        let store = self.sessions.clone();
        let key = session_hash.to_string();
        self.session_cache
            .get_or_load(session_hash, self.clock.now_ms(), || async move {
                Ok(store.get_session(&key).await?.map(Arc::new))
            })
            .await
    }

    /// The user as read at most `ttl_ms` ago (`None`: it does not exist).
    pub async fn user(&self, user_id: &str) -> Result<Option<Arc<User>>, Error> {
        let store = self.users.clone();
        let key = user_id.to_string();
        self.user_cache
            .get_or_load(user_id, self.clock.now_ms(), || async move {
                Ok(store.get_user(&key).await?.map(Arc::new))
            })
            .await
    }

    /// The live session `session_hash` of `user_id`, if it is one.
    pub async fn live_session(
        &self,
        session_hash: &str,
        user_id: &str,
    ) -> Result<Option<Arc<SessionRecord>>, Error> {
        let now_s = self.clock.now_s();
        Ok(self
            .session(session_hash)
            .await?
            .filter(|s| s.user_id == user_id && s.ended_at.is_none() && s.expires_at > now_s))
    }

    /// The active user `user_id`, if it is one.
    pub async fn active_user(&self, user_id: &str) -> Result<Option<Arc<User>>, Error> {
        Ok(self
            .user(user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active))
    }

    /// Whether a user token of `user_id` in session `session_hash` may still be used.
    pub async fn user_token_live(&self, session_hash: &str, user_id: &str) -> Result<bool, Error> {
        Ok(self.live_session(session_hash, user_id).await?.is_some()
            && self.active_user(user_id).await?.is_some())
    }

    pub fn forget_session(&self, session_hash: &str) {
        self.session_cache.remove(session_hash);
    }

    pub fn forget_user(&self, user_id: &str) {
        self.user_cache.remove(user_id);
    }
}

#[async_trait::async_trait]
impl FollowChanges for LiveChecks {
    fn follows(&self, kind: ChangeKind) -> bool {
        matches!(kind, ChangeKind::Session | ChangeKind::User)
    }

    async fn apply(&self, changes: &[&Change]) -> Result<(), Error> {
        for change in changes {
            match change.kind {
                ChangeKind::Session => self.forget_session(&change.key),
                _ => self.forget_user(&change.key),
            }
        }
        Ok(())
    }
}
