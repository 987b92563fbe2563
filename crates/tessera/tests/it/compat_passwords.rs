//! The platform's password APIs (issue 14, point 4), replayed as its tutorials and sample
//! backends send them: the backend-passwords guide's steps (set a password for an existing
//! user, log in by any identifier, reset), temporary passwords answered with a reset token,
//! the reset flows by email passcode, SMS passcode and email link, and password validation.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::paths::{OUTBOX, PASSWORD, PREFS, USERS};
use crate::harness::{backends, code, now_ms, TestServer, SECRET};
use crate::otp::code_in;

const RESET: &str = "/cis/v1/auth/password/reset";
const CALLBACK: &str = "https://app.example/reset";

async fn start(b: &crate::harness::Backend) -> (TestServer, String, String) {
    let mut config = b.config();
    config.delivery.outbox = true;
    let srv = TestServer::start(config, TestClock::new(now_ms())).await;
    let admin = srv.admin_token().await;
    let token = srv
        .client_token(&admin, json!({"redirect_uris": [CALLBACK]}))
        .await;
    (srv, admin, token)
}

/// The newest dev-outbox message to `to`.
async fn last_message(srv: &TestServer, admin: &str, to: &str) -> String {
    let to = url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>();
    let (s, outbox) = srv
        .send_json(Method::GET, &format!("{OUTBOX}?to={to}"), admin, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{outbox}");
    outbox[0]["text"].as_str().unwrap().to_string()
}

/// The backend-passwords guide: a user created without a password gets one by `POST
/// …/password` with a username containing `@`; login works by username, email, phone
/// number and user id (with and without `username_type`); a second `POST` is 409; `PUT`
/// replaces it; the old one stops working.
#[tokio::test]
async fn a_password_is_set_then_used_with_any_identifier() {
    for b in backends().await {
        let (srv, _admin, token) = start(&b).await;
        let user_id = srv
            .create_user(
                &token,
                json!({"email": "ivy@example.com", "phone_number": "+14155550161"}),
            )
            .await;
        let path = format!("{USERS}/{user_id}/password");
        let (s, v) = srv
            .post(
                &path,
                &token,
                json!({"password": SECRET, "force_replace": false, "username": "ivy@home"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{} {v}", b.name);
        assert_eq!(v["result"]["message"], "Password registered");

        for (username, kind) in [
            ("ivy@home", None),
            ("ivy@home", Some("username")),
            ("IVY@example.com", None),
            ("ivy@example.com", Some("email")),
            ("+14155550161", None),
            ("+1 415 555 0161", Some("phone_number")),
            (user_id.as_str(), None),
        ] {
            let mut body = json!({"username": username, "password": SECRET});
            if let Some(k) = kind {
                body["username_type"] = json!(k);
            }
            let (s, v) = srv.post(PASSWORD, &token, body).await;
            assert_eq!(s, StatusCode::OK, "{} {username} {kind:?}: {v}", b.name);
            assert!(v["session_id"].is_string());
        }
        // A type that does not match the value finds nobody.
        let (s, v) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "ivy@home", "password": SECRET, "username_type": "email"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "auth_invalid_credentials");
        let (s, v) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "ivy@home", "password": SECRET, "username_type": "nickname"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "invalid_request");

        // The user has a password now.
        let (s, v) = srv
            .post(&path, &token, json!({"password": "another password 1"}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "auth_password_already_configured");
        // The platform's conflict bodies also carry `ts_error_code`.
        assert_eq!(v["ts_error_code"], "auth_password_already_configured");

        // PUT replaces it (permanent here); the old one fails.
        let (s, v) = srv
            .send_json(
                Method::PUT,
                &path,
                &token,
                Some(json!({"password": "a brand new secret", "force_replace": false})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["result"]["message"], "Password updated");
        let (s, _) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "ivy@home", "password": SECRET}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, v) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "ivy@home", "password": "a brand new secret"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");

        // PUT on a user without a password, POST on an unknown user, a short password.
        let other = srv.create_user(&token, json!({"username": "nopw"})).await;
        let (s, v) = srv
            .send_json(
                Method::PUT,
                &format!("{USERS}/{other}/password"),
                &token,
                Some(json!({"password": SECRET})),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "auth_password_not_configured");
        let (s, v) = srv
            .post(
                &format!("{USERS}/no-such-user/password"),
                &token,
                json!({"password": SECRET}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(code(&v), "user_not_found");
        let (s, v) = srv
            .post(
                &format!("{USERS}/{other}/password"),
                &token,
                json!({"password": "short"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "invalid_password");
        // `enforce_complexity: false` lets an admin set it anyway.
        let (s, v) = srv
            .post(
                &format!("{USERS}/{other}/password"),
                &token,
                json!({"password": "short", "enforce_complexity": false, "force_replace": false}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, v) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "nopw", "password": "short"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}

/// A temporary password (the platform's default for `POST …/password`) does not log in: the
/// right one answers 403 `temporary_password` with a reset token, which sets a permanent
/// password once; the wrong one is an ordinary failure.
#[tokio::test]
async fn a_temporary_password_must_be_replaced() {
    for b in backends().await {
        let (srv, admin, token) = start(&b).await;
        let user_id = srv.create_user(&token, json!({"username": "tara"})).await;
        let (s, _) = srv
            .post(
                &format!("{USERS}/{user_id}/password"),
                &token,
                json!({"password": "temporary secret"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, user) = srv
            .send_json(Method::GET, &format!("{USERS}/{user_id}"), &token, None)
            .await;
        assert_eq!(
            user["result"]["password_information"]["temporary"], true,
            "{user}"
        );

        let (s, v) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "tara", "password": "wrong secret 1"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(v.get("reset_token").is_none());

        let (s, v) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "tara", "password": "temporary secret"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{} {v}", b.name);
        assert_eq!(v["message"], "temporary_password");
        assert_eq!(code(&v), "password_reset_required");
        assert!(v.get("access_token").is_none());
        let reset_token = v["reset_token"].as_str().unwrap().to_string();

        // Another client cannot use it.
        let other = srv.client_token(&admin, json!({})).await;
        let (s, v) = srv
            .post(
                RESET,
                &other,
                json!({"reset_token": reset_token, "new_password": SECRET}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(code(&v), "invalid_reset_token");
        // A weak password does not burn it.
        let (s, v) = srv
            .post(
                RESET,
                &token,
                json!({"reset_token": reset_token, "new_password": "short"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "invalid_password");
        let (s, v) = srv
            .post(
                RESET,
                &token,
                json!({"reset_token": reset_token, "new_password": SECRET}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["message"], "Password changed successfully");
        // Once only.
        let (s, v) = srv
            .post(
                RESET,
                &token,
                json!({"reset_token": reset_token, "new_password": "yet another one"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(code(&v), "invalid_reset_token");

        let tokens = srv.login_ok(&token, "tara").await;
        assert!(tokens["access_token"].is_string());
        let (_, user) = srv
            .send_json(Method::GET, &format!("{USERS}/{user_id}"), &token, None)
            .await;
        assert_eq!(user["result"]["password_information"]["temporary"], false);
        srv.stop().await;
    }
}

/// Reset by email passcode and by SMS passcode: only to verified addresses; a wrong passcode
/// is refused and counts; the right one gives a reset token; the token expires after
/// `password.reset_expires_in` minutes.
#[tokio::test]
async fn a_password_is_reset_by_email_or_sms_passcode() {
    for b in backends().await {
        let (srv, admin, token) = start(&b).await;
        srv.create_user(
            &token,
            json!({"username": "uma", "email": "uma@example.com", "email_verified": true,
                   "phone_number": "+14155550162", "phone_number_verified": true,
                   "credentials": {"password": "the old password", "force_replace": false}}),
        )
        .await;
        srv.create_user(
            &token,
            json!({"email": "unverified@example.com", "phone_number": "+14155550163"}),
        )
        .await;

        // Unverified addresses and unknown users.
        for (path, body, status, error) in [
            (
                "/cis/v1/auth/password/reset/email/otp",
                json!({"email": "unverified@example.com"}),
                StatusCode::FORBIDDEN,
                "user_email_not_verified",
            ),
            (
                "/cis/v1/auth/password/reset/sms/otp",
                json!({"phone_number": "+14155550163"}),
                StatusCode::FORBIDDEN,
                "user_phone_number_not_verified",
            ),
            (
                "/cis/v1/auth/password/reset/email/otp",
                json!({"email": "nobody@example.com"}),
                StatusCode::NOT_FOUND,
                "user_not_found",
            ),
            (
                "/cis/v1/auth/password/reset/sms/otp",
                json!({"phone_number": "not a phone"}),
                StatusCode::BAD_REQUEST,
                "invalid_phone_number",
            ),
        ] {
            let (s, v) = srv.post(path, &token, body).await;
            assert_eq!(s, status, "{path}: {v}");
            assert_eq!(code(&v), error, "{path}");
        }

        // By email.
        let (s, v) = srv
            .post(
                "/cis/v1/auth/password/reset/email/otp",
                &token,
                json!({"email": "uma@example.com"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v["message"], "Email Sent");
        let passcode = code_in(&last_message(&srv, &admin, "uma@example.com").await);
        let wrong = if passcode == "000000" {
            "111111"
        } else {
            "000000"
        };
        let (s, v) = srv
            .post(
                "/cis/v1/auth/password/reset/email/otp/validate",
                &token,
                json!({"email": "uma@example.com", "passcode": wrong}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "auth_invalid_credentials");
        let (s, v) = srv
            .post(
                "/cis/v1/auth/password/reset/email/otp/validate",
                &token,
                json!({"email": "uma@example.com", "passcode": passcode}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let reset_token = v["result"].as_str().unwrap().to_string();
        let (s, v) = srv
            .post(
                RESET,
                &token,
                json!({"reset_token": reset_token, "new_password": "the email password"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["email"], "uma@example.com");
        let (s, _) = srv
            .login(
                &token,
                json!({"username": "uma", "password": "the old password"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, v) = srv
            .login(
                &token,
                json!({"username": "uma", "password": "the email password"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");

        // By SMS; the token is not redeemed in time.
        let (s, v) = srv
            .post(
                "/cis/v1/auth/password/reset/sms/otp",
                &token,
                json!({"phone_number": "+1 415 555 0162"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["message"], "SMS Sent");
        let passcode = code_in(&last_message(&srv, &admin, "+14155550162").await);
        let (s, v) = srv
            .post(
                "/cis/v1/auth/password/reset/sms/otp/validate",
                &token,
                json!({"phone_number": "+14155550162", "passcode": passcode}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let reset_token = v["result"].as_str().unwrap().to_string();
        srv.clock.advance_ms(5 * 60 * 1000 + 1000);
        let (s, v) = srv
            .post(
                RESET,
                &token,
                json!({"reset_token": reset_token, "new_password": "too late now"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(code(&v), "invalid_reset_token");
        srv.stop().await;
    }
}

/// Reset by email link: the link goes to a registered redirect URI with the reset token as
/// `code`; an unregistered URI is refused; the user may be named by username.
#[tokio::test]
async fn a_password_is_reset_by_email_link() {
    for b in backends().await {
        let (srv, admin, token) = start(&b).await;
        srv.create_user(
            &token,
            json!({"username": "vic", "email": "vic@example.com", "email_verified": true,
                   "credentials": {"password": "the old password", "force_replace": false}}),
        )
        .await;
        let link_path = "/cis/v1/auth/password/reset/email/link";
        let (s, v) = srv
            .post(
                link_path,
                &token,
                json!({"username": "vic", "redirect_uri": "https://evil.example/"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "invalid_redirect_uri");
        let (s, v) = srv
            .post(link_path, &token, json!({"redirect_uri": CALLBACK}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let (s, v) = srv
            .post(
                link_path,
                &token,
                json!({"username": "vic", "redirect_uri": CALLBACK,
                       "email_content": {"subject": "Reset"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v["message"], "Reset password email sent");
        let text = last_message(&srv, &admin, "vic@example.com").await;
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with(CALLBACK))
            .unwrap();
        let url = url::Url::parse(link).unwrap();
        let (_, reset_token) = url.query_pairs().find(|(k, _)| k == "code").unwrap();
        let (s, v) = srv
            .post(
                RESET,
                &token,
                json!({"reset_token": reset_token, "new_password": "the link password"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = srv
            .login(
                &token,
                json!({"username": "vic", "password": "the link password"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        srv.stop().await;
    }
}

/// `password/validate` answers the policy's verdict in the platform's shape; every reset
/// API answers `auth_login_preferences_missing` when the password method is off.
#[tokio::test]
async fn passwords_are_validated_and_resets_follow_the_login_preferences() {
    for b in backends().await {
        let (srv, admin, token) = start(&b).await;
        let validate = "/cis/v1/auth/password/validate";
        let (s, v) = srv
            .post(
                validate,
                &token,
                json!({"password": SECRET, "username": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["result"], json!({"valid_password": true, "errors": []}));
        let (s, v) = srv
            .post(validate, &token, json!({"password": "short"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["result"]["valid_password"], false);
        assert_eq!(v["result"]["errors"][0]["code"], "password_too_short");
        assert!(v["result"]["errors"][0]["message"].is_string());

        let (s, v) = srv
            .send_json(
                Method::PUT,
                PREFS,
                &admin,
                Some(json!({"auth_methods": {"password": false}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for (path, body) in [
            (validate, json!({"password": SECRET})),
            (RESET, json!({"reset_token": "x", "new_password": SECRET})),
            (
                "/cis/v1/auth/password/reset/email/otp",
                json!({"email": "a@example.com"}),
            ),
        ] {
            let (s, v): (StatusCode, Value) = srv.post(path, &token, body).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
            assert_eq!(code(&v), "auth_login_preferences_missing", "{path}");
        }
        srv.stop().await;
    }
}
