//! [`Challenges`]: the send/redeem flow every code-based method shares — OTP by email or
//! SMS, email magic links, and (with CIBA) authentication links. A method decides what the
//! secret is and how it is hashed; this module does the rest the same way for all:
//!
//! - **send**: the per-destination, per-client and global rate limits; delivery by email or
//!   SMS (or none, for `direct`, where the caller gets the secret); storing the keyed hash
//!   only after the delivery succeeded, so a failed send leaves the previous code valid;
//!   storing replaces the user's older codes of the same client and kind.
//! - **redeem**: one conditional store update, so of two concurrent redeems of one code (on
//!   any nodes) exactly one wins.
//! - **finish**: the method must still be enabled, the user active; the address the code
//!   went to is marked verified if it is still the user's and the caller did not choose it
//!   (`custom_email` / `custom_phone_number`); then the login completes, carrying the code's
//!   `approval_data` into the ID token.

use std::sync::Arc;

use tessera_delivery::{Deliver, Message};
use tessera_jose::{Kek, SecretHasher};
use zeroize::Zeroizing;

use super::codes::{new_code_id, CODE_HASH_LABEL, EOTP, SMS};
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::logins::{not_active, LoginOptions, Logins};
use crate::messages::MessageTemplates;
use crate::model::{ClientRecord, CodeRedemption, OneTimeCode, Redemption, User, UserStatus};
use crate::ports::CodeStore;
use crate::preferences::{LoginPreferences, Preferences};
use crate::ratelimit::RateLimiter;
use crate::users::Users;

/// How a challenge reaches the user.
pub(crate) enum Delivery {
    Email {
        subject: Zeroizing<String>,
        text: Zeroizing<String>,
    },
    Sms {
        text: Zeroizing<String>,
    },
    /// Handed to the caller (`auth:direct`); nothing is sent.
    Direct,
}

/// One challenge to send: its stored record (built by the method) and how it travels.
pub(crate) struct Outgoing {
    pub record: OneTimeCode,
    pub delivery: Delivery,
    /// What the rate limit per destination counts: the normalised address, or the user.
    pub limit_key: String,
    /// For messages and logs: "one-time passcode", "magic link".
    pub what: &'static str,
}

/// 403 `auth_login_preferences_missing` naming the disabled method.
pub(crate) fn method_disabled(method: &str) -> Error {
    Error::new(
        Code::AuthLoginPreferencesMissing,
        format!("the `{method}` authentication method is not enabled in the login preferences"),
    )
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

/// Checks a request's expiry in minutes (1–60), else takes the default.
pub(crate) fn expiry_minutes(field: &str, asked: Option<u32>, default: u32) -> Result<i64, Error> {
    match asked {
        None => Ok(i64::from(default)),
        Some(m) if (1..=60).contains(&m) => Ok(i64::from(m)),
        Some(_) => Err(Error::invalid(format!(
            "`{field}` must be between 1 and 60 minutes"
        ))),
    }
}

/// A delivery failure: names the channel, what was sent and the failure class, never the
/// code, address or provider text.
fn delivery_failed(what: &str, channel: &str, e: &tessera_delivery::DeliveryError) -> Error {
    tracing::warn!(
        kind = e.kind.as_str(),
        channel,
        what,
        "message delivery failed"
    );
    Error::new(
        Code::DeliveryFailed,
        format!(
            "the {what} could not be sent by {channel} ({} error); the previous code, if any, \
             is still valid",
            e.kind.as_str()
        ),
    )
}

pub struct Challenges {
    codes: Arc<dyn CodeStore>,
    users: Arc<Users>,
    prefs: Arc<Preferences>,
    limits: Arc<RateLimiter>,
    messenger: Arc<dyn Deliver>,
    templates: MessageTemplates,
    hasher: SecretHasher,
    clock: Arc<dyn Clock>,
    logins: Arc<Logins>,
}

impl Challenges {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        codes: Arc<dyn CodeStore>,
        users: Arc<Users>,
        prefs: Arc<Preferences>,
        limits: Arc<RateLimiter>,
        messenger: Arc<dyn Deliver>,
        templates: MessageTemplates,
        kek: &Kek,
        clock: Arc<dyn Clock>,
        logins: Arc<Logins>,
    ) -> Self {
        Self {
            codes,
            users,
            prefs,
            limits,
            messenger,
            templates,
            hasher: SecretHasher::new(&kek.derive(CODE_HASH_LABEL)),
            clock,
            logins,
        }
    }

    pub(crate) fn hasher(&self) -> &SecretHasher {
        &self.hasher
    }

    pub(crate) fn templates(&self) -> &MessageTemplates {
        &self.templates
    }

    /// The login preferences of `client`'s application (its own, else the tenant's).
    pub(crate) fn prefs(&self, client: &ClientRecord) -> Arc<LoginPreferences> {
        self.prefs.for_app(&client.app.app_id)
    }

    pub(crate) fn users(&self) -> &Users {
        &self.users
    }

    pub(crate) fn limits(&self) -> &RateLimiter {
        &self.limits
    }

    pub(crate) fn logins(&self) -> &Logins {
        &self.logins
    }

    pub(crate) fn now_s(&self) -> i64 {
        self.clock.now_s()
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A new record for `user` and `client`, valid `minutes` from now, with an id.
    pub(crate) fn record(
        &self,
        client: &ClientRecord,
        user: &User,
        kind: &str,
        code_hash: String,
        destination: Option<String>,
        minutes: i64,
    ) -> Result<OneTimeCode, Error> {
        let now = self.clock.now_s();
        Ok(OneTimeCode {
            code_id: new_code_id()?,
            code_hash,
            user_id: user.user_id.clone(),
            client_id: client.client_id().to_string(),
            kind: kind.to_string(),
            destination,
            custom_destination: false,
            approval_data: None,
            redirect_uri: None,
            state: None,
            created_at: now,
            expires_at: now + minutes * 60,
            consumed_at: None,
        })
    }

    /// The user a send names: existing and active.
    pub(crate) fn require_active(user: Option<User>) -> Result<User, Error> {
        let user = user.ok_or_else(|| Error::from(Code::UserNotFound))?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        Ok(user)
    }

    /// Sends a challenge for `client`: rate limits, delivery, then the stored hash.
    pub(crate) async fn send(
        &self,
        client: &ClientRecord,
        outgoing: Outgoing,
    ) -> Result<(), Error> {
        self.limits
            .check_send(self.clock.now_ms(), client.client_id(), &outgoing.limit_key)?;
        let to = outgoing.record.destination.clone();
        let message = match (outgoing.delivery, to) {
            (Delivery::Email { subject, text }, Some(to)) => {
                Some(Message::email(to, subject.as_str(), text.as_str()))
            }
            (Delivery::Sms { text }, Some(to)) => Some(Message::sms(to, text.as_str())),
            (Delivery::Direct, _) => None,
            (_, None) => return Err(Error::internal("a challenge to send has no destination")),
        };
        if let Some(m) = message {
            let channel = m.channel.as_str();
            let sent = self.messenger.deliver(&m).await;
            // The message text holds the secret; do not keep it around.
            drop(Zeroizing::new(m.text));
            if let Err(e) = sent {
                return Err(delivery_failed(outgoing.what, channel, &e));
            }
        }
        self.codes.create_one_time_code(&outgoing.record).await?;
        Ok(())
    }

    /// Stores a code that is handed to the caller rather than sent (a password-reset token).
    pub(crate) async fn store(&self, record: &OneTimeCode) -> Result<(), Error> {
        self.codes.create_one_time_code(record).await?;
        Ok(())
    }

    /// Consumes the newest live code matching `redemption` (exactly one concurrent redeem
    /// wins).
    pub(crate) async fn redeem(&self, redemption: &CodeRedemption) -> Result<Redemption, Error> {
        Ok(self.codes.redeem_one_time_code(redemption).await?)
    }

    /// After a code of `user` was consumed: method still enabled, user active, the address
    /// the code went to marked verified (unless the caller chose it), the login completed
    /// for `client` with the code's `approval_data`.
    pub(crate) async fn finish(
        &self,
        client: &ClientRecord,
        user: User,
        code: &OneTimeCode,
        options: LoginOptions,
    ) -> Result<IssuedTokens, Error> {
        let user = self.accept(client, user, code).await?;
        self.logins
            .complete(
                client,
                &user,
                &code.kind,
                options,
                code.approval_data.clone(),
            )
            .await
    }

    /// The checks of [`Self::finish`] before the login: method still enabled, user active,
    /// the address the code went to marked verified (unless the caller chose it).
    pub(crate) async fn accept(
        &self,
        client: &ClientRecord,
        mut user: User,
        code: &OneTimeCode,
    ) -> Result<User, Error> {
        method_enabled(&self.prefs(client), &code.kind)?;
        if user.status != UserStatus::Active {
            return Err(not_active());
        }
        // A code sent where the caller said proves nothing about the user's own addresses,
        // even one equal to them.
        if !code.custom_destination {
            self.users
                .mark_verified(&mut user, code.kind == SMS, code.destination.as_deref())
                .await?;
        }
        Ok(user)
    }

    /// Housekeeping: codes that expired an hour ago are deleted.
    pub async fn purge(&self) -> Result<(), Error> {
        self.codes
            .purge_one_time_codes(self.clock.now_s() - 3_600)
            .await?;
        Ok(())
    }
}
