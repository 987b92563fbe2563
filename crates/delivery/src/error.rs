//! [`DeliveryError`]: what went wrong when sending a message, classified so callers can decide
//! whether to retry. Messages name the component and status codes, never the message text
//! (it carries codes and links), the recipient or any secret.

/// Failure category of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryErrorKind {
    /// The sender is not configured, or configured wrongly (channel missing, bad address,
    /// destination refused by the outbound rules, authentication refused). Retrying will not help.
    Configuration,
    /// A transport failure or a temporary refusal (connection refused, timeout, SMTP 4xx,
    /// HTTP 5xx/408/429). Retrying later may succeed.
    Temporary,
    /// The provider refused this message for good (SMTP 5xx, HTTP 4xx, invalid recipient).
    Rejected,
}

impl DeliveryErrorKind {
    /// snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryErrorKind::Configuration => "configuration",
            DeliveryErrorKind::Temporary => "temporary",
            DeliveryErrorKind::Rejected => "rejected",
        }
    }

    /// Whether a retry may succeed.
    pub fn is_retryable(self) -> bool {
        self == DeliveryErrorKind::Temporary
    }
}

/// A delivery failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct DeliveryError {
    /// Category.
    pub kind: DeliveryErrorKind,
    /// Description (never the message text, the recipient or secrets).
    pub message: String,
}

impl DeliveryError {
    /// A new error.
    pub fn new(kind: DeliveryErrorKind, message: impl Into<String>) -> Self {
        DeliveryError {
            kind,
            message: message.into(),
        }
    }

    /// A [`DeliveryErrorKind::Configuration`] error.
    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(DeliveryErrorKind::Configuration, message)
    }

    /// A [`DeliveryErrorKind::Temporary`] error.
    pub fn temporary(message: impl Into<String>) -> Self {
        Self::new(DeliveryErrorKind::Temporary, message)
    }

    /// A [`DeliveryErrorKind::Rejected`] error.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(DeliveryErrorKind::Rejected, message)
    }

    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}
