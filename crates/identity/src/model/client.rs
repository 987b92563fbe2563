//! Applications and clients: the stored records and the admin-editable client settings.
//!
//! Client settings are kept as a JSON document so an admin `PUT` can apply a JSON Merge Patch
//! (RFC 7396) to the public representation and re-validate the result, and so new fields need
//! no schema migration.

use serde::{Deserialize, Serialize};
use tessera_jose::Algorithm;

/// An application groups clients; the management application's clients are administrators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub app_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// True only for the management application created at bootstrap.
    pub management: bool,
    /// The client created with the application (the platform's `client_id` of an app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_client_id: Option<String>,
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
    /// A public client (a browser or native app): no secret; it may only use the
    /// authorization code grant with PKCE and refresh its tokens.
    None,
}

impl TokenEndpointAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::None => "none",
        }
    }
}

/// The platform's `client_type`: a confidential web app or a native (public) app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    #[default]
    Web,
    Native,
}

/// An OAuth `response_type` value the client may use at the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    Code,
    IdToken,
    None,
}

/// A `prompt` value the client may send to the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prompt {
    Login,
    Consent,
    None,
}

/// The platform's `pkce` setting: how PKCE relates to the client's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PkceMode {
    EnforcePkceInsteadOfClientCredentials,
    EnforcePkceAlongsideClientCredentials,
    AllowPkceAlongsideClientCredentials,
}

/// CIBA settings of a client (`ciba.rs`).
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
    /// The one method the client must use, when pinned. Unpinned (absent, the default)
    /// accepts both `client_secret_basic` and `client_secret_post`: the hosted platform
    /// registers `client_secret_basic` by default while its tutorials post the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
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
    /// CIBA: `poll` (default) or `ping`.
    #[serde(default = "default_delivery_mode")]
    pub backchannel_token_delivery_mode: String,
    /// CIBA ping mode: where Tessera POSTs `{"auth_req_id"}` when the user decided. `https`;
    /// `http` only to an address inside `outbound.allow_cidrs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    #[serde(default = "default_permissions")]
    pub permissions: Vec<Permission>,
    /// Browser origins (`scheme://host[:port]`) allowed to call the client-journey endpoints
    /// across origins (CORS); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Claims the client's ID tokens carry without asking (the platform's
    /// `default_custom_claims`): added to every user login's `claims.id_token` request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_custom_claims: Vec<String>,
    /// The client journey the authorization endpoint runs as its hosted login; absent: the
    /// built-in password (or email passcode) login, by the application's login preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_journey_id: Option<String>,
    /// Further login journeys an authorization request may choose with `acr_values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub login_journeys: Vec<String>,
    /// The platform's client fields for the authorization endpoint (not built yet): kept and
    /// returned so its clients can be registered as they are; they take effect with it.
    #[serde(default)]
    pub client_type: ClientType,
    #[serde(default = "default_response_types")]
    pub response_types: Vec<ResponseType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_prompts: Vec<Prompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<PkceMode>,
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
fn default_response_types() -> Vec<ResponseType> {
    vec![ResponseType::Code, ResponseType::IdToken]
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
            token_endpoint_auth_method: None,
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
            backchannel_client_notification_endpoint: None,
            permissions: default_permissions(),
            allowed_origins: Vec::new(),
            default_custom_claims: Vec::new(),
            login_journey_id: None,
            login_journeys: Vec::new(),
            client_type: ClientType::default(),
            response_types: default_response_types(),
            supported_prompts: Vec::new(),
            pkce: None,
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

/// A client together with the application it belongs to: what requests are checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    pub client: Client,
    pub app: Application,
}

impl ClientRecord {
    /// Admin rights come from the client's application in the store, never from a claim.
    pub fn is_admin(&self) -> bool {
        self.app.management
    }

    pub fn client_id(&self) -> &str {
        &self.client.client_id
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.client.settings
    }
}

impl Permission {
    /// The permission's name in client settings and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::Auth => "auth",
            Self::AuthDirect => "auth:direct",
            Self::Sessions => "sessions",
        }
    }
}
