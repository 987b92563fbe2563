//! Building success responses: JSON, `no-store` for anything carrying a secret, code or
//! token (SPEC §4), and the two shapes of a token answer — RFC 6749 §5.1 at the OAuth token
//! endpoint, the hosted platform's shape (with `session_id`) on the REST APIs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tessera_identity::issuer::IssuedTokens;
use tessera_identity::sessions::SessionId;

/// A JSON answer.
pub fn json(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// A JSON answer with another status.
pub fn json_with(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Marks a response as never to be cached (`Cache-Control: no-store`, `Pragma: no-cache`).
pub fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 §5.1.
#[derive(Serialize)]
struct OAuthTokens<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    /// Only for codes from client journeys: the session, for silent authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a SessionId>,
}

/// The backend authentication APIs' answer (the hosted platform's shape).
#[derive(Serialize)]
struct RestTokens<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a SessionId>,
}

/// A token endpoint answer: never a session id.
pub fn oauth_tokens(t: &IssuedTokens) -> Response {
    oauth_answer(t, false)
}

/// [`oauth_tokens`] with the session id (the `authorization_code` grant of client
/// journeys, whose app may then use silent authentication).
pub fn oauth_tokens_with_session(t: &IssuedTokens) -> Response {
    oauth_answer(t, true)
}

fn oauth_answer(t: &IssuedTokens, with_session: bool) -> Response {
    no_store(
        axum::Json(OAuthTokens {
            access_token: &t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            scope: t.scope.as_deref(),
            id_token: t.id_token.as_deref(),
            refresh_token: t.refresh_token.as_deref(),
            session_id: t.session_id.as_ref().filter(|_| with_session),
        })
        .into_response(),
    )
}

/// A backend authentication answer: `{access_token, id_token, refresh_token, token_type,
/// expires_in, session_id}`.
pub fn rest_tokens(t: &IssuedTokens) -> Response {
    no_store(
        axum::Json(RestTokens {
            access_token: &t.access_token,
            id_token: t.id_token.as_deref(),
            refresh_token: t.refresh_token.as_deref(),
            token_type: "Bearer",
            expires_in: t.expires_in,
            session_id: t.session_id.as_ref(),
        })
        .into_response(),
    )
}
