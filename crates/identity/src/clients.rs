//! Admin operations on applications and clients, and their public JSON shape.
//!
//! A client's public representation is its [`ClientSettings`] plus ids and timestamps. `PUT`
//! applies the request body to that representation as a JSON Merge Patch (RFC 7396) and
//! re-validates the result, so a partial body such as the seed's
//! `{"ciba_authorization": {...}}` changes only what it names.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::cache::ClientRecord;
use crate::error::Error;
use crate::model::{Application, Client, ClientSettings};
use crate::service::Identity;

const ID_LEN: usize = 22;
const SECRET_LEN: usize = 48;

/// A new random identifier for applications and clients (22 alphanumerics, ~131 bits).
pub fn new_id() -> Result<String, Error> {
    Ok(tessera_jose::random_alphanumeric(ID_LEN)?)
}

/// A new client secret: 48 alphanumerics, about 285 bits.
pub fn new_secret() -> Result<String, Error> {
    Ok(tessera_jose::random_alphanumeric(SECRET_LEN)?)
}

/// Fields accepted when creating or replacing an application.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Fields accepted when rotating a client secret.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretInput {
    /// How long the previous secret keeps working, in seconds (default from the config).
    #[serde(default)]
    pub grace_period_s: Option<u32>,
}

/// The public JSON of an application.
pub fn application_json(app: &Application) -> Value {
    let mut v = json!({
        "app_id": app.app_id,
        "name": app.name,
        "management": app.management,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
    });
    if let (Some(d), Some(obj)) = (&app.description, v.as_object_mut()) {
        obj.insert("description".into(), Value::String(d.clone()));
    }
    v
}

/// The public JSON of a client (never containing its secret).
pub fn client_json(client: &Client) -> Value {
    let mut obj = match serde_json::to_value(&client.settings) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    obj.insert("client_id".into(), Value::String(client.client_id.clone()));
    obj.insert("app_id".into(), Value::String(client.app_id.clone()));
    obj.insert("created_at".into(), json!(client.created_at));
    obj.insert("updated_at".into(), json!(client.updated_at));
    Value::Object(obj)
}

/// Fields of the public representation that are not settings and may not be changed.
const READ_ONLY_CLIENT_FIELDS: [&str; 4] = ["client_id", "app_id", "created_at", "updated_at"];

impl Identity {
    pub async fn create_application(&self, input: ApplicationInput) -> Result<Application, Error> {
        validate_name("name", &input.name)?;
        let now = self.clock.now_s();
        let app = Application {
            app_id: new_id()?,
            name: input.name,
            description: input.description,
            management: false,
            created_at: now,
            updated_at: now,
        };
        self.store.create_application(&app).await?;
        Ok(app)
    }

    pub async fn get_application(&self, app_id: &str) -> Result<Application, Error> {
        if !crate::service::plausible_id(app_id) {
            return Err(Error::NotFound("application"));
        }
        self.store
            .get_application(app_id)
            .await?
            .ok_or(Error::NotFound("application"))
    }

    pub async fn list_applications(&self) -> Result<Vec<Application>, Error> {
        Ok(self.store.list_applications().await?)
    }

    /// Applies a merge patch of `name` and `description` to an application.
    pub async fn update_application(
        &self,
        app_id: &str,
        patch: Value,
    ) -> Result<Application, Error> {
        let mut app = self.get_application(app_id).await?;
        let mut current = json!({"name": app.name, "description": app.description});
        merge_patch(&mut current, &patch);
        let input: ApplicationInput = serde_json::from_value(current)
            .map_err(|e| Error::InvalidInput(format!("invalid application: {}", e)))?;
        validate_name("name", &input.name)?;
        app.name = input.name;
        app.description = input.description;
        app.updated_at = self.clock.now_s();
        self.store
            .update_application(&app)
            .await
            .map_err(not_found("application"))?;
        self.clients.remove_app(app_id);
        Ok(app)
    }

    pub async fn delete_application(&self, app_id: &str) -> Result<(), Error> {
        let app = self.get_application(app_id).await?;
        if app.management {
            return Err(Error::Forbidden(
                "the management application cannot be deleted",
            ));
        }
        self.store
            .delete_application(app_id)
            .await
            .map_err(not_found("application"))?;
        self.clients.remove_app(app_id);
        Ok(())
    }

    /// Creates a client from its public representation; returns it with the secret, which is
    /// never shown again.
    pub async fn create_client(
        &self,
        app_id: &str,
        body: Value,
    ) -> Result<(Client, Zeroizing<String>), Error> {
        self.get_application(app_id).await?;
        let settings = parse_settings(body)?;
        let now = self.clock.now_s();
        let secret = Zeroizing::new(new_secret()?);
        let client = Client {
            client_id: new_id()?,
            app_id: app_id.to_string(),
            secret_hash: self.hasher.hash(secret.as_bytes()).to_vec(),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            settings,
            created_at: now,
            updated_at: now,
        };
        self.store
            .create_client(&client)
            .await
            .map_err(not_found("application"))?;
        Ok((client, secret))
    }

    pub async fn get_client(&self, app_id: &str, client_id: &str) -> Result<Client, Error> {
        if !crate::service::plausible_id(client_id) {
            return Err(Error::NotFound("client"));
        }
        match self.store.get_client(client_id).await? {
            Some(c) if c.app_id == app_id => Ok(c),
            _ => Err(Error::NotFound("client")),
        }
    }

    pub async fn list_clients(&self, app_id: &str) -> Result<Vec<Client>, Error> {
        self.get_application(app_id).await?;
        Ok(self.store.list_clients(app_id).await?)
    }

    /// Applies `patch` to the client's public representation as a JSON Merge Patch.
    pub async fn patch_client(
        &self,
        app_id: &str,
        client_id: &str,
        patch: Value,
    ) -> Result<Client, Error> {
        let mut client = self.get_client(app_id, client_id).await?;
        let Value::Object(patch_obj) = &patch else {
            return Err(Error::InvalidInput("the body must be a JSON object".into()));
        };
        let mut current = client_json(&client);
        for field in READ_ONLY_CLIENT_FIELDS {
            if let Some(v) = patch_obj.get(field) {
                if current.get(field) != Some(v) {
                    return Err(Error::InvalidInput(format!("`{field}` cannot be changed")));
                }
            }
        }
        merge_patch(&mut current, &patch);
        if let Value::Object(m) = &mut current {
            for field in READ_ONLY_CLIENT_FIELDS {
                m.remove(field);
            }
        }
        client.settings = parse_settings(current)?;
        client.updated_at = self.clock.now_s();
        self.store
            .update_client(&client)
            .await
            .map_err(not_found("client"))?;
        self.clients.remove(client_id);
        Ok(client)
    }

    pub async fn delete_client(&self, app_id: &str, client_id: &str) -> Result<(), Error> {
        let client = self.get_client(app_id, client_id).await?;
        if let Some(app) = self.store.get_application(app_id).await? {
            if app.management && self.store.list_clients(app_id).await?.len() <= 1 {
                return Err(Error::Conflict(
                    "the last admin client cannot be deleted".into(),
                ));
            }
        }
        self.store
            .delete_client(&client.client_id)
            .await
            .map_err(not_found("client"))?;
        self.clients.remove(client_id);
        Ok(())
    }

    /// Replaces a client's secret. The old one keeps working for the grace period.
    pub async fn rotate_client_secret(
        &self,
        app_id: &str,
        client_id: &str,
        input: RotateSecretInput,
    ) -> Result<(Client, Zeroizing<String>), Error> {
        let mut client = self.get_client(app_id, client_id).await?;
        let now = self.clock.now_s();
        let grace = input
            .grace_period_s
            .map(i64::from)
            .unwrap_or(self.settings.secret_rotation_grace_s);
        let secret = Zeroizing::new(new_secret()?);
        if grace > 0 {
            client.previous_secret_hash = Some(std::mem::take(&mut client.secret_hash));
            client.previous_secret_expires_at = Some(now + grace);
        } else {
            client.previous_secret_hash = None;
            client.previous_secret_expires_at = None;
        }
        client.secret_hash = self.hasher.hash(secret.as_bytes()).to_vec();
        client.updated_at = now;
        self.store
            .update_client(&client)
            .await
            .map_err(not_found("client"))?;
        self.clients.remove(client_id);
        Ok((client, secret))
    }

    /// Checks a presented secret against the client's current and (within its grace period)
    /// previous secret, in constant time.
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

    /// Rotates the signing keys: new keys are published now and sign after the activation
    /// delay; the old ones stay published for the longest token lifetime after that.
    pub async fn rotate_keys(&self) -> Result<Vec<crate::model::StoredSigningKey>, Error> {
        let now = self.clock.now_s();
        let activate_at = now + self.settings.key_activation_delay_s;
        let longest_ttl = self.longest_token_ttl().await?;
        let retire_at = activate_at + longest_ttl + self.settings.leeway_s;
        let existing = self.store.list_signing_keys().await?;
        let retire: Vec<(String, i64)> = existing
            .iter()
            .filter(|k| k.retire_at.is_none())
            .map(|k| (k.kid.clone(), retire_at))
            .collect();
        let new_keys = crate::keys::SIGNING_ALGORITHMS
            .iter()
            .map(|alg| crate::keys::new_stored_key(*alg, &self.kek, now, activate_at))
            .collect::<Result<Vec<_>, _>>()?;
        self.store.rotate_signing_keys(&new_keys, &retire).await?;
        self.reload_keys().await?;
        Ok(new_keys)
    }

    async fn longest_token_ttl(&self) -> Result<i64, Error> {
        let mut longest: i64 = 3600;
        for app in self.store.list_applications().await? {
            for c in self.store.list_clients(&app.app_id).await? {
                longest = longest
                    .max(i64::from(c.settings.access_token_ttl))
                    .max(i64::from(c.settings.id_token_ttl));
            }
        }
        Ok(longest)
    }
}

fn not_found(what: &'static str) -> impl Fn(crate::error::StoreError) -> Error {
    move |e| match e {
        crate::error::StoreError::NotFound => Error::NotFound(what),
        other => other.into(),
    }
}

fn validate_name(field: &str, name: &str) -> Result<(), Error> {
    let len = name.trim().chars().count();
    if len == 0 || len > 200 {
        return Err(Error::InvalidInput(format!(
            "`{field}` must be 1 to 200 characters"
        )));
    }
    Ok(())
}

fn parse_settings(body: Value) -> Result<ClientSettings, Error> {
    if !body.is_object() {
        return Err(Error::InvalidInput("the body must be a JSON object".into()));
    }
    let settings: ClientSettings = serde_json::from_value(body)
        .map_err(|e| Error::InvalidInput(format!("invalid client: {}", e)))?;
    validate_settings(&settings)?;
    Ok(settings)
}

fn validate_settings(s: &ClientSettings) -> Result<(), Error> {
    validate_name("name", &s.name)?;
    for uri in &s.redirect_uris {
        let parsed = url::Url::parse(uri)
            .map_err(|_| Error::InvalidInput("`redirect_uris` must hold absolute URIs".into()))?;
        if parsed.fragment().is_some() {
            return Err(Error::InvalidInput(
                "`redirect_uris` must not contain fragments".into(),
            ));
        }
    }
    for r in &s.allowed_resources {
        let parsed = url::Url::parse(r).map_err(|_| {
            Error::InvalidInput("`allowed_resources` must hold absolute URIs".into())
        })?;
        if parsed.fragment().is_some() {
            return Err(Error::InvalidInput(
                "`allowed_resources` must not contain fragments".into(),
            ));
        }
    }
    for scope in s.allowed_scopes.iter().chain(&s.default_scopes) {
        if scope.is_empty()
            || !scope
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(Error::InvalidInput(
                "scopes must be non-empty printable ASCII without spaces".into(),
            ));
        }
    }
    let ttls = [
        ("access_token_ttl", s.access_token_ttl),
        ("id_token_ttl", s.id_token_ttl),
        ("refresh_token_ttl", s.refresh_token_ttl),
        ("max_refresh_rotate", s.max_refresh_rotate),
        ("session_expiration", s.session_expiration),
    ];
    for (field, v) in ttls {
        if v == 0 || v > 366 * 24 * 3600 {
            return Err(Error::InvalidInput(format!(
                "`{field}` must be between 1 and 31622400 seconds"
            )));
        }
    }
    use tessera_jose::Algorithm::{EdDSA, ES256, RS256};
    for (field, alg) in [
        (
            "access_token_signed_response_alg",
            s.access_token_signed_response_alg,
        ),
        (
            "id_token_signed_response_alg",
            s.id_token_signed_response_alg,
        ),
    ] {
        if !matches!(alg, ES256 | RS256 | EdDSA) {
            return Err(Error::InvalidInput(format!(
                "`{field}` must be ES256, RS256 or EdDSA"
            )));
        }
    }
    if let Some(uri) = &s.ciba_authorization.login_uri {
        url::Url::parse(uri).map_err(|_| {
            Error::InvalidInput("`ciba_authorization.login_uri` must be an absolute URI".into())
        })?;
    }
    if s.backchannel_token_delivery_mode != "poll" {
        return Err(Error::InvalidInput(
            "`backchannel_token_delivery_mode` must be \"poll\"".into(),
        ));
    }
    Ok(())
}

/// RFC 7396 JSON Merge Patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_obj) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_obj) = target {
        for (k, v) in patch_obj {
            if v.is_null() {
                target_obj.remove(k);
            } else {
                merge_patch(target_obj.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7396_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"a": ["b"]});
        merge_patch(&mut t, &json!({"a": "c"}));
        assert_eq!(t, json!({"a": "c"}));
        let mut t = json!({"e": null});
        merge_patch(&mut t, &json!({"a": 1}));
        assert_eq!(t, json!({"e": null, "a": 1}));
    }

    #[test]
    fn unknown_client_fields_are_rejected_with_their_name() {
        let err = parse_settings(json!({"name": "x", "colour": "red"})).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

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
