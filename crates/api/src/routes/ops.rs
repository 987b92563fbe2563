//! Operational endpoints: liveness, readiness, metrics, the OpenAPI document.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// How long `/readyz` waits for the database before answering 503. A health check must get
/// an answer well within its own timeout (commonly 1 to 5 s), also while the database is
/// down and a connection would take the pool's acquire timeout; a database that needs more
/// than this for `SELECT 1` is not fit to serve anyway.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Liveness: the process runs and serves HTTP. Independent of the database.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Ready when the database answers and this node can write to it (SQLite: the writer's
/// last batch committed, or a probe write does), within [`READY_TIMEOUT`].
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let identity = &state.identity;
    let outcome = match tokio::time::timeout(READY_TIMEOUT, identity.ping()).await {
        Ok(outcome) => outcome.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer from the database within {} ms",
            READY_TIMEOUT.as_millis()
        )),
    };
    match outcome {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"status": "ready", "database": identity.backend()})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "database": identity.backend()})),
            )
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
}
