//! Users as stored, and the normalised forms of their unique keys.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

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

/// The unique key of an email: trimmed and lowercased.
pub fn email_norm(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The unique key of a username: NFC of the lowercase of its NFC form, trimmed.
pub fn username_norm(username: &str) -> String {
    let nfc: String = username.trim().nfc().collect();
    nfc.to_lowercase().nfc().collect()
}
