//! The admin API: applications, clients, secret rotation and signing-key rotation. Every
//! handler takes [`AdminOnly`], so only management-application client tokens reach them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_identity::clients::{
    application_json, client_json, ApplicationInput, RotateSecretInput,
};

use crate::error::ApiError;
use crate::extract::{AdminOnly, JsonBody, OptionalJsonBody, PathParams};
use crate::respond::{json, json_with, no_store};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

pub async fn create_application(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    JsonBody(input): JsonBody<ApplicationInput>,
) -> ApiResult {
    let app = state
        .identity
        .clients
        .create_application(&admin, input)
        .await?;
    Ok(json_with(StatusCode::CREATED, application_json(&app)))
}

pub async fn list_applications(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
) -> ApiResult {
    let apps = state.identity.clients.list_applications(&admin).await?;
    Ok(json(
        json!({"applications": apps.iter().map(application_json).collect::<Vec<_>>()}),
    ))
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
    Ok(json(application_json(&app)))
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
    Ok(json(application_json(&app)))
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
    Ok(json(
        json!({"clients": clients.iter().map(client_json).collect::<Vec<_>>()}),
    ))
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
