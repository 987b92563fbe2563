//! Backend authentication (`/cis/v1/auth/password/authenticate`, `/cis/v1/auth/session/*`)
//! and OIDC userinfo (`/oidc/userinfo`). The rules live in `tessera_identity::sessions`;
//! these handlers parse bodies and mark token responses `no-store`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_identity::sessions::{
    AuthTokens, LoginOptions, PasswordLogin, RequestedClaims, SessionId,
};
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
    #[serde(default)]
    claims: Option<ClaimsRequest>,
}

/// The `claims` request field: `{"id_token": {"name": null, …}, "access_token": {…}}`
/// (OIDC Core §5.5 shape); only the names matter.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ClaimsRequest {
    id_token: Option<serde_json::Map<String, Value>>,
    access_token: Option<serde_json::Map<String, Value>>,
}

impl ClaimsRequest {
    pub fn into_requested(self) -> RequestedClaims {
        let names = |m: Option<serde_json::Map<String, Value>>| {
            m.map(|m| m.into_iter().map(|(k, _)| k).collect())
                .unwrap_or_default()
        };
        RequestedClaims {
            id_token: names(self.id_token),
            access_token: names(self.access_token),
        }
    }
}

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
        options: LoginOptions {
            session_id: body.session_id.map(SessionId::new),
            resource: body.resource,
            claims: body.claims.map(ClaimsRequest::into_requested),
        },
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
