//! OAuth 2.0 protocol errors (RFC 6749 §5.2, RFC 7009, RFC 8707), separate from the
//! `{error_code, message}` errors of the REST API.

/// The `error` values the OAuth endpoints return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    UnsupportedTokenType,
    AuthorizationPending,
    SlowDown,
    AccessDenied,
    ExpiredToken,
    ServerError,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::ServerError => "server_error",
        }
    }
}

/// An OAuth error with a human-readable description (never containing secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
    /// For `invalid_client`: whether the client tried HTTP Basic (the challenge then names
    /// the Basic scheme, RFC 6749 §5.2).
    pub used_basic: bool,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            used_basic: false,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client(used_basic: bool) -> Self {
        Self {
            code: OAuthErrorCode::InvalidClient,
            description: "client authentication failed".into(),
            used_basic,
        }
    }

    pub fn server_error() -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal server error")
    }
}
