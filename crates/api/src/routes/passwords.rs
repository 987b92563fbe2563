//! Passwords as the platform's users and password APIs shape them:
//! `POST`/`PUT /cis/v1/users/{user_id}/password` (set the first password; replace it),
//! the reset flows under `/cis/v1/auth/password/reset/…` and `/cis/v1/auth/password/reset`,
//! and `/cis/v1/auth/password/validate`. The rules live in `Users` and `PasswordResets`.
//!
//! Bodies ignore members they do not know (the platform's `email_content`, `prev_reset_token`,
//! `ignore_mfa`, `redirect_uri`, `resource`, `require_mfa` are accepted and have no effect;
//! docs/coming-from-mosaic.md says why). No body type derives `Debug`: they hold passwords.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tessera_identity::authn::{ResetChannel, ResetCodeCheck, ResetLinkSend};
use tessera_identity::perm;
use tessera_identity::users::{Identifier, IdentifierType, PasswordSet};
use tessera_identity::Error;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, Permitted};
use crate::respond::{json, json_with, no_store};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// `ApiAddPassword` / `ApiUpdatePassword`.
#[derive(Deserialize)]
pub struct PasswordSetBody {
    password: String,
    #[serde(default)]
    force_replace: Option<bool>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    enforce_complexity: Option<bool>,
}

impl PasswordSetBody {
    /// The platform's defaults: temporary, complexity enforced.
    fn into_set(self, allow_username: bool) -> Result<PasswordSet, Error> {
        if !allow_username && self.username.is_some() {
            return Err(Error::invalid(
                "`username` can only be set with the first password (POST)",
            ));
        }
        Ok(PasswordSet {
            password: Zeroizing::new(self.password),
            force_replace: self.force_replace.unwrap_or(true),
            username: self.username,
            enforce_complexity: self.enforce_complexity.unwrap_or(true),
        })
    }
}

/// `POST /cis/v1/users/{user_id}/password`: 201 `{"result": {"message"}}`.
pub async fn add_password(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersWrite>,
    PathParams(user_id): PathParams<String>,
    JsonBody(body): JsonBody<PasswordSetBody>,
) -> ApiResult {
    let set = body.into_set(true)?;
    state
        .identity
        .users
        .add_password(&permit, &user_id, set)
        .await?;
    Ok(no_store(json_with(
        StatusCode::CREATED,
        json!({ "result": { "message": "Password registered" } }),
    )))
}

/// `PUT /cis/v1/users/{user_id}/password`: 200 `{"result": {"message"}}`.
pub async fn replace_password(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::UsersWrite>,
    PathParams(user_id): PathParams<String>,
    JsonBody(body): JsonBody<PasswordSetBody>,
) -> ApiResult {
    let set = body.into_set(false)?;
    state
        .identity
        .users
        .replace_password(&permit, &user_id, set)
        .await?;
    Ok(no_store(json(
        json!({ "result": { "message": "Password updated" } }),
    )))
}

/// `ApiSendResetPasswordEmailLinkInput`: `email` or `username`, not both.
#[derive(Deserialize)]
pub struct ResetLinkBody {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    username: Option<String>,
    redirect_uri: String,
}

pub async fn reset_link_send(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ResetLinkBody>,
) -> ApiResult {
    let identifier = match (body.email, body.username) {
        (Some(value), None) => Identifier {
            kind: IdentifierType::Email,
            value,
        },
        (None, Some(value)) => Identifier {
            kind: IdentifierType::Username,
            value,
        },
        _ => return Err(Error::invalid("give exactly one of `email` and `username`").into()),
    };
    state
        .identity
        .resets
        .send_link(
            &permit,
            ResetLinkSend {
                identifier,
                redirect_uri: body.redirect_uri,
            },
        )
        .await?;
    Ok(no_store(json(
        json!({ "message": "Reset password email sent" }),
    )))
}

#[derive(Deserialize)]
pub struct ResetEmailBody {
    email: String,
}

#[derive(Deserialize)]
pub struct ResetSmsBody {
    phone_number: String,
}

pub async fn reset_email_otp_send(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ResetEmailBody>,
) -> ApiResult {
    state
        .identity
        .resets
        .send_code(&permit, ResetChannel::Email, &body.email)
        .await?;
    Ok(no_store(json(json!({ "message": "Email Sent" }))))
}

pub async fn reset_sms_otp_send(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ResetSmsBody>,
) -> ApiResult {
    state
        .identity
        .resets
        .send_code(&permit, ResetChannel::Sms, &body.phone_number)
        .await?;
    Ok(no_store(json(json!({ "message": "SMS Sent" }))))
}

#[derive(Deserialize)]
pub struct ResetEmailCheckBody {
    email: String,
    passcode: String,
}

#[derive(Deserialize)]
pub struct ResetSmsCheckBody {
    phone_number: String,
    passcode: String,
}

/// A right passcode answers `{"result": reset_token}`.
async fn check_code(
    state: &AppState,
    permit: &tessera_identity::Permit<perm::Auth>,
    check: ResetCodeCheck,
) -> ApiResult {
    let token = state.identity.resets.check_code(permit, check).await?;
    Ok(no_store(json(json!({ "result": token.expose() }))))
}

pub async fn reset_email_otp_validate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ResetEmailCheckBody>,
) -> ApiResult {
    let check = ResetCodeCheck {
        channel: ResetChannel::Email,
        address: body.email,
        passcode: Zeroizing::new(body.passcode),
    };
    check_code(&state, &permit, check).await
}

pub async fn reset_sms_otp_validate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ResetSmsCheckBody>,
) -> ApiResult {
    let check = ResetCodeCheck {
        channel: ResetChannel::Sms,
        address: body.phone_number,
        passcode: Zeroizing::new(body.passcode),
    };
    check_code(&state, &permit, check).await
}

/// `ApiResetPasswordInput`.
#[derive(Deserialize)]
pub struct ResetBody {
    reset_token: String,
    new_password: String,
}

/// `POST /cis/v1/auth/password/reset`: `{"message", "email"?}` (no `url`: the platform's
/// link to its hosted login, which Tessera does not have yet).
pub async fn reset(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ResetBody>,
) -> ApiResult {
    let done = state
        .identity
        .resets
        .reset(
            &permit,
            Zeroizing::new(body.reset_token),
            Zeroizing::new(body.new_password),
        )
        .await?;
    Ok(no_store(json(json!(done))))
}

/// `ApiValidatePasswordInput`: the user fields would select a password history, which
/// Tessera does not keep; they are accepted and ignored.
#[derive(Deserialize)]
pub struct ValidateBody {
    password: String,
}

/// `POST /cis/v1/auth/password/validate`: `{"result": {"valid_password", "errors"}}`.
pub async fn validate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<ValidateBody>,
) -> ApiResult {
    let password = Zeroizing::new(body.password);
    let result = state.identity.resets.validate(&permit, &password)?;
    Ok(no_store(json(json!({ "result": result }))))
}
