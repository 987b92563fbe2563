//! The users API (`/cis/v1/users`): client access tokens with the `users:read` permission
//! for reads and `users:write` for writes (admins hold both; user tokens never may). Every
//! answer carries personal data, so none may be cached (`Cache-Control: no-store`).
//!
//! Answers have the hosted platform's envelopes: one user is `{"result": user}`, a list is
//! `{"total_count", "page_info": {"has_next_page", "has_previous_page"}, "result": [user]}`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_identity::model::User;
use tessera_identity::perm;
use tessera_identity::users::{user_json, UserSearch};
use tessera_identity::Error;

use crate::error::ApiError;
use crate::extract::{AdminOnly, JsonBody, PathParams, Permitted};
use crate::respond::{json, json_with, no_store};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

pub async fn create_user(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersWrite>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let user = state.identity.users.create(&permit, body).await?;
    Ok(no_store(json_with(StatusCode::CREATED, one(&user))))
}

/// `{"result": user}`.
fn one(user: &User) -> Value {
    json!({ "result": user_json(user) })
}

/// The platform's `search` (its SCIM-like filter), `search_prefix`, `sort_field`,
/// `sort_order`, `page_limit` (1–5000, default 100; `limit` is an alias), `page_offset`
/// (alias `offset`), and Tessera's `?email=`, `?phone_number=`; unknown or repeated
/// parameters are refused.
fn parse_search(query: Option<&str>) -> Result<UserSearch, Error> {
    let mut search = UserSearch::default();
    let number = |name: &str, v: &str| {
        v.parse::<u32>()
            .map_err(|_| Error::invalid(format!("`{name}` must be a non-negative integer")))
    };
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let repeated = || Error::invalid(format!("parameter `{k}` is repeated"));
        match k.as_ref() {
            "email" if search.email.is_none() => search.email = Some(v.into_owned()),
            "phone_number" if search.phone_number.is_none() => {
                search.phone_number = Some(v.into_owned())
            }
            "page_limit" | "limit" if search.limit.is_none() => {
                search.limit = Some(number(&k, &v)?)
            }
            "page_offset" | "offset" if search.offset.is_none() => {
                search.offset = Some(number(&k, &v)?)
            }
            "search" if search.search.is_none() => search.search = Some(v.into_owned()),
            "search_prefix" if search.search_prefix.is_none() => {
                search.search_prefix = Some(v.into_owned())
            }
            "sort_field" if search.sort_field.is_none() => search.sort_field = Some(v.into_owned()),
            "sort_order" if search.sort_order.is_none() => search.sort_order = Some(v.into_owned()),
            "email" | "phone_number" | "page_limit" | "limit" | "page_offset" | "offset"
            | "search" | "search_prefix" | "sort_field" | "sort_order" => return Err(repeated()),
            _ => {
                let name = tessera_identity::util::field_label(&k);
                return Err(Error::invalid(format!("unknown query parameter `{name}`")));
            }
        }
    }
    Ok(search)
}

pub async fn list_users(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersRead>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let search = parse_search(query.as_deref())?;
    let offset = u64::from(search.offset.unwrap_or(0));
    let page = state.identity.users.search(&permit, search).await?;
    let shown = offset.saturating_add(page.users.len() as u64);
    Ok(no_store(json(json!({
        "total_count": page.total,
        "page_info": {
            "has_next_page": shown < page.total,
            "has_previous_page": offset > 0,
        },
        "result": page.users.iter().map(user_json).collect::<Vec<_>>(),
    }))))
}

pub async fn get_user(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersRead>,
    PathParams(user_id): PathParams<String>,
) -> ApiResult {
    Ok(no_store(json(one(&state
        .identity
        .users
        .get(&permit, &user_id)
        .await?))))
}

pub async fn get_user_by_username(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersRead>,
    PathParams(username): PathParams<String>,
) -> ApiResult {
    Ok(no_store(json(one(&state
        .identity
        .users
        .get_by_username(&permit, &username)
        .await?))))
}

pub async fn get_user_by_email(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersRead>,
    PathParams(email): PathParams<String>,
) -> ApiResult {
    let user = state.identity.users.get_by_email(&permit, &email).await?;
    Ok(no_store(json(one(&user))))
}

pub async fn get_user_by_phone_number(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersRead>,
    PathParams(phone_number): PathParams<String>,
) -> ApiResult {
    let user = state
        .identity
        .users
        .get_by_phone_number(&permit, &phone_number)
        .await?;
    Ok(no_store(json(one(&user))))
}

pub async fn get_user_by_external_user_id(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersRead>,
    PathParams(external_user_id): PathParams<String>,
) -> ApiResult {
    let user = state
        .identity
        .users
        .get_by_external_user_id(&permit, &external_user_id)
        .await?;
    Ok(no_store(json(one(&user))))
}

pub async fn update_user(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersWrite>,
    PathParams(user_id): PathParams<String>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    Ok(no_store(json(one(&state
        .identity
        .users
        .patch(&permit, &user_id, patch)
        .await?))))
}

pub async fn delete_user(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersWrite>,
    PathParams(user_id): PathParams<String>,
) -> ApiResult {
    state.identity.users.delete(&permit, &user_id).await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `DELETE /cis/v1/users/{user_id}/apps`: the user leaves the caller's application.
pub async fn remove_user_from_app(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersWrite>,
    PathParams(user_id): PathParams<String>,
) -> ApiResult {
    state
        .identity
        .users
        .remove_from_app(&permit, &user_id)
        .await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}

/// `DELETE /cis/v1/manage/users/{user_id}` (admins): the user and all their data.
pub async fn delete_tenant_user(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(user_id): PathParams<String>,
) -> ApiResult {
    state
        .identity
        .users
        .delete_from_tenant(&admin, &user_id)
        .await?;
    Ok(no_store(StatusCode::NO_CONTENT.into_response()))
}
