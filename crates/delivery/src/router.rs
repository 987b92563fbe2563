//! [`Router`]: one [`Deliver`] that hands each message to the sender of its channel.

use std::fmt;
use std::sync::Arc;

use tessera_journey::Outbound;

use crate::config::DeliveryConfig;
use crate::sms::SmsWebhook;
use crate::smtp::SmtpMailer;
use crate::{Channel, Deliver, DeliveryError, Message};

/// Chooses the email or SMS sender by [`Message::channel`]; a channel without a sender fails
/// with a configuration error.
#[derive(Clone, Default)]
pub struct Router {
    email: Option<Arc<dyn Deliver>>,
    sms: Option<Arc<dyn Deliver>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("email", &self.email.is_some())
            .field("sms", &self.sms.is_some())
            .finish()
    }
}

impl Router {
    /// A router with no senders.
    pub fn new() -> Self {
        Router::default()
    }

    /// One sender for both channels (the development outbox).
    pub fn all(sender: Arc<dyn Deliver>) -> Self {
        Router {
            email: Some(sender.clone()),
            sms: Some(sender),
        }
    }

    /// Sets the email sender.
    pub fn with_email(mut self, sender: Arc<dyn Deliver>) -> Self {
        self.email = Some(sender);
        self
    }

    /// Sets the SMS sender.
    pub fn with_sms(mut self, sender: Arc<dyn Deliver>) -> Self {
        self.sms = Some(sender);
        self
    }

    /// Builds the router from `[delivery]`. With `outbox = true` every channel goes to
    /// `outbox` (which must then be given) and the SMTP/SMS sections are ignored; otherwise
    /// `[delivery.smtp]` builds an [`SmtpMailer`] and `[delivery.sms]` an [`SmsWebhook`] over
    /// `outbound`. Channels without a section stay unconfigured.
    pub fn from_config(
        config: &DeliveryConfig,
        outbound: Arc<dyn Outbound>,
        outbox: Option<Arc<dyn Deliver>>,
    ) -> Result<Router, DeliveryError> {
        if config.outbox {
            return match outbox {
                Some(outbox) => Ok(Router::all(outbox)),
                None => Err(DeliveryError::configuration(
                    "delivery.outbox is on but no outbox store is available",
                )),
            };
        }
        let mut router = Router::new();
        if let Some(smtp) = &config.smtp {
            router = router.with_email(Arc::new(SmtpMailer::new(smtp)?));
        }
        if let Some(sms) = &config.sms {
            router = router.with_sms(Arc::new(SmsWebhook::new(sms, outbound)?));
        }
        Ok(router)
    }

    /// Whether `channel` has a sender.
    pub fn handles(&self, channel: Channel) -> bool {
        self.sender(channel).is_some()
    }

    fn sender(&self, channel: Channel) -> Option<&Arc<dyn Deliver>> {
        match channel {
            Channel::Email => self.email.as_ref(),
            Channel::Sms => self.sms.as_ref(),
        }
    }
}

#[async_trait::async_trait]
impl Deliver for Router {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        match self.sender(msg.channel) {
            Some(sender) => sender.deliver(msg).await,
            None => Err(DeliveryError::configuration(match msg.channel {
                Channel::Email => {
                    "email is not configured (set [delivery.smtp] or enable delivery.outbox)"
                }
                Channel::Sms => {
                    "SMS is not configured (set [delivery.sms] or enable delivery.outbox)"
                }
            })),
        }
    }
}
