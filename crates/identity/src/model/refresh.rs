//! Refresh-token families as stored (never a token itself).

/// One stored refresh-token family (never a token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    pub family_id: String,
    /// The current token's generation (0 for the first token).
    pub generation: i64,
    /// base64url(SHA-256) of the current token.
    pub token_hash: String,
    /// base64url(SHA-256) of the previous generation's token.
    pub previous_hash: Option<String>,
    pub client_id: String,
    pub user_id: String,
    pub session_hash: String,
    /// The session id sealed with the KEK (associated data: the family id), base64url.
    pub session_sealed: String,
    /// JSON of the grant (resource and requested claims).
    pub grant_doc: String,
    pub created_at: i64,
    pub rotated_at: i64,
    /// When the current token expires.
    pub expires_at: i64,
    pub family_expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The current token sealed under a key derived from the previous token (base64url), so
    /// the previous token's holder retrying within the reuse window gets the same successor.
    /// `None` for a family never rotated.
    pub successor_sealed: Option<String>,
}

impl RefreshFamily {
    /// Whether a presented (`generation`, `token_hash`) is the previous generation's token:
    /// its hash matches the stored one. Older generations cannot be verified (their hashes
    /// are not kept) and a token whose secret does not match is merely invalid: neither
    /// revokes anything, so a forged `<family>.0.garbage` cannot log anyone out.
    pub fn is_replay(&self, generation: i64, token_hash: &str) -> bool {
        generation == self.generation - 1 && self.previous_hash.as_deref() == Some(token_hash)
    }

    /// Whether (`generation`, `token_hash`) is this family's current token.
    pub fn is_current(&self, generation: i64, token_hash: &str) -> bool {
        generation == self.generation && self.token_hash == token_hash
    }
}

/// A rotation request (see `RefreshStore::rotate_refresh_token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRotation {
    pub family_id: String,
    pub generation: i64,
    pub token_hash: String,
    pub client_id: String,
    pub next_hash: String,
    /// The next token sealed under a key derived from the presented one (base64url).
    pub next_sealed: String,
    pub next_expires_at: i64,
    pub now_s: i64,
    /// A replay of the previous generation by the same client at most this many seconds
    /// after the rotation is a retry (`Retry`), not a theft; 0 disables.
    pub reuse_window_s: i64,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was current; this is the family after the rotation.
    Rotated(Box<RefreshFamily>),
    /// The previous generation was presented again by its client within the reuse window
    /// (a retry after a lost answer): nothing changed; this is the family, whose
    /// `successor_sealed` the presented token opens.
    Retry(Box<RefreshFamily>),
    /// The previous generation was presented after the reuse window: the family is now
    /// revoked (the reuse detection of the OAuth 2.0 Security BCP).
    Reused { family_id: String },
    /// Unknown, expired, revoked, forged or another client's: nothing changed.
    Invalid,
}
