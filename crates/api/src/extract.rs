//! Request extractors: size-limited bodies with content-type checks, OAuth forms, JSON, and
//! bearer-token authentication. Every rejection is an [`ApiError`] or [`OAuthApiError`], so
//! bad input always gets the documented error format.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tessera_identity::tokens::AccessContext;
use tessera_identity::OAuthError;

use crate::error::{close_connection, ApiError, OAuthApiError};
use crate::state::AppState;

/// Reads the whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let (parts, body) = req.into_parts();
    read_body_parts(&parts.headers, body, limit).await
}

/// [`read_body`] for a request already split into headers and body.
pub(crate) async fn read_body_parts(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(ApiError::PayloadTooLarge(limit));
        }
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))
}

pub(crate) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// An `application/x-www-form-urlencoded` body of an OAuth endpoint.
#[derive(Debug)]
pub struct OAuthForm {
    pub pairs: Vec<(String, String)>,
    pub headers: HeaderMap,
}

impl OAuthForm {
    /// A parameter that may appear at most once (RFC 6749 §3.1: parameters MUST NOT repeat).
    pub fn single(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter `{name}` is repeated"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// A parameter that may repeat (e.g. `resource`, RFC 8707).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl FromRequest<AppState> for OAuthForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
            return Err(refused_unread(
                "the Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        // The headers are moved out, not copied: this is the token endpoint's hot path.
        let (parts, body) = req.into_parts();
        let body = read_body_parts(&parts.headers, body, state.config.form_body_limit)
            .await
            .map_err(|_| refused_unread("the request body is too large"))?;
        let headers = parts.headers;
        let pairs = url::form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Self { pairs, headers })
    }
}

/// An OAuth `invalid_request` for a request refused before its body was read.
fn refused_unread(description: &'static str) -> Response {
    let mut response =
        OAuthApiError::from(OAuthError::invalid_request(description)).into_response();
    close_connection(&mut response);
    response
}

/// A JSON body deserialized into `T`; wrong content type is 415, malformed JSON is 400
/// `invalid_request_body`, too large is 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let body = read_body(req, state.config.json_body_limit).await?;
        let value = parse_json(&body)?;
        Ok(Self(value))
    }
}

/// A JSON body that may be absent (empty body, with or without a content type).
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let json_type = content_type_is(req.headers(), "application/json");
        let body = read_body(req, state.config.json_body_limit).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if has_type && !json_type {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        Ok(Self(Some(parse_json(&body)?)))
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => format!("invalid field: {e}"),
            _ => format!("malformed JSON at line {} column {}", e.line(), e.column()),
        };
        ApiError::InvalidBody(what)
    })
}

/// The bearer token from `Authorization`, if any. A malformed header counts as missing.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// Any valid bearer access token of Tessera (client or user).
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessContext);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::MissingToken)?;
        Ok(Self(state.identity.verify_bearer(token).await?))
    }
}

/// A client access token of a management-application client.
#[derive(Debug, Clone)]
pub struct Admin(pub AccessContext);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(ctx) = Authenticated::from_request_parts(parts, state).await?;
        if !ctx.is_client_token() || !ctx.is_admin() {
            return Err(ApiError::Forbidden(
                "this API needs a client token of the management application",
            ));
        }
        Ok(Self(ctx))
    }
}
