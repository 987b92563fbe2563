//! The users API (`/cis/v1/users`): any valid client access token of the tenant, with the
//! `users:read` permission for reads and `users:write` for writes; admins always may.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_identity::users::{require_permission, user_json, UserSearch};
use tessera_identity::Permission;

use crate::error::ApiError;
use crate::extract::{Authenticated, JsonBody};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

fn allow(auth: &Authenticated, permission: Permission) -> Result<(), ApiError> {
    Ok(require_permission(&auth.0, permission)?)
}

pub async fn create_user(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    allow(&auth, Permission::UsersWrite)?;
    let user = state.identity.create_user(body).await?;
    Ok((StatusCode::CREATED, axum::Json(user_json(&user))).into_response())
}

/// `?email=`, `?phone_number=`, `limit` (1–1000, default 100), `offset`; unknown or repeated
/// parameters are refused.
fn parse_search(query: Option<&str>) -> Result<UserSearch, ApiError> {
    let mut search = UserSearch::default();
    let number = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            ApiError::InvalidRequest(format!("`{name}` must be a non-negative integer"))
        })
    };
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let repeated = || ApiError::InvalidRequest(format!("parameter `{k}` is repeated"));
        match k.as_ref() {
            "email" if search.email.is_none() => search.email = Some(v.into_owned()),
            "phone_number" if search.phone_number.is_none() => {
                search.phone_number = Some(v.into_owned())
            }
            "limit" if search.limit.is_none() => search.limit = Some(number("limit", &v)?),
            "offset" if search.offset.is_none() => search.offset = Some(number("offset", &v)?),
            "email" | "phone_number" | "limit" | "offset" => return Err(repeated()),
            _ => {
                let name: String = k.chars().filter(|c| !c.is_control()).take(64).collect();
                return Err(ApiError::InvalidRequest(format!(
                    "unknown query parameter `{name}`"
                )));
            }
        }
    }
    Ok(search)
}

pub async fn list_users(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> ApiResult {
    allow(&auth, Permission::UsersRead)?;
    let search = parse_search(query.as_deref())?;
    let page = state.identity.search_users(search).await?;
    ok(json!({
        "result": page.users.iter().map(user_json).collect::<Vec<_>>(),
        "total": page.total,
    }))
}

pub async fn get_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> ApiResult {
    allow(&auth, Permission::UsersRead)?;
    ok(user_json(&state.identity.get_user(&user_id).await?))
}

pub async fn get_user_by_username(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(username): Path<String>,
) -> ApiResult {
    allow(&auth, Permission::UsersRead)?;
    ok(user_json(
        &state.identity.get_user_by_username(&username).await?,
    ))
}

pub async fn update_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    allow(&auth, Permission::UsersWrite)?;
    ok(user_json(
        &state.identity.patch_user(&user_id, patch).await?,
    ))
}

pub async fn delete_user(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<String>,
) -> ApiResult {
    allow(&auth, Permission::UsersWrite)?;
    state.identity.delete_user(&user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
