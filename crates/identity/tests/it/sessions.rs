//! Sessions (`sessions.rs`): a session ends at its client's `session_expiration`, after the
//! idle timeout without use, or at logout; after that it can neither be resumed (silent
//! authentication) nor extended (another method), and its access tokens are refused.

use serde_json::json;
use tessera_identity::authn::otp::OTP_COUNTER;
use tessera_identity::sessions::SessionId;
use tessera_identity::{Code, User};

use crate::fixture::{backends, session_of, Fixture, TestClient, IDLE_TIMEOUT_S};

const EMAIL: &str = "ann@example.test";

/// Adds an email passcode to `session` (MFA). A refused session changes nothing: no
/// failure is counted against the user and the code is not consumed.
async fn add_otp(
    fx: &Fixture,
    c: &TestClient,
    user: &User,
    session: &SessionId,
) -> Result<(), Code> {
    let code = fx.send_otp(c, EMAIL, None).await;
    let added = fx.otp_login(c, EMAIL, &code, Some(session)).await;
    if added.is_err() {
        let store = fx.identity.store();
        let counter = store.get_lock(&user.user_id, OTP_COUNTER).await.unwrap();
        assert!(counter.is_none(), "a failure was counted: {counter:?}");
        let fresh = fx.otp_login(c, EMAIL, &code, None).await;
        assert!(fresh.is_ok(), "the code was consumed");
    }
    added.map(|_| ()).map_err(|e| e.code())
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_expiry() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({"session_expiration": 600})).await;
        let user = fx.user(EMAIL).await;
        let login = fx.sign_in(&c, EMAIL).await;
        let session = session_of(&login);
        let n = fx.backend;

        fx.advance_s(599);
        assert!(fx.session_authenticate(&c, &session).await.is_ok(), "{n}");
        assert_eq!(add_otp(&fx, &c, &user, &session).await, Ok(()), "{n}");
        fx.caller(&login.access_token)
            .await
            .unwrap()
            .user()
            .unwrap();

        // Use does not extend the absolute end.
        fx.advance_s(1);
        let err = fx.session_authenticate(&c, &session).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}");
        assert_eq!(
            add_otp(&fx, &c, &user, &session).await,
            Err(Code::AuthSessionInvalid),
            "{n}"
        );
        // The access token itself would still be within its `exp` plus leeway.
        assert_eq!(
            fx.refusal(&login.access_token).await,
            Code::InvalidToken,
            "{n}"
        );
    }
}

#[tokio::test]
async fn a_session_unused_for_the_idle_timeout_cannot_be_resumed_or_extended() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let user = fx.user(EMAIL).await;
        let session = session_of(&fx.sign_in(&c, EMAIL).await);
        let n = fx.backend;

        // Each use restarts the idle time.
        fx.advance_s(IDLE_TIMEOUT_S - 100);
        assert!(fx.session_authenticate(&c, &session).await.is_ok(), "{n}");
        fx.advance_s(IDLE_TIMEOUT_S);
        assert!(fx.session_authenticate(&c, &session).await.is_ok(), "{n}");

        fx.advance_s(IDLE_TIMEOUT_S + 1);
        let err = fx.session_authenticate(&c, &session).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}");
        assert_eq!(
            add_otp(&fx, &c, &user, &session).await,
            Err(Code::AuthSessionInvalid),
            "{n}"
        );
    }
}

#[tokio::test]
async fn a_logged_out_session_cannot_be_resumed_extended_or_ended_again() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let user = fx.user(EMAIL).await;
        let session = session_of(&fx.sign_in(&c, EMAIL).await);
        let n = fx.backend;

        fx.logout(&c, &session).await.unwrap();
        let err = fx.session_authenticate(&c, &session).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}");
        assert_eq!(
            add_otp(&fx, &c, &user, &session).await,
            Err(Code::AuthSessionInvalid),
            "{n}"
        );
        let err = fx.logout(&c, &session).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}");
    }
}

#[tokio::test]
async fn an_unknown_session_id_is_auth_session_invalid() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let user = fx.user(EMAIL).await;
        let made_up = SessionId::new("A".repeat(43));

        let err = fx.session_authenticate(&c, &made_up).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{}", fx.backend);
        assert_eq!(
            add_otp(&fx, &c, &user, &made_up).await,
            Err(Code::AuthSessionInvalid),
            "{}",
            fx.backend
        );
    }
}
