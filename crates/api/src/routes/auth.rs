//! Backend authentication (`/cis/v1/auth/password/authenticate`, `/cis/v1/auth/session/*`)
//! and OIDC userinfo (`/oidc/userinfo`). The rules live in `tessera_identity::sessions`;
//! these handlers parse bodies and mark token responses `no-store`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_identity::sessions::{AuthTokens, PasswordLogin, SessionId};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// The body of the password API. Unknown fields (Mosaic's `device_id`, `org_id`, …) are
/// ignored. No `Debug`: it holds the password.
#[derive(Deserialize)]
pub struct PasswordBody {
    username: String,
    password: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    /// Accepted for compatibility; custom claims are not issued yet.
    #[serde(default)]
    #[allow(dead_code)]
    claims: Option<Map>,
}

type Map = serde_json::Map<String, Value>;

/// The body of the session APIs. No `Debug`: it holds the session id.
#[derive(Deserialize)]
pub struct SessionBody {
    session_id: String,
}

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn tokens(t: AuthTokens) -> ApiResult {
    Ok(no_store(axum::Json(t).into_response()))
}

pub async fn password_authenticate(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult {
    let login = PasswordLogin {
        username: body.username,
        password: Zeroizing::new(body.password),
        session_id: body.session_id.map(SessionId::new),
        resource: body.resource,
    };
    tokens(state.identity.password_authenticate(&auth.0, login).await?)
}

pub async fn session_authenticate(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<SessionBody>,
) -> ApiResult {
    let id = SessionId::new(body.session_id);
    tokens(state.identity.session_authenticate(&auth.0, id).await?)
}

pub async fn session_logout(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<SessionBody>,
) -> ApiResult {
    let id = SessionId::new(body.session_id);
    state.identity.session_logout(&auth.0, id).await?;
    Ok(axum::Json(json!({})).into_response())
}

/// `GET/POST /oidc/userinfo` (OIDC Core §5.3): a user access token in the `Authorization`
/// header; failures are 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
pub async fn userinfo(State(state): State<AppState>, auth: Authenticated) -> ApiResult {
    let claims = state.identity.userinfo(&auth.0).await?;
    Ok(no_store(axum::Json(claims).into_response()))
}
