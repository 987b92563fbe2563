//! The shared fixture: a scratch database per test (SQLite always, PostgreSQL when
//! `TESSERA_TEST_POSTGRES_URL` is set), the identity core started on it with a test clock,
//! its admin proof, and shortcuts that get clients, permits, users and tokens the way
//! production does (credentials → gate → proof), so tests read as specifications.

use std::sync::{Arc, Mutex, Once};

use serde_json::{json, Map, Value};
use tempfile::TempDir;
use tessera_delivery::{Deliver, DeliveryError, Message};
use tessera_identity::authn::PasswordLogin;
use tessera_identity::authn::{LinkChannel, LinkLogin, LinkSend, OtpChannel, OtpLogin, OtpSend};
use tessera_identity::caller::PermissionKind;
use tessera_identity::gate::ClientAuth;
use tessera_identity::grants::Grant;
use tessera_identity::issuer::IssuedTokens;
use tessera_identity::logins::LoginOptions;
use tessera_identity::ratelimit::{Limit, RateLimitSettings};
use tessera_identity::sessions::SessionId;
use tessera_identity::tenant::AdminCredentials;
use tessera_identity::users::{Identifier, IdentifierType};
use tessera_identity::{
    perm, Admin, AuthenticatedClient, Caller, Code, Dependencies, Error, Identity,
    IdentitySettings, Permit, TestClock, TokenEndpointAuthMethod, User,
};
use tessera_jose::Kek;
use tessera_journey::{BoxFuture, Outbound, OutboundError, OutboundErrorKind, RunLimits};
use tessera_journey::{OutboundRequest, OutboundResponse};
use tessera_store::scratch::ScratchPostgres;
use tessera_store::{Database, DatabaseTarget};
use zeroize::Zeroizing;

pub const POSTGRES_ENV: &str = "TESSERA_TEST_POSTGRES_URL";
/// Where every test clock starts (2023-11-14, in milliseconds).
pub const T0_MS: i64 = 1_700_000_000_000;
pub const T0_S: i64 = T0_MS / 1000;
pub const ISSUER: &str = "https://tessera.test";
pub const ADMIN_ID: &str = "core-test-admin";
pub const ADMIN_SECRET: &str = "core-test-admin-secret-0123456789-abcdefghijklmn";
/// The password of users made by [`Fixture::user_with_password`].
pub const PASSWORD: &str = "correct horse battery staple";
/// Accepted clock skew of bearer tokens (`IdentitySettings::leeway_s`).
pub const LEEWAY_S: i64 = 30;
/// A session unused this long cannot be resumed or extended.
pub const IDLE_TIMEOUT_S: i64 = 3_600;
/// The registered redirect URI of test clients (magic links).
pub const REDIRECT_URI: &str = "https://app.test/callback";

/// One scratch database; dropping it removes it.
pub struct Backend {
    pub name: &'static str,
    target: DatabaseTarget,
    _dir: Option<TempDir>,
    _postgres: Option<ScratchPostgres>,
}

/// The databases every test runs against: SQLite always, PostgreSQL when configured.
pub async fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::sqlite()];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => out.push(Backend::postgres(url.trim()).await),
        _ => {
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                eprintln!("{POSTGRES_ENV} is not set: identity core tests run on SQLite only")
            });
        }
    }
    out
}

impl Backend {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            name: "sqlite",
            target: DatabaseTarget::Sqlite(dir.path().join("tessera.db")),
            _dir: Some(dir),
            _postgres: None,
        }
    }

    async fn postgres(admin_url: &str) -> Self {
        let scratch = ScratchPostgres::create(admin_url, true).await.unwrap();
        Self {
            name: "postgres",
            target: DatabaseTarget::Postgres(scratch.url.clone()),
            _dir: None,
            _postgres: Some(scratch),
        }
    }

    /// Starts the identity core on this database (bootstrapping the tenant).
    pub async fn start(&self) -> Fixture {
        let kek = Arc::new(Kek::generate().unwrap().0);
        Fixture::start(self.name, self.target.clone(), TestClock::new(T0_MS), kek).await
    }
}

/// Message delivery that keeps what it was given, for tests to read.
#[derive(Default)]
pub struct RecordingMessenger {
    sent: Mutex<Vec<Message>>,
}

#[async_trait::async_trait]
impl Deliver for RecordingMessenger {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        self.sent.lock().unwrap().push(msg.clone());
        Ok(())
    }
}

impl RecordingMessenger {
    /// The text of the last message sent to `to`.
    pub fn last_to(&self, to: &str) -> String {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .rev()
            .find(|m| m.to == to)
            .map(|m| m.text.clone())
            .unwrap_or_else(|| panic!("no message was sent to {to}"))
    }
}

/// Outbound HTTP that records every request and answers with the status tests set, or
/// refuses (the default: most tests make no outbound call).
#[derive(Default)]
pub struct RecordingOutbound {
    requests: Mutex<Vec<OutboundRequest>>,
    answer: Mutex<Option<u16>>,
}

impl RecordingOutbound {
    /// Answer later requests with `status` (`None`: refuse them).
    pub fn answer(&self, status: Option<u16>) {
        *self.answer.lock().unwrap() = status;
    }

    /// Every request sent so far.
    pub fn requests(&self) -> Vec<OutboundRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Outbound for RecordingOutbound {
    fn send<'a>(
        &'a self,
        request: OutboundRequest,
    ) -> BoxFuture<'a, Result<OutboundResponse, OutboundError>> {
        self.requests.lock().unwrap().push(request);
        let answer = *self.answer.lock().unwrap();
        Box::pin(async move {
            match answer {
                Some(status) => Ok(OutboundResponse {
                    status,
                    ..Default::default()
                }),
                None => Err(OutboundError::new(
                    OutboundErrorKind::NoStub,
                    "no outbound answer was set by the test",
                )),
            }
        })
    }
}

/// The settings of every test node: the defaults, a fixed issuer, leeway and idle timeout,
/// and rate limits high enough that no test meets them (they are per node and in memory;
/// the lockouts under test are in the database).
pub fn settings() -> IdentitySettings {
    let mut s = IdentitySettings::new(ISSUER);
    s.leeway_s = LEEWAY_S;
    s.session_idle_timeout_s = IDLE_TIMEOUT_S;
    let generous = Limit::new(100_000, 60);
    s.rate_limits = RateLimitSettings {
        send_per_destination: generous,
        send_per_client: generous,
        send_global: generous,
        auth_per_identifier: generous,
        auth_per_client: generous,
        backchannel_per_user: generous,
        backchannel_per_client: generous,
        journey_start_per_client: generous,
        max_keys: 100_000,
    };
    s
}

/// A client made by the fixture, with its secret.
pub struct TestClient {
    pub app_id: String,
    pub client_id: String,
    pub secret: Zeroizing<String>,
}

/// One node of the identity core on a scratch database, with its admin proof.
pub struct Fixture {
    pub backend: &'static str,
    pub clock: TestClock,
    pub identity: Identity,
    pub admin: Admin,
    /// The admin client of the management application (bootstrap's operator credentials).
    pub admin_client: TestClient,
    pub messages: Arc<RecordingMessenger>,
    pub outbound: Arc<RecordingOutbound>,
    target: DatabaseTarget,
    /// The KEK: every node of the tenant needs the same.
    pub kek: Arc<Kek>,
    _db: Database,
}

impl Fixture {
    async fn start(
        backend: &'static str,
        target: DatabaseTarget,
        clock: TestClock,
        kek: Arc<Kek>,
    ) -> Self {
        let db = tessera_store::open(&target, Arc::new(clock.clone()))
            .await
            .unwrap_or_else(|e| panic!("open {backend}: {e}"));
        db.migrate().await.unwrap();
        let messages = Arc::new(RecordingMessenger::default());
        let outbound = Arc::new(RecordingOutbound::default());
        let deps = Dependencies {
            store: db.store(),
            clock: Arc::new(clock.clone()),
            kek: kek.clone(),
            messenger: messages.clone(),
            outbound: outbound.clone(),
            run_limits: RunLimits::default(),
        };
        let credentials = AdminCredentials {
            client_id: ADMIN_ID.into(),
            client_secret: Zeroizing::new(ADMIN_SECRET.into()),
        };
        let (identity, report) = Identity::start(deps, settings(), Some(credentials))
            .await
            .unwrap();
        let admin_client = TestClient {
            app_id: report.management_app_id,
            client_id: ADMIN_ID.into(),
            secret: Zeroizing::new(ADMIN_SECRET.into()),
        };
        let token = client_token(&identity, &admin_client).await;
        let admin = identity
            .gate
            .authenticate(Some(&token))
            .await
            .unwrap()
            .admin()
            .unwrap();
        Self {
            backend,
            clock,
            identity,
            admin,
            admin_client,
            messages,
            outbound,
            target,
            kek,
            _db: db,
        }
    }

    /// Another node on the same database: the same clock and KEK, its own caches.
    pub async fn another_node(&self) -> Fixture {
        Fixture::start(
            self.backend,
            self.target.clone(),
            self.clock.clone(),
            self.kek.clone(),
        )
        .await
    }

    /// Moves the clock forward by `s` seconds.
    pub fn advance_s(&self, s: i64) {
        self.clock.advance_s(s);
    }

    // --- clients and proofs ---

    /// A new application with one client: the default client settings, every permission
    /// (`auth:direct` included, so codes can be handed to the test), [`REDIRECT_URI`], and
    /// `overrides` on top.
    pub async fn client(&self, overrides: Value) -> TestClient {
        let app = self
            .identity
            .clients
            .create_application(&self.admin, json!({"app_name": "Test application"}))
            .await
            .unwrap();
        self.client_of(&app.app.app_id, overrides).await
    }

    /// A new client of the application `app_id` (see [`Fixture::client`]).
    pub async fn client_of(&self, app_id: &str, overrides: Value) -> TestClient {
        let mut settings = json!({
            "name": "Test client",
            "permissions": ["users:read", "users:write", "auth", "auth:direct", "sessions"],
            "redirect_uris": [REDIRECT_URI],
        });
        merge(&mut settings, overrides);
        let (client, secret) = self
            .identity
            .clients
            .create_client(&self.admin, app_id, settings)
            .await
            .unwrap();
        TestClient {
            app_id: app_id.to_string(),
            client_id: client.client_id,
            secret,
        }
    }

    /// The client as the gate authenticates it at an OAuth endpoint (its secret).
    pub async fn authenticated(&self, c: &TestClient) -> Result<AuthenticatedClient, Error> {
        self.identity
            .gate
            .authenticate_client(&ClientAuth {
                client_id: c.client_id.clone(),
                client_secret: Some(c.secret.clone()),
                method: TokenEndpointAuthMethod::ClientSecretPost,
            })
            .await
    }

    /// A client access token (client-credentials grant).
    pub async fn client_token(&self, c: &TestClient) -> String {
        client_token(&self.identity, c).await
    }

    /// The caller the gate makes of a bearer token.
    pub async fn caller(&self, token: &str) -> Result<Caller, Error> {
        self.identity.gate.authenticate(Some(token)).await
    }

    /// The code the gate answers for a bearer token it refuses.
    pub async fn refusal(&self, token: &str) -> Code {
        match self.caller(token).await {
            Ok(_) => panic!("the gate accepted the token"),
            Err(e) => e.code(),
        }
    }

    /// Permission `P` of client `c`, from a client token as production gets it.
    pub async fn permit<P: PermissionKind>(&self, c: &TestClient) -> Permit<P> {
        let token = self.client_token(c).await;
        self.caller(&token).await.unwrap().permit::<P>().unwrap()
    }

    // --- users ---

    /// A user with this email and no password.
    pub async fn user(&self, email: &str) -> User {
        self.create_user(json!({"email": email})).await
    }

    /// A user with this email and phone number, and no password.
    pub async fn user_with_phone(&self, email: &str, phone: &str) -> User {
        self.create_user(json!({"email": email, "phone_number": phone}))
            .await
    }

    /// A user with this email and [`PASSWORD`] (Argon2id: keep these few).
    pub async fn user_with_password(&self, email: &str) -> User {
        self.create_user(json!({"email": email, "password": PASSWORD}))
            .await
    }

    async fn create_user(&self, body: Value) -> User {
        let permit = self.admin_permit::<perm::UsersWrite>().await;
        self.identity.users.create(&permit, body).await.unwrap()
    }

    /// Disables a user (as an admin would).
    pub async fn disable_user(&self, user_id: &str) {
        let permit = self.admin_permit::<perm::UsersWrite>().await;
        self.identity
            .users
            .patch(&permit, user_id, json!({"status": "disabled"}))
            .await
            .unwrap();
    }

    async fn admin_permit<P: PermissionKind>(&self) -> Permit<P> {
        self.permit::<P>(&self.admin_client).await
    }

    // --- authentication ---

    /// Password authentication by client `c`, in `session` (MFA) or a new session.
    pub async fn password_login(
        &self,
        c: &TestClient,
        username: &str,
        password: &str,
        session: Option<&SessionId>,
    ) -> Result<IssuedTokens, Error> {
        let permit = self.permit::<perm::Auth>(c).await;
        self.identity
            .passwords
            .authenticate(
                &permit,
                PasswordLogin {
                    username: username.into(),
                    username_type: None,
                    password: Zeroizing::new(password.into()),
                    options: in_session(session),
                },
            )
            .await
    }

    /// Sends a one-time passcode for the user with this email on the `direct` channel and
    /// returns it; `minutes` overrides the preferences' expiry.
    pub async fn send_otp(&self, c: &TestClient, email: &str, minutes: Option<u32>) -> String {
        self.send_otp_to(c, email_id(email), minutes).await
    }

    /// Sends a passcode for the user `identifier` names on the `direct` channel.
    pub async fn send_otp_to(
        &self,
        c: &TestClient,
        identifier: Identifier,
        minutes: Option<u32>,
    ) -> String {
        let permit = self.permit::<perm::Auth>(c).await;
        let sent = self
            .identity
            .otp
            .send(
                &permit,
                OtpSend::new(OtpChannel::Direct, identifier, minutes),
            )
            .await
            .unwrap();
        sent.code.unwrap().expose().to_string()
    }

    /// Redeems a passcode for the user with this email, in `session` or a new session.
    pub async fn otp_login(
        &self,
        c: &TestClient,
        email: &str,
        passcode: &str,
        session: Option<&SessionId>,
    ) -> Result<IssuedTokens, Error> {
        self.otp_login_as(c, email_id(email), passcode, session)
            .await
    }

    /// Redeems a passcode for the user `identifier` names.
    pub async fn otp_login_as(
        &self,
        c: &TestClient,
        identifier: Identifier,
        passcode: &str,
        session: Option<&SessionId>,
    ) -> Result<IssuedTokens, Error> {
        let permit = self.permit::<perm::Auth>(c).await;
        self.identity
            .otp
            .authenticate(
                &permit,
                OtpLogin {
                    passcode: Zeroizing::new(passcode.into()),
                    identifier,
                    options: in_session(session),
                },
            )
            .await
    }

    /// Signs the user with this email in by client `c` with an email passcode (cheap: no
    /// Argon2): a new session, amr `eotp`.
    pub async fn sign_in(&self, c: &TestClient, email: &str) -> IssuedTokens {
        let code = self.send_otp(c, email, None).await;
        self.otp_login(c, email, &code, None).await.unwrap()
    }

    /// Emails a magic link for the user with this email (link valid `minutes`) and returns
    /// its code, read from the recorded message.
    pub async fn send_magic_link(&self, c: &TestClient, email: &str, minutes: u32) -> String {
        let permit = self.permit::<perm::Auth>(c).await;
        self.identity
            .magic_links
            .send(
                &permit,
                LinkSend {
                    redirect_uri: REDIRECT_URI.into(),
                    identifier: email_id(email),
                    state: None,
                    email_expiration: Some(minutes),
                    channel: LinkChannel::Email,
                    email_content: None,
                },
            )
            .await
            .unwrap();
        let text = self.messages.last_to(email);
        let start = text.find("code=").expect("the message holds the link") + "code=".len();
        text[start..]
            .split(|c: char| c == '&' || c.is_whitespace())
            .next()
            .unwrap()
            .to_string()
    }

    /// Redeems a magic-link code, in `session` or a new session.
    pub async fn link_login(
        &self,
        c: &TestClient,
        code: &str,
        session: Option<&SessionId>,
    ) -> Result<IssuedTokens, Error> {
        let permit = self.permit::<perm::Auth>(c).await;
        self.identity
            .magic_links
            .authenticate(
                &permit,
                LinkLogin {
                    code: Zeroizing::new(code.into()),
                    options: in_session(session),
                },
            )
            .await
    }

    // --- tokens and sessions ---

    /// The OAuth refresh grant for client `c` (authenticated with its secret).
    pub async fn refresh(
        &self,
        c: &TestClient,
        refresh_token: &str,
    ) -> Result<IssuedTokens, Error> {
        let client = self.authenticated(c).await.unwrap();
        self.identity
            .grants
            .token(
                &client,
                Grant::RefreshToken {
                    refresh_token: refresh_token.into(),
                },
            )
            .await
    }

    /// Silent authentication: tokens for client `c` from a live session.
    pub async fn session_authenticate(
        &self,
        c: &TestClient,
        session: &SessionId,
    ) -> Result<IssuedTokens, Error> {
        let permit = self.permit::<perm::Sessions>(c).await;
        self.identity
            .logins
            .session_authenticate(&permit, session.clone())
            .await
    }

    /// Logout of a session, by client `c`.
    pub async fn logout(&self, c: &TestClient, session: &SessionId) -> Result<(), Error> {
        let permit = self.permit::<perm::Sessions>(c).await;
        self.identity.logins.logout(&permit, session.clone()).await
    }
}

async fn client_token(identity: &Identity, c: &TestClient) -> String {
    let client = identity
        .gate
        .authenticate_client(&ClientAuth {
            client_id: c.client_id.clone(),
            client_secret: Some(c.secret.clone()),
            method: TokenEndpointAuthMethod::ClientSecretPost,
        })
        .await
        .unwrap();
    identity
        .grants
        .token(
            &client,
            Grant::ClientCredentials {
                scope: None,
                resources: vec![],
            },
        )
        .await
        .unwrap()
        .access_token
}

fn in_session(session: Option<&SessionId>) -> LoginOptions {
    LoginOptions {
        session_id: session.cloned(),
        ..LoginOptions::default()
    }
}

/// Shallow merge of the object `overrides` into the object `base`.
pub fn merge(base: &mut Value, overrides: Value) {
    if let (Value::Object(base), Value::Object(overrides)) = (base, overrides) {
        base.extend(overrides);
    }
}

/// Names a user by email.
pub fn email_id(email: &str) -> Identifier {
    Identifier {
        kind: IdentifierType::Email,
        value: email.into(),
    }
}

/// Names a user by phone number.
pub fn phone_id(phone: &str) -> Identifier {
    Identifier {
        kind: IdentifierType::PhoneNumber,
        value: phone.into(),
    }
}

/// The session id of tokens from a backend authentication.
pub fn session_of(tokens: &IssuedTokens) -> SessionId {
    tokens
        .session_id
        .clone()
        .expect("user tokens carry their session")
}

/// The payload of a JWT (the signature is not checked here: the gate tests check that).
pub fn claims(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&tessera_jose::b64url_decode(payload).unwrap()).unwrap()
}

/// The header of a JWT.
pub fn header(jwt: &str) -> Map<String, Value> {
    let header = jwt.split('.').next().expect("a JWT has three parts");
    serde_json::from_slice(&tessera_jose::b64url_decode(header).unwrap()).unwrap()
}

/// The `amr` of a JWT.
pub fn amr(jwt: &str) -> Vec<String> {
    serde_json::from_value(claims(jwt)["amr"].clone()).unwrap()
}

/// A passcode that differs from `code` in every digit.
pub fn wrong(code: &str) -> String {
    code.bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}
