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
