//! The platform's users API beyond CRUD (issue 14, points 3 and 8), read the way its clients
//! read it: the lookup by `external_user_id`, the `search`/`search_prefix`/`sort_*`
//! parameters, tenant-level deletion, application membership (a create of an existing user
//! links them to the caller's application; `DELETE …/apps` unlinks), and an application's
//! own login preferences overriding the tenant's, on one node and across two.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;
use zeroize::Zeroizing;

use crate::harness::{
    backends, code, now_ms, paths, TestServer, ADMIN_ID, ADMIN_SECRET, ALL_PERMISSIONS, SECRET,
};
use crate::multi_node::{node_config, shared_kek};

/// `GET /cis/v1/users?{query}`: (status, body).
async fn search(srv: &TestServer, token: &str, query: &str) -> (StatusCode, Value) {
    srv.send_json(Method::GET, &format!("/cis/v1/users?{query}"), token, None)
        .await
}

/// The user_ids of a list answer, in order.
fn ids(list: &Value) -> Vec<String> {
    list["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_string())
        .collect()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn users_are_found_by_external_user_id_searched_sorted_and_prefixed() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let client = srv.client_token(&admin, json!({})).await;
        let ann = srv
            .create_user(
                &client,
                json!({"username": "ann", "email": "ann@example.com",
                       "phone_number": "+14155550100", "external_user_id": "ext-ann",
                       "external_account_id": "acc-1"}),
            )
            .await;
        srv.clock.advance_s(1);
        let bob = srv
            .create_user(
                &client,
                json!({"username": "bob", "email": "Bob@Sales.example",
                       "phone_number": "+12125550100", "external_user_id": "ext-bob",
                       "external_account_id": "acc-1"}),
            )
            .await;
        srv.clock.advance_s(1);
        let carl = srv.create_user(&client, json!({"username": "carl"})).await;
        srv.clock.advance_s(1);
        let dana = srv
            .create_user(&client, json!({"email": "sales.dana@example.com"}))
            .await;

        // The lookup: exact, unique.
        let (s, u) = srv
            .send_json(
                Method::GET,
                "/cis/v1/users/external-user-id/ext-ann",
                &client,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{} {u}", b.name);
        assert_eq!(u["result"]["user_id"], ann.as_str());
        assert_eq!(u["result"]["external_user_id"], "ext-ann");
        assert_eq!(u["result"]["email"]["value"], "ann@example.com");
        for missing in ["EXT-ANN", "ext", "acc-1"] {
            let (s, e) = srv
                .send_json(
                    Method::GET,
                    &format!("/cis/v1/users/external-user-id/{missing}"),
                    &client,
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{missing}: {e}");
            assert_eq!(code(&e), "user_not_found");
        }
        let (s, e) = srv
            .post(
                paths::USERS,
                &client,
                json!({"username": "eve", "external_user_id": "ext-ann"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(code(&e), "user_already_exists");
        assert!(e["ts_error_code"].is_string(), "{e}");
        let (s, e) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/users/{carl}"),
                &client,
                Some(json!({"external_user_id": "ext-bob"})),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(e["message"].as_str().unwrap().contains("external_user_id"));
        // A changed external_user_id is found under its new value only.
        let (s, _) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/users/{carl}"),
                &client,
                Some(json!({"external_user_id": "ext-carl"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, u) = srv
            .send_json(
                Method::GET,
                "/cis/v1/users/external-user-id/ext-carl",
                &client,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(u["result"]["user_id"], carl.as_str());

        // `search`, the platform's filter.
        for (filter, want) in [
            (r#"email.value eq "ANN@example.com""#, vec![&ann]),
            (r#"email eq "bob@sales.example""#, vec![&bob]),
            (r#"phone_number eq "+1 415 555 0100""#, vec![&ann]),
            (r#"username eq "CARL""#, vec![&carl]),
            (r#"external_user_id eq "ext-bob""#, vec![&bob]),
            (r#"external_account_id eq "acc-1""#, vec![&ann, &bob]),
            (&format!(r#"user_id eq "{dana}""#), vec![&dana]),
            (r#"(email sw "sales")and(email sw "sales.d")"#, vec![&dana]),
            (
                r#"external_account_id eq "acc-1" and phone_number sw "+1212""#,
                vec![&bob],
            ),
            (r#"username sw "b""#, vec![&bob]),
            (r#"email eq "nobody@example.com""#, vec![]),
        ] {
            let (s, list) = search(&srv, &client, &format!("search={}", enc(filter))).await;
            assert_eq!(s, StatusCode::OK, "{filter}: {list}");
            let want: Vec<String> = want.into_iter().cloned().collect();
            assert_eq!(ids(&list), want, "{} {filter}", b.name);
            assert_eq!(list["total_count"], want.len(), "{filter}");
        }
        for (filter, needle) in [
            (r#"email eq "a@b.c" or username eq "x""#, "`or`"),
            (r#"name.first_name eq "Ann""#, "`name.first_name`"),
            (r#"email ne "a@b.c""#, "`ne`"),
            (r#"user_id sw "a""#, "`sw` on `user_id`"),
            (r#"email eq a@b.c"#, "malformed"),
            (r#"(email eq "a@b.c""#, "malformed"),
        ] {
            let (s, e) = search(&srv, &client, &format!("search={}", enc(filter))).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{filter}: {e}");
            assert_eq!(code(&e), "invalid_request");
            assert!(e["message"].as_str().unwrap().contains(needle), "{e}");
        }

        // `search_prefix`: the start of the primary email or phone number.
        for (prefix, want) in [
            ("ANN", vec![&ann]),
            ("sales", vec![&dana]),
            ("+1212", vec![&bob]),
            ("+1", vec![&ann, &bob]),
            ("carl", vec![]),
            ("%", vec![]),
        ] {
            let (s, list) = search(&srv, &client, &format!("search_prefix={}", enc(prefix))).await;
            assert_eq!(s, StatusCode::OK, "{list}");
            let want: Vec<String> = want.into_iter().cloned().collect();
            assert_eq!(ids(&list), want, "{} prefix {prefix}", b.name);
        }

        // Sorting: users without the field last, ties by user_id; pages follow the order.
        let (s, list) = search(&srv, &client, "sort_field=email&sort_order=desc").await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(
            ids(&list),
            [&dana, &bob, &ann, &carl].map(String::clone),
            "{}",
            b.name
        );
        let (_, list) = search(&srv, &client, "sort_field=phone_number").await;
        assert_eq!(ids(&list)[..2], [bob.clone(), ann.clone()]);
        let (_, list) = search(&srv, &client, "sort_field=created_at&sort_order=desc").await;
        let mut newest_first = vec![ann.clone(), bob.clone(), carl.clone(), dana.clone()];
        newest_first.reverse();
        assert_eq!(ids(&list), newest_first);
        let mut paged = Vec::new();
        for offset in 0..4 {
            let (_, page) = search(
                &srv,
                &client,
                &format!("sort_field=email&page_limit=1&page_offset={offset}"),
            )
            .await;
            assert_eq!(page["total_count"], 4);
            assert_eq!(page["page_info"]["has_next_page"], offset < 3);
            paged.extend(ids(&page));
        }
        assert_eq!(
            paged,
            vec![ann.clone(), bob.clone(), dana.clone(), carl.clone()]
        );
        let (s, _) = search(&srv, &client, "page_limit=5000").await;
        assert_eq!(s, StatusCode::OK);
        for query in [
            "sort_field=last_auth",
            "sort_field=organization_added_at",
            "sort_field=name",
            "sort_order=up",
            "page_limit=5001",
            "search=",
            "search_prefix=",
            "sort_field=email&sort_field=email",
        ] {
            let (s, e) = search(&srv, &client, query).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {e}");
            assert_eq!(code(&e), "invalid_request", "{query}");
        }
        let (_, e) = search(&srv, &client, "sort_field=last_auth").await;
        assert!(e["message"].as_str().unwrap().contains("last_auth"), "{e}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn creating_an_existing_user_links_them_to_the_callers_application() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let a = srv.client_token(&admin, json!({})).await;
        let (app_b, b_id, b_secret) = srv.app_and_client(&admin, json!({})).await;
        let bt = srv.token(&b_id, &b_secret).await;
        let ann_body = json!({"username": "ann", "email": "ann@example.com",
                              "name": {"first_name": "Ann"}, "credentials": {"password": SECRET}});
        let ann = srv.create_user(&a, ann_body.clone()).await;

        // The same application again: 409, as before.
        let (s, e) = srv.post(paths::USERS, &a, ann_body.clone()).await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert_eq!(code(&e), "user_already_exists");
        assert_eq!(e["ts_error_code"], "user_already_exists");

        // Another application: the existing user is added to it, nothing else changes.
        let (s, u) = srv
            .post(
                paths::USERS,
                &bt,
                json!({"email": "ANN@example.com", "name": {"first_name": "Other"}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{} {u}", b.name);
        assert_eq!(u["result"]["user_id"], ann.as_str());
        assert_eq!(u["result"]["name"]["first_name"], "Ann");
        assert_eq!(u["result"]["username"], "ann");
        let (s, e) = srv
            .post(paths::USERS, &bt, json!({"username": "ann"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "now a member: {e}");

        // Leaving the application: 204, then 404; the user stays in the tenant.
        let leave = format!("/cis/v1/users/{ann}/apps");
        let (s, body) = srv.send_json(Method::DELETE, &leave, &bt, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
        assert_eq!(body, Value::Null);
        let (s, e) = srv.send_json(Method::DELETE, &leave, &bt, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        assert_eq!(code(&e), "user_not_found");
        let (s, e) = srv
            .send_json(Method::DELETE, "/cis/v1/users/nobody/apps", &bt, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        let (s, _) = srv
            .send_json(Method::GET, &format!("/cis/v1/users/{ann}"), &bt, None)
            .await;
        assert_eq!(s, StatusCode::OK, "reads stay tenant-wide");
        let (s, u) = srv
            .post(paths::USERS, &bt, json!({"username": "ANN"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "linked again: {u}");
        assert_eq!(u["result"]["user_id"], ann.as_str());

        // Identifiers of two different users: refused, nobody linked.
        let bob = srv
            .create_user(&a, json!({"username": "bob", "email": "bob@example.com"}))
            .await;
        let (_, c_id, c_secret) = srv.app_and_client(&admin, json!({})).await;
        let ct = srv.token(&c_id, &c_secret).await;
        let (s, e) = srv
            .post(
                paths::USERS,
                &ct,
                json!({"email": "ann@example.com", "username": "bob"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                &format!("/cis/v1/users/{bob}/apps"),
                &ct,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "bob was not linked to C");
        // A caller that may write but not read users does not get the existing user.
        let writer = srv
            .client_token(&admin, json!({"permissions": ["users:write"]}))
            .await;
        let (s, e) = srv
            .post(paths::USERS, &writer, json!({"email": "ann@example.com"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        assert!(e.get("result").is_none());

        // Deleting application B ends its memberships; the user stays.
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                &format!("/cis/v1/applications/{app_b}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = srv
            .send_json(Method::GET, &format!("/cis/v1/users/{ann}"), &a, None)
            .await;
        assert_eq!(s, StatusCode::OK);

        // The tenant-level delete (admins): the user and their sessions and tokens go.
        let login = srv.login_ok(&a, "ann").await;
        let manage = format!("/cis/v1/manage/users/{ann}");
        let (s, e) = srv.send_json(Method::DELETE, &manage, &a, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "not for ordinary clients: {e}");
        let (s, body) = srv.send_json(Method::DELETE, &manage, &admin, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
        let (s, e) = srv.send_json(Method::DELETE, &manage, &admin, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        assert_eq!(code(&e), "user_not_found");
        let (s, _) = srv
            .send_json(Method::GET, &format!("/cis/v1/users/{ann}"), &a, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, e) = srv
            .post(
                paths::REFRESH,
                &a,
                json!({"refresh_token": login["refresh_token"]}),
            )
            .await;
        assert!(
            s.is_client_error(),
            "the refresh token died with the user: {s} {e}"
        );
        let (s, e) = srv
            .post(
                paths::SESSION_AUTH,
                &a,
                json!({"session_id": login["session_id"]}),
            )
            .await;
        assert!(
            s.is_client_error(),
            "the session died with the user: {s} {e}"
        );
        // The same identifiers make a new user now.
        let again = srv.create_user(&a, json!({"username": "ann"})).await;
        assert_ne!(again, ann);
        srv.stop().await;
    }
}

/// `GET /cis/v1/loginPreferences/{app_id}`: the `auth_methods` object.
async fn app_methods(srv: &TestServer, admin: &str, app_id: &str) -> Value {
    let (s, v) = srv
        .send_json(
            Method::GET,
            &format!("/cis/v1/loginPreferences/{app_id}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["result"]["auth_methods"].clone()
}

/// `PUT /cis/v1/loginPreferences/{app_id}/authMethods`.
async fn put_methods(
    srv: &TestServer,
    admin: &str,
    app_id: &str,
    body: Value,
) -> (StatusCode, Value) {
    srv.send_json(
        Method::PUT,
        &format!("/cis/v1/loginPreferences/{app_id}/authMethods"),
        admin,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn an_applications_own_login_preferences_override_the_tenants() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let all = json!({"permissions": ALL_PERMISSIONS});
        let (app_a, a_id, a_secret) = srv.app_and_client(&admin, all.clone()).await;
        let (app_b, b_id, b_secret) = srv.app_and_client(&admin, all).await;
        let a = srv.token(&a_id, &a_secret).await;
        let bt = srv.token(&b_id, &b_secret).await;
        srv.create_user(
            &admin,
            json!({"username": "ann", "email": "ann@example.com",
                   "credentials": {"password": SECRET}}),
        )
        .await;

        // Without its own document an application shows the tenant's.
        let methods = app_methods(&srv, &admin, &app_a).await;
        for m in ["password", "email_otp", "sms", "email"] {
            assert!(methods[m].is_object(), "{m}: {methods}");
        }
        assert_eq!(methods["email_otp"]["codeLength"], 6);
        assert_eq!(methods["password"]["passwordMinLength"], 8);

        // A disables password: A's client gets the method-disabled error, B's logs in.
        let (s, v) = put_methods(&srv, &admin, &app_a, json!({"password": null})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["result"]["auth_methods"].get("password").is_none(), "{v}");
        assert!(v["result"]["auth_methods"]["email_otp"].is_object());
        let (s, e) = srv
            .login(&a, json!({"username": "ann", "password": SECRET}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{} {e}", b.name);
        assert_eq!(code(&e), "auth_login_preferences_missing");
        srv.login_ok(&bt, "ann").await;
        assert!(app_methods(&srv, &admin, &app_b).await["password"].is_object());

        // The tenant's document still governs B, no longer A.
        let (s, v) = srv
            .send_json(
                Method::PUT,
                paths::PREFS,
                &admin,
                Some(json!({"otp": {"code_length": 8}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            app_methods(&srv, &admin, &app_b).await["sms"]["codeLength"],
            8
        );
        assert_eq!(
            app_methods(&srv, &admin, &app_a).await["sms"]["codeLength"],
            6
        );

        // Re-enabled with a stricter policy: A's clients follow it for logins and for new
        // passwords; B's do not.
        let (s, v) = put_methods(
            &srv,
            &admin,
            &app_a,
            json!({"password": {"passwordMinLength": 12, "maxPasswordFailures": 3}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            v["result"]["auth_methods"]["password"]["passwordMinLength"],
            12
        );
        srv.login_ok(&a, "ann").await;
        let short = json!({"username": "bob", "credentials": {"password": "eleven-char"}});
        let (s, e) = srv.post(paths::USERS, &a, short.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        let (s, e) = srv.post(paths::USERS, &bt, short).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");

        // One-time passcodes follow the application's preferences too: off for A, and then
        // A's own code length, while B's codes follow the tenant's (8 digits, set above).
        let send = |token: String| {
            let srv = &srv;
            async move {
                srv.post(
                    paths::OTP_SEND,
                    &token,
                    json!({"channel": "direct", "identifier_type": "email",
                           "identifier": "ann@example.com"}),
                )
                .await
            }
        };
        let (s, _) = put_methods(&srv, &admin, &app_a, json!({"email_otp": null})).await;
        assert_eq!(s, StatusCode::OK);
        let (s, e) = send(a.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(code(&e), "auth_login_preferences_missing");
        let (s, v) = send(bt.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["code"].as_str().unwrap().len(), 8);
        let (s, _) = put_methods(
            &srv,
            &admin,
            &app_a,
            json!({"email_otp": {"codeLength": 4}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = send(a.clone()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["code"].as_str().unwrap().len(), 4);

        // Methods Tessera lacks, unknown fields and out-of-range values are refused; an
        // unknown application is 404.
        for body in [
            json!({"google": {"clientId": "x"}}),
            json!({"password": {"passwordComplexity": 3}}),
            json!({"password": {"passwordMinLength": 5}}),
            json!({"sms": {"codeLength": 6}, "email_otp": {"codeLength": 8}}),
            json!({"password": "on"}),
            json!([]),
        ] {
            let (s, e) = put_methods(&srv, &admin, &app_a, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
            assert_eq!(code(&e), "invalid_request", "{body}");
        }
        assert_eq!(
            app_methods(&srv, &admin, &app_a).await["password"]["passwordMinLength"],
            12,
            "a refused change changed nothing"
        );
        let (s, e) = put_methods(&srv, &admin, "noSuchApp", json!({"password": null})).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
        let (s, _) = srv
            .send_json(
                Method::GET,
                "/cis/v1/loginPreferences/noSuchApp",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/loginPreferences/{app_a}"),
                &a,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "admins only");
        srv.stop().await;
    }
}

#[tokio::test]
async fn an_applications_login_preferences_reach_the_other_node() {
    for b in backends().await {
        let kek = shared_kek();
        let mut ca = node_config(&b, "a", &kek);
        ca.admin = Some((ADMIN_ID.into(), Zeroizing::new(ADMIN_SECRET.into())));
        let mut cb = node_config(&b, "b", &kek);
        cb.admin = ca.admin.clone();
        let n1 = TestServer::start(ca, TestClock::new(now_ms())).await;
        let n2 = TestServer::start(cb, TestClock::new(now_ms())).await;
        let admin1 = n1.admin_token().await;
        let admin2 = n2.admin_token().await;
        let (app_a, a_id, a_secret) = n1.app_and_client(&admin1, json!({})).await;
        let (_, b_id, b_secret) = n1.app_and_client(&admin1, json!({})).await;
        n1.create_user(
            &admin1,
            json!({"username": "ann", "credentials": {"password": SECRET}}),
        )
        .await;
        let a2 = n2.token(&a_id, &a_secret).await;
        let b2 = n2.token(&b_id, &b_secret).await;
        n2.login_ok(&a2, "ann").await;

        let (s, v) = put_methods(&n1, &admin1, &app_a, json!({"password": null})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        crate::multi_node::eventually("the other node follows A's preferences", || async {
            app_methods(&n2, &admin2, &app_a)
                .await
                .get("password")
                .is_none()
        })
        .await;
        let (s, e) = n2
            .login(&a2, json!({"username": "ann", "password": SECRET}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{} {e}", b.name);
        assert_eq!(code(&e), "auth_login_preferences_missing");
        n2.login_ok(&b2, "ann").await;

        let (s, _) = put_methods(&n1, &admin1, &app_a, json!({"password": {}})).await;
        assert_eq!(s, StatusCode::OK);
        crate::multi_node::eventually("the other node sees password again", || async {
            app_methods(&n2, &admin2, &app_a).await["password"].is_object()
        })
        .await;
        n2.login_ok(&a2, "ann").await;
        n1.stop().await;
        n2.stop().await;
    }
}
