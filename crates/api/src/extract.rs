//! Request extractors: size-limited bodies with content-type checks, OAuth forms, JSON,
//! path parameters, and authentication. Every rejection is an [`ApiError`] or
//! [`OAuthApiError`], so bad input always gets the documented error format.
//!
//! Authentication happens once per request, in [`CallerOf`]: the gate turns the bearer token
//! into a typed caller, and the handler's parameter type says which proof it needs —
//! [`AdminOnly`], [`Permitted<P>`], [`UserOnly`], [`ClientTokenOnly`] — so who may call an
//! endpoint is visible in its signature and a handler without the right parameter cannot
//! reach an operation that demands a proof.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tessera_identity::caller::{ClientCaller, PermissionKind};
use tessera_identity::grants::GrantParams;
use tessera_identity::{Admin, Caller, Code, Error, Permit, UserCaller};

use crate::error::{ApiError, OAuthApiError};
use crate::state::AppState;

/// Reads the whole body, refusing more than `limit` bytes (413), a body not sent within
/// `timeout` (408), or one that ends before its `Content-Length` (400).
pub(crate) async fn read_body(
    req: Request,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, Error> {
    let (parts, body) = req.into_parts();
    read_body_parts(&parts.headers, body, limit, timeout).await
}

/// [`read_body`] for a request already split into headers and body.
pub(crate) async fn read_body_parts(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, Error> {
    let too_large = || {
        Error::new(
            Code::PayloadTooLarge,
            format!("the request body exceeds {limit} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large());
        }
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(read) => read.map_err(|e| {
            if exceeds_limit(e) {
                too_large()
            } else {
                // The client stopped sending before the announced `Content-Length` (or sent
                // broken chunked framing): not a body too large, as it was once answered.
                Error::new(
                    Code::InvalidRequest,
                    "the request body ended before it was complete",
                )
            }
        }),
        Err(_) => Err(Error::new(
            Code::RequestTimeout,
            "the request body was not sent in time",
        )),
    }
}

/// Whether reading a body failed on the size limit (rather than on the connection).
fn exceeds_limit(e: axum::Error) -> bool {
    e.into_inner()
        .downcast_ref::<http_body_util::LengthLimitError>()
        .is_some()
}

pub(crate) fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// 415 naming the expected content type.
pub(crate) fn unsupported_media_type(expected: &str) -> Error {
    Error::new(
        Code::UnsupportedMediaType,
        format!("the Content-Type must be {expected}"),
    )
}

/// An `application/x-www-form-urlencoded` body of an OAuth endpoint.
#[derive(Debug)]
pub struct OAuthForm {
    pub pairs: Vec<(String, String)>,
    pub headers: HeaderMap,
}

impl OAuthForm {
    /// Parses an `application/x-www-form-urlencoded` body (`+` is a space, percent-decoding,
    /// invalid UTF-8 replaced); `headers` are the request's (for HTTP Basic).
    pub fn parse(body: &[u8], headers: HeaderMap) -> Self {
        let pairs = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs, headers }
    }

    /// A parameter that may appear at most once (RFC 6749 §3.1: parameters MUST NOT repeat).
    pub fn single(&self, name: &str) -> Result<Option<&str>, Error> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(Error::invalid(format!("parameter `{name}` is repeated")));
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

impl GrantParams for OAuthForm {
    fn single(&self, name: &str) -> Result<Option<&str>, Error> {
        OAuthForm::single(self, name)
    }

    fn all(&self, name: &str) -> Vec<String> {
        OAuthForm::all(self, name)
    }
}

impl FromRequest<AppState> for OAuthForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/x-www-form-urlencoded") {
            // RFC 6749 §3.2: a token request is form-encoded; anything else is a malformed
            // request (400 `invalid_request`, as other providers answer), refused unread.
            let mut response = OAuthApiError(Error::invalid(
                "the Content-Type must be application/x-www-form-urlencoded",
            ))
            .into_response();
            crate::error::close_connection(&mut response);
            return Err(response);
        }
        // The headers are moved out, not copied: this is the token endpoint's hot path.
        let (parts, body) = req.into_parts();
        let body = read_body_parts(
            &parts.headers,
            body,
            state.config.form_body_limit,
            state.config.body_timeout,
        )
        .await
        .map_err(|e| OAuthApiError(e).into_response())?;
        Ok(Self::parse(&body, parts.headers))
    }
}

/// A JSON body deserialized into `T`; wrong content type is 415, malformed JSON is 400
/// `invalid_request_body`, too large is 413.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(unsupported_media_type("application/json").into());
        }
        let body = read_body(req, state.config.json_body_limit, state.config.body_timeout).await?;
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
        let body = read_body(req, state.config.json_body_limit, state.config.body_timeout).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if has_type && !json_type {
            return Err(unsupported_media_type("application/json").into());
        }
        Ok(Self(Some(parse_json(&body)?)))
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => format!("invalid field: {e}"),
            _ => format!("malformed JSON at line {} column {}", e.line(), e.column()),
        };
        Error::new(Code::InvalidRequestBody, what)
    })
}

/// Path parameters. Unlike axum's `Path`, a segment that is not valid UTF-8 after
/// percent-decoding (or a wrong count) is answered in the API's JSON error format.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(rejection) => {
                use axum::extract::rejection::PathRejection;
                let message = match rejection {
                    PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                        axum::extract::path::ErrorKind::InvalidUtf8InPathParam { .. } => {
                            "a path segment is not valid UTF-8".to_string()
                        }
                        _ => "a path segment is malformed".to_string(),
                    },
                    _ => "the path parameters are missing".to_string(),
                };
                Err(Error::new(Code::InvalidRequest, message).into())
            }
        }
    }
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

/// The caller of a request, authenticated by the gate: anonymous without a bearer token,
/// 401 `invalid_token` for a token that fails any check.
#[derive(Debug, Clone)]
pub struct CallerOf(pub Caller);

impl FromRequestParts<AppState> for CallerOf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = state
            .identity
            .gate
            .authenticate(bearer_token(&parts.headers))
            .await?;
        Ok(Self(caller))
    }
}

/// An administrator: a client token of the management application.
#[derive(Debug, Clone)]
pub struct AdminOnly(pub Admin);

impl FromRequestParts<AppState> for AdminOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CallerOf(caller) = CallerOf::from_request_parts(parts, state).await?;
        Ok(Self(caller.admin()?))
    }
}

/// A client token whose client holds permission `P`.
#[derive(Debug)]
pub struct Permitted<P>(pub Permit<P>);

impl<P: PermissionKind + Send + Sync> FromRequestParts<AppState> for Permitted<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CallerOf(caller) = CallerOf::from_request_parts(parts, state).await?;
        Ok(Self(caller.permit::<P>()?))
    }
}

/// A live user access token.
#[derive(Debug, Clone)]
pub struct UserOnly(pub UserCaller);

impl FromRequestParts<AppState> for UserOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CallerOf(caller) = CallerOf::from_request_parts(parts, state).await?;
        Ok(Self(caller.user()?.clone()))
    }
}

/// Any client access token (its client is checked by the operation).
#[derive(Debug, Clone)]
pub struct ClientTokenOnly(pub ClientCaller);

impl FromRequestParts<AppState> for ClientTokenOnly {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CallerOf(caller) = CallerOf::from_request_parts(parts, state).await?;
        Ok(Self(caller.client_token()?.clone()))
    }
}
