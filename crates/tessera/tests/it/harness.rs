//! Test servers and helpers: a scratch database per test, a server started in-process on an
//! ephemeral port, an HTTP client and shortcuts for the admin API.

use std::sync::{Arc, Once};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::config::{Config, Database, LogFormat};
use tessera::server::{self, MigrateMode, Server};
use tessera_identity::{Clock, TestClock};
use tessera_store::scratch::ScratchPostgres;
use zeroize::Zeroizing;

pub const ISSUER: &str = "http://tessera.test";
/// The password of the test users.
pub const SECRET: &str = "correct horse battery";
/// Every client permission, `auth:direct` included (codes and links handed to the caller).
pub const ALL_PERMISSIONS: [&str; 5] = [
    "users:read",
    "users:write",
    "auth",
    "auth:direct",
    "sessions",
];

/// The paths several test modules call.
pub mod paths {
    pub const USERS: &str = "/cis/v1/users";
    pub const PASSWORD: &str = "/cis/v1/auth/password/authenticate";
    pub const SESSION_AUTH: &str = "/cis/v1/auth/session/authenticate";
    pub const LOGOUT: &str = "/cis/v1/auth/session/logout";
    pub const REFRESH: &str = "/cis/v1/auth/token/refresh";
    pub const OTP_SEND: &str = "/cis/v1/auth/otp/send";
    pub const OTP_AUTH: &str = "/cis/v1/auth/otp/authenticate";
    pub const LINK_SEND: &str = "/cis/v1/auth/link/email/send";
    pub const LINK_AUTH: &str = "/cis/v1/auth/link/email/authenticate";
    pub const USERINFO: &str = "/oidc/userinfo";
    pub const PREFS: &str = "/cis/v1/login-preferences";
    pub const OUTBOX: &str = "/cis/v1/dev/outbox";
}

/// The `error_code` of a REST error body ("" if none).
pub fn code(v: &Value) -> &str {
    v["error_code"].as_str().unwrap_or_default()
}
pub const POSTGRES_ENV: &str = "TESSERA_TEST_POSTGRES_URL";
pub const ADMIN_ID: &str = "test-admin";
pub const ADMIN_SECRET: &str = "test-admin-secret-0123456789-abcdefghijklmnop";

/// A scratch database: a temp dir (always, for the data dir) and, for PostgreSQL, a fresh
/// database dropped afterwards.
pub struct Backend {
    pub name: &'static str,
    pub dir: tempfile::TempDir,
    pub database: Database,
    pub kek: Option<String>,
    _pg: Option<ScratchPostgres>,
}

/// Every backend the suite runs against.
pub async fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::sqlite()];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => out.push(Backend::postgres(url.trim()).await),
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                eprintln!("{POSTGRES_ENV} is not set: end-to-end tests run on SQLite only")
            });
        }
    }
    out
}

impl Backend {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::Sqlite(dir.path().join("tessera.db"));
        Self {
            name: "sqlite",
            dir,
            database,
            kek: None,
            _pg: None,
        }
    }

    async fn postgres(admin_url: &str) -> Self {
        let scratch = ScratchPostgres::create(admin_url, true).await.unwrap();
        let mut kek = [0u8; 32];
        tessera_jose::random_bytes(&mut kek).unwrap();
        Self {
            name: "postgres",
            dir: tempfile::tempdir().unwrap(),
            database: Database::Postgres(Zeroizing::new(scratch.url.clone())),
            kek: Some(base64::engine::general_purpose::STANDARD.encode(kek)),
            _pg: Some(scratch),
        }
    }

    /// A config for a node of this backend with operator-given admin credentials.
    pub fn config(&self) -> Config {
        let mut c = self.config_without_admin();
        c.admin = Some((
            ADMIN_ID.to_string(),
            Zeroizing::new(ADMIN_SECRET.to_string()),
        ));
        c
    }

    /// A config whose issuer is the node's own address, `http://127.0.0.1:PORT` (known only
    /// once it listens), for clients that fetch discovery from the URL they were given and
    /// check that the issuer is that URL (third-party libraries). Sibling and restarted nodes
    /// do not share it.
    pub fn config_with_address_issuer(&self) -> Config {
        Config {
            issuer: None,
            ..self.config()
        }
    }

    pub fn config_without_admin(&self) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            // Fixed, so restarted and sibling nodes (on other ports) share one issuer.
            issuer: Some(ISSUER.to_string()),
            data_dir: self.dir.path().join("data"),
            database: self.database.clone(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            admin: None,
            key_encryption_key: self.kek.clone().map(Zeroizing::new),
            form_body_limit: 64 * 1024,
            json_body_limit: 64 * 1024,
            // Two, so every test goes through the hand-off between serving threads.
            http_workers: 2,
            http_max_connections: 10_000,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 10_000,
            key_activation_delay_s: 30,
            leeway_s: 30,
            secret_rotation_grace_s: 0,
            refresh_reuse_window_s: 2,
            outbound_allow_cidrs: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            outbound_max_response_bytes: 1 << 20,
            delivery: Default::default(),
            messages: Default::default(),
            rate_limits: Default::default(),
            database_options: Default::default(),
            hosted_stylesheet: None,
        }
    }

    /// Starts a node with the wall clock.
    pub async fn start(&self) -> TestServer {
        TestServer::start(self.config(), TestClock::new(now_ms())).await
    }
}

#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A running server with a test clock and an HTTP client.
pub struct TestServer {
    pub server: Option<Server>,
    pub base: String,
    pub issuer: String,
    pub clock: TestClock,
    pub http: reqwest::Client,
}

/// The wall clock moved ahead by a test clock's reading (which starts at 0).
struct WallClockAhead(TestClock);

impl Clock for WallClockAhead {
    fn now_ms(&self) -> i64 {
        now_ms() + self.0.now_ms()
    }
}

impl TestServer {
    pub async fn start(config: Config, clock: TestClock) -> Self {
        Self::start_with_clock(config, Arc::new(clock.clone()), clock).await
    }

    /// Starts a node on the wall clock, for clients that wait in real time between requests
    /// (a third-party library polling at the interval the server asked for). `clock` then
    /// holds how far the server runs ahead of the wall clock (0 at start): `advance_s` still
    /// moves the server's time forward, but the current time is the wall clock's.
    pub async fn start_on_wall_clock(config: Config) -> Self {
        let ahead = TestClock::new(0);
        Self::start_with_clock(config, Arc::new(WallClockAhead(ahead.clone())), ahead).await
    }

    async fn start_with_clock(
        config: Config,
        server_clock: Arc<dyn Clock>,
        clock: TestClock,
    ) -> Self {
        let server = server::start(config, server_clock, MigrateMode::Migrate)
            .await
            .unwrap();
        let base = format!("http://{}", server.addr);
        let issuer = server.issuer.clone();
        Self {
            server: Some(server),
            base,
            issuer,
            clock,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a form to `path`.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .form(pairs)
            .send()
            .await
            .unwrap()
    }

    /// A client-credentials token (client_secret_post); panics unless 200.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let r = self
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN_ID, ADMIN_SECRET).await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// POSTs a JSON body with a bearer token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send_json(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// A new client (with extra settings, e.g. `permissions`) and its client token:
    /// (client_id, token).
    pub async fn client(&self, admin: &str, fields: Value) -> (String, String) {
        let (_, client_id, secret) = self.app_and_client(admin, fields).await;
        let token = self.token(&client_id, &secret).await;
        (client_id, token)
    }

    /// The client token of a new client (with extra settings).
    pub async fn client_token(&self, admin: &str, fields: Value) -> String {
        self.client(admin, fields).await.1
    }

    /// Creates a user (201 expected); returns its user_id.
    pub async fn create_user(&self, token: &str, body: Value) -> String {
        let (s, u) = self.post(paths::USERS, token, body).await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        u["result"]["user_id"].as_str().unwrap().to_string()
    }

    /// A password login with `body` (`username`, `password`, …).
    pub async fn login(&self, token: &str, body: Value) -> (StatusCode, Value) {
        self.post(paths::PASSWORD, token, body).await
    }

    /// A password login of `username` with [`SECRET`] (200 expected); the token answer.
    pub async fn login_ok(&self, token: &str, username: &str) -> Value {
        let (s, v) = self
            .login(token, json!({"username": username, "password": SECRET}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// Creates an application and a client in it (with extra client fields); returns
    /// (app_id, client_id, client_secret).
    pub async fn app_and_client(
        &self,
        admin: &str,
        client_fields: Value,
    ) -> (String, String, String) {
        let (s, app) = self
            .send_json(
                reqwest::Method::POST,
                "/cis/v1/applications",
                admin,
                Some(json!({"name": "Test app"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{app}");
        let app_id = app["result"]["app_id"].as_str().unwrap().to_string();
        let mut body = json!({"name": "Test client"});
        if let (Some(b), Some(extra)) = (body.as_object_mut(), client_fields.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        let (s, client) = self
            .send_json(
                reqwest::Method::POST,
                &format!("/cis/v1/applications/{app_id}/clients"),
                admin,
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{client}");
        (
            app_id,
            client["client_id"].as_str().unwrap().to_string(),
            client["client_secret"].as_str().unwrap().to_string(),
        )
    }
}

/// Decodes a JWT's payload without verifying (for assertions only).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(h)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Verifies `token` against the server's JWKS with the `jsonwebtoken` crate (RustCrypto
/// backend), an implementation independent of the one that signed it.
pub async fn verify_with_jwks(srv: &TestServer, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = srv
        .http
        .get(srv.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = header(token)["kid"].as_str().unwrap().to_string();
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS"));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let alg = match header(token)["alg"].as_str().unwrap() {
        "ES256" => jsonwebtoken::Algorithm::ES256,
        "RS256" => jsonwebtoken::Algorithm::RS256,
        "EdDSA" => jsonwebtoken::Algorithm::EdDSA,
        other => panic!("unexpected alg {other}"),
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[srv.issuer.as_str()]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
    data.claims
}
