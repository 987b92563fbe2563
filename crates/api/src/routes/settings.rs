//! Tenant settings for admins: the login preferences (`GET/PUT /cis/v1/login-preferences`),
//! an application's own login preferences as the platform shapes them
//! (`GET /cis/v1/loginPreferences/{app_id}`, `PUT …/authMethods`, answers
//! `{"result": {"auth_methods": …}}`) and the development outbox (`GET /cis/v1/dev/outbox`).
//! Every handler takes [`AdminOnly`].

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::json;
use serde_json::Value;
use tessera_identity::outbox::outbox_json;
use tessera_identity::preferences::{auth_methods_json, LoginPreferences};
use tessera_identity::Error;

use crate::error::ApiError;
use crate::extract::{AdminOnly, JsonBody, PathParams};
use crate::respond::{json, no_store};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn preferences_json(prefs: &LoginPreferences) -> Result<Value, Error> {
    serde_json::to_value(prefs)
        .map_err(|e| Error::internal(format!("serializing login preferences: {e}")))
}

pub async fn get_login_preferences(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
) -> ApiResult {
    let prefs = state.identity.preferences.get(&admin);
    Ok(json(preferences_json(&prefs)?))
}

/// The body is a JSON Merge Patch over the current document; the answer is the whole
/// document after the change.
pub async fn put_login_preferences(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    let prefs = state.identity.preferences.put(&admin, patch).await?;
    Ok(json(preferences_json(&prefs)?))
}

/// `{"result": {"auth_methods": …}}`.
fn app_preferences_json(prefs: &LoginPreferences) -> Value {
    json!({"result": {"auth_methods": auth_methods_json(prefs)}})
}

/// The preferences the application's logins follow (its own, else the tenant's); 404 if the
/// application does not exist.
pub async fn get_app_login_preferences(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
) -> ApiResult {
    state
        .identity
        .clients
        .get_application(&admin, &app_id)
        .await?;
    let prefs = state.identity.preferences.get_app(&admin, &app_id);
    Ok(json(app_preferences_json(&prefs)))
}

/// Each method given replaces that method's settings and enables it, `null` disables it;
/// the answer is the application's whole `auth_methods` after the change.
pub async fn put_app_auth_methods(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    state
        .identity
        .clients
        .get_application(&admin, &app_id)
        .await?;
    let prefs = state
        .identity
        .preferences
        .put_app_auth_methods(&admin, &app_id, &body)
        .await?;
    Ok(json(app_preferences_json(&prefs)))
}

/// `?to=<address>` (optional, once); other parameters are refused.
fn parse_to(query: Option<&str>) -> Result<Option<String>, Error> {
    let mut to = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "to" if to.is_none() => to = Some(v.into_owned()),
            "to" => return Err(Error::invalid("parameter `to` is repeated")),
            _ => {
                let name = tessera_identity::util::field_label(&k);
                return Err(Error::invalid(format!("unknown query parameter `{name}`")));
            }
        }
    }
    Ok(to)
}

/// The stored messages, newest first (at most 100). They carry codes and links, so the
/// response is never cached.
pub async fn list_dev_outbox(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let to = parse_to(query.as_deref())?;
    let messages = state.identity.outbox.list(&admin, to.as_deref()).await?;
    Ok(no_store(json(Value::Array(
        messages.iter().map(outbox_json).collect(),
    ))))
}
