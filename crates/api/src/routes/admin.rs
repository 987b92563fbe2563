//! The admin API: applications, clients, secret rotation and signing-key rotation.
//! Every handler takes [`Admin`], so only management-application client tokens reach them.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_identity::clients::{
    application_json, client_json, ApplicationInput, RotateSecretInput,
};

use crate::error::ApiError;
use crate::extract::{Admin, JsonBody, OptionalJsonBody};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok(axum::Json(value).into_response())
}

/// A response carrying a secret: never cached.
fn secret_response(status: StatusCode, value: Value) -> ApiResult {
    let mut response = (status, axum::Json(value)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

pub async fn create_application(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(input): JsonBody<ApplicationInput>,
) -> ApiResult {
    let app = state.identity.create_application(input).await?;
    Ok((StatusCode::CREATED, axum::Json(application_json(&app))).into_response())
}

pub async fn list_applications(State(state): State<AppState>, _admin: Admin) -> ApiResult {
    let apps = state.identity.list_applications().await?;
    ok(json!({"applications": apps.iter().map(application_json).collect::<Vec<_>>()}))
}

pub async fn get_application(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
) -> ApiResult {
    ok(application_json(
        &state.identity.get_application(&app_id).await?,
    ))
}

pub async fn update_application(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    ok(application_json(
        &state.identity.update_application(&app_id, patch).await?,
    ))
}

pub async fn delete_application(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
) -> ApiResult {
    state.identity.delete_application(&app_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn create_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let (client, secret) = state.identity.create_client(&app_id, body).await?;
    let mut view = client_json(&client);
    if let Some(obj) = view.as_object_mut() {
        obj.insert("client_secret".into(), Value::String(secret.to_string()));
    }
    secret_response(StatusCode::CREATED, view)
}

pub async fn list_clients(
    State(state): State<AppState>,
    _admin: Admin,
    Path(app_id): Path<String>,
) -> ApiResult {
    let clients = state.identity.list_clients(&app_id).await?;
    ok(json!({"clients": clients.iter().map(client_json).collect::<Vec<_>>()}))
}

pub async fn get_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path((app_id, client_id)): Path<(String, String)>,
) -> ApiResult {
    ok(client_json(
        &state.identity.get_client(&app_id, &client_id).await?,
    ))
}

pub async fn update_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path((app_id, client_id)): Path<(String, String)>,
    JsonBody(patch): JsonBody<Value>,
) -> ApiResult {
    ok(client_json(
        &state
            .identity
            .patch_client(&app_id, &client_id, patch)
            .await?,
    ))
}

pub async fn delete_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path((app_id, client_id)): Path<(String, String)>,
) -> ApiResult {
    state.identity.delete_client(&app_id, &client_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rotate_client_secret(
    State(state): State<AppState>,
    _admin: Admin,
    Path((app_id, client_id)): Path<(String, String)>,
    OptionalJsonBody(input): OptionalJsonBody<RotateSecretInput>,
) -> ApiResult {
    let (client, secret) = state
        .identity
        .rotate_client_secret(&app_id, &client_id, input.unwrap_or_default())
        .await?;
    secret_response(
        StatusCode::OK,
        json!({
            "client_id": client.client_id,
            "client_secret": secret.as_str(),
            "previous_secret_expires_at": client.previous_secret_expires_at,
        }),
    )
}

pub async fn rotate_keys(State(state): State<AppState>, _admin: Admin) -> ApiResult {
    let keys = state.identity.rotate_keys().await?;
    ok(json!({
        "keys": keys.iter().map(|k| json!({
            "kid": k.kid,
            "alg": k.alg.as_str(),
            "activate_at": k.activate_at,
        })).collect::<Vec<_>>()
    }))
}
