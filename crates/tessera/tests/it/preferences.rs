//! Login preferences end to end: defaults, merge-patch updates, precise validation errors,
//! admin-only access, propagation to a second node, and their effect on password login
//! (failure limit, lockout length, minimum length, the method switch).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;
use zeroize::Zeroizing;

use crate::harness::paths::PREFS;
use crate::harness::{backends, code, now_ms, TestServer, ADMIN_ID, ADMIN_SECRET, SECRET};
use crate::multi_node::{eventually, node_config, shared_kek};

async fn put(srv: &TestServer, admin: &str, body: Value) -> (StatusCode, Value) {
    srv.send_json(Method::PUT, PREFS, admin, Some(body)).await
}

/// A client token with every default permission.
async fn client_token(srv: &TestServer, admin: &str) -> String {
    srv.client_token(admin, json!({})).await
}

async fn create_user(srv: &TestServer, token: &str, username: &str) -> (StatusCode, Value) {
    srv.send_json(
        Method::POST,
        "/cis/v1/users",
        token,
        Some(json!({"username": username, "credentials": {"password": SECRET}})),
    )
    .await
}

async fn login(srv: &TestServer, token: &str, password: &str) -> (StatusCode, Value) {
    srv.login(token, json!({"username": "ann", "password": password}))
        .await
}

#[tokio::test]
async fn get_returns_the_defaults() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, v) = srv.send_json(Method::GET, PREFS, &admin, None).await;
        assert_eq!(s, StatusCode::OK, "{v} on {}", b.name);
        assert_eq!(
            v,
            json!({
                "auth_methods": {"password": true, "email_otp": true, "sms": true, "email": true},
                "otp": {
                    "code_length": 6, "expires_in": 5, "max_failures": 3, "lockout": 15,
                    "cross_clients_allowed": false
                },
                "magic_link": {"expires_in": 15},
                "password": {
                    "min_length": 8, "max_failures": 5, "failures_expire_in": 15, "lockout": 15,
                    "reset_expires_in": 5
                },
            })
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn put_merges_and_keeps_other_fields_and_survives_a_restart() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, v) = put(&srv, &admin, json!({"otp": {"code_length": 8}})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["otp"]["code_length"], 8);
        assert_eq!(
            v["otp"]["expires_in"], 5,
            "other fields of the section are kept"
        );
        assert_eq!(v["password"]["max_failures"], 5, "other sections are kept");

        let (s, v) = put(
            &srv,
            &admin,
            json!({"otp": {"lockout": 30}, "auth_methods": {"sms": false}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["otp"]["code_length"], 8, "earlier changes are kept");
        assert_eq!(v["otp"]["lockout"], 30);
        assert_eq!(v["auth_methods"]["sms"], false);
        assert_eq!(v["auth_methods"]["email"], true);

        // `null` resets a field to its default.
        let (s, v) = put(&srv, &admin, json!({"otp": {"code_length": null}})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["otp"]["code_length"], 6);
        assert_eq!(v["otp"]["lockout"], 30);

        let (_, got) = srv.send_json(Method::GET, PREFS, &admin, None).await;
        assert_eq!(got, v);
        srv.stop().await;

        // Stored in the database, not only in the node's memory.
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, after) = srv.send_json(Method::GET, PREFS, &admin, None).await;
        assert_eq!(after, v, "on {}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn invalid_values_and_unknown_fields_are_refused_naming_the_field() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let cases = [
            (json!({"otp": {"code_length": 9}}), "otp.code_length"),
            (json!({"otp": {"code_length": 3}}), "otp.code_length"),
            (
                json!({"password": {"max_failures": 0}}),
                "password.max_failures",
            ),
            (json!({"password": {"lockout": 1441}}), "password.lockout"),
            (
                json!({"password": {"min_length": 7}}),
                "password.min_length",
            ),
            (
                json!({"magic_link": {"expires_in": 61}}),
                "magic_link.expires_in",
            ),
            (json!({"otp": {"code_length": "6"}}), "otp.code_length"),
            (json!({"otp": {"code_length": -1}}), "otp.code_length"),
            (
                json!({"auth_methods": {"password": "yes"}}),
                "auth_methods.password",
            ),
            (json!({"otp": 5}), "otp"),
            (json!({"bogus": true}), "bogus"),
            (json!({"otp": {"bogus": 1}}), "otp.bogus"),
        ];
        for (body, field) in cases {
            let (s, v) = put(&srv, &admin, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body} on {}", b.name);
            assert_eq!(code(&v), "invalid_request", "{body}: {v}");
            let message = v["message"].as_str().unwrap();
            assert!(message.contains(&format!("`{field}`")), "{body}: {message}");
        }
        for body in [json!([1]), json!("x"), json!(null)] {
            let (s, v) = put(&srv, &admin, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        }
        // Nothing was stored by the refused requests.
        let (_, v) = srv.send_json(Method::GET, PREFS, &admin, None).await;
        assert_eq!(v["otp"]["code_length"], 6);
        assert!(v.get("bogus").is_none());
        srv.stop().await;
    }
}

#[tokio::test]
async fn only_admins_read_or_change_the_preferences() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = client_token(&srv, &admin).await;
        let (s, v) = srv.send_json(Method::GET, PREFS, &token, None).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
        let (s, v) = put(&srv, &token, json!({"otp": {"code_length": 8}})).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
        let r = srv.http.get(srv.url(PREFS)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let (_, v) = srv.send_json(Method::GET, PREFS, &admin, None).await;
        assert_eq!(
            v["otp"]["code_length"], 6,
            "the refused PUT changed nothing"
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_change_on_one_node_reaches_the_other() {
    for b in backends().await {
        let kek = shared_kek();
        let admin_creds = Some((
            ADMIN_ID.to_string(),
            Zeroizing::new(ADMIN_SECRET.to_string()),
        ));
        let mut ca = node_config(&b, "a", &kek);
        ca.admin = admin_creds.clone();
        let mut cb = node_config(&b, "b", &kek);
        cb.admin = admin_creds;
        let a = TestServer::start(ca, TestClock::new(now_ms())).await;
        let n2 = TestServer::start(cb, TestClock::new(now_ms())).await;
        let admin_a = a.admin_token().await;
        let admin_b = n2.admin_token().await;
        let (s, _) = n2.send_json(Method::GET, PREFS, &admin_b, None).await;
        assert_eq!(s, StatusCode::OK);

        let (s, v) = put(&a, &admin_a, json!({"password": {"max_failures": 2}})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        eventually("login preferences on the other node", || async {
            let (_, v) = n2.send_json(Method::GET, PREFS, &admin_b, None).await;
            v["password"]["max_failures"] == 2
        })
        .await;
        // A merge on B starts from A's change, not from B's old copy.
        let (s, v) = put(&n2, &admin_b, json!({"password": {"lockout": 5}})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["password"]["max_failures"], 2, "on {}", b.name);
        assert_eq!(v["password"]["lockout"], 5);
        a.stop().await;
        n2.stop().await;
    }
}

#[tokio::test]
async fn password_lockout_follows_the_preferences() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, v) = put(
            &srv,
            &admin,
            json!({"password": {"max_failures": 2, "lockout": 3, "min_length": 12}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let token = client_token(&srv, &admin).await;

        // `min_length` applies to new passwords.
        let (s, v) = srv
            .send_json(
                Method::POST,
                "/cis/v1/users",
                &token,
                Some(json!({"username": "bob", "credentials": {"password": "elevenchars"}})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let (s, v) = create_user(&srv, &token, "ann").await;
        assert_eq!(s, StatusCode::CREATED, "{v}");

        let (s, v) = login(&srv, &token, "wrong password").await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );
        // The second failure reaches `max_failures` = 2 and locks.
        let (s, v) = login(&srv, &token, "wrong password").await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "auth_locked"),
            "{v} on {}",
            b.name
        );
        let (s, v) = login(&srv, &token, SECRET).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "auth_locked"), "{v}");
        // The lockout lasts `lockout` = 3 minutes.
        srv.clock.advance_s(2 * 60);
        let (s, _) = login(&srv, &token, SECRET).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        srv.clock.advance_s(61);
        let (s, v) = login(&srv, &token, SECRET).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn disabling_password_refuses_password_login() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = client_token(&srv, &admin).await;
        let (s, v) = create_user(&srv, &token, "ann").await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, _) = login(&srv, &token, SECRET).await;
        assert_eq!(s, StatusCode::OK);

        let (s, v) = put(&srv, &admin, json!({"auth_methods": {"password": false}})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for password in [SECRET, "wrong password"] {
            let (s, v) = login(&srv, &token, password).await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::FORBIDDEN, "auth_login_preferences_missing"),
                "{v} on {}",
                b.name
            );
        }
        let (s, _) = put(&srv, &admin, json!({"auth_methods": {"password": true}})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = login(&srv, &token, SECRET).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}
