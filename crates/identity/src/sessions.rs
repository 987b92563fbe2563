//! [`Sessions`]: backend sessions (SPEC §5) — created by a successful authentication,
//! extended by further methods (MFA), resumed by silent authentication, ended by logout.
//!
//! Invariants:
//! - Session ids are 256 random bits, handed to the caller once and stored only as
//!   base64url(SHA-256(id)), which is also the public `sid` claim; [`SessionId`]'s `Debug`
//!   prints `***`.
//! - A session ends at its client's `session_expiration` after creation (absolute), after
//!   `idle_timeout_s` without use (it can then no longer be resumed or extended), or at
//!   logout, which also revokes its refresh tokens in the same transaction.
//! - Adding a method, resuming and ending are single conditional store operations, so a
//!   session that ended on another node cannot be extended here.
//! - This node's changes drop the session from its live checks at once.
//! - Every end of a session (logout by id, by `sid`, "log out everywhere", a replayed
//!   authorization code) goes through [`Sessions::end_by_sid`] or
//!   [`Sessions::end_all_of_user`], which tell the [`SessionEndListener`] (back-channel
//!   logout, `logout.rs`) which sessions ended, so no path can forget it.

use std::sync::{Arc, OnceLock, Weak};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::live::LiveChecks;
use crate::model::{BrowserRelogin, SessionRecord};
use crate::ports::SessionStore;

/// A session id as handed to the caller. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(Zeroizing<String>);

impl SessionId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(Zeroizing::new(id.into()))
    }

    fn generate() -> Result<Self, Error> {
        Ok(Self::new(tessera_jose::random_token_b64url(32)?))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// base64url(SHA-256(id)): the stored key and the `sid` claim.
    pub fn hash(&self) -> String {
        crate::util::sha256_b64url(&self.0)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(***)")
    }
}

impl Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// The token a browser session's cookie holds: 256 random bits, stored only as
/// base64url(SHA-256), rotated at every login. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserToken(Zeroizing<String>);

impl BrowserToken {
    fn generate() -> Result<Self, Error> {
        Ok(Self(Zeroizing::new(tessera_jose::random_token_b64url(32)?)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        Self::hash_of(&self.0)
    }

    fn hash_of(token: &str) -> String {
        crate::util::sha256_b64url(token)
    }
}

impl std::fmt::Debug for BrowserToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BrowserToken(***)")
    }
}

/// Told about every session that ended (after the store ended it): the back-channel logout.
#[async_trait::async_trait]
pub(crate) trait SessionEndListener: Send + Sync {
    /// `ended`: (`sid`, user id) of each session that was live and is now ended.
    async fn sessions_ended(&self, ended: Vec<(String, String)>);
}

pub(crate) fn session_invalid() -> Error {
    Code::AuthSessionInvalid.into()
}

pub struct Sessions {
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    live: Arc<LiveChecks>,
    idle_timeout_s: i64,
    /// Weak: the listener holds these sessions.
    on_end: OnceLock<Weak<dyn SessionEndListener>>,
}

impl Sessions {
    pub fn new(
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        live: Arc<LiveChecks>,
        idle_timeout_s: i64,
    ) -> Self {
        Self {
            store,
            clock,
            live,
            idle_timeout_s,
            on_end: OnceLock::new(),
        }
    }

    /// Sets who hears of ended sessions (once, at wiring).
    pub(crate) fn set_end_listener(&self, listener: Weak<dyn SessionEndListener>) {
        let _ = self.on_end.set(listener);
    }

    async fn ended(&self, ended: Vec<(String, String)>) {
        if ended.is_empty() {
            return;
        }
        if let Some(listener) = self.on_end.get().and_then(Weak::upgrade) {
            listener.sessions_ended(ended).await;
        }
    }

    fn min_last_used(&self, now_s: i64) -> i64 {
        now_s - self.idle_timeout_s
    }

    /// 400 `auth_session_invalid` unless the session can take another method now (checked
    /// before a credential is looked at, so a bad session id changes nothing).
    pub(crate) async fn check_usable(&self, id: &SessionId) -> Result<(), Error> {
        let now = self.clock.now_s();
        match self.store.get_session(&id.hash()).await? {
            Some(s)
                if !s.browser
                    && s.ended_at.is_none()
                    && s.expires_at > now
                    && s.last_used_at >= self.min_last_used(now) =>
            {
                Ok(())
            }
            _ => Err(session_invalid()),
        }
    }

    /// A new session of `user_id` created by `client_id` with its first method.
    pub(crate) async fn start(
        &self,
        user_id: &str,
        client_id: &str,
        method: &str,
        lifetime_s: i64,
    ) -> Result<(SessionId, SessionRecord), Error> {
        let now = self.clock.now_s();
        self.start_with(user_id, client_id, &[method.to_string()], now, lifetime_s)
            .await
    }

    /// The record of a new backend session `id`, starting now.
    fn new_record(
        &self,
        id: &SessionId,
        user_id: &str,
        client_id: &str,
        methods: &[String],
        auth_time: i64,
        lifetime_s: i64,
    ) -> SessionRecord {
        let now = self.clock.now_s();
        SessionRecord {
            session_hash: id.hash(),
            user_id: user_id.to_string(),
            client_id: client_id.to_string(),
            methods: methods.to_vec(),
            auth_time,
            created_at: now,
            last_used_at: now,
            expires_at: now + lifetime_s,
            ended_at: None,
            browser: false,
        }
    }

    /// A new session of `user_id` for `client_id` from an authentication made elsewhere
    /// (CIBA: on the user's own device), with its methods and `auth_time`.
    pub(crate) async fn start_with(
        &self,
        user_id: &str,
        client_id: &str,
        methods: &[String],
        auth_time: i64,
        lifetime_s: i64,
    ) -> Result<(SessionId, SessionRecord), Error> {
        let id = SessionId::generate()?;
        let session = self.new_record(&id, user_id, client_id, methods, auth_time, lifetime_s);
        self.store.create_session(&session).await?;
        Ok((id, session))
    }

    /// Adds `method` to the live session `id` of `user_id` (MFA); `auth_time` becomes now.
    pub(crate) async fn add_method(
        &self,
        id: &SessionId,
        user_id: &str,
        method: &str,
    ) -> Result<SessionRecord, Error> {
        let now = self.clock.now_s();
        let session = self
            .store
            .add_session_method(&id.hash(), user_id, method, now, self.min_last_used(now))
            .await?
            .ok_or_else(session_invalid)?;
        self.live.forget_session(&session.session_hash);
        Ok(session)
    }

    /// The live session `id`, marked used now (silent authentication).
    pub(crate) async fn resume(&self, id: &SessionId) -> Result<SessionRecord, Error> {
        let now = self.clock.now_s();
        self.store
            .touch_session(&id.hash(), now, self.min_last_used(now))
            .await?
            .ok_or_else(session_invalid)
    }

    /// Ends the live session `id` and revokes its refresh tokens. Its access tokens stop
    /// being accepted here at once and on other nodes within a change-feed poll.
    pub(crate) async fn end(&self, id: &SessionId) -> Result<(), Error> {
        if self.end_by_sid(&id.hash()).await? {
            Ok(())
        } else {
            Err(session_invalid())
        }
    }

    /// Ends the live session whose `sid` (the hash of its id) this is, and revokes its refresh
    /// tokens: whether it was live.
    pub(crate) async fn end_by_sid(&self, sid: &str) -> Result<bool, Error> {
        let ended = self.store.end_session(sid, self.clock.now_s()).await?;
        self.live.forget_session(sid);
        if ended {
            match self.store.get_session(sid).await {
                Ok(Some(s)) => self.ended(vec![(s.session_hash, s.user_id)]).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "reading an ended session failed"),
            }
        }
        Ok(ended)
    }

    /// The live sessions of a user, oldest first.
    pub(crate) async fn of_user(&self, user_id: &str) -> Result<Vec<SessionRecord>, Error> {
        let now = self.clock.now_s();
        Ok(self
            .store
            .list_user_sessions(user_id, now, self.min_last_used(now))
            .await?)
    }

    /// Ends every session of a user and revokes their refresh tokens ("log out
    /// everywhere"); returns how many ended.
    pub(crate) async fn end_all_of_user(&self, user_id: &str) -> Result<usize, Error> {
        let ended = self
            .store
            .end_user_sessions(user_id, self.clock.now_s())
            .await?;
        for hash in &ended {
            self.live.forget_session(hash);
        }
        let n = ended.len();
        self.ended(
            ended
                .into_iter()
                .map(|sid| (sid, user_id.to_string()))
                .collect(),
        )
        .await;
        Ok(n)
    }

    // --- browser sessions ---

    fn live_at(&self, s: &SessionRecord, now_s: i64) -> bool {
        s.ended_at.is_none() && s.expires_at > now_s && s.last_used_at >= self.min_last_used(now_s)
    }

    /// The live browser session behind a cookie's token, if any.
    pub(crate) async fn browser(&self, token: &str) -> Result<Option<SessionRecord>, Error> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let now = self.clock.now_s();
        Ok(self
            .store
            .browser_session(&BrowserToken::hash_of(token))
            .await?
            .filter(|s| s.browser && self.live_at(s, now)))
    }

    /// A new browser session of `user_id`, authenticated with `methods` at `auth_time`, its
    /// first client `client_id`; returns the cookie's token.
    pub(crate) async fn start_browser(
        &self,
        user_id: &str,
        client_id: &str,
        methods: &[String],
        auth_time: i64,
        lifetime_s: i64,
    ) -> Result<(BrowserToken, SessionRecord), Error> {
        // The session id is never handed out: the cookie holds a separate token, so the
        // session cannot be named where a backend session id is expected.
        let id = SessionId::generate()?;
        let token = BrowserToken::generate()?;
        let session = SessionRecord {
            browser: true,
            ..self.new_record(&id, user_id, client_id, methods, auth_time, lifetime_s)
        };
        self.store
            .create_browser_session(&session, &token.hash())
            .await?;
        Ok((token, session))
    }

    /// A new login of the session's own user: methods added, `auth_time` set and the
    /// cookie's token rotated; `None` when the session ended or its token changed meanwhile.
    pub(crate) async fn relogin_browser(
        &self,
        session: &SessionRecord,
        old_token: &str,
        methods: &[String],
        auth_time: i64,
    ) -> Result<Option<(BrowserToken, SessionRecord)>, Error> {
        let now = self.clock.now_s();
        let token = BrowserToken::generate()?;
        let updated = self
            .store
            .relogin_browser_session(
                &BrowserRelogin {
                    session_hash: session.session_hash.clone(),
                    old_token_hash: BrowserToken::hash_of(old_token),
                    new_token_hash: token.hash(),
                    methods: methods.to_vec(),
                    auth_time,
                },
                now,
                self.min_last_used(now),
            )
            .await?;
        self.live.forget_session(&session.session_hash);
        Ok(updated.map(|s| (token, s)))
    }

    /// Records that `client_id` got tokens from the session.
    pub(crate) async fn add_client(
        &self,
        session_hash: &str,
        client_id: &str,
    ) -> Result<(), Error> {
        self.store
            .add_session_client(session_hash, client_id, self.clock.now_s())
            .await?;
        Ok(())
    }

    /// The clients that got tokens from the session.
    pub(crate) async fn clients_of(&self, session_hash: &str) -> Result<Vec<String>, Error> {
        Ok(self.store.session_clients(session_hash).await?)
    }

    /// The session record (live or not).
    pub(crate) async fn get(&self, session_hash: &str) -> Result<Option<SessionRecord>, Error> {
        Ok(self.store.get_session(session_hash).await?)
    }

    /// Whether `s` is live now.
    pub(crate) fn is_live(&self, s: &SessionRecord) -> bool {
        self.live_at(s, self.clock.now_s())
    }

    /// Housekeeping: deletes sessions past their absolute end.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store.purge_sessions(self.clock.now_s()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_hide_in_debug_and_hash_stably() {
        let id = SessionId::new("secret-session-id");
        assert_eq!(format!("{id:?}"), "SessionId(***)");
        assert_eq!(id.hash(), SessionId::new("secret-session-id").hash());
        assert_ne!(id.hash(), SessionId::new("other").hash());
        assert_eq!(id.hash().len(), 43);
    }
}
