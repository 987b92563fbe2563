//! Authentication steps of client journeys end to end (issue 12, point 3): the
//! `password_authentication` step (right, wrong then right, locked), an email OTP as the
//! second factor after `custom_authentication` (the code read from the dev outbox, `mfa` in
//! the exchanged token), resend (rate limited like `/cis/v1/auth/otp/send`), cancel, the SMS
//! step, and the `create_user` / `get_user` steps, on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::{Clock, TestClock};
use tessera_jose::{Algorithm, JwkSet, SigningKey};

use crate::harness::{backends, claims, now_ms, paths::OUTBOX, TestServer, SECRET};

const PASSWORD: &str = r#"
id: pwd-login
type: client
steps:
  - id: login
    type: password_authentication
  - id: done
    type: complete
    data: "{user: @policy.userContext().username}"
"#;

const MFA: &str = r#"
id: legacy-mfa
type: client
steps:
  - id: legacy
    type: custom_authentication
    username: "@policy.request().params.username"
    token: "@policy.request().params.externalToken"
    validator: legacy
  - id: code
    type: email_otp_authentication
    cancel: cancelled
  - id: done
    type: complete
  - id: cancelled
    type: reject
    data: '{reason: "cancelled"}'
"#;

const SMS: &str = r#"
id: sms-login
type: client
steps:
  - id: code
    type: sms_otp_authentication
    username: "@policy.request().params.username"
  - id: done
    type: complete
"#;

const USERS: &str = r#"
id: sign-up
type: client
steps:
  - id: exists
    type: get_user
    username: "@policy.request().params.username"
    output: existing
  - id: new
    type: condition
    expression: "existing == null"
    on_true: make
    on_false: found
  - id: make
    type: create_user
    username: "@policy.request().params.username"
    email: "@policy.request().params.email"
    output: made
  - id: again
    type: get_user
    user_id: "made.user_id"
    output: fetched
  - id: created
    type: complete
    data: "{made: made, fetched: fetched, authenticated: @policy.isUserAuthenticated()}"
  - id: found
    type: reject
    data: "{existing: existing}"
"#;

struct Setup {
    srv: TestServer,
    admin: String,
    client_id: String,
    secret: String,
    key: SigningKey,
}

async fn setup(b: &crate::harness::Backend) -> Setup {
    let mut config = b.config();
    config.delivery.outbox = true;
    let srv = TestServer::start(config, TestClock::new(now_ms())).await;
    let admin = srv.admin_token().await;
    let (_, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
    let key = SigningKey::generate(Algorithm::ES256, "legacy-key").unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let (s, v) = srv
        .send_json(
            Method::PUT,
            "/ido/api/v2/connections/legacy",
            &admin,
            Some(
                json!({"type": "jwt_validator", "issuer": "https://legacy.test",
                        "audience": "tessera", "algorithms": ["ES256"], "jwks": jwks}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (id, text) in [
        ("pwd-login", PASSWORD),
        ("legacy-mfa", MFA),
        ("sms-login", SMS),
        ("sign-up", USERS),
    ] {
        let r = srv
            .http
            .put(srv.url(&format!("/ido/api/v2/journeys/{id}")))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
    srv.create_user(
        &admin,
        json!({"username": "ann", "email": "ann@example.com", "phone_number": "+12025550100",
               "credentials": {"password": SECRET}}),
    )
    .await;
    Setup {
        srv,
        admin,
        client_id,
        secret,
        key,
    }
}

impl Setup {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .srv
            .http
            .post(self.srv.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn start(&self, journey: &str, params: Value) -> Value {
        let (s, v) = self
            .post(
                &format!(
                    "/ido/api/v2/journeys/{journey}/start?clientId={}",
                    self.client_id
                ),
                json!({ "additionalParams": params }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// Answers the step `v` waits at.
    async fn submit(&self, v: &Value, option: &str, data: Value) -> Value {
        let id = v["interaction_id"].as_str().unwrap();
        let (s, v) = self
            .post(
                &format!("/ido/api/v2/interactions/{id}/submit"),
                json!({"option": option, "data": data}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn exchange(&self, code: &str) -> Value {
        let r = self
            .srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", self.client_id.as_str()),
                    ("client_secret", self.secret.as_str()),
                    ("code", code),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// The passcode of the newest dev-outbox message to `to`, and how many there are.
    async fn passcode_to(&self, to: &str) -> (String, usize) {
        let q = url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>();
        let (s, outbox) = self
            .srv
            .send_json(Method::GET, &format!("{OUTBOX}?to={q}"), &self.admin, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        let text = outbox[0]["text"].as_str().unwrap();
        let code = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no passcode in {text}"))
            .to_string();
        (code, outbox.as_array().unwrap().len())
    }

    fn legacy_token(&self, sub: &str) -> String {
        let now = self.srv.clock.now_s();
        let claims =
            json!({"iss": "https://legacy.test", "aud": "tessera", "sub": sub, "exp": now + 300});
        self.key
            .sign_jwt("JWT", claims.to_string().as_bytes())
            .unwrap()
    }
}

fn wrong(passcode: &str) -> String {
    // Another six digits.
    passcode
        .chars()
        .map(|c| {
            if c == '9' {
                '0'
            } else {
                ((c as u8) + 1) as char
            }
        })
        .collect()
}

/// Right password at once; wrong then right; a lockout ends the run with `auth_locked`
/// (and locks the backend API too: the same per-user counter).
#[tokio::test]
async fn password_step_checks_like_the_backend_api() {
    for b in backends().await {
        let s = setup(&b).await;
        let v = s.start("pwd-login", json!({})).await;
        assert_eq!(v["type"], "client_input_required", "{v}");
        assert_eq!(v["journey_step_id"], "login");
        assert_eq!(v["data"], json!({}));
        let v = s
            .submit(
                &v,
                "client_input",
                json!({"username": "ann", "password": SECRET}),
            )
            .await;
        assert_eq!(v["type"], "journey_success", "{} {v}", b.name);
        assert_eq!(v["data"], json!({"user": "ann"}));
        let tokens = s.exchange(v["code"].as_str().unwrap()).await;
        let at = claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["pwd"]), "{at}");

        // Wrong, then an unknown user (the same answer), then right.
        let v = s.start("pwd-login", json!({})).await;
        let v = s
            .submit(
                &v,
                "client_input",
                json!({"username": "ann", "password": "nope"}),
            )
            .await;
        assert_eq!(v["type"], "client_input_required", "{v}");
        assert_eq!(v["journey_step_id"], "login");
        assert_eq!(v["error_data"]["code"], "invalid_credentials", "{v}");
        let unknown = s
            .submit(
                &v,
                "client_input",
                json!({"username": "nobody", "password": "nope"}),
            )
            .await;
        assert_eq!(unknown["error_data"]["code"], "invalid_credentials");
        assert_eq!(unknown["error_data"]["message"], v["error_data"]["message"]);
        let v = s
            .submit(
                &unknown,
                "client_input",
                json!({"username": "ann", "password": SECRET}),
            )
            .await;
        assert_eq!(v["type"], "journey_success", "{v}");

        // Wrong until locked: the run fails with auth_locked.
        let mut v = s.start("pwd-login", json!({})).await;
        let mut attempts = 0;
        while v["type"] == "client_input_required" {
            attempts += 1;
            assert!(attempts <= 10, "never locked: {v}");
            v = s
                .submit(
                    &v,
                    "client_input",
                    json!({"username": "ann", "password": "nope"}),
                )
                .await;
        }
        assert_eq!(v["type"], "journey_rejection", "{v}");
        assert_eq!(v["error_data"]["code"], "auth_locked", "{v}");
        // The right password is locked out too, in the journey and the backend API.
        let v = s.start("pwd-login", json!({})).await;
        let v = s
            .submit(
                &v,
                "client_input",
                json!({"username": "ann", "password": SECRET}),
            )
            .await;
        assert_eq!(v["error_data"]["code"], "auth_locked", "{v}");
        let client_token = s.srv.token(&s.client_id, &s.secret).await;
        let (status, v) = s
            .srv
            .login(
                &client_token,
                json!({"username": "ann", "password": SECRET}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(v["error_code"], "auth_locked");

        // A right temporary password is the failure password_reset_required.
        s.srv
            .create_user(
                &s.admin,
                json!({"username": "tmp", "credentials": {"password": SECRET, "force_replace": true}}),
            )
            .await;
        let v = s.start("pwd-login", json!({})).await;
        let v = s
            .submit(
                &v,
                "client_input",
                json!({"username": "tmp", "password": SECRET}),
            )
            .await;
        assert_eq!(v["type"], "journey_rejection", "{v}");
        assert_eq!(v["error_data"]["code"], "password_reset_required", "{v}");
        assert!(v.get("code").is_none());
        s.srv.stop().await;
    }
}

/// custom_authentication, then an email passcode (masked address, never the code): a wrong
/// code waits again, the right one ends with a code whose tokens carry `mfa`.
#[tokio::test]
async fn email_otp_is_a_second_factor_after_custom_authentication() {
    for b in backends().await {
        let s = setup(&b).await;
        let params = json!({"username": "ann", "externalToken": s.legacy_token("ann")});
        let v = s.start("legacy-mfa", params).await;
        assert_eq!(v["journey_step_id"], "code", "{v}");
        assert_eq!(v["data"], json!({"email": "a***@example.com"}));
        let options = v["client_response_options"].as_object().unwrap();
        assert!(options.contains_key("resend") && options.contains_key("cancel"));
        let (code, _) = s.passcode_to("ann@example.com").await;
        assert!(!v.to_string().contains(&code));

        let v = s
            .submit(&v, "client_input", json!({"passcode": wrong(&code)}))
            .await;
        assert_eq!(v["journey_step_id"], "code");
        assert_eq!(v["error_data"]["code"], "invalid_credentials", "{v}");
        let v = s
            .submit(&v, "client_input", json!({"passcode": code}))
            .await;
        assert_eq!(v["type"], "journey_success", "{} {v}", b.name);
        let tokens = s.exchange(v["code"].as_str().unwrap()).await;
        let at = claims(tokens["access_token"].as_str().unwrap());
        let amr: Vec<&str> = at["amr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for m in ["flex.login", "eotp", "mfa"] {
            assert!(amr.contains(&m), "{m} missing in {amr:?}");
        }
        // The address the code went to is verified now.
        let (_, user) = s
            .srv
            .send_json(Method::GET, "/cis/v1/users/username/ann", &s.admin, None)
            .await;
        assert_eq!(user["result"]["email"]["email_verified"], true, "{user}");
        s.srv.stop().await;
    }
}

/// resend sends a new code (the older one is replaced) until the per-destination send limit
/// answers rate_limited on the same step; cancel takes the cancel branch.
#[tokio::test]
async fn otp_resend_is_rate_limited_and_cancel_branches() {
    for b in backends().await {
        let s = setup(&b).await;
        let params = json!({"username": "ann", "externalToken": s.legacy_token("ann")});
        let mut v = s.start("legacy-mfa", params.clone()).await;
        let (first, mut sent) = s.passcode_to("ann@example.com").await;
        let mut limited = false;
        for _ in 0..10 {
            v = s.submit(&v, "resend", json!({})).await;
            assert_eq!(v["journey_step_id"], "code", "{v}");
            if v["error_data"]["code"] == "rate_limited" {
                limited = true;
                break;
            }
            assert!(v.get("error_data").is_none(), "{v}");
            let (_, now_sent) = s.passcode_to("ann@example.com").await;
            assert_eq!(now_sent, sent + 1);
            sent = now_sent;
        }
        assert!(limited, "resend was never limited ({})", b.name);
        let (latest, _) = s.passcode_to("ann@example.com").await;
        if latest != first {
            // The first code was replaced by the resends.
            let w = s
                .submit(&v, "client_input", json!({"passcode": first}))
                .await;
            assert_eq!(w["error_data"]["code"], "invalid_credentials", "{w}");
            v = w;
        }
        let cancelled = s.submit(&v, "cancel", json!({})).await;
        assert_eq!(cancelled["type"], "journey_rejection", "{cancelled}");
        assert_eq!(cancelled["data"], json!({"reason": "cancelled"}));
        s.srv.stop().await;
    }
}

/// The SMS step names its user; the code comes by SMS; amr `sms` alone (no mfa).
#[tokio::test]
async fn sms_step_authenticates_with_a_text_message_code() {
    for b in backends().await {
        let s = setup(&b).await;
        let v = s.start("sms-login", json!({"username": "ann"})).await;
        assert_eq!(v["data"], json!({"phone_number": "+1******0100"}), "{v}");
        let (code, _) = s.passcode_to("+12025550100").await;
        let v = s
            .submit(&v, "client_input", json!({"passcode": code}))
            .await;
        assert_eq!(v["type"], "journey_success", "{} {v}", b.name);
        let tokens = s.exchange(v["code"].as_str().unwrap()).await;
        let at = claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["sms"]), "{at}");

        // Wrong codes until the per-user otp lockout ends the run; then even the right code
        // is refused.
        let mut v = s.start("sms-login", json!({"username": "ann"})).await;
        let (code, _) = s.passcode_to("+12025550100").await;
        let mut attempts = 0;
        while v["type"] == "client_input_required" {
            attempts += 1;
            assert!(attempts <= 10, "never locked: {v}");
            if attempts > 1 {
                assert_eq!(v["error_data"]["code"], "invalid_credentials", "{v}");
            }
            v = s
                .submit(&v, "client_input", json!({"passcode": wrong(&code)}))
                .await;
        }
        assert_eq!(v["type"], "journey_rejection", "{v}");
        assert_eq!(v["error_data"]["code"], "auth_locked", "{v}");
        let v = s.start("sms-login", json!({"username": "ann"})).await;
        let (code, _) = s.passcode_to("+12025550100").await;
        let v = s
            .submit(&v, "client_input", json!({"passcode": code}))
            .await;
        assert_eq!(v["error_data"]["code"], "auth_locked", "{v}");
        s.srv.stop().await;
    }
}

/// get_user finds nobody, create_user makes the user (not authenticated: no code), get_user
/// by id returns it; a second run finds the user.
#[tokio::test]
async fn create_user_and_get_user_steps() {
    for b in backends().await {
        let s = setup(&b).await;
        let params = json!({"username": "newbie", "email": "newbie@example.com"});
        let v = s.start("sign-up", params.clone()).await;
        assert_eq!(v["type"], "journey_success", "{} {v}", b.name);
        assert!(v.get("code").is_none(), "{v}");
        assert_eq!(v["data"]["authenticated"], false);
        let made = &v["data"]["made"];
        assert_eq!(made["username"], "newbie");
        assert_eq!(made["email"], "newbie@example.com");
        assert_eq!(made["phone_number"], Value::Null);
        assert_eq!(&v["data"]["fetched"], made);
        let (status, user) = s
            .srv
            .send_json(Method::GET, "/cis/v1/users/username/newbie", &s.admin, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(user["result"]["user_id"], made["user_id"]);

        let v = s.start("sign-up", params).await;
        assert_eq!(v["type"], "journey_rejection", "{v}");
        assert_eq!(v["data"]["existing"]["user_id"], made["user_id"]);
        s.srv.stop().await;
    }
}
