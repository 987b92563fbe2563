//! The one place where errors become HTTP responses.
//!
//! Two body formats exist (SPEC §3): OAuth endpoints answer RFC 6749 §5.2
//! `{"error", "error_description"}`; every other endpoint answers
//! `{"error_code", "message"}`. Internal errors are logged with a correlation id and answered
//! with `{"error_code":"internal_error"}` and that id, never with their text.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_identity::{Error as IdentityError, OAuthError, OAuthErrorCode, Rejection};

/// The `WWW-Authenticate` challenge for Bearer-protected endpoints.
const BEARER_REALM: &str = "Bearer realm=\"tessera\"";

/// An error of a REST endpoint, with its `error_code`.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with `invalid_request` and a message naming the problem.
    InvalidRequest(String),
    /// 400 `invalid_request_body`: the JSON body could not be parsed.
    InvalidBody(String),
    /// 401: no bearer token.
    MissingToken,
    /// 401: a bearer token that failed verification.
    InvalidToken(&'static str),
    /// 403 `forbidden` (wrong role or client).
    Forbidden(&'static str),
    /// 403 `insufficient_permissions`.
    InsufficientPermissions(&'static str),
    NotFound(&'static str),
    Conflict(String),
    PayloadTooLarge(usize),
    UnsupportedMediaType(&'static str),
    MethodNotAllowed,
    /// A refusal with its own status and `error_code` (e.g. 404 `user_not_found`).
    Coded(StatusCode, &'static str, String),
    /// 429 `rate_limited` with `Retry-After` in seconds.
    RateLimited(u64),
    /// Logged with its text; the client sees only the correlation id.
    Internal(String),
}

impl ApiError {
    /// `(status, error_code)` of every variant: the table of REST error codes.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_request_body"),
            Self::MissingToken => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::InsufficientPermissions(_) => (StatusCode::FORBIDDEN, "insufficient_permissions"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Coded(status, code, _) => (*status, code),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidRequest(m)
            | Self::InvalidBody(m)
            | Self::Conflict(m)
            | Self::Coded(_, _, m) => m.clone(),
            Self::MissingToken => "a Bearer access token is required".into(),
            Self::InvalidToken(m) | Self::Forbidden(m) | Self::InsufficientPermissions(m) => {
                (*m).to_string()
            }
            Self::NotFound(what) => format!("{what} not found"),
            Self::PayloadTooLarge(limit) => format!("the request body exceeds {limit} bytes"),
            Self::UnsupportedMediaType(expected) => format!("the Content-Type must be {expected}"),
            Self::MethodNotAllowed => "method not allowed on this path".into(),
            Self::RateLimited(s) => format!("too many requests; retry after {s} s"),
            Self::Internal(_) => "internal server error".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            let correlation_id = uuid::Uuid::new_v4().to_string();
            tracing::error!(%correlation_id, error = %detail, "internal error");
            let body = json!({
                "error_code": code,
                "message": self.message(),
                "correlation_id": correlation_id,
            });
            return (status, axum::Json(body)).into_response();
        }
        let body = json!({"error_code": code, "message": self.message()});
        let mut response = (status, axum::Json(body)).into_response();
        match &self {
            Self::MissingToken => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(BEARER_REALM),
                );
            }
            Self::InvalidToken(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"tessera\", error=\"invalid_token\""),
                );
            }
            Self::RateLimited(retry_after_s) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            // Refused before the body was read.
            Self::PayloadTooLarge(_) | Self::UnsupportedMediaType(_) => {
                close_connection(&mut response)
            }
            _ => {}
        }
        response
    }
}

/// Marks a response sent before the request body was read (too large, wrong content type):
/// hyper closes such a connection unless the rest of the body is already buffered, and
/// `Connection: close` tells the client not to send its next request on it (without it, a
/// pooled client races the close). Other early refusals (401/403 before the body is read)
/// concern small bodies, which hyper drains, so the connection stays usable.
pub(crate) fn close_connection(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::InvalidInput(m) => Self::InvalidRequest(m),
            IdentityError::NotFound(what) => Self::NotFound(what),
            IdentityError::Conflict(m) => Self::Conflict(m),
            IdentityError::Unauthenticated(m) => Self::InvalidToken(m),
            IdentityError::Forbidden(m) => Self::Forbidden(m),
            IdentityError::OAuth(o) => Self::InvalidRequest(o.description),
            IdentityError::Rejected {
                kind,
                code,
                message,
            } => {
                let status = match kind {
                    Rejection::BadRequest => StatusCode::BAD_REQUEST,
                    Rejection::Forbidden => StatusCode::FORBIDDEN,
                    Rejection::NotFound => StatusCode::NOT_FOUND,
                    Rejection::Conflict => StatusCode::CONFLICT,
                    Rejection::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                };
                Self::Coded(status, code, message)
            }
            IdentityError::RateLimited { retry_after_s } => Self::RateLimited(retry_after_s),
            IdentityError::Internal(m) => Self::Internal(m),
        }
    }
}

/// An error of an OAuth endpoint (token, introspection, revocation), RFC 6749 §5.2.
#[derive(Debug)]
pub struct OAuthApiError(pub OAuthError);

impl From<OAuthError> for OAuthApiError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl From<IdentityError> for OAuthApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::OAuth(o) => Self(o),
            IdentityError::InvalidInput(m) => Self(OAuthError::invalid_request(m)),
            other => {
                tracing::error!(error = %other, "OAuth endpoint failed");
                Self(OAuthError::server_error())
            }
        }
    }
}

/// The HTTP status RFC 6749 and its extensions give each OAuth error.
pub fn oauth_status(code: OAuthErrorCode) -> StatusCode {
    match code {
        OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for OAuthApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = oauth_status(e.code);
        let body = json!({"error": e.code.as_str(), "error_description": e.description});
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if e.code == OAuthErrorCode::InvalidClient {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rest_error_maps_to_a_4xx_or_500_with_a_snake_case_code() {
        let all = [
            ApiError::InvalidRequest("x".into()),
            ApiError::InvalidBody("x".into()),
            ApiError::MissingToken,
            ApiError::InvalidToken("x"),
            ApiError::Forbidden("x"),
            ApiError::InsufficientPermissions("x"),
            ApiError::NotFound("x"),
            ApiError::Conflict("x".into()),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType("x"),
            ApiError::MethodNotAllowed,
            ApiError::from(IdentityError::rejected(
                Rejection::Conflict,
                "user_already_exists",
                "x",
            )),
            ApiError::RateLimited(7),
            ApiError::Internal("x".into()),
        ];
        let expected = [
            400, 400, 401, 401, 403, 403, 404, 409, 413, 415, 405, 409, 429, 500,
        ];
        for (e, want) in all.iter().zip(expected) {
            let (status, code) = e.status_and_code();
            assert_eq!(status.as_u16(), want, "{e:?}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_text() {
        let response = ApiError::Internal("password=hunter2".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            ApiError::Internal("password=hunter2".into()).message(),
            "internal server error"
        );
    }

    #[test]
    fn oauth_statuses_follow_rfc6749() {
        assert_eq!(
            oauth_status(OAuthErrorCode::InvalidClient),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            oauth_status(OAuthErrorCode::InvalidScope),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            oauth_status(OAuthErrorCode::UnsupportedGrantType),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            oauth_status(OAuthErrorCode::InvalidTarget),
            StatusCode::BAD_REQUEST
        );
    }
}
