//! Journeys over HTTP: the admin API for definitions, connections and run traces, and the
//! invoke endpoint that runs a backend API journey as a REST endpoint.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tessera_identity::{Code, Error};
use tessera_journey::{Format, JourneyType, RunRequest, RunResult};

use crate::error::ApiError;
use crate::extract::{
    bearer_token, content_type_is, read_body, unsupported_media_type, AdminOnly, JsonBody,
    PathParams,
};
use crate::metrics::JourneyLabels;
use crate::respond::json;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// The header carrying a run's trace id on every invoke response.
pub static TRACE_HEADER: HeaderName = HeaderName::from_static("x-tessera-trace-id");

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
    AdminOnly(admin): AdminOnly,
    PathParams(journey_id): PathParams<String>,
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
        return Err(unsupported_media_type("application/yaml or application/json").into());
    };
    let body = read_body(req, state.config.json_body_limit, state.config.body_timeout).await?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        Error::new(
            Code::InvalidRequestBody,
            "the definition must be UTF-8 text",
        )
    })?;
    let (record, warnings) = state
        .identity
        .journeys
        .put_journey(&admin, &journey_id, text, format)
        .await?;
    let mut v = journey_json(&record);
    if let Some(o) = v.as_object_mut() {
        o.insert("warnings".into(), json!(warnings));
    }
    Ok(json(v))
}

pub async fn get_journey(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(journey_id): PathParams<String>,
) -> ApiResult {
    let record = state
        .identity
        .journeys
        .get_journey(&admin, &journey_id)
        .await?;
    let mut v = journey_json(&record);
    if let Some(o) = v.as_object_mut() {
        o.insert("source".into(), Value::String(record.source));
    }
    Ok(axum::Json(v).into_response())
}

pub async fn list_journeys(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
) -> ApiResult {
    let list = state.identity.journeys.list_journeys(&admin).await?;
    Ok(
        axum::Json(json!({"journeys": list.iter().map(journey_json).collect::<Vec<_>>()}))
            .into_response(),
    )
}

pub async fn delete_journey(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(journey_id): PathParams<String>,
) -> ApiResult {
    state
        .identity
        .journeys
        .delete_journey(&admin, &journey_id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn get_trace(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams((journey_id, trace_id)): PathParams<(String, String)>,
) -> ApiResult {
    let trace = state
        .identity
        .journeys
        .get_trace(&admin, &journey_id, &trace_id)
        .await?;
    Ok(json(trace))
}

pub async fn put_connection(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(name): PathParams<String>,
    JsonBody(definition): JsonBody<Value>,
) -> ApiResult {
    let redacted = state
        .identity
        .journeys
        .put_connection(&admin, &name, definition)
        .await?;
    Ok(json(json!({"name": name, "definition": redacted})))
}

pub async fn get_connection(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(name): PathParams<String>,
) -> ApiResult {
    let definition = state
        .identity
        .journeys
        .get_connection(&admin, &name)
        .await?;
    Ok(axum::Json(json!({"name": name, "definition": definition})).into_response())
}

pub async fn list_connections(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
) -> ApiResult {
    let list = state.identity.journeys.list_connections(&admin).await?;
    let items: Vec<Value> = list
        .into_iter()
        .map(|(name, definition)| json!({"name": name, "definition": definition}))
        .collect();
    Ok(axum::Json(json!({"connections": items})).into_response())
}

pub async fn delete_connection(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    PathParams(name): PathParams<String>,
) -> ApiResult {
    state
        .identity
        .journeys
        .delete_connection(&admin, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|GET /ido/api/v2/invoke-api-journey/{journey_id}?clientId=`: runs a backend journey.
/// Every response, errors included, carries `x-tessera-trace-id`.
pub async fn invoke(
    State(state): State<AppState>,
    PathParams(journey_id): PathParams<String>,
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
        .identity
        .journeys
        .compiled(journey_id)
        .await?
        .filter(|j| j.journey_type == JourneyType::BackendApi)
        .ok_or_else(|| Error::new(Code::NotFound, "journey not found"))?;
    let client_id = params
        .iter()
        .find(|(k, _)| k == "clientId")
        .map(|(_, v)| v.clone());
    let mut invoking = None;
    if journey.enforce_token {
        // The gate decides who calls, as for every endpoint; only enforcing journeys ask.
        let caller = state
            .identity
            .gate
            .authenticate(bearer_token(req.headers()))
            .await?;
        let client = caller.client_token()?;
        invoking = Some(client.client().clone());
        let Some(client_id) = client_id.as_deref() else {
            return Err(Error::invalid("the `clientId` query parameter is required").into());
        };
        if client.client_id() != client_id {
            return Err(Error::new(
                Code::Forbidden,
                "the token belongs to another client than `clientId`",
            )
            .into());
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
        let bytes = read_body(req, state.config.json_body_limit, state.config.body_timeout).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else if has_type && !is_json {
            return Err(unsupported_media_type("application/json").into());
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
    let directory = state.identity.client_journeys.directory(invoking);
    let outcome = state
        .identity
        .journeys
        .run(&journey, request, &directory, trace_id)
        .await;
    let (label, response) = match outcome.result {
        RunResult::Completed(http) => ("completed", completed_response(http)),
        RunResult::Failed(failure) => {
            tracing::info!(journey = %journey.id, step = %failure.step_id, code = %failure.code, %trace_id, "journey run failed");
            let error = Error::new(Code::JourneyFailed, failure.message)
                .with("step_id", Value::String(failure.step_id))
                .with("trace_id", Value::String(trace_id.to_string()));
            ("failed", ApiError(error).into_response())
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
