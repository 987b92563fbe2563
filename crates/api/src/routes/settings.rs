//! Tenant settings for admins: the login preferences (`GET/PUT /cis/v1/login-preferences`)
//! and the development outbox (`GET /cis/v1/dev/outbox`). Every handler takes [`Admin`].

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tessera_identity::dev_outbox::outbox_json;

use crate::error::ApiError;
use crate::extract::{Admin, JsonBody};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn preferences_json(
    prefs: &tessera_identity::preferences::LoginPreferences,
) -> Result<Value, ApiError> {
    serde_json::to_value(prefs)
        .map_err(|e| ApiError::Internal(format!("serializing login preferences: {e}")))
}

pub async fn get_login_preferences(State(state): State<AppState>, _admin: Admin) -> ApiResult {
    let prefs = state.identity.login_preferences();
    Ok(axum::Json(preferences_json(&prefs)?).into_response())
}

/// The body is a JSON Merge Patch over the current document; the answer is the whole
/// document after the change.
pub async fn put_login_preferences(
    State(state): State<AppState>,
    Admin(ctx): Admin,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    let prefs = state.identity.put_login_preferences(&ctx, patch).await?;
    Ok(axum::Json(preferences_json(&prefs)?).into_response())
}

/// `?to=<address>` (optional, once); other parameters are refused.
fn parse_to(query: Option<&str>) -> Result<Option<String>, ApiError> {
    let mut to = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "to" if to.is_none() => to = Some(v.into_owned()),
            "to" => {
                return Err(ApiError::InvalidRequest(
                    "parameter `to` is repeated".into(),
                ))
            }
            _ => {
                let name: String = k.chars().filter(|c| !c.is_control()).take(64).collect();
                return Err(ApiError::InvalidRequest(format!(
                    "unknown query parameter `{name}`"
                )));
            }
        }
    }
    Ok(to)
}

/// The stored messages, newest first (at most 100). They carry codes and links, so the
/// response is never cached.
pub async fn list_dev_outbox(
    State(state): State<AppState>,
    Admin(ctx): Admin,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let to = parse_to(query.as_deref())?;
    let messages = state.identity.dev_outbox(&ctx, to.as_deref()).await?;
    let body = Value::Array(messages.iter().map(outbox_json).collect());
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}
