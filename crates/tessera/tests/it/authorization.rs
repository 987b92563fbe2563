//! Who may call what, for every route of the router: each kind of caller (none, a garbage
//! token, an expired token, another tenant's token, a client without the permission, a
//! client with it, an admin, a user token) against one table of expected outcomes. The table
//! below is written out by hand; the test fails when the router has a route without a row,
//! a row without a route, or a route whose declared access differs from the row's.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_api::Access;
use tessera_identity::Permission;

use crate::harness::{backends, TestServer};

/// What a row expects of the route, independently of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Public,
    ClientAuth,
    Admin,
    Permission(Permission),
    User,
    JourneyClient,
    NamedClient,
    Interaction,
}

fn expected_table() -> Vec<(&'static str, &'static str, Expect)> {
    use Expect::{Admin, ClientAuth, JourneyClient, Public, User};
    let p = Expect::Permission;
    vec![
        ("GET", "/.well-known/openid-configuration", Public),
        ("GET", "/.well-known/oauth-authorization-server", Public),
        ("GET", "/oidc/.well-known/openid-configuration", Public),
        ("GET", "/cis/oidc/.well-known/openid-configuration", Public),
        ("GET", "/oidc/jwks", Public),
        ("GET", "/cis/oidc/jwks", Public),
        ("POST", "/oidc/token", ClientAuth),
        ("POST", "/cis/oidc/token", ClientAuth),
        ("POST", "/oidc/introspect", ClientAuth),
        ("POST", "/cis/oidc/introspect", ClientAuth),
        ("POST", "/oidc/revoke", ClientAuth),
        ("POST", "/cis/oidc/revoke", ClientAuth),
        ("POST", "/oidc/token/revocation", ClientAuth),
        ("POST", "/cis/oidc/token/revocation", ClientAuth),
        ("POST", "/oidc/backchannel", ClientAuth),
        ("POST", "/cis/oidc/backchannel", ClientAuth),
        ("POST", "/cis/auth/backchannel/complete", User),
        ("POST", "/cis/v1/auth/backchannel/complete", User),
        ("GET", "/oidc/auth", Public),
        ("POST", "/oidc/auth", Public),
        ("GET", "/cis/oidc/auth", Public),
        ("POST", "/cis/oidc/auth", Public),
        ("GET", "/oidc/login", Public),
        ("POST", "/oidc/login/complete", Public),
        ("GET", "/oidc/userinfo", User),
        ("POST", "/oidc/userinfo", User),
        ("POST", "/cis/v1/applications", Admin),
        ("GET", "/cis/v1/applications", Admin),
        ("GET", "/cis/v1/applications/{app_id}", Admin),
        ("PUT", "/cis/v1/applications/{app_id}", Admin),
        ("DELETE", "/cis/v1/applications/{app_id}", Admin),
        ("POST", "/cis/v1/applications/{app_id}/clients", Admin),
        ("GET", "/cis/v1/applications/{app_id}/clients", Admin),
        (
            "GET",
            "/cis/v1/applications/{app_id}/clients/{client_id}",
            Admin,
        ),
        (
            "PUT",
            "/cis/v1/applications/{app_id}/clients/{client_id}",
            Admin,
        ),
        (
            "DELETE",
            "/cis/v1/applications/{app_id}/clients/{client_id}",
            Admin,
        ),
        (
            "POST",
            "/cis/v1/applications/{app_id}/clients/{client_id}/secret",
            Admin,
        ),
        ("POST", "/cis/v1/keys/rotate", Admin),
        ("GET", "/cis/v1/login-preferences", Admin),
        ("PUT", "/cis/v1/login-preferences", Admin),
        ("GET", "/cis/v1/loginPreferences/{app_id}", Admin),
        (
            "PUT",
            "/cis/v1/loginPreferences/{app_id}/authMethods",
            Admin,
        ),
        ("GET", "/cis/v1/dev/outbox", Admin),
        ("POST", "/cis/v1/users", p(Permission::UsersWrite)),
        ("GET", "/cis/v1/users", p(Permission::UsersRead)),
        ("GET", "/cis/v1/users/{user_id}", p(Permission::UsersRead)),
        ("PUT", "/cis/v1/users/{user_id}", p(Permission::UsersWrite)),
        (
            "PATCH",
            "/cis/v1/users/{user_id}",
            p(Permission::UsersWrite),
        ),
        (
            "DELETE",
            "/cis/v1/users/{user_id}",
            p(Permission::UsersWrite),
        ),
        (
            "GET",
            "/cis/v1/users/username/{username}",
            p(Permission::UsersRead),
        ),
        (
            "GET",
            "/cis/v1/users/email/{email}",
            p(Permission::UsersRead),
        ),
        (
            "GET",
            "/cis/v1/users/phone-number/{phone_number}",
            p(Permission::UsersRead),
        ),
        (
            "GET",
            "/cis/v1/users/external-user-id/{external_user_id}",
            p(Permission::UsersRead),
        ),
        (
            "DELETE",
            "/cis/v1/users/{user_id}/apps",
            p(Permission::UsersWrite),
        ),
        ("DELETE", "/cis/v1/manage/users/{user_id}", Admin),
        (
            "POST",
            "/cis/v1/users/{user_id}/password",
            p(Permission::UsersWrite),
        ),
        (
            "PUT",
            "/cis/v1/users/{user_id}/password",
            p(Permission::UsersWrite),
        ),
        (
            "POST",
            "/cis/v1/auth/password/authenticate",
            p(Permission::Auth),
        ),
        (
            "POST",
            "/cis/v1/auth/password/reset/email/link",
            p(Permission::Auth),
        ),
        (
            "POST",
            "/cis/v1/auth/password/reset/email/otp",
            p(Permission::Auth),
        ),
        (
            "POST",
            "/cis/v1/auth/password/reset/email/otp/validate",
            p(Permission::Auth),
        ),
        (
            "POST",
            "/cis/v1/auth/password/reset/sms/otp",
            p(Permission::Auth),
        ),
        (
            "POST",
            "/cis/v1/auth/password/reset/sms/otp/validate",
            p(Permission::Auth),
        ),
        ("POST", "/cis/v1/auth/password/reset", p(Permission::Auth)),
        (
            "POST",
            "/cis/v1/auth/password/validate",
            p(Permission::Auth),
        ),
        (
            "POST",
            "/cis/v1/auth/session/authenticate",
            p(Permission::Sessions),
        ),
        (
            "POST",
            "/cis/v1/auth/session/logout",
            p(Permission::Sessions),
        ),
        (
            "GET",
            "/cis/v1/auth/users/{user_id}/sessions",
            p(Permission::Sessions),
        ),
        (
            "DELETE",
            "/cis/v1/auth/users/{user_id}/sessions",
            p(Permission::Sessions),
        ),
        ("POST", "/cis/v1/auth/token/refresh", p(Permission::Auth)),
        ("POST", "/cis/v1/auth/otp/send", p(Permission::Auth)),
        ("POST", "/cis/v1/auth/otp/authenticate", p(Permission::Auth)),
        ("POST", "/cis/v1/auth/link/email/send", p(Permission::Auth)),
        (
            "POST",
            "/cis/v1/auth/link/email/authenticate",
            p(Permission::Auth),
        ),
        ("GET", "/ido/api/v2/journeys", Admin),
        ("GET", "/ido/api/v2/journeys/{journey_id}", Admin),
        ("PUT", "/ido/api/v2/journeys/{journey_id}", Admin),
        ("DELETE", "/ido/api/v2/journeys/{journey_id}", Admin),
        (
            "GET",
            "/ido/api/v2/journeys/{journey_id}/runs/{trace_id}",
            Admin,
        ),
        ("GET", "/ido/api/v2/connections", Admin),
        ("GET", "/ido/api/v2/connections/{name}", Admin),
        ("PUT", "/ido/api/v2/connections/{name}", Admin),
        ("DELETE", "/ido/api/v2/connections/{name}", Admin),
        (
            "POST",
            "/ido/api/v2/invoke-api-journey/{journey_id}",
            JourneyClient,
        ),
        (
            "GET",
            "/ido/api/v2/invoke-api-journey/{journey_id}",
            JourneyClient,
        ),
        (
            "POST",
            "/ido/api/v2/journeys/{journey_id}/start",
            Expect::NamedClient,
        ),
        (
            "POST",
            "/ido/api/v2/interactions/{interaction_id}/submit",
            Expect::Interaction,
        ),
        ("OPTIONS", "/ido/api/v2/journeys/{journey_id}/start", Public),
        (
            "OPTIONS",
            "/ido/api/v2/interactions/{interaction_id}/submit",
            Public,
        ),
        ("GET", "/ido/sdk/tessera-ido.js", Public),
        ("GET", "/healthz", Public),
        ("GET", "/readyz", Public),
        ("GET", "/metrics", Public),
        ("GET", "/openapi.json", Public),
        // Last: the user token's own logout ends its session, and the user is the last
        // caller tried, so every row before still sees a live user token.
        ("POST", "/cis/v1/auth/logout", User),
    ]
}

fn as_expect(access: Access) -> Expect {
    match access {
        Access::Public => Expect::Public,
        Access::ClientAuth => Expect::ClientAuth,
        Access::Admin => Expect::Admin,
        Access::Permission(p) => Expect::Permission(p),
        Access::User => Expect::User,
        Access::JourneyClient => Expect::JourneyClient,
        Access::NamedClient => Expect::NamedClient,
        Access::Interaction => Expect::Interaction,
    }
}

/// The router's routes and the table's rows are the same, with the same access.
#[test]
fn every_route_has_a_row_and_every_row_a_route() {
    let table: BTreeMap<(String, String), Expect> = expected_table()
        .into_iter()
        .map(|(m, p, e)| ((m.to_string(), p.to_string()), e))
        .collect();
    let routes: BTreeMap<(String, String), Expect> = tessera_api::endpoints()
        .into_iter()
        .map(|e| {
            (
                (e.method.as_str().to_string(), e.path.to_string()),
                as_expect(e.access),
            )
        })
        .collect();
    for (key, access) in &routes {
        match table.get(key) {
            None => panic!("route {key:?} has no row in the authorization table"),
            Some(expected) => assert_eq!(expected, access, "{key:?}"),
        }
    }
    for key in table.keys() {
        assert!(routes.contains_key(key), "row {key:?} names no route");
    }
}

/// The kinds of caller every route is tried with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    Garbage,
    Expired,
    OtherTenant,
    ClientWithout,
    ClientWith,
    Admin,
    User,
}

const EVERYONE: [Who; 8] = [
    Who::Nobody,
    Who::Garbage,
    Who::Expired,
    Who::OtherTenant,
    Who::ClientWithout,
    Who::ClientWith,
    Who::Admin,
    Who::User,
];

/// What a caller must get: refused with this status, or let through (any status but 401
/// and 403: the request itself may still be invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Refused(u16),
    Allowed,
}

fn outcome(expect: Expect, who: Who) -> Outcome {
    use Outcome::{Allowed, Refused};
    let unauthenticated = matches!(
        who,
        Who::Nobody | Who::Garbage | Who::Expired | Who::OtherTenant
    );
    match expect {
        // Bearer tokens mean nothing to these: anyone may start a client journey (naming a
        // client) or answer an interaction whose id they hold.
        Expect::Public | Expect::NamedClient | Expect::Interaction => Allowed,
        // Bearer tokens mean nothing here; the caller authenticates with its secret
        // (tried separately below), so without one every caller is `invalid_client`.
        Expect::ClientAuth => Refused(401),
        _ if unauthenticated => Refused(401),
        Expect::Admin => match who {
            Who::Admin => Allowed,
            _ => Refused(403),
        },
        Expect::Permission(_) => match who {
            Who::Admin | Who::ClientWith => Allowed,
            _ => Refused(403),
        },
        Expect::User => match who {
            Who::User => Allowed,
            // A client token is not a user token: RFC 6750 `invalid_token`.
            _ => Refused(401),
        },
        // The journey enforces the token of `clientId` (the client with every permission).
        Expect::JourneyClient => match who {
            Who::ClientWith => Allowed,
            _ => Refused(403),
        },
    }
}

/// The objects the paths name on the tenant under test.
struct Ids {
    app_id: String,
    client_id: String,
    user_id: String,
    username: String,
    journey_id: String,
    trace_id: String,
    connection: String,
}

impl Ids {
    fn fill(&self, path: &str) -> String {
        path.replace("{app_id}", &self.app_id)
            .replace("{client_id}", &self.client_id)
            .replace("{user_id}", &self.user_id)
            .replace("{username}", &self.username)
            .replace("{email}", "ann%40example.com")
            .replace("{phone_number}", "%2B14155550100")
            .replace("{external_user_id}", "ext-ann")
            .replace("{journey_id}", &self.journey_id)
            .replace("{trace_id}", &self.trace_id)
            .replace("{name}", &self.connection)
            .replace("{interaction_id}", "noSuchInteraction")
    }

    /// Ids that name nothing, for callers that may act: a mutation then changes nothing.
    fn missing() -> Self {
        Self {
            app_id: "missingApp".into(),
            client_id: "missingClient".into(),
            user_id: "missingUser".into(),
            username: "missing-user".into(),
            journey_id: "missing-journey".into(),
            trace_id: "missingTrace".into(),
            connection: "missing-connection".into(),
        }
    }
}

const JOURNEY: &str = "id: j1
type: backend_api
steps:
  - {id: done, type: http_complete, status: 200, body: '{\"ok\": true}'}
";

struct Tenant {
    srv: TestServer,
    admin: String,
    client_with: (String, String),
    client_without: String,
    user_token: String,
    ids: Ids,
}

async fn tenant(srv: TestServer) -> Tenant {
    let admin = srv.admin_token().await;
    let all = json!([
        "users:read",
        "users:write",
        "auth",
        "auth:direct",
        "sessions"
    ]);
    let (app_id, with_id, with_secret) = srv
        .app_and_client(&admin, json!({"permissions": all}))
        .await;
    let (s, without) = srv
        .send_json(
            Method::POST,
            &format!("/cis/v1/applications/{app_id}/clients"),
            &admin,
            Some(json!({"name": "no rights", "permissions": []})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{without}");
    let client_with = srv.token(&with_id, &with_secret).await;
    let client_without = srv
        .token(
            without["client_id"].as_str().unwrap(),
            without["client_secret"].as_str().unwrap(),
        )
        .await;
    let (s, user) = srv
        .send_json(
            Method::POST,
            "/cis/v1/users",
            &admin,
            Some(json!({"username": "ann", "credentials": {"password": "ann-password-1"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let (s, login) = srv
        .send_json(
            Method::POST,
            "/cis/v1/auth/password/authenticate",
            &client_with,
            Some(json!({"username": "ann", "password": "ann-password-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    let r = srv
        .http
        .put(srv.url("/ido/api/v2/journeys/j1"))
        .bearer_auth(&admin)
        .header("content-type", "application/yaml")
        .body(JOURNEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, conn) = srv
        .send_json(
            Method::PUT,
            "/ido/api/v2/connections/c1",
            &admin,
            Some(json!({"type": "web_service", "url": "https://api.example.com/x"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{conn}");
    let r = srv
        .http
        .post(srv.url(&format!(
            "/ido/api/v2/invoke-api-journey/j1?clientId={with_id}"
        )))
        .bearer_auth(&client_with)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let trace_id = r.headers()["x-tessera-trace-id"]
        .to_str()
        .unwrap()
        .to_string();
    Tenant {
        ids: Ids {
            app_id,
            client_id: with_id.clone(),
            user_id: user["result"]["user_id"].as_str().unwrap().to_string(),
            username: "ann".into(),
            journey_id: "j1".into(),
            trace_id,
            connection: "c1".into(),
        },
        srv,
        admin,
        client_with: (with_id, client_with),
        client_without,
        user_token: login["access_token"].as_str().unwrap().to_string(),
    }
}

async fn send(
    srv: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = srv.http.request(method.clone(), srv.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == Method::POST && (path.starts_with("/oidc/") || path.starts_with("/cis/oidc/")) {
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&token=x");
    } else if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.header("content-type", "application/json").body("{}");
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_table_says() {
    for (b, other_backend) in backends().await.into_iter().zip(backends().await) {
        let t = tenant(b.start().await).await;
        let other = other_backend.start().await;
        let other_admin = other.admin_token().await;
        // An expired token: a client whose tokens live one second, after the clock moved.
        let (_, short_id, short_secret) = t
            .srv
            .app_and_client(&t.admin, json!({"access_token_ttl": 1}))
            .await;
        let expired = t.srv.token(&short_id, &short_secret).await;
        t.srv.clock.advance_s(120);

        let with_client_id = t.client_with.0.clone();
        let missing = Ids::missing();
        for (method, template, expect) in expected_table() {
            for who in EVERYONE {
                let token = match who {
                    Who::Nobody => None,
                    Who::Garbage => Some("garbage.token.value"),
                    Who::Expired => Some(expired.as_str()),
                    Who::OtherTenant => Some(other_admin.as_str()),
                    Who::ClientWithout => Some(t.client_without.as_str()),
                    Who::ClientWith => Some(t.client_with.1.as_str()),
                    Who::Admin => Some(t.admin.as_str()),
                    Who::User => Some(t.user_token.as_str()),
                };
                let want = outcome(expect, who);
                // A caller that may act is sent at objects that do not exist when the
                // request would change something, so the existing ones survive the test.
                let ids = if want == Outcome::Allowed && method != "GET" {
                    &missing
                } else {
                    &t.ids
                };
                let mut path = ids.fill(template);
                if matches!(expect, Expect::JourneyClient | Expect::NamedClient) {
                    path = format!("{path}?clientId={with_client_id}");
                }
                let (status, body) = send(&t.srv, method, &path, token).await;
                let context = format!("{} {method} {path} as {who:?}: {status} {body}", b.name);
                match want {
                    Outcome::Refused(code) => assert_eq!(status.as_u16(), code, "{context}"),
                    Outcome::Allowed => {
                        assert!(
                            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                            "{context}"
                        );
                    }
                }
                assert!(status.as_u16() < 500, "{context}");
                if !status.is_success() && status != StatusCode::NO_CONTENT {
                    let documented =
                        body.get("error_code").is_some() || body.get("error").is_some();
                    assert!(documented, "{context}: not the documented error format");
                }
            }
        }

        // OAuth endpoints: the client's own credentials are what counts.
        for path in [
            "/oidc/token",
            "/oidc/introspect",
            "/oidc/revoke",
            "/oidc/backchannel",
        ] {
            let (with_id, _) = &t.client_with;
            for (secret, want) in [("wrong-secret", 401), ("", 401)] {
                let r = t
                    .srv
                    .form(
                        path,
                        &[
                            ("grant_type", "client_credentials"),
                            ("token", "x"),
                            ("client_id", with_id),
                            ("client_secret", secret),
                        ],
                    )
                    .await;
                assert_eq!(r.status().as_u16(), want, "{path}");
            }
        }

        // Another tenant's objects: an admin of this tenant naming the other tenant's ids
        // finds nothing there.
        let (other_app, other_client, _) = other.app_and_client(&other_admin, json!({})).await;
        for path in [
            format!("/cis/v1/applications/{other_app}"),
            format!("/cis/v1/applications/{other_app}/clients/{other_client}"),
        ] {
            let (s, body) = send(&t.srv, "GET", &path, Some(&t.admin)).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
        }
        // A client of one application named under another application is not found either.
        let (s, body) = send(
            &t.srv,
            "GET",
            &format!("/cis/v1/applications/{}/clients/{short_id}", t.ids.app_id),
            Some(&t.admin),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");

        // Nothing the refused callers sent changed anything.
        for path in [
            format!("/cis/v1/users/{}", t.ids.user_id),
            format!("/cis/v1/applications/{}", t.ids.app_id),
            format!(
                "/cis/v1/applications/{}/clients/{}",
                t.ids.app_id, t.ids.client_id
            ),
            "/ido/api/v2/journeys/j1".to_string(),
            "/ido/api/v2/connections/c1".to_string(),
        ] {
            let (s, body) = send(&t.srv, "GET", &path, Some(&t.admin)).await;
            assert_eq!(s, StatusCode::OK, "{path}: {body}");
        }
        other.stop().await;
        t.srv.stop().await;
    }
}
