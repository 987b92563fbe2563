//! Users: validation and normalisation of their fields, the public JSON shape, the operations
//! behind `/cis/v1/users`, client permissions for them, and password verification for the
//! authentication APIs.
//!
//! Rules (SPEC §5): the email is trimmed and unique case-insensitively; the phone number is
//! normalised to E.164 (`+`, then 8–15 digits, the first 1–9, after removing spaces, dashes,
//! dots and parentheses) and unique; the username is NFC, unique case-insensitively, has no `@`
//! and does not start with `+`. Changing an address resets its `*_verified` flag unless the
//! same request sets it. Error messages name fields, never echo values.

use serde_json::{json, Map, Value};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::clients::{merge_patch, new_id};
use crate::error::{Error, Rejection, StoreError};
use crate::model::{Permission, User, UserFilter, UserLookup, UserName, UserPage, UserStatus};
use crate::service::Identity;
use crate::tokens::AccessContext;

const MAX_EMAIL_BYTES: usize = 254;
const MAX_USERNAME_CHARS: usize = 128;
const MAX_TEXT_CHARS: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_CUSTOM_DATA_BYTES: usize = 16 * 1024;
/// Default and largest page size of a user search.
pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;

/// Fields of the public representation that a PATCH may not change.
const READ_ONLY_FIELDS: [&str; 3] = ["user_id", "created_at", "updated_at"];

fn bad(code: &'static str, message: impl Into<String>) -> Error {
    Error::rejected(Rejection::BadRequest, code, message)
}

fn invalid(message: impl Into<String>) -> Error {
    bad("invalid_request", message)
}

fn user_not_found() -> Error {
    Error::rejected(Rejection::NotFound, "user_not_found", "user not found")
}

/// A store error of a user write, in the API's terms.
fn user_store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => user_not_found(),
        StoreError::Conflict(field) => Error::rejected(
            Rejection::Conflict,
            "user_already_exists",
            format!("a user with this {field} already exists"),
        ),
        other => Error::from(other),
    }
}

/// Whether `key` could name a stored user at all. Keys with control characters (PostgreSQL
/// refuses NUL in text) or absurd lengths are answered as "not found" without a query.
fn plausible_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 1024 && !key.chars().any(char::is_control)
}

/// A field name for a message: short and printable, whatever the caller sent.
fn field_label(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    clean
}

pub use crate::model::{email_norm, username_norm};

/// A valid email, trimmed (case kept).
pub fn normalize_email(input: &str) -> Result<String, Error> {
    let email = input.trim();
    let invalid = |why: &str| bad("invalid_email", format!("`email` {why}"));
    if email.is_empty() {
        return Err(invalid("is empty"));
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(invalid("is longer than 254 bytes"));
    }
    if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("contains whitespace or control characters"));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(email.to_string())
        }
        _ => Err(invalid("is not an email address")),
    }
}

/// A phone number in E.164: `+` then 8–15 digits, the first 1–9, after removing spaces,
/// dashes, dots and parentheses.
pub fn normalize_phone(input: &str) -> Result<String, Error> {
    let invalid = || {
        bad(
            "invalid_phone_number",
            "`phone_number` must be an E.164 number: + and 8 to 15 digits",
        )
    };
    if input.len() > 64 {
        return Err(invalid());
    }
    let stripped: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = stripped.strip_prefix('+').ok_or_else(invalid)?;
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(stripped)
    } else {
        Err(invalid())
    }
}

/// A valid username in NFC, trimmed (case kept).
pub fn normalize_username(input: &str) -> Result<String, Error> {
    let username: String = input.trim().nfc().collect();
    let invalid = |why: &str| bad("invalid_username", format!("`username` {why}"));
    if username.is_empty() {
        return Err(invalid("is empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid("is longer than 128 characters"));
    }
    if username.chars().any(char::is_control) {
        return Err(invalid("contains control characters"));
    }
    if username.contains('@') {
        return Err(invalid("may not contain @"));
    }
    if username.starts_with('+') {
        return Err(invalid("may not start with +"));
    }
    Ok(username)
}

/// The public JSON of a user: never the password hash.
pub fn user_json(user: &User) -> Value {
    let mut v = serde_json::to_value(user).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.remove("password_force_replace");
    }
    v
}

fn text(value: &Value, field: &str, max_chars: usize) -> Result<String, Error> {
    let s = value
        .as_str()
        .ok_or_else(|| invalid(format!("`{field}` must be a string")))?;
    if s.chars().count() > max_chars {
        return Err(invalid(format!(
            "`{field}` is longer than {max_chars} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(format!("`{field}` contains control characters")));
    }
    Ok(s.to_string())
}

fn boolean(value: &Value, field: &str) -> Result<bool, Error> {
    value
        .as_bool()
        .ok_or_else(|| invalid(format!("`{field}` must be true or false")))
}

/// The public, editable fields of a user as given in a request (a `null` counts as absent).
#[derive(Debug, Default)]
struct UserFields {
    username: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    phone_number: Option<String>,
    phone_number_verified: Option<bool>,
    external_user_id: Option<String>,
    name: Option<UserName>,
    custom_data: Option<Map<String, Value>>,
    status: Option<UserStatus>,
}

/// A password given with a create or patch request.
struct PasswordInput {
    password: Zeroizing<String>,
    force_replace: bool,
}

fn parse_fields(obj: &Map<String, Value>) -> Result<UserFields, Error> {
    let mut f = UserFields::default();
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "username" => {
                let s = value
                    .as_str()
                    .ok_or_else(|| bad("invalid_username", "`username` must be a string"))?;
                f.username = Some(normalize_username(s)?);
            }
            "email" => {
                let s = value
                    .as_str()
                    .ok_or_else(|| bad("invalid_email", "`email` must be a string"))?;
                f.email = Some(normalize_email(s)?);
            }
            "phone_number" => {
                let s = value.as_str().ok_or_else(|| {
                    bad("invalid_phone_number", "`phone_number` must be a string")
                })?;
                f.phone_number = Some(normalize_phone(s)?);
            }
            "email_verified" => f.email_verified = Some(boolean(value, key)?),
            "phone_number_verified" => f.phone_number_verified = Some(boolean(value, key)?),
            "external_user_id" => {
                f.external_user_id = Some(text(value, key, MAX_TEXT_CHARS)?);
            }
            "name" => {
                let Value::Object(parts) = value else {
                    return Err(invalid("`name` must be an object"));
                };
                let mut name = UserName::default();
                for (part, v) in parts {
                    if v.is_null() {
                        continue;
                    }
                    match part.as_str() {
                        "first_name" => {
                            name.first_name = Some(text(v, "name.first_name", MAX_TEXT_CHARS)?)
                        }
                        "last_name" => {
                            name.last_name = Some(text(v, "name.last_name", MAX_TEXT_CHARS)?)
                        }
                        other => {
                            return Err(invalid(format!(
                                "unknown field `name.{}`",
                                field_label(other)
                            )))
                        }
                    }
                }
                if name != UserName::default() {
                    f.name = Some(name);
                }
            }
            "custom_data" => {
                let Value::Object(data) = value else {
                    return Err(invalid("`custom_data` must be a JSON object"));
                };
                let size = serde_json::to_vec(data).map_or(usize::MAX, |v| v.len());
                if size > MAX_CUSTOM_DATA_BYTES {
                    return Err(invalid("`custom_data` is larger than 16384 bytes"));
                }
                f.custom_data = Some(data.clone());
            }
            "status" => {
                f.status = Some(match value.as_str() {
                    Some("active") => UserStatus::Active,
                    Some("disabled") => UserStatus::Disabled,
                    _ => return Err(invalid("`status` must be \"active\" or \"disabled\"")),
                });
            }
            other => {
                return Err(invalid(format!("unknown field `{}`", field_label(other))));
            }
        }
    }
    Ok(f)
}

/// Removes `password` and `credentials` from `obj` and validates them.
fn take_password(
    obj: &mut Map<String, Value>,
    min_length: usize,
) -> Result<Option<PasswordInput>, Error> {
    let plain = obj.remove("password").filter(|v| !v.is_null());
    let credentials = obj.remove("credentials").filter(|v| !v.is_null());
    let (value, force_replace) = match (plain, credentials) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give the password either as `password` or as `credentials.password`",
            ))
        }
        (None, None) => return Ok(None),
        (Some(p), None) => (p, false),
        (None, Some(Value::Object(c))) => {
            let mut password = None;
            let mut force_replace = false;
            for (k, v) in c {
                match k.as_str() {
                    "password" => password = Some(v),
                    "force_replace" if !v.is_null() => {
                        force_replace = boolean(&v, "credentials.force_replace")?
                    }
                    "force_replace" => {}
                    other => {
                        return Err(invalid(format!(
                            "unknown field `credentials.{}`",
                            field_label(other)
                        )))
                    }
                }
            }
            let Some(password) = password.filter(|v| !v.is_null()) else {
                return Err(invalid("`credentials.password` is required"));
            };
            (password, force_replace)
        }
        (None, Some(_)) => return Err(invalid("`credentials` must be an object")),
    };
    let Value::String(password) = value else {
        return Err(bad("invalid_password", "the password must be a string"));
    };
    let password = Zeroizing::new(password);
    if password.chars().count() < min_length {
        return Err(bad(
            "invalid_password",
            format!("the password must have at least {min_length} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(bad(
            "invalid_password",
            "the password is longer than 1024 bytes",
        ));
    }
    Ok(Some(PasswordInput {
        password,
        force_replace,
    }))
}

fn require_identifier(user: &User) -> Result<(), Error> {
    if user.email.is_none() && user.phone_number.is_none() && user.username.is_none() {
        return Err(invalid(
            "a user needs at least one of `email`, `phone_number` or `username`",
        ));
    }
    Ok(())
}

/// Checks that the caller may use the user APIs with `permission`: user tokens never may,
/// whatever application issued them; admin clients always may; other clients need the
/// permission in their settings.
pub fn require_permission(ctx: &AccessContext, permission: Permission) -> Result<(), Error> {
    // The token kind comes first: a user token issued through a management-application
    // client belongs to that client's application, and must not inherit its admin rights.
    if !ctx.is_client_token() {
        return Err(Error::Forbidden("this API needs a client access token"));
    }
    if ctx.is_admin() {
        return Ok(());
    }
    if ctx.client.client.settings.permissions.contains(&permission) {
        Ok(())
    } else {
        let name = match permission {
            Permission::UsersRead => "users:read",
            Permission::UsersWrite => "users:write",
            Permission::Auth => "auth",
            Permission::AuthDirect => "auth:direct",
            Permission::Sessions => "sessions",
        };
        Err(Error::rejected(
            Rejection::Forbidden,
            "insufficient_permissions",
            format!("the client lacks the `{name}` permission"),
        ))
    }
}

/// The search parameters of `GET /cis/v1/users`.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

impl Identity {
    /// The shortest new password the login preferences accept (`password.min_length`).
    fn password_min_length(&self) -> usize {
        usize::try_from(self.login_preferences().password.min_length).unwrap_or(usize::MAX)
    }

    /// Creates a user from a request body (`credentials: {password, force_replace}` or
    /// `password` sets a password).
    pub async fn create_user(&self, body: Value) -> Result<User, Error> {
        let Value::Object(mut obj) = body else {
            return Err(invalid("the body must be a JSON object"));
        };
        let password = take_password(&mut obj, self.password_min_length())?;
        let f = parse_fields(&obj)?;
        let now = self.clock.now_s();
        let mut user = User {
            user_id: new_id()?,
            username: f.username,
            email_verified: f.email.is_some() && f.email_verified.unwrap_or(false),
            email: f.email,
            phone_number_verified: f.phone_number.is_some()
                && f.phone_number_verified.unwrap_or(false),
            phone_number: f.phone_number,
            external_user_id: f.external_user_id,
            name: f.name,
            custom_data: f.custom_data.unwrap_or_default(),
            status: f.status.unwrap_or_default(),
            password_hash: None,
            password_force_replace: false,
            created_at: now,
            updated_at: now,
        };
        require_identifier(&user)?;
        if let Some(p) = password {
            user.password_hash = Some(self.passwords.hash(p.password).await?);
            user.password_force_replace = p.force_replace;
        }
        self.store
            .create_user(&user)
            .await
            .map_err(user_store_error)?;
        Ok(user)
    }

    pub async fn get_user(&self, user_id: &str) -> Result<User, Error> {
        if !plausible_key(user_id) {
            return Err(user_not_found());
        }
        self.store
            .get_user(user_id)
            .await?
            .ok_or_else(user_not_found)
    }

    /// The user with this username (compared case-insensitively after NFC).
    pub async fn get_user_by_username(&self, username: &str) -> Result<User, Error> {
        if !plausible_key(username) {
            return Err(user_not_found());
        }
        self.find_user(&UserLookup::UsernameNorm(username_norm(username)))
            .await?
            .ok_or_else(user_not_found)
    }

    /// The user with this (normalised) address, if any.
    pub async fn find_user(&self, lookup: &UserLookup) -> Result<Option<User>, Error> {
        let key = match lookup {
            UserLookup::EmailNorm(k) | UserLookup::Phone(k) | UserLookup::UsernameNorm(k) => k,
        };
        if !plausible_key(key) {
            return Ok(None);
        }
        Ok(self.store.get_user_by(lookup).await?)
    }

    /// Users matching the given email (case-insensitive) and phone number (any format that
    /// normalises to the same E.164), a page at a time.
    pub async fn search_users(&self, search: UserSearch) -> Result<UserPage, Error> {
        let limit = search.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid(format!("`limit` must be between 1 and {MAX_PAGE}")));
        }
        if search
            .email
            .as_deref()
            .is_some_and(|e| e.len() > 1024 || e.chars().any(char::is_control))
        {
            return Err(bad(
                "invalid_email",
                "`email` contains control characters or is too long",
            ));
        }
        let phone_number = match search.phone_number.as_deref() {
            Some(p) => Some(normalize_phone(p)?),
            None => None,
        };
        let filter = UserFilter {
            email_norm: search.email.as_deref().map(email_norm),
            phone_number,
            limit,
            offset: search.offset.unwrap_or(0),
        };
        Ok(self.store.list_users(&filter).await?)
    }

    /// Applies `patch` to the user's public representation as a JSON Merge Patch; `password`
    /// or `credentials` set a new password.
    pub async fn patch_user(&self, user_id: &str, patch: Value) -> Result<User, Error> {
        let Value::Object(mut patch_obj) = patch else {
            return Err(invalid("the body must be a JSON object"));
        };
        let old = self.get_user(user_id).await?;
        let password = take_password(&mut patch_obj, self.password_min_length())?;
        let mut current = user_json(&old);
        for field in READ_ONLY_FIELDS {
            if let Some(v) = patch_obj.get(field) {
                if current.get(field) != Some(v) {
                    return Err(invalid(format!("`{field}` cannot be changed")));
                }
            }
        }
        let sets_email_verified = patch_obj.contains_key("email_verified");
        let sets_phone_verified = patch_obj.contains_key("phone_number_verified");
        merge_patch(&mut current, &Value::Object(patch_obj));
        let Value::Object(mut merged) = current else {
            return Err(Error::Internal(
                "user representation is not an object".into(),
            ));
        };
        for field in READ_ONLY_FIELDS {
            merged.remove(field);
        }
        let f = parse_fields(&merged)?;
        let mut user = User {
            user_id: old.user_id.clone(),
            username: f.username,
            email: f.email,
            email_verified: f.email_verified.unwrap_or(false),
            phone_number: f.phone_number,
            phone_number_verified: f.phone_number_verified.unwrap_or(false),
            external_user_id: f.external_user_id,
            name: f.name,
            custom_data: f.custom_data.unwrap_or_default(),
            status: f.status.unwrap_or_default(),
            password_hash: old.password_hash.clone(),
            password_force_replace: old.password_force_replace,
            created_at: old.created_at,
            updated_at: self.clock.now_s(),
        };
        // A changed address is unverified unless this request says otherwise.
        if user.email_norm() != old.email_norm() && !sets_email_verified {
            user.email_verified = false;
        }
        if user.email.is_none() {
            user.email_verified = false;
        }
        if user.phone_number != old.phone_number && !sets_phone_verified {
            user.phone_number_verified = false;
        }
        if user.phone_number.is_none() {
            user.phone_number_verified = false;
        }
        require_identifier(&user)?;
        if let Some(p) = password {
            user.password_hash = Some(self.passwords.hash(p.password).await?);
            user.password_force_replace = p.force_replace;
        }
        self.store
            .update_user(&user)
            .await
            .map_err(user_store_error)?;
        self.live.remove_user(&user.user_id);
        Ok(user)
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<(), Error> {
        if !plausible_key(user_id) {
            return Err(user_not_found());
        }
        self.store
            .delete_user(user_id)
            .await
            .map_err(user_store_error)?;
        self.live.remove_user(user_id);
        Ok(())
    }

    /// Checks a password for the authentication APIs. Unknown users (`None`) and users
    /// without a password cost the same Argon2id time and return false.
    pub async fn verify_password(
        &self,
        user: Option<&User>,
        password: &str,
    ) -> Result<bool, Error> {
        let hash = user.and_then(|u| u.password_hash.as_ref());
        self.passwords
            .verify(hash, Zeroizing::new(password.to_string()))
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn phones_normalise_to_e164() {
        assert_eq!(
            normalize_phone("+1 (415) 555-0100").unwrap(),
            "+14155550100"
        );
        assert_eq!(
            normalize_phone("+44.20.7946.0958").unwrap(),
            "+442079460958"
        );
        for bad in [
            "14155550100",
            "+0123456789",
            "+1234567",
            "+1234567890123456",
            "+1a34567890",
            "",
            "+",
        ] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_compare_after_nfc_and_lowercase() {
        // "é" precomposed and decomposed, in two cases.
        assert_eq!(username_norm("Ren\u{e9}"), username_norm("RENE\u{301}"));
        assert_eq!(
            normalize_username(" Ren\u{65}\u{301} ").unwrap(),
            "Ren\u{e9}"
        );
        assert!(normalize_username("a@b").is_err());
        assert!(normalize_username("+123").is_err());
        assert!(normalize_username("a\u{0}b").is_err());
    }

    #[test]
    fn emails_are_trimmed_and_compared_in_lowercase() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").unwrap(),
            "Ann@Example.COM"
        );
        assert_eq!(email_norm(" Ann@Example.COM"), "ann@example.com");
        for bad in ["", "ann", "@example.com", "ann@", "a b@c.d", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
