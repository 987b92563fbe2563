//! The platform's view of an application's login preferences
//! (`/cis/v1/loginPreferences/{app_id}`): `auth_methods` with one camelCase object per
//! enabled method, mapped onto Tessera's [`LoginPreferences`]:
//!
//! | platform | Tessera |
//! |---|---|
//! | `password.passwordMinLength`, `maxPasswordFailures`, `passwordSuspensionDuration`, `failuresExpireIn` | `password.min_length`, `max_failures`, `lockout`, `failures_expire_in` |
//! | `email_otp` / `sms`: `codeLength`, `expiresIn`, `maxFailures`, `lockoutDuration` | `otp.code_length`, `expires_in`, `max_failures`, `lockout` (one set shared by both channels) |
//! | `email` (magic link): `expiresIn` | `magic_link.expires_in` |
//!
//! A method is enabled when its object is present. In a `PUT …/authMethods` body each method
//! given replaces that method's settings whole (fields left out take their defaults, as the
//! platform says objects are not partially updated) and enables it; `null` disables it;
//! methods not named keep their state. Fields and methods Tessera does not implement
//! (`google`, `webauthn_api`, `message`, `passwordComplexity`, …) are refused by name.

use serde_json::{json, Map, Value};

use super::{LoginPreferences, MagicLinkSettings, OtpSettings, PasswordSettings};
use crate::error::Error;
use crate::util::field_label;

/// Methods of the platform Tessera has no implementation of.
const NOT_IMPLEMENTED: [&str; 10] = [
    "google",
    "facebook",
    "apple",
    "line",
    "tiktok",
    "webauthn_api",
    "totp",
    "push",
    "pin_authenticator",
    "passkeys",
];

/// The platform's `auth_methods` object of `prefs`: the enabled methods with their settings.
pub fn auth_methods_json(prefs: &LoginPreferences) -> Value {
    let mut methods = Map::new();
    let otp = |o: &OtpSettings| {
        json!({
            "codeLength": o.code_length,
            "expiresIn": o.expires_in,
            "maxFailures": o.max_failures,
            "lockoutDuration": o.lockout,
        })
    };
    if prefs.auth_methods.password {
        let p = &prefs.password;
        methods.insert(
            "password".into(),
            json!({
                "passwordMinLength": p.min_length,
                "maxPasswordFailures": p.max_failures,
                "passwordSuspensionDuration": p.lockout,
                "failuresExpireIn": p.failures_expire_in,
            }),
        );
    }
    if prefs.auth_methods.email_otp {
        methods.insert("email_otp".into(), otp(&prefs.otp));
    }
    if prefs.auth_methods.sms {
        methods.insert("sms".into(), otp(&prefs.otp));
    }
    if prefs.auth_methods.email {
        methods.insert(
            "email".into(),
            json!({"expiresIn": prefs.magic_link.expires_in}),
        );
    }
    Value::Object(methods)
}

/// A method's field: a non-negative integer within `min..=max`.
fn number(method: &str, key: &str, v: &Value, min: u32, max: u32) -> Result<u32, Error> {
    let n = v
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (min..=max).contains(n));
    n.ok_or_else(|| {
        Error::invalid(format!(
            "`{method}.{key}` must be an integer between {min} and {max}"
        ))
    })
}

fn unknown_field(method: &str, key: &str) -> Error {
    Error::invalid(format!(
        "`{method}.{}` is not supported by Tessera",
        field_label(key)
    ))
}

fn object<'a>(method: &str, v: &'a Value) -> Result<&'a Map<String, Value>, Error> {
    v.as_object().ok_or_else(|| {
        Error::invalid(format!(
            "`{method}` must be an object (its settings) or null (disabled)"
        ))
    })
}

fn password_settings(v: &Value) -> Result<PasswordSettings, Error> {
    let mut p = PasswordSettings::default();
    for (k, v) in object("password", v)? {
        match k.as_str() {
            "passwordMinLength" => p.min_length = number("password", k, v, 8, 128)?,
            "maxPasswordFailures" => p.max_failures = number("password", k, v, 1, 20)?,
            "passwordSuspensionDuration" => p.lockout = number("password", k, v, 1, 1440)?,
            "failuresExpireIn" => p.failures_expire_in = number("password", k, v, 1, 1440)?,
            _ => return Err(unknown_field("password", k)),
        }
    }
    Ok(p)
}

fn otp_settings(method: &str, v: &Value, base: &OtpSettings) -> Result<OtpSettings, Error> {
    let mut o = OtpSettings {
        cross_clients_allowed: base.cross_clients_allowed,
        ..OtpSettings::default()
    };
    for (k, v) in object(method, v)? {
        match k.as_str() {
            "codeLength" => o.code_length = number(method, k, v, 4, 8)?,
            "expiresIn" => o.expires_in = number(method, k, v, 1, 60)?,
            "maxFailures" => o.max_failures = number(method, k, v, 1, 20)?,
            "lockoutDuration" => o.lockout = number(method, k, v, 1, 1440)?,
            _ => return Err(unknown_field(method, k)),
        }
    }
    Ok(o)
}

fn magic_link_settings(v: &Value) -> Result<MagicLinkSettings, Error> {
    let mut m = MagicLinkSettings::default();
    for (k, v) in object("email", v)? {
        match k.as_str() {
            "expiresIn" => m.expires_in = number("email", k, v, 1, 60)?,
            _ => return Err(unknown_field("email", k)),
        }
    }
    Ok(m)
}

/// Applies a `PUT …/authMethods` body to `prefs` (see the module documentation).
pub(super) fn apply_auth_methods(prefs: &mut LoginPreferences, body: &Value) -> Result<(), Error> {
    let Value::Object(methods) = body else {
        return Err(Error::invalid("the body must be a JSON object"));
    };
    let mut otp: Option<(&str, OtpSettings)> = None;
    for (method, v) in methods {
        let enabled = !v.is_null();
        match method.as_str() {
            "password" => {
                prefs.auth_methods.password = enabled;
                if enabled {
                    prefs.password = password_settings(v)?;
                }
            }
            name @ ("email_otp" | "sms") => {
                if name == "sms" {
                    prefs.auth_methods.sms = enabled;
                } else {
                    prefs.auth_methods.email_otp = enabled;
                }
                if enabled {
                    let settings = otp_settings(name, v, &prefs.otp)?;
                    if let Some((other, earlier)) = &otp {
                        if *earlier != settings {
                            return Err(Error::invalid(format!(
                                "`{other}` and `{name}` must have the same settings: Tessera \
                                 has one set of one-time-passcode settings for both"
                            )));
                        }
                    }
                    otp = Some((name, settings));
                }
            }
            "email" => {
                prefs.auth_methods.email = enabled;
                if enabled {
                    prefs.magic_link = magic_link_settings(v)?;
                }
            }
            m if NOT_IMPLEMENTED.contains(&m) => {
                return Err(Error::invalid(format!(
                    "the `{m}` authentication method is not supported by Tessera"
                )))
            }
            other => {
                return Err(Error::invalid(format!(
                    "unknown authentication method `{}`",
                    field_label(other)
                )))
            }
        }
    }
    if let Some((_, settings)) = otp {
        prefs.otp = settings;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_given_replaces_its_settings_and_null_disables_it() {
        let mut p = LoginPreferences::default();
        p.password.max_failures = 9;
        apply_auth_methods(
            &mut p,
            &json!({"password": {"passwordMinLength": 12}, "sms": null,
                    "email": {"expiresIn": 30}}),
        )
        .unwrap();
        assert!(p.auth_methods.password);
        assert_eq!(p.password.min_length, 12);
        assert_eq!(
            p.password.max_failures, 5,
            "replaced whole: the default again"
        );
        assert!(!p.auth_methods.sms);
        assert!(p.auth_methods.email_otp, "not named: unchanged");
        assert_eq!(p.magic_link.expires_in, 30);
        let view = auth_methods_json(&p);
        assert!(view.get("sms").is_none());
        assert_eq!(view["password"]["passwordMinLength"], 12);
        assert_eq!(view["email"]["expiresIn"], 30);
        assert_eq!(view["email_otp"]["codeLength"], 6);
    }

    #[test]
    fn unsupported_methods_fields_and_values_are_refused_by_name() {
        for (body, needle) in [
            (json!({"google": {"clientId": "x"}}), "`google`"),
            (json!({"bogus": {}}), "`bogus`"),
            (
                json!({"password": {"passwordComplexity": 3}}),
                "`password.passwordComplexity`",
            ),
            (json!({"email_otp": {"message": {}}}), "`email_otp.message`"),
            (
                json!({"password": {"passwordMinLength": 5}}),
                "`password.passwordMinLength`",
            ),
            (json!({"sms": {"codeLength": 9}}), "`sms.codeLength`"),
            (json!({"sms": {"codeLength": "6"}}), "`sms.codeLength`"),
            (json!({"password": true}), "`password` must be an object"),
            (
                json!({"sms": {"codeLength": 6}, "email_otp": {"codeLength": 8}}),
                "same settings",
            ),
        ] {
            let mut p = LoginPreferences::default();
            let e = apply_auth_methods(&mut p, &body).unwrap_err().to_string();
            assert!(e.contains(needle), "{body}: {e}");
        }
        assert!(apply_auth_methods(&mut LoginPreferences::default(), &json!([])).is_err());
    }
}
