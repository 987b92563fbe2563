//! Login preferences (SPEC §5, Mosaic's `login_preferences`): which backend authentication
//! methods are enabled and the OTP, magic-link and password settings. One document per
//! tenant, read and replaced by admins at `GET/PUT /cis/v1/login-preferences`, cached on every
//! node and followed through the change feed.
//!
//! Durations are in minutes, as on the hosted platform.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The tenant's login preferences. Every field has a default, so `{}` is a valid document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginPreferences {
    pub auth_methods: AuthMethods,
    pub otp: OtpSettings,
    pub magic_link: MagicLinkSettings,
    pub password: PasswordSettings,
}

/// Which methods are enabled. A disabled method's send/authenticate calls answer 403
/// `auth_login_preferences_missing`. All are enabled by default so a new tenant works
/// without configuration (the README says how to turn them off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthMethods {
    /// Password (`/cis/v1/auth/password/authenticate`).
    pub password: bool,
    /// Email one-time passcodes.
    pub email_otp: bool,
    /// SMS one-time passcodes (Mosaic's key is `sms`).
    pub sms: bool,
    /// Email magic links (Mosaic's key is `email`).
    pub email: bool,
}

/// Email and SMS one-time passcodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpSettings {
    /// Digits per code, 4–8.
    pub code_length: u32,
    /// Minutes a code stays valid, 1–60 (a send may ask for less or more within the range).
    pub expires_in: u32,
    /// Wrong codes per user and method before the method locks, 1–20.
    pub max_failures: u32,
    /// Minutes the method stays locked, 1–1440.
    pub lockout: u32,
    /// Whether a code sent for one client may be redeemed by another client of the tenant.
    pub cross_clients_allowed: bool,
}

/// Email magic links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MagicLinkSettings {
    /// Minutes a link stays valid, 1–60.
    pub expires_in: u32,
}

/// Passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// Shortest accepted new password, 8–128 characters.
    pub min_length: u32,
    /// Wrong passwords counted before the password method locks, 1–20.
    pub max_failures: u32,
    /// Minutes after which counted failures are forgotten (Mosaic's `failuresExpireIn`), 1–1440.
    pub failures_expire_in: u32,
    /// Minutes the password method stays locked, 1–1440.
    pub lockout: u32,
}

impl Default for LoginPreferences {
    fn default() -> Self {
        Self {
            auth_methods: AuthMethods::default(),
            otp: OtpSettings::default(),
            magic_link: MagicLinkSettings::default(),
            password: PasswordSettings::default(),
        }
    }
}

impl Default for AuthMethods {
    fn default() -> Self {
        Self {
            password: true,
            email_otp: true,
            sms: true,
            email: true,
        }
    }
}

impl Default for OtpSettings {
    fn default() -> Self {
        Self {
            code_length: 6,
            expires_in: 5,
            max_failures: 3,
            lockout: 15,
            cross_clients_allowed: false,
        }
    }
}

impl Default for MagicLinkSettings {
    fn default() -> Self {
        Self { expires_in: 15 }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_failures: 5,
            failures_expire_in: 15,
            lockout: 15,
        }
    }
}

fn check_range(field: &str, value: u32, min: u32, max: u32) -> Result<(), Error> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "`{field}` must be between {min} and {max}, got {value}"
        )))
    }
}

impl LoginPreferences {
    /// Checks every range; the error names the field.
    pub fn validate(&self) -> Result<(), Error> {
        check_range("otp.code_length", self.otp.code_length, 4, 8)?;
        check_range("otp.expires_in", self.otp.expires_in, 1, 60)?;
        check_range("otp.max_failures", self.otp.max_failures, 1, 20)?;
        check_range("otp.lockout", self.otp.lockout, 1, 1440)?;
        check_range("magic_link.expires_in", self.magic_link.expires_in, 1, 60)?;
        check_range("password.min_length", self.password.min_length, 8, 128)?;
        check_range("password.max_failures", self.password.max_failures, 1, 20)?;
        check_range(
            "password.failures_expire_in",
            self.password.failures_expire_in,
            1,
            1440,
        )?;
        check_range("password.lockout", self.password.lockout, 1, 1440)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_is_the_defaults_and_valid() {
        let p: LoginPreferences = serde_json::from_str("{}").unwrap();
        assert_eq!(p, LoginPreferences::default());
        p.validate().unwrap();
        assert_eq!(p.otp.code_length, 6);
        assert_eq!(p.otp.expires_in, 5);
        assert_eq!(p.otp.max_failures, 3);
        assert_eq!(p.otp.lockout, 15);
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let mut p = LoginPreferences::default();
        p.otp.code_length = 9;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("otp.code_length"), "{e}");
        assert!(serde_json::from_str::<LoginPreferences>(r#"{"otp":{"bogus":1}}"#).is_err());
    }
}
