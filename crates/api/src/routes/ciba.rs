//! CIBA (SPEC §6): the backchannel authentication endpoint (`/oidc/backchannel`,
//! `/cis/oidc/backchannel`; an OAuth endpoint with client authentication and RFC 6749 §5.2
//! errors) and the user's decision (`/cis/auth/backchannel/complete`, REST errors). The
//! token poll is a grant of `/oidc/token`. The rules live in `tessera_identity::ciba`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tessera_identity::ciba::BackchannelParams;
use tessera_identity::{Code, Error};

use crate::error::{ApiError, OAuthApiError};
use crate::extract::{JsonBody, OAuthForm, UserOnly};
use crate::respond::{json_with, no_store};
use crate::routes::oidc::authenticated;
use crate::state::AppState;

/// The least time an `unknown_user_id` answer takes. The domain gives one answer after one
/// lookup to a hint naming nobody, a disabled user or a user without a verified address, but
/// a lookup that finds a row still costs some 20 µs more than one that finds none (measured
/// with `reliability/ciba-unknown-user-timing.py`): enough, over thousands of samples, to
/// tell "no such user" from the others. Holding every such answer to a floor well above the
/// lookup's time hides that; the wait is a timer, not a worker.
const UNKNOWN_USER_FLOOR: std::time::Duration = std::time::Duration::from_millis(20);

/// `POST /oidc/backchannel` (CIBA Core §7): `{auth_req_id, expires_in, interval}`, plus
/// `auth_link` for `channel: link`.
pub async fn backchannel(
    State(state): State<AppState>,
    form: OAuthForm,
) -> Result<Response, OAuthApiError> {
    let client = authenticated(&state, &form).await?;
    let text = |name: &str| -> Result<Option<String>, Error> {
        Ok(form.single(name)?.map(str::to_string))
    };
    let params = BackchannelParams {
        scope: text("scope")?,
        login_hint: text("login_hint")?,
        login_hint_token: text("login_hint_token")?,
        id_token_hint: text("id_token_hint")?,
        binding_message: text("binding_message")?,
        request_context: text("request_context")?,
        requested_expiry: text("requested_expiry")?,
        client_notification_token: text("client_notification_token")?,
    };
    let started = tokio::time::Instant::now();
    let answer = match state.identity.ciba.request(&client, params).await {
        Ok(answer) => answer,
        Err(e) => {
            if e.is(Code::UnknownUserId) {
                tokio::time::sleep_until(started + UNKNOWN_USER_FLOOR).await;
            }
            return Err(e.into());
        }
    };
    state.metrics.ciba("requested");
    let mut body = json!({
        "auth_req_id": answer.auth_req_id.expose(),
        "expires_in": answer.expires_in,
        "interval": answer.interval,
    });
    if let Some(link) = &answer.auth_link {
        body["auth_link"] = json!(link.as_str());
    }
    Ok(no_store(json_with(StatusCode::OK, body)))
}

/// The body of the completion API. No `Debug`: it holds the `auth_req_id`.
#[derive(Deserialize)]
pub struct CompleteBody {
    auth_req_id: String,
    approved: bool,
}

/// `POST /cis/auth/backchannel/complete`: the requested user approves or denies; 200
/// `{"status": "approved" | "denied"}`.
pub async fn complete(
    State(state): State<AppState>,
    UserOnly(caller): UserOnly,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Response, ApiError> {
    state
        .identity
        .ciba
        .complete(&caller, &body.auth_req_id, body.approved)
        .await?;
    state
        .metrics
        .ciba(if body.approved { "approved" } else { "denied" });
    Ok(no_store(json_with(
        StatusCode::OK,
        json!({"status": if body.approved { "approved" } else { "denied" }}),
    )))
}
