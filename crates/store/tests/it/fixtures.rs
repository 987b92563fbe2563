//! Model values for the tests.

use tessera_identity::{
    Application, BootstrapPlan, Client, ClientSettings, SessionRecord, StoredSigningKey, User,
};
use tessera_jose::{Algorithm, Jwk};

pub fn application(app_id: &str, created_at: i64) -> Application {
    Application {
        app_id: app_id.to_string(),
        name: format!("{app_id} name"),
        description: Some(format!("{app_id} description")),
        management: false,
        default_client_id: None,
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

/// A user with only a username (`name-<id>`).
pub fn user(user_id: &str) -> User {
    let mut u = User::new(user_id.to_string(), 1);
    u.username = Some(format!("name-{user_id}"));
    u
}

/// A live password session of `user_id` for client `c-1`, created at 100, ending at
/// `expires_at`.
pub fn session(hash: &str, user_id: &str, expires_at: i64) -> SessionRecord {
    SessionRecord {
        session_hash: hash.to_string(),
        user_id: user_id.to_string(),
        client_id: "c-1".to_string(),
        methods: vec!["pwd".to_string()],
        auth_time: 100,
        created_at: 100,
        last_used_at: 100,
        expires_at,
        ended_at: None,
        browser: false,
    }
}
