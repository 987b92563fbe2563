//! Password authentication (`POST /cis/v1/auth/password/authenticate`).
//!
//! `username` is an email address when it contains `@` (usernames cannot), else a username.
//! Unknown users cost the same Argon2id time, get the same error as a wrong password, and
//! count and lock out the same way (`lockouts.rs`). Failures count per (user, `pwd`),
//! atomically in the store; the failure that reaches the limit and every attempt during the
//! lockout answer `auth_locked`.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::caller::{perm, Permit};
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::lockouts::Lockouts;
use crate::logins::{not_active, LoginOptions, Logins};
use crate::model::{email_norm, username_norm, FailurePolicy, UserLookup, UserStatus};
use crate::preferences::Preferences;
use crate::ratelimit::RateLimiter;
use crate::users::Users;

use super::challenge::method_disabled;

/// The amr value of password authentication.
pub const PWD: &str = "pwd";

/// Longest accepted password, in bytes (Argon2 input is bounded by the body limit anyway).
const MAX_PASSWORD_BYTES: usize = 1024;

/// `POST /cis/v1/auth/password/authenticate`.
pub struct PasswordLogin {
    pub username: String,
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

/// The user a login `username` names: an email when it contains `@`, else a username.
fn login_lookup(username: &str) -> UserLookup {
    if username.contains('@') {
        UserLookup::EmailNorm(email_norm(username))
    } else {
        UserLookup::UsernameNorm(username_norm(username))
    }
}

pub struct PasswordLogins {
    users: Arc<Users>,
    lockouts: Arc<Lockouts>,
    prefs: Arc<Preferences>,
    limits: Arc<RateLimiter>,
    logins: Arc<Logins>,
    clock: Arc<dyn Clock>,
}

impl PasswordLogins {
    pub fn new(
        users: Arc<Users>,
        lockouts: Arc<Lockouts>,
        prefs: Arc<Preferences>,
        limits: Arc<RateLimiter>,
        logins: Arc<Logins>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            lockouts,
            prefs,
            limits,
            logins,
            clock,
        }
    }

    /// `POST /cis/v1/auth/password/authenticate`.
    pub async fn authenticate(
        &self,
        permit: &Permit<perm::Auth>,
        login: PasswordLogin,
    ) -> Result<IssuedTokens, Error> {
        let client = permit.client();
        let prefs = self.prefs.for_app(&client.app.app_id);
        if !prefs.auth_methods.password {
            return Err(method_disabled("password"));
        }
        // Per-node abuse limits (`ratelimit.rs`), before any hashing.
        self.limits.check_authenticate(
            self.clock.now_ms(),
            client.client_id(),
            Some(&format!("login:{}", username_norm(&login.username))),
        )?;
        if login.password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::invalid(format!(
                "`password` is longer than {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        self.logins.precheck(client, &login.options).await?;
        let now = self.clock.now_s();
        let user = self.users.find(&login_lookup(&login.username)).await?;
        // Unknown usernames count and lock out like known ones (no enumeration).
        let subject = self.lockouts.subject(
            user.as_ref().map(|u| u.user_id.as_str()),
            &format!("login:{}", username_norm(&login.username)),
        );
        if self.lockouts.is_locked(&subject, PWD).await? {
            return Err(Code::AuthLocked.into());
        }
        let ok = self
            .users
            .verify_password(user.as_ref(), login.password.as_str())
            .await?;
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
        self.logins
            .complete(client, &user, PWD, login.options)
            .await
    }
}
