//! Journeys over HTTP: the admin API for definitions, connections and run traces, and the
//! invoke endpoint that runs a backend API journey as a REST endpoint.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tessera_identity::journeys::InvalidJourney;
use tessera_journey::{Format, JourneyType, RunRequest, RunResult};

use crate::error::ApiError;
use crate::extract::{bearer_token, content_type_is, read_body, Admin, JsonBody};
use crate::metrics::JourneyLabels;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// The header carrying a run's trace id on every invoke response.
pub static TRACE_HEADER: HeaderName = HeaderName::from_static("x-tessera-trace-id");

fn invalid_journey(errors: InvalidJourney, what: &str) -> Response {
    let body = json!({
        "error_code": "invalid_journey",
        "message": format!("the {what} is invalid ({} problem(s))", errors.0.len()),
        "errors": errors.0,
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn journey_json(r: &tessera_identity::model::JourneyRecord) -> Value {
    json!({
        "journey_id": r.journey_id,
        "version": r.version,
        "format": r.format,
        "created_at": r.created_at,
    })
}

/// `PUT /ido/api/v2/journeys/{journey_id}` with a YAML or JSON body.
pub async fn put_journey(
    State(state): State<AppState>,
    _admin: Admin,
    Path(journey_id): Path<String>,
    req: Request,
) -> ApiResult {
    let headers = req.headers().clone();
    let format = if content_type_is(&headers, "application/json") {
        Format::Json
    } else if [
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
        "text/plain",
    ]
    .iter()
    .any(|t| content_type_is(&headers, t))
    {
        Format::Yaml
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "application/yaml or application/json",
        ));
    };
    let body = read_body(req, state.config.json_body_limit).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::InvalidBody("the definition must be UTF-8 text".into()))?;
    match state
        .journeys
        .put_journey(&journey_id, text, format)
        .await?
    {
        Ok((record, warnings)) => {
            let mut v = journey_json(&record);
            if let Some(o) = v.as_object_mut() {
                o.insert("warnings".into(), json!(warnings));
            }
            Ok(axum::Json(v).into_response())
        }
        Err(errors) => Ok(invalid_journey(errors, "journey")),
    }
}

pub async fn get_journey(
    State(state): State<AppState>,
    _admin: Admin,
    Path(journey_id): Path<String>,
) -> ApiResult {
    let record = state.journeys.get_journey(&journey_id).await?;
    let mut v = journey_json(&record);
    if let Some(o) = v.as_object_mut() {
        o.insert("source".into(), Value::String(record.source));
    }
    Ok(axum::Json(v).into_response())
}

pub async fn list_journeys(State(state): State<AppState>, _admin: Admin) -> ApiResult {
    let list = state.journeys.list_journeys().await?;
    Ok(
        axum::Json(json!({"journeys": list.iter().map(journey_json).collect::<Vec<_>>()}))
            .into_response(),
    )
}

pub async fn delete_journey(
    State(state): State<AppState>,
    _admin: Admin,
    Path(journey_id): Path<String>,
) -> ApiResult {
    state.journeys.delete_journey(&journey_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn get_trace(
    State(state): State<AppState>,
    _admin: Admin,
    Path((journey_id, trace_id)): Path<(String, String)>,
) -> ApiResult {
    Ok(axum::Json(state.journeys.get_trace(&journey_id, &trace_id).await?).into_response())
}

pub async fn put_connection(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    JsonBody(definition): JsonBody<Value>,
) -> ApiResult {
    match state.journeys.put_connection(&name, definition).await? {
        Ok(redacted) => {
            Ok(axum::Json(json!({"name": name, "definition": redacted})).into_response())
        }
        Err(errors) => Ok(invalid_journey(errors, "connection")),
    }
}

pub async fn get_connection(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> ApiResult {
    let definition = state.journeys.get_connection(&name).await?;
    Ok(axum::Json(json!({"name": name, "definition": definition})).into_response())
}

pub async fn list_connections(State(state): State<AppState>, _admin: Admin) -> ApiResult {
    let list = state.journeys.list_connections().await?;
    let items: Vec<Value> = list
        .into_iter()
        .map(|(name, definition)| json!({"name": name, "definition": definition}))
        .collect();
    Ok(axum::Json(json!({"connections": items})).into_response())
}

pub async fn delete_connection(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> ApiResult {
    state.journeys.delete_connection(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|GET /ido/api/v2/invoke-api-journey/{journey_id}?clientId=`: runs a backend journey.
/// Every response, errors included, carries `x-tessera-trace-id`.
pub async fn invoke(
    State(state): State<AppState>,
    Path(journey_id): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let trace_id = tessera_jose::random_token_b64url(16).unwrap_or_else(|_| "unavailable".into());
    let mut response = match invoke_inner(&state, &journey_id, params, req, &trace_id).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert(TRACE_HEADER.clone(), v);
    }
    response
}

async fn invoke_inner(
    state: &AppState,
    journey_id: &str,
    params: Vec<(String, String)>,
    req: Request,
    trace_id: &str,
) -> ApiResult {
    let journey = state
        .journeys
        .compiled(journey_id)
        .await?
        .filter(|j| j.journey_type == JourneyType::BackendApi)
        .ok_or(ApiError::NotFound("journey"))?;
    let client_id = params
        .iter()
        .find(|(k, _)| k == "clientId")
        .map(|(_, v)| v.clone());
    if journey.enforce_token {
        let token = bearer_token(req.headers()).ok_or(ApiError::MissingToken)?;
        let ctx = state.identity.verify_bearer(token).await?;
        let Some(client_id) = client_id.as_deref() else {
            return Err(ApiError::InvalidRequest(
                "the `clientId` query parameter is required".into(),
            ));
        };
        if !ctx.is_client_token() || ctx.token.client_id != client_id {
            return Err(ApiError::Forbidden(
                "the token belongs to another client than `clientId`",
            ));
        }
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = request_headers(req.headers());
    let body = if method == Method::GET {
        Value::Null
    } else {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let is_json = content_type_is(req.headers(), "application/json");
        let bytes = read_body(req, state.config.json_body_limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else if has_type && !is_json {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        } else {
            crate::extract::parse_json::<Value>(&bytes)?
        }
    };
    let mut param_map = Map::new();
    for (k, v) in params {
        param_map.insert(k, Value::String(v));
    }
    let request = RunRequest {
        method: method.as_str().to_string(),
        path,
        params: param_map,
        body,
        headers,
    };
    let outcome = state.journeys.run(&journey, request, trace_id).await;
    let (label, response) = match outcome.result {
        RunResult::Completed(http) => ("completed", completed_response(http)),
        RunResult::Failed(failure) => {
            tracing::info!(journey = %journey.id, step = %failure.step_id, code = %failure.code, %trace_id, "journey run failed");
            let body = json!({
                "error_code": "journey_failed",
                "message": failure.message,
                "step_id": failure.step_id,
                "trace_id": trace_id,
            });
            (
                "failed",
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response(),
            )
        }
    };
    state
        .metrics
        .journey_runs
        .get_or_create(&JourneyLabels {
            journey: journey.id.clone(),
            outcome: label,
        })
        .inc();
    Ok(response)
}

/// Request headers as the journey sees them: lowercase names, credentials left out.
fn request_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        if name == header::AUTHORIZATION || name == header::COOKIE {
            continue;
        }
        if let Ok(v) = value.to_str() {
            out.insert(name.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    out
}

fn completed_response(http: tessera_journey::HttpResponse) -> Response {
    let status = StatusCode::from_u16(http.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(http.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in http.headers {
        // The engine already refused CR/LF/NUL; anything else invalid is skipped, not a 500.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    response
}
