//! Message delivery for one-time codes, magic links and CIBA links: a [`Message`] goes to a
//! [`Deliver`] implementation — [`SmtpMailer`] (email over SMTP with lettre), [`SmsWebhook`]
//! (SMS through an HTTP webhook, sent with the SSRF-checked outbound client), or
//! [`DevOutbox`] (stores messages in an [`OutboxStore`] instead of sending them). A [`Router`]
//! picks the sender by [`Channel`]. [`DeliveryConfig`] is the `[delivery]` configuration
//! section; see the crate README for keys and behaviour.
//!
//! Errors ([`DeliveryError`]) never contain the message text, which carries codes.

mod config;
mod error;
mod outbox;
mod router;
mod secret;
mod sms;
mod smtp;

use std::fmt;

pub use config::{DeliveryConfig, SmsConfig, SmtpConfig, TlsMode};
pub use error::{DeliveryError, DeliveryErrorKind};
pub use outbox::{DevOutbox, OutboxRecord, OutboxStore};
pub use router::Router;
pub use secret::Secret;
pub use sms::{render_body, SmsWebhook, DEFAULT_BODY_TEMPLATE};
pub use smtp::SmtpMailer;

/// The medium a message travels through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email over SMTP.
    Email,
    /// SMS through the webhook.
    Sms,
}

impl Channel {
    /// `email` or `sms`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message to send. The text usually carries a one-time code or link, so `Debug` prints
/// it as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// Email or SMS.
    pub channel: Channel,
    /// The recipient: an email address or an E.164 phone number.
    pub to: String,
    /// Email subject (ignored for SMS).
    pub subject: Option<String>,
    /// The body, already rendered by the caller.
    pub text: String,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &"***")
            .finish()
    }
}

impl Message {
    /// An email.
    pub fn email(
        to: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Message {
            channel: Channel::Email,
            to: to.into(),
            subject: Some(subject.into()),
            text: text.into(),
        }
    }

    /// An SMS.
    pub fn sms(to: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            channel: Channel::Sms,
            to: to.into(),
            subject: None,
            text: text.into(),
        }
    }
}

/// Sends messages.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// Sends (or stores) one message.
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError>;
}

#[async_trait::async_trait]
impl<T: Deliver + ?Sized> Deliver for std::sync::Arc<T> {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        (**self).deliver(msg).await
    }
}

#[async_trait::async_trait]
impl<T: Deliver + ?Sized> Deliver for Box<T> {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        (**self).deliver(msg).await
    }
}
