//! The stored entities of the identity domain and their settings documents.
//!
//! Client and application settings are kept as JSON documents so an admin `PUT` can apply a
//! JSON Merge Patch (RFC 7396) to the public representation and re-validate the result, and
//! so new fields need no schema migration.

use serde::{Deserialize, Serialize};
use tessera_jose::{Algorithm, Jwk};

/// An application groups clients; the management application's clients are administrators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub app_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// True only for the management application created at bootstrap.
    pub management: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a client proves its identity at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// client_id and client_secret in the form body (the hosted platform's tutorials use it).
    #[default]
    ClientSecretPost,
    /// HTTP Basic with form-urlencoded client_id and client_secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
}

impl TokenEndpointAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }
}

/// CIBA settings of a client, stored now and used by the CIBA issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CibaAuthorization {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_uri: Option<String>,
}

/// What a client may do on the backend authentication and user APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "users:write")]
    UsersWrite,
    #[serde(rename = "auth")]
    Auth,
    #[serde(rename = "auth:direct")]
    AuthDirect,
    #[serde(rename = "sessions")]
    Sessions,
}

/// The admin-editable settings of a client. This is the document an admin `PUT` merges into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    #[serde(default = "default_access_token_ttl")]
    pub access_token_ttl: u32,
    #[serde(default = "default_access_token_ttl")]
    pub id_token_ttl: u32,
    #[serde(default = "default_refresh_token_ttl")]
    pub refresh_token_ttl: u32,
    #[serde(default = "default_refresh_token_ttl")]
    pub max_refresh_rotate: u32,
    #[serde(default = "default_refresh_token_ttl")]
    pub session_expiration: u32,
    #[serde(default = "default_access_alg")]
    pub access_token_signed_response_alg: Algorithm,
    #[serde(default = "default_id_alg")]
    pub id_token_signed_response_alg: Algorithm,
    /// Scopes the client may request. A requested scope outside this list is `invalid_scope`.
    #[serde(default = "default_allowed_scopes")]
    pub allowed_scopes: Vec<String>,
    /// Scopes used for user authentication when the request names none.
    #[serde(default = "default_scopes")]
    pub default_scopes: Vec<String>,
    /// Resource indicators (RFC 8707) the client may request as audiences.
    #[serde(default)]
    pub allowed_resources: Vec<String>,
    #[serde(default)]
    pub ciba_authorization: CibaAuthorization,
    #[serde(default = "default_delivery_mode")]
    pub backchannel_token_delivery_mode: String,
    #[serde(default = "default_permissions")]
    pub permissions: Vec<Permission>,
}

fn default_true() -> bool {
    true
}
fn default_access_token_ttl() -> u32 {
    3600
}
fn default_refresh_token_ttl() -> u32 {
    14 * 24 * 3600
}
fn default_access_alg() -> Algorithm {
    Algorithm::ES256
}
fn default_id_alg() -> Algorithm {
    Algorithm::RS256
}
fn default_allowed_scopes() -> Vec<String> {
    ["openid", "profile", "email", "phone", "offline_access"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_scopes() -> Vec<String> {
    ["openid", "email", "phone", "profile"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_delivery_mode() -> String {
    "poll".to_string()
}
/// New clients get every permission except `auth:direct`, which hands OTP codes to the caller.
pub fn default_permissions() -> Vec<Permission> {
    vec![
        Permission::UsersRead,
        Permission::UsersWrite,
        Permission::Auth,
        Permission::Sessions,
    ]
}

impl ClientSettings {
    /// Settings with every default and the given name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            enabled: true,
            redirect_uris: Vec::new(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::default(),
            access_token_ttl: default_access_token_ttl(),
            id_token_ttl: default_access_token_ttl(),
            refresh_token_ttl: default_refresh_token_ttl(),
            max_refresh_rotate: default_refresh_token_ttl(),
            session_expiration: default_refresh_token_ttl(),
            access_token_signed_response_alg: default_access_alg(),
            id_token_signed_response_alg: default_id_alg(),
            allowed_scopes: default_allowed_scopes(),
            default_scopes: default_scopes(),
            allowed_resources: Vec::new(),
            ciba_authorization: CibaAuthorization::default(),
            backchannel_token_delivery_mode: default_delivery_mode(),
            permissions: default_permissions(),
        }
    }
}

/// A client of an application, with its hashed secret(s).
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub client_id: String,
    pub app_id: String,
    /// HMAC-SHA-256 of the secret under a key derived from the KEK.
    pub secret_hash: Vec<u8>,
    /// The previous secret's hash, valid until `previous_secret_expires_at` after a rotation.
    pub previous_secret_hash: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<i64>,
    pub settings: ClientSettings,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A signing key as stored: public JWK in the clear, private key sealed with the KEK.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub public_jwk: Jwk,
    pub sealed_private_key: Vec<u8>,
    pub created_at: i64,
    /// Not used for signing before this instant (seconds), so caches see the key first.
    pub activate_at: i64,
    /// Removed from the JWKS after this instant (seconds); set when a newer key replaces it.
    pub retire_at: Option<i64>,
}

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

/// What the first start of a database creates, in one transaction.
#[derive(Debug, Clone)]
pub struct BootstrapPlan {
    pub signing_keys: Vec<StoredSigningKey>,
    pub management_app: Application,
    pub admin_client: Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// This call created the tenant.
    Created,
    /// The tenant already existed; nothing was written.
    AlreadyBootstrapped,
}

/// One stored version of a journey definition (the source text as uploaded).
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyRecord {
    pub journey_id: String,
    /// 1 for the first PUT, then +1 per PUT.
    pub version: i64,
    /// `"yaml"` or `"json"`.
    pub format: String,
    pub source: String,
    pub created_at: i64,
}

/// An external connection: its definition as JSON text, secret fields sealed with the KEK
/// by the caller before storing.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    pub name: String,
    pub definition: String,
    pub updated_at: i64,
}

/// The trace of one journey run (JSON without variable values or secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    pub trace_id: String,
    pub journey_id: String,
    pub created_at_ms: i64,
    pub trace: String,
}

/// Whether a user may authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[default]
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

/// A user's name parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UserName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// An Argon2id hash in PHC string form. Prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// A user of the tenant. Serialized (without the password hash) this is both the stored
/// document and the public JSON; `users.rs` keeps the addresses normalised and valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    /// NFC, case preserved; unique case-insensitively ([`User::username_norm`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Trimmed, case preserved; unique case-insensitively ([`User::email_norm`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    /// E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<UserName>,
    #[serde(default)]
    pub custom_data: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub status: UserStatus,
    /// Never serialized: the store keeps it in its own column.
    #[serde(skip)]
    pub password_hash: Option<PasswordHash>,
    /// The password must be replaced at the next password login (`credentials.force_replace`).
    /// Stored in the document; `users::user_json` leaves it out of the public JSON.
    #[serde(default)]
    pub password_force_replace: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// The unique key of the email: trimmed (already) and lowercased.
    pub fn email_norm(&self) -> Option<String> {
        self.email.as_deref().map(crate::users::email_norm)
    }

    /// The unique key of the username: NFC of its lowercase form.
    pub fn username_norm(&self) -> Option<String> {
        self.username.as_deref().map(crate::users::username_norm)
    }
}

/// How to find one user by a unique address (values already normalised; see `users.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    EmailNorm(String),
    /// E.164.
    Phone(String),
    UsernameNorm(String),
}

/// A page of users, optionally filtered by exact (normalised) email or phone number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserFilter {
    pub email_norm: Option<String>,
    pub phone_number: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One page of [`UserFilter`] results and how many users match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    pub users: Vec<User>,
    pub total: u64,
}

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
}

/// The failure counter of one (user, method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailures {
    pub count: i64,
    pub window_started_at: i64,
    pub locked_until: Option<i64>,
}

/// How [`crate::Store::record_auth_failure`] counts: failures older than the window are
/// forgotten, and reaching `max_failures` locks for `lockout_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    pub now_s: i64,
    pub window_s: i64,
    pub max_failures: i64,
    pub lockout_s: i64,
}
