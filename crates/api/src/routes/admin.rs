//! The admin API: applications, clients, secret rotation and signing-key rotation. Every
//! handler takes [`AdminOnly`], so only management-application client tokens reach them.
//!
//! The shapes are the hosted platform's: applications are wrapped in `{"result": …}` (a
//! list in `{"result": [...]}`), clients are answered bare and listed as a bare array.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_identity::caller::Admin;
use tessera_identity::clients::{application_json, client_json, RotateSecretInput};
use tessera_identity::model::Application;

use crate::error::ApiError;
use crate::extract::{AdminOnly, JsonBody, OptionalJsonBody, PathParams};
use crate::respond::{json, json_with, no_store};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

pub async fn create_application(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let created = state
        .identity
        .clients
        .create_application(&admin, body)
        .await?;
    let mut view = application_json(&created.app, Some(&created.client));
    if let Some(obj) = view.as_object_mut() {
        obj.insert(
            "client_secret".into(),
            Value::String(created.client_secret.to_string()),
        );
    }
    Ok(no_store(json_with(
        StatusCode::CREATED,
        json!({ "result": view }),
    )))
}

/// `{"result": application}` with its default client's public fields.
async fn application_result(state: &AppState, admin: &Admin, app: &Application) -> ApiResult {
    let client = state.identity.clients.default_client(admin, app).await?;
    Ok(json(
        json!({ "result": application_json(app, client.as_ref()) }),
    ))
}

pub async fn list_applications(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
) -> ApiResult {
    let apps = state.identity.clients.list_applications(&admin).await?;
    let apps: Vec<_> = apps.iter().map(|a| application_json(a, None)).collect();
    Ok(json(json!({ "result": apps })))
}

pub async fn get_application(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
) -> ApiResult {
    let app = state
        .identity
        .clients
        .get_application(&admin, &app_id)
        .await?;
    application_result(&state, &admin, &app).await
}

pub async fn update_application(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    let app = state
        .identity
        .clients
        .update_application(&admin, &app_id, patch)
        .await?;
    application_result(&state, &admin, &app).await
}

pub async fn delete_application(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
) -> ApiResult {
    state
        .identity
        .clients
        .delete_application(&admin, &app_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn create_client(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (client, secret) = state
        .identity
        .clients
        .create_client(&admin, &app_id, body)
        .await?;
    let mut view = client_json(&client);
    if let Some(obj) = view.as_object_mut() {
        obj.insert("client_secret".into(), Value::String(secret.to_string()));
    }
    Ok(no_store(json_with(StatusCode::CREATED, view)))
}

pub async fn list_clients(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(app_id): PathParams<String>,
) -> ApiResult {
    let clients = state.identity.clients.list_clients(&admin, &app_id).await?;
    Ok(json(Value::Array(
        clients.iter().map(client_json).collect(),
    )))
}

pub async fn get_client(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams((app_id, client_id)): PathParams<(String, String)>,
) -> ApiResult {
    let client = state
        .identity
        .clients
        .get_client(&admin, &app_id, &client_id)
        .await?;
    Ok(json(client_json(&client)))
}

pub async fn update_client(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams((app_id, client_id)): PathParams<(String, String)>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    let client = state
        .identity
        .clients
        .patch_client(&admin, &app_id, &client_id, patch)
        .await?;
    Ok(json(client_json(&client)))
}

pub async fn delete_client(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams((app_id, client_id)): PathParams<(String, String)>,
) -> ApiResult {
    state
        .identity
        .clients
        .delete_client(&admin, &app_id, &client_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rotate_client_secret(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams((app_id, client_id)): PathParams<(String, String)>,
    OptionalJsonBody(input): OptionalJsonBody<RotateSecretInput>,
) -> ApiResult {
    let (client, secret) = state
        .identity
        .clients
        .rotate_client_secret(&admin, &app_id, &client_id, input.unwrap_or_default())
        .await?;
    Ok(no_store(json(json!({
        "client_id": client.client_id,
        "client_secret": secret.as_str(),
        "previous_secret_expires_at": client.previous_secret_expires_at,
    }))))
}

pub async fn rotate_keys(State(state): State<AppState>, AdminOnly(admin): AdminOnly) -> ApiResult {
    let keys = state.identity.keys.rotate(&admin).await?;
    Ok(json(json!({
        "keys": keys.iter().map(|k| json!({
            "kid": k.kid,
            "alg": k.alg.as_str(),
            "activate_at": k.activate_at,
        })).collect::<Vec<_>>()
    })))
}
