//! Backend authentication (`/cis/v1/auth/password/authenticate`, `/cis/v1/auth/session/*`,
//! `/cis/v1/auth/otp/*`, `/cis/v1/auth/link/email/*`, `/cis/v1/auth/token/refresh`) and OIDC
//! userinfo (`/oidc/userinfo`). The rules live in the identity components; these handlers
//! parse bodies and render answers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_identity::authn::{
    LinkChannel, LinkLogin, LinkSend, OtpChannel, OtpLogin, OtpSend, PasswordLogin,
};
use tessera_identity::claims::RequestedClaims;
use tessera_identity::logins::LoginOptions;
use tessera_identity::messages::{EmailContent, SmsInput};
use tessera_identity::perm;
use tessera_identity::sessions::SessionId;
use tessera_identity::users::{Identifier, IdentifierType};
use tessera_identity::util::iso_from_ms;
use tessera_identity::Error;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, Permitted, UserOnly};
use crate::respond::{json, no_store, rest_tokens};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

/// The body of the password API. Unknown fields (Mosaic's `device_id`, `org_id`, …) are
/// ignored. No `Debug`: it holds the password.
#[derive(Deserialize)]
pub struct PasswordBody {
    username: String,
    password: String,
    #[serde(default)]
    username_type: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    claims: Option<ClaimsRequest>,
}

/// The `claims` request field: `{"id_token": {"name": null, …}, "access_token": {…}}`
/// (OIDC Core §5.5 shape); only the names matter.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ClaimsRequest {
    id_token: Option<serde_json::Map<String, Value>>,
    access_token: Option<serde_json::Map<String, Value>>,
}

impl ClaimsRequest {
    pub fn into_requested(self) -> RequestedClaims {
        let names = |m: Option<serde_json::Map<String, Value>>| {
            m.map(|m| m.into_iter().map(|(k, _)| k).collect())
                .unwrap_or_default()
        };
        RequestedClaims {
            id_token: names(self.id_token),
            access_token: names(self.access_token),
        }
    }
}

/// The body of the session APIs. No `Debug`: it holds the session id.
#[derive(Deserialize)]
pub struct SessionBody {
    session_id: String,
}

fn login_options(
    session_id: Option<String>,
    resource: Option<String>,
    claims: Option<ClaimsRequest>,
) -> LoginOptions {
    LoginOptions {
        session_id: session_id.map(SessionId::new),
        resource,
        claims: claims.map(ClaimsRequest::into_requested),
    }
}

pub async fn password_authenticate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult {
    let username_type = match body.username_type.as_deref() {
        None => None,
        Some("username") => Some(IdentifierType::Username),
        Some("email") => Some(IdentifierType::Email),
        Some("phone_number") => Some(IdentifierType::PhoneNumber),
        Some("user_id") => Some(IdentifierType::UserId),
        Some(_) => {
            return Err(Error::invalid(
                "`username_type` must be one of username, email, phone_number, user_id",
            )
            .into())
        }
    };
    let login = PasswordLogin {
        username: body.username,
        username_type,
        password: Zeroizing::new(body.password),
        options: login_options(body.session_id, body.resource, body.claims),
    };
    let tokens = state
        .identity
        .passwords
        .authenticate(&permit, login)
        .await?;
    Ok(rest_tokens(&tokens))
}

pub async fn session_authenticate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Sessions>,
    JsonBody(body): JsonBody<SessionBody>,
) -> ApiResult {
    let id = SessionId::new(body.session_id);
    let tokens = state
        .identity
        .logins
        .session_authenticate(&permit, id)
        .await?;
    Ok(rest_tokens(&tokens))
}

pub async fn session_logout(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Sessions>,
    JsonBody(body): JsonBody<SessionBody>,
) -> ApiResult {
    let id = SessionId::new(body.session_id);
    state.identity.logins.logout(&permit, id).await?;
    // The platform answers 204 with no body; its samples check `status === 204`.
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /cis/v1/auth/users/{user_id}/sessions`: the user's live sessions as a bare array of
/// the platform's `{session_id, start_time, expiration_time}`. The session id itself is
/// never stored, so `session_id` here is the session's `sid` (what its tokens carry).
pub async fn user_sessions(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Sessions>,
    PathParams(user_id): PathParams<String>,
) -> ApiResult {
    let sessions = state
        .identity
        .logins
        .user_sessions(&permit, &user_id)
        .await?;
    let iso = |seconds: i64| iso_from_ms(seconds.saturating_mul(1000));
    let list: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "session_id": s.session_hash,
                "start_time": iso(s.created_at),
                "expiration_time": iso(s.expires_at),
            })
        })
        .collect();
    Ok(no_store(json(Value::Array(list))))
}

/// `DELETE /cis/v1/auth/users/{user_id}/sessions`: ends every session of the user; 204.
pub async fn logout_user(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Sessions>,
    PathParams(user_id): PathParams<String>,
) -> ApiResult {
    state.identity.logins.logout_user(&permit, &user_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /cis/v1/auth/logout` with a user access token: ends every session of its user;
/// `{"sessions_count": n}`.
pub async fn logout_caller(State(state): State<AppState>, UserOnly(user): UserOnly) -> ApiResult {
    let ended = state.identity.logins.logout_caller(&user).await?;
    Ok(json(json!({ "sessions_count": ended })))
}

/// The body of `/cis/v1/auth/token/refresh`. No `Debug`: it holds the token.
#[derive(Deserialize)]
pub struct RefreshBody {
    refresh_token: String,
}

/// `POST /cis/v1/auth/token/refresh`: the refresh grant for the calling client; a refused
/// token is 400 `invalid_grant`.
pub async fn token_refresh(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> ApiResult {
    let tokens = state
        .identity
        .logins
        .refresh_for(&permit, &body.refresh_token)
        .await?;
    Ok(rest_tokens(&tokens))
}

/// `GET/POST /oidc/userinfo` (OIDC Core §5.3): a user access token in the `Authorization`
/// header; failures are 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
pub async fn userinfo(State(state): State<AppState>, UserOnly(user): UserOnly) -> ApiResult {
    let claims = state.identity.users.userinfo(&user).await?;
    Ok(no_store(json(claims)))
}

/// The body of `POST /cis/v1/auth/otp/send`, with the platform's `custom_email`,
/// `custom_phone_number`, `approval_data`, `email_content` and `custom_sms_input` (checked by
/// the OTP component). Other unknown fields (`device_id`, `client_attributes`, …) are
/// ignored.
#[derive(Deserialize)]
pub struct OtpSendBody {
    channel: String,
    identifier_type: String,
    identifier: String,
    #[serde(default)]
    expires_in: Option<u32>,
    #[serde(default)]
    custom_email: Option<String>,
    #[serde(default)]
    custom_phone_number: Option<String>,
    /// Any JSON: the component answers a clear 400 for what is not a flat object of strings.
    #[serde(default)]
    approval_data: Option<Value>,
    #[serde(default)]
    email_content: Option<EmailContent>,
    #[serde(default)]
    custom_sms_input: Option<SmsInput>,
}

/// The body of `POST /cis/v1/auth/otp/authenticate`. No `Debug`: it holds the passcode.
#[derive(Deserialize)]
pub struct OtpAuthenticateBody {
    passcode: String,
    identifier_type: String,
    identifier: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    claims: Option<ClaimsRequest>,
}

/// The body of `POST /cis/v1/auth/link/email/send`: `identifier_type` + `identifier`, or the
/// deprecated `email`.
#[derive(Deserialize)]
pub struct LinkSendBody {
    redirect_uri: String,
    #[serde(default)]
    identifier_type: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    email_expiration: Option<u32>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    email_content: Option<EmailContent>,
}

/// The body of `POST /cis/v1/auth/link/email/authenticate`. No `Debug`: it holds the code.
#[derive(Deserialize)]
pub struct LinkAuthenticateBody {
    code: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    claims: Option<ClaimsRequest>,
}

fn identifier(kind: &str, value: String) -> Result<Identifier, Error> {
    Ok(Identifier {
        kind: IdentifierType::parse(kind)?,
        value,
    })
}

pub async fn otp_send(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<OtpSendBody>,
) -> ApiResult {
    let req = OtpSend {
        custom_email: body.custom_email,
        custom_phone_number: body.custom_phone_number,
        approval_data: body.approval_data,
        email_content: body.email_content,
        custom_sms_input: body.custom_sms_input,
        ..OtpSend::new(
            OtpChannel::parse(&body.channel)?,
            identifier(&body.identifier_type, body.identifier)?,
            body.expires_in,
        )
    };
    let sent = state.identity.otp.send(&permit, req).await?;
    // `direct` answers carry the code.
    Ok(no_store(axum::Json(sent).into_response()))
}

pub async fn otp_authenticate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<OtpAuthenticateBody>,
) -> ApiResult {
    let login = OtpLogin {
        passcode: Zeroizing::new(body.passcode),
        identifier: identifier(&body.identifier_type, body.identifier)?,
        options: login_options(body.session_id, body.resource, body.claims),
    };
    let tokens = state.identity.otp.authenticate(&permit, login).await?;
    Ok(rest_tokens(&tokens))
}

pub async fn magic_link_send(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<LinkSendBody>,
) -> ApiResult {
    let who = match (body.identifier_type, body.identifier, body.email) {
        (Some(kind), Some(value), _) => identifier(&kind, value)?,
        (None, None, Some(email)) => identifier("email", email)?,
        _ => {
            return Err(Error::invalid(
                "give `identifier_type` and `identifier` (or the deprecated `email`)",
            )
            .into())
        }
    };
    let req = LinkSend {
        redirect_uri: body.redirect_uri,
        identifier: who,
        state: body.state,
        email_expiration: body.email_expiration,
        channel: LinkChannel::parse(body.channel.as_deref().unwrap_or("email"))?,
        email_content: body.email_content,
    };
    let sent = state.identity.magic_links.send(&permit, req).await?;
    // `direct` answers carry the link.
    Ok(no_store(axum::Json(sent).into_response()))
}

pub async fn magic_link_authenticate(
    State(state): State<AppState>,
    Permitted(permit): Permitted<perm::Auth>,
    JsonBody(body): JsonBody<LinkAuthenticateBody>,
) -> ApiResult {
    let login = LinkLogin {
        code: Zeroizing::new(body.code),
        options: login_options(body.session_id, body.resource, body.claims),
    };
    let tokens = state
        .identity
        .magic_links
        .authenticate(&permit, login)
        .await?;
    Ok(rest_tokens(&tokens))
}
