//! Change rows: what changed, for cache invalidation across nodes.

/// What changed, for cache invalidation across nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub key: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Application,
    Client,
    SigningKeys,
    RevokedToken,
    Journey,
    Connection,
    User,
    /// A session ended (or changed); the key is its `session_hash`.
    Session,
    /// A tenant settings document changed; the key is its name (`login_preferences`).
    Settings,
    Other,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Client => "client",
            Self::SigningKeys => "signing_keys",
            Self::RevokedToken => "revoked_token",
            Self::Journey => "journey",
            Self::Connection => "connection",
            Self::User => "user",
            Self::Session => "session",
            Self::Settings => "settings",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "application" => Self::Application,
            "client" => Self::Client,
            "signing_keys" => Self::SigningKeys,
            "revoked_token" => Self::RevokedToken,
            "journey" => Self::Journey,
            "connection" => Self::Connection,
            "user" => Self::User,
            "session" => Self::Session,
            "settings" => Self::Settings,
            _ => Self::Other,
        }
    }
}
