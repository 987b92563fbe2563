//! [`SmtpMailer`]: email over SMTP with lettre (tokio, rustls). One connection per message;
//! the whole send is bounded by the configured timeout.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{SmtpConfig, TlsMode};
use crate::{Channel, Deliver, DeliveryError, Message};

/// Sends [`Channel::Email`] messages through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the mailer. Fails with a configuration error for an empty host, an invalid
    /// sender address, a user name without password (or the reverse) or unusable TLS settings.
    /// No connection is made until the first message.
    pub fn new(config: &SmtpConfig) -> Result<SmtpMailer, DeliveryError> {
        let host = config.host.trim();
        if host.is_empty() {
            return Err(DeliveryError::configuration("delivery.smtp.host is empty"));
        }
        let from: Mailbox = config.from.trim().parse().map_err(|_| {
            DeliveryError::configuration("delivery.smtp.from is not a valid email address")
        })?;
        if config.timeout_ms == 0 {
            return Err(DeliveryError::configuration(
                "delivery.smtp.timeout_ms must be positive",
            ));
        }
        let timeout = config.timeout();
        let tls = match config.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::Required(tls_parameters(host)?),
            TlsMode::Tls => Tls::Wrapper(tls_parameters(host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.effective_port())
            .tls(tls)
            .timeout(Some(timeout));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.clone(),
                    password.expose().to_string(),
                ));
            }
            (None, None) => {}
            _ => {
                return Err(DeliveryError::configuration(
                    "delivery.smtp.username and delivery.smtp.password must be set together",
                ))
            }
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            timeout,
        })
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, DeliveryError> {
    TlsParameters::new(host.to_string())
        .map_err(|_| DeliveryError::configuration("delivery.smtp TLS settings are unusable"))
}

/// Maps lettre's error to a kind; the message names status codes only (server replies may
/// echo addresses).
fn classify(e: &lettre::transport::smtp::Error) -> DeliveryError {
    let code = e.status().map(u16::from);
    let code_text = code.map(|c| format!(" ({c})")).unwrap_or_default();
    if e.is_permanent() {
        if matches!(code, Some(530 | 534 | 535 | 538)) {
            DeliveryError::configuration(format!(
                "SMTP server refused the authentication{code_text}"
            ))
        } else {
            DeliveryError::rejected(format!("SMTP server refused the message{code_text}"))
        }
    } else if e.is_transient() {
        DeliveryError::temporary(format!("SMTP server deferred the message{code_text}"))
    } else if e.is_timeout() {
        DeliveryError::temporary("SMTP server timed out")
    } else if e.is_tls() {
        DeliveryError::temporary("SMTP TLS negotiation failed")
    } else if e.is_client() {
        DeliveryError::configuration("SMTP client error (unsupported server or settings)")
    } else {
        DeliveryError::temporary("SMTP connection failed")
    }
}

#[async_trait::async_trait]
impl Deliver for SmtpMailer {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        if msg.channel != Channel::Email {
            return Err(DeliveryError::configuration(format!(
                "the SMTP mailer cannot send {} messages",
                msg.channel
            )));
        }
        let to: Mailbox =
            msg.to.trim().parse().map_err(|_| {
                DeliveryError::rejected("the recipient is not a valid email address")
            })?;
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.clone().unwrap_or_default())
            .header(ContentType::TEXT_PLAIN)
            .body(msg.text.clone())
            .map_err(|_| DeliveryError::rejected("the email could not be built"))?;
        match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(DeliveryError::temporary("SMTP send timed out")),
        }
    }
}
