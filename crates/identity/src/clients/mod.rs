//! [`Clients`]: applications and their clients — the admin operations, client secrets, and
//! the per-node cache of client records every authenticated request reads.
//!
//! A client's public representation is its [`ClientSettings`] plus ids and timestamps.
//! `PUT` applies the request body to that representation as a JSON Merge Patch (RFC 7396)
//! and re-validates the result, so a partial body such as the seed's
//! `{"ciba_authorization": {...}}` changes only what it names.
//!
//! Invariants:
//! - Secrets are generated here (48 alphanumerics), shown once, stored as HMAC-SHA-256 under
//!   a key derived from the KEK, and compared in constant time; after a rotation the previous
//!   secret works until its grace period ends.
//! - Admin operations take an [`Admin`] proof. The management application cannot be
//!   deleted, nor its last client.
//! - The cache follows the epoch rule of `cache.rs`; this node's writes drop entries at once,
//!   other nodes' through `Client`/`Application` change rows.

mod settings;
mod view;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tessera_jose::{Kek, SecretHasher};
use zeroize::Zeroizing;

pub use view::{application_json, client_json};

use crate::cache::EpochCache;
use crate::caller::Admin;
use crate::changes::FollowChanges;
use crate::clock::Clock;
use crate::error::{Code, Error, StoreError};
use crate::model::{Application, Change, ChangeKind, Client, ClientRecord, ClientSettings};
use crate::ports::ClientStore;
use crate::util::{merge_patch, new_id, new_secret, plausible_id};

pub(crate) use settings::parse_settings;
use settings::to_public_names;
use settings::{validate_name, validate_notification_endpoint, validate_text};

/// The longest grace period a rotated secret may keep working: 30 days.
pub const MAX_SECRET_GRACE_S: i64 = 30 * 24 * 3600;

/// The KEK derivation label of the client-secret hasher.
const SECRET_HASH_LABEL: &str = "tessera client secret hmac v1";

/// Client records cached per node before the cache is cleared.
const CLIENT_CACHE_CAPACITY: usize = 50_000;

/// Fields of the public representation that are not settings and may not be changed.
const READ_ONLY_CLIENT_FIELDS: [&str; 4] = ["client_id", "app_id", "created_at", "updated_at"];

/// An application's own fields: the platform's `app_name` and `app_description` (`name` and
/// `description` are accepted as aliases).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    #[serde(alias = "name")]
    pub app_name: String,
    #[serde(default, alias = "description")]
    pub app_description: Option<String>,
}

/// The fields of an application-creation body that describe its default client (the
/// platform's `ApiCreateAppInput`), with the client field each becomes.
const DEFAULT_CLIENT_FIELDS: [(&str, &str); 8] = [
    ("client_display_name", "name"),
    ("client_description", "description"),
    ("redirect_uris", "redirect_uris"),
    ("resources", "resources"),
    ("client_type", "client_type"),
    ("client_auth_method", "token_endpoint_auth_method"),
    ("ciba_authorization", "ciba_authorization"),
    ("pkce", "pkce"),
];

/// A new application and its default client, created together.
#[derive(Debug)]
pub struct NewApplication {
    pub app: Application,
    pub client: Client,
    /// The default client's secret, shown once.
    pub client_secret: Zeroizing<String>,
}

/// Fields accepted when rotating a client secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretInput {
    /// How long the previous secret keeps working, in seconds (default from the config).
    #[serde(default)]
    pub grace_period_s: Option<u32>,
}

/// Applications and clients.
pub struct Clients {
    store: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    hasher: SecretHasher,
    cache: EpochCache<Arc<ClientRecord>>,
    default_grace_s: i64,
    /// `outbound.allow_cidrs`: where a CIBA notification endpoint may use plain `http`.
    http_allow: Vec<ipnet::IpNet>,
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> Error {
    move |e| match e {
        StoreError::NotFound => Error::new(Code::NotFound, format!("{what} not found")),
        other => other.into(),
    }
}

fn missing(what: &'static str) -> Error {
    Error::new(Code::NotFound, format!("{what} not found"))
}

impl Clients {
    pub fn new(
        store: Arc<dyn ClientStore>,
        clock: Arc<dyn Clock>,
        kek: &Kek,
        default_grace_s: i64,
        http_allow: Vec<ipnet::IpNet>,
    ) -> Self {
        Self {
            store,
            clock,
            hasher: SecretHasher::new(&kek.derive(SECRET_HASH_LABEL)),
            cache: EpochCache::new(CLIENT_CACHE_CAPACITY, None),
            default_grace_s,
            http_allow,
        }
    }

    /// The stored form of a secret.
    pub fn hash_secret(&self, secret: &str) -> Vec<u8> {
        self.hasher.hash(secret.as_bytes()).to_vec()
    }

    /// The client with its application, from the cache or the store.
    pub async fn record(&self, client_id: &str) -> Result<Option<Arc<ClientRecord>>, Error> {
        if !plausible_id(client_id) {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        if let Some(r) = self.cache.get(client_id, now) {
            return Ok(Some(r));
        }
        let epoch = self.cache.epoch();
        let Some(client) = self.store.get_client(client_id).await? else {
            return Ok(None);
        };
        let Some(app) = self.store.get_application(&client.app_id).await? else {
            return Ok(None);
        };
        let record = Arc::new(ClientRecord { client, app });
        self.cache
            .insert_if_current(client_id, record.clone(), now, epoch);
        Ok(Some(record))
    }

    /// Whether `secret` is the client's current secret or (within its grace period) the
    /// previous one, compared in constant time.
    pub(crate) fn secret_matches(&self, record: &ClientRecord, secret: &str) -> bool {
        let presented = self.hasher.hash(secret.as_bytes());
        let current = tessera_jose::constant_time_eq(&presented, &record.client.secret_hash);
        let previous = match (
            &record.client.previous_secret_hash,
            record.client.previous_secret_expires_at,
        ) {
            (Some(h), Some(until)) if until > self.clock.now_s() => {
                tessera_jose::constant_time_eq(&presented, h)
            }
            _ => false,
        };
        current | previous
    }

    // --- applications (admins) ---

    /// Creates an application from the platform's `ApiCreateAppInput` and, as the platform
    /// does, its default client (named `client_display_name`, else the application's name)
    /// in the same transaction; the client's secret is returned once.
    pub async fn create_application(
        &self,
        _admin: &Admin,
        body: Value,
    ) -> Result<NewApplication, Error> {
        let Value::Object(mut obj) = body else {
            return Err(Error::invalid("the body must be a JSON object"));
        };
        let mut client_body = serde_json::Map::new();
        for (app_field, client_field) in DEFAULT_CLIENT_FIELDS {
            if let Some(v) = obj.remove(app_field).filter(|v| !v.is_null()) {
                client_body.insert(client_field.into(), v);
            }
        }
        let input: ApplicationInput = serde_json::from_value(Value::Object(obj))
            .map_err(|e| Error::invalid(format!("invalid application: {e}")))?;
        validate_name("app_name", &input.app_name)?;
        if let Some(d) = &input.app_description {
            validate_text("app_description", d)?;
        }
        client_body
            .entry("name")
            .or_insert_with(|| Value::String(input.app_name.clone()));
        let settings = parse_settings(Value::Object(client_body))?;
        validate_notification_endpoint(&settings, &self.http_allow)?;
        let now = self.clock.now_s();
        let app_id = new_id()?;
        let (client, client_secret) = self.new_client(&app_id, settings)?;
        let app = Application {
            app_id,
            name: input.app_name,
            description: input.app_description,
            management: false,
            default_client_id: Some(client.client_id.clone()),
            created_at: now,
            updated_at: now,
        };
        self.store
            .create_application_with_client(&app, &client)
            .await?;
        Ok(NewApplication {
            app,
            client,
            client_secret,
        })
    }

    /// A new client record with a fresh id and secret (not stored yet).
    fn new_client(
        &self,
        app_id: &str,
        settings: ClientSettings,
    ) -> Result<(Client, Zeroizing<String>), Error> {
        let now = self.clock.now_s();
        let secret = Zeroizing::new(new_secret()?);
        let client = Client {
            client_id: new_id()?,
            app_id: app_id.to_string(),
            secret_hash: self.hash_secret(&secret),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            settings,
            created_at: now,
            updated_at: now,
        };
        Ok((client, secret))
    }

    /// The application's default client (the one created with it), while it exists.
    pub async fn default_client(
        &self,
        _admin: &Admin,
        app: &Application,
    ) -> Result<Option<Client>, Error> {
        let Some(client_id) = &app.default_client_id else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_client(client_id)
            .await?
            .filter(|c| c.app_id == app.app_id))
    }

    pub async fn get_application(
        &self,
        _admin: &Admin,
        app_id: &str,
    ) -> Result<Application, Error> {
        self.application(app_id).await
    }

    async fn application(&self, app_id: &str) -> Result<Application, Error> {
        if !plausible_id(app_id) {
            return Err(missing("application"));
        }
        self.store
            .get_application(app_id)
            .await?
            .ok_or_else(|| missing("application"))
    }

    pub async fn list_applications(&self, _admin: &Admin) -> Result<Vec<Application>, Error> {
        Ok(self.store.list_applications().await?)
    }

    /// Applies a merge patch of `app_name` and `app_description` (or their aliases `name`
    /// and `description`) to an application.
    pub async fn update_application(
        &self,
        _admin: &Admin,
        app_id: &str,
        patch: Value,
    ) -> Result<Application, Error> {
        let mut app = self.application(app_id).await?;
        let Value::Object(mut patch) = patch else {
            return Err(Error::invalid("the body must be a JSON object"));
        };
        for (alias, name) in [("name", "app_name"), ("description", "app_description")] {
            if let Some(v) = patch.remove(alias) {
                if patch.contains_key(name) {
                    return Err(Error::invalid(format!(
                        "give `{name}` or its alias `{alias}`, not both"
                    )));
                }
                patch.insert(name.into(), v);
            }
        }
        let mut current = json!({"app_name": app.name, "app_description": app.description});
        merge_patch(&mut current, &Value::Object(patch));
        let input: ApplicationInput = serde_json::from_value(current)
            .map_err(|e| Error::invalid(format!("invalid application: {e}")))?;
        validate_name("app_name", &input.app_name)?;
        if let Some(d) = &input.app_description {
            validate_text("app_description", d)?;
        }
        app.name = input.app_name;
        app.description = input.app_description;
        app.updated_at = self.clock.now_s();
        self.store
            .update_application(&app)
            .await
            .map_err(not_found("application"))?;
        self.cache.retain(|r| r.app.app_id != app_id);
        Ok(app)
    }

    pub async fn delete_application(&self, _admin: &Admin, app_id: &str) -> Result<(), Error> {
        let app = self.application(app_id).await?;
        if app.management {
            return Err(Error::new(
                Code::Forbidden,
                "the management application cannot be deleted",
            ));
        }
        self.store
            .delete_application(app_id)
            .await
            .map_err(not_found("application"))?;
        self.cache.retain(|r| r.app.app_id != app_id);
        Ok(())
    }

    // --- clients (admins) ---

    /// Creates a client from its public representation; returns it with the secret, which is
    /// never shown again.
    pub async fn create_client(
        &self,
        _admin: &Admin,
        app_id: &str,
        body: Value,
    ) -> Result<(Client, Zeroizing<String>), Error> {
        self.application(app_id).await?;
        let settings = parse_settings(body)?;
        validate_notification_endpoint(&settings, &self.http_allow)?;
        let (client, secret) = self.new_client(app_id, settings)?;
        self.store
            .create_client(&client)
            .await
            .map_err(not_found("application"))?;
        Ok((client, secret))
    }

    pub async fn get_client(
        &self,
        _admin: &Admin,
        app_id: &str,
        client_id: &str,
    ) -> Result<Client, Error> {
        self.client_of(app_id, client_id).await
    }

    /// A client of `app_id`: another application's client is "not found".
    async fn client_of(&self, app_id: &str, client_id: &str) -> Result<Client, Error> {
        if !plausible_id(client_id) {
            return Err(missing("client"));
        }
        match self.store.get_client(client_id).await? {
            Some(c) if c.app_id == app_id => Ok(c),
            _ => Err(missing("client")),
        }
    }

    pub async fn list_clients(&self, _admin: &Admin, app_id: &str) -> Result<Vec<Client>, Error> {
        self.application(app_id).await?;
        Ok(self.store.list_clients(app_id).await?)
    }

    /// Applies `patch` to the client's public representation as a JSON Merge Patch.
    pub async fn patch_client(
        &self,
        _admin: &Admin,
        app_id: &str,
        client_id: &str,
        patch: Value,
    ) -> Result<Client, Error> {
        let mut client = self.client_of(app_id, client_id).await?;
        let Value::Object(mut patch_obj) = patch else {
            return Err(Error::invalid("the body must be a JSON object"));
        };
        // The patch may use today's names; it applies to the public shape.
        to_public_names(&mut patch_obj)?;
        let mut current = client_json(&client);
        for field in READ_ONLY_CLIENT_FIELDS {
            if let Some(v) = patch_obj.get(field) {
                if current.get(field) != Some(v) {
                    return Err(Error::invalid(format!("`{field}` cannot be changed")));
                }
            }
        }
        merge_patch(&mut current, &Value::Object(patch_obj));
        if let Value::Object(m) = &mut current {
            for field in READ_ONLY_CLIENT_FIELDS {
                m.remove(field);
            }
        }
        client.settings = parse_settings(current)?;
        validate_notification_endpoint(&client.settings, &self.http_allow)?;
        client.updated_at = self.clock.now_s();
        self.store
            .update_client(&client)
            .await
            .map_err(not_found("client"))?;
        self.cache.remove(client_id);
        Ok(client)
    }

    pub async fn delete_client(
        &self,
        _admin: &Admin,
        app_id: &str,
        client_id: &str,
    ) -> Result<(), Error> {
        let client = self.client_of(app_id, client_id).await?;
        if let Some(app) = self.store.get_application(app_id).await? {
            if app.management && self.store.list_clients(app_id).await?.len() <= 1 {
                return Err(Error::new(
                    Code::Conflict,
                    "the last admin client cannot be deleted",
                ));
            }
        }
        self.store
            .delete_client(&client.client_id)
            .await
            .map_err(not_found("client"))?;
        self.cache.remove(client_id);
        Ok(())
    }

    /// Replaces a client's secret. The old one keeps working for the grace period.
    pub async fn rotate_client_secret(
        &self,
        _admin: &Admin,
        app_id: &str,
        client_id: &str,
        input: RotateSecretInput,
    ) -> Result<(Client, Zeroizing<String>), Error> {
        let mut client = self.client_of(app_id, client_id).await?;
        let now = self.clock.now_s();
        let grace = input
            .grace_period_s
            .map(i64::from)
            .unwrap_or(self.default_grace_s);
        if grace > MAX_SECRET_GRACE_S {
            return Err(Error::invalid(format!(
                "`grace_period_s` must be at most {MAX_SECRET_GRACE_S} (30 days)"
            )));
        }
        let secret = Zeroizing::new(new_secret()?);
        if grace > 0 {
            client.previous_secret_hash = Some(std::mem::take(&mut client.secret_hash));
            client.previous_secret_expires_at = Some(now + grace);
        } else {
            client.previous_secret_hash = None;
            client.previous_secret_expires_at = None;
        }
        client.secret_hash = self.hash_secret(&secret);
        client.updated_at = now;
        self.store
            .update_client(&client)
            .await
            .map_err(not_found("client"))?;
        self.cache.remove(client_id);
        Ok((client, secret))
    }
}

#[async_trait::async_trait]
impl FollowChanges for Clients {
    fn follows(&self, kind: ChangeKind) -> bool {
        matches!(kind, ChangeKind::Client | ChangeKind::Application)
    }

    async fn apply(&self, changes: &[&Change]) -> Result<(), Error> {
        for change in changes {
            match change.kind {
                ChangeKind::Application => self.cache.retain(|r| r.app.app_id != change.key),
                _ => self.cache.remove(&change.key),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClientSettings;

    #[test]
    fn ciba_patch_keeps_other_settings() {
        let mut s = ClientSettings::named("demo");
        s.redirect_uris = vec!["https://app.example/cb".into()];
        let client = Client {
            client_id: "c".into(),
            app_id: "a".into(),
            secret_hash: vec![],
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            settings: s,
            created_at: 1,
            updated_at: 1,
        };
        let mut current = client_json(&client);
        merge_patch(
            &mut current,
            &json!({"ciba_authorization": {"enabled": true, "login_uri": "https://app.example/ciba"}}),
        );
        let obj = current.as_object_mut().unwrap();
        for f in READ_ONLY_CLIENT_FIELDS {
            obj.remove(f);
        }
        let parsed = parse_settings(current).unwrap();
        assert!(parsed.ciba_authorization.enabled);
        assert_eq!(
            parsed.redirect_uris,
            vec!["https://app.example/cb".to_string()]
        );
    }
}
