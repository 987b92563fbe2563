//! The identity layer's share of the configuration, resolved by the binary and passed in.

/// Settings the identity rules need. Built once by the binary from the validated config.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// The issuer, byte for byte as configured (no trailing slash).
    pub issuer: String,
    /// A rotated-in signing key is published at once but used only after this delay, so
    /// relying parties' JWKS caches see it first.
    pub key_activation_delay_s: i64,
    /// Accepted clock skew when checking `exp` of tokens presented to Tessera.
    pub leeway_s: i64,
    /// After a secret rotation the previous secret stays valid this long unless the request
    /// says otherwise.
    pub secret_rotation_grace_s: i64,
    /// How many verified bearer tokens each node remembers (results are reused until the
    /// token expires; revocation and client state are still checked on every use).
    pub token_cache_entries: usize,
    /// Whether messages go to the development outbox (`delivery.outbox`), which
    /// `GET /cis/v1/dev/outbox` then lists; when off that endpoint answers 404. (The password
    /// policy is not here: it is part of the login preferences, `preferences.rs`.)
    pub dev_outbox: bool,
    /// A session unused for this long cannot be resumed or extended (its absolute end is
    /// the client's `session_expiration`).
    pub session_idle_timeout_s: i64,
    /// How long the session and user checks of a user access token are reused on this node
    /// (other nodes' logouts and user changes also drop them through the change feed).
    pub live_check_cache_ms: i64,
    /// Per-node limits of message sends and authenticate calls (`ratelimit.rs`).
    pub rate_limits: crate::ratelimit::RateLimitSettings,
    /// The texts of passcode and magic-link messages (`[messages]`).
    pub messages: crate::messages::MessageTemplates,
    /// A client presenting its just-rotated refresh token again within this many seconds
    /// (a retry after a lost answer) gets the same successor instead of revoking the family;
    /// 0 disables (SPEC §4).
    pub refresh_reuse_window_s: i64,
    /// `outbound.allow_cidrs`: the addresses a client's CIBA notification endpoint may reach
    /// over plain `http` (the outbound client enforces the same list at send time).
    pub outbound_allow_cidrs: Vec<ipnet::IpNet>,
    /// CIBA (`ciba.rs`).
    pub ciba: CibaSettings,
}

/// CIBA request lifetimes and polling interval (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CibaSettings {
    /// `expires_in` when the request asks for none (300 s).
    pub default_expiry_s: i64,
    /// The cap of `requested_expiry` (600 s).
    pub max_expiry_s: i64,
    /// The polling interval returned and enforced (5 s; `slow_down` adds 5 s).
    pub interval_s: i64,
}

impl Default for CibaSettings {
    fn default() -> Self {
        Self {
            default_expiry_s: 300,
            max_expiry_s: 600,
            interval_s: 5,
        }
    }
}

impl IdentitySettings {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            key_activation_delay_s: 30,
            leeway_s: 30,
            secret_rotation_grace_s: 0,
            token_cache_entries: 100_000,
            dev_outbox: false,
            session_idle_timeout_s: 24 * 3600,
            live_check_cache_ms: 2_000,
            rate_limits: crate::ratelimit::RateLimitSettings::default(),
            messages: crate::messages::MessageTemplates::default(),
            refresh_reuse_window_s: 2,
            outbound_allow_cidrs: Vec::new(),
            ciba: CibaSettings::default(),
        }
    }
}

/// The audience of tokens meant for Tessera's own APIs, and the default `aud`.
pub const DEFAULT_AUDIENCE: &str = "userid-api";
