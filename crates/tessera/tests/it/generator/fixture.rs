//! The tenant the generator aims at: a server with the development outbox, and an object of
//! every kind its routes name, each twice — a stable one that read requests name, and a
//! spare one that requests which change or delete something name, so that a lucky mutation
//! (a valid `DELETE`, a merge patch disabling a client) cannot take away the credentials the
//! rest of the run relies on.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::{
    now_ms, Backend, TestServer, ADMIN_ID, ADMIN_SECRET, ALL_PERMISSIONS, SECRET,
};

/// The ids of one object of every kind a path names.
#[derive(Debug, Clone)]
pub struct Ids {
    pub app_id: String,
    pub client_id: String,
    pub user_id: String,
    pub username: String,
    pub journey_id: String,
    pub trace_id: String,
    pub connection: String,
    pub email: String,
    pub phone_number: String,
}

impl Ids {
    /// The value of the path parameter `name` (`None` for a parameter the table does not
    /// know: the generator's own test then fails).
    pub fn param(&self, name: &str) -> Option<&str> {
        Some(match name {
            "app_id" => &self.app_id,
            "client_id" => &self.client_id,
            "user_id" => &self.user_id,
            "username" => &self.username,
            "journey_id" => &self.journey_id,
            "trace_id" => &self.trace_id,
            "name" => &self.connection,
            "email" => &self.email,
            "phone_number" => &self.phone_number,
            // Names nobody (no fixture user has an external_user_id): a lookup's 404 path.
            "external_user_id" => &self.username,
            // Names no interaction (no step version): a submit's 404 `no_active_journey` path.
            "interaction_id" => &self.trace_id,
            _ => return None,
        })
    }
}

/// Everything a request may carry that only the running tenant knows.
#[derive(Debug, Clone)]
pub struct Values {
    /// `host:port` of the server.
    pub addr: String,
    pub admin_token: String,
    /// `Basic` credentials of the admin client.
    pub admin_basic: String,
    /// A client with every permission, CIBA and a redirect URI.
    pub client_id: String,
    pub client_secret: String,
    pub client_token: String,
    /// A client token without permissions.
    pub weak_token: String,
    /// A client token of the client with every permission that no request relies on
    /// (introspection and revocation templates name it).
    pub spare_token: String,
    pub user_token: String,
    pub username: String,
    pub email: String,
    pub redirect_uri: String,
    /// A session and a refresh token of a second login (the session and refresh templates
    /// end or rotate them).
    pub session_id: String,
    pub refresh_token: String,
    /// A pending CIBA request for the user.
    pub auth_req_id: String,
    pub stable: Ids,
    pub spare: Ids,
}

/// A journey that answers at once.
pub const PLAIN_JOURNEY: &str = "type: backend_api
steps:
  - {id: done, type: http_complete, status: 200, body: '{\"ok\": true}'}
";

/// A journey that reads the request body and query, answering 400 in the documented format
/// when they are not what it expects.
pub const READING_JOURNEY: &str = "type: backend_api
steps:
  - id: read
    type: set_variables
    on_error: refuse
    variables:
      amount: \"@std.strToInt(@policy.request().body.amount)\"
      who: \"@policy.request().params.clientId\"
  - {id: done, type: http_complete, status: 200, body: '{\"ok\": true}'}
  - {id: refuse, type: http_complete, status: 400, body: '{\"error_code\": \"invalid_request\", \"message\": \"amount\"}'}
";

/// A journey definition with `id` set.
pub fn journey_source(id: &str, body: &str) -> String {
    format!("id: {id}\n{body}")
}

/// Starts a server for `backend` and fills it.
pub async fn start(backend: &Backend) -> (TestServer, Values) {
    let mut config = backend.config();
    config.delivery.outbox = true;
    // Bodies announced longer than sent end in 408 after this, not after the default.
    config.http_body_timeout_ms = 2_000;
    let srv = TestServer::start(config, TestClock::new(now_ms())).await;
    let values = fill(&srv).await;
    (srv, values)
}

async fn put_journey(srv: &TestServer, admin: &str, id: &str, body: &str) {
    let r = srv
        .http
        .put(srv.url(&format!("/ido/api/v2/journeys/{id}")))
        .bearer_auth(admin)
        .header("content-type", "application/yaml")
        .body(journey_source(id, body))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

async fn put_connection(srv: &TestServer, admin: &str, name: &str) {
    let (s, v) = srv
        .send_json(
            Method::PUT,
            &format!("/ido/api/v2/connections/{name}"),
            admin,
            Some(json!({"type": "web_service", "url": "https://api.example.com/x"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn create_user(srv: &TestServer, token: &str, username: &str) -> String {
    srv.create_user(
        token,
        json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "email_verified": true,
            "phone_number": if username == "gen-user" { "+14155550100" } else { "+14155550101" },
            "phone_number_verified": true,
            "credentials": {"password": SECRET},
        }),
    )
    .await
}

async fn fill(srv: &TestServer) -> Values {
    let admin = srv.admin_token().await;
    let redirect_uri = "https://app.example/cb".to_string();
    let client_fields = json!({
        "permissions": ALL_PERMISSIONS,
        "redirect_uris": [redirect_uri],
        "ciba_authorization": {"enabled": true, "login_uri": "https://app.example/ciba"},
    });
    let (app_id, client_id, client_secret) =
        srv.app_and_client(&admin, client_fields.clone()).await;
    let client_token = srv.token(&client_id, &client_secret).await;
    let spare_token = srv.token(&client_id, &client_secret).await;
    let (spare_app, spare_client, _) = srv.app_and_client(&admin, client_fields).await;
    let weak_token = srv.client_token(&admin, json!({"permissions": []})).await;

    let username = "gen-user".to_string();
    let user_id = create_user(srv, &client_token, &username).await;
    let spare_user = create_user(srv, &client_token, "gen-spare").await;
    let user_token = srv.login_ok(&client_token, &username).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let second = srv.login_ok(&client_token, &username).await;
    let session_id = second["session_id"].as_str().unwrap().to_string();
    let refresh_token = second["refresh_token"].as_str().unwrap().to_string();

    let r = srv
        .form(
            "/oidc/backchannel",
            &[
                ("client_id", &client_id),
                ("client_secret", &client_secret),
                ("scope", "openid"),
                ("login_hint", &username),
                ("request_context", r#"{"channel": "link"}"#),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let auth_req_id = r.json::<Value>().await.unwrap()["auth_req_id"]
        .as_str()
        .unwrap()
        .to_string();

    put_journey(srv, &admin, "plain", PLAIN_JOURNEY).await;
    put_journey(srv, &admin, "reading", READING_JOURNEY).await;
    put_journey(srv, &admin, "spare-journey", PLAIN_JOURNEY).await;
    put_connection(srv, &admin, "conn").await;
    put_connection(srv, &admin, "spare-conn").await;
    let r = srv
        .http
        .post(srv.url(&format!(
            "/ido/api/v2/invoke-api-journey/plain?clientId={client_id}"
        )))
        .bearer_auth(&client_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let trace_id = r.headers()["x-tessera-trace-id"]
        .to_str()
        .unwrap()
        .to_string();

    let admin_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{ADMIN_ID}:{ADMIN_SECRET}"));
    Values {
        addr: srv.base.trim_start_matches("http://").to_string(),
        admin_token: admin,
        admin_basic,
        client_id: client_id.clone(),
        client_secret,
        client_token,
        weak_token,
        spare_token,
        user_token,
        email: format!("{username}@example.com"),
        username: username.clone(),
        redirect_uri,
        session_id,
        refresh_token,
        auth_req_id,
        stable: Ids {
            app_id,
            client_id,
            user_id,
            username,
            journey_id: "plain".into(),
            trace_id: trace_id.clone(),
            connection: "conn".into(),
            email: "gen-user@example.com".into(),
            phone_number: "+14155550100".into(),
        },
        spare: Ids {
            app_id: spare_app,
            client_id: spare_client,
            user_id: spare_user,
            username: "gen-spare".into(),
            journey_id: "spare-journey".into(),
            trace_id,
            connection: "spare-conn".into(),
            email: "gen-spare@example.com".into(),
            phone_number: "+14155550101".into(),
        },
    }
}

impl Values {
    /// Values of the right shape for generating cases without a server (the generator's own
    /// tests).
    pub fn placeholder() -> Self {
        let ids = |p: &str| Ids {
            app_id: format!("{p}App"),
            client_id: format!("{p}Client"),
            user_id: format!("{p}User"),
            username: format!("{p}-user"),
            journey_id: format!("{p}-journey"),
            trace_id: format!("{p}Trace"),
            connection: format!("{p}-conn"),
            email: format!("{p}@example.com"),
            phone_number: "+14155550199".into(),
        };
        Self {
            addr: "127.0.0.1:9".into(),
            admin_token: "admin.token.x".into(),
            admin_basic: "YWRtaW46c2VjcmV0".into(),
            client_id: "client".into(),
            client_secret: "secret".into(),
            client_token: "client.token.x".into(),
            weak_token: "weak.token.x".into(),
            spare_token: "spare.token.x".into(),
            user_token: "user.token.x".into(),
            username: "gen-user".into(),
            email: "gen-user@example.com".into(),
            redirect_uri: "https://app.example/cb".into(),
            session_id: "session".into(),
            refresh_token: "refresh".into(),
            auth_req_id: "authreq".into(),
            stable: ids("stable"),
            spare: ids("spare"),
        }
    }
}
