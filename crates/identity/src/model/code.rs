//! One-time codes (OTP passcodes and magic links) as stored: never the code itself.

/// A stored one-time code (the code itself is not in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// Random row id.
    pub code_id: String,
    /// base64url(HMAC-SHA-256) of the code (see the module docs).
    pub code_hash: String,
    pub user_id: String,
    /// The client that sent it; it alone may redeem it unless cross-client use is allowed.
    pub client_id: String,
    /// The amr the code proves: `eotp`, `sms` or `eml`.
    pub kind: String,
    /// The address it was sent to (email or E.164), if any: redeeming it marks that address
    /// verified only while it is still the user's, and never when `custom_destination`.
    pub destination: Option<String>,
    /// The caller chose `destination` (`custom_email` / `custom_phone_number`): redeeming the
    /// code proves nothing about the user's own addresses.
    pub custom_destination: bool,
    /// Passcodes: the send's `approval_data` (a flat object of strings), carried into the
    /// ID token of the login that redeems the code.
    pub approval_data: Option<serde_json::Map<String, serde_json::Value>>,
    /// Magic links: where the link points.
    pub redirect_uri: Option<String>,
    /// Magic links: the caller's `state`.
    pub state: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set when redeemed or replaced by a newer code.
    pub consumed_at: Option<i64>,
}

/// Which code a redeem attempt may consume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRedemption {
    pub code_hash: String,
    /// Only codes of this user (passcodes); `None` for magic links.
    pub user_id: Option<String>,
    /// Only codes of these kinds (at least one).
    pub kinds: Vec<String>,
    /// Only codes sent by this client; `None` when any client may redeem.
    pub client_id: Option<String>,
    pub now_s: i64,
}

/// The outcome of a redeem attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// This attempt consumed the code (returned as it was before, with `consumed_at` set).
    Consumed(Box<OneTimeCode>),
    /// A matching unused code exists but has expired (nothing changed).
    Expired,
    /// No matching unused code: wrong, already used, replaced, or another client's.
    Invalid,
}
