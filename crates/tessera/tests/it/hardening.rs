//! Regression tests for the defects an attack on the running server found (the hardening
//! issue), each on every backend.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, code, paths, TestServer};

async fn create_client(
    srv: &TestServer,
    admin: &str,
    app_id: &str,
    body: Value,
) -> (StatusCode, Value) {
    srv.post(
        &format!("/cis/v1/applications/{app_id}/clients"),
        admin,
        body,
    )
    .await
}

/// `redirect_uris` accepted any scheme (`javascript:`), and names control characters.
#[tokio::test]
async fn redirect_uris_and_names_are_validated() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, _, _) = srv.app_and_client(&admin, json!({})).await;
        for uri in [
            "javascript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "http://app.example/cb",
            "https://app.example/cb#fragment",
        ] {
            let (s, v) = create_client(
                &srv,
                &admin,
                &app_id,
                json!({"name": "c", "redirect_uris": [uri]}),
            )
            .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {uri}: {v}", b.name);
            assert_eq!(code(&v), "invalid_request");
        }
        for uri in [
            "https://app.example/cb",
            "http://127.0.0.1:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            let (s, v) = create_client(
                &srv,
                &admin,
                &app_id,
                json!({"name": "c", "redirect_uris": [uri]}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{} {uri}: {v}", b.name);
        }
        for body in [
            json!({"name": "bad\u{0}name"}),
            json!({"name": "line\nbreak"}),
            json!({"name": "ok", "description": "nul\u{0}"}),
        ] {
            let (s, v) = srv.post("/cis/v1/applications", &admin, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {body}: {v}", b.name);
            let (s, v) = create_client(&srv, &admin, &app_id, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {body}: {v}", b.name);
        }
        srv.stop().await;
    }
}

/// `grace_period_s: 4294967295` kept the old secret valid until 2163.
#[tokio::test]
async fn the_secret_rotation_grace_period_is_capped_at_30_days() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, client_id, _) = srv.app_and_client(&admin, json!({})).await;
        let path = format!("/cis/v1/applications/{app_id}/clients/{client_id}/secret");
        let (s, v) = srv
            .post(&path, &admin, json!({"grace_period_s": 4_294_967_295u64}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", b.name);
        let (s, v) = srv
            .post(&path, &admin, json!({"grace_period_s": 30 * 24 * 3600 + 1}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", b.name);
        let (s, v) = srv
            .post(&path, &admin, json!({"grace_period_s": 30 * 24 * 3600}))
            .await;
        assert_eq!(s, StatusCode::OK, "{}: {v}", b.name);
        srv.stop().await;
    }
}

/// Basic credentials without base64 padding were refused; the challenge of a 401
/// `invalid_client` lacked `error="invalid_client"`.
#[tokio::test]
async fn basic_credentials_without_padding_work_and_challenges_name_the_error() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv
            .app_and_client(
                &admin,
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await;
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(format!("{client_id}:{secret}"));
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("authorization", format!("Basic {unpadded}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:nope"));
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("authorization", format!("Basic {wrong}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        assert!(
            challenge.contains("error=\"invalid_client\""),
            "{challenge}"
        );
        srv.stop().await;
    }
}

/// `/cis/v1/users*` answers (personal data) lacked `Cache-Control: no-store`.
#[tokio::test]
async fn user_answers_are_never_cached() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let user_id = srv
            .create_user(
                &admin,
                json!({"username": "nina", "email": "nina@example.com"}),
            )
            .await;
        for (method, path, body) in [
            (Method::GET, paths::USERS.to_string(), None),
            (Method::GET, format!("{}/{user_id}", paths::USERS), None),
            (Method::GET, "/cis/v1/users/username/nina".to_string(), None),
            (
                Method::PATCH,
                format!("{}/{user_id}", paths::USERS),
                Some(json!({"external_user_id": "x"})),
            ),
            (
                Method::POST,
                paths::USERS.to_string(),
                Some(json!({"username": "other"})),
            ),
        ] {
            let mut req = srv
                .http
                .request(method.clone(), srv.url(&path))
                .bearer_auth(&admin);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{method} {path}");
            assert_eq!(r.headers()["cache-control"], "no-store", "{method} {path}");
        }
        srv.stop().await;
    }
}
