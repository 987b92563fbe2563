//! The gate (`gate.rs`, `caller.rs`): which bearer tokens become callers, and which rights
//! a caller has. A user token never inherits its client's rights; revocation, the client's
//! state and the session are checked on every use (also for tokens the gate has cached);
//! tokens are refused from `exp` plus the leeway.

use serde_json::json;
use tessera_identity::{perm, Code};

use crate::fixture::{backends, session_of, LEEWAY_S};

const EMAIL: &str = "ann@example.test";

#[tokio::test]
async fn a_user_token_of_an_admin_client_gets_no_admin_right_or_permission() {
    for b in backends().await {
        let fx = b.start().await;
        let user = fx.user(EMAIL).await;
        let n = fx.backend;
        // The management application's client logs a user in (admins hold every
        // permission, `auth` included): the account takeover of the domain-core issue was
        // this token being taken for an admin's.
        let admin_client = &fx.admin_client;
        let tokens = fx.sign_in(admin_client, EMAIL).await;
        let caller = fx.caller(&tokens.access_token).await.unwrap();

        assert_eq!(caller.admin().unwrap_err().code(), Code::Forbidden, "{n}");
        for code in [
            caller.permit::<perm::UsersRead>().unwrap_err().code(),
            caller.permit::<perm::UsersWrite>().unwrap_err().code(),
            caller.permit::<perm::Auth>().unwrap_err().code(),
            caller.permit::<perm::AuthDirect>().unwrap_err().code(),
            caller.permit::<perm::Sessions>().unwrap_err().code(),
        ] {
            assert_eq!(code, Code::Forbidden, "{n}");
        }
        let u = caller.user().unwrap();
        assert_eq!(u.user_id(), user.user_id, "{n}");
        assert_eq!(u.client().client_id(), admin_client.client_id, "{n}");

        // The same client's own client token is an admin's.
        let own = fx.client_token(admin_client).await;
        assert!(fx.caller(&own).await.unwrap().admin().is_ok(), "{n}");
    }
}

#[tokio::test]
async fn a_revoked_access_token_is_refused() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        let other = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let client_token = fx.client_token(&c).await;
        let user_token = fx.sign_in(&c, EMAIL).await.access_token;
        let later = fx.client_token(&c).await;
        let node2 = fx.another_node().await;
        // Both accepted (and now in the gate's cache of verified tokens).
        for t in [&client_token, &user_token, &later] {
            assert!(fx.caller(t).await.is_ok(), "{n}");
        }
        assert!(node2.caller(&later).await.is_ok(), "{n}");

        // Only the client a token was issued to may revoke it.
        let intruder = fx.authenticated(&other).await.unwrap();
        let err = fx
            .identity
            .introspection
            .revoke(&intruder, &client_token)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidRequest, "{n}");
        assert!(fx.caller(&client_token).await.is_ok(), "{n}");

        let owner = fx.authenticated(&c).await.unwrap();
        for t in [&client_token, &user_token, &later] {
            fx.identity.introspection.revoke(&owner, t).await.unwrap();
            assert_eq!(fx.refusal(t).await, Code::InvalidToken, "{n}");
            let seen = fx
                .identity
                .introspection
                .introspect(&owner, t)
                .await
                .unwrap();
            assert_eq!(seen, json!({"active": false}), "{n}");
        }
        // Another node refuses it once it has followed the change feed.
        node2.identity.sync_changes().await.unwrap();
        assert_eq!(node2.refusal(&later).await, Code::InvalidToken, "{n}");
    }
}

#[tokio::test]
async fn a_disabled_clients_tokens_are_refused() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let client_token = fx.client_token(&c).await;
        let user_token = fx.sign_in(&c, EMAIL).await.access_token;
        for t in [&client_token, &user_token] {
            assert!(fx.caller(t).await.is_ok(), "{n}");
        }

        let clients = &fx.identity.clients;
        let off = json!({"enabled": false});
        clients
            .patch_client(&fx.admin, &c.app_id, &c.client_id, off)
            .await
            .unwrap();
        for t in [&client_token, &user_token] {
            assert_eq!(fx.refusal(t).await, Code::InvalidToken, "{n}");
        }
        let err = fx.authenticated(&c).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidClient, "{n}");

        // Disabling is not revoking: enabled again, the client's tokens work again.
        let on = json!({"enabled": true});
        clients
            .patch_client(&fx.admin, &c.app_id, &c.client_id, on)
            .await
            .unwrap();
        for t in [&client_token, &user_token] {
            assert!(fx.caller(t).await.is_ok(), "{n}");
        }
    }
}

#[tokio::test]
async fn a_token_whose_session_was_logged_out_is_refused() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let ended = fx.sign_in(&c, EMAIL).await;
        let kept = fx.sign_in(&c, EMAIL).await;
        let node2 = fx.another_node().await;
        for t in [&ended.access_token, &kept.access_token] {
            assert!(fx.caller(t).await.is_ok(), "{n}");
            assert!(node2.caller(t).await.is_ok(), "{n}");
        }

        fx.logout(&c, &session_of(&ended)).await.unwrap();
        assert_eq!(
            fx.refusal(&ended.access_token).await,
            Code::InvalidToken,
            "{n}"
        );
        // The user's other session is not affected.
        assert!(fx.caller(&kept.access_token).await.is_ok(), "{n}");
        // Another node drops its cached session check when it follows the change feed.
        node2.identity.sync_changes().await.unwrap();
        assert_eq!(
            node2.refusal(&ended.access_token).await,
            Code::InvalidToken,
            "{n}"
        );
        assert!(node2.caller(&kept.access_token).await.is_ok(), "{n}");
    }
}

#[tokio::test]
async fn an_access_token_is_refused_from_exp_plus_leeway() {
    for b in backends().await {
        let fx = b.start().await;
        let c = fx.client(json!({"access_token_ttl": 300})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        let client_token = fx.client_token(&c).await;
        let user_token = fx.sign_in(&c, EMAIL).await.access_token;
        // Issued now, first presented after it expired (not in the gate's cache).
        let unseen = fx.client_token(&c).await;
        for t in [&client_token, &user_token] {
            assert!(fx.caller(t).await.is_ok(), "{n}");
        }

        fx.advance_s(300 + LEEWAY_S - 1);
        for t in [&client_token, &user_token] {
            assert!(fx.caller(t).await.is_ok(), "{n}: within the leeway");
        }
        fx.advance_s(1);
        for t in [&client_token, &user_token, &unseen] {
            assert_eq!(fx.refusal(t).await, Code::InvalidToken, "{n}");
        }
    }
}

#[tokio::test]
async fn only_access_tokens_meant_for_tessera_are_accepted() {
    for b in backends().await {
        let fx = b.start().await;
        let api = "https://api.example.test";
        let c = fx.client(json!({"allowed_resources": [api]})).await;
        fx.user(EMAIL).await;
        let n = fx.backend;
        // A token for another resource server.
        let client = fx.authenticated(&c).await.unwrap();
        let elsewhere = fx
            .identity
            .grants
            .token(
                &client,
                tessera_identity::grants::Grant::ClientCredentials {
                    scope: None,
                    resources: vec![api.into()],
                },
            )
            .await
            .unwrap()
            .access_token;
        assert_eq!(fx.refusal(&elsewhere).await, Code::InvalidToken, "{n}");
        // An ID token is not an access token.
        let id_token = fx.sign_in(&c, EMAIL).await.id_token.unwrap();
        assert_eq!(fx.refusal(&id_token).await, Code::InvalidToken, "{n}");
        // Nor is anything else.
        assert_eq!(fx.refusal("not.a.token").await, Code::InvalidToken, "{n}");
        // No token at all is an anonymous caller, who has no rights.
        let anonymous = fx.identity.gate.authenticate(None).await.unwrap();
        assert_eq!(
            anonymous.admin().unwrap_err().code(),
            Code::Unauthorized,
            "{n}"
        );
    }
}
