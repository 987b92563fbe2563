//! NUL and other control characters in every field of every endpoint: never a 5xx. A review
//! found NUL bytes answered 500 on PostgreSQL, where SQLite answered 400 — in refresh tokens
//! (`"\u0000.1.x"` at four endpoints), a magic link's `state`, an application's name and
//! description. Stored text fields now refuse control characters with 400, and tokens are
//! checked against their format before any query.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, TestServer, ALL_PERMISSIONS, SECRET};

const BAD: [&str; 4] = [
    "a\u{0}b",
    "\u{0}",
    "a\u{7}\u{1b}[31mb",
    "line\r\nX-Injected: 1",
];

/// Sets the field at `path` (dot-separated; `[0]` for the first element) of `body` to `v`.
fn set(body: &mut Value, path: &str, v: &str) {
    let mut cur = body;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let (key, index) = match part.strip_suffix("[0]") {
            Some(k) => (k, true),
            None => (*part, false),
        };
        if index {
            cur = &mut cur[key][0];
        } else if last {
            cur[key] = Value::String(v.to_string());
            return;
        } else {
            cur = &mut cur[key];
        }
        if last {
            *cur = Value::String(v.to_string());
        }
    }
}

async fn send(
    srv: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = srv.http.request(method, srv.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Never a 5xx, and every refusal in a documented format.
fn check(context: &str, status: StatusCode, body: &Value) {
    assert!(status.as_u16() < 500, "{context}: {status} {body}");
    if !status.is_success() {
        assert!(
            body.get("error_code").is_some() || body.get("error").is_some(),
            "{context}: undocumented error body {body}"
        );
    }
}

#[tokio::test]
async fn control_characters_in_every_field_never_give_a_5xx() {
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(
            config,
            tessera_identity::TestClock::new(crate::harness::now_ms()),
        )
        .await;
        let admin = srv.admin_token().await;
        let (app_id, client_id, client_secret) = srv
            .app_and_client(
                &admin,
                json!({"permissions": ALL_PERMISSIONS, "redirect_uris": ["https://app.example/cb"]}),
            )
            .await;
        let token = srv.token(&client_id, &client_secret).await;
        let user_id = srv
            .create_user(
                &token,
                json!({"username": "cc", "email": "cc@example.com", "credentials": {"password": SECRET}}),
            )
            .await;
        let login = srv.login_ok(&token, "cc").await;
        let refresh = login["refresh_token"].as_str().unwrap().to_string();

        // JSON bodies: (method, path, token, base body, fields).
        let app_path = format!("/cis/v1/applications/{app_id}");
        let client_path = format!("{app_path}/clients/{client_id}");
        let user_path = format!("/cis/v1/users/{user_id}");
        let cases: Vec<(Method, String, &str, Value, Vec<&str>)> = vec![
            (
                Method::POST,
                "/cis/v1/applications".into(),
                &admin,
                json!({"name": "n", "description": "d"}),
                vec!["name", "description"],
            ),
            (
                Method::PUT,
                app_path.clone(),
                &admin,
                json!({"name": "n", "description": "d"}),
                vec!["name", "description"],
            ),
            (
                Method::POST,
                format!("{app_path}/clients"),
                &admin,
                json!({"name": "n", "description": "d", "redirect_uris": ["https://a.example/cb"],
                       "allowed_scopes": ["openid"], "default_scopes": ["openid"],
                       "allowed_resources": ["https://api.example"],
                       "ciba_authorization": {"enabled": true, "login_uri": "https://a.example/ciba"},
                       "token_endpoint_auth_method": "client_secret_post",
                       "access_token_signed_response_alg": "ES256",
                       "backchannel_token_delivery_mode": "poll", "permissions": ["auth"]}),
                vec![
                    "name",
                    "description",
                    "redirect_uris[0]",
                    "allowed_scopes[0]",
                    "default_scopes[0]",
                    "allowed_resources[0]",
                    "ciba_authorization.login_uri",
                    "token_endpoint_auth_method",
                    "access_token_signed_response_alg",
                    "backchannel_token_delivery_mode",
                    "permissions[0]",
                ],
            ),
            (
                Method::PUT,
                client_path.clone(),
                &admin,
                json!({"name": "n", "description": "d"}),
                vec!["name", "description"],
            ),
            (
                Method::POST,
                "/cis/v1/users".into(),
                &token,
                json!({"username": "u2", "email": "u2@example.com", "phone_number": "+14155550177",
                       "external_user_id": "e", "name": {"first_name": "f", "last_name": "l"},
                       "custom_data": {"k": "v"}, "credentials": {"password": "p-a-s-s-w-o-r-d"},
                       "status": "active"}),
                vec![
                    "username",
                    "email",
                    "phone_number",
                    "external_user_id",
                    "name.first_name",
                    "name.last_name",
                    "custom_data.k",
                    "status",
                ],
            ),
            (
                Method::PATCH,
                user_path.clone(),
                &token,
                json!({"external_user_id": "e", "custom_data": {"k": "v"}}),
                vec!["external_user_id", "custom_data.k"],
            ),
            (
                Method::POST,
                "/cis/v1/auth/password/authenticate".into(),
                &token,
                json!({"username": "cc", "password": SECRET, "session_id": "s", "resource": "https://api.example"}),
                vec!["username", "password", "session_id", "resource"],
            ),
            (
                Method::POST,
                "/cis/v1/auth/session/authenticate".into(),
                &token,
                json!({"session_id": "s"}),
                vec!["session_id"],
            ),
            (
                Method::POST,
                "/cis/v1/auth/session/logout".into(),
                &token,
                json!({"session_id": "s"}),
                vec!["session_id"],
            ),
            (
                Method::POST,
                "/cis/v1/auth/token/refresh".into(),
                &token,
                json!({"refresh_token": refresh}),
                vec!["refresh_token"],
            ),
            (
                Method::POST,
                "/cis/v1/auth/otp/send".into(),
                &token,
                json!({"channel": "direct", "identifier_type": "email", "identifier": "cc@example.com"}),
                vec!["channel", "identifier_type", "identifier"],
            ),
            (
                Method::POST,
                "/cis/v1/auth/otp/authenticate".into(),
                &token,
                json!({"passcode": "123456", "identifier_type": "email", "identifier": "cc@example.com",
                       "session_id": "s", "resource": "https://api.example"}),
                vec![
                    "passcode",
                    "identifier_type",
                    "identifier",
                    "session_id",
                    "resource",
                ],
            ),
            (
                Method::POST,
                "/cis/v1/auth/link/email/send".into(),
                &token,
                json!({"channel": "direct", "redirect_uri": "https://app.example/cb",
                       "identifier_type": "email", "identifier": "cc@example.com", "state": "s"}),
                vec![
                    "channel",
                    "redirect_uri",
                    "identifier_type",
                    "identifier",
                    "state",
                ],
            ),
            (
                Method::POST,
                "/cis/v1/auth/link/email/authenticate".into(),
                &token,
                json!({"code": "c", "session_id": "s", "resource": "https://api.example"}),
                vec!["code", "session_id", "resource"],
            ),
            (
                Method::PUT,
                "/ido/api/v2/connections/c1".into(),
                &admin,
                json!({"type": "web_service", "url": "https://api.example/x", "method": "GET"}),
                vec!["type", "url", "method"],
            ),
        ];
        for (method, path, who, base, fields) in &cases {
            for field in fields {
                for bad in BAD {
                    let mut body = base.clone();
                    set(&mut body, field, bad);
                    let (s, v) = send(&srv, method.clone(), path, Some(who), Some(&body)).await;
                    check(
                        &format!("{} {method} {path} {field}={bad:?}", b.name),
                        s,
                        &v,
                    );
                }
            }
        }

        // Stored text fields refuse NUL outright.
        for (path, body) in [
            ("/cis/v1/applications", json!({"name": "a\u{0}b"})),
            (
                "/cis/v1/applications",
                json!({"name": "ok", "description": "a\u{0}b"}),
            ),
            (
                "/cis/v1/users",
                json!({"username": "ok", "custom_data": {"k\u{0}": "v"}}),
            ),
            (
                "/cis/v1/users",
                json!({"username": "ok", "custom_data": {"k": "a\u{0}b"}}),
            ),
            (
                "/cis/v1/auth/link/email/send",
                json!({"channel": "direct", "redirect_uri": "https://app.example/cb",
                       "identifier_type": "email", "identifier": "cc@example.com", "state": "a\u{0}b"}),
            ),
        ] {
            let who = if path.starts_with("/cis/v1/applications") {
                &admin
            } else {
                &token
            };
            let (s, v) = send(&srv, Method::POST, path, Some(who), Some(&body)).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {path} {body}: {v}", b.name);
        }

        // OAuth forms: every parameter.
        let form_cases: Vec<(&str, Vec<(&str, String)>)> = vec![
            (
                "/oidc/token",
                vec![
                    ("grant_type", "refresh_token".into()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.clone()),
                    ("refresh_token", refresh.clone()),
                    ("scope", "openid".into()),
                    ("resource", "https://api.example".into()),
                ],
            ),
            (
                "/oidc/introspect",
                vec![
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.clone()),
                    ("token", refresh.clone()),
                    ("token_type_hint", "refresh_token".into()),
                ],
            ),
            (
                "/oidc/revoke",
                vec![
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.clone()),
                    ("token", "x".into()),
                    ("token_type_hint", "refresh_token".into()),
                ],
            ),
        ];
        for (path, base) in &form_cases {
            for i in 0..base.len() {
                for bad in BAD {
                    let mut pairs = base.clone();
                    pairs[i].1 = bad.to_string();
                    let r = srv
                        .http
                        .post(srv.url(path))
                        .form(&pairs)
                        .send()
                        .await
                        .unwrap();
                    let s = r.status();
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    check(&format!("{} {path} {}={bad:?}", b.name, base[i].0), s, &v);
                }
            }
        }
        // The review's refresh token with a NUL, at the four endpoints that take one.
        let nul = "\u{0}.1.x";
        let (s, v) = send(
            &srv,
            Method::POST,
            "/cis/v1/auth/token/refresh",
            Some(&token),
            Some(&json!({"refresh_token": nul})),
        )
        .await;
        assert_eq!(
            (s, v["error_code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        for (path, key) in [
            ("/oidc/token", "refresh_token"),
            ("/oidc/introspect", "token"),
            ("/oidc/revoke", "token"),
        ] {
            let r = srv
                .form(
                    path,
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", &client_id),
                        ("client_secret", &client_secret),
                        (key, nul),
                    ],
                )
                .await;
            assert!(
                r.status().as_u16() < 500,
                "{} {path}: {}",
                b.name,
                r.status()
            );
        }

        // Path segments and query parameters.
        for path in [
            "/cis/v1/applications/a%00b".to_string(),
            format!("{app_path}/clients/c%00d"),
            "/cis/v1/users/u%00v".into(),
            "/cis/v1/users/username/u%00v".into(),
            "/ido/api/v2/journeys/j%00k".into(),
            "/ido/api/v2/connections/c%00d".into(),
            "/ido/api/v2/journeys/j1/runs/t%00u".into(),
            "/cis/v1/users?email=a%00b".into(),
            "/cis/v1/users?phone_number=%00".into(),
            "/cis/v1/dev/outbox?to=a%00b".into(),
        ] {
            let (s, v) = send(&srv, Method::GET, &path, Some(&admin), None).await;
            check(&format!("{} GET {path}", b.name), s, &v);
            assert!(s.is_client_error(), "{} GET {path}: {s}", b.name);
        }
        let r = srv
            .http
            .post(srv.url("/ido/api/v2/invoke-api-journey/j%00?clientId=a%00"))
            .json(&json!({"k\u{0}": "v\u{0}"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
        srv.stop().await;
    }
}
