//! Sessions as stored.

/// A backend session as stored. The session id is never stored: `session_hash` is
/// base64url(SHA-256(session id)) and doubles as the public `sid` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub session_hash: String,
    pub user_id: String,
    /// The client that created the session.
    pub client_id: String,
    /// The amr values of the methods that authenticated in this session, in order.
    pub methods: Vec<String>,
    /// When the user last authenticated in this session (seconds).
    pub auth_time: i64,
    pub created_at: i64,
    pub last_used_at: i64,
    /// The absolute end of the session (seconds).
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// A browser session (the authorization endpoint's, behind a cookie) rather than a
    /// backend one: neither kind is accepted where the other is expected.
    pub browser: bool,
}
