//! Logins (`logins.rs`, `claims.rs`): methods added to one session aggregate into its `amr`
//! (with `mfa` across two factor classes), and silent authentication gives another client
//! of the tenant tokens of the same session.

use serde_json::json;
use tessera_identity::{perm, Code};

use crate::fixture::{amr, backends, claims, session_of, IDLE_TIMEOUT_S, PASSWORD, T0_S};

const EMAIL: &str = "ann@example.test";

#[tokio::test]
async fn password_then_otp_on_one_session_gives_mfa() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let user = fx.user_with_password(EMAIL).await;
        let n = fx.backend;

        let first = fx.password_login(&c, EMAIL, PASSWORD, None).await.unwrap();
        let session = session_of(&first);
        assert_eq!(amr(&first.access_token), ["pwd"], "{n}");
        fx.advance_s(30);
        let code = fx.send_otp(&c, EMAIL, None).await;
        let second = fx
            .otp_login(&c, EMAIL, &code, Some(&session))
            .await
            .unwrap();

        assert_eq!(session_of(&second), session, "{n}: the same session");
        for jwt in [&second.access_token, second.id_token.as_ref().unwrap()] {
            assert_eq!(amr(jwt), ["pwd", "eotp", "mfa"], "{n}");
            let cl = claims(jwt);
            assert_eq!(cl["sid"], json!(session.hash()), "{n}");
            assert_eq!(cl["sub"], json!(user.user_id), "{n}");
            assert_eq!(
                cl["auth_time"],
                json!(T0_S + 30),
                "{n}: the last authentication"
            );
        }
        // The gate accepts it as a user token of that session.
        let caller = fx.caller(&second.access_token).await.unwrap();
        assert_eq!(caller.user().unwrap().session_hash(), session.hash(), "{n}");
    }
}

#[tokio::test]
async fn two_methods_of_one_factor_class_give_no_mfa() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;

        let first = fx.sign_in(&c, EMAIL).await;
        let session = session_of(&first);
        // An email passcode, then an email magic link: both prove the email factor.
        let link = fx.send_magic_link(&c, EMAIL, 5).await;
        let second = fx.link_login(&c, &link, Some(&session)).await.unwrap();

        assert_eq!(session_of(&second), session, "{n}");
        assert_eq!(amr(&second.access_token), ["eotp", "eml"], "{n}");
        assert_eq!(
            amr(second.id_token.as_ref().unwrap()),
            ["eotp", "eml"],
            "{n}"
        );
    }
}

#[tokio::test]
async fn silent_authentication_gives_another_client_tokens_of_the_same_session() {
    for b in backends().await {
        let fx = b.start().await;
        let web = fx.client(json!({})).await;
        // A client of another application of the tenant, allowed only silent authentication.
        let mobile = fx.client(json!({"permissions": ["sessions"]})).await;
        let user = fx.user(EMAIL).await;
        let n = fx.backend;

        let login = fx.sign_in(&web, EMAIL).await;
        let session = session_of(&login);
        fx.advance_s(60);
        let silent = fx.session_authenticate(&mobile, &session).await.unwrap();

        assert_eq!(session_of(&silent), session, "{n}");
        let at = claims(&silent.access_token);
        assert_eq!(at["client_id"], json!(mobile.client_id), "{n}");
        assert_eq!(at["sub"], json!(user.user_id), "{n}");
        assert_eq!(at["sid"], json!(session.hash()), "{n}");
        assert_eq!(at["amr"], json!(["eotp"]), "{n}");
        assert_eq!(at["auth_time"], json!(T0_S), "{n}: no new authentication");
        assert_eq!(at["iat"], json!(T0_S + 60), "{n}");
        let id = claims(silent.id_token.as_ref().unwrap());
        assert_eq!(id["aud"], json!(mobile.client_id), "{n}");
        assert_eq!(id["sid"], json!(session.hash()), "{n}");

        // The gate accepts the token as the user's, for the other client.
        let caller = fx.caller(&silent.access_token).await.unwrap();
        let u = caller.user().unwrap();
        assert_eq!(u.client().client_id(), mobile.client_id, "{n}");
        assert_eq!(u.user_id(), user.user_id, "{n}");
        // Its refresh token belongs to the other client.
        let rt = silent.refresh_token.unwrap();
        let err = fx.refresh(&web, &rt).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{n}");
        assert!(fx.refresh(&mobile, &rt).await.is_ok(), "{n}");
    }
}

#[tokio::test]
async fn silent_authentication_needs_the_sessions_permission() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({"permissions": ["auth"]})).await;
        let token = fx.client_token(&c).await;
        let err = fx
            .caller(&token)
            .await
            .unwrap()
            .permit::<perm::Sessions>()
            .unwrap_err();
        assert_eq!(err.code(), Code::InsufficientPermissions, "{}", fx.backend);
    }
}

#[tokio::test]
async fn silent_authentication_of_an_ended_expired_or_idle_session_is_refused() {
    for b in backends().await {
        let fx = b.start().await;
        let short = fx.client(json!({"session_expiration": 600})).await;
        let long = fx.client(json!({})).await;
        let other = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;

        let ended = session_of(&fx.sign_in(&long, EMAIL).await);
        let expiring = session_of(&fx.sign_in(&short, EMAIL).await);
        let idle = session_of(&fx.sign_in(&long, EMAIL).await);
        fx.logout(&long, &ended).await.unwrap();

        let err = fx.session_authenticate(&other, &ended).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}: ended");
        fx.advance_s(600);
        let err = fx
            .session_authenticate(&other, &expiring)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}: expired");
        fx.advance_s(IDLE_TIMEOUT_S - 600 + 1);
        let err = fx.session_authenticate(&other, &idle).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthSessionInvalid, "{n}: idle");
    }
}
