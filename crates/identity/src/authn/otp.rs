//! Email and SMS one-time passcodes (SPEC §5, Mosaic `/v1/auth/otp/*`).
//!
//! `send` makes a code of `otp.code_length` random digits valid for `expires_in` minutes
//! (the request's, else the login preferences'), delivers it by email or SMS, or hands it to
//! the caller on the `direct` channel (`auth:direct` permission). `authenticate` redeems it
//! and completes the login (a new session, or the named one for MFA).
//!
//! Invariants:
//! - The code is stored only as a keyed hash (`codes.rs`), sent and redeemed through the
//!   shared flow of `challenge.rs`, is bound to the sending client unless
//!   `otp.cross_clients_allowed`, and a new send for the same user, client and kind replaces
//!   the older code. A failed delivery stores nothing, so the previous code stays valid.
//! - amr: `email` → `eotp`, `sms` → `sms`; a `direct` code counts for the channel of its
//!   identifier (`email` → `eotp`, `phone_number` → `sms`) and for `user_id`/`username` as
//!   `eotp` (the email factor: the app delivers it itself, as it would an email), which marks
//!   no address verified. Redeeming a code sent to an address marks that address verified if
//!   it is still the user's.
//! - Brute force: attempts count per (user, `otp`) — one counter for both channels, since a
//!   wrong guess belongs to no channel — incremented atomically in the store *before* the
//!   code is compared, so at most `otp.max_failures` attempts are ever compared per lockout,
//!   whatever the concurrency. `otp.max_failures` is the number of wrong codes that lock the
//!   method: with 3, a third attempt is still compared (the right code logs in), and if it
//!   is wrong it answers `auth_locked`, as does every attempt during the `otp.lockout`. A
//!   success resets the counter; counts are otherwise forgotten only when a lockout ends.
//!   Unknown identifiers count and lock out exactly the same way (their counter is keyed by
//!   a hash of the identifier, `lockouts.rs`), so the answers tell nothing about who exists.
//! - Rate limits (`ratelimit.rs`) apply before anything is sent or compared.

use std::sync::Arc;

use serde::Serialize;
use zeroize::Zeroizing;

use super::challenge::{expiry_minutes, method_enabled, Challenges, Delivery, Outgoing};
use super::codes::{passcode_hash, random_digits, Secret, EOTP, SMS};
use crate::caller::{perm, Permit};
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::lockouts::Lockouts;
use crate::logins::LoginOptions;
use crate::messages::{render, MessageVars};
use crate::model::{email_norm, CodeRedemption, FailurePolicy, Redemption};
use crate::users::{Identifier, IdentifierType};

/// The failure-counter method of one-time passcodes (both channels).
pub const OTP_COUNTER: &str = "otp";

/// Longest passcode looked at (codes have at most 8 digits).
const MAX_PASSCODE_LEN: usize = 16;

/// Failures are forgotten only by a success or the end of a lockout: a window this long
/// never ends first.
const NO_WINDOW_S: i64 = 100 * 365 * 24 * 3600;

/// Where a send delivers the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpChannel {
    Email,
    Sms,
    /// Returned to the caller (`auth:direct`).
    Direct,
}

impl OtpChannel {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "email" => Ok(Self::Email),
            "sms" => Ok(Self::Sms),
            "direct" => Ok(Self::Direct),
            _ => Err(Error::invalid(
                "`channel` must be one of email, sms, direct",
            )),
        }
    }
}

/// `POST /cis/v1/auth/otp/send`.
#[derive(Debug, Clone)]
pub struct OtpSend {
    pub channel: OtpChannel,
    pub identifier: Identifier,
    /// Minutes, 1–60; default `otp.expires_in`.
    pub expires_in: Option<u32>,
}

/// What a send returns: the code only on the `direct` channel.
#[derive(Debug, Serialize)]
pub struct OtpSent {
    pub message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
}

/// `POST /cis/v1/auth/otp/authenticate`. Its `Debug` hides the passcode.
pub struct OtpLogin {
    pub passcode: Zeroizing<String>,
    pub identifier: Identifier,
    pub options: LoginOptions,
}

impl std::fmt::Debug for OtpLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpLogin")
            .field("passcode", &"***")
            .field("identifier", &self.identifier)
            .field("options", &self.options)
            .finish()
    }
}

/// One-time passcodes by email and SMS.
pub struct Otp {
    challenges: Arc<Challenges>,
    lockouts: Arc<Lockouts>,
}

impl Otp {
    pub fn new(challenges: Arc<Challenges>, lockouts: Arc<Lockouts>) -> Self {
        Self {
            challenges,
            lockouts,
        }
    }

    /// `POST /cis/v1/auth/otp/send`; `direct` also needs `auth:direct`.
    pub async fn send(&self, permit: &Permit<perm::Auth>, req: OtpSend) -> Result<OtpSent, Error> {
        if req.channel == OtpChannel::Direct {
            permit.also::<perm::AuthDirect>()?;
        }
        let client = permit.client();
        let c = &self.challenges;
        let prefs = c.prefs(client);
        let kind = match (req.channel, req.identifier.kind) {
            (OtpChannel::Sms, _) | (OtpChannel::Direct, IdentifierType::PhoneNumber) => SMS,
            _ => EOTP,
        };
        method_enabled(&prefs, kind)?;
        let minutes = expiry_minutes("expires_in", req.expires_in, prefs.otp.expires_in)?;
        let user =
            Challenges::require_active(c.users().by_identifier(&req.identifier, true).await?)?;
        let destination = match req.channel {
            OtpChannel::Email => Some(
                user.email
                    .clone()
                    .ok_or_else(|| Error::from(Code::UserEmailAddressMissing))?,
            ),
            OtpChannel::Sms => Some(
                user.phone_number
                    .clone()
                    .ok_or_else(|| Error::from(Code::UserPhoneNumberMissing))?,
            ),
            OtpChannel::Direct => match req.identifier.kind {
                IdentifierType::Email => user.email.clone(),
                IdentifierType::PhoneNumber => user.phone_number.clone(),
                IdentifierType::UserId | IdentifierType::Username => None,
            },
        };
        let limit_key = match &destination {
            Some(d) if kind == EOTP => email_norm(d),
            Some(d) => d.clone(),
            None => format!("user:{}", user.user_id),
        };
        let code = random_digits(usize::try_from(prefs.otp.code_length).unwrap_or(6))?;
        let record = c.record(
            client,
            &user,
            kind,
            passcode_hash(c.hasher(), &user.user_id, code.expose()),
            destination,
            minutes,
        )?;
        let vars = MessageVars {
            app: &client.app.name,
            secret: code.expose(),
            minutes,
            message: "",
        };
        let t = c.templates();
        let delivery = match req.channel {
            OtpChannel::Email => Delivery::Email {
                subject: render(&t.otp_email_subject, &vars),
                text: render(&t.otp_email_text, &vars),
            },
            OtpChannel::Sms => Delivery::Sms {
                text: render(&t.otp_sms_text, &vars),
            },
            OtpChannel::Direct => Delivery::Direct,
        };
        c.send(
            client,
            Outgoing {
                record,
                delivery,
                limit_key,
                what: "one-time passcode",
            },
        )
        .await?;
        Ok(OtpSent {
            message: "OTP sent",
            code: (req.channel == OtpChannel::Direct).then_some(code),
        })
    }

    /// `POST /cis/v1/auth/otp/authenticate`.
    pub async fn authenticate(
        &self,
        permit: &Permit<perm::Auth>,
        login: OtpLogin,
    ) -> Result<IssuedTokens, Error> {
        let client = permit.client();
        let c = &self.challenges;
        let key = login.identifier.key();
        c.limits().check_authenticate(
            c.now_ms(),
            client.client_id(),
            Some(key.as_deref().unwrap_or("invalid")),
        )?;
        c.logins().precheck(client, &login.options).await?;
        let user = c.users().by_identifier(&login.identifier, false).await?;
        // An identifier that names nobody counts and locks out like a known one, so the
        // answers do not tell which accounts exist.
        let subject = self.lockouts.subject(
            user.as_ref().map(|u| u.user_id.as_str()),
            &key.unwrap_or_else(|| format!("raw:{}", login.identifier.value)),
        );
        let prefs = c.prefs(client);
        if self.lockouts.is_locked(&subject, OTP_COUNTER).await? {
            return Err(Code::AuthLocked.into());
        }
        // Count the attempt before comparing, so concurrent guesses all count first: at most
        // `max_failures` attempts are ever compared per lockout.
        let policy = FailurePolicy {
            now_s: c.now_s(),
            window_s: NO_WINDOW_S,
            max_failures: i64::from(prefs.otp.max_failures),
            lockout_s: i64::from(prefs.otp.lockout) * 60,
        };
        let attempt = self
            .lockouts
            .record_failure(&subject, OTP_COUNTER, policy)
            .await?;
        if attempt.count > policy.max_failures {
            return Err(Code::AuthLocked.into());
        }
        let passcode = login.passcode.trim();
        let outcome = match &user {
            Some(user)
                if !passcode.is_empty()
                    && passcode.len() <= MAX_PASSCODE_LEN
                    && passcode.bytes().all(|b| b.is_ascii_digit()) =>
            {
                c.redeem(&CodeRedemption {
                    code_hash: passcode_hash(c.hasher(), &user.user_id, passcode),
                    user_id: Some(user.user_id.clone()),
                    kinds: vec![EOTP.to_string(), SMS.to_string()],
                    client_id: (!prefs.otp.cross_clients_allowed)
                        .then(|| client.client_id().to_string()),
                    now_s: c.now_s(),
                })
                .await?
            }
            _ => Redemption::Invalid,
        };
        let (code, user) = match (outcome, user) {
            (Redemption::Consumed(code), Some(user)) => (code, user),
            (Redemption::Expired, _) => return Err(Code::AuthOtpPasscodeExpired.into()),
            // The failure that reaches the limit answers `auth_locked`.
            _ if attempt.count >= policy.max_failures => return Err(Code::AuthLocked.into()),
            _ => return Err(Code::AuthInvalidCredentials.into()),
        };
        self.lockouts.reset(&subject, OTP_COUNTER).await?;
        c.finish(client, user, &code, login.options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_debug_hides_the_passcode() {
        let l = OtpLogin {
            passcode: Zeroizing::new("123456".into()),
            identifier: Identifier {
                kind: IdentifierType::Email,
                value: "a@b.c".into(),
            },
            options: LoginOptions::default(),
        };
        assert!(!format!("{l:?}").contains("123456"));
        assert!(OtpChannel::parse("fax").is_err());
    }
}
