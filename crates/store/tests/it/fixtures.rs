//! Model values for the tests.

use tessera_identity::{Application, BootstrapPlan, Client, ClientSettings, StoredSigningKey};
use tessera_jose::{Algorithm, Jwk};

pub fn application(app_id: &str, created_at: i64) -> Application {
    Application {
        app_id: app_id.to_string(),
        name: format!("{app_id} name"),
        description: Some(format!("{app_id} description")),
        management: false,
        created_at,
        updated_at: created_at,
    }
}

pub fn client(client_id: &str, app_id: &str, created_at: i64) -> Client {
    let mut settings = ClientSettings::named(format!("{client_id} name"));
    settings.redirect_uris = vec!["https://app.example/cb".to_string()];
    settings.allowed_resources = vec!["https://api.example".to_string()];
    Client {
        client_id: client_id.to_string(),
        app_id: app_id.to_string(),
        secret_hash: vec![1, 2, 3, 0, 255],
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        settings,
        created_at,
        updated_at: created_at,
    }
}

pub fn signing_key(kid: &str, alg: Algorithm, created_at: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_string(),
        alg,
        public_jwk: Jwk {
            kty: "EC".to_string(),
            kid: Some(kid.to_string()),
            alg: Some(alg.as_str().to_string()),
            use_: Some("sig".to_string()),
            crv: Some("P-256".to_string()),
            x: Some(format!("x-of-{kid}")),
            y: Some(format!("y-of-{kid}")),
            n: None,
            e: None,
        },
        sealed_private_key: format!("sealed-{kid}").into_bytes(),
        created_at,
        activate_at: created_at + 60,
        retire_at: None,
    }
}

/// A bootstrap plan whose identifiers all carry `tag`, so racing plans are told apart.
pub fn plan(tag: &str) -> BootstrapPlan {
    let mut management_app = application(&format!("mgmt-{tag}"), 1_000);
    management_app.management = true;
    BootstrapPlan {
        signing_keys: vec![
            signing_key(&format!("es-{tag}"), Algorithm::ES256, 1_000),
            signing_key(&format!("rs-{tag}"), Algorithm::RS256, 1_000),
            signing_key(&format!("ed-{tag}"), Algorithm::EdDSA, 1_000),
        ],
        admin_client: client(&format!("admin-{tag}"), &management_app.app_id, 1_000),
        management_app,
    }
}
