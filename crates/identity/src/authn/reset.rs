//! Password resets, as the platform's `/v1/auth/password/reset/*` APIs do them: a user proves
//! who they are — by a passcode sent to their verified email or phone, by a link emailed to
//! them, or by logging in with a temporary password — and gets a **reset token**, which
//! `POST /cis/v1/auth/password/reset` exchanges for a new password.
//!
//! Invariants:
//! - A reset token is 256 random bits, stored only as a keyed hash (`codes.rs`), valid for
//!   `password.reset_expires_in` minutes (default 5), redeemable once, and only by the client
//!   it was issued to. The emailed link's `code` is such a token.
//! - Passcodes and links go only to an address the user has verified (403
//!   `user_email_not_verified` / `user_phone_number_not_verified`): a reset through an
//!   address nobody proved would hand the account to whoever typed it in.
//! - Wrong reset passcodes count against the same per-user `otp` counter as login passcodes
//!   (`otp.rs`), before the comparison, and lock out the same way.
//! - Every call needs the password method enabled; the new password meets the policy
//!   before the token is consumed, so a weak password does not burn the token.
//! - A successful reset makes the password permanent (`force_replace: false`) and clears the
//!   user's password lockout.

use std::sync::Arc;

use serde::Serialize;
use zeroize::Zeroizing;

use super::challenge::{method_disabled, Challenges, Delivery, Outgoing};
use super::codes::{passcode_hash, random_digits, reset_hash, Secret};
use super::magic_link::build_link;
use super::otp::{redeem_passcode, PasscodeCheck};
use super::password::PWD;
use crate::caller::{perm, Permit};
use crate::error::{Code, Error};
use crate::lockouts::Lockouts;
use crate::messages::{render, MessageVars};
use crate::model::{email_norm, ClientRecord, CodeRedemption, Redemption, User};
use crate::users::{Identifier, IdentifierType};

/// Kind of a stored reset token (also the code of an emailed reset link).
pub const RST: &str = "rst";
/// Kind of a reset passcode sent by email.
pub const RESET_EMAIL: &str = "rst_eotp";
/// Kind of a reset passcode sent by SMS.
pub const RESET_SMS: &str = "rst_sms";

/// Longest reset token looked at (tokens are 43 characters).
const MAX_TOKEN_LEN: usize = 128;

/// Where a reset passcode goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetChannel {
    Email,
    Sms,
}

impl ResetChannel {
    fn kind(self) -> &'static str {
        match self {
            Self::Email => RESET_EMAIL,
            Self::Sms => RESET_SMS,
        }
    }

    fn identifier(self, value: String) -> Identifier {
        let kind = match self {
            Self::Email => IdentifierType::Email,
            Self::Sms => IdentifierType::PhoneNumber,
        };
        Identifier { kind, value }
    }
}

/// `POST /cis/v1/auth/password/reset/email/link`: `identifier` is an email or a username.
#[derive(Debug, Clone)]
pub struct ResetLinkSend {
    pub identifier: Identifier,
    pub redirect_uri: String,
}

/// `POST /cis/v1/auth/password/reset/{email,sms}/otp/validate`. Its `Debug` hides the
/// passcode.
pub struct ResetCodeCheck {
    pub channel: ResetChannel,
    /// The email address or phone number the passcode was sent to.
    pub address: String,
    pub passcode: Zeroizing<String>,
}

impl std::fmt::Debug for ResetCodeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetCodeCheck")
            .field("channel", &self.channel)
            .field("passcode", &"***")
            .finish_non_exhaustive()
    }
}

/// What a reset returns: the address the platform would notify.
#[derive(Debug, Serialize)]
pub struct ResetDone {
    pub message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The platform's `ApiValidatePasswordResult`.
#[derive(Debug, Serialize)]
pub struct PasswordValidation {
    pub valid_password: bool,
    pub errors: Vec<PasswordProblem>,
}

#[derive(Debug, Serialize)]
pub struct PasswordProblem {
    pub code: &'static str,
    pub message: String,
}

/// The password-reset component.
pub struct PasswordResets {
    challenges: Arc<Challenges>,
    lockouts: Arc<Lockouts>,
}

impl PasswordResets {
    pub fn new(challenges: Arc<Challenges>, lockouts: Arc<Lockouts>) -> Self {
        Self {
            challenges,
            lockouts,
        }
    }

    fn require_password_method(&self, client: &ClientRecord) -> Result<(), Error> {
        if self.challenges.prefs(client).auth_methods.password {
            Ok(())
        } else {
            Err(method_disabled("password"))
        }
    }

    /// `password.reset_expires_in` of `client`'s application's login preferences.
    fn minutes(&self, client: &ClientRecord) -> i64 {
        i64::from(self.challenges.prefs(client).password.reset_expires_in)
    }

    /// A new reset token of `user` for `client` (stored as its hash).
    pub(crate) async fn issue(&self, client: &ClientRecord, user: &User) -> Result<Secret, Error> {
        let c = &self.challenges;
        let token = Secret::new(tessera_jose::random_token_b64url(32)?);
        let record = c.record(
            client,
            user,
            RST,
            reset_hash(c.hasher(), token.expose()),
            None,
            self.minutes(client),
        )?;
        c.store(&record).await?;
        Ok(token)
    }

    /// The active user an address names, if that address is verified.
    async fn verified_user(&self, channel: ResetChannel, address: &str) -> Result<User, Error> {
        let c = &self.challenges;
        let id = channel.identifier(address.to_string());
        let user = Challenges::require_active(c.users().by_identifier(&id, true).await?)?;
        let verified = match channel {
            ResetChannel::Email => user.email.is_some() && user.email_verified,
            ResetChannel::Sms => user.phone_number.is_some() && user.phone_number_verified,
        };
        if !verified {
            return Err(match channel {
                ResetChannel::Email => Code::UserEmailNotVerified.into(),
                ResetChannel::Sms => Code::UserPhoneNumberNotVerified.into(),
            });
        }
        Ok(user)
    }

    /// `POST /cis/v1/auth/password/reset/email/link`: emails `redirect_uri?code=<reset
    /// token>` (the URI must be one of the client's `redirect_uris`).
    pub async fn send_link(
        &self,
        permit: &Permit<perm::Auth>,
        req: ResetLinkSend,
    ) -> Result<(), Error> {
        let client = permit.client();
        self.require_password_method(client)?;
        let c = &self.challenges;
        if !client.settings().redirect_uris.contains(&req.redirect_uri) {
            return Err(Code::InvalidRedirectUri.into());
        }
        let user = match req.identifier.kind {
            IdentifierType::Email => {
                self.verified_user(ResetChannel::Email, &req.identifier.value)
                    .await?
            }
            _ => {
                let user = Challenges::require_active(
                    c.users().by_identifier(&req.identifier, true).await?,
                )?;
                if user.email.is_none() {
                    return Err(Code::UserEmailAddressMissing.into());
                }
                if !user.email_verified {
                    return Err(Code::UserEmailNotVerified.into());
                }
                user
            }
        };
        let Some(email) = user.email.clone() else {
            return Err(Code::UserEmailAddressMissing.into());
        };
        let minutes = self.minutes(client);
        let token = Secret::new(tessera_jose::random_token_b64url(32)?);
        let link = Zeroizing::new(build_link(&req.redirect_uri, token.expose(), None)?);
        let mut record = c.record(
            client,
            &user,
            RST,
            reset_hash(c.hasher(), token.expose()),
            Some(email.clone()),
            minutes,
        )?;
        record.redirect_uri = Some(req.redirect_uri);
        let vars = MessageVars {
            app: &client.app.name,
            secret: &link,
            minutes,
            message: "",
        };
        let t = c.templates();
        let delivery = Delivery::Email {
            subject: render(&t.reset_email_subject, &vars),
            text: render(&t.reset_link_text, &vars),
        };
        c.send(
            client,
            Outgoing {
                record,
                delivery,
                limit_key: email_norm(&email),
                what: "password reset link",
            },
        )
        .await
    }

    /// `POST /cis/v1/auth/password/reset/{email,sms}/otp`: a passcode to the user's verified
    /// email address or phone number.
    pub async fn send_code(
        &self,
        permit: &Permit<perm::Auth>,
        channel: ResetChannel,
        address: &str,
    ) -> Result<(), Error> {
        let client = permit.client();
        self.require_password_method(client)?;
        let c = &self.challenges;
        let user = self.verified_user(channel, address).await?;
        let destination = match channel {
            ResetChannel::Email => user.email.clone(),
            ResetChannel::Sms => user.phone_number.clone(),
        }
        .ok_or_else(|| Error::internal("a verified address is missing"))?;
        let prefs = c.prefs(client);
        let minutes = self.minutes(client);
        let code = random_digits(usize::try_from(prefs.otp.code_length).unwrap_or(6))?;
        let record = c.record(
            client,
            &user,
            channel.kind(),
            passcode_hash(c.hasher(), &user.user_id, code.expose()),
            Some(destination.clone()),
            minutes,
        )?;
        let vars = MessageVars {
            app: &client.app.name,
            secret: code.expose(),
            minutes,
            message: "",
        };
        let t = c.templates();
        let (delivery, limit_key) = match channel {
            ResetChannel::Email => (
                Delivery::Email {
                    subject: render(&t.reset_email_subject, &vars),
                    text: render(&t.reset_code_text, &vars),
                },
                email_norm(&destination),
            ),
            ResetChannel::Sms => (
                Delivery::Sms {
                    text: render(&t.reset_code_text, &vars),
                },
                destination,
            ),
        };
        c.send(
            client,
            Outgoing {
                record,
                delivery,
                limit_key,
                what: "password reset passcode",
            },
        )
        .await
    }

    /// `POST /cis/v1/auth/password/reset/{email,sms}/otp/validate`: a right passcode gives a
    /// reset token.
    pub async fn check_code(
        &self,
        permit: &Permit<perm::Auth>,
        check: ResetCodeCheck,
    ) -> Result<Secret, Error> {
        let client = permit.client();
        self.require_password_method(client)?;
        let c = &self.challenges;
        let identifier = check.channel.identifier(check.address);
        let key = identifier.key();
        c.limits().check_authenticate(
            c.now_ms(),
            client.client_id(),
            Some(key.as_deref().unwrap_or("invalid")),
        )?;
        let (_, user) = redeem_passcode(
            c,
            &self.lockouts,
            client,
            PasscodeCheck {
                identifier: &identifier,
                passcode: &check.passcode,
                kinds: &[check.channel.kind()],
                client_bound: true,
            },
        )
        .await?;
        let user = Challenges::require_active(Some(user))?;
        self.issue(client, &user).await
    }

    /// `POST /cis/v1/auth/password/reset`: a reset token of this client and a new password
    /// that meets the policy set the user's password.
    pub async fn reset(
        &self,
        permit: &Permit<perm::Auth>,
        reset_token: Zeroizing<String>,
        new_password: Zeroizing<String>,
    ) -> Result<ResetDone, Error> {
        let client = permit.client();
        self.require_password_method(client)?;
        let c = &self.challenges;
        c.limits()
            .check_authenticate(c.now_ms(), client.client_id(), None)?;
        if let Some((_, message)) = c
            .users()
            .password_problems(&new_password, client)
            .into_iter()
            .next()
        {
            return Err(Error::new(Code::InvalidPassword, message));
        }
        let token = reset_token.trim();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(Code::InvalidResetToken.into());
        }
        let record = match c
            .redeem(&CodeRedemption {
                code_hash: reset_hash(c.hasher(), token),
                user_id: None,
                kinds: vec![RST.to_string()],
                client_id: Some(client.client_id().to_string()),
                now_s: c.now_s(),
            })
            .await?
        {
            Redemption::Consumed(r) => r,
            Redemption::Expired | Redemption::Invalid => return Err(Code::InvalidResetToken.into()),
        };
        let user = c
            .users()
            .by_id(&record.user_id)
            .await?
            .ok_or_else(|| Error::from(Code::InvalidResetToken))?;
        let user = Challenges::require_active(Some(user))?;
        let user = c.users().reset_password(user, new_password, client).await?;
        let subject = self.lockouts.subject(Some(&user.user_id), "");
        self.lockouts.reset(&subject, PWD).await?;
        Ok(ResetDone {
            message: "Password changed successfully",
            email: user.email,
        })
    }

    /// `POST /cis/v1/auth/password/validate`: whether `password` meets the policy.
    pub fn validate(
        &self,
        permit: &Permit<perm::Auth>,
        password: &str,
    ) -> Result<PasswordValidation, Error> {
        let client = permit.client();
        self.require_password_method(client)?;
        let errors: Vec<PasswordProblem> = self
            .challenges
            .users()
            .password_problems(password, client)
            .into_iter()
            .map(|(code, message)| PasswordProblem { code, message })
            .collect();
        Ok(PasswordValidation {
            valid_password: errors.is_empty(),
            errors,
        })
    }
}
