//! Password authentication, sessions and user tokens end to end: tokens verified with an
//! independent JOSE library, the same error for wrong passwords and unknown users, lockout
//! and its expiry on the test clock, disabled users, silent authentication from another
//! client, logout, invalid sessions, userinfo by scope, permissions and bad input.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::paths::{LOGOUT, PASSWORD, SESSION_AUTH, USERINFO};
use crate::harness::{backends, claims, code, header, verify_with_jwks, TestServer, SECRET};

/// Creates a user with a password; returns its user_id.
async fn user(srv: &TestServer, token: &str, username: &str, email: &str) -> String {
    let (s, u) = srv
        .send_json(
            Method::POST,
            "/cis/v1/users",
            token,
            Some(json!({
                "username": username,
                "email": email,
                "email_verified": true,
                "phone_number": if username == "ann" { "+14155550100" } else { "+14155550101" },
                "external_user_id": format!("ext-{username}"),
                "name": {"first_name": "Ann", "last_name": "Lee"},
                "credentials": {"password": SECRET},
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    u["result"]["user_id"].as_str().unwrap().to_string()
}

async fn login(srv: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    srv.login(token, body).await
}

async fn login_ok(srv: &TestServer, token: &str, username: &str) -> Value {
    srv.login_ok(token, username).await
}

#[tokio::test]
async fn a_password_login_issues_tokens_that_verify_with_the_right_claims() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (client_id, token) = srv.client(&admin, json!({})).await;
        let user_id = user(&srv, &token, "ann", "Ann@Example.com").await;

        let r = srv
            .http
            .post(srv.url(PASSWORD))
            .bearer_auth(&token)
            .json(&json!({"username": "ANN", "password": SECRET, "device_id": "d1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let session_id = body["session_id"].as_str().unwrap();
        assert!(session_id.len() >= 43);

        let at = body["access_token"].as_str().unwrap();
        assert_eq!(header(at)["typ"], "at+jwt");
        let c = verify_with_jwks(&srv, at, "userid-api").await;
        assert_eq!(c["sub"], user_id.as_str());
        assert_eq!(c["client_id"], client_id.as_str());
        assert_eq!(c["amr"], json!(["pwd"]));
        assert_eq!(c["scope"], "openid email phone profile");
        assert!(c["app_id"].is_string() && c["jti"].is_string());
        let sid = c["sid"].as_str().unwrap().to_string();
        assert_ne!(sid, session_id, "sid must not be the secret session id");
        let auth_time = c["auth_time"].as_i64().unwrap();
        assert!((c["iat"].as_i64().unwrap() - auth_time).abs() <= 1);

        let id = body["id_token"].as_str().unwrap();
        assert_eq!(header(id)["alg"], "RS256");
        assert_eq!(header(id)["typ"], "JWT");
        let c = verify_with_jwks(&srv, id, &client_id).await;
        assert_eq!(c["aud"], client_id.as_str());
        assert_eq!(c["sub"], user_id.as_str());
        assert_eq!(c["amr"], json!(["pwd"]));
        assert_eq!(c["sid"], sid.as_str());
        assert_eq!(c["auth_time"], auth_time);
        assert_eq!(c["email"], "Ann@Example.com");
        assert_eq!(c["email_verified"], true);
        assert_eq!(c["phone_number"], "+14155550100");
        assert_eq!(c["phone_number_verified"], false);
        assert_eq!(c["name"], "Ann Lee");
        assert_eq!(c["given_name"], "Ann");
        assert_eq!(c["family_name"], "Lee");
        assert_eq!(c["external_user_id"], "ext-ann");

        // The email address works as the login name too.
        let by_email = login_ok(&srv, &token, " ann@example.COM").await;
        assert_eq!(
            claims(by_email["access_token"].as_str().unwrap())["sub"],
            user_id.as_str()
        );
        assert_ne!(by_email["session_id"], body["session_id"]);

        // The user access token works at userinfo, GET and POST.
        for method in [Method::GET, Method::POST] {
            let (s, info) = srv.send_json(method, USERINFO, at, None).await;
            assert_eq!(s, StatusCode::OK, "{info}");
            assert_eq!(info["sub"], user_id.as_str());
            assert_eq!(info["email"], "Ann@Example.com");
            assert_eq!(info["family_name"], "Lee");
        }
        // The ID token is never an access token.
        let (s, _) = srv.send_json(Method::GET, USERINFO, id, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_get_the_same_error() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = srv.client(&admin, json!({})).await;
        user(&srv, &token, "ann", "ann@example.com").await;
        let (s1, wrong) = login(&srv, &token, json!({"username": "ann", "password": "nope"})).await;
        let (s2, unknown) =
            login(&srv, &token, json!({"username": "bob", "password": "nope"})).await;
        let (s3, unknown_mail) = login(
            &srv,
            &token,
            json!({"username": "bob@x.example", "password": SECRET}),
        )
        .await;
        assert_eq!(s1, StatusCode::BAD_REQUEST, "{}", b.name);
        assert_eq!(code(&wrong), "auth_invalid_credentials");
        assert_eq!((s2, &unknown), (s1, &wrong));
        assert_eq!((s3, &unknown_mail), (s1, &wrong));
        srv.stop().await;
    }
}

#[tokio::test]
async fn failures_lock_the_password_until_the_lockout_ends() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = srv.client(&admin, json!({})).await;
        user(&srv, &token, "ann", "ann@example.com").await;
        let wrong = json!({"username": "ann", "password": "wrong password"});

        // A success resets the count.
        for _ in 0..4 {
            let (s, v) = login(&srv, &token, wrong.clone()).await;
            assert_eq!(code(&v), "auth_invalid_credentials", "{s}");
        }
        login_ok(&srv, &token, "ann").await;
        for _ in 0..4 {
            let (s, _) = login(&srv, &token, wrong.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{}", b.name);
        }
        // The fifth failure in a row locks.
        let (s, v) = login(&srv, &token, wrong.clone()).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "auth_locked"), "{v}");
        let (s, v) = login(&srv, &token, json!({"username": "ann", "password": SECRET})).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "auth_locked"));

        srv.clock.advance_s(14 * 60);
        let (s, _) = login(&srv, &token, json!({"username": "ann", "password": SECRET})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        srv.clock.advance_s(61);
        login_ok(&srv, &token, "ann").await;
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_disabled_user_is_refused_and_its_tokens_stop_working() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = srv.client(&admin, json!({})).await;
        let user_id = user(&srv, &token, "ann", "ann@example.com").await;
        let tokens = login_ok(&srv, &token, "ann").await;
        let at = tokens["access_token"].as_str().unwrap();
        let (s, _) = srv.send_json(Method::GET, USERINFO, at, None).await;
        assert_eq!(s, StatusCode::OK);

        let (s, _) = srv
            .send_json(
                Method::PATCH,
                &format!("/cis/v1/users/{user_id}"),
                &token,
                Some(json!({"status": "disabled"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = login(&srv, &token, json!({"username": "ann", "password": SECRET})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "user_not_active"),
            "{}",
            b.name
        );
        // A wrong password still says only that the credentials are wrong.
        let (s, v) = login(&srv, &token, json!({"username": "ann", "password": "nope"})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );
        let (s, _) = srv.send_json(Method::GET, USERINFO, at, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let session = json!({"session_id": tokens["session_id"]});
        let (s, v) = srv
            .send_json(Method::POST, SESSION_AUTH, &token, Some(session))
            .await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "user_not_active"));
        srv.stop().await;
    }
}

#[tokio::test]
async fn sessions_give_silent_authentication_to_other_clients_until_logout() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = srv.client(&admin, json!({})).await;
        let (other_id, other) = srv
            .client(&admin, json!({"id_token_signed_response_alg": "ES256"}))
            .await;
        let user_id = user(&srv, &token, "ann", "ann@example.com").await;
        let first = login_ok(&srv, &token, "ann").await;
        let sid = claims(first["access_token"].as_str().unwrap())["sid"].clone();
        let session = json!({"session_id": first["session_id"]});

        srv.clock.advance_s(30);
        let r = srv
            .http
            .post(srv.url(SESSION_AUTH))
            .bearer_auth(&other)
            .json(&session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let silent: Value = r.json().await.unwrap();
        assert_eq!(silent["session_id"], first["session_id"]);
        let id = silent["id_token"].as_str().unwrap();
        assert_eq!(header(id)["alg"], "ES256");
        let c = claims(id);
        assert_eq!(c["aud"], other_id.as_str());
        assert_eq!(c["sub"], user_id.as_str());
        assert_eq!(c["sid"], sid);
        assert_eq!(c["amr"], json!(["pwd"]));
        // Silent authentication keeps the time the user authenticated.
        assert_eq!(
            c["auth_time"],
            claims(first["id_token"].as_str().unwrap())["auth_time"]
        );
        let silent_at = silent["access_token"].as_str().unwrap();
        assert_eq!(claims(silent_at)["client_id"], other_id.as_str());

        // Adding the same method to the session keeps its sid.
        let (s, again) = login(
            &srv,
            &token,
            json!({"username": "ann", "password": SECRET, "session_id": first["session_id"]}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{again}");
        assert_eq!(again["session_id"], first["session_id"]);
        assert_eq!(claims(again["access_token"].as_str().unwrap())["sid"], sid);

        let (s, v) = srv
            .send_json(Method::POST, LOGOUT, &other, Some(session.clone()))
            .await;
        // The platform's answer: 204, no body.
        assert_eq!((s, &v), (StatusCode::NO_CONTENT, &Value::Null));
        let (s, v) = srv
            .send_json(Method::POST, SESSION_AUTH, &token, Some(session.clone()))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_session_invalid")
        );
        let (s, v) = srv
            .send_json(Method::POST, LOGOUT, &token, Some(session.clone()))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_session_invalid")
        );
        for at in [first["access_token"].as_str().unwrap(), silent_at] {
            let r = srv
                .http
                .get(srv.url(USERINFO))
                .bearer_auth(at)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            let challenge = r.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn invalid_sessions_are_refused_and_change_nothing() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv
            .app_and_client(&admin, json!({"session_expiration": 100_000}))
            .await;
        let mut token = srv.token(&client_id, &secret).await;
        user(&srv, &token, "ann", "ann@example.com").await;
        user(&srv, &token, "bob", "bob@example.com").await;
        let ann = login_ok(&srv, &token, "ann").await;
        let ann_session = ann["session_id"].clone();

        let with_session = |name: &str, session: &Value| json!({"username": name, "password": SECRET, "session_id": session});
        for bad in [json!("unknown-session"), json!("")] {
            let (s, v) = login(&srv, &token, with_session("ann", &bad)).await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::BAD_REQUEST, "auth_session_invalid"),
                "{}",
                b.name
            );
            let (s, v) = srv
                .send_json(
                    Method::POST,
                    SESSION_AUTH,
                    &token,
                    Some(json!({"session_id": bad})),
                )
                .await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::BAD_REQUEST, "auth_session_invalid")
            );
        }
        // Another user's session.
        let (s, v) = login(&srv, &token, with_session("bob", &ann_session)).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_session_invalid")
        );
        let (s, still) = srv
            .send_json(
                Method::POST,
                SESSION_AUTH,
                &token,
                Some(json!({"session_id": ann_session})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            claims(still["access_token"].as_str().unwrap())["sub"],
            claims(ann["access_token"].as_str().unwrap())["sub"]
        );

        // Idle for longer than the idle timeout (24 h).
        srv.clock.advance_s(24 * 3600 + 1);
        token = srv.token(&client_id, &secret).await;
        let (s, v) = login(&srv, &token, with_session("ann", &ann_session)).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_session_invalid")
        );

        // Past its absolute end (100 000 s), even if used in between.
        let fresh = login_ok(&srv, &token, "ann").await;
        let session = json!({"session_id": fresh["session_id"]});
        for _ in 0..2 {
            srv.clock.advance_s(49_999);
            token = srv.token(&client_id, &secret).await;
            let (s, v) = srv
                .send_json(Method::POST, SESSION_AUTH, &token, Some(session.clone()))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        srv.clock.advance_s(2);
        token = srv.token(&client_id, &secret).await;
        let (s, v) = srv
            .send_json(Method::POST, SESSION_AUTH, &token, Some(session.clone()))
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_session_invalid")
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn userinfo_releases_claims_by_scope_and_wants_a_user_token() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = srv
            .client(&admin, json!({"default_scopes": ["openid", "email"]}))
            .await;
        let user_id = user(&srv, &token, "ann", "ann@example.com").await;
        let tokens = login_ok(&srv, &token, "ann").await;
        let at = tokens["access_token"].as_str().unwrap();
        assert_eq!(claims(at)["scope"], "openid email");
        let (s, info) = srv.send_json(Method::GET, USERINFO, at, None).await;
        assert_eq!(s, StatusCode::OK, "{}", b.name);
        assert_eq!(
            info,
            json!({
                "sub": user_id,
                "email": "ann@example.com",
                "email_verified": true,
                "external_user_id": "ext-ann",
            })
        );
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert!(id.get("phone_number").is_none() && id.get("name").is_none());

        // A client token is not a user token; no token at all is a bare challenge.
        let r = srv
            .http
            .get(srv.url(USERINFO))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
        let r = srv.http.get(srv.url(USERINFO)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));

        let (s, doc) = srv
            .send_json(Method::GET, "/.well-known/openid-configuration", "", None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            doc["userinfo_endpoint"],
            format!("{}/oidc/userinfo", srv.issuer)
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn the_auth_apis_need_their_permissions() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, full) = srv.client(&admin, json!({})).await;
        let (_, limited) = srv
            .client(
                &admin,
                json!({"permissions": ["users:read", "users:write"]}),
            )
            .await;
        user(&srv, &full, "ann", "ann@example.com").await;
        let tokens = login_ok(&srv, &full, "ann").await;
        let session = json!({"session_id": tokens["session_id"]});

        let (s, v) = login(
            &srv,
            &limited,
            json!({"username": "ann", "password": SECRET}),
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "insufficient_permissions"),
            "{}",
            b.name
        );
        for path in [SESSION_AUTH, LOGOUT] {
            let (s, v) = srv
                .send_json(Method::POST, path, &limited, Some(session.clone()))
                .await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::FORBIDDEN, "insufficient_permissions")
            );
        }
        // A user token cannot call the backend APIs.
        let at = tokens["access_token"].as_str().unwrap();
        let (s, _) = srv
            .send_json(Method::POST, SESSION_AUTH, at, Some(session.clone()))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = srv
            .send_json(Method::POST, SESSION_AUTH, "garbage", Some(session))
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

#[tokio::test]
async fn bad_input_is_a_400_never_a_500() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = srv.client(&admin, json!({})).await;
        user(&srv, &token, "ann", "ann@example.com").await;
        let cases = [
            (json!({"username": "ann"}), "invalid_request_body"),
            (json!({"password": SECRET}), "invalid_request_body"),
            (
                json!({"username": 1, "password": SECRET}),
                "invalid_request_body",
            ),
            (
                json!({"username": "ann", "password": SECRET, "claims": "x"}),
                "invalid_request_body",
            ),
            (
                json!({"username": "an\u{0}n", "password": SECRET}),
                "auth_invalid_credentials",
            ),
            (
                json!({"username": "a\u{0}@x.example", "password": "p\u{0}"}),
                "auth_invalid_credentials",
            ),
            (
                json!({"username": "", "password": ""}),
                "auth_invalid_credentials",
            ),
            (
                json!({"username": "ann", "password": SECRET, "session_id": "s\u{0}"}),
                "auth_session_invalid",
            ),
            (
                json!({"username": "ann", "password": "x".repeat(2000)}),
                "invalid_request",
            ),
            (
                // OAuth codes keep their names on REST endpoints (RFC 8707).
                json!({"username": "ann", "password": SECRET, "resource": "https://not.allowed"}),
                "invalid_target",
            ),
            (
                json!({"username": "ann", "password": SECRET, "resource": "not a uri"}),
                "invalid_target",
            ),
        ];
        for (body, expected) in cases {
            let (s, v) = login(&srv, &token, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {body} {v}", b.name);
            assert_eq!(code(&v), expected, "{body}");
        }
        for path in [SESSION_AUTH, LOGOUT] {
            for body in [
                json!({}),
                json!({"session_id": 5}),
                json!({"session_id": "\u{0}"}),
            ] {
                let (s, v) = srv
                    .send_json(Method::POST, path, &token, Some(body.clone()))
                    .await;
                assert_eq!(s, StatusCode::BAD_REQUEST, "{path} {body} {v}");
            }
        }
        let r = srv
            .http
            .post(srv.url(PASSWORD))
            .bearer_auth(&token)
            .body("username=ann")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        srv.stop().await;
    }
}
