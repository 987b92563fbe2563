//! The token endpoint (client credentials), introspection and revocation, with every error
//! case of RFC 6749 §5.2, RFC 7009 and RFC 8707.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, claims, header, verify_with_jwks, TestServer};

async fn oauth_error(r: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap())
}

#[tokio::test]
async fn client_credentials_token_has_rfc9068_claims_and_verifies_independently() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["pragma"], "no-cache");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let token = body["access_token"].as_str().unwrap();
        let h = header(token);
        assert_eq!(h["typ"], "at+jwt");
        assert_eq!(h["alg"], "ES256");
        let c = verify_with_jwks(&srv, token, "userid-api").await;
        assert_eq!(c["sub"], client_id.as_str());
        assert_eq!(c["client_id"], client_id.as_str());
        assert_eq!(c["app_id"], app_id.as_str());
        assert_eq!(c["app_name"], "Test app");
        assert_eq!(c["aud"], "userid-api");
        assert_eq!(c["roles"], json!([]));
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            3600
        );
        assert!(c["jti"].as_str().unwrap().len() >= 16);
        // The admin's token carries the admin role.
        assert_eq!(claims(&admin)["roles"], json!(["admin"]));
        srv.stop().await;
    }
}

#[tokio::test]
async fn each_signing_algorithm_verifies_through_the_jwks() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        for alg in ["ES256", "RS256", "EdDSA"] {
            let (_, id, secret) = srv
                .app_and_client(&admin, json!({"access_token_signed_response_alg": alg}))
                .await;
            let token = srv.token(&id, &secret).await;
            assert_eq!(header(&token)["alg"], alg);
            let c = verify_with_jwks(&srv, &token, "userid-api").await;
            assert_eq!(c["client_id"], id.as_str());
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn basic_auth_with_form_encoded_credentials_and_method_enforcement() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv
            .app_and_client(
                &admin,
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await;
        // openid-client style: each part form-urlencoded before base64 (here '-' as %2D).
        let encoded_id = id.replace('-', "%2D");
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{encoded_id}:{secret}"));
        let r = srv
            .http
            .post(srv.url("/cis/oidc/token"))
            .header("authorization", format!("Basic {basic}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        // The registered method is enforced: the same credentials in the form are refused.
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await;
        let (status, headers, body) = oauth_error(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key("www-authenticate"));
        assert_eq!(body["error"], "invalid_client");
        // Two methods at once are an invalid request.
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("authorization", format!("Basic {basic}"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .unwrap();
        let (status, _, body) = oauth_error(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
        // A wrong secret over Basic: 401 with a Basic challenge.
        let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{id}:nope"));
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("authorization", format!("Basic {wrong}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let (status, headers, body) = oauth_error(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        assert_eq!(body["error"], "invalid_client");
        srv.stop().await;
    }
}

#[tokio::test]
async fn token_endpoint_error_cases_follow_rfc6749() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv
            .app_and_client(&admin, json!({"allowed_scopes": ["read"], "allowed_resources": ["https://api.example.test/payments"]}))
            .await;
        type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
        let cases: Vec<Case> = vec![
            (
                vec![("client_id", &id), ("client_secret", &secret)],
                400,
                "invalid_request",
            ),
            (
                vec![
                    ("grant_type", "password"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
                400,
                "unsupported_grant_type",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", "wrong"),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", "unknown"),
                    ("client_secret", "x"),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![("grant_type", "client_credentials"), ("client_id", &id)],
                401,
                "invalid_client",
            ),
            (
                vec![("grant_type", "client_credentials")],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("scope", "write"),
                ],
                400,
                "invalid_scope",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("resource", "https://elsewhere.test/"),
                ],
                400,
                "invalid_target",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("resource", "not-absolute"),
                ],
                400,
                "invalid_target",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("resource", "https://api.example.test/payments#x"),
                ],
                400,
                "invalid_target",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
                400,
                "invalid_request",
            ),
        ];
        for (pairs, status, error) in cases {
            let r = srv.form("/oidc/token", &pairs).await;
            let (s, headers, body) = oauth_error(r).await;
            assert_eq!(s.as_u16(), status, "{pairs:?} on {}", b.name);
            assert_eq!(body["error"], error, "{pairs:?}");
            assert!(body["error_description"].is_string());
            assert_eq!(headers["cache-control"], "no-store");
            if status == 401 {
                assert!(headers.contains_key("www-authenticate"), "{pairs:?}");
            }
        }
        // Wrong content type.
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
        let (s, _, body) = oauth_error(r).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
        srv.stop().await;
    }
}

#[tokio::test]
async fn scope_and_resource_shape_the_token() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv
            .app_and_client(
                &admin,
                json!({"allowed_scopes": ["read", "write"], "allowed_resources": ["https://api.example.test/a", "https://api.example.test/b"]}),
            )
            .await;
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("scope", "read"),
                    ("resource", "https://api.example.test/a"),
                ],
            )
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["scope"], "read");
        let token = body["access_token"].as_str().unwrap();
        let c = verify_with_jwks(&srv, token, "https://api.example.test/a").await;
        assert_eq!(c["aud"], "https://api.example.test/a");
        assert_eq!(c["scope"], "read");
        // Two resources: aud is an array.
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("resource", "https://api.example.test/a"),
                    ("resource", "https://api.example.test/b"),
                ],
            )
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            claims(body["access_token"].as_str().unwrap())["aud"],
            json!(["https://api.example.test/a", "https://api.example.test/b"])
        );
        // A token for another audience is not accepted by Tessera's own API.
        let (s, _) = srv
            .send_json(Method::GET, "/cis/v1/applications", token, None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

async fn introspect(srv: &TestServer, id: &str, secret: &str, token: &str) -> Value {
    let r = srv
        .form(
            "/oidc/introspect",
            &[
                ("client_id", id),
                ("client_secret", secret),
                ("token", token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn introspection_and_revocation() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv.app_and_client(&admin, json!({})).await;
        let (_, other_id, other_secret) = srv.app_and_client(&admin, json!({})).await;
        let token = srv.token(&id, &secret).await;
        let active = introspect(&srv, &other_id, &other_secret, &token).await;
        assert_eq!(active["active"], true);
        assert_eq!(active["client_id"], id.as_str());
        assert_eq!(active["token_type"], "Bearer");
        assert!(active["exp"].is_i64());
        // Garbage introspects as inactive, with nothing else.
        assert_eq!(
            introspect(&srv, &id, &secret, "garbage").await,
            json!({"active": false})
        );
        // Introspection needs client authentication.
        let r = srv
            .form(
                "/oidc/introspect",
                &[
                    ("client_id", &id),
                    ("client_secret", "bad"),
                    ("token", &token),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Another client may not revoke it.
        let r = srv
            .form(
                "/oidc/revoke",
                &[
                    ("client_id", &other_id),
                    ("client_secret", &other_secret),
                    ("token", &token),
                ],
            )
            .await;
        let (s, _, body) = oauth_error(r).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(introspect(&srv, &id, &secret, &token).await["active"], true);
        // Its own client may; then it is inactive.
        let r = srv
            .form(
                "/oidc/revoke",
                &[
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("token", &token),
                    ("token_type_hint", "access_token"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            introspect(&srv, &id, &secret, &token).await,
            json!({"active": false})
        );
        // Revoking an unknown token is a success (RFC 7009 §2.2).
        let r = srv
            .form(
                "/oidc/revoke",
                &[
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("token", "unknown"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        // A missing token parameter is invalid_request.
        let r = srv
            .form(
                "/oidc/revoke",
                &[("client_id", &id), ("client_secret", &secret)],
            )
            .await;
        assert_eq!(oauth_error(r).await.2["error"], "invalid_request");
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_revoked_admin_token_is_refused_by_the_admin_api() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, _) = srv
            .send_json(Method::GET, "/cis/v1/applications", &admin, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let r = srv
            .form(
                "/oidc/revoke",
                &[
                    ("client_id", crate::harness::ADMIN_ID),
                    ("client_secret", crate::harness::ADMIN_SECRET),
                    ("token", &admin),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = srv
            .http
            .get(srv.url("/cis/v1/applications"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        srv.stop().await;
    }
}

#[tokio::test]
async fn expired_tokens_are_refused_and_introspect_inactive() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv
            .app_and_client(&admin, json!({"access_token_ttl": 60}))
            .await;
        let token = srv.token(&id, &secret).await;
        assert_eq!(introspect(&srv, &id, &secret, &token).await["active"], true);
        srv.clock.advance_s(61);
        assert_eq!(
            introspect(&srv, &id, &secret, &token).await,
            json!({"active": false})
        );
        // The admin token (1 h) expires too once past its leeway.
        srv.clock.advance_s(3600 + 31);
        let r = srv
            .http
            .get(srv.url("/cis/v1/applications"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}
