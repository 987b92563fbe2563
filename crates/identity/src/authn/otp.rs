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
//! - Rate limits (`ratelimit.rs`) apply before anything is sent or compared; a code sent to
//!   `custom_email` / `custom_phone_number` counts against that address.
//! - The platform's send extras: `custom_email` (email channel) / `custom_phone_number`
//!   (sms channel) deliver the code to that address instead of the user's. Whoever chooses
//!   the address can receive the code, as with `direct`, so they need `auth:direct` too
//!   (SPEC §5 keeps handing codes to the caller behind that permission), and redeeming such
//!   a code marks none of the user's addresses verified. `approval_data` (a flat object of at
//!   most 10 string members, [`check_approval_data`]) is echoed in the answer, stored with
//!   the code and carried into the ID token of the login that redeems it. `email_content`
//!   and `custom_sms_input` shape the message (`messages.rs`); the code always stays in it.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::challenge::{expiry_minutes, method_enabled, Challenges, Delivery, Outgoing};
use super::codes::{passcode_hash, random_digits, Secret, EOTP, SMS};
use crate::caller::{perm, Permit};
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::lockouts::Lockouts;
use crate::logins::LoginOptions;
use crate::messages::{compose_email, compose_sms, EmailContent, MessageVars, SmsInput};
use crate::model::{
    email_norm, ClientRecord, CodeRedemption, FailurePolicy, OneTimeCode, Redemption, User,
};
use crate::users::{normalize_email, normalize_phone, Identifier, IdentifierType};

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

/// Most members of `approval_data` (the platform's limit).
pub const MAX_APPROVAL_KEYS: usize = 10;
/// Longest key of `approval_data`, in characters.
pub const MAX_APPROVAL_KEY_CHARS: usize = 64;
/// Longest value of `approval_data`, in characters.
pub const MAX_APPROVAL_VALUE_CHARS: usize = 256;

/// `POST /cis/v1/auth/otp/send`.
#[derive(Debug, Clone)]
pub struct OtpSend {
    pub channel: OtpChannel,
    pub identifier: Identifier,
    /// Minutes, 1–60; default `otp.expires_in`.
    pub expires_in: Option<u32>,
    /// Deliver to this email instead of the user's (email channel; needs `auth:direct`).
    pub custom_email: Option<String>,
    /// Deliver to this phone number instead of the user's (sms channel; needs
    /// `auth:direct`).
    pub custom_phone_number: Option<String>,
    /// As the caller sent it; checked by [`check_approval_data`].
    pub approval_data: Option<Value>,
    /// Shapes the email (email channel).
    pub email_content: Option<EmailContent>,
    /// Shapes the SMS (sms channel).
    pub custom_sms_input: Option<SmsInput>,
}

impl OtpSend {
    /// A send with none of the platform's extras.
    pub fn new(channel: OtpChannel, identifier: Identifier, expires_in: Option<u32>) -> Self {
        Self {
            channel,
            identifier,
            expires_in,
            custom_email: None,
            custom_phone_number: None,
            approval_data: None,
            email_content: None,
            custom_sms_input: None,
        }
    }
}

/// What a send returns: the `approval_data` it was given, and the code only on the
/// `direct` channel.
#[derive(Debug, Serialize)]
pub struct OtpSent {
    pub message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_data: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<Secret>,
}

/// Whether `s` holds only what the platform allows in approval data: ASCII letters and
/// digits, `_`, `-`, `.` and `:` (its SDKs added `:`).
fn approval_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Checks `approval_data` as the platform defines it: a flat JSON object of at most
/// [`MAX_APPROVAL_KEYS`] members whose keys (1–64 characters) and string values (at most
/// 256) hold only letters, digits, `_`, `-`, `.` and `:`. Anything else is 400 naming the
/// rule.
pub fn check_approval_data(value: Value) -> Result<Map<String, Value>, Error> {
    let Value::Object(map) = value else {
        return Err(Error::invalid("`approval_data` must be a JSON object"));
    };
    if map.len() > MAX_APPROVAL_KEYS {
        return Err(Error::invalid(format!(
            "`approval_data` has more than {MAX_APPROVAL_KEYS} keys"
        )));
    }
    for (key, value) in &map {
        if key.is_empty() || key.chars().count() > MAX_APPROVAL_KEY_CHARS || !approval_chars(key) {
            return Err(Error::invalid(format!(
                "`approval_data` keys must be 1 to {MAX_APPROVAL_KEY_CHARS} letters, digits, \
                 `_`, `-`, `.` or `:`"
            )));
        }
        let Value::String(text) = value else {
            return Err(Error::invalid(
                "`approval_data` values must be strings (it is a flat object)",
            ));
        };
        if text.chars().count() > MAX_APPROVAL_VALUE_CHARS || !approval_chars(text) {
            return Err(Error::invalid(format!(
                "`approval_data` values must be at most {MAX_APPROVAL_VALUE_CHARS} letters, \
                 digits, `_`, `-`, `.` or `:`"
            )));
        }
    }
    Ok(map)
}

/// The address a send delivers to when the caller chose one, checked against the channel
/// (normalised: an email trimmed, a phone number in E.164).
fn custom_destination(req: &OtpSend) -> Result<Option<String>, Error> {
    match (req.channel, &req.custom_email, &req.custom_phone_number) {
        (_, None, None) => Ok(None),
        (OtpChannel::Email, Some(email), None) => normalize_email(email).map(Some).map_err(|_| {
            Error::new(
                Code::InvalidEmail,
                "`custom_email` is not a valid email address",
            )
        }),
        (OtpChannel::Sms, None, Some(phone)) => normalize_phone(phone).map(Some).map_err(|_| {
            Error::new(
                Code::InvalidPhoneNumber,
                "`custom_phone_number` must be an E.164 number: + and 8 to 15 digits",
            )
        }),
        (OtpChannel::Email, _, Some(_)) => Err(Error::invalid(
            "`custom_phone_number` applies only to the sms channel",
        )),
        (OtpChannel::Sms, Some(_), _) => Err(Error::invalid(
            "`custom_email` applies only to the email channel",
        )),
        (OtpChannel::Direct, _, _) => Err(Error::invalid(
            "`custom_email` and `custom_phone_number` do not apply to the direct channel",
        )),
    }
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

/// A passcode to redeem: for whom, which kinds of code, and whether only the sending client
/// may redeem it.
pub(crate) struct PasscodeCheck<'a> {
    pub identifier: &'a Identifier,
    pub passcode: &'a str,
    pub kinds: &'a [&'a str],
    pub client_bound: bool,
}

/// The guarded redemption every passcode goes through (login passcodes here, reset passcodes
/// in `reset.rs`): the user the identifier names (nobody counts and locks out like somebody,
/// so the answers do not tell which accounts exist), the per-user `otp` lockout, the attempt
/// counted before the comparison (so at most `otp.max_failures` are ever compared per
/// lockout, whatever the concurrency), one conditional redeem, and the counter reset on
/// success. Rate limits are the caller's, before this.
pub(crate) async fn redeem_passcode(
    c: &Challenges,
    lockouts: &Lockouts,
    client: &ClientRecord,
    check: PasscodeCheck<'_>,
) -> Result<(Box<OneTimeCode>, User), Error> {
    let user = c.users().by_identifier(check.identifier, false).await?;
    let subject = lockouts.subject(
        user.as_ref().map(|u| u.user_id.as_str()),
        &check
            .identifier
            .key()
            .unwrap_or_else(|| format!("raw:{}", check.identifier.value)),
    );
    if lockouts.is_locked(&subject, OTP_COUNTER).await? {
        return Err(Code::AuthLocked.into());
    }
    let prefs = c.prefs(client);
    let policy = FailurePolicy {
        now_s: c.now_s(),
        window_s: NO_WINDOW_S,
        max_failures: i64::from(prefs.otp.max_failures),
        lockout_s: i64::from(prefs.otp.lockout) * 60,
    };
    let attempt = lockouts
        .record_failure(&subject, OTP_COUNTER, policy)
        .await?;
    if attempt.count > policy.max_failures {
        return Err(Code::AuthLocked.into());
    }
    let passcode = check.passcode.trim();
    let outcome = match &user {
        Some(user)
            if !passcode.is_empty()
                && passcode.len() <= MAX_PASSCODE_LEN
                && passcode.bytes().all(|b| b.is_ascii_digit()) =>
        {
            c.redeem(&CodeRedemption {
                code_hash: passcode_hash(c.hasher(), &user.user_id, passcode),
                user_id: Some(user.user_id.clone()),
                kinds: check.kinds.iter().map(|k| k.to_string()).collect(),
                client_id: check.client_bound.then(|| client.client_id().to_string()),
                now_s: c.now_s(),
            })
            .await?
        }
        _ => Redemption::Invalid,
    };
    let found = match (outcome, user) {
        (Redemption::Consumed(code), Some(user)) => (code, user),
        (Redemption::Expired, _) => return Err(Code::AuthOtpPasscodeExpired.into()),
        // The failure that reaches the limit answers `auth_locked`.
        _ if attempt.count >= policy.max_failures => return Err(Code::AuthLocked.into()),
        _ => return Err(Code::AuthInvalidCredentials.into()),
    };
    lockouts.reset(&subject, OTP_COUNTER).await?;
    Ok(found)
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
        // Bad input first: nothing is looked up or sent for a request that cannot be served.
        let approval_data = req
            .approval_data
            .clone()
            .map(check_approval_data)
            .transpose()?;
        if let Some(content) = &req.email_content {
            content.validate()?;
        }
        if let Some(input) = &req.custom_sms_input {
            input.validate()?;
        }
        let custom = custom_destination(&req)?;
        if req.channel == OtpChannel::Direct || custom.is_some() {
            permit.also::<perm::AuthDirect>()?;
        }
        let (code, _) = self
            .deliver(permit.client(), &req, custom, approval_data.clone())
            .await?;
        Ok(OtpSent {
            message: "OTP sent",
            approval_data,
            code: (req.channel == OtpChannel::Direct).then_some(code),
        })
    }

    /// A journey's OTP step: a new code for the user sent to their email or phone for the
    /// run's client, exactly as `send` does it (method enabled, rate limits, the code
    /// replacing older ones); the address it went to.
    pub(crate) async fn send_for_journey(
        &self,
        client: &ClientRecord,
        user_id: &str,
        channel: OtpChannel,
    ) -> Result<String, Error> {
        let req = OtpSend::new(
            channel,
            Identifier {
                kind: IdentifierType::UserId,
                value: user_id.to_string(),
            },
            None,
        );
        let (_, destination) = self.deliver(client, &req, None, None).await?;
        destination.ok_or_else(|| Error::internal("a passcode was sent without an address"))
    }

    /// A journey's OTP step: the code checked exactly as `authenticate` does (rate limits,
    /// [`redeem_passcode`]: lockout, attempt counted first, bound to the client), of the
    /// step's channel only, the address marked verified; the user.
    pub(crate) async fn redeem_for_journey(
        &self,
        client: &ClientRecord,
        user_id: &str,
        channel: OtpChannel,
        passcode: &str,
    ) -> Result<User, Error> {
        let c = &self.challenges;
        let identifier = Identifier {
            kind: IdentifierType::UserId,
            value: user_id.to_string(),
        };
        let key = identifier.key();
        c.limits().check_authenticate(
            c.now_ms(),
            client.client_id(),
            Some(key.as_deref().unwrap_or("invalid")),
        )?;
        let prefs = c.prefs(client);
        let kind = if channel == OtpChannel::Sms {
            SMS
        } else {
            EOTP
        };
        let (code, user) = redeem_passcode(
            c,
            &self.lockouts,
            client,
            PasscodeCheck {
                identifier: &identifier,
                passcode,
                kinds: &[kind],
                client_bound: !prefs.otp.cross_clients_allowed,
            },
        )
        .await?;
        c.accept(client, user, &code).await
    }

    /// Makes, delivers and stores a code (`send` after its input and permission checks);
    /// the code and the address it went to.
    async fn deliver(
        &self,
        client: &ClientRecord,
        req: &OtpSend,
        custom: Option<String>,
        approval_data: Option<Map<String, Value>>,
    ) -> Result<(Secret, Option<String>), Error> {
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
        let destination = match (req.channel, &custom) {
            (_, Some(address)) => Some(address.clone()),
            (OtpChannel::Email, None) => Some(
                user.email
                    .clone()
                    .ok_or_else(|| Error::from(Code::UserEmailAddressMissing))?,
            ),
            (OtpChannel::Sms, None) => Some(
                user.phone_number
                    .clone()
                    .ok_or_else(|| Error::from(Code::UserPhoneNumberMissing))?,
            ),
            (OtpChannel::Direct, None) => match req.identifier.kind {
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
        let mut record = c.record(
            client,
            &user,
            kind,
            passcode_hash(c.hasher(), &user.user_id, code.expose()),
            destination,
            minutes,
        )?;
        record.custom_destination = custom.is_some();
        record.approval_data = approval_data;
        let sent_to = record.destination.clone();
        let vars = MessageVars {
            app: &client.app.name,
            secret: code.expose(),
            minutes,
            message: "",
        };
        let t = c.templates();
        let delivery = match req.channel {
            OtpChannel::Email => {
                let (subject, text) = compose_email(
                    &t.otp_email_subject,
                    &t.otp_email_text,
                    &vars,
                    req.email_content.as_ref(),
                );
                Delivery::Email { subject, text }
            }
            OtpChannel::Sms => Delivery::Sms {
                text: compose_sms(&t.otp_sms_text, &vars, req.custom_sms_input.as_ref()),
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
        Ok((code, sent_to))
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
        let prefs = c.prefs(client);
        let (code, user) = redeem_passcode(
            c,
            &self.lockouts,
            client,
            PasscodeCheck {
                identifier: &login.identifier,
                passcode: &login.passcode,
                kinds: &[EOTP, SMS],
                client_bound: !prefs.otp.cross_clients_allowed,
            },
        )
        .await?;
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

    #[test]
    fn approval_data_is_a_flat_object_of_plain_strings() {
        use serde_json::json;
        let ok = json!({"transaction_id": "eFII2y40uB9hQ98nXt3tc1IHkRt8GrRZiqZuRn_59wT", "sum": "200.50", "at": "10:30"});
        assert_eq!(
            check_approval_data(ok.clone()).unwrap(),
            *ok.as_object().unwrap()
        );
        let eleven: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        for bad in [
            json!(["a"]),
            json!("a"),
            Value::Object(eleven),
            json!({"sum": 200}),
            json!({"nested": {"a": "b"}}),
            json!({"sum": "1 000"}),
            json!({"bad key": "x"}),
            json!({"": "x"}),
            json!({"k": "é"}),
            json!({"k": "x".repeat(257)}),
            json!({"k".repeat(65): "x"}),
        ] {
            assert!(check_approval_data(bad.clone()).is_err(), "{bad}");
        }
    }
}
