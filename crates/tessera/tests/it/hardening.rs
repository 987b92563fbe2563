//! Regression tests for the defects an attack on the running server found (the hardening
//! issue), each on every backend.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, code, paths, TestServer};

async fn create_client(
    srv: &TestServer,
    admin: &str,
    app_id: &str,
    body: Value,
) -> (StatusCode, Value) {
    srv.post(
        &format!("/cis/v1/applications/{app_id}/clients"),
        admin,
        body,
    )
    .await
}

/// `redirect_uris` accepted any scheme (`javascript:`), and names control characters.
#[tokio::test]
async fn redirect_uris_and_names_are_validated() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, _, _) = srv.app_and_client(&admin, json!({})).await;
        for uri in [
            "javascript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "http://app.example/cb",
            "https://app.example/cb#fragment",
        ] {
            let (s, v) = create_client(
                &srv,
                &admin,
                &app_id,
                json!({"name": "c", "redirect_uris": [uri]}),
            )
            .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {uri}: {v}", b.name);
            assert_eq!(code(&v), "invalid_request");
        }
        for uri in [
            "https://app.example/cb",
            "http://127.0.0.1:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            let (s, v) = create_client(
                &srv,
                &admin,
                &app_id,
                json!({"name": "c", "redirect_uris": [uri]}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{} {uri}: {v}", b.name);
        }
        for body in [
            json!({"name": "bad\u{0}name"}),
            json!({"name": "line\nbreak"}),
            json!({"name": "ok", "description": "nul\u{0}"}),
        ] {
            let (s, v) = srv.post("/cis/v1/applications", &admin, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {body}: {v}", b.name);
            let (s, v) = create_client(&srv, &admin, &app_id, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{} {body}: {v}", b.name);
        }
        srv.stop().await;
    }
}

/// `grace_period_s: 4294967295` kept the old secret valid until 2163.
#[tokio::test]
async fn the_secret_rotation_grace_period_is_capped_at_30_days() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, client_id, _) = srv.app_and_client(&admin, json!({})).await;
        let path = format!("/cis/v1/applications/{app_id}/clients/{client_id}/secret");
        let (s, v) = srv
            .post(&path, &admin, json!({"grace_period_s": 4_294_967_295u64}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", b.name);
        let (s, v) = srv
            .post(&path, &admin, json!({"grace_period_s": 30 * 24 * 3600 + 1}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{}: {v}", b.name);
        let (s, v) = srv
            .post(&path, &admin, json!({"grace_period_s": 30 * 24 * 3600}))
            .await;
        assert_eq!(s, StatusCode::OK, "{}: {v}", b.name);
        srv.stop().await;
    }
}

/// Basic credentials without base64 padding were refused; the challenge of a 401
/// `invalid_client` lacked `error="invalid_client"`.
#[tokio::test]
async fn basic_credentials_without_padding_work_and_challenges_name_the_error() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv
            .app_and_client(
                &admin,
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await;
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(format!("{client_id}:{secret}"));
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("authorization", format!("Basic {unpadded}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let wrong = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:nope"));
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("authorization", format!("Basic {wrong}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let challenge = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        assert!(
            challenge.contains("error=\"invalid_client\""),
            "{challenge}"
        );
        srv.stop().await;
    }
}

/// `/cis/v1/users*` answers (personal data) lacked `Cache-Control: no-store`.
#[tokio::test]
async fn user_answers_are_never_cached() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let user_id = srv
            .create_user(
                &admin,
                json!({"username": "nina", "email": "nina@example.com"}),
            )
            .await;
        for (method, path, body) in [
            (Method::GET, paths::USERS.to_string(), None),
            (Method::GET, format!("{}/{user_id}", paths::USERS), None),
            (Method::GET, "/cis/v1/users/username/nina".to_string(), None),
            (
                Method::PATCH,
                format!("{}/{user_id}", paths::USERS),
                Some(json!({"external_user_id": "x"})),
            ),
            (
                Method::POST,
                paths::USERS.to_string(),
                Some(json!({"username": "other"})),
            ),
        ] {
            let mut req = srv
                .http
                .request(method.clone(), srv.url(&path))
                .bearer_auth(&admin);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{method} {path}");
            assert_eq!(r.headers()["cache-control"], "no-store", "{method} {path}");
        }
        srv.stop().await;
    }
}

/// Six wrong passwords for an existing username gave 400 ×4 then 403 `auth_locked`, but for
/// an unknown username 400 forever (and the same with OTP for a known and an unknown phone
/// number): the lockout told which accounts exist.
#[tokio::test]
async fn unknown_identifiers_lock_out_like_known_ones() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = srv
            .client_token(
                &admin,
                json!({"permissions": crate::harness::ALL_PERMISSIONS}),
            )
            .await;
        srv.create_user(
            &token,
            json!({"username": "known", "phone_number": "+14155550123",
                   "credentials": {"password": crate::harness::SECRET}}),
        )
        .await;
        let mut answers = Vec::new();
        for username in ["known", "nobody-at-all"] {
            let mut codes = Vec::new();
            for _ in 0..6 {
                let (s, v) = srv
                    .login(
                        &token,
                        json!({"username": username, "password": "wrong password"}),
                    )
                    .await;
                codes.push((s.as_u16(), code(&v).to_string()));
            }
            answers.push(codes);
        }
        assert_eq!(
            answers[0], answers[1],
            "{}: password answers differ",
            b.name
        );
        assert_eq!(
            answers[0][4],
            (403, "auth_locked".to_string()),
            "{}",
            b.name
        );
        assert_eq!(answers[0][3], (400, "auth_invalid_credentials".to_string()));

        let mut answers = Vec::new();
        for phone in ["+14155550123", "+14155550999"] {
            let mut codes = Vec::new();
            for _ in 0..5 {
                let (s, v) = srv
                    .post(
                        paths::OTP_AUTH,
                        &token,
                        json!({"passcode": "000000", "identifier_type": "phone_number",
                               "identifier": phone}),
                    )
                    .await;
                codes.push((s.as_u16(), code(&v).to_string()));
            }
            answers.push(codes);
        }
        assert_eq!(answers[0], answers[1], "{}: OTP answers differ", b.name);
        assert_eq!(
            answers[0][2],
            (403, "auth_locked".to_string()),
            "{}",
            b.name
        );
        srv.stop().await;
    }
}

/// The OTP lockout and its documentation disagreed. `otp.max_failures` (3) is the number of
/// wrong codes that lock: two wrong codes, then the right one logs in; three wrong codes
/// answer `auth_locked` on the third, and the right code is then refused too.
#[tokio::test]
async fn otp_max_failures_is_the_number_of_wrong_codes_that_lock() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = srv
            .client_token(
                &admin,
                json!({"permissions": crate::harness::ALL_PERMISSIONS}),
            )
            .await;
        let user_id = srv.create_user(&token, json!({"username": "olga"})).await;
        let send = || async {
            let (s, v) = srv
                .post(
                    paths::OTP_SEND,
                    &token,
                    json!({"channel": "direct", "identifier_type": "user_id", "identifier": user_id}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["code"].as_str().unwrap().to_string()
        };
        let auth = |passcode: String| {
            let body = json!({"passcode": passcode, "identifier_type": "user_id",
                              "identifier": user_id});
            let srv = &srv;
            let token = &token;
            async move { srv.post(paths::OTP_AUTH, token, body).await }
        };
        let wrong = |c: &str| {
            if c == "000000" {
                "111111".to_string()
            } else {
                "000000".to_string()
            }
        };
        let good = send().await;
        for _ in 0..2 {
            let (s, v) = auth(wrong(&good)).await;
            assert_eq!(
                (s.as_u16(), code(&v)),
                (400, "auth_invalid_credentials"),
                "{}",
                b.name
            );
        }
        let (s, v) = auth(good.clone()).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{}: the third attempt is compared: {v}",
            b.name
        );

        let good = send().await;
        for i in 0..3 {
            let (s, v) = auth(wrong(&good)).await;
            let want = if i < 2 {
                (400, "auth_invalid_credentials")
            } else {
                (403, "auth_locked")
            };
            assert_eq!((s.as_u16(), code(&v)), want, "{} attempt {i}", b.name);
        }
        let (s, v) = auth(good).await;
        assert_eq!((s.as_u16(), code(&v)), (403, "auth_locked"), "{}", b.name);
        srv.stop().await;
    }
}

fn doubling(name: &str, leaf: &str, n: usize) -> String {
    let mut s = format!("      {name}0: '{leaf}'\n");
    for i in 1..=n {
        s.push_str(&format!(
            "      {name}{i}: '[{name}{p}, {name}{p}]'\n",
            p = i - 1
        ));
    }
    s
}

/// One journey request crashed (stack overflow, a 4 GiB allocation) or stalled the whole
/// server. Each attack now answers `journey_failed` with `limit_exceeded`, every time, and
/// the server keeps serving.
#[tokio::test]
async fn runaway_journeys_answer_limit_exceeded_and_the_server_keeps_serving() {
    const HEAD: &str = "type: backend_api\nenforce_token: false\nsteps:\n";
    let mut chain = String::from("      v0: 'x'\n");
    for i in 1..=2000 {
        chain.push_str(&format!("      v{i}: '[v{}]'\n", i - 1));
    }
    let attacks = [
        (
            "nested-lets",
            format!(
                "id: nested-lets\n{HEAD}  - {{id: init, type: set_variables, variables: {{x: '1'}}}}\n  - id: chain\n    type: set_variables\n    variables:\n{chain}  - {{id: again, type: condition, expression: 'true', on_true: chain, on_false: done}}\n  - {{id: done, type: http_complete, status: 200}}\n"
            ),
        ),
        (
            "doubling",
            format!(
                "id: doubling\n{HEAD}  - id: build\n    type: set_variables\n    variables:\n{}  - {{id: s, type: set_variables, variables: {{s: '\"\" + a34'}}}}\n  - {{id: done, type: http_complete, status: 200}}\n",
                doubling("a", "\"x\"", 34)
            ),
        ),
        (
            "deep-equality",
            format!(
                "id: deep-equality\n{HEAD}  - id: build\n    type: set_variables\n    variables:\n{}{}  - {{id: cmp, type: condition, expression: 'a34 == b34', on_true: cmp, on_false: done}}\n  - {{id: done, type: http_complete, status: 200}}\n",
                doubling("a", "1", 34),
                doubling("b", "1", 34)
            ),
        ),
    ];
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        for (id, yaml) in &attacks {
            let r = srv
                .http
                .put(srv.url(&format!("/ido/api/v2/journeys/{id}")))
                .bearer_auth(&admin)
                .header("content-type", "application/yaml")
                .body(yaml.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "{id}: {}",
                r.text().await.unwrap()
            );
            for _ in 0..2 {
                let r = srv
                    .http
                    .post(srv.url(&format!("/ido/api/v2/invoke-api-journey/{id}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{} {id}",
                    b.name
                );
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["error_code"], "journey_failed", "{v}");
                assert!(
                    v["message"].as_str().unwrap().contains("limit"),
                    "{id}: {v}"
                );
            }
            let r = srv.http.get(srv.url("/healthz")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        srv.stop().await;
    }
}
