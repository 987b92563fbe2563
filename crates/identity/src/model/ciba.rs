//! CIBA backchannel authentication requests as stored (never the `auth_req_id` itself).

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CibaStatus {
    /// Waiting for the user's decision.
    Pending,
    /// The user approved; the tokens have not been fetched yet.
    Approved,
    /// The user denied.
    Denied,
    /// The tokens were issued (at most once).
    Consumed,
}

impl CibaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Consumed => "consumed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "consumed" => Some(Self::Consumed),
            _ => None,
        }
    }
}

/// One backchannel authentication request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaRequest {
    /// base64url(SHA-256(auth_req_id)): the key; the id itself is never stored.
    pub request_hash: String,
    pub client_id: String,
    pub user_id: String,
    /// The granted scope (space-separated, `openid` included).
    pub scope: String,
    pub binding_message: Option<String>,
    /// `poll` or `ping`.
    pub delivery_mode: String,
    /// Ping mode: the client's notification token, sealed with the KEK (base64url).
    pub notification_token_sealed: Option<String>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// The minimum seconds between polls; grows by 5 on every `slow_down`.
    pub interval_s: i64,
    pub last_polled_at_ms: Option<i64>,
    pub status: CibaStatus,
    pub decided_at_ms: Option<i64>,
    /// The approving authentication's time (seconds) and methods (the amr of its session).
    pub auth_time: Option<i64>,
    pub methods: Vec<String>,
}

/// What a poll of the token endpoint found (the store decides it atomically).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CibaPoll {
    /// Not decided yet (`authorization_pending`).
    Pending,
    /// Polled faster than the interval (`slow_down`); the interval grew by 5 s.
    SlowDown { interval_s: i64 },
    /// The user denied (`access_denied`).
    Denied,
    /// The request expired undecided or unfetched (`expired_token`).
    Expired,
    /// Approved: this poll took the tokens (exactly one poll ever does).
    Approved(Box<CibaRequest>),
    /// Unknown, another client's, or already fetched (`invalid_grant`).
    Invalid,
}
