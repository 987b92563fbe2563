//! Password authentication (`POST /cis/v1/auth/password/authenticate`).
//!
//! `username` names the user by `username_type` (`username`, `email`, `phone_number` or
//! `user_id`); without one it may be any of them, tried in that order (a username may
//! contain `@`, so a username match comes before an email match). Unknown users cost the
//! same Argon2id time, get the same error as a wrong password, and count and lock out the
//! same way (`lockouts.rs`). Failures count per (user, `pwd`), atomically in the store; the
//! failure that reaches the limit and every attempt during the lockout answer `auth_locked`.
//!
//! A right temporary password (`force_replace`) does not log in: it answers 403
//! `password_reset_required` with the message `temporary_password` and a `reset_token` for
//! `POST /cis/v1/auth/password/reset` (`reset.rs`), as the platform does.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::caller::{perm, Permit};
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::lockouts::Lockouts;
use crate::logins::{not_active, LoginOptions, Logins};
use crate::model::{username_norm, ClientRecord, FailurePolicy, User, UserStatus};
use crate::preferences::Preferences;
use crate::ratelimit::RateLimiter;
use crate::users::{Identifier, IdentifierType, Users};

use super::challenge::method_disabled;
use super::reset::PasswordResets;

/// The amr value of password authentication.
pub const PWD: &str = "pwd";

/// Longest accepted password, in bytes (Argon2 input is bounded by the body limit anyway).
const MAX_PASSWORD_BYTES: usize = 1024;

/// `POST /cis/v1/auth/password/authenticate`.
pub struct PasswordLogin {
    pub username: String,
    /// What `username` is; `None`: any identifier (see the module documentation).
    pub username_type: Option<IdentifierType>,
    pub password: Zeroizing<String>,
    pub options: LoginOptions,
}

impl std::fmt::Debug for PasswordLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordLogin")
            .field("password", &"***")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

pub struct PasswordLogins {
    users: Arc<Users>,
    lockouts: Arc<Lockouts>,
    prefs: Arc<Preferences>,
    limits: Arc<RateLimiter>,
    logins: Arc<Logins>,
    resets: Arc<PasswordResets>,
    clock: Arc<dyn Clock>,
}

impl PasswordLogins {
    pub fn new(
        users: Arc<Users>,
        lockouts: Arc<Lockouts>,
        prefs: Arc<Preferences>,
        limits: Arc<RateLimiter>,
        logins: Arc<Logins>,
        resets: Arc<PasswordResets>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            lockouts,
            prefs,
            limits,
            logins,
            resets,
            clock,
        }
    }

    /// The user a login names (see the module documentation).
    async fn login_user(
        &self,
        username: &str,
        kind: Option<IdentifierType>,
    ) -> Result<Option<User>, Error> {
        let guessing = kind.is_none();
        let kinds = match kind {
            Some(k) => vec![k],
            None => vec![
                IdentifierType::Username,
                IdentifierType::Email,
                IdentifierType::PhoneNumber,
                IdentifierType::UserId,
            ],
        };
        for kind in kinds {
            let unlikely = match kind {
                IdentifierType::Email => !username.contains('@'),
                IdentifierType::PhoneNumber => !username.trim_start().starts_with('+'),
                _ => false,
            };
            if guessing && unlikely {
                continue;
            }
            let id = Identifier {
                kind,
                value: username.to_string(),
            };
            if let Some(user) = self.users.by_identifier(&id, false).await? {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// `POST /cis/v1/auth/password/authenticate`.
    pub async fn authenticate(
        &self,
        permit: &Permit<perm::Auth>,
        login: PasswordLogin,
    ) -> Result<IssuedTokens, Error> {
        let client = permit.client();
        let user = self
            .verify(
                client,
                &login.username,
                login.username_type,
                login.password.as_str(),
                Some(&login.options),
            )
            .await?;
        if user.password_force_replace {
            let token = self.resets.issue(client, &user).await?;
            return Err(
                Error::new(Code::PasswordResetRequired, "temporary_password").with(
                    "reset_token",
                    serde_json::Value::String(token.expose().to_string()),
                ),
            );
        }
        self.logins
            .complete(client, &user, PWD, login.options, None)
            .await
    }

    /// A journey's `password_authentication` for the run's client: the checks of
    /// [`Self::authenticate`] (the same lockouts, costs and answers), a temporary password
    /// being `password_reset_required` (no reset token: the journey handles it); the user.
    pub(crate) async fn authenticate_for_journey(
        &self,
        client: &ClientRecord,
        username: &str,
        password: &str,
    ) -> Result<User, Error> {
        let user = self.verify(client, username, None, password, None).await?;
        if user.password_force_replace {
            return Err(Error::new(
                Code::PasswordResetRequired,
                "temporary_password",
            ));
        }
        Ok(user)
    }

    /// The shared checks: the method enabled for the client's application, rate limits,
    /// the login options (`precheck`), the per-user `pwd` lockout and the Argon2id
    /// comparison (unknown users cost and count the same); the active user whose password
    /// matched.
    async fn verify(
        &self,
        client: &ClientRecord,
        username: &str,
        username_type: Option<IdentifierType>,
        password: &str,
        precheck: Option<&LoginOptions>,
    ) -> Result<User, Error> {
        let prefs = self.prefs.for_app(&client.app.app_id);
        if !prefs.auth_methods.password {
            return Err(method_disabled("password"));
        }
        // Per-node abuse limits (`ratelimit.rs`), before any hashing.
        self.limits.check_authenticate(
            self.clock.now_ms(),
            client.client_id(),
            Some(&format!("login:{}", username_norm(username))),
        )?;
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::invalid(format!(
                "`password` is longer than {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        if let Some(options) = precheck {
            self.logins.precheck(client, options).await?;
        }
        let now = self.clock.now_s();
        let user = self.login_user(username, username_type).await?;
        // Unknown usernames count and lock out like known ones (no enumeration).
        let subject = self.lockouts.subject(
            user.as_ref().map(|u| u.user_id.as_str()),
            &format!("login:{}", username_norm(username)),
        );
        if self.lockouts.is_locked(&subject, PWD).await? {
            return Err(Code::AuthLocked.into());
        }
        let ok = self.users.verify_password(user.as_ref(), password).await?;
        let user = match user {
            Some(u) if ok => u,
            _ => {
                let policy = FailurePolicy {
                    now_s: now,
                    window_s: i64::from(prefs.password.failures_expire_in) * 60,
                    max_failures: i64::from(prefs.password.max_failures),
                    lockout_s: i64::from(prefs.password.lockout) * 60,
                };
                let f = self.lockouts.record_failure(&subject, PWD, policy).await?;
                if f.locked_until.is_some_and(|until| until > now) {
                    return Err(Code::AuthLocked.into());
                }
                return Err(Error::new(
                    Code::AuthInvalidCredentials,
                    "the username or password is incorrect",
                ));
            }
        };
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        self.lockouts.reset(&subject, PWD).await?;
        Ok(user)
    }
}
