//! Users as stored, and the normalised forms of their unique keys.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Whether a user may authenticate: only `Active` users may; `Pending` is the hosted
/// platform's state of a user who may not sign in yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[default]
    Active,
    Disabled,
    Pending,
}

impl UserStatus {
    /// The stored form (the `status` column and the stored document).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Pending => "pending",
        }
    }

    /// The public form, as the hosted platform spells it.
    pub fn public_name(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Disabled => "Disabled",
            Self::Pending => "Pending",
        }
    }
}

/// A user's name parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UserName {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// A postal address (the hosted platform's `address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UserAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// `Home`, `Work` or `Other`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Who may act on behalf of a dependent user (the platform's `delegated_access`); stored and
/// returned, not enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedAccess {
    pub actor_id: String,
    pub permissions: Vec<String>,
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
    /// When the email was last verified (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified_at: Option<i64>,
    /// E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    /// When the phone number was last verified (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_verified_at: Option<i64>,
    /// More addresses of the user: kept and returned, never identifiers (not unique, no
    /// login with them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_emails: Vec<String>,
    /// E.164, like `phone_number`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_phone_numbers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<UserName>,
    #[serde(default)]
    pub custom_data: serde_json::Map<String, serde_json::Value>,
    /// `YYYY-MM-DD` (or a full RFC 3339 date-time, as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<UserAddress>,
    /// A URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// A language tag (as in `Accept-Language`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The platform keeps these two per application; Tessera keeps one value per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub custom_app_data: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_access: Option<DelegatedAccess>,
    #[serde(default)]
    pub status: UserStatus,
    /// When `status` last changed (epoch ms); absent while it never did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_changed_at: Option<i64>,
    /// Never serialized: the store keeps it in its own column.
    #[serde(skip)]
    pub password_hash: Option<PasswordHash>,
    /// The password must be replaced at the next password login (`credentials.force_replace`).
    /// Stored in the document; `users::user_json` leaves it out of the public JSON.
    #[serde(default)]
    pub password_force_replace: bool,
    /// When the password was last set (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_updated_at: Option<i64>,
    /// Epoch seconds (the public JSON shows milliseconds).
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// A user with only an id and its creation time (epoch seconds); every other field empty.
    pub fn new(user_id: String, created_at: i64) -> Self {
        Self {
            user_id,
            username: None,
            email: None,
            email_verified: false,
            email_verified_at: None,
            phone_number: None,
            phone_number_verified: false,
            phone_number_verified_at: None,
            secondary_emails: Vec::new(),
            secondary_phone_numbers: Vec::new(),
            external_user_id: None,
            name: None,
            custom_data: serde_json::Map::new(),
            birthday: None,
            address: None,
            picture: None,
            language: None,
            external_account_id: None,
            custom_app_data: serde_json::Map::new(),
            delegated_access: None,
            status: UserStatus::Active,
            status_changed_at: None,
            password_hash: None,
            password_force_replace: false,
            password_updated_at: None,
            created_at,
            updated_at: created_at,
        }
    }

    /// The unique key of the email: trimmed (already) and lowercased.
    pub fn email_norm(&self) -> Option<String> {
        self.email.as_deref().map(email_norm)
    }

    /// The unique key of the username: NFC of its lowercase form.
    pub fn username_norm(&self) -> Option<String> {
        self.username.as_deref().map(username_norm)
    }
}

/// How to find one user by a unique address (values already normalised; see `users.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    EmailNorm(String),
    /// E.164.
    Phone(String),
    UsernameNorm(String),
    /// The platform's tenant-level identifier, compared exactly.
    ExternalUserId(String),
}

/// A field a user search can name (values already normalised, as the column holds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    UserId,
    EmailNorm,
    /// E.164.
    Phone,
    UsernameNorm,
    ExternalUserId,
    ExternalAccountId,
}

/// How a condition compares a field with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserMatch {
    Equals,
    /// The field starts with the value.
    StartsWith,
}

/// One condition of a user search: `field` compared with `value` by `how`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCondition {
    pub field: UserField,
    pub how: UserMatch,
    pub value: String,
}

/// The order of a user search; every order ends with `user_id` so pages are deterministic.
/// Users without the sorted field come last in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    #[default]
    CreatedAt,
    Email,
    PhoneNumber,
}

/// A page of users matching every condition (and, when `prefix` is set, whose normalised
/// email or phone number starts with it), in the given order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserFilter {
    pub conditions: Vec<UserCondition>,
    /// `search_prefix`: matched against `email_norm` and `phone_number`.
    pub prefix: Option<String>,
    pub sort: UserSort,
    pub descending: bool,
    pub limit: u32,
    pub offset: u32,
}

/// One page of [`UserFilter`] results and how many users match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    pub users: Vec<User>,
    pub total: u64,
}

/// The unique key of an email: trimmed and lowercased.
pub fn email_norm(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The unique key of a username: NFC of the lowercase of its NFC form, trimmed.
pub fn username_norm(username: &str) -> String {
    let nfc: String = username.trim().nfc().collect();
    nfc.to_lowercase().nfc().collect()
}
