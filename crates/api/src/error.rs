//! The one place where errors become HTTP responses, from the code table of
//! `tessera_identity::error`.
//!
//! Two body formats exist (SPEC §3): OAuth endpoints answer RFC 6749 §5.2
//! `{"error", "error_description"}` ([`OAuthApiError`]); every other endpoint answers
//! `{"error_code", "message"}` ([`ApiError`]), plus any extra members the error carries
//! (and, on a 409, the platform's `ts_error_code`, equal to `error_code`).
//! The status is the code's, whichever format. Internal errors are logged with a
//! correlation id and answered with that id, never with their text. The headers a code
//! needs (`WWW-Authenticate`, `Retry-After`, `Connection: close` for bodies refused unread,
//! `Cache-Control: no-store` on OAuth errors) are added here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tessera_identity::{Code, Error};

/// The realm of every challenge.
const REALM: &str = "tessera";

/// An error of a REST endpoint.
#[derive(Debug)]
pub struct ApiError(pub Error);

/// An error of an OAuth endpoint (token, introspection, revocation).
#[derive(Debug)]
pub struct OAuthApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl<E: Into<Error>> From<E> for OAuthApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// The HTTP status of a code.
pub fn status_of(code: Code) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The message to show: the error's own, except for internal errors, whose text is for the
/// log only.
pub(crate) fn shown_message(e: &Error) -> &str {
    match e.code() {
        Code::Internal => Code::Internal.default_message(),
        _ => e.message(),
    }
}

/// Logs an internal error under a new correlation id and returns the id.
/// An error of a browser-facing page (the authorization endpoint, the hosted login, logout,
/// the CIBA approval page) as the hosted error page: its status, its code, its message
/// (internal ones logged, not shown).
pub fn error_page_for(e: &Error, lang: crate::hosted::Lang) -> Response {
    let _ = log_internal(e);
    crate::hosted::error_page(status_of(e.code()), lang, e.code().name(), shown_message(e))
}

pub(crate) fn log_internal(e: &Error) -> Option<String> {
    (e.code() == Code::Internal).then(|| {
        let correlation_id = uuid::Uuid::new_v4().to_string();
        tracing::error!(%correlation_id, error = %e.message(), "internal error");
        correlation_id
    })
}

fn render(e: &Error, mut body: Map<String, Value>) -> Response {
    if let Some(id) = log_internal(e) {
        body.insert("correlation_id".into(), Value::String(id));
    }
    let mut response = (status_of(e.code()), axum::Json(Value::Object(body))).into_response();
    add_headers(e, &mut response);
    response
}

/// The headers a code carries, whichever body format.
fn add_headers(e: &Error, response: &mut Response) {
    let headers = response.headers_mut();
    let challenge = match e.code() {
        Code::Unauthorized => Some(format!("Bearer realm=\"{REALM}\"")),
        Code::InvalidToken => Some(format!("Bearer realm=\"{REALM}\", error=\"invalid_token\"")),
        Code::InvalidClient if e.basic_challenge() => {
            Some(format!("Basic realm=\"{REALM}\", error=\"invalid_client\""))
        }
        Code::InvalidClient => Some(format!("Basic realm=\"{REALM}\"")),
        _ => None,
    };
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, v);
    }
    if let Some(s) = e.retry_after_s() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    // Refused before the body was read.
    if matches!(
        e.code(),
        Code::PayloadTooLarge | Code::UnsupportedMediaType | Code::RequestTimeout
    ) {
        close_connection(response);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut body = Map::new();
        body.insert("error_code".into(), Value::String(e.code().name().into()));
        body.insert("message".into(), Value::String(shown_message(&e).into()));
        // The hosted platform's conflict bodies (`IdentifierIsTakenHttpError`) also name the
        // conflict in `ts_error_code`; its clients branch on it.
        if e.code().status() == 409 {
            body.insert(
                "ts_error_code".into(),
                Value::String(e.code().name().into()),
            );
        }
        if let Some(extra) = e.extra() {
            for (k, v) in extra {
                body.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        render(&e, body)
    }
}

impl IntoResponse for OAuthApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let mut body = Map::new();
        body.insert("error".into(), Value::String(e.code().oauth_error().into()));
        body.insert(
            "error_description".into(),
            Value::String(shown_message(&e).into()),
        );
        let mut response = render(&e, body);
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Marks a response sent before the request body was read (too large, wrong content type,
/// not sent in time):
/// hyper closes such a connection unless the rest of the body is already buffered, and
/// `Connection: close` tells the client not to send its next request on it (without it, a
/// pooled client races the close). Other early refusals (401/403 before the body is read)
/// concern small bodies, which hyper drains, so the connection stays usable.
pub(crate) fn close_connection(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn every_code_renders_with_its_status_in_both_formats() {
        for code in Code::ALL {
            let rest = ApiError(Error::from(*code)).into_response();
            assert_eq!(rest.status().as_u16(), code.status(), "{code:?}");
            let b = body(rest).await;
            assert_eq!(b["error_code"], code.name());
            assert!(b["message"].is_string());

            let oauth = OAuthApiError(Error::from(*code)).into_response();
            assert_eq!(oauth.status().as_u16(), code.status(), "{code:?}");
            assert_eq!(
                oauth.headers().get(header::CACHE_CONTROL).unwrap(),
                "no-store"
            );
            let b = body(oauth).await;
            assert_eq!(b["error"], code.oauth_error());
        }
    }

    #[tokio::test]
    async fn oauth_codes_keep_their_names_on_rest_endpoints() {
        let r = ApiError(Error::from(Code::InvalidTarget)).into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(r).await["error_code"], "invalid_target");
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_their_text() {
        let r = ApiError(Error::internal("password=hunter2")).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let b = body(r).await;
        assert_eq!(b["message"], "internal server error");
        assert!(b["correlation_id"].is_string());
        assert!(!b.to_string().contains("hunter2"));
    }

    #[test]
    fn challenges_name_their_error() {
        let r = OAuthApiError(Error::invalid_client(true)).into_response();
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Basic realm=\"tessera\", error=\"invalid_client\""
        );
        let r = ApiError(Error::from(Code::Unauthorized)).into_response();
        assert_eq!(
            r.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"tessera\""
        );
        let r = ApiError(Error::rate_limited(7)).into_response();
        assert_eq!(r.headers().get(header::RETRY_AFTER).unwrap(), "7");
        let r = OAuthApiError(Error::from(Code::PayloadTooLarge)).into_response();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers().get(header::CONNECTION).unwrap(), "close");
    }
}
