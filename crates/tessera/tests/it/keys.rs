//! Signing-key rotation: the new key is published at once, signs after the activation
//! delay, and the old key stays published until tokens signed with it have expired.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, header, TestServer};

async fn jwks_kids(srv: &TestServer) -> Vec<String> {
    let jwks: Value = srv
        .http
        .get(srv.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn rotation_publishes_first_signs_later_and_retires_after_the_longest_lifetime() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv.app_and_client(&admin, json!({})).await;
        let before = srv.token(&id, &secret).await;
        let old_kid = header(&before)["kid"].as_str().unwrap().to_string();
        assert_eq!(jwks_kids(&srv).await.len(), 3);

        let (s, body) = srv
            .send_json(Method::POST, "/cis/v1/keys/rotate", &admin, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let new_keys = body["keys"].as_array().unwrap();
        assert_eq!(new_keys.len(), 3);
        let new_es = new_keys.iter().find(|k| k["alg"] == "ES256").unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_string();
        // Published at once, alongside the old keys.
        let kids = jwks_kids(&srv).await;
        assert_eq!(kids.len(), 6);
        assert!(kids.contains(&new_es) && kids.contains(&old_kid));
        // Not used before the activation delay.
        let during = srv.token(&id, &secret).await;
        assert_eq!(header(&during)["kid"], old_kid.as_str());
        srv.clock.advance_s(31);
        let after = srv.token(&id, &secret).await;
        assert_eq!(header(&after)["kid"], new_es.as_str());
        // A token signed with the old key still verifies and is still accepted.
        let r = srv
            .form(
                "/oidc/introspect",
                &[
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("token", &during),
                ],
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
        assert!(jwks_kids(&srv).await.contains(&old_kid));
        // After the longest token lifetime (1 h) plus leeway the old key is gone.
        srv.clock.advance_s(3600 + 31);
        let kids = jwks_kids(&srv).await;
        assert_eq!(kids.len(), 3, "{kids:?}");
        assert!(!kids.contains(&old_kid));
        assert!(kids.contains(&new_es));
        srv.stop().await;
    }
}

#[tokio::test]
async fn keys_survive_a_restart() {
    for b in backends().await {
        let srv = b.start().await;
        let before = jwks_kids(&srv).await;
        let token = srv.admin_token().await;
        srv.stop().await;
        let srv = b.start().await;
        assert_eq!(jwks_kids(&srv).await, before);
        let (s, _) = srv
            .send_json(Method::GET, "/cis/v1/applications", &token, None)
            .await;
        assert_eq!(
            s,
            StatusCode::OK,
            "a token from before the restart still works"
        );
        srv.stop().await;
    }
}
