//! Errors of the identity layer. The `api` crate maps each to an HTTP status in one place.

use crate::oauth::OAuthError;

/// What a store implementation reports.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed; the text is for logs only, never for clients.
    #[error("database error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Errors of the non-OAuth identity operations (admin API, resource-server checks).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or a field is invalid. The message names the field.
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// No, malformed, expired or revoked bearer token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A valid token without the rights for this call.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A protocol error of the OAuth endpoints.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// A refusal with its own `error_code` (e.g. `user_not_found`, `user_already_exists`,
    /// `invalid_phone_number`, `insufficient_permissions`), for APIs whose codes are part of
    /// the hosted platform's contract.
    #[error("{message}")]
    Rejected {
        kind: Rejection,
        code: &'static str,
        message: String,
    },
    /// A rate limit was hit (SPEC §5): 429 with `Retry-After: retry_after_s`.
    #[error("too many requests; retry after {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// A server-side failure; logged, never shown to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The class of a [`Error::Rejected`], which the `api` crate maps to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 400
    BadRequest,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 503: a dependency (e.g. the email or SMS provider) failed; retrying later may help.
    Unavailable,
}

impl Error {
    pub fn rejected(kind: Rejection, code: &'static str, message: impl Into<String>) -> Self {
        Self::Rejected {
            kind,
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound("resource"),
            StoreError::Conflict(m) => Error::Conflict(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<tessera_jose::JoseError> for Error {
    fn from(e: tessera_jose::JoseError) -> Self {
        Error::Internal(format!("crypto: {e}"))
    }
}
