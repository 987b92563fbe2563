//! CIBA (SPEC §6): the seed's flow end to end, every error of the backchannel request, the
//! completion and the poll, ping mode with a notification receiver, concurrent decisions,
//! three nodes on one database, and a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::{backends, claims, code, now_ms, paths, TestServer, SECRET};
use crate::multi_node::{eventually, node_config, shared_kek};

const BACKCHANNEL: &str = "/cis/oidc/backchannel";
const COMPLETE: &str = "/cis/auth/backchannel/complete";
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
const LOGIN_URI: &str = "https://app.example/ciba/login";

/// A tenant with a CIBA client and the user Ann (verified phone and email, a password).
struct Setup {
    admin: String,
    app_id: String,
    client_id: String,
    secret: String,
    /// A client token with every user and auth permission (creates users, logs them in).
    backend: String,
    ann: String,
}

async fn setup(srv: &TestServer, client_fields: Value) -> Setup {
    let admin = srv.admin_token().await;
    let (app_id, client_id, secret) = srv.app_and_client(&admin, client_fields).await;
    let backend = srv.client_token(&admin, json!({})).await;
    let ann = srv
        .create_user(
            &backend,
            json!({
                "username": "ann",
                "email": "ann@example.com",
                "email_verified": true,
                "phone_number": "+14155550100",
                "phone_number_verified": true,
                "credentials": {"password": SECRET},
            }),
        )
        .await;
    Setup {
        admin,
        app_id,
        client_id,
        secret,
        backend,
        ann,
    }
}

fn enabled() -> Value {
    json!({"ciba_authorization": {"enabled": true, "login_uri": LOGIN_URI}})
}

async fn form(
    srv: &TestServer,
    path: &str,
    pairs: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let r = srv.form(path, pairs).await;
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn backchannel(srv: &TestServer, s: &Setup, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut pairs = vec![
        ("client_id", s.client_id.as_str()),
        ("client_secret", s.secret.as_str()),
    ];
    pairs.extend_from_slice(extra);
    let (status, _, body) = form(srv, BACKCHANNEL, &pairs).await;
    (status, body)
}

/// A backchannel request for Ann with channel `link`; returns the auth_req_id.
async fn request_link(srv: &TestServer, s: &Setup, scope: &str) -> String {
    let (status, v) = backchannel(
        srv,
        s,
        &[
            ("scope", scope),
            ("login_hint", "ann"),
            ("request_context", r#"{"channel": "link"}"#),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["auth_req_id"].as_str().unwrap().to_string()
}

async fn poll(srv: &TestServer, client_id: &str, secret: &str, id: &str) -> (StatusCode, Value) {
    let (status, _, body) = form(
        srv,
        "/oidc/token",
        &[
            ("grant_type", CIBA_GRANT),
            ("auth_req_id", id),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await;
    (status, body)
}

/// Ann's access token from a password login now.
async fn ann_token(srv: &TestServer, s: &Setup) -> String {
    srv.login_ok(&s.backend, "ann").await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn complete(srv: &TestServer, token: &str, id: &str, approved: bool) -> (StatusCode, Value) {
    srv.post(
        COMPLETE,
        token,
        json!({"auth_req_id": id, "approved": approved}),
    )
    .await
}

/// The newest dev-outbox message to `to` (URL-encoded), waiting up to 5 s for the queued
/// delivery.
async fn first_message(srv: &TestServer, admin: &str, to: &str) -> Value {
    message_containing(srv, admin, to, "").await
}

/// The dev-outbox message to `to` (URL-encoded) whose text contains `needle`, waiting up to
/// 5 s for the queued delivery.
async fn message_containing(srv: &TestServer, admin: &str, to: &str, needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, outbox) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/dev/outbox?to={to}"),
                admin,
                None,
            )
            .await;
        let found = outbox
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["text"].as_str().is_some_and(|text| text.contains(needle)));
        if let Some(m) = found {
            return m.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no message to {to} with {needle} within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn query_param(link: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(link).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_seed_flow_works_with_an_sms_link_from_the_outbox() {
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let s = setup(&srv, json!({})).await;
        // Step 2: enable CIBA with the seed's PUT.
        let (status, client) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{}/clients/{}", s.app_id, s.client_id),
                &s.admin,
                Some(enabled()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{client}");

        // Step 3: the request, by SMS (the default channel) to Ann's phone number, sent as
        // the guide's `curl -d login_hint=+1…` sends it (the raw `+` decodes to a space).
        let body = format!(
            "client_id={}&client_secret={}&scope=openid&login_hint=+14155550100",
            s.client_id, s.secret
        );
        let r = srv
            .http
            .post(srv.url(BACKCHANNEL))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let raw: Value = r.json().await.unwrap();
        let raw_id = raw["auth_req_id"].as_str().unwrap();
        message_containing(&srv, &s.admin, "%2B14155550100", raw_id).await;
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "+14155550100"),
                ("binding_message", "Call 4711 at the branch"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v["expires_in"], 300);
        assert_eq!(v["interval"], 5);
        assert!(v.get("auth_link").is_none(), "only channel link returns it");
        let id = v["auth_req_id"].as_str().unwrap().to_string();
        assert!(id.len() >= 27, "at least 160 bits");

        // The SMS carries the link with the request id and the percent-encoded message.
        let sms = message_containing(&srv, &s.admin, "%2B14155550100", &id).await;
        let text = sms["text"].as_str().unwrap().to_string();
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with(LOGIN_URI))
            .unwrap_or_else(|| panic!("no link in {text}"));
        assert!(
            link.contains("binding_message=Call%204711%20at%20the%20branch"),
            "{link}"
        );
        assert_eq!(
            query_param(link, "auth_req_id").as_deref(),
            Some(id.as_str())
        );

        // Step 4: poll. Pending; too fast; pending again after the (grown) interval.
        let (status, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("authorization_pending"))
        );
        let (status, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("slow_down")),
            "{v}"
        );
        srv.clock.advance_s(6);
        let (_, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(
            v["error"], "slow_down",
            "the interval was 10 s, and is 15 s now"
        );
        srv.clock.advance_s(16);
        let (_, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(v["error"], "authorization_pending", "{v}");

        // Step 1: the login_uri page approves with Ann's token from a fresh login.
        let token = ann_token(&srv, &s).await;
        let (status, v) = complete(&srv, &token, &id, true).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v, json!({"status": "approved"}));

        srv.clock.advance_s(20);
        let (status, tokens) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(status, StatusCode::OK, "{} {tokens}", b.name);
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid");
        assert!(tokens.get("refresh_token").is_none(), "no offline_access");
        assert!(tokens.get("session_id").is_none());
        let login_claims = claims(&token);
        for t in ["access_token", "id_token"] {
            let c = claims(tokens[t].as_str().unwrap());
            assert_eq!(c["sub"], s.ann.as_str(), "{t}");
            assert_eq!(
                c["amr"],
                json!(["pwd"]),
                "{t}: the approving authentication's amr"
            );
            assert_eq!(c["auth_time"], login_claims["auth_time"], "{t}");
            assert!(c.get("urn:openid:params:jwt:claim:auth_req_id").is_none());
        }
        let id_claims = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id_claims["aud"], s.client_id.as_str());
        assert_eq!(id_claims["iss"], srv.issuer.as_str());
        // The access token works at userinfo.
        let (status, info) = srv
            .send_json(
                Method::GET,
                paths::USERINFO,
                tokens["access_token"].as_str().unwrap(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{info}");
        assert_eq!(info["sub"], s.ann.as_str());

        // Exactly once.
        let (status, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn every_backchannel_request_error_has_its_name() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, enabled()).await;
        let ok_hint = [("scope", "openid"), ("login_hint", "ann")];

        // Not enabled.
        let (_, off_id, off_secret) = srv.app_and_client(&s.admin, json!({})).await;
        let (status, _, v) = form(
            &srv,
            BACKCHANNEL,
            &[
                ("client_id", &off_id),
                ("client_secret", &off_secret),
                ("scope", "openid"),
                ("login_hint", "ann"),
            ],
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
            "{v}"
        );

        // Bad client credentials: 401 with a challenge.
        let (status, headers, v) = form(
            &srv,
            "/oidc/backchannel",
            &[
                ("client_id", &s.client_id),
                ("client_secret", "wrong"),
                ("scope", "openid"),
                ("login_hint", "ann"),
            ],
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
        assert!(headers.get("www-authenticate").is_some());

        let long = "x".repeat(65);
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("login_hint", "ann")], "invalid_request"),
            (
                vec![("scope", "profile"), ("login_hint", "ann")],
                "invalid_request",
            ),
            (
                vec![("scope", "openid admin"), ("login_hint", "ann")],
                "invalid_scope",
            ),
            (vec![("scope", "openid")], "invalid_request"),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("id_token_hint", "x.y.z"),
                ],
                "invalid_request",
            ),
            (
                vec![("scope", "openid"), ("login_hint_token", "not-a-token")],
                "invalid_request",
            ),
            (
                vec![("scope", "openid"), ("id_token_hint", "not-a-token")],
                "invalid_request",
            ),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("binding_message", &long),
                ],
                "invalid_binding_message",
            ),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("binding_message", "two\nlines"),
                ],
                "invalid_binding_message",
            ),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("request_context", "{"),
                ],
                "invalid_request",
            ),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("request_context", r#"{"channel":"fax"}"#),
                ],
                "invalid_request",
            ),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("requested_expiry", "0"),
                ],
                "invalid_request",
            ),
            (
                vec![
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("requested_expiry", "soon"),
                ],
                "invalid_request",
            ),
        ];
        for (extra, want) in cases {
            let (status, v) = backchannel(&srv, &s, &extra).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{} {extra:?}: {v}", b.name);
            assert_eq!(v["error"], want, "{extra:?}: {v}");
        }

        // Nobody who can be asked: unknown, disabled, no verified address on the channel.
        srv.create_user(&s.backend, json!({"username": "off", "phone_number": "+14155550101", "phone_number_verified": true, "status": "disabled"})).await;
        srv.create_user(&s.backend, json!({"username": "unverified", "phone_number": "+14155550102", "email": "u@example.com"})).await;
        let mut bodies = Vec::new();
        for (hint, context) in [
            ("nobody", "{}"),
            ("nobody@example.com", r#"{"channel":"email"}"#),
            ("off", "{}"),
            ("unverified", "{}"),
            ("unverified", r#"{"channel":"email"}"#),
        ] {
            let started = Instant::now();
            let (status, v) = backchannel(
                &srv,
                &s,
                &[
                    ("scope", "openid"),
                    ("login_hint", hint),
                    ("request_context", context),
                ],
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{hint}: {v}");
            assert_eq!(v["error"], "unknown_user_id", "{hint}: {v}");
            // Held to the floor that hides whether the lookup found a row.
            assert!(started.elapsed() >= Duration::from_millis(20), "{hint}");
            bodies.push(v);
        }
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "one answer for all: {bodies:?}"
        );
        // Channel link needs no verified address.
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "unverified"),
                ("request_context", r#"{"channel":"link"}"#),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");

        // login_hint_token: a user token of ours names the user; an expired one is refused by
        // name; a client token names no user.
        let ann_at = ann_token(&srv, &s).await;
        let link = [("request_context", r#"{"channel":"link"}"#)];
        let (status, v) = backchannel(
            &srv,
            &s,
            &[("scope", "openid"), ("login_hint_token", &ann_at), link[0]],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint_token", &s.backend),
                link[0],
            ],
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{v}"
        );
        // id_token_hint: an ID token issued to this client names its user; one issued to
        // another client does not.
        let own_id_token = srv
            .login_ok(&srv.token(&s.client_id, &s.secret).await, "ann")
            .await["id_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("id_token_hint", &own_id_token),
                link[0],
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let other_id_token = srv.login_ok(&s.backend, "ann").await["id_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("id_token_hint", &other_id_token),
                link[0],
            ],
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{v}"
        );
        srv.clock.advance_s(3700);
        let (status, v) = backchannel(
            &srv,
            &s,
            &[("scope", "openid"), ("login_hint_token", &ann_at), link[0]],
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("expired_login_hint_token")),
            "{v}"
        );

        // requested_expiry is capped at 600 s.
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ok_hint[0],
                ok_hint[1],
                ("requested_expiry", "86400"),
                link[0],
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["expires_in"], 600);
        srv.stop().await;
    }
}

#[tokio::test]
async fn requests_naming_one_user_are_rate_limited() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, enabled()).await;
        let mut last = (StatusCode::OK, Value::Null);
        for _ in 0..11 {
            last = backchannel(
                &srv,
                &s,
                &[
                    ("scope", "openid"),
                    ("login_hint", "ann"),
                    ("request_context", r#"{"channel":"link"}"#),
                ],
            )
            .await;
            if last.0 != StatusCode::OK {
                break;
            }
        }
        assert_eq!(
            last.0,
            StatusCode::TOO_MANY_REQUESTS,
            "{} {}",
            b.name,
            last.1
        );
        assert_eq!(last.1["error"], "slow_down");
        srv.stop().await;
    }
}

#[tokio::test]
async fn completion_checks_the_user_the_time_and_the_state() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, enabled()).await;
        // A token from before the request.
        let early = ann_token(&srv, &s).await;
        srv.clock.advance_s(2);
        let id = request_link(&srv, &s, "openid").await;

        let (status, v) = complete(&srv, &early, &id, true).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{} {v}",
            b.name
        );
        srv.create_user(
            &s.backend,
            json!({"username": "bob", "credentials": {"password": SECRET}}),
        )
        .await;
        let bob = srv.login_ok(&s.backend, "bob").await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, v) = complete(&srv, &bob, &id, true).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{v}"
        );
        // A client token is not a user token.
        let (status, _) = complete(&srv, &s.backend, &id, true).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let token = ann_token(&srv, &s).await;
        for unknown in ["nope", &"A".repeat(43), &format!("{}\u{0}", &id[1..])] {
            let (status, v) = complete(&srv, &token, unknown, true).await;
            assert_eq!(
                (status, code(&v)),
                (StatusCode::BAD_REQUEST, "invalid_auth_req_id"),
                "{v}"
            );
        }
        // Denied: decided once, polls say so.
        let (status, v) = complete(&srv, &token, &id, false).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["status"], "denied");
        let (status, v) = complete(&srv, &token, &id, true).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_auth_req_id"),
            "{v}"
        );
        let (_, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(v["error"], "access_denied");
        // Under /cis/v1 too, and an expired request can be neither decided nor polled.
        let id2 = request_link(&srv, &s, "openid").await;
        srv.clock.advance_s(301);
        let token = ann_token(&srv, &s).await;
        let (status, v) = srv
            .post(
                "/cis/v1/auth/backchannel/complete",
                &token,
                json!({"auth_req_id": id2, "approved": true}),
            )
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_auth_req_id"),
            "{v}"
        );
        let (_, v) = poll(&srv, &s.client_id, &s.secret, &id2).await;
        assert_eq!(v["error"], "expired_token");
        // Another client cannot poll someone else's request.
        let id3 = request_link(&srv, &s, "openid").await;
        let (_, other_id, other_secret) = srv.app_and_client(&s.admin, enabled()).await;
        let (_, v) = poll(&srv, &other_id, &other_secret, &id3).await;
        assert_eq!(v["error"], "invalid_grant");
        let (_, v) = poll(&srv, &s.client_id, &s.secret, "garbage").await;
        assert_eq!(v["error"], "invalid_grant");
        srv.stop().await;
    }
}

#[tokio::test]
async fn two_decisions_at_once_record_exactly_one() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, enabled()).await;
        let token = ann_token(&srv, &s).await;
        for _ in 0..5 {
            let id = request_link(&srv, &s, "openid").await;
            let (a, d) = tokio::join!(
                complete(&srv, &token, &id, true),
                complete(&srv, &token, &id, false)
            );
            let wins = [&a, &d].iter().filter(|r| r.0 == StatusCode::OK).count();
            assert_eq!(wins, 1, "{} {a:?} {d:?}", b.name);
            let (status, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
            if a.0 == StatusCode::OK {
                assert_eq!(status, StatusCode::OK, "{v}");
            } else {
                assert_eq!(v["error"], "access_denied");
            }
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn offline_access_adds_a_refresh_token_that_refreshes() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, enabled()).await;
        let id = request_link(&srv, &s, "openid email offline_access").await;
        let token = ann_token(&srv, &s).await;
        assert_eq!(complete(&srv, &token, &id, true).await.0, StatusCode::OK);
        let (status, tokens) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(status, StatusCode::OK, "{} {tokens}", b.name);
        assert_eq!(tokens["scope"], "openid email offline_access");
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["email"],
            "ann@example.com"
        );
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh),
                    ("client_id", &s.client_id),
                    ("client_secret", &s.secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let refreshed: Value = r.json().await.unwrap();
        let c = claims(refreshed["access_token"].as_str().unwrap());
        assert_eq!(
            c["scope"], "openid email offline_access",
            "the refresh keeps the CIBA scope"
        );
        assert_eq!(c["amr"], json!(["pwd"]));
        srv.stop().await;
    }
}

#[tokio::test]
async fn link_and_email_channels_carry_the_link_and_the_custom_message() {
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let s = setup(&srv, enabled()).await;
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "ann@example.com"),
                ("binding_message", "W4 & 7=?"),
                (
                    "request_context",
                    r#"{"channel": "link", "login_hint_type": "email"}"#,
                ),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let link = v["auth_link"].as_str().unwrap();
        assert!(
            link.starts_with(&format!("{LOGIN_URI}?auth_req_id=")),
            "{link}"
        );
        assert!(
            link.ends_with("&binding_message=W4%20%26%207%3D%3F"),
            "{link}"
        );
        assert_eq!(
            query_param(link, "auth_req_id").unwrap(),
            v["auth_req_id"].as_str().unwrap()
        );

        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "ann@example.com"),
                ("request_context", r#"{"channel": "email", "login_hint_type": "email", "custom_message": "Ready to authenticate?"}"#),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let id = v["auth_req_id"].as_str().unwrap().to_string();
        let message = first_message(&srv, &s.admin, "ann@example.com").await;
        assert_eq!(message["channel"], "email");
        assert_eq!(message["subject"], "Confirm a request from Test app");
        let text = message["text"].as_str().unwrap();
        assert!(text.starts_with("Ready to authenticate?\n"), "{text}");
        assert!(text.contains(&format!("auth_req_id={id}")), "{text}");
        srv.stop().await;
    }
}

/// A notification receiver: records (authorization header, body) of every POST, answers 204.
async fn receiver(listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<(String, Value)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let record = record.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                record.lock().unwrap().push((auth, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    seen
}

#[tokio::test]
async fn ping_clients_are_notified_and_then_fetch_the_tokens() {
    for b in backends().await {
        let srv = b.start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/cb", listener.local_addr().unwrap());
        let seen = receiver(listener).await;
        let mut fields = enabled();
        fields["backchannel_token_delivery_mode"] = json!("ping");
        fields["backchannel_client_notification_endpoint"] = json!(endpoint);
        let s = setup(&srv, fields).await;

        // A ping client must send its notification token.
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "ann"),
                ("request_context", r#"{"channel":"link"}"#),
            ],
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{v}"
        );
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "ann"),
                ("request_context", r#"{"channel":"link"}"#),
                ("client_notification_token", "nt-8f3a2c"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let id = v["auth_req_id"].as_str().unwrap().to_string();
        // Ping clients may poll too.
        let (_, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(v["error"], "authorization_pending");
        assert!(seen.lock().unwrap().is_empty());

        let token = ann_token(&srv, &s).await;
        assert_eq!(complete(&srv, &token, &id, true).await.0, StatusCode::OK);
        eventually("the ping", || {
            let n = seen.lock().unwrap().len();
            async move { n > 0 }
        })
        .await;
        let (auth, body) = seen.lock().unwrap()[0].clone();
        assert_eq!(auth, "Bearer nt-8f3a2c", "{}", b.name);
        assert_eq!(body, json!({"auth_req_id": id}));
        srv.clock.advance_s(10);
        let (status, tokens) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert!(tokens["id_token"].is_string());

        // A notification endpoint must be https, or http inside outbound.allow_cidrs.
        let (status, v) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{}/clients/{}", s.app_id, s.client_id),
                &s.admin,
                Some(json!({"backchannel_client_notification_endpoint": "http://rp.example/cb"})),
            )
            .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{v}"
        );
        let (status, v) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{}/clients/{}", s.app_id, s.client_id),
                &s.admin,
                Some(json!({"backchannel_client_notification_endpoint": null})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "ping needs an endpoint: {v}"
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_request_made_on_one_node_is_approved_on_another_and_polled_on_a_third() {
    for b in backends().await {
        let kek = shared_kek();
        let mut config = node_config(&b, "a", &kek);
        config.admin = b.config().admin;
        let a = TestServer::start(config.clone(), TestClock::new(now_ms())).await;
        config.data_dir = b.dir.path().join("b");
        let n2 = TestServer::start(config.clone(), TestClock::new(now_ms())).await;
        config.data_dir = b.dir.path().join("c");
        let c = TestServer::start(config, TestClock::new(now_ms())).await;

        let s = setup(&a, enabled()).await;
        let id = request_link(&a, &s, "openid").await;
        // The user logs in on node B (which loads the new clients from the database).
        let token = ann_token(&n2, &s).await;
        let (status, v) = complete(&n2, &token, &id, true).await;
        assert_eq!(status, StatusCode::OK, "{} {v}", b.name);
        let result = poll(&c, &s.client_id, &s.secret, &id).await;
        assert_eq!(result.0, StatusCode::OK, "{}", result.1);
        // Node A cannot hand them out a second time.
        let (_, v) = poll(&a, &s.client_id, &s.secret, &id).await;
        assert_eq!(v["error"], "invalid_grant");
        for n in [a, n2, c] {
            n.stop().await;
        }
    }
}

#[tokio::test]
async fn requests_survive_a_restart() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, enabled()).await;
        let id = request_link(&srv, &s, "openid").await;
        srv.stop().await;
        let srv = b.start().await;
        let token = ann_token(&srv, &s).await;
        assert_eq!(complete(&srv, &token, &id, true).await.0, StatusCode::OK);
        srv.stop().await;
        let srv = b.start().await;
        let (status, v) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(status, StatusCode::OK, "{} {v}", b.name);
        srv.stop().await;
    }
}

#[tokio::test]
async fn discovery_advertises_ciba() {
    let b = backends().await.remove(0);
    let srv = b.start().await;
    let d: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["backchannel_authentication_endpoint"],
        format!("{}/oidc/backchannel", srv.issuer)
    );
    assert_eq!(
        d["backchannel_token_delivery_modes_supported"],
        json!(["poll", "ping"])
    );
    assert_eq!(d["backchannel_user_code_parameter_supported"], false);
    assert!(d["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(CIBA_GRANT)));
    srv.stop().await;
}

/// A Tessera process (the real binary) on `port`, for `kill -9`.
struct Process {
    child: std::process::Child,
    base: String,
}

impl Process {
    async fn start(b: &crate::harness::Backend, port: u16) -> Self {
        use tessera::config::Database;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.args([
            "serve",
            "--migrate",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--issuer", crate::harness::ISSUER, "--data-dir"])
        .arg(b.dir.path().join("proc"))
        .env("TESSERA_ADMIN_CLIENT_ID", crate::harness::ADMIN_ID)
        .env("TESSERA_ADMIN_CLIENT_SECRET", crate::harness::ADMIN_SECRET)
        .env("TESSERA_OUTBOUND__ALLOW_CIDRS", "127.0.0.0/8")
        .env("TESSERA_LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        if let Database::Postgres(url) = &b.database {
            cmd.env("TESSERA_DATABASE_URL", url.as_str());
        }
        if let Some(kek) = &b.kek {
            cmd.env("TESSERA_KEY_ENCRYPTION_KEY", kek);
        }
        let child = cmd.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
                if r.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the node did not start");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Self { child, base }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_queued_ping_survives_kill_9_of_the_node_that_queued_it() {
    for b in backends().await {
        // The notification endpoint does not listen yet: the first attempt fails and the
        // job waits in the queue for its retry.
        let receiver_port = free_port();
        let endpoint = format!("http://127.0.0.1:{receiver_port}/cb");
        let node = Process::start(&b, free_port()).await;
        let http = reqwest::Client::new();
        let srv = TestServer {
            server: None,
            base: node.base.clone(),
            issuer: crate::harness::ISSUER.into(),
            clock: TestClock::new(now_ms()),
            http: http.clone(),
        };
        let mut fields = enabled();
        fields["backchannel_token_delivery_mode"] = json!("ping");
        fields["backchannel_client_notification_endpoint"] = json!(endpoint);
        let s = setup(&srv, fields).await;
        let (status, v) = backchannel(
            &srv,
            &s,
            &[
                ("scope", "openid"),
                ("login_hint", "ann"),
                ("request_context", r#"{"channel":"link"}"#),
                ("client_notification_token", "nt-survivor"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let id = v["auth_req_id"].as_str().unwrap().to_string();
        let token = ann_token(&srv, &s).await;
        assert_eq!(complete(&srv, &token, &id, true).await.0, StatusCode::OK);
        // The decision (and its queued ping) is acknowledged: kill the node at once.
        node.kill_9();

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", receiver_port))
            .await
            .unwrap();
        let seen = receiver(listener).await;
        let node = Process::start(&b, free_port()).await;
        // The retry is due 2 s after the failed attempt; a job the dead node held is claimed
        // again when its 30 s lease ends.
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "{}: the ping was lost", b.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (auth, body) = seen.lock().unwrap()[0].clone();
        assert_eq!(auth, "Bearer nt-survivor");
        assert_eq!(body, json!({"auth_req_id": id}));
        let srv = TestServer {
            base: node.base.clone(),
            ..srv
        };
        let (status, tokens) = poll(&srv, &s.client_id, &s.secret, &id).await;
        assert_eq!(status, StatusCode::OK, "{} {tokens}", b.name);
        node.kill_9();
    }
}
