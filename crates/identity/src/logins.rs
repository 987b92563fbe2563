//! [`Logins`]: what every successful authentication ends in, whatever proved the user —
//! a password, a one-time code, a magic link, and later a journey, CIBA or the
//! authorization endpoint: a session (new, or the named one extended for MFA), a refresh
//! token family, and the user's tokens. Also silent authentication from a session, logout,
//! and the refresh grant.
//!
//! [`Logins::complete`] takes the client the tokens are for, not a bearer context, so
//! flows without a bearer token (CIBA, client journeys, the authorization endpoint) end in
//! it too.

use std::sync::Arc;

use crate::caller::{perm, Permit, UserCaller};
use crate::claims::{LoginFacts, RequestedClaims, UserGrant};
use crate::error::{Code, Error};
use crate::issuer::{check_resources, IssuedTokens, TokenIssuer};
use crate::live::LiveChecks;
use crate::model::{ClientRecord, SessionRecord, User, UserStatus};
use crate::refresh::RefreshTokens;
use crate::sessions::{session_invalid, SessionId, Sessions};
use crate::users::Users;

/// The fields every backend authentication call accepts besides its credential.
#[derive(Debug, Default)]
pub struct LoginOptions {
    /// Add the method to this session (MFA) instead of creating one.
    pub session_id: Option<SessionId>,
    /// The access token's `aud` (RFC 8707), else `userid-api`.
    pub resource: Option<String>,
    /// Custom claims requested for the tokens (kept on refresh).
    pub claims: Option<RequestedClaims>,
}

pub(crate) fn not_active() -> Error {
    Code::UserNotActive.into()
}

pub struct Logins {
    sessions: Arc<Sessions>,
    refresh: Arc<RefreshTokens>,
    issuer: Arc<TokenIssuer>,
    live: Arc<LiveChecks>,
    users: Arc<Users>,
}

impl Logins {
    pub fn new(
        sessions: Arc<Sessions>,
        refresh: Arc<RefreshTokens>,
        issuer: Arc<TokenIssuer>,
        live: Arc<LiveChecks>,
        users: Arc<Users>,
    ) -> Self {
        Self {
            sessions,
            refresh,
            issuer,
            live,
            users,
        }
    }

    /// The checks every authentication makes before looking at the credential: a named
    /// session must be usable and a `resource` allowed for the client, so a bad one changes
    /// nothing (no code consumed, no failure counted).
    pub(crate) async fn precheck(
        &self,
        client: &ClientRecord,
        options: &LoginOptions,
    ) -> Result<(), Error> {
        if let Some(resource) = &options.resource {
            check_resources(
                std::slice::from_ref(resource),
                &client.settings().allowed_resources,
            )?;
        }
        if let Some(id) = &options.session_id {
            self.sessions.check_usable(id).await?;
        }
        Ok(())
    }

    /// After `user` proved a credential of amr `method` (and is active): adds the method to
    /// the session `options` names, or creates a session, records the authentication on the
    /// user (`new_user`), and issues the tokens for `client` with a new refresh-token
    /// family; the ID token carries `approval_data` when the credential had some.
    pub(crate) async fn complete(
        &self,
        client: &ClientRecord,
        user: &User,
        method: &str,
        options: LoginOptions,
        approval_data: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<IssuedTokens, Error> {
        let (session_id, session) = match options.session_id {
            Some(id) => {
                let session = self.sessions.add_method(&id, &user.user_id, method).await?;
                (id, session)
            }
            None => {
                let lifetime = i64::from(client.settings().session_expiration);
                self.sessions
                    .start(&user.user_id, client.client_id(), method, lifetime)
                    .await?
            }
        };
        let new_user = self.users.record_authentication(&user.user_id).await?;
        let grant = UserGrant {
            resource: options.resource,
            claims: options.claims,
            scope: None,
            nonce: None,
            at_hash: false,
            facts: LoginFacts {
                new_user,
                approval_data,
            },
        };
        self.issue_with_refresh(client, user, &session, session_id, &grant)
            .await
    }

    /// A decoupled authentication (CIBA) approved by `user` on another device: a new session
    /// of `client` carrying that authentication's `methods` and `auth_time`, and its tokens
    /// for `grant`; a refresh token only when `with_refresh`.
    pub(crate) async fn complete_decoupled(
        &self,
        client: &ClientRecord,
        user: &User,
        methods: &[String],
        auth_time: i64,
        grant: &UserGrant,
        with_refresh: bool,
    ) -> Result<IssuedTokens, Error> {
        let lifetime = i64::from(client.settings().session_expiration);
        let (session_id, session) = self
            .sessions
            .start_with(
                &user.user_id,
                client.client_id(),
                methods,
                auth_time,
                lifetime,
            )
            .await?;
        let mut grant = grant.clone();
        grant.facts.new_user = self.users.record_authentication(&user.user_id).await?;
        if with_refresh {
            self.issue_with_refresh(client, user, &session, session_id, &grant)
                .await
        } else {
            self.issuer
                .user_tokens(client, user, &session, Some(session_id), &grant)
        }
    }

    /// Tokens of the browser session `session` for `client` (the authorization code
    /// grant), with a new refresh-token family; the answer names no session id (a browser
    /// session's id is never handed out).
    pub(crate) async fn browser_tokens(
        &self,
        client: &ClientRecord,
        user: &User,
        session: &SessionRecord,
        grant: &UserGrant,
    ) -> Result<IssuedTokens, Error> {
        self.issue_with_refresh(client, user, session, None, grant)
            .await
    }

    async fn issue_with_refresh(
        &self,
        client: &ClientRecord,
        user: &User,
        session: &SessionRecord,
        session_id: impl Into<Option<SessionId>>,
        grant: &UserGrant,
    ) -> Result<IssuedTokens, Error> {
        let session_id = session_id.into();
        let refresh = self
            .refresh
            .start(client, session, session_id.as_ref(), grant)
            .await?;
        let mut tokens = self
            .issuer
            .user_tokens(client, user, session, session_id, grant)?;
        tokens.refresh_token = Some(refresh);
        Ok(tokens)
    }

    /// `POST /cis/v1/auth/session/authenticate`: fresh tokens for the calling client from a
    /// live session of any client of the tenant (silent authentication).
    pub async fn session_authenticate(
        &self,
        permit: &Permit<perm::Sessions>,
        session_id: SessionId,
    ) -> Result<IssuedTokens, Error> {
        let session = self.sessions.resume(&session_id).await?;
        let user = self
            .users
            .by_id(&session.user_id)
            .await?
            .ok_or_else(session_invalid)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        self.issue_with_refresh(
            permit.client(),
            &user,
            &session,
            session_id,
            &UserGrant::default(),
        )
        .await
    }

    /// `POST /cis/v1/auth/session/logout`: ends a live session and revokes its refresh
    /// tokens.
    pub async fn logout(
        &self,
        _permit: &Permit<perm::Sessions>,
        session_id: SessionId,
    ) -> Result<(), Error> {
        self.sessions.end(&session_id).await
    }

    /// `GET /cis/v1/auth/users/{user_id}/sessions`: the user's live sessions, oldest first
    /// (404 `user_not_found` for an unknown user).
    pub async fn user_sessions(
        &self,
        _permit: &Permit<perm::Sessions>,
        user_id: &str,
    ) -> Result<Vec<SessionRecord>, Error> {
        self.known_user(user_id).await?;
        self.sessions.of_user(user_id).await
    }

    /// `DELETE /cis/v1/auth/users/{user_id}/sessions`: "log out everywhere" — ends every
    /// session of the user and revokes their refresh tokens; how many ended.
    pub async fn logout_user(
        &self,
        _permit: &Permit<perm::Sessions>,
        user_id: &str,
    ) -> Result<usize, Error> {
        self.known_user(user_id).await?;
        self.sessions.end_all_of_user(user_id).await
    }

    /// `POST /cis/v1/auth/logout` with a user access token: ends every session of the
    /// token's user (the token's own included); how many ended.
    pub async fn logout_caller(&self, caller: &UserCaller) -> Result<usize, Error> {
        self.sessions.end_all_of_user(caller.user_id()).await
    }

    async fn known_user(&self, user_id: &str) -> Result<(), Error> {
        match self.users.by_id(user_id).await? {
            Some(_) => Ok(()),
            None => Err(Code::UserNotFound.into()),
        }
    }

    /// `POST /cis/v1/auth/token/refresh`: the refresh grant for the calling client.
    pub async fn refresh_for(
        &self,
        permit: &Permit<perm::Auth>,
        presented: &str,
    ) -> Result<IssuedTokens, Error> {
        self.refresh(permit.client(), presented).await
    }

    /// The refresh grant for the authenticated client `client`: rotates the token, then
    /// issues tokens of the same session (its current `amr` and `auth_time`) with the
    /// family's audience and claims.
    pub(crate) async fn refresh(
        &self,
        client: &ClientRecord,
        presented: &str,
    ) -> Result<IssuedTokens, Error> {
        let rotated = self.refresh.rotate(client, presented).await?;
        // Logout revokes a session's refresh tokens in the same transaction, so the rotation
        // above already refused those; the (briefly cached) session and user records add
        // the absolute session end and user disablement.
        let dead = || {
            Error::new(
                Code::InvalidGrant,
                "the refresh token's session has ended or its user is inactive",
            )
        };
        let family = &rotated.family;
        let session = self
            .live
            .live_session(&family.session_hash, &family.user_id)
            .await?
            .ok_or_else(dead)?;
        let user = self
            .live
            .active_user(&family.user_id)
            .await?
            .ok_or_else(dead)?;
        let mut tokens =
            self.issuer
                .user_tokens(client, &user, &session, rotated.session_id, &rotated.grant)?;
        tokens.refresh_token = Some(rotated.next_token);
        Ok(tokens)
    }
}
