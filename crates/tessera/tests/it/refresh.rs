//! Refresh tokens end to end, on every backend: both refresh endpoints rotate and keep the
//! session's claims, reuse of a rotated token revokes the family, concurrent redemption has
//! exactly one winner, tokens stop at the family's maximum age, on logout and on user
//! disable, introspection and revocation cover them, and custom claims survive a refresh.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::paths::{PASSWORD, REFRESH};
use crate::harness::{backends, verify_with_jwks, TestServer, SECRET};

struct Fixture {
    client_id: String,
    secret: String,
    token: String,
    user_id: String,
}

async fn fixture(srv: &TestServer, client_fields: Value, username: &str) -> Fixture {
    let admin = srv.admin_token().await;
    let (_, client_id, secret) = srv.app_and_client(&admin, client_fields).await;
    let token = srv.token(&client_id, &secret).await;
    let (s, u) = srv
        .send_json(
            Method::POST,
            "/cis/v1/users",
            &token,
            Some(json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "custom_data": {"plan": "gold", "tier": 3},
                "credentials": {"password": SECRET},
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    Fixture {
        client_id,
        secret,
        token,
        user_id: u["result"]["user_id"].as_str().unwrap().to_string(),
    }
}

async fn login(srv: &TestServer, f: &Fixture, username: &str, extra: Value) -> Value {
    let mut body = json!({"username": username, "password": SECRET});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, v) = srv
        .send_json(Method::POST, PASSWORD, &f.token, Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

async fn refresh_rest(srv: &TestServer, f: &Fixture, rt: &str) -> (StatusCode, Value) {
    srv.send_json(
        Method::POST,
        REFRESH,
        &f.token,
        Some(json!({"refresh_token": rt})),
    )
    .await
}

async fn refresh_grant(srv: &TestServer, f: &Fixture, rt: &str) -> (StatusCode, Value) {
    let r = srv
        .form(
            "/oidc/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", &f.client_id),
                ("client_secret", &f.secret),
            ],
        )
        .await;
    let status = r.status();
    if status == StatusCode::OK {
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    (status, r.json().await.unwrap())
}

/// The fixture with a new client token (they live an hour of test-clock time).
async fn fresh(srv: &TestServer, f: &Fixture) -> Fixture {
    Fixture {
        client_id: f.client_id.clone(),
        secret: f.secret.clone(),
        token: srv.token(&f.client_id, &f.secret).await,
        user_id: f.user_id.clone(),
    }
}

fn rt(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn refresh_rotates_and_keeps_the_session_claims() {
    for b in backends().await {
        let srv = b.start().await;
        let f = fixture(&srv, json!({}), "rita").await;
        let first = login(&srv, &f, "rita", json!({})).await;
        let rt1 = rt(&first);
        assert!(rt1.len() >= 43, "{}: 256-bit refresh tokens", b.name);
        let before =
            verify_with_jwks(&srv, first["access_token"].as_str().unwrap(), "userid-api").await;

        srv.clock.advance_s(60);
        let (s, second) = refresh_rest(&srv, &f, &rt1).await;
        assert_eq!(s, StatusCode::OK, "{}: {second}", b.name);
        let rt2 = rt(&second);
        assert_ne!(rt1, rt2, "{}: rotated on every use", b.name);
        assert_eq!(second["session_id"], first["session_id"], "{}", b.name);
        assert_eq!(second["token_type"], "Bearer");
        let after =
            verify_with_jwks(&srv, second["access_token"].as_str().unwrap(), "userid-api").await;
        assert_eq!(after["sub"], f.user_id.as_str());
        assert_eq!(after["sid"], before["sid"], "{}", b.name);
        assert_eq!(after["auth_time"], before["auth_time"], "{}", b.name);
        assert_eq!(after["amr"], json!(["pwd"]));
        assert_eq!(
            after["iat"].as_i64().unwrap(),
            before["iat"].as_i64().unwrap() + 60
        );
        let id = verify_with_jwks(&srv, second["id_token"].as_str().unwrap(), &f.client_id).await;
        assert_eq!(id["sid"], before["sid"]);

        // The OAuth grant rotates the same family; the refreshed token works for userinfo.
        // Its answer is RFC 6749 §5.1: no session id (that is the REST APIs' field).
        let (s, third) = refresh_grant(&srv, &f, &rt2).await;
        assert_eq!(s, StatusCode::OK, "{}: {third}", b.name);
        assert!(third.get("session_id").is_none(), "{}: {third}", b.name);
        assert!(third["refresh_token"].is_string() && third["id_token"].is_string());
        let (s, info) = srv
            .send_json(
                Method::GET,
                "/oidc/userinfo",
                third["access_token"].as_str().unwrap(),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{info}");
        assert_eq!(info["sub"], f.user_id.as_str());

        // The refreshed session id still works for the session APIs.
        let (s, v) = srv
            .send_json(
                Method::POST,
                "/cis/v1/auth/session/authenticate",
                &f.token,
                Some(json!({"session_id": second["session_id"]})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{}: {v}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_family() {
    for b in backends().await {
        let srv = b.start().await;
        let f = fixture(&srv, json!({}), "rex").await;
        let rt1 = rt(&login(&srv, &f, "rex", json!({})).await);
        let (s, v) = refresh_rest(&srv, &f, &rt1).await;
        assert_eq!(s, StatusCode::OK);
        let rt2 = rt(&v);

        // A forged secret for the family revokes nothing (it was revoking the family).
        let family = rt1.split('.').next().unwrap();
        for forged in [format!("{family}.0.garbage"), format!("{family}.1.garbage")] {
            let (s, _) = refresh_rest(&srv, &f, &forged).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{}", b.name);
        }

        // After the reuse window, the stolen old token is refused and takes the live one
        // down with it.
        srv.clock.advance_s(3);
        let (s, e) = refresh_rest(&srv, &f, &rt1).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}", b.name);
        assert_eq!(e["error_code"], "invalid_grant", "{e}");
        let (s, e) = refresh_grant(&srv, &f, &rt2).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}", b.name);
        assert_eq!(e["error"], "invalid_grant", "{e}");

        // Unknown and another client's tokens are invalid_grant too, and consume nothing.
        let rt3 = rt(&login(&srv, &f, "rex", json!({})).await);
        let other = fixture(&srv, json!({}), "other-rex").await;
        let (s, e) = refresh_grant(&srv, &other, &rt3).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let (s, e) = refresh_rest(&srv, &f, "not-a-token").await;
        assert_eq!(
            (s, e["error_code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let (s, _) = refresh_rest(&srv, &f, &rt3).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{}: the other client's attempt consumed it",
            b.name
        );

        // Missing field: the documented 400s.
        let (s, e) = srv
            .send_json(Method::POST, REFRESH, &f.token, Some(json!({})))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &f.client_id),
                    ("client_secret", &f.secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
        srv.stop().await;
    }
}

/// 20 concurrent refreshes of one token by its own client gave one 200 and 19 400s, and then
/// the winner's token was refused too: a client retry logged its user out. Within the reuse
/// window every presentation gets the same successor, and the family lives on.
#[tokio::test]
async fn concurrent_refreshes_by_the_same_client_all_get_the_same_successor() {
    for b in backends().await {
        let srv = b.start().await;
        let f = fixture(&srv, json!({}), "cora").await;
        let rt1 = rt(&login(&srv, &f, "cora", json!({})).await);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (http, url, token, rt1) = (
                srv.http.clone(),
                srv.url(REFRESH),
                f.token.clone(),
                rt1.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let r = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"refresh_token": rt1}))
                    .send()
                    .await
                    .unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }));
        }
        let mut successors = std::collections::BTreeSet::new();
        for t in tasks {
            let (s, v) = t.await.unwrap();
            assert_eq!(s, StatusCode::OK, "{}: {v}", b.name);
            successors.insert(rt(&v));
        }
        assert_eq!(successors.len(), 1, "{}: one successor for all", b.name);
        // The family lives on: the successor refreshes, after the window too.
        srv.clock.advance_s(5);
        let successor = successors.into_iter().next().unwrap();
        let (s, v) = refresh_rest(&srv, &f, &successor).await;
        assert_eq!(s, StatusCode::OK, "{}: {v}", b.name);
        // Another client presenting the token in the window gets nothing.
        let other = fixture(&srv, json!({}), "other-cora").await;
        let (s, _) = refresh_rest(&srv, &other, &rt(&v)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        srv.stop().await;
    }
}

#[tokio::test]
async fn refresh_stops_at_the_family_maximum_logout_and_user_disable() {
    for b in backends().await {
        let srv = b.start().await;
        let f = fixture(
            &srv,
            json!({"refresh_token_ttl": 3600, "max_refresh_rotate": 7200}),
            "max",
        )
        .await;

        // Each rotation gets a fresh hour, but never beyond the family's two hours.
        let mut token = rt(&login(&srv, &fresh(&srv, &f).await, "max", json!({})).await);
        let mut rotations = 0;
        for _ in 0..3 {
            srv.clock.advance_s(3000);
            let (s, v) = refresh_grant(&srv, &f, &token).await;
            if s != StatusCode::OK {
                assert_eq!(v["error"], "invalid_grant", "{v}");
                break;
            }
            rotations += 1;
            token = rt(&v);
        }
        // At 3000 s and 6000 s it works; at 9000 s the family (7200 s) has ended.
        assert_eq!(rotations, 2, "{}", b.name);
        let (s, _) = refresh_grant(&srv, &f, &token).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{}: past max_refresh_rotate",
            b.name
        );

        // A token's own TTL.
        let token = rt(&login(&srv, &fresh(&srv, &f).await, "max", json!({})).await);
        srv.clock.advance_s(3601);
        let (s, _) = refresh_grant(&srv, &f, &token).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{}: past refresh_token_ttl",
            b.name
        );

        // Logout revokes the session's refresh tokens.
        let v = login(&srv, &fresh(&srv, &f).await, "max", json!({})).await;
        let (s, _) = srv
            .send_json(
                Method::POST,
                "/cis/v1/auth/session/logout",
                &fresh(&srv, &f).await.token,
                Some(json!({"session_id": v["session_id"]})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = refresh_grant(&srv, &f, &rt(&v)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: after logout", b.name);

        // A disabled user cannot refresh.
        let v = login(&srv, &fresh(&srv, &f).await, "max", json!({})).await;
        let (s, _) = srv
            .send_json(
                Method::PATCH,
                &format!("/cis/v1/users/{}", f.user_id),
                &fresh(&srv, &f).await.token,
                Some(json!({"status": "disabled"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = refresh_grant(&srv, &f, &rt(&v)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: disabled user", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn introspection_and_revocation_cover_refresh_tokens() {
    for b in backends().await {
        let srv = b.start().await;
        let f = fixture(&srv, json!({}), "iris").await;
        let first = login(&srv, &f, "iris", json!({})).await;
        let rt1 = rt(&first);
        let introspect = |token: String| {
            let (srv, f) = (&srv, &f);
            async move {
                srv.form(
                    "/oidc/introspect",
                    &[
                        ("token", &token),
                        ("client_id", &f.client_id),
                        ("client_secret", &f.secret),
                    ],
                )
                .await
                .json::<Value>()
                .await
                .unwrap()
            }
        };
        let v = introspect(rt1.clone()).await;
        assert_eq!(v["active"], true, "{}: {v}", b.name);
        assert_eq!(v["token_type"], "refresh_token");
        assert_eq!(v["sub"], f.user_id.as_str());
        assert_eq!(v["client_id"], f.client_id.as_str());

        // Another client may not revoke it; its own client revokes the family.
        let other = fixture(&srv, json!({}), "other-iris").await;
        let r = srv
            .form(
                "/oidc/revoke",
                &[
                    ("token", &rt1),
                    ("client_id", &other.client_id),
                    ("client_secret", &other.secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", b.name);
        assert_eq!(introspect(rt1.clone()).await["active"], true);
        let r = srv
            .form(
                "/oidc/revoke",
                &[
                    ("token", &rt1),
                    ("token_type_hint", "refresh_token"),
                    ("client_id", &f.client_id),
                    ("client_secret", &f.secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(
            introspect(rt1.clone()).await,
            json!({"active": false}),
            "{}",
            b.name
        );
        let (s, _) = refresh_rest(&srv, &f, &rt1).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // A user access token introspects as active with its session claims, and as inactive
        // once the session is logged out.
        let at = first["access_token"].as_str().unwrap().to_string();
        let v = introspect(at.clone()).await;
        assert_eq!(v["active"], true, "{}: {v}", b.name);
        assert_eq!(v["sub"], f.user_id.as_str());
        assert_eq!(v["amr"], json!(["pwd"]));
        assert!(v["sid"].is_string());
        let (s, _) = srv
            .send_json(
                Method::POST,
                "/cis/v1/auth/session/logout",
                &f.token,
                Some(json!({"session_id": first["session_id"]})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(introspect(at).await, json!({"active": false}), "{}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn requested_custom_claims_are_issued_and_kept_on_refresh() {
    for b in backends().await {
        let srv = b.start().await;
        let f = fixture(&srv, json!({}), "cleo").await;
        let v = login(
            &srv,
            &f,
            "cleo",
            json!({"claims": {
                "id_token": {"plan": null, "custom_data": null, "iss": null},
                "access_token": {"tier": null, "email": null, "sub": null}
            }}),
        )
        .await;
        let check = |v: &Value| {
            let (at, id) = (
                v["access_token"].as_str().unwrap(),
                v["id_token"].as_str().unwrap(),
            );
            (crate::harness::claims(at), crate::harness::claims(id))
        };
        let (at, id) = check(&v);
        assert_eq!(id["plan"], "gold", "{}: {id}", b.name);
        assert_eq!(id["custom_data"], json!({"plan": "gold", "tier": 3}));
        assert_eq!(
            id["iss"],
            srv.issuer.as_str(),
            "reserved claims are never replaced"
        );
        assert_eq!(at["tier"], 3, "{}: {at}", b.name);
        assert_eq!(at["email"], "cleo@example.com");
        assert_eq!(at["sub"], f.user_id.as_str());

        let (s, v) = refresh_rest(&srv, &f, &rt(&v)).await;
        assert_eq!(s, StatusCode::OK);
        let (at, id) = check(&v);
        assert_eq!(id["plan"], "gold", "{}: kept on refresh", b.name);
        assert_eq!(at["tier"], 3, "{}: kept on refresh", b.name);
        srv.stop().await;
    }
}
