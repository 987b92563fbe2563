//! Client journeys, the hosted platform's IDO protocol: `POST
//! /ido/api/v2/journeys/{journey_id}/start?clientId=` (anyone; `clientId` must name an enabled
//! client) and `POST /ido/api/v2/interactions/{interaction_id}/submit` (anyone holding the
//! interaction id, 256 random bits handed out by `start`). The rules live in
//! `tessera_identity::client_journeys`; these handlers parse bodies, answer in the platform's
//! shape, and carry the run's trace id in `x-tessera-trace-id`. Answers hold codes and user
//! data: `Cache-Control: no-store`.

use axum::extract::{Query, State};
use axum::http::HeaderValue;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_identity::client_journeys::JourneyStart;
use tessera_identity::Error;
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

pub async fn start(
    State(state): State<AppState>,
    PathParams(journey_id): PathParams<String>,
    Query(query): Query<Vec<(String, String)>>,
    JsonBody(body): JsonBody<StartBody>,
) -> ApiResult {
    let mut client_id = None;
    for (k, v) in query {
        if k == "clientId" {
            if client_id.is_some() {
                return Err(Error::invalid("`clientId` is repeated").into());
            }
            client_id = Some(v);
        }
    }
    let client_id =
        client_id.ok_or_else(|| Error::invalid("the `clientId` query parameter is required"))?;
    let client = state.identity.gate.named_client(&client_id).await?;
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
    JsonBody(body): JsonBody<SubmitBody>,
) -> ApiResult {
    let trace_id = new_trace_id();
    let answer = state
        .identity
        .client_journeys
        .submit(
            &interaction_id,
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
