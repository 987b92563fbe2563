//! The outbound HTTP port. The executor builds [`OutboundRequest`]s; `tessera-outbound`
//! implements [`Outbound`] with real HTTP and the IP checks, tests use a stub.

use std::time::Duration;

use tessera_expr::BoxFuture;

/// One HTTP request to an external service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Absolute `http`/`https` URL.
    pub url: String,
    /// Header pairs.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<Vec<u8>>,
    /// Time allowed for the whole exchange.
    pub timeout: Duration,
    /// The connection making the call (for stubs, logs and metrics); `None` for JWKS fetches.
    pub connection: Option<String>,
}

/// A complete, size-capped response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundResponse {
    /// Status code.
    pub status: u16,
    /// Header pairs (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Failure category of an outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundErrorKind {
    /// The URL is not an absolute http(s) URL.
    InvalidUrl,
    /// The destination resolved to (or is) a refused address.
    ForbiddenAddress,
    /// Connect/transport failure.
    Transport,
    /// The timeout passed.
    Timeout,
    /// The response exceeded the size cap.
    TooLarge,
    /// A redirect was not followed (or too many redirects).
    Redirect,
    /// No stub matched (tests).
    NoStub,
}

impl OutboundErrorKind {
    /// snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundErrorKind::InvalidUrl => "invalid_url",
            OutboundErrorKind::ForbiddenAddress => "forbidden_address",
            OutboundErrorKind::Transport => "transport_error",
            OutboundErrorKind::Timeout => "timeout",
            OutboundErrorKind::TooLarge => "response_too_large",
            OutboundErrorKind::Redirect => "redirect_not_followed",
            OutboundErrorKind::NoStub => "no_stub",
        }
    }
}

/// An outbound failure. The message never contains request headers, bodies or query strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct OutboundError {
    /// Category.
    pub kind: OutboundErrorKind,
    /// Description (may name the host, never secrets).
    pub message: String,
}

impl OutboundError {
    /// A new error.
    pub fn new(kind: OutboundErrorKind, message: impl Into<String>) -> Self {
        OutboundError {
            kind,
            message: message.into(),
        }
    }
}

/// Performs outbound HTTP requests.
pub trait Outbound: Send + Sync {
    /// Sends one request and reads the whole (capped) response.
    fn send<'a>(
        &'a self,
        request: OutboundRequest,
    ) -> BoxFuture<'a, Result<OutboundResponse, OutboundError>>;
}
