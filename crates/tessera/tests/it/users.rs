//! The users API end to end: create, read, patch, delete and search; uniqueness of the
//! normalised addresses; verified flags; client permissions; passwords never leaving the
//! server; bad input answered with 400s.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::paths::USERS;
use crate::harness::{backends, TestServer};

/// A client token of a new client with the given permissions (`None`: the defaults).
async fn client_token(srv: &TestServer, admin: &str, permissions: Option<Value>) -> String {
    let fields = match permissions {
        Some(p) => json!({"permissions": p}),
        None => json!({}),
    };
    srv.client_token(admin, fields).await
}

async fn create(srv: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    srv.send_json(Method::POST, USERS, token, Some(body)).await
}

fn assert_no_password(v: &Value) {
    let text = v.to_string();
    for needle in ["password", "argon2", "credentials", "force_replace"] {
        assert!(!text.contains(needle), "{needle} leaked: {text}");
    }
}

#[tokio::test]
async fn users_are_created_read_patched_and_deleted() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = client_token(&srv, &admin, None).await;
        let (s, created) = create(
            &srv,
            &token,
            json!({
                "username": "Ann.Lee",
                "email": "  Ann@Example.com ",
                "phone_number": "+1 (415) 555-0100",
                "external_user_id": "ext-1",
                "name": {"first_name": "Ann", "last_name": "Lee"},
                "custom_data": {"tier": "gold", "prefs": {"lang": "en"}},
                "credentials": {"password": "correct horse battery", "force_replace": false},
            }),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{} {created}", b.name);
        assert_no_password(&created);
        let user_id = created["user_id"].as_str().unwrap().to_string();
        assert_eq!(created["email"], "Ann@Example.com");
        assert_eq!(created["email_verified"], false);
        assert_eq!(created["phone_number"], "+14155550100");
        assert_eq!(created["phone_number_verified"], false);
        assert_eq!(created["username"], "Ann.Lee");
        assert_eq!(created["status"], "active");
        assert_eq!(created["name"]["last_name"], "Lee");
        assert_eq!(created["created_at"], created["updated_at"]);

        let path = format!("{USERS}/{user_id}");
        let (s, got) = srv.send_json(Method::GET, &path, &token, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(got, created);
        assert_no_password(&got);

        // Username lookups ignore case.
        let (s, by_name) = srv
            .send_json(
                Method::GET,
                &format!("{USERS}/username/ANN.LEE"),
                &token,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{by_name}");
        assert_eq!(by_name["user_id"], user_id.as_str());

        // A merge patch changes what it names and keeps the rest.
        let (s, patched) = srv
            .send_json(
                Method::PATCH,
                &path,
                &token,
                Some(json!({
                    "name": {"first_name": "Anna"},
                    "custom_data": {"prefs": {"lang": null, "theme": "dark"}},
                    "external_user_id": null,
                    "status": "disabled",
                })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{patched}");
        assert_eq!(
            patched["name"],
            json!({"first_name": "Anna", "last_name": "Lee"})
        );
        assert_eq!(
            patched["custom_data"],
            json!({"tier": "gold", "prefs": {"theme": "dark"}})
        );
        assert!(patched.get("external_user_id").is_none(), "{patched}");
        assert_eq!(patched["status"], "disabled");
        assert_eq!(patched["email"], "Ann@Example.com");
        let (_, reread) = srv.send_json(Method::GET, &path, &token, None).await;
        assert_eq!(reread, patched);

        // A new password through PATCH is accepted and still never shown.
        let (s, with_password) = srv
            .send_json(
                Method::PATCH,
                &path,
                &token,
                Some(json!({"password": "another secret"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{with_password}");
        assert_no_password(&with_password);

        let (s, _) = srv.send_json(Method::DELETE, &path, &token, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, gone) = srv.send_json(Method::GET, &path, &token, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        let (s, gone) = srv.send_json(Method::DELETE, &path, &token, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        let (s, gone) = srv
            .send_json(
                Method::PATCH,
                &path,
                &token,
                Some(json!({"status": "active"})),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        let (s, gone) = srv
            .send_json(
                Method::GET,
                &format!("{USERS}/username/ann.lee"),
                &token,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        srv.stop().await;
    }
}

#[tokio::test]
async fn normalised_addresses_are_unique() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = client_token(&srv, &admin, None).await;
        let (s, first) = create(
            &srv,
            &token,
            json!({"email": "ann@example.com", "phone_number": "+44 20 7946 0958",
                   "username": "Ren\u{e9}"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{first}");

        for (body, field) in [
            (json!({"email": " ANN@Example.COM"}), "email"),
            (
                json!({"phone_number": "+44 (20) 7946-0958"}),
                "phone_number",
            ),
            (json!({"phone_number": "+44.20.7946.0958"}), "phone_number"),
            // Decomposed é, other case: the same username after NFC and lowercase.
            (json!({"username": "RENE\u{301}"}), "username"),
        ] {
            let (s, e) = create(&srv, &token, body.clone()).await;
            assert_eq!(s, StatusCode::CONFLICT, "{} {body} {e}", b.name);
            assert_eq!(e["error_code"], "user_already_exists");
            assert!(e["message"].as_str().unwrap().contains(field), "{e}");
        }

        // A second user may not be patched into the first one's address either.
        let (s, second) = create(&srv, &token, json!({"email": "bob@example.com"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let path = format!("{USERS}/{}", second["user_id"].as_str().unwrap());
        let (s, e) = srv
            .send_json(
                Method::PATCH,
                &path,
                &token,
                Some(json!({"email": "Ann@example.com"})),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(e["error_code"], "user_already_exists");
        assert!(e["message"].as_str().unwrap().contains("email"));
        let (_, unchanged) = srv.send_json(Method::GET, &path, &token, None).await;
        assert_eq!(unchanged["email"], "bob@example.com");
        srv.stop().await;
    }
}

#[tokio::test]
async fn changing_an_address_resets_its_verified_flag() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = client_token(&srv, &admin, None).await;
        let (s, u) = create(
            &srv,
            &token,
            json!({"email": "ann@example.com", "email_verified": true,
                   "phone_number": "+14155550100", "phone_number_verified": true}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        assert_eq!(u["email_verified"], true);
        assert_eq!(u["phone_number_verified"], true);
        let path = format!("{USERS}/{}", u["user_id"].as_str().unwrap());
        let patch = |body: Value| {
            let (srv, path, token) = (&srv, &path, &token);
            async move {
                let (s, v) = srv.send_json(Method::PATCH, path, token, Some(body)).await;
                assert_eq!(s, StatusCode::OK, "{v}");
                v
            }
        };

        // Only the letter case changes: the same address, still verified.
        let v = patch(json!({"email": "ANN@example.com"})).await;
        assert_eq!(v["email_verified"], true);
        // The same number written differently: still verified.
        let v = patch(json!({"phone_number": "+1 415 555 0100"})).await;
        assert_eq!(v["phone_number_verified"], true);

        // A new email is unverified; the phone is untouched.
        let v = patch(json!({"email": "ann@new.example"})).await;
        assert_eq!(v["email_verified"], false);
        assert_eq!(v["phone_number_verified"], true);

        // Unless the same request says it is verified.
        let v = patch(json!({"phone_number": "+14155550199", "phone_number_verified": true})).await;
        assert_eq!(v["phone_number"], "+14155550199");
        assert_eq!(v["phone_number_verified"], true);
        let v = patch(json!({"phone_number": "+14155550111"})).await;
        assert_eq!(v["phone_number_verified"], false);

        // Removing an address removes its flag.
        let v = patch(json!({"email_verified": true})).await;
        assert_eq!(v["email_verified"], true);
        let v = patch(json!({"email": null})).await;
        assert!(v.get("email").is_none(), "{v}");
        assert_eq!(v["email_verified"], false);
        srv.stop().await;
    }
}

#[tokio::test]
async fn users_are_searched_by_email_and_phone_a_page_at_a_time() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = client_token(&srv, &admin, None).await;
        for n in 0..4 {
            // A second apart, so the page order (oldest first) is the creation order.
            srv.clock.advance_s(1);
            let (s, _) = create(
                &srv,
                &token,
                json!({"email": format!("User{n}@Example.com"),
                       "phone_number": format!("+4915112345{n}")}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED);
        }
        let search = |query: &'static str| {
            let (srv, token) = (&srv, &token);
            async move {
                srv.send_json(Method::GET, &format!("{USERS}{query}"), token, None)
                    .await
            }
        };
        let (s, all) = search("").await;
        assert_eq!(s, StatusCode::OK, "{all}");
        assert_eq!(all["total"], 4);
        assert_eq!(all["result"].as_array().unwrap().len(), 4);

        let (_, page) = search("?limit=2&offset=1").await;
        let emails: Vec<_> = page["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(emails, vec!["User1@Example.com", "User2@Example.com"]);
        assert_eq!(page["total"], 4);

        let (_, by_email) = search("?email=%20user2%40EXAMPLE.com").await;
        assert_eq!(by_email["total"], 1, "{by_email}");
        assert_eq!(by_email["result"][0]["email"], "User2@Example.com");

        let (_, by_phone) = search("?phone_number=%2B49%20151%2012345-3").await;
        assert_eq!(by_phone["total"], 1, "{by_phone}");
        assert_eq!(by_phone["result"][0]["phone_number"], "+49151123453");

        let (_, none) = search("?email=nobody%40example.com").await;
        assert_eq!(none["total"], 0);
        assert_eq!(none["result"], json!([]));

        for (query, code) in [
            ("?phone_number=12345", "invalid_phone_number"),
            ("?phone_number=%2B1415555%000100", "invalid_phone_number"),
            ("?email=ann%00%40example.com", "invalid_email"),
            ("?limit=0", "invalid_request"),
            ("?limit=5000", "invalid_request"),
            ("?limit=-1", "invalid_request"),
            ("?offset=x", "invalid_request"),
            ("?email=a&email=b", "invalid_request"),
            ("?colour=blue", "invalid_request"),
        ] {
            let (s, e) = search(query).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{query} {e}");
            assert_eq!(e["error_code"], code, "{query}");
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn client_permissions_gate_reads_and_writes() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        // Admins always may.
        let (s, u) = create(&srv, &admin, json!({"email": "ann@example.com"})).await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let path = format!("{USERS}/{}", u["user_id"].as_str().unwrap());

        let none = client_token(&srv, &admin, Some(json!(["auth"]))).await;
        let read_only = client_token(&srv, &admin, Some(json!(["users:read"]))).await;
        let write_only = client_token(&srv, &admin, Some(json!(["users:write"]))).await;

        let forbidden = |s: StatusCode, e: &Value| {
            assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
            assert_eq!(e["error_code"], "insufficient_permissions");
        };
        let (s, e) = srv.send_json(Method::GET, &path, &none, None).await;
        forbidden(s, &e);
        let (s, e) = srv.send_json(Method::GET, USERS, &none, None).await;
        forbidden(s, &e);
        let (s, e) = create(&srv, &none, json!({"email": "x@example.com"})).await;
        forbidden(s, &e);

        let (s, got) = srv.send_json(Method::GET, &path, &read_only, None).await;
        assert_eq!(s, StatusCode::OK, "{got}");
        let (s, e) = srv
            .send_json(
                Method::PATCH,
                &path,
                &read_only,
                Some(json!({"status": "disabled"})),
            )
            .await;
        forbidden(s, &e);
        let (s, e) = srv.send_json(Method::DELETE, &path, &read_only, None).await;
        forbidden(s, &e);

        let (s, e) = srv.send_json(Method::GET, &path, &write_only, None).await;
        forbidden(s, &e);
        let (s, patched) = srv
            .send_json(
                Method::PATCH,
                &path,
                &write_only,
                Some(json!({"status": "disabled"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{patched}");

        // The permission check comes before the body is looked at: nothing was created.
        let (_, all) = srv.send_json(Method::GET, USERS, &admin, None).await;
        assert_eq!(all["total"], 1, "{all}");

        // No token, or a bad one.
        let r = srv.http.get(srv.url(USERS)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let (s, _) = srv.send_json(Method::GET, USERS, "not-a-token", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

#[tokio::test]
async fn bad_user_input_is_a_400_never_a_500() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let huge = "a".repeat(20_000);
        let cases = [
            (json!({"email": "ann\u{0}@example.com"}), "invalid_email"),
            (json!({"username": "ann\u{0}"}), "invalid_username"),
            (
                json!({"email": "a@b.c", "name": {"first_name": "A\u{0}"}}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "external_user_id": "x\u{0}y"}),
                "invalid_request",
            ),
            (json!({"username": huge.clone()}), "invalid_username"),
            (
                json!({"email": format!("{huge}@example.com")}),
                "invalid_email",
            ),
            (
                json!({"phone_number": format!("+1{huge}")}),
                "invalid_phone_number",
            ),
            (
                json!({"email": "a@b.c", "external_user_id": huge.clone()}),
                "invalid_request",
            ),
            (json!({"email": 5}), "invalid_email"),
            (
                json!({"phone_number": ["+14155550100"]}),
                "invalid_phone_number",
            ),
            (json!({"username": true}), "invalid_username"),
            (
                json!({"email": "a@b.c", "custom_data": [1, 2]}),
                "invalid_request",
            ),
            (json!({"email": "a@b.c", "name": "Ann"}), "invalid_request"),
            (
                json!({"email": "a@b.c", "name": {"middle": "x"}}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "status": "gone"}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "email_verified": "yes"}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "colour": "blue"}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "password_hash": "x"}),
                "invalid_request",
            ),
            (
                json!({"phone_number": "14155550100"}),
                "invalid_phone_number",
            ),
            (
                json!({"phone_number": "+0123456789"}),
                "invalid_phone_number",
            ),
            (json!({"username": "ann@example"}), "invalid_username"),
            (json!({"username": "+ann"}), "invalid_username"),
            (json!({"email": "not-an-email"}), "invalid_email"),
            (json!({}), "invalid_request"),
            (json!({"status": "active"}), "invalid_request"),
            (
                json!({"email": "a@b.c", "password": "short"}),
                "invalid_password",
            ),
            (
                json!({"email": "a@b.c", "password": 12345678}),
                "invalid_password",
            ),
            (
                json!({"email": "a@b.c", "credentials": {"password": "short"}}),
                "invalid_password",
            ),
            (
                json!({"email": "a@b.c", "credentials": {"force_replace": true}}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "credentials": "secret-secret"}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "password": "long enough", "credentials": {"password": "long enough"}}),
                "invalid_request",
            ),
            (json!([{"email": "a@b.c"}]), "invalid_request"),
            (json!("a@b.c"), "invalid_request"),
        ];
        for (body, code) in cases {
            let (s, e) = create(&srv, &admin, body.clone()).await;
            let shown: String = body.to_string().chars().take(80).collect();
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {shown} {e}", b.name);
            assert_eq!(e["error_code"], code, "{shown}");
            // Messages name fields, never echo huge values.
            assert!(e["message"].as_str().unwrap().len() < 200, "{e}");
        }
        // Nothing was created by any of them.
        let (_, all) = srv.send_json(Method::GET, USERS, &admin, None).await;
        assert_eq!(all["total"], 0, "{all}");

        // Malformed JSON and a wrong content type use the generic errors.
        let r = srv
            .http
            .post(srv.url(USERS))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = srv
            .http
            .post(srv.url(USERS))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        // custom_data is stored as text: a NUL or control character in a key, or a NUL in a
        // string value, is refused (PostgreSQL cannot store NUL).
        for data in [
            json!({"k\u{0}": "v"}),
            json!({"k": "v\u{0}"}),
            json!({"a\nb": 1}),
        ] {
            let (s, v) = create(
                &srv,
                &admin,
                json!({"email": "nul@example.com", "custom_data": data}),
            )
            .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{data}: {v}");
            assert_eq!(v["error_code"], "invalid_request", "{v}");
        }

        // PATCH: read-only fields, bad values, non-objects.
        let (s, u) = create(&srv, &admin, json!({"email": "ann@example.com"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let path = format!("{USERS}/{}", u["user_id"].as_str().unwrap());
        for (patch, code) in [
            (json!({"user_id": "other"}), "invalid_request"),
            (json!({"created_at": 1}), "invalid_request"),
            (json!({"phone_number": "555-0100"}), "invalid_phone_number"),
            (json!({"email": null}), "invalid_request"),
            (json!({"username": "a\u{0}"}), "invalid_username"),
            (json!({"password": "short"}), "invalid_password"),
            (json!(["x"]), "invalid_request"),
        ] {
            let (s, e) = srv
                .send_json(Method::PATCH, &path, &admin, Some(patch.clone()))
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{patch} {e}");
            assert_eq!(e["error_code"], code, "{patch}");
        }
        let (_, unchanged) = srv.send_json(Method::GET, &path, &admin, None).await;
        assert_eq!(unchanged, u);

        // Odd ids and usernames in paths are just unknown.
        for p in [
            format!("{USERS}/%00"),
            format!("{USERS}/{}", "x".repeat(5000)),
            format!("{USERS}/username/%00"),
            format!("{USERS}/username/a%40b"),
        ] {
            let (s, e) = srv.send_json(Method::GET, &p, &admin, None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
            assert_eq!(e["error_code"], "user_not_found");
        }
        for method in [Method::DELETE, Method::PATCH] {
            let (s, e) = srv
                .send_json(method, &format!("{USERS}/%00"), &admin, Some(json!({})))
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
            assert_eq!(e["error_code"], "user_not_found");
        }
        srv.stop().await;
    }
}
