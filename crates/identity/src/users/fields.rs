//! Validation and normalisation of user fields (SPEC §5): the email is trimmed and unique
//! case-insensitively; the phone number is normalised to E.164 (`+`, then 8–15 digits, the
//! first 1–9, after removing spaces, dashes, dots and parentheses); the username is NFC,
//! unique case-insensitively, has no `@` and does not start with `+`. Messages name fields,
//! never echo values.

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Code, Error};
use crate::model::{User, UserName, UserStatus};
use crate::util::field_label;

const MAX_EMAIL_BYTES: usize = 254;
const MAX_USERNAME_CHARS: usize = 128;
const MAX_TEXT_CHARS: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_CUSTOM_DATA_BYTES: usize = 16 * 1024;
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
    let mut v = serde_json::to_value(user).unwrap_or_else(|_| serde_json::json!({}));
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
                let s = value
                    .as_str()
                    .ok_or_else(|| bad(Code::InvalidEmail, "`email` must be a string"))?;
                f.email = Some(normalize_email(s)?);
            }
            "phone_number" => {
                let s = value.as_str().ok_or_else(|| {
                    bad(Code::InvalidPhoneNumber, "`phone_number` must be a string")
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
                check_custom_data(&Value::Object(data.clone()))?;
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

/// `custom_data` is stored as text: no key may hold a control character and no string a NUL
/// (which PostgreSQL cannot store); other control characters (newlines) are fine in values.
fn check_custom_data(value: &Value) -> Result<(), Error> {
    match value {
        Value::String(s) if s.contains('\0') => Err(invalid(
            "`custom_data` strings must not contain NUL characters",
        )),
        Value::Array(items) => items.iter().try_for_each(check_custom_data),
        Value::Object(map) => {
            for (k, v) in map {
                if k.chars().any(char::is_control) || k.chars().count() > 256 {
                    return Err(invalid(
                        "`custom_data` keys must be at most 256 characters without control characters",
                    ));
                }
                check_custom_data(v)?;
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
    if password.chars().count() < min_length {
        return Err(bad(
            Code::InvalidPassword,
            format!("the password must have at least {min_length} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(bad(
            Code::InvalidPassword,
            "the password is longer than 1024 bytes",
        ));
    }
    Ok(Some(PasswordInput {
        password,
        force_replace,
    }))
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
