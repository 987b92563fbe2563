//! Code-based authentication (`authn/`): one-time passcodes and magic links live for their
//! minutes and are redeemed once.

use serde_json::json;
use tessera_identity::Code;

use crate::fixture::{amr, backends};

const EMAIL: &str = "ann@example.test";

#[tokio::test]
async fn an_otp_code_expires_after_its_minutes() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;

        let code = fx.send_otp(&c, EMAIL, Some(2)).await;
        fx.advance_s(119);
        let tokens = fx.otp_login(&c, EMAIL, &code, None).await.unwrap();
        assert_eq!(amr(&tokens.access_token), ["eotp"], "{}", fx.backend);
        // Redeemed once.
        let err = fx.otp_login(&c, EMAIL, &code, None).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthInvalidCredentials, "{}", fx.backend);

        let code = fx.send_otp(&c, EMAIL, Some(2)).await;
        fx.advance_s(120);
        let err = fx.otp_login(&c, EMAIL, &code, None).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthOtpPasscodeExpired, "{}", fx.backend);
    }
}

#[tokio::test]
async fn an_otp_code_expires_after_the_preferences_minutes_by_default() {
    for b in backends().await {
        let fx = b.start().await;
        fx.identity
            .preferences
            .put(&fx.admin, json!({"otp": {"expires_in": 3}}))
            .await
            .unwrap();
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;

        let code = fx.send_otp(&c, EMAIL, None).await;
        fx.advance_s(3 * 60 - 1);
        assert!(fx.otp_login(&c, EMAIL, &code, None).await.is_ok());
        let code = fx.send_otp(&c, EMAIL, None).await;
        fx.advance_s(3 * 60);
        let err = fx.otp_login(&c, EMAIL, &code, None).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthOtpPasscodeExpired, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_magic_link_expires_after_its_minutes() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;

        let code = fx.send_magic_link(&c, EMAIL, 1).await;
        fx.advance_s(59);
        let tokens = fx.link_login(&c, &code, None).await.unwrap();
        assert_eq!(amr(&tokens.access_token), ["eml"], "{}", fx.backend);
        // Redeemed once.
        let err = fx.link_login(&c, &code, None).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthInvalidCredentials, "{}", fx.backend);

        let code = fx.send_magic_link(&c, EMAIL, 1).await;
        fx.advance_s(60);
        let err = fx.link_login(&c, &code, None).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthLinkExpired, "{}", fx.backend);
    }
}

#[tokio::test]
async fn a_magic_link_is_redeemed_only_by_the_client_that_sent_it() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let other = fx.client_of(&c.app_id, json!({})).await;
        fx.user(EMAIL).await;

        let code = fx.send_magic_link(&c, EMAIL, 5).await;
        let err = fx.link_login(&other, &code, None).await.unwrap_err();
        assert_eq!(err.code(), Code::AuthInvalidCredentials, "{}", fx.backend);
        assert!(fx.link_login(&c, &code, None).await.is_ok(), "not consumed");
    }
}
