//! Login preferences (SPEC §5, Mosaic's `login_preferences`): which backend authentication
//! methods are enabled and the OTP, magic-link and password settings. One document per
//! tenant, read and replaced by admins at `GET/PUT /cis/v1/login-preferences`; and, as on the
//! platform, an application's own document (`/cis/v1/loginPreferences/{app_id}`, the
//! platform's camelCase `auth_methods`, `app_view.rs`), which replaces the tenant's for logins
//! by that application's clients. [`Preferences::for_app`] is what a login reads. Every
//! document is cached on every node and followed through the change feed.
//!
//! Durations are in minutes, as on the hosted platform.

mod app_view;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::Admin;
use crate::changes::FollowChanges;
use crate::clock::Clock;
use crate::error::{Code, Error, StoreError};
use crate::model::{Change, ChangeKind};
use crate::ports::SettingsStore;
use crate::util::{field_label, merge_patch};

/// The name of the login-preferences document in the store's settings.
pub const LOGIN_PREFERENCES: &str = "login_preferences";

pub use app_view::auth_methods_json;

/// The tenant's login preferences. Every field has a default, so `{}` is a valid document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Minutes a password-reset token, link or reset passcode stays valid (Mosaic's
    /// `resetValidityMinutes`), 5–60.
    pub reset_expires_in: u32,
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
            reset_expires_in: 5,
        }
    }
}

fn check_range(field: &str, value: u32, min: u32, max: u32) -> Result<(), Error> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
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
        check_range(
            "password.reset_expires_in",
            self.password.reset_expires_in,
            5,
            60,
        )?;
        Ok(())
    }
}

/// Checks that `doc` has the shape of `template` (the serialized defaults, which name every
/// field): no unknown fields, objects where objects belong, booleans and non-negative 32-bit
/// integers where they belong. The error names the field by its dotted path, so the message
/// of a bad `PUT` is precise (serde's own messages carry no path).
fn check_shape(doc: &Value, template: &Value, path: &str) -> Result<(), Error> {
    let label = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (doc, template) {
        (Value::Object(fields), Value::Object(known)) => {
            for (k, v) in fields {
                let name = label(&field_label(k));
                let Some(t) = known.get(k) else {
                    return Err(Error::invalid(format!("unknown field `{name}`")));
                };
                check_shape(v, t, &name)?;
            }
            Ok(())
        }
        (_, Value::Object(_)) => Err(Error::invalid(format!("`{path}` must be an object"))),
        (Value::Bool(_), Value::Bool(_)) => Ok(()),
        (_, Value::Bool(_)) => Err(Error::invalid(format!("`{path}` must be a boolean"))),
        (Value::Number(n), Value::Number(_))
            if n.as_u64().is_some_and(|n| u32::try_from(n).is_ok()) =>
        {
            Ok(())
        }
        (_, Value::Number(_)) => Err(Error::invalid(format!(
            "`{path}` must be a non-negative integer"
        ))),
        _ => Err(Error::invalid(format!("`{path}` has the wrong type"))),
    }
}

/// Parses a stored document. It was validated when written, so a failure means the data is
/// corrupt (or written by a newer binary).
fn parse_stored(doc: &str) -> Result<LoginPreferences, Error> {
    serde_json::from_str(doc)
        .map_err(|e| Error::internal(format!("the stored login preferences do not parse: {e}")))
}

/// The stored login preferences, or the defaults when none were ever stored.
async fn load(store: &dyn SettingsStore) -> Result<LoginPreferences, Error> {
    match store.get_setting(LOGIN_PREFERENCES).await? {
        Some(doc) => parse_stored(&doc),
        None => Ok(LoginPreferences::default()),
    }
}

/// Every application's own login preferences, by app_id.
type AppPreferences = HashMap<String, Arc<LoginPreferences>>;

/// The stored documents of applications that have their own.
async fn load_apps(store: &dyn SettingsStore) -> Result<AppPreferences, Error> {
    let mut apps = HashMap::new();
    for (app_id, doc) in store.list_app_login_preferences().await? {
        apps.insert(app_id, Arc::new(parse_stored(&doc)?));
    }
    Ok(apps)
}

fn serialize(prefs: &LoginPreferences) -> Result<String, Error> {
    serde_json::to_string(prefs)
        .map_err(|e| Error::internal(format!("serializing login preferences: {e}")))
}

/// The login preferences component: the tenant's document and the applications' own, as
/// this node last read them.
pub struct Preferences {
    store: Arc<dyn SettingsStore>,
    clock: Arc<dyn Clock>,
    current: ArcSwap<LoginPreferences>,
    apps: ArcSwap<AppPreferences>,
    /// Held across "read from the store, install in memory", so a reload that read before
    /// a write never installs its older copy after the writer's own.
    reload: tokio::sync::Mutex<()>,
}

impl Preferences {
    pub async fn load(store: Arc<dyn SettingsStore>, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let prefs = load(store.as_ref()).await?;
        let apps = load_apps(store.as_ref()).await?;
        Ok(Self {
            store,
            clock,
            current: ArcSwap::from_pointee(prefs),
            apps: ArcSwap::from_pointee(apps),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    /// The tenant's current login preferences (as this node last read them).
    pub fn current(&self) -> Arc<LoginPreferences> {
        self.current.load_full()
    }

    /// The preferences a login by a client of `app_id` follows: the application's own if it
    /// has them, else the tenant's.
    pub fn for_app(&self, app_id: &str) -> Arc<LoginPreferences> {
        match self.apps.load().get(app_id) {
            Some(own) => own.clone(),
            None => self.current(),
        }
    }

    /// `GET /cis/v1/login-preferences` (admins only).
    pub fn get(&self, _admin: &Admin) -> Arc<LoginPreferences> {
        self.current()
    }

    /// `GET /cis/v1/loginPreferences/{app_id}` (admins only; the caller checked that the
    /// application exists): the preferences its logins follow.
    pub fn get_app(&self, _admin: &Admin, app_id: &str) -> Arc<LoginPreferences> {
        self.for_app(app_id)
    }

    /// `PUT /cis/v1/login-preferences` (admins only): applies `patch` to the stored document
    /// as a JSON Merge Patch (RFC 7396; `null` resets a field to its default), refuses
    /// unknown fields and out-of-range values naming the field, stores the result (which
    /// every other node reloads through the change feed) and returns it.
    pub async fn put(&self, _admin: &Admin, patch: Value) -> Result<Arc<LoginPreferences>, Error> {
        if !patch.is_object() {
            return Err(Error::invalid("the body must be a JSON object"));
        }
        let _serialized = self.reload.lock().await;
        // The base is the stored document, not this node's cache, which may lag another
        // node's write by one poll.
        let current = load(self.store.as_ref()).await?;
        let mut doc = serde_json::to_value(&current)
            .map_err(|e| Error::internal(format!("serializing login preferences: {e}")))?;
        merge_patch(&mut doc, &patch);
        let template = serde_json::to_value(LoginPreferences::default())
            .map_err(|e| Error::internal(format!("serializing login preferences: {e}")))?;
        check_shape(&doc, &template, "")?;
        let prefs: LoginPreferences = serde_json::from_value(doc)
            .map_err(|e| Error::invalid(format!("invalid login preferences: {e}")))?;
        prefs.validate()?;
        let text = serialize(&prefs)?;
        self.store
            .put_setting(LOGIN_PREFERENCES, &text, self.clock.now_s())
            .await?;
        let prefs = Arc::new(prefs);
        self.current.store(prefs.clone());
        Ok(prefs)
    }

    /// `PUT /cis/v1/loginPreferences/{app_id}/authMethods` (admins only): applies the
    /// platform's `auth_methods` body (`app_view.rs`: each method given replaces that
    /// method's settings whole and enables it, `null` disables it, methods not named keep
    /// theirs) to the application's own document — the tenant's as it is now when the
    /// application had none — stores it and returns it. 404 if the application does not
    /// exist.
    pub async fn put_app_auth_methods(
        &self,
        _admin: &Admin,
        app_id: &str,
        body: &Value,
    ) -> Result<Arc<LoginPreferences>, Error> {
        let _serialized = self.reload.lock().await;
        let mut prefs = match self.store.get_app_login_preferences(app_id).await? {
            Some(doc) => parse_stored(&doc)?,
            None => load(self.store.as_ref()).await?,
        };
        app_view::apply_auth_methods(&mut prefs, body)?;
        prefs.validate()?;
        let text = serialize(&prefs)?;
        match self
            .store
            .put_app_login_preferences(app_id, &text, self.clock.now_s())
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(Error::new(Code::NotFound, "application not found"))
            }
            Err(e) => return Err(e.into()),
        }
        let prefs = Arc::new(prefs);
        let mut apps = AppPreferences::clone(&self.apps.load());
        apps.insert(app_id.to_string(), prefs.clone());
        self.apps.store(Arc::new(apps));
        Ok(prefs)
    }

    /// Re-reads the login preferences from the store (another node changed them).
    pub async fn reload(&self) -> Result<(), Error> {
        let _serialized = self.reload.lock().await;
        let prefs = load(self.store.as_ref()).await?;
        self.current.store(Arc::new(prefs));
        Ok(())
    }

    /// Re-reads the own preferences of these applications (changed or deleted elsewhere).
    async fn reload_apps(&self, app_ids: &[&str]) -> Result<(), Error> {
        let _serialized = self.reload.lock().await;
        let mut apps = AppPreferences::clone(&self.apps.load());
        for app_id in app_ids {
            match self.store.get_app_login_preferences(app_id).await? {
                Some(doc) => {
                    apps.insert(app_id.to_string(), Arc::new(parse_stored(&doc)?));
                }
                None => {
                    apps.remove(*app_id);
                }
            }
        }
        self.apps.store(Arc::new(apps));
        Ok(())
    }
}

#[async_trait::async_trait]
impl FollowChanges for Preferences {
    fn follows(&self, kind: ChangeKind) -> bool {
        // An application's deletion takes its own preferences with it.
        matches!(kind, ChangeKind::Settings | ChangeKind::Application)
    }

    async fn apply(&self, changes: &[&Change]) -> Result<(), Error> {
        if changes
            .iter()
            .any(|c| c.kind == ChangeKind::Settings && c.key == LOGIN_PREFERENCES)
        {
            self.reload().await?;
        }
        let mut app_ids: Vec<&str> = Vec::new();
        for c in changes {
            let app_id = match c.kind {
                ChangeKind::Application => Some(c.key.as_str()),
                _ => c.key.strip_prefix(APP_KEY_PREFIX),
            };
            if let Some(id) = app_id {
                let concerned = c.kind == ChangeKind::Settings || self.apps.load().contains_key(id);
                if concerned && !app_ids.contains(&id) {
                    app_ids.push(id);
                }
            }
        }
        if !app_ids.is_empty() {
            self.reload_apps(&app_ids).await?;
        }
        Ok(())
    }
}

/// What [`app_login_preferences_key`] puts before the app_id.
const APP_KEY_PREFIX: &str = "login_preferences/";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::app_login_preferences_key;

    #[test]
    fn the_change_key_of_an_application_has_the_prefix() {
        assert_eq!(
            app_login_preferences_key("app1").strip_prefix(APP_KEY_PREFIX),
            Some("app1")
        );
    }

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

    fn shape_error(doc: serde_json::Value) -> String {
        let template = serde_json::to_value(LoginPreferences::default()).unwrap();
        check_shape(&doc, &template, "").unwrap_err().to_string()
    }

    #[test]
    fn the_shape_check_names_the_field() {
        use serde_json::json;
        let template = serde_json::to_value(LoginPreferences::default()).unwrap();
        check_shape(&template, &template, "").unwrap();
        check_shape(&json!({}), &template, "").unwrap();
        assert!(shape_error(json!({"bogus": 1})).contains("`bogus`"));
        assert!(shape_error(json!({"otp": {"bogus": 1}})).contains("`otp.bogus`"));
        assert!(shape_error(json!({"otp": 5})).contains("`otp` must be an object"));
        assert!(shape_error(json!({"otp": {"code_length": "6"}})).contains("`otp.code_length`"));
        assert!(shape_error(json!({"otp": {"code_length": -1}})).contains("non-negative"));
        assert!(shape_error(json!({"otp": {"code_length": 1.5}})).contains("non-negative"));
        assert!(shape_error(json!({"auth_methods": {"password": 1}})).contains("must be a boolean"));
    }
}
