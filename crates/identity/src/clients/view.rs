//! The public JSON of applications and clients (never a secret).

use serde_json::{json, Map, Value};

use crate::model::{Application, Client};

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
