//! The one table of error codes, and the error every operation of the crate returns.
//!
//! Every code the API can answer is one [`Code`] variant, declared once in the table below
//! with its HTTP status, the `error` it becomes at the OAuth endpoints (RFC 6749 §5.2 bodies)
//! and its default message. REST endpoints answer `{"error_code": name, "message"}`, OAuth
//! endpoints `{"error": oauth_error, "error_description"}`; an OAuth code such as
//! `invalid_target` keeps its name on both. The `api` crate renders an [`Error`] in one
//! place (`api/src/error.rs`) from this table; every match over [`Code`] is exhaustive, and
//! only [`Code::Internal`] (logged, never shown) and [`Code::JourneyFailed`] (a journey's own
//! outcome) answer 500.
//!
//! The status is a number, not an HTTP type: this crate knows no HTTP framework.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Declares [`Code`] and its table: `Variant => status, "rest name", "oauth error",
/// "default message";`.
macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident => $status:literal, $name:literal, $oauth:literal, $message:literal; )*) => {
        /// Every error code the API can answer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The `error_code` of REST bodies (snake_case).
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The HTTP status.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// The `error` of an RFC 6749 §5.2 body, when the code surfaces at an OAuth
            /// endpoint.
            pub fn oauth_error(self) -> &'static str {
                match self { $(Code::$variant => $oauth,)* }
            }

            /// The message used when the error carries none of its own.
            pub fn default_message(self) -> &'static str {
                match self { $(Code::$variant => $message,)* }
            }
        }
    };
}

codes! {
    // --- the request itself ---
    /// A field is missing, malformed or out of range; the message names it.
    InvalidRequest => 400, "invalid_request", "invalid_request", "the request is invalid";
    /// The JSON body does not parse.
    InvalidRequestBody => 400, "invalid_request_body", "invalid_request", "the request body is malformed";
    PayloadTooLarge => 413, "payload_too_large", "invalid_request", "the request body is too large";
    /// The body was not sent within the body timeout (the connection is closed).
    RequestTimeout => 408, "request_timeout", "invalid_request", "the request body was not sent in time";
    UnsupportedMediaType => 415, "unsupported_media_type", "invalid_request", "the Content-Type is not supported";
    MethodNotAllowed => 405, "method_not_allowed", "invalid_request", "method not allowed on this path";
    NotFound => 404, "not_found", "invalid_request", "not found";
    Conflict => 409, "conflict", "invalid_request", "the request conflicts with the current state";
    /// 429 with `Retry-After`.
    /// 429 with `Retry-After`; at the OAuth endpoints `slow_down` (the CIBA and device-flow
    /// name for "ask less often").
    RateLimited => 429, "rate_limited", "slow_down", "too many requests";

    // --- the caller ---
    /// No bearer token (401 with `WWW-Authenticate: Bearer`).
    Unauthorized => 401, "unauthorized", "invalid_request", "a Bearer access token is required";
    /// A bearer token that failed verification (401, `error="invalid_token"`).
    InvalidToken => 401, "invalid_token", "invalid_token", "the access token is invalid or expired";
    /// A valid token of the wrong kind or role.
    Forbidden => 403, "forbidden", "access_denied", "this caller may not use this API";
    /// A client token without the permission the API needs.
    InsufficientPermissions => 403, "insufficient_permissions", "access_denied", "the client lacks a permission this API needs";

    // --- users ---
    UserNotFound => 404, "user_not_found", "invalid_request", "user not found";
    UserAlreadyExists => 409, "user_already_exists", "invalid_request", "the user already exists";
    InvalidEmail => 400, "invalid_email", "invalid_request", "`email` is not a valid email address";
    InvalidPhoneNumber => 400, "invalid_phone_number", "invalid_request", "`phone_number` must be an E.164 number: + and 8 to 15 digits";
    InvalidUsername => 400, "invalid_username", "invalid_request", "`username` is not valid";
    InvalidPassword => 400, "invalid_password", "invalid_request", "the password does not meet the policy";
    UserNotActive => 403, "user_not_active", "access_denied", "the user is disabled";
    UserEmailAddressMissing => 404, "user_email_address_missing", "invalid_request", "the user has no email address";
    UserPhoneNumberMissing => 404, "user_phone_number_missing", "invalid_request", "the user has no phone number";

    // --- backend authentication ---
    AuthInvalidCredentials => 400, "auth_invalid_credentials", "invalid_grant", "the credentials are incorrect";
    AuthSessionInvalid => 400, "auth_session_invalid", "invalid_grant", "the session is unknown, ended or expired";
    AuthLocked => 403, "auth_locked", "access_denied", "too many failed attempts; try again later";
    AuthLoginPreferencesMissing => 403, "auth_login_preferences_missing", "access_denied", "the authentication method is not enabled in the login preferences";
    AuthOtpPasscodeExpired => 400, "auth_otp_passcode_expired", "invalid_grant", "the passcode has expired";
    AuthLinkExpired => 400, "auth_link_expired", "invalid_grant", "the magic link has expired";
    PasswordResetRequired => 403, "password_reset_required", "access_denied", "the password is temporary and must be replaced";
    InvalidResetToken => 403, "invalid_reset_token", "access_denied", "the reset token is invalid, used or expired";
    AuthPasswordAlreadyConfigured => 409, "auth_password_already_configured", "invalid_request", "the user already has a password";
    AuthPasswordNotConfigured => 409, "auth_password_not_configured", "invalid_request", "the user has no password";
    UserEmailNotVerified => 403, "user_email_not_verified", "access_denied", "the user's email address is not verified";
    UserPhoneNumberNotVerified => 403, "user_phone_number_not_verified", "access_denied", "the user's phone number is not verified";
    InvalidRedirectUri => 400, "invalid_redirect_uri", "invalid_request", "`redirect_uri` is not one of the client's redirect_uris";
    /// The email or SMS provider failed; the previous code, if any, is still valid.
    DeliveryFailed => 503, "delivery_failed", "temporarily_unavailable", "the message could not be sent";

    // --- journeys ---
    /// An uploaded journey or connection does not validate; `errors` lists the problems.
    InvalidJourney => 400, "invalid_journey", "invalid_request", "the journey is invalid";
    /// A backend journey failed without an `on_error` (the journey's outcome, SPEC §7.1).
    JourneyFailed => 500, "journey_failed", "server_error", "the journey failed";
    NoActiveJourney => 404, "no_active_journey", "invalid_request", "the interaction is unknown, finished or expired";
    InvalidState => 409, "invalid_state", "invalid_request", "the interaction moved on: another submit was applied first";
    ClientResponseNotValid => 400, "client_response_not_valid", "invalid_request", "the waiting step does not offer this option";

    // --- OAuth 2.0 (RFC 6749 §5.2, RFC 7009, RFC 8707, CIBA Core §11) ---
    /// 401 with `WWW-Authenticate`.
    InvalidClient => 401, "invalid_client", "invalid_client", "client authentication failed";
    InvalidGrant => 400, "invalid_grant", "invalid_grant", "the grant is invalid or expired";
    UnauthorizedClient => 400, "unauthorized_client", "unauthorized_client", "the client may not use this grant";
    UnsupportedGrantType => 400, "unsupported_grant_type", "unsupported_grant_type", "this grant type is not supported";
    InvalidScope => 400, "invalid_scope", "invalid_scope", "a requested scope is not allowed for this client";
    InvalidTarget => 400, "invalid_target", "invalid_target", "the requested resource is not allowed for this client";
    UnsupportedTokenType => 400, "unsupported_token_type", "unsupported_token_type", "this token type is not supported";
    AuthorizationPending => 400, "authorization_pending", "authorization_pending", "the user has not decided yet";
    SlowDown => 400, "slow_down", "slow_down", "polled faster than the interval";
    AccessDenied => 400, "access_denied", "access_denied", "the user denied the request";
    ExpiredToken => 400, "expired_token", "expired_token", "the request has expired";
    /// CIBA: the hint names no user who can be asked (unknown, disabled, or no verified
    /// address on the channel: one answer for all three).
    UnknownUserId => 400, "unknown_user_id", "unknown_user_id", "the hint does not identify a user who can be asked";
    InvalidBindingMessage => 400, "invalid_binding_message", "invalid_binding_message", "`binding_message` must be at most 64 printable characters";
    ExpiredLoginHintToken => 400, "expired_login_hint_token", "expired_login_hint_token", "the login_hint_token has expired";
    /// CIBA completion: the `auth_req_id` is unknown, expired or already decided.
    InvalidAuthReqId => 400, "invalid_auth_req_id", "invalid_grant", "the authentication request is unknown, expired or already decided";

    // --- the server ---
    /// The database is unreachable; retrying later may help.
    ServiceUnavailable => 503, "service_unavailable", "temporarily_unavailable", "the service is temporarily unavailable";
    /// A server-side failure: logged with a correlation id, never shown.
    Internal => 500, "internal_error", "server_error", "internal server error";
}

/// What a store implementation reports.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached (connection refused, pool timed out): the caller
    /// gets 503 and may retry. The text is for logs only.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed; the text is for logs only, never for clients.
    #[error("database error: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// An error of any operation: a [`Code`] and a message for the caller (for
/// [`Code::Internal`], a detail for the log only).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    code: Code,
    message: Cow<'static, str>,
    /// Seconds, for [`Code::RateLimited`] and [`Code::SlowDown`].
    retry_after_s: Option<u64>,
    /// For [`Code::InvalidClient`]: the client tried HTTP Basic, so the challenge names it.
    basic_challenge: bool,
    /// Extra members of the body (e.g. `errors` of `invalid_journey`).
    extra: Option<Box<Map<String, Value>>>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<Code> for Error {
    fn from(code: Code) -> Self {
        Self {
            code,
            message: Cow::Borrowed(code.default_message()),
            retry_after_s: None,
            basic_challenge: false,
            extra: None,
        }
    }
}

impl Error {
    /// `code` with its own message (naming a field, never echoing a value or a secret).
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            ..Self::from(code)
        }
    }

    /// 400 `invalid_request` naming the problem.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::InvalidRequest, message)
    }

    /// A server-side failure; `detail` goes to the log only.
    pub fn internal(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Internal, detail)
    }

    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after_s: u64) -> Self {
        Self {
            retry_after_s: Some(retry_after_s),
            message: Cow::Owned(format!("too many requests; retry after {retry_after_s} s")),
            ..Self::from(Code::RateLimited)
        }
    }

    /// 401 `invalid_client`; `basic` when the client tried HTTP Basic.
    pub fn invalid_client(basic: bool) -> Self {
        Self {
            basic_challenge: basic,
            ..Self::from(Code::InvalidClient)
        }
    }

    /// Adds a member to the error body.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }

    /// The message for the caller. For [`Code::Internal`] this is the log detail: renderers
    /// show [`Code::default_message`] instead.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
    }

    pub fn basic_challenge(&self) -> bool {
        self.basic_challenge
    }

    pub fn extra(&self) -> Option<&Map<String, Value>> {
        self.extra.as_deref()
    }

    /// Whether this is `code`.
    pub fn is(&self, code: Code) -> bool {
        self.code == code
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Code::NotFound.into(),
            StoreError::Conflict(m) => Error::new(Code::Conflict, m),
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "database unavailable");
                Code::ServiceUnavailable.into()
            }
            other => Error::internal(other.to_string()),
        }
    }
}

impl From<tessera_jose::JoseError> for Error {
    fn from(e: tessera_jose::JoseError) -> Self {
        Error::internal(format!("crypto: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, written out: a change to any status shows up here.
    #[test]
    fn every_code_has_its_status() {
        let expected: &[(Code, u16, &str)] = &[
            (Code::InvalidRequest, 400, "invalid_request"),
            (Code::InvalidRequestBody, 400, "invalid_request_body"),
            (Code::PayloadTooLarge, 413, "payload_too_large"),
            (Code::RequestTimeout, 408, "request_timeout"),
            (Code::UnsupportedMediaType, 415, "unsupported_media_type"),
            (Code::MethodNotAllowed, 405, "method_not_allowed"),
            (Code::NotFound, 404, "not_found"),
            (Code::Conflict, 409, "conflict"),
            (Code::RateLimited, 429, "rate_limited"),
            (Code::Unauthorized, 401, "unauthorized"),
            (Code::InvalidToken, 401, "invalid_token"),
            (Code::Forbidden, 403, "forbidden"),
            (
                Code::InsufficientPermissions,
                403,
                "insufficient_permissions",
            ),
            (Code::UserNotFound, 404, "user_not_found"),
            (Code::UserAlreadyExists, 409, "user_already_exists"),
            (Code::InvalidEmail, 400, "invalid_email"),
            (Code::InvalidPhoneNumber, 400, "invalid_phone_number"),
            (Code::InvalidUsername, 400, "invalid_username"),
            (Code::InvalidPassword, 400, "invalid_password"),
            (Code::UserNotActive, 403, "user_not_active"),
            (
                Code::UserEmailAddressMissing,
                404,
                "user_email_address_missing",
            ),
            (
                Code::UserPhoneNumberMissing,
                404,
                "user_phone_number_missing",
            ),
            (
                Code::AuthInvalidCredentials,
                400,
                "auth_invalid_credentials",
            ),
            (Code::AuthSessionInvalid, 400, "auth_session_invalid"),
            (Code::AuthLocked, 403, "auth_locked"),
            (
                Code::AuthLoginPreferencesMissing,
                403,
                "auth_login_preferences_missing",
            ),
            (
                Code::AuthOtpPasscodeExpired,
                400,
                "auth_otp_passcode_expired",
            ),
            (Code::AuthLinkExpired, 400, "auth_link_expired"),
            (Code::PasswordResetRequired, 403, "password_reset_required"),
            (Code::InvalidResetToken, 403, "invalid_reset_token"),
            (
                Code::AuthPasswordAlreadyConfigured,
                409,
                "auth_password_already_configured",
            ),
            (
                Code::AuthPasswordNotConfigured,
                409,
                "auth_password_not_configured",
            ),
            (Code::UserEmailNotVerified, 403, "user_email_not_verified"),
            (
                Code::UserPhoneNumberNotVerified,
                403,
                "user_phone_number_not_verified",
            ),
            (Code::InvalidRedirectUri, 400, "invalid_redirect_uri"),
            (Code::DeliveryFailed, 503, "delivery_failed"),
            (Code::InvalidJourney, 400, "invalid_journey"),
            (Code::JourneyFailed, 500, "journey_failed"),
            (Code::NoActiveJourney, 404, "no_active_journey"),
            (Code::InvalidState, 409, "invalid_state"),
            (
                Code::ClientResponseNotValid,
                400,
                "client_response_not_valid",
            ),
            (Code::InvalidClient, 401, "invalid_client"),
            (Code::InvalidGrant, 400, "invalid_grant"),
            (Code::UnauthorizedClient, 400, "unauthorized_client"),
            (Code::UnsupportedGrantType, 400, "unsupported_grant_type"),
            (Code::InvalidScope, 400, "invalid_scope"),
            (Code::InvalidTarget, 400, "invalid_target"),
            (Code::UnsupportedTokenType, 400, "unsupported_token_type"),
            (Code::AuthorizationPending, 400, "authorization_pending"),
            (Code::SlowDown, 400, "slow_down"),
            (Code::AccessDenied, 400, "access_denied"),
            (Code::ExpiredToken, 400, "expired_token"),
            (Code::UnknownUserId, 400, "unknown_user_id"),
            (Code::InvalidBindingMessage, 400, "invalid_binding_message"),
            (Code::ExpiredLoginHintToken, 400, "expired_login_hint_token"),
            (Code::InvalidAuthReqId, 400, "invalid_auth_req_id"),
            (Code::ServiceUnavailable, 503, "service_unavailable"),
            (Code::Internal, 500, "internal_error"),
        ];
        assert_eq!(expected.len(), Code::ALL.len(), "a code lacks a row here");
        for (code, status, name) in expected {
            assert_eq!(code.status(), *status, "{code:?}");
            assert_eq!(code.name(), *name, "{code:?}");
        }
    }

    /// The documentation lists every code with its status: docs/api.md cannot fall behind.
    #[test]
    fn the_api_documentation_lists_every_code_with_its_status() {
        let doc = include_str!("../../../docs/api.md");
        for code in Code::ALL {
            let row = format!(
                "| `{}` | {} | `{}` |",
                code.name(),
                code.status(),
                code.oauth_error()
            );
            assert!(doc.contains(&row), "docs/api.md lacks the row {row}");
        }
    }

    #[test]
    fn names_are_unique_snake_case_and_only_two_codes_answer_500() {
        let mut names = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(names.insert(code.name()), "{} twice", code.name());
            assert!(code
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!((400..600).contains(&code.status()));
            assert!(!code.default_message().is_empty());
        }
        let five_hundreds: Vec<_> = Code::ALL
            .iter()
            .filter(|c| c.status() == 500)
            .copied()
            .collect();
        assert_eq!(five_hundreds, [Code::JourneyFailed, Code::Internal]);
    }

    #[test]
    fn oauth_codes_keep_their_names_and_others_map_to_rfc_errors() {
        for code in [
            Code::InvalidClient,
            Code::InvalidGrant,
            Code::InvalidScope,
            Code::InvalidTarget,
            Code::UnsupportedGrantType,
            Code::AuthorizationPending,
            Code::SlowDown,
            Code::ExpiredToken,
        ] {
            assert_eq!(code.oauth_error(), code.name());
        }
        assert_eq!(Code::Internal.oauth_error(), "server_error");
        assert_eq!(Code::PayloadTooLarge.oauth_error(), "invalid_request");
        assert_eq!(Code::PayloadTooLarge.status(), 413);
    }
}
