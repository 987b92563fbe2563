//! Refresh tokens (`refresh.rs`, `logins.rs`): rotated on every use, bound to their client,
//! a replay revokes the family, and a token works until the earliest of its own TTL, its
//! family's end, its session's end and its user's disablement; refreshed tokens keep the
//! session's `sid`, `auth_time` and `amr`.

use serde_json::json;
use tessera_identity::Code;

use crate::fixture::{amr, backends, claims, phone_id, session_of, T0_S};

#[tokio::test]
async fn rotation_gives_a_new_token_that_works_and_refuses_the_old_one() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let user = fx.user("ann@example.test").await;
        let login = fx.sign_in(&c, "ann@example.test").await;
        let t0 = login.refresh_token.unwrap();

        let first = fx.refresh(&c, &t0).await.unwrap();
        let t1 = first.refresh_token.clone().unwrap();
        assert_ne!(t0, t1, "{}", fx.backend);
        // The refreshed access token is a live user token of the same user.
        let caller = fx.caller(&first.access_token).await.unwrap();
        assert_eq!(caller.user().unwrap().user_id(), user.user_id);

        let second = fx.refresh(&c, &t1).await.unwrap();
        assert!(second.refresh_token.is_some());
        let err = fx.refresh(&c, &t0).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn reusing_the_previous_generation_after_the_reuse_window_revokes_the_family() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user("ann@example.test").await;
        let t0 = fx
            .sign_in(&c, "ann@example.test")
            .await
            .refresh_token
            .unwrap();
        let t1 = fx.refresh(&c, &t0).await.unwrap().refresh_token.unwrap();

        // Within the reuse window the same client's retry gets the same successor.
        let retried = fx.refresh(&c, &t0).await.unwrap().refresh_token.unwrap();
        assert_eq!(retried, t1, "{}", fx.backend);

        // After it, someone replays the used token: refused, and the family is revoked...
        fx.clock.advance_s(3);
        let err = fx.refresh(&c, &t0).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
        // ...so the legitimate holder's current token stops working too.
        let err = fx.refresh(&c, &t1).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_forged_token_of_the_current_generation_is_refused_without_revoking_the_family() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user("ann@example.test").await;
        let t0 = fx
            .sign_in(&c, "ann@example.test")
            .await
            .refresh_token
            .unwrap();
        let family = t0.split('.').next().unwrap();
        let forged = format!("{family}.0.{}", "A".repeat(43));

        let err = fx.refresh(&c, &forged).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
        // Knowing the family id is not enough to revoke it.
        assert!(fx.refresh(&c, &t0).await.is_ok(), "{}", fx.backend);
    }
}

#[tokio::test]
async fn another_clients_refresh_token_is_invalid_grant_and_not_consumed() {
    for b in backends().await {
        let fx = b.start().await;
        let mine = fx.client(json!({})).await;
        // A client of the same application: being siblings gives no right to the token.
        let other = fx.client_of(&mine.app_id, json!({})).await;
        fx.user("ann@example.test").await;
        let token = fx
            .sign_in(&mine, "ann@example.test")
            .await
            .refresh_token
            .unwrap();

        let err = fx.refresh(&other, &token).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
        // Not consumed, and the family is not revoked: its client still rotates it.
        let rotated = fx.refresh(&mine, &token).await.unwrap();
        assert!(rotated.refresh_token.is_some(), "{}", fx.backend);
    }
}

#[tokio::test]
async fn logout_ends_the_family() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user("ann@example.test").await;
        let login = fx.sign_in(&c, "ann@example.test").await;
        let session = session_of(&login);
        let t1 = fx
            .refresh(&c, login.refresh_token.as_ref().unwrap())
            .await
            .unwrap()
            .refresh_token
            .unwrap();

        fx.logout(&c, &session).await.unwrap();
        let err = fx.refresh(&c, &t1).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_disabled_users_refresh_fails() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let user = fx.user("ann@example.test").await;
        let token = fx
            .sign_in(&c, "ann@example.test")
            .await
            .refresh_token
            .unwrap();

        fx.disable_user(&user.user_id).await;
        let err = fx.refresh(&c, &token).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_refresh_token_expires_at_its_own_ttl() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx
            .client(json!({"refresh_token_ttl": 100, "max_refresh_rotate": 1000, "session_expiration": 5000}))
            .await;
        fx.user("ann@example.test").await;
        let t0 = fx
            .sign_in(&c, "ann@example.test")
            .await
            .refresh_token
            .unwrap();

        fx.advance_s(99);
        let t1 = fx.refresh(&c, &t0).await.unwrap().refresh_token.unwrap();
        // Each rotation starts the next token's own TTL.
        fx.advance_s(99);
        let t2 = fx.refresh(&c, &t1).await.unwrap().refresh_token.unwrap();
        fx.advance_s(100);
        let err = fx.refresh(&c, &t2).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_refresh_token_expires_at_the_end_of_its_family() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx
            .client(json!({"refresh_token_ttl": 100, "max_refresh_rotate": 250, "session_expiration": 5000}))
            .await;
        fx.user("ann@example.test").await;
        let t0 = fx
            .sign_in(&c, "ann@example.test")
            .await
            .refresh_token
            .unwrap();

        fx.advance_s(90);
        let t1 = fx.refresh(&c, &t0).await.unwrap().refresh_token.unwrap();
        fx.advance_s(90);
        let t2 = fx.refresh(&c, &t1).await.unwrap().refresh_token.unwrap();
        fx.advance_s(69);
        let t3 = fx.refresh(&c, &t2).await.unwrap().refresh_token.unwrap();
        // 250 s after the family started, although t3 is only 1 s old.
        fx.advance_s(1);
        let err = fx.refresh(&c, &t3).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_refresh_token_expires_at_the_end_of_its_session() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx
            .client(json!({"refresh_token_ttl": 100, "max_refresh_rotate": 1000, "session_expiration": 150}))
            .await;
        fx.user("ann@example.test").await;
        let t0 = fx
            .sign_in(&c, "ann@example.test")
            .await
            .refresh_token
            .unwrap();

        fx.advance_s(90);
        let refreshed = fx.refresh(&c, &t0).await.unwrap();
        // No token outlives its session: the access token ends with it.
        assert_eq!(refreshed.expires_in, 60, "{}", fx.backend);
        assert_eq!(claims(&refreshed.access_token)["exp"], json!(T0_S + 150));
        let t1 = refreshed.refresh_token.unwrap();
        fx.advance_s(60);
        let err = fx.refresh(&c, &t1).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidGrant, "{}", fx.backend);
    }
}

#[tokio::test]
async fn refresh_keeps_the_sessions_amr_auth_time_and_sid() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user_with_phone("ann@example.test", "+14155550100").await;
        // Two factors without Argon2: an email passcode, then an SMS passcode.
        let login = fx.sign_in(&c, "ann@example.test").await;
        let session = session_of(&login);
        fx.advance_s(5);
        let code = fx.send_otp_to(&c, phone_id("+14155550100"), None).await;
        let mfa = fx
            .otp_login_as(&c, phone_id("+14155550100"), &code, Some(&session))
            .await
            .unwrap();
        let auth_time = T0_S + 5;
        assert_eq!(amr(&mfa.access_token), ["eotp", "sms", "mfa"]);

        fx.advance_s(600);
        let refreshed = fx
            .refresh(&c, mfa.refresh_token.as_ref().unwrap())
            .await
            .unwrap();
        for jwt in [
            &refreshed.access_token,
            refreshed.id_token.as_ref().unwrap(),
        ] {
            let cl = claims(jwt);
            assert_eq!(amr(jwt), ["eotp", "sms", "mfa"], "{}", fx.backend);
            assert_eq!(cl["auth_time"], json!(auth_time), "{}", fx.backend);
            assert_eq!(cl["sid"], json!(session.hash()), "{}", fx.backend);
            assert_eq!(cl["iat"], json!(T0_S + 605), "freshly issued");
        }
        // The refresh token of the first login also gets the session's current methods.
        let first = fx
            .refresh(&c, login.refresh_token.as_ref().unwrap())
            .await
            .unwrap();
        assert_eq!(amr(&first.access_token), ["eotp", "sms", "mfa"]);
        assert_eq!(claims(&first.access_token)["sid"], json!(session.hash()));
    }
}
