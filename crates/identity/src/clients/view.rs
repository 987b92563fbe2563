//! The public JSON of applications and clients (never a secret).

use serde_json::{json, Value};

use super::settings::public_settings;
use crate::model::{Application, Client};

/// The public JSON of an application (the platform's `ApiApp` names: `app_name`,
/// `app_description`) and, when given, of its default client as the platform shows it
/// there (`client_id`, `client_display_name`, `redirect_uris`, …; never the secret).
pub fn application_json(app: &Application, default_client: Option<&Client>) -> Value {
    let mut v = json!({
        "app_id": app.app_id,
        "app_name": app.name,
        "app_description": app.description.clone().unwrap_or_default(),
        "management": app.management,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
    });
    let (Some(client), Some(obj)) = (default_client, v.as_object_mut()) else {
        return v;
    };
    let s = &client.settings;
    obj.insert("client_id".into(), json!(client.client_id));
    obj.insert("client_display_name".into(), json!(s.name));
    if let Some(d) = &s.description {
        obj.insert("client_description".into(), json!(d));
    }
    obj.insert("redirect_uris".into(), json!(s.redirect_uris));
    obj.insert("resources".into(), json!(s.allowed_resources));
    obj.insert("client_type".into(), json!(s.client_type));
    if let Some(m) = s.token_endpoint_auth_method {
        obj.insert("client_auth_method".into(), json!(m));
    }
    obj.insert("ciba_authorization".into(), json!(s.ciba_authorization));
    if let Some(p) = s.pkce {
        obj.insert("pkce".into(), json!(p));
    }
    v
}

/// The public JSON of a client (never containing its secret), in the platform's names
/// (`resources`, `token_expiration`).
pub fn client_json(client: &Client) -> Value {
    let mut obj = public_settings(&client.settings);
    obj.insert("client_id".into(), Value::String(client.client_id.clone()));
    obj.insert("app_id".into(), Value::String(client.app_id.clone()));
    obj.insert("created_at".into(), json!(client.created_at));
    obj.insert("updated_at".into(), json!(client.updated_at));
    Value::Object(obj)
}
