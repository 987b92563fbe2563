//! Email and SMS one-time passcodes (SPEC §5, Mosaic `/v1/auth/otp/*`).
//!
//! `send` makes a code of `otp.code_length` random digits valid for `expires_in` minutes
//! (the request's, else the login preferences'), delivers it by email or SMS, or hands it to
//! the caller on the `direct` channel (`auth:direct` permission). `authenticate` redeems it
//! and completes the login (a new session, or the named one for MFA).
//!
//! Invariants:
//! - The code is stored only as a keyed hash (`codes.rs`), is bound to the sending client
//!   unless `otp.cross_clients_allowed`, and a new send for the same user, client and kind
//!   replaces the older code. A failed delivery stores nothing, so the previous code stays
//!   valid.
//! - amr: `email` → `eotp`, `sms` → `sms`; a `direct` code counts for the channel of its
//!   identifier (`email` → `eotp`, `phone_number` → `sms`) and for `user_id`/`username` as
//!   `eotp` (the email factor: the app delivers it itself, as it would an email), which marks
//!   no address verified. Redeeming a code sent to an address marks that address verified if
//!   it is still the user's.
//! - Brute force: wrong attempts count per (user, `otp`) — one counter for both channels,
//!   since a wrong guess belongs to no channel — incremented atomically in the store before
//!   the code is compared. The attempt that reaches `otp.max_failures` and every attempt
//!   during the `otp.lockout` answer `auth_locked`; a success resets the counter; counts are
//!   otherwise forgotten only when a lockout ends. Unknown identifiers get the same
//!   `auth_invalid_credentials` as a wrong code.
//! - Rate limits (`ratelimit.rs`) apply before anything is sent or compared.

use serde::Serialize;
use zeroize::Zeroizing;

use crate::messages::{render, MessageVars};

use crate::codes::{
    new_code_id, passcode_hash, random_digits, CodeRedemption, OneTimeCode, Redemption, Secret,
    EOTP, SMS,
};
use crate::error::{Error, Rejection};
use crate::model::{FailurePolicy, Permission, User, UserLookup, UserStatus};
use crate::preferences::LoginPreferences;
use crate::service::{plausible_id, Identity};
use crate::sessions::{invalid_credentials, locked, not_active, AuthTokens, LoginOptions};
use crate::tokens::AccessContext;
use crate::users::{email_norm, normalize_phone, require_permission, username_norm};

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
            _ => Err(Error::InvalidInput(
                "`channel` must be one of email, sms, direct".into(),
            )),
        }
    }
}

/// How a request names its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierType {
    Email,
    PhoneNumber,
    UserId,
    Username,
}

impl IdentifierType {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "email" => Ok(Self::Email),
            "phone_number" => Ok(Self::PhoneNumber),
            "user_id" => Ok(Self::UserId),
            "username" => Ok(Self::Username),
            _ => Err(Error::InvalidInput(
                "`identifier_type` must be one of email, phone_number, user_id, username".into(),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::UserId => "user_id",
            Self::Username => "username",
        }
    }
}

/// A user identifier of a request, as given.
#[derive(Debug, Clone)]
pub struct Identifier {
    pub kind: IdentifierType,
    pub value: String,
}

impl Identifier {
    /// The normalised form, `type:value`: the rate-limit key. `None` if it cannot name
    /// anyone (a malformed phone number, an implausible id).
    fn key(&self) -> Option<String> {
        let v = match self.kind {
            IdentifierType::Email => email_norm(&self.value),
            IdentifierType::PhoneNumber => normalize_phone(&self.value).ok()?,
            IdentifierType::UserId => self.value.clone(),
            IdentifierType::Username => username_norm(&self.value),
        };
        if !plausible_id(&v) && self.kind != IdentifierType::Email {
            return None;
        }
        Some(format!("{}:{v}", self.kind.as_str()))
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

pub(crate) fn user_not_found() -> Error {
    Error::rejected(Rejection::NotFound, "user_not_found", "no such user")
}

pub(crate) fn method_disabled(method: &str) -> Error {
    Error::rejected(
        Rejection::Forbidden,
        "auth_login_preferences_missing",
        format!("the `{method}` authentication method is not enabled in the login preferences"),
    )
}

pub(crate) fn email_missing() -> Error {
    Error::rejected(
        Rejection::NotFound,
        "user_email_address_missing",
        "the user has no email address",
    )
}

fn phone_missing() -> Error {
    Error::rejected(
        Rejection::NotFound,
        "user_phone_number_missing",
        "the user has no phone number",
    )
}

fn passcode_expired() -> Error {
    Error::rejected(
        Rejection::BadRequest,
        "auth_otp_passcode_expired",
        "the passcode has expired",
    )
}

/// A delivery failure: names the channel, what was sent and the failure class, never the
/// code, address or provider text.
pub(crate) fn delivery_failed(
    what: &str,
    channel: &str,
    e: &tessera_delivery::DeliveryError,
) -> Error {
    tracing::warn!(
        kind = e.kind.as_str(),
        channel,
        what,
        "message delivery failed"
    );
    Error::rejected(
        Rejection::Unavailable,
        "delivery_failed",
        format!(
            "the {what} could not be sent by {channel} ({} error); the previous code, if any, \
             is still valid",
            e.kind.as_str()
        ),
    )
}

/// Checks a request's expiry in minutes (1–60), else takes the default.
pub(crate) fn expiry_minutes(field: &str, asked: Option<u32>, default: u32) -> Result<i64, Error> {
    match asked {
        None => Ok(i64::from(default)),
        Some(m) if (1..=60).contains(&m) => Ok(i64::from(m)),
        Some(_) => Err(Error::InvalidInput(format!(
            "`{field}` must be between 1 and 60 minutes"
        ))),
    }
}

/// Whether the login preferences enable the method of amr `kind`.
pub(crate) fn method_enabled(prefs: &LoginPreferences, kind: &str) -> Result<(), Error> {
    let (enabled, name) = match kind {
        EOTP => (prefs.auth_methods.email_otp, "email_otp"),
        SMS => (prefs.auth_methods.sms, "sms"),
        _ => (prefs.auth_methods.email, "email"),
    };
    if enabled {
        Ok(())
    } else {
        Err(method_disabled(name))
    }
}

impl Identity {
    /// The user an identifier names. Malformed values are `InvalidInput` when `strict` (send),
    /// else simply nobody (authenticate).
    pub(crate) async fn user_by_identifier(
        &self,
        id: &Identifier,
        strict: bool,
    ) -> Result<Option<User>, Error> {
        match id.kind {
            IdentifierType::Email => {
                self.find_user(&UserLookup::EmailNorm(email_norm(&id.value)))
                    .await
            }
            IdentifierType::PhoneNumber => match normalize_phone(&id.value) {
                Ok(p) => self.find_user(&UserLookup::Phone(p)).await,
                Err(e) if strict => Err(e),
                Err(_) => Ok(None),
            },
            IdentifierType::UserId => {
                if !plausible_id(&id.value) {
                    return Ok(None);
                }
                Ok(self.store.get_user(&id.value).await?)
            }
            IdentifierType::Username => {
                self.find_user(&UserLookup::UsernameNorm(username_norm(&id.value)))
                    .await
            }
        }
    }

    /// Marks `destination` verified on the user if it is still their address of `kind`'s
    /// channel (email for `eotp`/`eml`, phone for `sms`).
    pub(crate) async fn mark_verified(
        &self,
        user: &mut User,
        kind: &str,
        destination: Option<&str>,
    ) -> Result<(), Error> {
        let Some(dest) = destination else {
            return Ok(());
        };
        let changed = if kind == SMS {
            let same = user.phone_number.as_deref() == Some(dest);
            let change = same && !user.phone_number_verified;
            user.phone_number_verified |= same;
            change
        } else {
            let same = user.email_norm().as_deref() == Some(email_norm(dest).as_str());
            let change = same && !user.email_verified;
            user.email_verified |= same;
            change
        };
        if changed {
            user.updated_at = self.clock.now_s();
            self.store.update_user(user).await?;
            self.live.remove_user(&user.user_id);
        }
        Ok(())
    }

    /// `POST /cis/v1/auth/otp/send`: needs `auth`, and `auth:direct` for `direct`.
    pub async fn otp_send(&self, ctx: &AccessContext, req: OtpSend) -> Result<OtpSent, Error> {
        require_permission(ctx, Permission::Auth)?;
        if req.channel == OtpChannel::Direct {
            require_permission(ctx, Permission::AuthDirect)?;
        }
        let prefs = self.login_preferences();
        let kind = match (req.channel, req.identifier.kind) {
            (OtpChannel::Sms, _) | (OtpChannel::Direct, IdentifierType::PhoneNumber) => SMS,
            _ => EOTP,
        };
        method_enabled(&prefs, kind)?;
        let minutes = expiry_minutes("expires_in", req.expires_in, prefs.otp.expires_in)?;
        let user = self
            .user_by_identifier(&req.identifier, true)
            .await?
            .ok_or_else(user_not_found)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        let destination = match (req.channel, kind) {
            (OtpChannel::Email, _) => Some(user.email.clone().ok_or_else(email_missing)?),
            (OtpChannel::Sms, _) => Some(user.phone_number.clone().ok_or_else(phone_missing)?),
            (OtpChannel::Direct, _) => match req.identifier.kind {
                IdentifierType::Email => user.email.clone(),
                IdentifierType::PhoneNumber => user.phone_number.clone(),
                IdentifierType::UserId | IdentifierType::Username => None,
            },
        };
        let client_id = &ctx.client.client.client_id;
        let limit_key = match &destination {
            Some(d) if kind == EOTP => email_norm(d),
            Some(d) => d.clone(),
            None => format!("user:{}", user.user_id),
        };
        self.limits
            .check_send(self.clock.now_ms(), client_id, &limit_key)?;

        let code = random_digits(usize::try_from(prefs.otp.code_length).unwrap_or(6))?;
        let now = self.clock.now_s();
        let record = OneTimeCode {
            code_id: new_code_id()?,
            code_hash: passcode_hash(&self.code_hasher, &user.user_id, code.expose()),
            user_id: user.user_id.clone(),
            client_id: client_id.clone(),
            kind: kind.to_string(),
            destination: destination.clone(),
            redirect_uri: None,
            state: None,
            created_at: now,
            expires_at: now + minutes * 60,
            consumed_at: None,
        };
        let vars = MessageVars {
            app: &ctx.client.app.name,
            secret: code.expose(),
            minutes,
        };
        let templates = &self.settings.messages;
        // Deliver first: a failed send must leave the previous code valid.
        let message = match (req.channel, destination) {
            (OtpChannel::Email, Some(to)) => Some(tessera_delivery::Message::email(
                to,
                render(&templates.otp_email_subject, &vars).as_str(),
                render(&templates.otp_email_text, &vars).as_str(),
            )),
            (OtpChannel::Sms, Some(to)) => Some(tessera_delivery::Message::sms(
                to,
                render(&templates.otp_sms_text, &vars).as_str(),
            )),
            _ => None,
        };
        if let Some(m) = message {
            let channel = m.channel.as_str();
            let sent = self.messenger.deliver(&m).await;
            // The message text holds the code; do not keep it around.
            drop(Zeroizing::new(m.text));
            if let Err(e) = sent {
                return Err(delivery_failed("one-time passcode", channel, &e));
            }
        }
        self.store.create_one_time_code(&record).await?;
        Ok(OtpSent {
            message: "OTP sent",
            code: (req.channel == OtpChannel::Direct).then_some(code),
        })
    }

    /// `POST /cis/v1/auth/otp/authenticate`: needs `auth`.
    pub async fn otp_authenticate(
        &self,
        ctx: &AccessContext,
        login: OtpLogin,
    ) -> Result<AuthTokens, Error> {
        require_permission(ctx, Permission::Auth)?;
        let client_id = &ctx.client.client.client_id;
        let key = login.identifier.key();
        self.limits.check_authenticate(
            self.clock.now_ms(),
            client_id,
            Some(key.as_deref().unwrap_or("invalid")),
        )?;
        self.precheck_login(ctx, &login.options).await?;
        let Some(mut user) = self.user_by_identifier(&login.identifier, false).await? else {
            return Err(invalid_credentials());
        };
        let prefs = self.login_preferences();
        let now = self.clock.now_s();
        if let Some(f) = self.store.get_lock(&user.user_id, OTP_COUNTER).await? {
            if f.locked_until.is_some_and(|until| until > now) {
                return Err(locked());
            }
        }
        // Count the attempt before comparing, so concurrent guesses all count first.
        let policy = FailurePolicy {
            now_s: now,
            window_s: NO_WINDOW_S,
            max_failures: i64::from(prefs.otp.max_failures),
            lockout_s: i64::from(prefs.otp.lockout) * 60,
        };
        let attempt = self
            .store
            .record_auth_failure(&user.user_id, OTP_COUNTER, policy)
            .await?;
        if attempt.count > policy.max_failures {
            return Err(locked());
        }
        let passcode = login.passcode.trim();
        let outcome = if passcode.is_empty()
            || passcode.len() > MAX_PASSCODE_LEN
            || !passcode.bytes().all(|b| b.is_ascii_digit())
        {
            Redemption::Invalid
        } else {
            let redemption = CodeRedemption {
                code_hash: passcode_hash(&self.code_hasher, &user.user_id, passcode),
                user_id: Some(user.user_id.clone()),
                kinds: vec![EOTP.to_string(), SMS.to_string()],
                client_id: (!prefs.otp.cross_clients_allowed).then(|| client_id.clone()),
                now_s: now,
            };
            self.store.redeem_one_time_code(&redemption).await?
        };
        let code = match outcome {
            Redemption::Consumed(code) => code,
            Redemption::Expired => return Err(passcode_expired()),
            Redemption::Invalid => {
                return Err(if attempt.count >= policy.max_failures {
                    locked()
                } else {
                    invalid_credentials()
                })
            }
        };
        self.store
            .reset_auth_failures(&user.user_id, OTP_COUNTER)
            .await?;
        method_enabled(&prefs, &code.kind)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        self.mark_verified(&mut user, &code.kind, code.destination.as_deref())
            .await?;
        self.complete_login(ctx, &user, &code.kind, login.options)
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identifiers_normalise_into_rate_limit_keys() {
        let id = |kind, v: &str| Identifier {
            kind,
            value: v.to_string(),
        };
        assert_eq!(
            id(IdentifierType::Email, " Ann@Example.COM ")
                .key()
                .unwrap(),
            "email:ann@example.com"
        );
        assert_eq!(
            id(IdentifierType::PhoneNumber, "+1 415 555 0100")
                .key()
                .unwrap(),
            "phone_number:+14155550100"
        );
        assert!(id(IdentifierType::PhoneNumber, "not a phone")
            .key()
            .is_none());
        assert!(id(IdentifierType::UserId, "").key().is_none());
        assert!(OtpChannel::parse("fax").is_err());
        assert!(IdentifierType::parse("custom").is_err());
    }

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
    }
}
