//! Validation and normalisation of user fields (SPEC §5): the email is trimmed and unique
//! case-insensitively; the phone number is normalised to E.164 (`+`, then 8–15 digits, the
//! first 1–9, after removing spaces, dashes, dots and parentheses); the username is NFC,
//! unique case-insensitively and does not start with `+` (it may contain `@`, as the
//! platform's usernames may). Messages name fields, never echo values.

use serde_json::{json, Map, Value};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Code, Error};
use crate::model::{DelegatedAccess, User, UserAddress, UserName, UserStatus};
use crate::util::{field_label, iso_from_ms};

const MAX_EMAIL_BYTES: usize = 254;
const MAX_USERNAME_CHARS: usize = 128;
const MAX_TEXT_CHARS: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_CUSTOM_DATA_BYTES: usize = 16 * 1024;
const MAX_URL_CHARS: usize = 2048;
const MAX_SECONDARY: usize = 20;
fn bad(code: Code, message: impl Into<String>) -> Error {
    Error::new(code, message.into())
}

pub(super) fn invalid(message: impl Into<String>) -> Error {
    bad(Code::InvalidRequest, message)
}

/// A valid email, trimmed (case kept).
pub fn normalize_email(input: &str) -> Result<String, Error> {
    let email = input.trim();
    let invalid = |why: &str| bad(Code::InvalidEmail, format!("`email` {why}"));
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
            Code::InvalidPhoneNumber,
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
    let invalid = |why: &str| bad(Code::InvalidUsername, format!("`username` {why}"));
    if username.is_empty() {
        return Err(invalid("is empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid("is longer than 128 characters"));
    }
    if username.chars().any(char::is_control) {
        return Err(invalid("contains control characters"));
    }
    if username.starts_with('+') {
        return Err(invalid("may not start with +"));
    }
    Ok(username)
}

/// The public JSON of a user, in the hosted platform's shape (its `ApiUser`): `email` and
/// `phone_number` are objects with their verified flag and time, `status` is
/// `Active|Disabled|Pending`, `created_at`/`updated_at` are epoch milliseconds, other times
/// RFC 3339. Never the password hash: `password_information` only says whether the password
/// is temporary and when it was set.
pub fn user_json(user: &User) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("user_id", Value::String(user.user_id.clone()));
    if let Some(u) = &user.username {
        put("username", Value::String(u.clone()));
    }
    if let Some(e) = &user.email {
        put(
            "email",
            address_json(
                e,
                "email_verified",
                user.email_verified,
                user.email_verified_at,
            ),
        );
    }
    if !user.secondary_emails.is_empty() {
        let list = user.secondary_emails.iter();
        put(
            "secondary_emails",
            Value::Array(
                list.map(|e| address_json(e, "email_verified", false, None))
                    .collect(),
            ),
        );
    }
    if let Some(p) = &user.phone_number {
        put(
            "phone_number",
            address_json(
                p,
                "phone_number_verified",
                user.phone_number_verified,
                user.phone_number_verified_at,
            ),
        );
    }
    if !user.secondary_phone_numbers.is_empty() {
        let list = user.secondary_phone_numbers.iter();
        put(
            "secondary_phone_numbers",
            Value::Array(
                list.map(|p| address_json(p, "phone_number_verified", false, None))
                    .collect(),
            ),
        );
    }
    let optional = [
        ("external_user_id", user.external_user_id.clone()),
        ("birthday", user.birthday.clone()),
        ("picture", user.picture.clone()),
        ("language", user.language.clone()),
        ("external_account_id", user.external_account_id.clone()),
    ];
    for (k, v) in optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))) {
        put(k, Value::String(v));
    }
    if let Some(name) = &user.name {
        put("name", serde_json::to_value(name).unwrap_or(Value::Null));
    }
    if let Some(address) = &user.address {
        put(
            "address",
            serde_json::to_value(address).unwrap_or(Value::Null),
        );
    }
    put("custom_data", Value::Object(user.custom_data.clone()));
    if !user.custom_app_data.is_empty() {
        put(
            "custom_app_data",
            Value::Object(user.custom_app_data.clone()),
        );
    }
    if let Some(d) = &user.delegated_access {
        put(
            "delegated_access",
            serde_json::to_value(d).unwrap_or(Value::Null),
        );
    }
    put("status", Value::String(user.status.public_name().into()));
    if let Some(at) = user.status_changed_at {
        put("status_changed_at", Value::String(iso_from_ms(at)));
    }
    if user.password_hash.is_some() {
        put(
            "password_information",
            json!({
                "expired": false,
                "temporary": user.password_force_replace,
                "updated_at": user.password_updated_at.unwrap_or(user.created_at.saturating_mul(1000)),
            }),
        );
    }
    put(
        "created_at",
        Value::from(user.created_at.saturating_mul(1000)),
    );
    put(
        "updated_at",
        Value::from(user.updated_at.saturating_mul(1000)),
    );
    Value::Object(m)
}

/// `{value, <flag>, verified_at}` of an email or phone number.
fn address_json(value: &str, flag: &str, verified: bool, verified_at: Option<i64>) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), Value::String(value.to_string()));
    m.insert(flag.into(), Value::Bool(verified));
    if let (true, Some(at)) = (verified, verified_at) {
        m.insert("verified_at".into(), Value::String(iso_from_ms(at)));
    }
    Value::Object(m)
}

/// The user as request fields (the input shape [`parse_fields`] reads), for updates: the
/// update's fields are applied to this and the result parsed again.
pub(super) fn input_json(user: &User) -> Map<String, Value> {
    let mut v = serde_json::to_value(user).unwrap_or_else(|_| json!({}));
    let Value::Object(m) = &mut v else {
        return Map::new();
    };
    for internal in [
        "user_id",
        "created_at",
        "updated_at",
        "password_force_replace",
        "password_updated_at",
        "email_verified_at",
        "phone_number_verified_at",
        "status_changed_at",
    ] {
        m.remove(internal);
    }
    std::mem::take(m)
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
pub(super) struct UserFields {
    pub(super) username: Option<String>,
    pub(super) email: Option<String>,
    pub(super) email_verified: Option<bool>,
    pub(super) phone_number: Option<String>,
    pub(super) phone_number_verified: Option<bool>,
    pub(super) external_user_id: Option<String>,
    pub(super) name: Option<UserName>,
    pub(super) custom_data: Option<Map<String, Value>>,
    pub(super) status: Option<UserStatus>,
    pub(super) secondary_emails: Vec<String>,
    pub(super) secondary_phone_numbers: Vec<String>,
    pub(super) birthday: Option<String>,
    pub(super) address: Option<UserAddress>,
    pub(super) picture: Option<String>,
    pub(super) language: Option<String>,
    pub(super) external_account_id: Option<String>,
    pub(super) custom_app_data: Option<Map<String, Value>>,
    pub(super) delegated_access: Option<DelegatedAccess>,
}

/// Sets every editable field of `user` from `f` (absent fields become empty); the verified
/// flags and their times are the caller's to set.
pub(super) fn apply_fields(user: &mut User, f: UserFields) {
    user.username = f.username;
    user.email = f.email;
    user.phone_number = f.phone_number;
    user.secondary_emails = f.secondary_emails;
    user.secondary_phone_numbers = f.secondary_phone_numbers;
    user.external_user_id = f.external_user_id;
    user.name = f.name;
    user.custom_data = f.custom_data.unwrap_or_default();
    user.birthday = f.birthday;
    user.address = f.address;
    user.picture = f.picture;
    user.language = f.language;
    user.external_account_id = f.external_account_id;
    user.custom_app_data = f.custom_app_data.unwrap_or_default();
    user.delegated_access = f.delegated_access;
    user.status = f.status.unwrap_or_default();
}

/// A password given with a create or patch request.
pub(super) struct PasswordInput {
    pub(super) password: Zeroizing<String>,
    pub(super) force_replace: bool,
}

pub(super) fn parse_fields(obj: &Map<String, Value>) -> Result<UserFields, Error> {
    let mut f = UserFields::default();
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "username" => {
                let s = value
                    .as_str()
                    .ok_or_else(|| bad(Code::InvalidUsername, "`username` must be a string"))?;
                f.username = Some(normalize_username(s)?);
            }
            "email" => {
                let (s, verified) = address_input(value, key, "email_verified")
                    .ok_or_else(|| bad(Code::InvalidEmail, EMAIL_SHAPE))??;
                f.email = Some(normalize_email(s)?);
                if verified.is_some() {
                    f.email_verified = verified;
                }
            }
            "phone_number" => {
                let (s, verified) = address_input(value, key, "phone_number_verified")
                    .ok_or_else(|| bad(Code::InvalidPhoneNumber, PHONE_SHAPE))??;
                f.phone_number = Some(normalize_phone(s)?);
                if verified.is_some() {
                    f.phone_number_verified = verified;
                }
            }
            "secondary_emails" => {
                f.secondary_emails = list(value, key, |v| {
                    let (s, _) = address_input(v, "secondary_emails", "email_verified")
                        .ok_or_else(|| invalid("`secondary_emails` must hold strings"))??;
                    normalize_email(s)
                })?;
            }
            "secondary_phone_numbers" => {
                f.secondary_phone_numbers = list(value, key, |v| {
                    let (s, _) =
                        address_input(v, "secondary_phone_numbers", "phone_number_verified")
                            .ok_or_else(|| {
                                invalid("`secondary_phone_numbers` must hold strings")
                            })??;
                    normalize_phone(s)
                })?;
            }
            "birthday" => f.birthday = Some(birthday(value)?),
            "address" => f.address = Some(address(value)?),
            "picture" => f.picture = Some(text(value, key, MAX_URL_CHARS)?),
            "language" => f.language = Some(text(value, key, 64)?),
            "external_account_id" => {
                f.external_account_id = Some(text(value, key, MAX_TEXT_CHARS)?);
            }
            "custom_app_data" => f.custom_app_data = Some(custom_object(value, key)?),
            "delegated_access" => f.delegated_access = Some(delegated_access(value)?),
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
                        "title" => name.title = Some(text(v, "name.title", MAX_TEXT_CHARS)?),
                        "first_name" => {
                            name.first_name = Some(text(v, "name.first_name", MAX_TEXT_CHARS)?)
                        }
                        "middle_name" => {
                            name.middle_name = Some(text(v, "name.middle_name", MAX_TEXT_CHARS)?)
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
            "custom_data" => f.custom_data = Some(custom_object(value, key)?),
            "status" => {
                // The platform's spelling; the stored lowercase one is accepted too.
                f.status = Some(match value.as_str() {
                    Some("Active" | "active") => UserStatus::Active,
                    Some("Disabled" | "disabled") => UserStatus::Disabled,
                    Some("Pending" | "pending") => UserStatus::Pending,
                    _ => {
                        return Err(invalid(
                            "`status` must be \"Active\", \"Disabled\" or \"Pending\"",
                        ))
                    }
                });
            }
            other => {
                return Err(invalid(format!("unknown field `{}`", field_label(other))));
            }
        }
    }
    Ok(f)
}

const EMAIL_SHAPE: &str = "`email` must be a string or an object with a string `value`";
const PHONE_SHAPE: &str = "`phone_number` must be a string or an object with a string `value`";

/// An address given as a string, or as the object the API answers with (`{value, <flag>}`,
/// so a user read can be sent back): the address and the flag if given. `None` when the
/// shape is wrong.
fn address_input<'a>(
    value: &'a Value,
    field: &str,
    flag: &str,
) -> Option<Result<(&'a str, Option<bool>), Error>> {
    match value {
        Value::String(s) => Some(Ok((s, None))),
        Value::Object(m) => {
            let s = m.get("value")?.as_str()?;
            for k in m.keys() {
                if k != "value" && k != flag && k != "verified_at" {
                    return Some(Err(invalid(format!(
                        "unknown field `{field}.{}`",
                        field_label(k)
                    ))));
                }
            }
            let verified = match m.get(flag) {
                None | Some(Value::Null) => None,
                Some(v) => match boolean(v, flag) {
                    Ok(b) => Some(b),
                    Err(e) => return Some(Err(e)),
                },
            };
            Some(Ok((s, verified)))
        }
        _ => None,
    }
}

/// A JSON array of at most [`MAX_SECONDARY`] items, each parsed by `item`, duplicates
/// dropped.
fn list(
    value: &Value,
    field: &str,
    item: impl Fn(&Value) -> Result<String, Error>,
) -> Result<Vec<String>, Error> {
    let Value::Array(items) = value else {
        return Err(invalid(format!("`{field}` must be an array")));
    };
    if items.len() > MAX_SECONDARY {
        return Err(invalid(format!(
            "`{field}` holds more than {MAX_SECONDARY} items"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for v in items {
        let s = item(v)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// `YYYY-MM-DD`, optionally followed by a time (`T…`), as the platform's `date-time`.
fn birthday(value: &Value) -> Result<String, Error> {
    let s = text(value, "birthday", 64)?;
    let b = s.as_bytes();
    let date_ok = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && (b.len() == 10 || b[10] == b'T');
    if !date_ok {
        return Err(invalid("`birthday` must be a date, YYYY-MM-DD"));
    }
    Ok(s)
}

fn address(value: &Value) -> Result<UserAddress, Error> {
    let Value::Object(parts) = value else {
        return Err(invalid("`address` must be an object"));
    };
    let mut a = UserAddress::default();
    for (part, v) in parts {
        if v.is_null() {
            continue;
        }
        let label = format!("address.{}", field_label(part));
        let slot = match part.as_str() {
            "country" => &mut a.country,
            "state" => &mut a.state,
            "city" => &mut a.city,
            "street_address" => &mut a.street_address,
            "postal_code" => &mut a.postal_code,
            "type" => {
                let kind = text(v, &label, 16)?;
                if !matches!(kind.as_str(), "Home" | "Work" | "Other") {
                    return Err(invalid(
                        "`address.type` must be \"Home\", \"Work\" or \"Other\"",
                    ));
                }
                a.kind = Some(kind);
                continue;
            }
            _ => return Err(invalid(format!("unknown field `{label}`"))),
        };
        *slot = Some(text(v, &label, MAX_TEXT_CHARS)?);
    }
    Ok(a)
}

fn delegated_access(value: &Value) -> Result<DelegatedAccess, Error> {
    let shape =
        || invalid("`delegated_access` must be {\"actor_id\": string, \"permissions\": [string]}");
    let Value::Object(m) = value else {
        return Err(shape());
    };
    if m.keys().any(|k| k != "actor_id" && k != "permissions") {
        return Err(shape());
    }
    let actor_id = text(
        m.get("actor_id").ok_or_else(shape)?,
        "delegated_access.actor_id",
        MAX_TEXT_CHARS,
    )?;
    let Some(Value::Array(perms)) = m.get("permissions") else {
        return Err(shape());
    };
    if perms.len() > 100 {
        return Err(invalid(
            "`delegated_access.permissions` holds more than 100 items",
        ));
    }
    let permissions = perms
        .iter()
        .map(|p| text(p, "delegated_access.permissions", MAX_TEXT_CHARS))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DelegatedAccess {
        actor_id,
        permissions,
    })
}

/// `custom_data` or `custom_app_data`: a JSON object of at most 16 KiB.
fn custom_object(value: &Value, field: &str) -> Result<Map<String, Value>, Error> {
    let Value::Object(data) = value else {
        return Err(invalid(format!("`{field}` must be a JSON object")));
    };
    let size = serde_json::to_vec(data).map_or(usize::MAX, |v| v.len());
    if size > MAX_CUSTOM_DATA_BYTES {
        return Err(invalid(format!("`{field}` is larger than 16384 bytes")));
    }
    check_custom_data(value, field)?;
    Ok(data.clone())
}

/// `custom_data` is stored as text: no key may hold a control character and no string a NUL
/// (which PostgreSQL cannot store); other control characters (newlines) are fine in values.
fn check_custom_data(value: &Value, field: &str) -> Result<(), Error> {
    match value {
        Value::String(s) if s.contains('\0') => Err(invalid(format!(
            "`{field}` strings must not contain NUL characters"
        ))),
        Value::Array(items) => items.iter().try_for_each(|v| check_custom_data(v, field)),
        Value::Object(map) => {
            for (k, v) in map {
                if k.chars().any(char::is_control) || k.chars().count() > 256 {
                    return Err(invalid(format!(
                        "`{field}` keys must be at most 256 characters without control characters"
                    )));
                }
                check_custom_data(v, field)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Removes `password` and `credentials` from `obj` and validates them.
pub(super) fn take_password(
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
        return Err(bad(Code::InvalidPassword, "the password must be a string"));
    };
    let password = Zeroizing::new(password);
    check_new_password(&password, min_length)?;
    Ok(Some(PasswordInput {
        password,
        force_replace,
    }))
}

/// What is wrong with a new password under the policy (`password.min_length`, at most 1024
/// bytes): `(code, message)` pairs in the platform's `ApiPasswordValidationError` shape;
/// empty when it is acceptable.
pub fn password_problems(password: &str, min_length: usize) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if password.chars().count() < min_length {
        problems.push((
            "password_too_short",
            format!("the password must have at least {min_length} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        problems.push((
            "password_too_long",
            "the password is longer than 1024 bytes".to_string(),
        ));
    }
    problems
}

/// A new password must meet the policy: 400 `invalid_password` naming the first problem.
pub(super) fn check_new_password(password: &str, min_length: usize) -> Result<(), Error> {
    match password_problems(password, min_length).into_iter().next() {
        Some((_, message)) => Err(bad(Code::InvalidPassword, message)),
        None => Ok(()),
    }
}

pub(super) fn require_identifier(user: &User) -> Result<(), Error> {
    if user.email.is_none() && user.phone_number.is_none() && user.username.is_none() {
        return Err(invalid(
            "a user needs at least one of `email`, `phone_number` or `username`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{email_norm, username_norm};

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
        assert_eq!(normalize_username("ann@example").unwrap(), "ann@example");
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
