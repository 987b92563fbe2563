//! How requests name a user: an identifier and its type (`email`, `phone_number`,
//! `user_id`, `username`), as the backend authentication APIs and CIBA take them.

use crate::error::Error;
use crate::model::{email_norm, username_norm};
use crate::util::plausible_id;

use super::fields::normalize_phone;

/// How a request names its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierType {
    Email,
    PhoneNumber,
    UserId,
    Username,
}

impl IdentifierType {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "email" => Ok(Self::Email),
            "phone_number" => Ok(Self::PhoneNumber),
            "user_id" => Ok(Self::UserId),
            "username" => Ok(Self::Username),
            _ => Err(Error::invalid(
                "`identifier_type` must be one of email, phone_number, user_id, username",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::UserId => "user_id",
            Self::Username => "username",
        }
    }
}

/// A user identifier of a request, as given.
#[derive(Debug, Clone)]
pub struct Identifier {
    pub kind: IdentifierType,
    pub value: String,
}

impl Identifier {
    /// The normalised form, `type:value`: the rate-limit key. `None` if it cannot name
    /// anyone (a malformed phone number, an implausible id).
    pub(crate) fn key(&self) -> Option<String> {
        let v = match self.kind {
            IdentifierType::Email => email_norm(&self.value),
            IdentifierType::PhoneNumber => normalize_phone(&self.value).ok()?,
            IdentifierType::UserId => self.value.clone(),
            IdentifierType::Username => username_norm(&self.value),
        };
        if !plausible_id(&v) && self.kind != IdentifierType::Email {
            return None;
        }
        Some(format!("{}:{v}", self.kind.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_normalise_into_rate_limit_keys() {
        let id = |kind, v: &str| Identifier {
            kind,
            value: v.to_string(),
        };
        assert_eq!(
            id(IdentifierType::Email, " Ann@Example.COM ")
                .key()
                .unwrap(),
            "email:ann@example.com"
        );
        assert_eq!(
            id(IdentifierType::PhoneNumber, "+1 415 555 0100")
                .key()
                .unwrap(),
            "phone_number:+14155550100"
        );
        assert!(id(IdentifierType::PhoneNumber, "not a phone")
            .key()
            .is_none());
        assert!(id(IdentifierType::UserId, "").key().is_none());
        assert!(IdentifierType::parse("custom").is_err());
    }
}
