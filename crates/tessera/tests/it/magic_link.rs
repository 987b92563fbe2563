//! Email magic links end to end: the direct channel and its permission, the link's shape,
//! login with amr `eml` and a verified email, single use, exact `redirect_uri` matching,
//! expiry on the test clock, binding to the sending client, the error codes of send, and
//! real delivery through the development outbox.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::paths::{LINK_AUTH as AUTH, LINK_SEND as SEND};
use crate::harness::{
    backends, claims, code, now_ms, verify_with_jwks, TestServer, ALL_PERMISSIONS,
};

const CALLBACK: &str = "https://app.example/callback";

/// A client with the callback registered (and `auth:direct` when `direct`).
async fn link_client(srv: &TestServer, admin: &str, direct: bool) -> (String, String) {
    let mut fields = json!({"redirect_uris": [CALLBACK, "https://app.example/other?x=1"]});
    if direct {
        fields["permissions"] = json!(ALL_PERMISSIONS);
    }
    srv.client(admin, fields).await
}

async fn post(srv: &TestServer, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    srv.post(path, token, body).await
}

/// Sends a direct link and returns its code, checking the link's shape.
async fn direct_link(srv: &TestServer, token: &str, extra: Value) -> String {
    let mut body = json!({"channel": "direct", "redirect_uri": CALLBACK,
                          "identifier_type": "email", "identifier": "ann@example.com"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (s, v) = post(srv, SEND, token, body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let link = url::Url::parse(v["link"].as_str().unwrap()).unwrap();
    let c = link
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(v["code"], c.as_str());
    // At least 256 bits.
    assert!(c.len() >= 43, "{c}");
    c
}

#[tokio::test]
async fn a_direct_link_logs_in_once_with_amr_eml() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (client_id, token) = link_client(&srv, &admin, true).await;
        let user_id = srv
            .create_user(
                &token,
                json!({"email": "Ann@Example.com", "username": "ann"}),
            )
            .await;

        let r = srv
            .http
            .post(srv.url(SEND))
            .bearer_auth(&token)
            .json(&json!({"channel": "direct", "redirect_uri": CALLBACK,
                          "identifier_type": "username", "identifier": "ann",
                          "state": "xyz 1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["message"], "Magic link sent");
        let link = url::Url::parse(v["link"].as_str().unwrap()).unwrap();
        assert_eq!(
            format!(
                "{}://{}{}",
                link.scheme(),
                link.host_str().unwrap(),
                link.path()
            ),
            CALLBACK
        );
        let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        assert_eq!(pairs[0].0, "code");
        assert_eq!(pairs[1], ("state".to_string(), "xyz 1".to_string()));
        let c = pairs[0].1.clone();

        let r = srv
            .http
            .post(srv.url(AUTH))
            .bearer_auth(&token)
            .json(&json!({"code": c}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let t: Value = r.json().await.unwrap();
        let at = verify_with_jwks(&srv, t["access_token"].as_str().unwrap(), "userid-api").await;
        assert_eq!(at["sub"], user_id.as_str());
        assert_eq!(at["amr"], json!(["eml"]));
        let id = verify_with_jwks(&srv, t["id_token"].as_str().unwrap(), &client_id).await;
        assert_eq!(id["amr"], json!(["eml"]));
        assert_eq!(id["email_verified"], true);

        // Used: invalid from now on.
        let (s, v) = post(&srv, AUTH, &token, json!({"code": c})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );
        let (s, v) = post(&srv, AUTH, &token, json!({"code": "made-up"})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );

        // A link added to a password session: MFA needs two classes, eml alone is email.
        let c = direct_link(&srv, &token, json!({})).await;
        let (s, again) = post(
            &srv,
            AUTH,
            &token,
            json!({"code": c, "session_id": t["session_id"]}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{again}");
        assert_eq!(again["session_id"], t["session_id"]);
        assert_eq!(
            claims(again["access_token"].as_str().unwrap())["amr"],
            json!(["eml"])
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn send_checks_redirect_uri_identifier_permission_and_preferences() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = link_client(&srv, &admin, true).await;
        let (_, plain) = link_client(&srv, &admin, false).await;
        srv.create_user(&token, json!({"email": "ann@example.com"}))
            .await;
        srv.create_user(&token, json!({"username": "nomail"})).await;
        srv.create_user(
            &token,
            json!({"email": "off@example.com", "status": "disabled"}),
        )
        .await;
        let send = |extra: Value| {
            let mut body = json!({"channel": "direct", "redirect_uri": CALLBACK,
                                  "identifier_type": "email",
                                  "identifier": "ann@example.com"});
            for (k, v) in extra.as_object().unwrap() {
                if v.is_null() {
                    body.as_object_mut().unwrap().remove(k);
                } else {
                    body[k] = v.clone();
                }
            }
            body
        };
        let cases = [
            (
                send(json!({"redirect_uri": "https://app.example/callback/"})),
                400,
                "invalid_redirect_uri",
            ),
            (
                send(json!({"redirect_uri": "https://evil.example/callback"})),
                400,
                "invalid_redirect_uri",
            ),
            (
                send(json!({"redirect_uri": "https://app.example/other"})),
                400,
                "invalid_redirect_uri",
            ),
            (
                send(json!({"identifier": "bob@example.com"})),
                404,
                "user_not_found",
            ),
            (
                send(json!({"identifier": "off@example.com"})),
                403,
                "user_not_active",
            ),
            (
                send(
                    json!({"channel": "email", "identifier_type": "username", "identifier": "nomail"}),
                ),
                404,
                "user_email_address_missing",
            ),
            (send(json!({"channel": "sms"})), 400, "invalid_request"),
            (
                send(json!({"email_expiration": 61})),
                400,
                "invalid_request",
            ),
            (
                send(json!({"identifier_type": null, "identifier": null})),
                400,
                "invalid_request",
            ),
        ];
        for (body, status, error) in cases {
            let (s, v) = post(&srv, SEND, &token, body.clone()).await;
            assert_eq!(
                (s.as_u16(), code(&v)),
                (status, error),
                "{}: {body} → {v}",
                b.name
            );
        }
        // The deprecated `email` field names the user; a registered URI with a query works.
        let (s, v) = post(
            &srv,
            SEND,
            &token,
            send(json!({"identifier_type": null, "identifier": null,
                        "email": "ANN@example.com",
                        "redirect_uri": "https://app.example/other?x=1"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["link"]
            .as_str()
            .unwrap()
            .starts_with("https://app.example/other?x=1&code="));

        // `direct` needs `auth:direct`.
        let (s, v) = post(&srv, SEND, &plain, send(json!({}))).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "insufficient_permissions")
        );
        assert!(v.get("link").is_none());
        // Email delivery is not configured here.
        let (s, v) = post(&srv, SEND, &plain, send(json!({"channel": "email"}))).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::SERVICE_UNAVAILABLE, "delivery_failed")
        );

        // Disabled in the login preferences: send and authenticate refuse.
        let c = direct_link(&srv, &token, json!({})).await;
        let (s, _) = srv
            .send_json(
                Method::PUT,
                "/cis/v1/login-preferences",
                &admin,
                Some(json!({"auth_methods": {"email": false}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = post(&srv, SEND, &token, send(json!({}))).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "auth_login_preferences_missing")
        );
        let (s, v) = post(&srv, AUTH, &token, json!({"code": c})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "auth_login_preferences_missing")
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn links_expire_replace_each_other_and_belong_to_their_client() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = link_client(&srv, &admin, true).await;
        let (_, other) = link_client(&srv, &admin, true).await;
        srv.create_user(&token, json!({"email": "ann@example.com"}))
            .await;

        // Default lifetime: 15 minutes.
        let c = direct_link(&srv, &token, json!({})).await;
        srv.clock.advance_s(15 * 60);
        let (s, v) = post(&srv, AUTH, &token, json!({"code": c})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_link_expired"),
            "{}",
            b.name
        );
        // `email_expiration` sets another.
        let c = direct_link(&srv, &token, json!({"email_expiration": 30})).await;
        srv.clock.advance_s(29 * 60);
        let (s, v) = post(&srv, AUTH, &token, json!({"code": c})).await;
        assert_eq!(s, StatusCode::OK, "{v}");

        // A newer link replaces the older one.
        let first = direct_link(&srv, &token, json!({})).await;
        let second = direct_link(&srv, &token, json!({})).await;
        let (s, v) = post(&srv, AUTH, &token, json!({"code": first})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );
        // Another client cannot redeem it, and trying does not use it up.
        let (s, v) = post(&srv, AUTH, &other, json!({"code": second})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );
        let (s, _) = post(&srv, AUTH, &token, json!({"code": second})).await;
        assert_eq!(s, StatusCode::OK);
        srv.stop().await;
    }
}

#[tokio::test]
async fn email_links_arrive_in_the_dev_outbox() {
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        let (_, token) = link_client(&srv, &admin, false).await;
        srv.create_user(&token, json!({"email": "ann@example.com"}))
            .await;

        let (s, v) = post(
            &srv,
            SEND,
            &token,
            json!({"redirect_uri": CALLBACK, "email": "ann@example.com", "state": "s1"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v, json!({"message": "Magic link sent"}));
        let (s, outbox) = srv
            .send_json(
                Method::GET,
                "/cis/v1/dev/outbox?to=ann@example.com",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        let text = outbox[0]["text"].as_str().unwrap();
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with(CALLBACK))
            .unwrap();
        let link = url::Url::parse(link).unwrap();
        let c = link
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert!(link.query_pairs().any(|(k, v)| k == "state" && v == "s1"));
        let (s, t) = post(&srv, AUTH, &token, json!({"code": c})).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        assert_eq!(
            claims(t["id_token"].as_str().unwrap())["amr"],
            json!(["eml"])
        );
        srv.stop().await;
    }
}
