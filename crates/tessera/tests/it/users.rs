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

/// A successful answer about one user is `{"result": user}` (the hosted platform's
/// envelope): the user, as its sample backends read it. Errors and lists are returned as
/// they are.
fn unwrap_result(status: StatusCode, v: Value) -> (StatusCode, Value) {
    if status.is_success() && v.is_object() && v.get("total_count").is_none() {
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["result".to_string()], "{v}");
        return (status, v["result"].clone());
    }
    (status, v)
}

async fn send(
    srv: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (s, v) = srv.send_json(method, path, token, body).await;
    unwrap_result(s, v)
}

async fn create(srv: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    send(srv, Method::POST, USERS, token, Some(body)).await
}

fn assert_no_password(v: &Value) {
    let text = v.to_string();
    for needle in ["argon2", "credentials", "force_replace", "\"password\""] {
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
        assert_eq!(
            created["email"],
            json!({"value": "Ann@Example.com", "email_verified": false})
        );
        assert_eq!(
            created["phone_number"],
            json!({"value": "+14155550100", "phone_number_verified": false})
        );
        assert_eq!(created["username"], "Ann.Lee");
        assert_eq!(created["status"], "Active");
        assert_eq!(created["name"]["last_name"], "Lee");
        assert_eq!(created["created_at"], created["updated_at"]);
        // Epoch milliseconds, from the server's clock.
        let created_ms = created["created_at"].as_i64().unwrap();
        assert!(
            (created_ms - crate::harness::now_ms()).abs() < 60_000,
            "{created}"
        );
        assert_eq!(created["password_information"]["temporary"], false);

        let path = format!("{USERS}/{user_id}");
        let (s, got) = send(&srv, Method::GET, &path, &token, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(got, created);
        assert_no_password(&got);

        // Username lookups ignore case.
        let (s, by_name) = send(
            &srv,
            Method::GET,
            &format!("{USERS}/username/ANN.LEE"),
            &token,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{by_name}");
        assert_eq!(by_name["user_id"], user_id.as_str());

        // An update replaces the fields it names (objects whole), removes those set to
        // null, merges custom_data one level deep and keeps the rest.
        let (s, patched) = send(
            &srv,
            Method::PATCH,
            &path,
            &token,
            Some(json!({
                "name": {"first_name": "Anna"},
                "custom_data": {"prefs": {"theme": "dark"}, "tier": null, "plan": "x"},
                "external_user_id": null,
                "status": "Disabled",
            })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{patched}");
        assert_eq!(patched["name"], json!({"first_name": "Anna"}));
        assert_eq!(
            patched["custom_data"],
            json!({"prefs": {"theme": "dark"}, "plan": "x"})
        );
        assert!(patched.get("external_user_id").is_none(), "{patched}");
        assert_eq!(patched["status"], "Disabled");
        assert!(patched["status_changed_at"]
            .as_str()
            .unwrap()
            .ends_with('Z'));
        assert_eq!(patched["email"]["value"], "Ann@Example.com");
        let (_, reread) = send(&srv, Method::GET, &path, &token, None).await;
        assert_eq!(reread, patched);

        // A new password through PATCH is accepted and still never shown.
        let (s, with_password) = send(
            &srv,
            Method::PATCH,
            &path,
            &token,
            Some(json!({"password": "another secret"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{with_password}");
        assert_no_password(&with_password);

        let (s, _) = send(&srv, Method::DELETE, &path, &token, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, gone) = send(&srv, Method::GET, &path, &token, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        let (s, gone) = send(&srv, Method::DELETE, &path, &token, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        let (s, gone) = send(
            &srv,
            Method::PATCH,
            &path,
            &token,
            Some(json!({"status": "active"})),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(gone["error_code"], "user_not_found");
        let (s, gone) = send(
            &srv,
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
        let (s, e) = send(
            &srv,
            Method::PATCH,
            &path,
            &token,
            Some(json!({"email": "Ann@example.com"})),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(e["error_code"], "user_already_exists");
        assert!(e["message"].as_str().unwrap().contains("email"));
        let (_, unchanged) = send(&srv, Method::GET, &path, &token, None).await;
        assert_eq!(unchanged["email"]["value"], "bob@example.com");
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
        assert_eq!(u["email"]["email_verified"], true);
        assert_eq!(u["phone_number"]["phone_number_verified"], true);
        let verified_at = u["email"]["verified_at"].clone();
        assert!(verified_at.as_str().unwrap().ends_with('Z'), "{u}");
        let path = format!("{USERS}/{}", u["user_id"].as_str().unwrap());
        let patch = |body: Value| {
            let (srv, path, token) = (&srv, &path, &token);
            async move {
                let (s, v) = send(srv, Method::PATCH, path, token, Some(body)).await;
                assert_eq!(s, StatusCode::OK, "{v}");
                v
            }
        };

        // Only the letter case changes: the same address, still verified.
        srv.clock.advance_s(5);
        let v = patch(json!({"email": "ANN@example.com"})).await;
        assert_eq!(v["email"]["email_verified"], true);
        assert_eq!(v["email"]["verified_at"], verified_at, "kept: {v}");
        // The same number written differently: still verified.
        let v = patch(json!({"phone_number": "+1 415 555 0100"})).await;
        assert_eq!(v["phone_number"]["phone_number_verified"], true);

        // A new email is unverified; the phone is untouched.
        let v = patch(json!({"email": "ann@new.example"})).await;
        assert_eq!(
            v["email"],
            json!({"value": "ann@new.example", "email_verified": false})
        );
        assert_eq!(v["phone_number"]["phone_number_verified"], true);

        // Unless the same request says it is verified (also as the answer's object shape).
        let v = patch(json!({"phone_number": "+14155550199", "phone_number_verified": true})).await;
        assert_eq!(v["phone_number"]["value"], "+14155550199");
        assert_eq!(v["phone_number"]["phone_number_verified"], true);
        let v = patch(json!({"phone_number": "+14155550111"})).await;
        assert_eq!(v["phone_number"]["phone_number_verified"], false);
        let v = patch(json!({"email": {"value": "ann@new.example", "email_verified": true}})).await;
        assert_eq!(v["email"]["email_verified"], true);
        assert_ne!(v["email"]["verified_at"], verified_at, "a new time: {v}");

        // Removing an address removes its flag.
        let v = patch(json!({"email": null})).await;
        assert!(v.get("email").is_none(), "{v}");
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
            async move { send(srv, Method::GET, &format!("{USERS}{query}"), token, None).await }
        };
        let (s, all) = search("").await;
        assert_eq!(s, StatusCode::OK, "{all}");
        assert_eq!(all["total_count"], 4);
        assert_eq!(all["result"].as_array().unwrap().len(), 4);
        assert_eq!(
            all["page_info"],
            json!({"has_next_page": false, "has_previous_page": false})
        );

        for query in ["?page_limit=2&page_offset=1", "?limit=2&offset=1"] {
            let (_, page) = search(query).await;
            let emails: Vec<_> = page["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["email"]["value"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(emails, vec!["User1@Example.com", "User2@Example.com"]);
            assert_eq!(page["total_count"], 4);
            assert_eq!(
                page["page_info"],
                json!({"has_next_page": true, "has_previous_page": true})
            );
        }

        let (_, by_email) = search("?email=%20user2%40EXAMPLE.com").await;
        assert_eq!(by_email["total_count"], 1, "{by_email}");
        assert_eq!(by_email["result"][0]["email"]["value"], "User2@Example.com");

        let (_, by_phone) = search("?phone_number=%2B49%20151%2012345-3").await;
        assert_eq!(by_phone["total_count"], 1, "{by_phone}");
        assert_eq!(
            by_phone["result"][0]["phone_number"]["value"],
            "+49151123453"
        );

        let (_, none) = search("?email=nobody%40example.com").await;
        assert_eq!(none["total_count"], 0);
        assert_eq!(none["result"], json!([]));

        for (query, code) in [
            ("?phone_number=12345", "invalid_phone_number"),
            ("?phone_number=%2B1415555%000100", "invalid_phone_number"),
            ("?email=ann%00%40example.com", "invalid_email"),
            ("?limit=0", "invalid_request"),
            ("?limit=5001", "invalid_request"),
            ("?page_limit=0", "invalid_request"),
            ("?page_limit=2&limit=2", "invalid_request"),
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
        let (s, e) = send(&srv, Method::GET, &path, &none, None).await;
        forbidden(s, &e);
        let (s, e) = send(&srv, Method::GET, USERS, &none, None).await;
        forbidden(s, &e);
        let (s, e) = create(&srv, &none, json!({"email": "x@example.com"})).await;
        forbidden(s, &e);

        let (s, got) = send(&srv, Method::GET, &path, &read_only, None).await;
        assert_eq!(s, StatusCode::OK, "{got}");
        let (s, e) = send(
            &srv,
            Method::PATCH,
            &path,
            &read_only,
            Some(json!({"status": "disabled"})),
        )
        .await;
        forbidden(s, &e);
        let (s, e) = send(&srv, Method::DELETE, &path, &read_only, None).await;
        forbidden(s, &e);

        let (s, e) = send(&srv, Method::GET, &path, &write_only, None).await;
        forbidden(s, &e);
        let (s, patched) = send(
            &srv,
            Method::PATCH,
            &path,
            &write_only,
            Some(json!({"status": "disabled"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{patched}");

        // The permission check comes before the body is looked at: nothing was created.
        let (_, all) = send(&srv, Method::GET, USERS, &admin, None).await;
        assert_eq!(all["total_count"], 1, "{all}");

        // No token, or a bad one.
        let r = srv.http.get(srv.url(USERS)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let (s, _) = send(&srv, Method::GET, USERS, "not-a-token", None).await;
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
                json!({"email": "a@b.c", "address": {"type": "Castle"}}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "address": {"planet": "Mars"}}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "birthday": "May 1st"}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "secondary_emails": "b@b.c"}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "secondary_emails": ["not-an-email"]}),
                "invalid_email",
            ),
            (
                json!({"email": "a@b.c", "secondary_phone_numbers": ["555"]}),
                "invalid_phone_number",
            ),
            (
                json!({"email": "a@b.c", "delegated_access": {"actor_id": "u"}}),
                "invalid_request",
            ),
            (
                json!({"email": "a@b.c", "custom_app_data": [1]}),
                "invalid_request",
            ),
            (
                json!({"email": {"value": "a@b.c", "colour": "red"}}),
                "invalid_request",
            ),
            (json!({"email": {"address": "a@b.c"}}), "invalid_email"),
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
        let (_, all) = send(&srv, Method::GET, USERS, &admin, None).await;
        assert_eq!(all["total_count"], 0, "{all}");

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
            let (s, e) = send(&srv, Method::PATCH, &path, &admin, Some(patch.clone())).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{patch} {e}");
            assert_eq!(e["error_code"], code, "{patch}");
        }
        let (_, unchanged) = send(&srv, Method::GET, &path, &admin, None).await;
        assert_eq!(unchanged, u);

        // Odd ids and usernames in paths are just unknown.
        for p in [
            format!("{USERS}/%00"),
            format!("{USERS}/{}", "x".repeat(5000)),
            format!("{USERS}/username/%00"),
            format!("{USERS}/username/a%40b"),
        ] {
            let (s, e) = send(&srv, Method::GET, &p, &admin, None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
            assert_eq!(e["error_code"], "user_not_found");
        }
        for method in [Method::DELETE, Method::PATCH] {
            let (s, e) = send(
                &srv,
                method,
                &format!("{USERS}/%00"),
                &admin,
                Some(json!({})),
            )
            .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
            assert_eq!(e["error_code"], "user_not_found");
        }
        srv.stop().await;
    }
}
