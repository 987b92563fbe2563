//! Lockouts (`lockouts.rs`, `authn/password.rs`, `authn/otp.rs`): failures count per (user,
//! method) in the database; the failure that reaches `max_failures` and every attempt during
//! the lockout answer `auth_locked`; the lockout ends after `lockout` minutes; a success
//! resets the counter. OTP attempts are counted before the code is compared.

use serde_json::json;
use tessera_identity::Code;

use crate::fixture::{backends, wrong, Fixture, TestClient, PASSWORD};

const EMAIL: &str = "ann@example.test";

/// Password policy of these tests: 3 failures within 15 minutes lock for 10 minutes (fewer
/// than the default 5, to keep Argon2id calls few).
async fn password_policy(fx: &Fixture) {
    fx.identity
        .preferences
        .put(
            &fx.admin,
            json!({"password": {"max_failures": 3, "failures_expire_in": 15, "lockout": 10}}),
        )
        .await
        .unwrap();
}

async fn password(fx: &Fixture, c: &TestClient, password: &str) -> Result<(), Code> {
    fx.password_login(c, EMAIL, password, None)
        .await
        .map(|_| ())
        .map_err(|e| e.code())
}

async fn otp(fx: &Fixture, c: &TestClient, passcode: &str) -> Result<(), Code> {
    fx.otp_login(c, EMAIL, passcode, None)
        .await
        .map(|_| ())
        .map_err(|e| e.code())
}

#[tokio::test]
async fn the_password_failure_reaching_max_failures_locks_until_the_lockout_ends() {
    for b in backends().await {
        let fx = b.start().await;
        password_policy(&fx).await;
        let c = fx.client(json!({})).await;
        fx.user_with_password(EMAIL).await;
        let bad = "not the password";
        let n = fx.backend;

        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(password(&fx, &c, bad).await, Err(Code::AuthLocked), "{n}");
        // Every attempt during the lockout, the right password included.
        assert_eq!(
            password(&fx, &c, PASSWORD).await,
            Err(Code::AuthLocked),
            "{n}"
        );
        assert_eq!(password(&fx, &c, bad).await, Err(Code::AuthLocked), "{n}");
        // The lock is per method: passcodes still work.
        fx.sign_in(&c, EMAIL).await;

        fx.advance_s(10 * 60 - 1);
        assert_eq!(
            password(&fx, &c, PASSWORD).await,
            Err(Code::AuthLocked),
            "{n}"
        );
        fx.advance_s(1);
        assert_eq!(password(&fx, &c, PASSWORD).await, Ok(()), "{n}");
    }
}

#[tokio::test]
async fn a_password_success_resets_the_failure_counter() {
    for b in backends().await {
        let fx = b.start().await;
        password_policy(&fx).await;
        let c = fx.client(json!({})).await;
        fx.user_with_password(EMAIL).await;
        let bad = "not the password";
        let n = fx.backend;

        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(password(&fx, &c, PASSWORD).await, Ok(()), "{n}");
        // Counting starts over: two more failures do not lock, the third does.
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(password(&fx, &c, bad).await, Err(Code::AuthLocked), "{n}");
    }
}

#[tokio::test]
async fn password_failures_older_than_the_window_are_forgotten() {
    for b in backends().await {
        let fx = b.start().await;
        password_policy(&fx).await;
        let c = fx.client(json!({})).await;
        fx.user_with_password(EMAIL).await;
        let bad = "not the password";
        let n = fx.backend;

        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        fx.advance_s(15 * 60);
        // A third failure, but the first two are out of the window.
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            password(&fx, &c, bad).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(password(&fx, &c, bad).await, Err(Code::AuthLocked), "{n}");
    }
}

// OTP: the default preferences (3 failures lock for 15 minutes; codes live 5 minutes).

#[tokio::test]
async fn otp_attempts_are_counted_before_the_code_is_compared() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let code = fx.send_otp(&c, EMAIL, Some(1)).await;

        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            otp(&fx, &c, "not digits").await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        fx.advance_s(60);
        // The third attempt is answered "expired", not "wrong", but it counted all the same.
        assert_eq!(
            otp(&fx, &c, &code).await,
            Err(Code::AuthOtpPasscodeExpired),
            "{n}"
        );
        let fresh = fx.send_otp(&c, EMAIL, None).await;
        assert_eq!(otp(&fx, &c, &fresh).await, Err(Code::AuthLocked), "{n}");
    }
}

#[tokio::test]
async fn the_otp_failure_reaching_max_failures_locks_until_the_lockout_ends() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let code = fx.send_otp(&c, EMAIL, None).await;

        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthLocked),
            "{n}"
        );
        // Every attempt during the lockout, the right code included.
        assert_eq!(otp(&fx, &c, &code).await, Err(Code::AuthLocked), "{n}");

        fx.advance_s(15 * 60 - 1);
        let fresh = fx.send_otp(&c, EMAIL, None).await;
        assert_eq!(otp(&fx, &c, &fresh).await, Err(Code::AuthLocked), "{n}");
        fx.advance_s(1);
        // The refused attempt did not consume the code.
        assert_eq!(otp(&fx, &c, &fresh).await, Ok(()), "{n}");
    }
}

#[tokio::test]
async fn an_otp_success_resets_the_failure_counter() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let code = fx.send_otp(&c, EMAIL, None).await;

        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(otp(&fx, &c, &code).await, Ok(()), "{n}");
        // Without the reset the success itself would have been the second counted attempt.
        let code = fx.send_otp(&c, EMAIL, None).await;
        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthLocked),
            "{n}"
        );
    }
}

#[tokio::test]
async fn the_right_otp_after_max_failures_minus_one_wrong_ones_is_accepted() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let code = fx.send_otp(&c, EMAIL, None).await;

        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        assert_eq!(
            otp(&fx, &c, &wrong(&code)).await,
            Err(Code::AuthInvalidCredentials),
            "{n}"
        );
        // `max_failures` (3) is the number of wrong codes that lock: the third attempt is still
        // compared, and the right code logs in (the documentation was made to say so).
        assert_eq!(otp(&fx, &c, &code).await, Ok(()), "{n}");
    }
}
