//! Email/SMS one-time passcodes end to end: every error code of send and authenticate, the
//! `direct` channel and its permission, amr per channel and address verification, expiry and
//! lockout on the test clock, replacement by a newer code, binding to the sending client,
//! exactly-once redemption under concurrency, MFA on one session, the send rate limit, and
//! real delivery through the development outbox and an SMS webhook.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use tessera_identity::TestClock;

use crate::harness::paths::{OTP_AUTH as AUTH, OTP_SEND as SEND, PASSWORD, PREFS};
use crate::harness::{
    backends, claims, code, now_ms, verify_with_jwks, TestServer, ALL_PERMISSIONS, SECRET,
};

/// A client allowed to use the `direct` channel.
async fn direct_client(srv: &TestServer, admin: &str) -> (String, String) {
    srv.client(admin, json!({"permissions": ALL_PERMISSIONS}))
        .await
}

/// The standard test user: username ann, an unverified email and phone, a password.
/// A node started with `config`, an admin token, a client's token, and the user `ann`.
async fn start_with_ann(config: tessera::config::Config) -> (TestServer, String, String) {
    let srv = TestServer::start(config, TestClock::new(now_ms())).await;
    let admin = srv.admin_token().await;
    let (_, token) = srv.client(&admin, json!({})).await;
    ann(&srv, &token).await;
    (srv, admin, token)
}

async fn ann(srv: &TestServer, token: &str) -> String {
    srv.create_user(
        token,
        json!({
            "username": "ann",
            "email": "Ann@Example.com",
            "phone_number": "+14155550100",
            "credentials": {"password": SECRET},
        }),
    )
    .await
}

async fn post(srv: &TestServer, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    srv.post(path, token, body).await
}

/// A `direct` code for (identifier_type, identifier).
async fn direct(srv: &TestServer, token: &str, kind: &str, id: &str) -> String {
    let (s, v) = post(
        srv,
        SEND,
        token,
        json!({"channel": "direct", "identifier_type": kind, "identifier": id}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["message"], "OTP sent");
    let c = v["code"].as_str().unwrap().to_string();
    assert_eq!(c.len(), 6);
    assert!(c.bytes().all(|b| b.is_ascii_digit()));
    c
}

async fn authenticate(
    srv: &TestServer,
    token: &str,
    kind: &str,
    id: &str,
    passcode: &str,
) -> (StatusCode, Value) {
    post(
        srv,
        AUTH,
        token,
        json!({"passcode": passcode, "identifier_type": kind, "identifier": id}),
    )
    .await
}

/// Some passcode other than `c`.
fn other_than(c: &str) -> String {
    if c == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

#[tokio::test]
async fn send_reports_every_error_code() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, plain) = srv.client(&admin, json!({})).await;
        let (_, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;
        srv.create_user(&token, json!({"username": "nomail"})).await;
        let send = |channel: &str, kind: &str, id: &str| json!({"channel": channel, "identifier_type": kind, "identifier": id});

        // `direct` needs `auth:direct`.
        let (s, v) = post(&srv, SEND, &plain, send("direct", "username", "ann")).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "insufficient_permissions"),
            "{}",
            b.name
        );
        assert!(v.get("code").is_none());

        let cases = [
            (
                send("email", "email", "bob@example.com"),
                404,
                "user_not_found",
            ),
            (
                send("sms", "phone_number", "+14155550199"),
                404,
                "user_not_found",
            ),
            (
                send("email", "user_id", "no-such-id"),
                404,
                "user_not_found",
            ),
            (
                send("email", "username", "nomail"),
                404,
                "user_email_address_missing",
            ),
            (
                send("sms", "username", "nomail"),
                404,
                "user_phone_number_missing",
            ),
            (send("fax", "username", "ann"), 400, "invalid_request"),
            (send("sms", "custom", "ann"), 400, "invalid_request"),
            (
                send("sms", "phone_number", "not a phone"),
                400,
                "invalid_phone_number",
            ),
            (
                json!({"channel": "direct", "identifier_type": "username", "identifier": "ann",
                       "expires_in": 0}),
                400,
                "invalid_request",
            ),
            (
                json!({"channel": "direct", "identifier_type": "username"}),
                400,
                "",
            ),
        ];
        for (body, status, error) in cases {
            let (s, v) = post(&srv, SEND, &token, body.clone()).await;
            assert_eq!(s.as_u16(), status, "{}: {body} → {v}", b.name);
            if !error.is_empty() {
                assert_eq!(code(&v), error, "{body}");
            }
        }

        // Delivery is not configured here: a clear 503 that names the channel, never a code.
        let (s, v) = post(&srv, SEND, &token, send("email", "username", "ann")).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::SERVICE_UNAVAILABLE, "delivery_failed")
        );
        let msg = v["message"].as_str().unwrap();
        assert!(msg.contains("email") && msg.contains("passcode"), "{msg}");
        assert!(v.get("code").is_none());

        // A disabled method.
        let (s, v) = srv
            .send_json(
                Method::PUT,
                PREFS,
                &admin,
                Some(json!({"auth_methods": {"email_otp": false, "sms": false}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for body in [
            send("email", "username", "ann"),
            send("sms", "username", "ann"),
            send("direct", "email", "ann@example.com"),
            send("direct", "phone_number", "+14155550100"),
        ] {
            let (s, v) = post(&srv, SEND, &token, body).await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::FORBIDDEN, "auth_login_preferences_missing"),
                "{v}"
            );
        }
        let (s, _) = srv
            .send_json(
                Method::PUT,
                PREFS,
                &admin,
                Some(json!({"auth_methods": {"email_otp": true, "sms": true}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        // A disabled user.
        let disabled = srv
            .create_user(
                &token,
                json!({"email": "off@example.com", "status": "disabled"}),
            )
            .await;
        let (s, v) = post(&srv, SEND, &token, send("direct", "user_id", &disabled)).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "user_not_active"));
        srv.stop().await;
    }
}

#[tokio::test]
async fn direct_codes_log_in_with_the_channel_amr_and_verify_the_address() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (client_id, token) = direct_client(&srv, &admin).await;
        let user_id = ann(&srv, &token).await;

        // Email: no-store on the answer carrying the code; amr eotp; email now verified.
        let r = srv
            .http
            .post(srv.url(SEND))
            .bearer_auth(&token)
            .json(&json!({"channel": "direct", "identifier_type": "email",
                          "identifier": " ANN@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let c = r.json::<Value>().await.unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string();
        let r = srv
            .http
            .post(srv.url(AUTH))
            .bearer_auth(&token)
            .json(&json!({"passcode": c, "identifier_type": "email",
                          "identifier": "ann@example.com"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["token_type"], "Bearer");
        assert!(t["session_id"].is_string());
        let at = verify_with_jwks(&srv, t["access_token"].as_str().unwrap(), "userid-api").await;
        assert_eq!(at["sub"], user_id.as_str());
        assert_eq!(at["client_id"], client_id.as_str());
        assert_eq!(at["amr"], json!(["eotp"]));
        let id = verify_with_jwks(&srv, t["id_token"].as_str().unwrap(), &client_id).await;
        assert_eq!(id["amr"], json!(["eotp"]));
        assert_eq!(id["email_verified"], true);
        assert_eq!(id["phone_number_verified"], false);

        // Phone: amr sms; the phone number is now verified.
        let c = direct(&srv, &token, "phone_number", "+1 (415) 555-0100").await;
        let (s, t) = authenticate(&srv, &token, "phone_number", "+14155550100", &c).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let id = claims(t["id_token"].as_str().unwrap());
        assert_eq!(id["amr"], json!(["sms"]));
        assert_eq!(id["phone_number_verified"], true);

        // user_id and username codes count as eotp; any identifier of the user redeems them.
        let c = direct(&srv, &token, "user_id", &user_id).await;
        let (s, t) = authenticate(&srv, &token, "username", "ANN", &c).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["amr"],
            json!(["eotp"])
        );
        let (_, u) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/users/{user_id}"),
                &token,
                None,
            )
            .await;
        assert_eq!(u["result"]["email"]["email_verified"], true);
        assert_eq!(u["result"]["phone_number"]["phone_number_verified"], true);
        srv.stop().await;
    }
}

#[tokio::test]
async fn wrong_used_and_unknown_codes_are_invalid_credentials() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;
        let c = direct(&srv, &token, "username", "ann").await;

        let (s, wrong) = authenticate(&srv, &token, "username", "ann", &other_than(&c)).await;
        assert_eq!(
            (s, code(&wrong)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials"),
            "{}",
            b.name
        );
        for (kind, id, passcode) in [
            ("username", "bob", c.as_str()),
            ("email", "bob@example.com", c.as_str()),
            ("phone_number", "garbage", c.as_str()),
            ("user_id", "no-such-user", c.as_str()),
            // Counted: the second failure of ann.
            ("username", "ann", "not digits"),
        ] {
            let (s2, v) = authenticate(&srv, &token, kind, id, passcode).await;
            assert_eq!((s2, &v), (s, &wrong), "{kind} {id}");
        }
        // Unknown users counted nothing: after two failures the right code (the third
        // attempt, which reaches the limit) still works, once.
        let (s, _) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::OK);
        let (s, v) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );

        // Bad input.
        let (s, v) = post(
            &srv,
            AUTH,
            &token,
            json!({"passcode": c, "identifier_type": "custom", "identifier": "ann"}),
        )
        .await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
        // A bad session changes nothing: the code stays usable.
        let c = direct(&srv, &token, "username", "ann").await;
        let (s, v) = post(
            &srv,
            AUTH,
            &token,
            json!({"passcode": c, "identifier_type": "username", "identifier": "ann",
                   "session_id": "no-such-session"}),
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_session_invalid")
        );
        let (s, _) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::OK);
        srv.stop().await;
    }
}

#[tokio::test]
async fn codes_expire_on_the_clock() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;

        // Default: 5 minutes.
        let c = direct(&srv, &token, "username", "ann").await;
        srv.clock.advance_s(5 * 60);
        let (s, v) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_otp_passcode_expired"),
            "{}",
            b.name
        );

        // A send may ask for another lifetime.
        let (s, v) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "direct", "identifier_type": "username", "identifier": "ann",
                   "expires_in": 10}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let c = v["code"].as_str().unwrap().to_string();
        srv.clock.advance_s(9 * 60);
        let (s, v) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::OK, "{v}");

        // The login preferences set the default lifetime and the code length.
        let (s, _) = srv
            .send_json(
                Method::PUT,
                PREFS,
                &admin,
                Some(json!({"otp": {"expires_in": 1, "code_length": 8}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, v) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "direct", "identifier_type": "username", "identifier": "ann"}),
        )
        .await;
        let c = v["code"].as_str().unwrap().to_string();
        assert_eq!(c.len(), 8);
        srv.clock.advance_s(61);
        let (_, v) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(code(&v), "auth_otp_passcode_expired");
        srv.stop().await;
    }
}

#[tokio::test]
async fn failures_lock_otp_until_the_lockout_ends() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;

        // A success resets the count.
        let c = direct(&srv, &token, "username", "ann").await;
        for _ in 0..2 {
            let (_, v) = authenticate(&srv, &token, "username", "ann", &other_than(&c)).await;
            assert_eq!(code(&v), "auth_invalid_credentials", "{}", b.name);
        }
        let (s, _) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::OK);

        // Three failures in a row (default max_failures) lock, across codes and channels.
        let c = direct(&srv, &token, "username", "ann").await;
        for _ in 0..2 {
            let (s, v) = authenticate(&srv, &token, "username", "ann", &other_than(&c)).await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
            );
        }
        let (s, v) = authenticate(
            &srv,
            &token,
            "phone_number",
            "+14155550100",
            &other_than(&c),
        )
        .await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "auth_locked"), "{v}");
        // Locked: even the right code is refused (and not consumed).
        let (s, v) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "auth_locked"));

        // The lockout (default 15 minutes) ends; a new code works.
        srv.clock.advance_s(14 * 60);
        let c = direct(&srv, &token, "username", "ann").await;
        let (s, _) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        srv.clock.advance_s(61);
        let (s, v) = authenticate(&srv, &token, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn a_new_send_replaces_the_older_code_and_codes_are_bound_to_their_client() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = direct_client(&srv, &admin).await;
        let (_, other) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;

        let first = direct(&srv, &token, "username", "ann").await;
        let second = direct(&srv, &token, "username", "ann").await;
        if first != second {
            let (s, v) = authenticate(&srv, &token, "username", "ann", &first).await;
            assert_eq!(
                (s, code(&v)),
                (StatusCode::BAD_REQUEST, "auth_invalid_credentials"),
                "{}",
                b.name
            );
        }
        // Another client cannot redeem it…
        let (s, v) = authenticate(&srv, &other, "username", "ann", &second).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "auth_invalid_credentials")
        );
        // …and another client's send does not replace it.
        let theirs = direct(&srv, &other, "username", "ann").await;
        let (s, _) = authenticate(&srv, &token, "username", "ann", &second).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = authenticate(&srv, &other, "username", "ann", &theirs).await;
        assert_eq!(s, StatusCode::OK);

        // Unless the preferences allow codes across clients.
        let (s, _) = srv
            .send_json(
                Method::PUT,
                PREFS,
                &admin,
                Some(json!({"otp": {"cross_clients_allowed": true}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let c = direct(&srv, &token, "username", "ann").await;
        let (s, v) = authenticate(&srv, &other, "username", "ann", &c).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn concurrent_redeems_of_one_code_have_exactly_one_winner() {
    for b in backends().await {
        let srv = Arc::new(b.start().await);
        let admin = srv.admin_token().await;
        let (_, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;
        for round in 0..3 {
            let c = direct(&srv, &token, "username", "ann").await;
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let srv = srv.clone();
                    let token = token.clone();
                    let c = c.clone();
                    tokio::spawn(async move {
                        authenticate(&srv, &token, "username", "ann", &c).await.0
                    })
                })
                .collect();
            let mut ok = 0;
            for t in tasks {
                let s = t.await.unwrap();
                assert!(
                    s == StatusCode::OK
                        || s == StatusCode::BAD_REQUEST
                        || s == StatusCode::FORBIDDEN,
                    "{s}"
                );
                ok += usize::from(s == StatusCode::OK);
            }
            assert_eq!(ok, 1, "{} round {round}", b.name);
            // Losers may have locked the method; let any lockout pass before the next round.
            srv.clock.advance_s(16 * 60);
        }
        if let Ok(srv) = Arc::try_unwrap(srv) {
            srv.stop().await;
        }
    }
}

#[tokio::test]
async fn password_then_email_otp_on_one_session_is_mfa() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (client_id, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;
        let (s, first) = post(
            &srv,
            PASSWORD,
            &token,
            json!({"username": "ann", "password": SECRET}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{first}");
        let session_id = first["session_id"].as_str().unwrap();

        let c = direct(&srv, &token, "email", "ann@example.com").await;
        let (s, second) = post(
            &srv,
            AUTH,
            &token,
            json!({"passcode": c, "identifier_type": "email", "identifier": "ann@example.com",
                   "session_id": session_id}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{} {second}", b.name);
        assert_eq!(second["session_id"], session_id);
        let at =
            verify_with_jwks(&srv, second["access_token"].as_str().unwrap(), "userid-api").await;
        let id = verify_with_jwks(&srv, second["id_token"].as_str().unwrap(), &client_id).await;
        for c in [&at, &id] {
            assert_eq!(c["amr"], json!(["pwd", "eotp", "mfa"]), "{c}");
        }
        assert_eq!(
            at["sid"],
            claims(first["access_token"].as_str().unwrap())["sid"]
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn sends_past_the_destination_limit_get_429_and_nothing_is_sent() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, token) = direct_client(&srv, &admin).await;
        ann(&srv, &token).await;
        let body = json!({"channel": "direct", "identifier_type": "email",
                          "identifier": "ann@example.com"});
        let mut last = String::new();
        for _ in 0..5 {
            let (s, v) = post(&srv, SEND, &token, body.clone()).await;
            assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
            last = v["code"].as_str().unwrap().to_string();
        }
        let r = srv
            .http
            .post(srv.url(SEND))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=600).contains(&retry), "{retry}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(code(&v), "rate_limited");
        assert!(v.get("code").is_none());
        // Nothing was made: the last code is still the live one.
        let (s, _) = authenticate(&srv, &token, "email", "ann@example.com", &last).await;
        assert_eq!(s, StatusCode::OK);
        // The window ends.
        srv.clock.advance_s(601);
        let (s, _) = post(&srv, SEND, &token, body).await;
        assert_eq!(s, StatusCode::OK);
        srv.stop().await;
    }
}

/// The six-digit code in a message text.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in message"))
        .to_string()
}

#[tokio::test]
async fn email_codes_arrive_in_the_dev_outbox() {
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        // Operator templates (`[messages]`) shape the email.
        config.messages.otp_email_subject = "Your {{app}} code".into();
        config.messages.otp_email_text = "Code: {{code}} ({{minutes}} min)".into();
        let (srv, admin, token) = start_with_ann(config).await;

        let (s, v) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "email", "identifier_type": "username", "identifier": "ann"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v, json!({"message": "OTP sent"}));
        let (s, outbox) = srv
            .send_json(
                Method::GET,
                "/cis/v1/dev/outbox?to=Ann@Example.com",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        let m = &outbox[0];
        assert_eq!(m["channel"], "email");
        assert_eq!(m["subject"], "Your Test app code", "{}", b.name);
        let c = code_in(m["text"].as_str().unwrap());
        assert_eq!(m["text"], format!("Code: {c} (5 min)"), "{}", b.name);
        let (s, t) = authenticate(&srv, &token, "email", "ann@example.com", &c).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        assert_eq!(
            claims(t["access_token"].as_str().unwrap())["amr"],
            json!(["eotp"])
        );
        srv.stop().await;
    }
}

/// A one-route HTTP server on loopback that records request bodies and answers 200.
async fn sms_webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let body = &buf[end + 4..end + 4 + length];
                    seen.lock()
                        .await
                        .push(serde_json::from_slice(body).unwrap_or(Value::Null));
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (url, bodies)
}

#[tokio::test]
async fn sms_codes_go_to_the_webhook() {
    for b in backends().await {
        let (url, bodies) = sms_webhook().await;
        let mut config = b.config();
        config.delivery.sms = Some(tessera_delivery::SmsConfig::new(url));
        let (srv, _, token) = start_with_ann(config).await;

        let (s, v) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "sms", "identifier_type": "username", "identifier": "ann"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        let sent = bodies.lock().await.clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["to"], "+14155550100");
        let c = code_in(sent[0]["text"].as_str().unwrap());
        let (s, t) = authenticate(&srv, &token, "phone_number", "+14155550100", &c).await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let id = claims(t["id_token"].as_str().unwrap());
        assert_eq!(id["amr"], json!(["sms"]));
        assert_eq!(id["phone_number_verified"], true);
        srv.stop().await;
    }
}

/// Messages an [`smtp_sink`] accepted: (recipients, data).
type Accepted = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A minimal SMTP server on loopback (RFC 5321 happy path, no TLS, no auth) that records
/// each message's recipients and data, and refuses messages (554 after DATA) while `refuse`
/// is set.
async fn smtp_sink() -> (u16, Accepted, Arc<std::sync::atomic::AtomicBool>) {
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refusing = refuse.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let seen = messages.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let seen = seen.clone();
            let refusing = refusing.clone();
            tokio::spawn(async move {
                let (read, mut write) = conn.into_split();
                let mut lines = tokio::io::BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut rcpt = Vec::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "RCPT" => {
                            rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                            b"250 OK\r\n"
                        }
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            if refusing.load(std::sync::atomic::Ordering::SeqCst) {
                                b"554 refused\r\n"
                            } else {
                                seen.lock().await.push((std::mem::take(&mut rcpt), data));
                                b"250 queued\r\n"
                            }
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        // RFC 5321 §4.2.4: a verb this sink does not know.
                        _ => b"500 command unrecognized\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, messages, refuse)
}

#[tokio::test]
async fn email_codes_go_out_over_smtp() {
    for b in backends().await {
        let (port, messages, refuse) = smtp_sink().await;
        let mut config = b.config();
        let mut smtp =
            tessera_delivery::SmtpConfig::new("127.0.0.1", "Tessera <noreply@example.com>");
        smtp.port = Some(port);
        smtp.tls = tessera_delivery::TlsMode::None;
        config.delivery.smtp = Some(smtp);
        let (srv, _, token) = start_with_ann(config).await;

        let (s, v) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "email", "identifier_type": "username", "identifier": "ann"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        let sent = messages.lock().await.clone();
        assert_eq!(sent.len(), 1, "{}", b.name);
        let (rcpt, data) = &sent[0];
        assert_eq!(rcpt, &vec!["Ann@Example.com".to_string()], "{}", b.name);
        let (headers, body) = data.split_once("\n\n").unwrap();
        assert!(
            headers.contains("From: Tessera <noreply@example.com>"),
            "{headers}"
        );
        assert!(
            headers.contains("Subject: Verification code for Test app"),
            "{headers}"
        );
        let c = code_in(body);
        let (s, t) = authenticate(&srv, &token, "email", "ann@example.com", &c).await;
        assert_eq!(s, StatusCode::OK, "{} {t}", b.name);
        assert_eq!(
            claims(t["id_token"].as_str().unwrap())["amr"],
            json!(["eotp"])
        );

        // A refused delivery is 503 delivery_failed and leaves the earlier code usable.
        let (s, _) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "email", "identifier_type": "username", "identifier": "ann"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let second = {
            let sent = messages.lock().await;
            code_in(sent[1].1.split_once("\n\n").unwrap().1)
        };
        refuse.store(true, std::sync::atomic::Ordering::SeqCst);
        let (s, v) = post(
            &srv,
            SEND,
            &token,
            json!({"channel": "email", "identifier_type": "username", "identifier": "ann"}),
        )
        .await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{} {v}", b.name);
        assert_eq!(v["error_code"], "delivery_failed");
        assert!(
            !v.to_string().contains(&second),
            "the error never shows a code"
        );
        let (s, t) = authenticate(&srv, &token, "email", "ann@example.com", &second).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{}: the earlier code still works: {t}",
            b.name
        );
        srv.stop().await;
    }
}
