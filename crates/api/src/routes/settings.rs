//! Tenant settings for admins: the login preferences (`GET/PUT /cis/v1/login-preferences`)
//! and the development outbox (`GET /cis/v1/dev/outbox`). Every handler takes
//! [`AdminOnly`].

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::Value;
use tessera_identity::outbox::outbox_json;
use tessera_identity::preferences::LoginPreferences;
use tessera_identity::Error;

use crate::error::ApiError;
use crate::extract::{AdminOnly, JsonBody};
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
