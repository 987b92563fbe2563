//! Connections through the real server: a `jwt_validator` fetching a JWKS and a `web_service`
//! with a secret header, both served by a local HTTP server (allowed by
//! `outbound.allow_cidrs`); secrets are write-only through the API.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::routing::get;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::Clock;
use tessera_jose::{Algorithm, JwkSet, SigningKey};

use crate::harness::backends;

const JOURNEY: &str = r#"
id: verified
type: backend_api
enforce_token: false
steps:
  - id: verify
    type: validate_token
    token: "@policy.request().body.token"
    validator: idp
    output: claims
    on_error: denied
  - id: lookup
    type: set_variables
    variables:
      profile: "@webrequests.profile(claims.sub)"
  - id: done
    type: http_complete
    status: 200
    body: "{user: claims.sub, tier: profile.body.tier}"
  - id: denied
    type: http_complete
    status: 403
    body: "{error: error.code}"
"#;

async fn start_idp(key: &SigningKey) -> String {
    let jwks = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let app = axum::Router::new()
        .route(
            "/jwks",
            get(move || async move { axum::Json(jwks.clone()) }),
        )
        .route(
            "/profile/{user}",
            get(|Path(user): Path<String>, headers: HeaderMap| async move {
                if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("k-secret-123") {
                    return (
                        axum::http::StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"error": "no key"})),
                    );
                }
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"user": user, "tier": "gold"})),
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn jwt_validator_and_web_service_connections_work_end_to_end() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let key = SigningKey::generate(Algorithm::ES256, "idp-key").unwrap();
        let idp = start_idp(&key).await;
        let (s, v) = srv
            .send_json(
                Method::PUT,
                "/ido/api/v2/connections/idp",
                &admin,
                Some(json!({"type": "jwt_validator", "issuer": "https://idp.test", "audience": "api", "algorithms": ["ES256"], "jwks_uri": format!("{idp}/jwks")})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = srv
            .send_json(
                Method::PUT,
                "/ido/api/v2/connections/profile",
                &admin,
                Some(json!({
                    "type": "web_service", "params": ["user_id"], "method": "GET",
                    "url": format!("{idp}/profile/${{user_id}}"),
                    "headers": {"X-Api-Key": {"value": "k-secret-123", "secret": true}}
                })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(
            !v.to_string().contains("k-secret-123"),
            "secrets are write-only: {v}"
        );
        let (_, v) = srv
            .send_json(Method::GET, "/ido/api/v2/connections", &admin, None)
            .await;
        assert_eq!(v["connections"].as_array().unwrap().len(), 2);
        assert!(!v.to_string().contains("k-secret-123"));
        // An invalid connection is refused with its field.
        let (s, v) = srv
            .send_json(Method::PUT, "/ido/api/v2/connections/bad", &admin, Some(json!({"type": "jwt_validator", "issuer": "x", "audience": "a", "algorithms": ["HS256"], "jwks_uri": "http://x"})))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error_code"], "invalid_journey");

        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/verified"))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(JOURNEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

        let now = srv.clock.now_s();
        let sign = |claims: Value| key.sign_jwt("JWT", claims.to_string().as_bytes()).unwrap();
        let invoke = |token: String| {
            let srv = &srv;
            async move {
                let r = srv
                    .http
                    .post(srv.url("/ido/api/v2/invoke-api-journey/verified"))
                    .json(&json!({"token": token}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                (status, r.json::<Value>().await.unwrap())
            }
        };
        let good = sign(
            json!({"iss": "https://idp.test", "aud": "api", "sub": "alice", "exp": now + 300}),
        );
        let (s, v) = invoke(good).await;
        assert_eq!(s, StatusCode::OK, "{v} on {}", b.name);
        assert_eq!(v, json!({"user": "alice", "tier": "gold"}));
        for bad in [
            sign(
                json!({"iss": "https://other.test", "aud": "api", "sub": "alice", "exp": now + 300}),
            ),
            sign(
                json!({"iss": "https://idp.test", "aud": "other", "sub": "alice", "exp": now + 300}),
            ),
            sign(
                json!({"iss": "https://idp.test", "aud": "api", "sub": "alice", "exp": now - 300}),
            ),
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.".to_string(),
        ] {
            let (s, v) = invoke(bad).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        }
        // Changing the secret to a wrong one (write-only) makes the web service refuse.
        let (s, _) = srv
            .send_json(
                Method::PUT,
                "/ido/api/v2/connections/profile",
                &admin,
                Some(json!({
                    "type": "web_service", "params": ["user_id"], "method": "GET",
                    "url": format!("{idp}/profile/${{user_id}}"),
                    "headers": {"X-Api-Key": {"value": "***", "secret": true}}
                })),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let good =
            sign(json!({"iss": "https://idp.test", "aud": "api", "sub": "bob", "exp": now + 300}));
        let (s, v) = invoke(good).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "the placeholder keeps the stored secret: {v}"
        );
        assert_eq!(v["tier"], "gold");

        // A kept secret cannot be sent somewhere else: another origin or another method with
        // the placeholder is refused (the review had the secret arrive at the admin's host).
        for (url, method) in [
            ("https://attacker.example/collect".to_string(), "GET"),
            (
                format!("{idp}/profile/${{user_id}}").replace("127.0.0.1", "localhost"),
                "GET",
            ),
            (format!("{idp}/profile/${{user_id}}"), "POST"),
        ] {
            let (s, v) = srv
                .send_json(
                    Method::PUT,
                    "/ido/api/v2/connections/profile",
                    &admin,
                    Some(json!({
                        "type": "web_service", "params": ["user_id"], "method": method,
                        "url": url,
                        "headers": {"X-Api-Key": {"value": "***", "secret": true}}
                    })),
                )
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {url} {method}: {v}", b.name);
            assert_eq!(v["error_code"], "invalid_journey");
            assert!(v.to_string().contains("X-Api-Key"), "{v}");
        }
        // Giving the value again is fine, wherever it goes.
        let (s, _) = srv
            .send_json(
                Method::PUT,
                "/ido/api/v2/connections/profile",
                &admin,
                Some(json!({
                    "type": "web_service", "params": ["user_id"], "method": "POST",
                    "url": "https://elsewhere.example/x",
                    "headers": {"X-Api-Key": {"value": "a-new-secret", "secret": true}}
                })),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        srv.stop().await;
    }
}
