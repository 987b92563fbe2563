//! Client-journey interactions and the authorization codes that end them.

use serde::{Deserialize, Serialize};

/// One client journey in progress: its run state sealed with the KEK (the client holds only
/// the id), and a version that every continuation bumps with a conditional update, so two
/// submits racing on two nodes apply exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionRecord {
    pub interaction_id: String,
    pub client_id: String,
    pub journey_id: String,
    /// The sealed run state.
    pub state_sealed: String,
    pub version: i64,
    /// PKCE (`S256`) challenge given at start, bound to the code the run ends with.
    pub code_challenge: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// What an authorization code stands for: an authentication of `user_id` with `methods`
/// at `auth_time`, for `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub methods: Vec<String>,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The browser session (its `sid`) the code's tokens belong to: codes of the
    /// authorization endpoint. A code without one (a client journey's) starts a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The granted scope (authorization endpoint); `None`: the client's default scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Whether the tokens include an ID token (the request was OpenID Connect: `openid`).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub id_token: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// What the first exchange of a code issued, so a replay revokes exactly those tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFirstUse {
    /// The refresh-token family the exchange started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_family: Option<String>,
    /// The access token's `jti` and expiry (seconds).
    pub jti: String,
    pub exp: i64,
}

/// A pending authorization request (`/oidc/auth`) waiting for the hosted login, keyed by
/// base64url(SHA-256) of its id. `csrf_hash` is base64url(SHA-256) of the login cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequestRecord {
    pub request_hash: String,
    pub client_id: String,
    pub request: StoredAuthorizationRequest,
    pub csrf_hash: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// The validated parameters of an authorization request, as stored while the user logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAuthorizationRequest {
    pub redirect_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub openid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
    /// The login journey to run.
    pub journey_id: String,
    /// The PKCE verifier the hosted login page's journey code is bound to (its challenge goes
    /// to the page); only the server knows it.
    pub login_verifier: String,
}

/// A one-time authorization code, keyed by base64url(SHA-256) of the code (never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub grant: CodeGrant,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub consumed_at_ms: Option<i64>,
    /// The `sid` of the session the exchange created (to end it if the code is replayed).
    pub sid: Option<String>,
    /// What the exchange issued (codes of the authorization endpoint).
    pub first_use: Option<CodeFirstUse>,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeExchange {
    /// This redeem consumed it.
    Consumed(Box<AuthorizationCode>),
    /// It had been consumed before: a replay.
    Replayed(Box<AuthorizationCode>),
    /// Unknown or expired.
    Invalid,
}
