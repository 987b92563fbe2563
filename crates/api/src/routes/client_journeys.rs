//! Client journeys, the hosted platform's IDO protocol: `POST
//! /ido/api/v2/journeys/{journey_id}/start?clientId=` (anyone; `clientId` must name an enabled
//! client) and `POST /ido/api/v2/interactions/{interaction_id}/submit` (anyone holding the
//! interaction id, 256 random bits handed out by `start`), and their CORS preflights. The
//! rules live in
//! `tessera_identity::client_journeys`; these handlers parse bodies, answer in the platform's
//! shape, and carry the run's trace id in `x-tessera-trace-id`. Answers hold codes and user
//! data: `Cache-Control: no-store`.
//!
//! CORS: a browser page on another origin may call these only when its `Origin` is in the
//! client's `allowed_origins` (the client named by `clientId`, or the one that started the
//! interaction); then every answer, errors included, carries
//! `Access-Control-Allow-Origin: <origin>` and `Vary: Origin`. No credentials (cookies) are
//! involved. Other origins get no CORS headers, so the browser withholds the answer.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_identity::client_journeys::{JourneyStart, PendingInteraction};
use tessera_identity::{Error, NamedClient};
use tessera_journey::ClientSubmit;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams};
use crate::respond::{json, no_store};
use crate::routes::journeys::TRACE_HEADER;
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// The `start` body. Unknown members are refused (a typo in `additionalParams` would
/// otherwise vanish silently).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    #[serde(default, rename = "additionalParams")]
    additional_params: Option<Map<String, Value>>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

/// The `submit` body: `{option, data}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    option: String,
    #[serde(default)]
    data: Value,
}

fn new_trace_id() -> String {
    tessera_jose::random_token_b64url(16).unwrap_or_else(|_| "unavailable".into())
}

fn with_trace(mut response: Response, trace_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(trace_id) {
        response.headers_mut().insert(TRACE_HEADER.clone(), v);
    }
    response
}

/// The `Origin` of a request if `client`'s `allowed_origins` holds it.
fn origin_allowed(headers: &HeaderMap, client: &NamedClient) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    client
        .record()
        .settings()
        .allowed_origins
        .iter()
        .any(|o| o == text)
        .then(|| origin.clone())
}

/// [`origin_allowed`] for the client `client_id` names, if it names an enabled one.
async fn allowed_origin(
    state: &AppState,
    headers: &HeaderMap,
    client_id: Option<&str>,
) -> Option<HeaderValue> {
    headers.get(header::ORIGIN)?;
    let client = state.identity.gate.named_client(client_id?).await.ok()?;
    origin_allowed(headers, &client)
}

fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-tessera-trace-id"),
        );
    }
    response
}

/// A preflight: 204, with the CORS grant when the origin is allowed.
fn preflight(origin: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if origin.is_some() {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    with_cors(response, origin)
}

/// The single `clientId` of the query.
fn client_id_of(query: Vec<(String, String)>) -> Result<String, Error> {
    let mut client_id = None;
    for (k, v) in query {
        if k == "clientId" {
            if client_id.is_some() {
                return Err(Error::invalid("`clientId` is repeated"));
            }
            client_id = Some(v);
        }
    }
    client_id.ok_or_else(|| Error::invalid("the `clientId` query parameter is required"))
}

/// `OPTIONS …/start?clientId=`.
pub async fn start_preflight(
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let client_id = client_id_of(query).ok();
    preflight(allowed_origin(&state, &headers, client_id.as_deref()).await)
}

/// `OPTIONS …/submit`.
pub async fn submit_preflight(
    State(state): State<AppState>,
    PathParams(interaction_id): PathParams<String>,
    headers: HeaderMap,
) -> Response {
    let mut client_id = None;
    if headers.contains_key(header::ORIGIN) {
        if let Ok(pending) = state.identity.client_journeys.find(&interaction_id).await {
            client_id = Some(pending.client_id().to_string());
        }
    }
    preflight(allowed_origin(&state, &headers, client_id.as_deref()).await)
}

pub async fn start(
    State(state): State<AppState>,
    PathParams(journey_id): PathParams<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StartBody>,
) -> Response {
    let client = match client_id_of(query) {
        Ok(id) => state.identity.gate.named_client(&id).await,
        Err(e) => Err(e),
    };
    let origin = client
        .as_ref()
        .ok()
        .and_then(|c| origin_allowed(&headers, c));
    let response = match client {
        Ok(client) => start_inner(&state, journey_id, client, body).await,
        Err(e) => Err(e.into()),
    };
    with_cors(response.unwrap_or_else(IntoResponse::into_response), origin)
}

async fn start_inner(
    state: &AppState,
    journey_id: String,
    client: NamedClient,
    body: StartBody,
) -> ApiResult {
    let trace_id = new_trace_id();
    let answer = state
        .identity
        .client_journeys
        .start(
            &client,
            JourneyStart {
                journey_id,
                params: body.additional_params.unwrap_or_default(),
                code_challenge: body.code_challenge,
                code_challenge_method: body.code_challenge_method,
            },
            &trace_id,
        )
        .await?;
    Ok(with_trace(
        no_store(json(serde_json::json!(answer))),
        &trace_id,
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    PathParams(interaction_id): PathParams<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SubmitBody>,
) -> Response {
    // Loaded once: for the CORS grant (errors carry it too) and for the submit itself.
    let pending = state.identity.client_journeys.find(&interaction_id).await;
    let client_id = pending.as_ref().ok().map(|p| p.client_id().to_string());
    let origin = allowed_origin(&state, &headers, client_id.as_deref()).await;
    let response = match pending {
        Ok(pending) => submit_inner(&state, pending, body).await,
        Err(e) => Err(e.into()),
    };
    with_cors(response.unwrap_or_else(IntoResponse::into_response), origin)
}

async fn submit_inner(
    state: &AppState,
    pending: PendingInteraction,
    body: SubmitBody,
) -> ApiResult {
    let trace_id = new_trace_id();
    let answer = state
        .identity
        .client_journeys
        .submit(
            pending,
            ClientSubmit {
                option: body.option,
                data: body.data,
            },
            &trace_id,
        )
        .await?;
    Ok(with_trace(
        no_store(json(serde_json::json!(answer))),
        &trace_id,
    ))
}
