//! Backend authentication with a password, sessions and user tokens (SPEC §4, §5).
//!
//! A successful authentication creates a session (or adds its method to the session the
//! caller names) and issues a user access token (RFC 9068) and an ID token. Session ids are
//! 256 random bits, handed to the caller once and stored only as base64url(SHA-256(id)),
//! which is also the public `sid` claim. A session ends at the client's
//! `session_expiration` after it was created (absolute) or after
//! `IdentitySettings::session_idle_timeout_s` without use (idle: it can no longer be resumed
//! or extended; tokens already issued stay valid until their `exp` unless it is logged out).
//!
//! `username` of the password API is an email address when it contains `@` (usernames
//! cannot), else a username. Unknown users cost the same Argon2id time and get the same
//! error as a wrong password. Failures count per (user, `pwd`), atomically in the store;
//! the limit's failure itself and every attempt during the lockout answer `auth_locked`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::cache::{ClientRecord, VerifiedAccessToken};
use crate::error::{Error, Rejection};
use crate::model::{FailurePolicy, Permission, SessionRecord, User, UserLookup, UserStatus};
use crate::service::Identity;
use crate::settings::DEFAULT_AUDIENCE;
use crate::tokens::{check_resources, AccessContext, Audience, ACCESS_TOKEN_TYP};
use crate::users::{email_norm, require_permission, username_norm};

/// The amr value of password authentication.
pub const PWD: &str = "pwd";

/// Longest accepted password, in bytes (Argon2 input is bounded by the body limit anyway).
const MAX_PASSWORD_BYTES: usize = 1024;

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
        tessera_jose::b64url_encode(&tessera_jose::sha256(self.0.as_bytes()))
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

/// `POST /cis/v1/auth/password/authenticate`.
pub struct PasswordLogin {
    pub username: String,
    pub password: Zeroizing<String>,
    pub options: LoginOptions,
}

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

/// The `claims` request parameter: claim names wanted in each token (the values of the
/// request object are ignored, as `null` in OIDC Core §5.5 means "requested").
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RequestedClaims {
    pub id_token: Vec<String>,
    pub access_token: Vec<String>,
}

/// What the tokens of one issuance are for, beyond the session: kept with a refresh token
/// so refreshed tokens carry the same audience and custom claims.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserGrant {
    pub resource: Option<String>,
    pub claims: Option<RequestedClaims>,
}

impl std::fmt::Debug for PasswordLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordLogin")
            .field("password", &"***")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The tokens of a successful backend authentication.
#[derive(Serialize)]
pub struct AuthTokens {
    pub access_token: String,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub session_id: SessionId,
}

impl std::fmt::Debug for AuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct UserAccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    iat: i64,
    exp: i64,
    jti: &'a str,
    client_id: &'a str,
    app_id: &'a str,
    scope: &'a str,
    sid: &'a str,
    auth_time: i64,
    amr: &'a [String],
    #[serde(flatten)]
    custom: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    amr: &'a [String],
    sid: &'a str,
    #[serde(flatten)]
    standard: &'a Map<String, Value>,
}

/// Claims a token's issuer sets itself: a `claims` request can never replace them.
const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "iat",
    "exp",
    "nbf",
    "jti",
    "client_id",
    "app_id",
    "app_name",
    "scope",
    "sid",
    "auth_time",
    "amr",
    "acr",
    "azp",
    "nonce",
    "roles",
    "typ",
    "cnf",
];

/// The custom claims a `claims` request names, from `user`: any OIDC standard claim of the
/// user (whatever the scopes), `username`, `external_user_id`, `custom_data` (the whole
/// object) or a top-level key of `custom_data`. Unknown, empty and reserved names are
/// skipped; claims already in `base` are kept as they are.
pub fn requested_claims(
    user: &User,
    names: &[String],
    base: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    if names.is_empty() {
        return out;
    }
    let standard = standard_claims(user, ["email", "phone", "profile"]);
    for name in names {
        let name = name.as_str();
        if RESERVED_CLAIMS.contains(&name) || base.contains_key(name) || out.contains_key(name) {
            continue;
        }
        let value = match name {
            "username" => user.username.clone().map(Value::String),
            "custom_data" => Some(Value::Object(user.custom_data.clone())),
            _ => standard
                .get(name)
                .cloned()
                .or_else(|| user.custom_data.get(name).cloned()),
        };
        if let Some(value) = value {
            out.insert(name.to_string(), value);
        }
    }
    out
}

/// The factor class of an amr value (SPEC §4).
fn factor_class(method: &str) -> &'static str {
    match method {
        "pwd" => "knowledge",
        "eotp" | "eml" => "email",
        "sms" => "phone",
        "webauthn" => "authenticator",
        _ => "external",
    }
}

/// The session's methods, plus `mfa` when they span two or more factor classes.
pub fn amr(methods: &[String]) -> Vec<String> {
    let mut out: Vec<String> = methods.to_vec();
    let first = methods.first().map(|m| factor_class(m));
    if methods.iter().any(|m| Some(factor_class(m)) != first) {
        out.push("mfa".to_string());
    }
    out
}

/// The OIDC standard claims of `user` released by `scopes` (OIDC Core §5.4), and
/// `external_user_id` when set.
pub fn standard_claims<'s>(
    user: &User,
    scopes: impl IntoIterator<Item = &'s str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for scope in scopes {
        match scope {
            "email" => {
                if let Some(email) = &user.email {
                    out.insert("email".into(), Value::String(email.clone()));
                    out.insert("email_verified".into(), Value::Bool(user.email_verified));
                }
            }
            "phone" => {
                if let Some(phone) = &user.phone_number {
                    out.insert("phone_number".into(), Value::String(phone.clone()));
                    out.insert(
                        "phone_number_verified".into(),
                        Value::Bool(user.phone_number_verified),
                    );
                }
            }
            "profile" => {
                if let Some(name) = &user.name {
                    let parts: Vec<&str> = [&name.first_name, &name.last_name]
                        .into_iter()
                        .filter_map(|p| p.as_deref())
                        .filter(|p| !p.is_empty())
                        .collect();
                    if !parts.is_empty() {
                        out.insert("name".into(), Value::String(parts.join(" ")));
                    }
                    if let Some(first) = &name.first_name {
                        out.insert("given_name".into(), Value::String(first.clone()));
                    }
                    if let Some(last) = &name.last_name {
                        out.insert("family_name".into(), Value::String(last.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(ext) = &user.external_user_id {
        out.insert("external_user_id".into(), Value::String(ext.clone()));
    }
    out
}

pub(crate) fn invalid_credentials() -> Error {
    Error::rejected(
        Rejection::BadRequest,
        "auth_invalid_credentials",
        "the username or password is incorrect",
    )
}

pub(crate) fn session_invalid() -> Error {
    Error::rejected(
        Rejection::BadRequest,
        "auth_session_invalid",
        "the session is unknown, ended or expired",
    )
}

pub(crate) fn locked() -> Error {
    Error::rejected(
        Rejection::Forbidden,
        "auth_locked",
        "too many failed attempts; try again later",
    )
}

/// 403 `auth_login_preferences_missing`: the login preferences disable password login.
fn password_disabled() -> Error {
    Error::rejected(
        Rejection::Forbidden,
        "auth_login_preferences_missing",
        "password authentication is disabled in the login preferences",
    )
}

pub(crate) fn not_active() -> Error {
    Error::rejected(
        Rejection::Forbidden,
        "user_not_active",
        "the user is disabled",
    )
}

/// The user a login `username` names: an email when it contains `@`, else a username.
fn login_lookup(username: &str) -> UserLookup {
    if username.contains('@') {
        UserLookup::EmailNorm(email_norm(username))
    } else {
        UserLookup::UsernameNorm(username_norm(username))
    }
}

impl Identity {
    /// `POST /cis/v1/auth/password/authenticate`: needs the `auth` permission.
    pub async fn password_authenticate(
        &self,
        ctx: &AccessContext,
        login: PasswordLogin,
    ) -> Result<AuthTokens, Error> {
        require_permission(ctx, Permission::Auth)?;
        let prefs = self.login_preferences();
        if !prefs.auth_methods.password {
            return Err(password_disabled());
        }
        // Per-node abuse limits (`ratelimit.rs`), before any hashing.
        self.limits.check_authenticate(
            self.clock.now_ms(),
            &ctx.client.client.client_id,
            Some(&format!("login:{}", username_norm(&login.username))),
        )?;
        if login.password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::InvalidInput(format!(
                "`password` is longer than {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        self.precheck_login(ctx, &login.options).await?;
        let now = self.clock.now_s();
        let user = self.find_user(&login_lookup(&login.username)).await?;
        if let Some(u) = &user {
            if let Some(f) = self.store.get_lock(&u.user_id, PWD).await? {
                if f.locked_until.is_some_and(|until| until > now) {
                    return Err(locked());
                }
            }
        }
        let ok = self
            .verify_password(user.as_ref(), login.password.as_str())
            .await?;
        let user = match user {
            Some(u) if ok => u,
            other => {
                if let Some(u) = &other {
                    let policy = FailurePolicy {
                        now_s: now,
                        window_s: i64::from(prefs.password.failures_expire_in) * 60,
                        max_failures: i64::from(prefs.password.max_failures),
                        lockout_s: i64::from(prefs.password.lockout) * 60,
                    };
                    let f = self
                        .store
                        .record_auth_failure(&u.user_id, PWD, policy)
                        .await?;
                    if f.locked_until.is_some_and(|until| until > now) {
                        return Err(locked());
                    }
                }
                return Err(invalid_credentials());
            }
        };
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        if self.store.get_lock(&user.user_id, PWD).await?.is_some() {
            self.store.reset_auth_failures(&user.user_id, PWD).await?;
        }
        self.complete_login(ctx, &user, PWD, login.options).await
    }

    /// The checks every backend authentication makes before looking at the credential: a
    /// named session must be usable and a `resource` allowed for the client, so a bad one
    /// changes nothing (no code consumed, no failure counted).
    pub(crate) async fn precheck_login(
        &self,
        ctx: &AccessContext,
        options: &LoginOptions,
    ) -> Result<(), Error> {
        if let Some(resource) = &options.resource {
            check_resources(
                std::slice::from_ref(resource),
                &ctx.client.client.settings.allowed_resources,
            )?;
        }
        if let Some(id) = &options.session_id {
            let now = self.clock.now_s();
            let min_last_used = now - self.settings.session_idle_timeout_s;
            match self.store.get_session(&id.hash()).await? {
                Some(s)
                    if s.ended_at.is_none()
                        && s.expires_at > now
                        && s.last_used_at >= min_last_used => {}
                _ => return Err(session_invalid()),
            }
        }
        Ok(())
    }

    /// After `user` proved a credential of amr `method` (and is active): adds the method to
    /// the session `options` names, or creates a session, and issues the tokens.
    pub(crate) async fn complete_login(
        &self,
        ctx: &AccessContext,
        user: &User,
        method: &str,
        options: LoginOptions,
    ) -> Result<AuthTokens, Error> {
        let now = self.clock.now_s();
        let min_last_used = now - self.settings.session_idle_timeout_s;
        let (session_id, session) = match options.session_id {
            Some(id) => {
                let session = self
                    .store
                    .add_session_method(&id.hash(), &user.user_id, method, now, min_last_used)
                    .await?
                    .ok_or_else(session_invalid)?;
                self.live.remove_session(&session.session_hash);
                (id, session)
            }
            None => {
                let id = SessionId::generate()?;
                let lifetime = i64::from(ctx.client.client.settings.session_expiration);
                let session = SessionRecord {
                    session_hash: id.hash(),
                    user_id: user.user_id.clone(),
                    client_id: ctx.client.client.client_id.clone(),
                    methods: vec![method.to_string()],
                    auth_time: now,
                    created_at: now,
                    last_used_at: now,
                    expires_at: now + lifetime,
                    ended_at: None,
                };
                self.store.create_session(&session).await?;
                (id, session)
            }
        };
        let grant = UserGrant {
            resource: options.resource,
            claims: options.claims,
        };
        self.issue_with_refresh(&ctx.client, user, &session, session_id, &grant)
            .await
    }

    /// [`Self::issue_user_tokens`] plus the first refresh token of a new family.
    async fn issue_with_refresh(
        &self,
        record: &ClientRecord,
        user: &User,
        session: &SessionRecord,
        session_id: SessionId,
        grant: &UserGrant,
    ) -> Result<AuthTokens, Error> {
        let refresh = self
            .start_refresh_family(record, session, &session_id, grant)
            .await?;
        let mut tokens = self
            .issue_user_tokens(record, user, session, session_id, grant)
            .await?;
        tokens.refresh_token = Some(refresh);
        Ok(tokens)
    }

    /// `POST /cis/v1/auth/session/authenticate`: fresh tokens for the calling client from a
    /// live session of any client of the tenant (`sessions` permission).
    pub async fn session_authenticate(
        &self,
        ctx: &AccessContext,
        session_id: SessionId,
    ) -> Result<AuthTokens, Error> {
        require_permission(ctx, Permission::Sessions)?;
        let now = self.clock.now_s();
        let min_last_used = now - self.settings.session_idle_timeout_s;
        let session = self
            .store
            .touch_session(&session_id.hash(), now, min_last_used)
            .await?
            .ok_or_else(session_invalid)?;
        let user = self
            .store
            .get_user(&session.user_id)
            .await?
            .ok_or_else(session_invalid)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        self.issue_with_refresh(
            &ctx.client,
            &user,
            &session,
            session_id,
            &UserGrant::default(),
        )
        .await
    }

    /// `POST /cis/v1/auth/session/logout`: ends a live session (`sessions` permission). Its
    /// tokens stop being accepted here at once and on other nodes within a poll.
    pub async fn session_logout(
        &self,
        ctx: &AccessContext,
        session_id: SessionId,
    ) -> Result<(), Error> {
        require_permission(ctx, Permission::Sessions)?;
        let hash = session_id.hash();
        let ended = self.store.end_session(&hash, self.clock.now_s()).await?;
        self.live.remove_session(&hash);
        if ended {
            Ok(())
        } else {
            Err(session_invalid())
        }
    }

    /// The OIDC userinfo response for a user access token: `sub` and the standard claims of
    /// the token's scopes, from the current user record.
    pub async fn userinfo(&self, ctx: &AccessContext) -> Result<Value, Error> {
        if ctx.is_client_token() {
            return Err(Error::Unauthenticated("userinfo needs a user access token"));
        }
        let user = self
            .store
            .get_user(&ctx.token.sub)
            .await?
            .ok_or(Error::Unauthenticated("the token's user no longer exists"))?;
        let scopes = ctx.token.scope.as_deref().unwrap_or_default();
        let mut out = standard_claims(&user, scopes.split(' '));
        out.insert("sub".into(), Value::String(user.user_id));
        Ok(Value::Object(out))
    }

    /// The session and user checks of a user access token (SPEC §4), cached briefly.
    pub(crate) async fn check_user_token(&self, token: &VerifiedAccessToken) -> Result<(), Error> {
        let dead = Error::Unauthenticated("the token's session has ended or its user is inactive");
        let sid = token
            .claims
            .get("sid")
            .and_then(Value::as_str)
            .ok_or(Error::Unauthenticated(
                "the access token is invalid or expired",
            ))?;
        let session = self.cached_session(sid).await?;
        let now_s = self.clock.now_s();
        let live = session.is_some_and(|s| {
            s.user_id == token.sub && s.ended_at.is_none() && s.expires_at > now_s
        });
        if !live {
            return Err(dead);
        }
        let active = self
            .cached_user(&token.sub)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active);
        if active {
            Ok(())
        } else {
            Err(dead)
        }
    }

    /// A session as read at most `live_check_cache_ms` ago on this node (this node's
    /// changes and the change feed drop entries sooner).
    pub(crate) async fn cached_session(
        &self,
        session_hash: &str,
    ) -> Result<Option<Arc<SessionRecord>>, Error> {
        let now_ms = self.clock.now_ms();
        if let Some(s) = self.live.session(session_hash, now_ms) {
            return Ok(s);
        }
        let epoch = self.live.session_epoch();
        let s = self.store.get_session(session_hash).await?.map(Arc::new);
        self.live
            .put_session(session_hash, s.clone(), now_ms, epoch);
        Ok(s)
    }

    /// A user as read at most `live_check_cache_ms` ago on this node (as for sessions).
    pub(crate) async fn cached_user(&self, user_id: &str) -> Result<Option<Arc<User>>, Error> {
        let now_ms = self.clock.now_ms();
        if let Some(u) = self.live.user(user_id, now_ms) {
            return Ok(u);
        }
        let epoch = self.live.user_epoch();
        let u = self.store.get_user(user_id).await?.map(Arc::new);
        self.live.put_user(user_id, u.clone(), now_ms, epoch);
        Ok(u)
    }

    /// Signs the user access token and ID token of `session` for `record`'s client.
    pub(crate) async fn issue_user_tokens(
        &self,
        record: &ClientRecord,
        user: &User,
        session: &SessionRecord,
        session_id: SessionId,
        grant: &UserGrant,
    ) -> Result<AuthTokens, Error> {
        let resource = grant.resource.as_deref();
        let settings = &record.client.settings;
        let now = self.clock.now_s();
        let scope = settings.default_scopes.join(" ");
        let amr = amr(&session.methods);
        let jti = tessera_jose::random_token_b64url(16)?;
        // No token outlives its session.
        let access_exp = (now + i64::from(settings.access_token_ttl)).min(session.expires_at);
        let id_exp = (now + i64::from(settings.id_token_ttl)).min(session.expires_at);
        let access_custom = match &grant.claims {
            Some(claims) => requested_claims(user, &claims.access_token, &Map::new()),
            None => Map::new(),
        };
        let access = UserAccessClaims {
            iss: &self.settings.issuer,
            sub: &user.user_id,
            aud: Audience::One(resource.unwrap_or(DEFAULT_AUDIENCE)),
            iat: now,
            exp: access_exp,
            jti: &jti,
            client_id: &record.client.client_id,
            app_id: &record.app.app_id,
            scope: &scope,
            sid: &session.session_hash,
            auth_time: session.auth_time,
            amr: &amr,
            custom: &access_custom,
        };
        let mut standard =
            standard_claims(user, settings.default_scopes.iter().map(String::as_str));
        if let Some(claims) = &grant.claims {
            let extra = requested_claims(user, &claims.id_token, &standard);
            standard.extend(extra);
        }
        let id = IdTokenClaims {
            iss: &self.settings.issuer,
            sub: &user.user_id,
            aud: &record.client.client_id,
            iat: now,
            exp: id_exp,
            auth_time: session.auth_time,
            amr: &amr,
            sid: &session.session_hash,
            standard: &standard,
        };
        let access_token = self.sign(
            settings.access_token_signed_response_alg,
            ACCESS_TOKEN_TYP,
            &access,
        )?;
        let id_token = self.sign(settings.id_token_signed_response_alg, "JWT", &id)?;
        Ok(AuthTokens {
            access_token,
            id_token,
            refresh_token: None,
            token_type: "Bearer",
            expires_in: access_exp - now,
            session_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mfa_needs_two_factor_classes() {
        assert_eq!(amr(&methods(&["pwd"])), ["pwd"]);
        assert_eq!(amr(&methods(&["eotp", "eml"])), ["eotp", "eml"]);
        assert_eq!(amr(&methods(&["pwd", "sms"])), ["pwd", "sms", "mfa"]);
        assert_eq!(
            amr(&methods(&["eml", "flex.login"])),
            ["eml", "flex.login", "mfa"]
        );
    }

    #[test]
    fn session_ids_hide_in_debug_and_hash_stably() {
        let id = SessionId::new("secret-session-id");
        assert_eq!(format!("{id:?}"), "SessionId(***)");
        assert_eq!(id.hash(), SessionId::new("secret-session-id").hash());
        assert_ne!(id.hash(), SessionId::new("other").hash());
        assert_eq!(id.hash().len(), 43);
    }
}
