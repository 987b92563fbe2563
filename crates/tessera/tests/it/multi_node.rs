//! Several nodes on one database: one tenant from a racing bootstrap, and changes made on
//! one node visible on the others.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_identity::TestClock;
use zeroize::Zeroizing;

use crate::harness::{backends, now_ms, Backend, TestServer};

/// A config with a shared KEK and a per-node data dir, as two machines would have.
pub(crate) fn node_config(b: &Backend, node: &str, kek: &str) -> tessera::config::Config {
    let mut c = b.config_without_admin();
    c.data_dir = b.dir.path().join(node);
    c.key_encryption_key = Some(Zeroizing::new(kek.to_string()));
    c
}

pub(crate) fn shared_kek() -> String {
    let mut k = [0u8; 32];
    tessera_jose::random_bytes(&mut k).unwrap();
    base64::engine::general_purpose::STANDARD.encode(k)
}

#[tokio::test]
async fn racing_first_starts_create_one_tenant() {
    for b in backends().await {
        let kek = shared_kek();
        let (a, c) = tokio::join!(
            TestServer::start(node_config(&b, "a", &kek), TestClock::new(now_ms())),
            TestServer::start(node_config(&b, "b", &kek), TestClock::new(now_ms())),
        );
        let generated = [&a, &c]
            .iter()
            .filter(|s| s.server.as_ref().unwrap().generated_admin.is_some())
            .count();
        assert_eq!(generated, 1, "exactly one node bootstraps on {}", b.name);
        let creds = a
            .server
            .as_ref()
            .unwrap()
            .generated_admin
            .clone()
            .or(c.server.as_ref().unwrap().generated_admin.clone())
            .unwrap();
        // Both nodes serve the same tenant.
        let ta = a.token(&creds.client_id, &creds.client_secret).await;
        let tc = c.token(&creds.client_id, &creds.client_secret).await;
        let (s, _) = c
            .send_json(Method::GET, "/cis/v1/applications", &ta, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = a
            .send_json(Method::GET, "/cis/v1/applications", &tc, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        a.stop().await;
        c.stop().await;
    }
}

pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test]
async fn changes_on_one_node_reach_the_other() {
    for b in backends().await {
        let kek = shared_kek();
        let mut ca = node_config(&b, "a", &kek);
        ca.admin = Some((
            crate::harness::ADMIN_ID.into(),
            Zeroizing::new(crate::harness::ADMIN_SECRET.into()),
        ));
        let mut cb = node_config(&b, "b", &kek);
        cb.admin = ca.admin.clone();
        let a = TestServer::start(ca, TestClock::new(now_ms())).await;
        let n2 = TestServer::start(cb, TestClock::new(now_ms())).await;
        let admin_a = a.admin_token().await;
        let admin_b = n2.admin_token().await;
        // A client created on A gets tokens on B.
        let (app_id, id, secret) = a.app_and_client(&admin_a, json!({})).await;
        let token = n2.token(&id, &secret).await;
        // B caches the client; disabling it on A reaches B.
        let (s, _) = n2
            .send_json(Method::GET, "/cis/v1/applications", &admin_b, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = a
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{app_id}/clients/{id}"),
                &admin_a,
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        eventually("client disable on the other node", || async {
            n2.form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await
            .status()
                == StatusCode::UNAUTHORIZED
        })
        .await;
        let _ = token;
        // Revoking B's admin token on A takes effect on B.
        let r = a
            .form(
                "/oidc/revoke",
                &[
                    ("client_id", crate::harness::ADMIN_ID),
                    ("client_secret", crate::harness::ADMIN_SECRET),
                    ("token", &admin_b),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        eventually("revocation on the other node", || async {
            n2.send_json(Method::GET, "/cis/v1/applications", &admin_b, None)
                .await
                .0
                == StatusCode::UNAUTHORIZED
        })
        .await;
        // A key rotation on A is published by B.
        let (s, body) = a
            .send_json(Method::POST, "/cis/v1/keys/rotate", &admin_a, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let new_kid = body["keys"][0]["kid"].as_str().unwrap().to_string();
        eventually("key rotation on the other node", || async {
            n2.http
                .get(n2.url("/oidc/jwks"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains(&new_kid)
        })
        .await;
        a.stop().await;
        n2.stop().await;
    }
}

#[tokio::test]
async fn logout_and_user_disable_reach_the_other_node() {
    for b in backends().await {
        let kek = shared_kek();
        let mut ca = node_config(&b, "a", &kek);
        ca.admin = Some((
            crate::harness::ADMIN_ID.into(),
            Zeroizing::new(crate::harness::ADMIN_SECRET.into()),
        ));
        let mut cb = node_config(&b, "b", &kek);
        cb.admin = ca.admin.clone();
        let a = TestServer::start(ca, TestClock::new(now_ms())).await;
        let n2 = TestServer::start(cb, TestClock::new(now_ms())).await;
        let admin = a.admin_token().await;
        let (_, id, secret) = a.app_and_client(&admin, json!({})).await;
        let token = a.token(&id, &secret).await;
        let (s, u) = a
            .send_json(
                Method::POST,
                "/cis/v1/users",
                &token,
                Some(json!({"username": "ann", "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let user_id = u["result"]["user_id"].as_str().unwrap().to_string();
        let login = json!({"username": "ann", "password": "correct horse battery"});
        let mut sessions = Vec::new();
        for _ in 0..2 {
            let (s, t) = a
                .send_json(
                    Method::POST,
                    "/cis/v1/auth/password/authenticate",
                    &token,
                    Some(login.clone()),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{t}");
            let at = t["access_token"].as_str().unwrap().to_string();
            // B verifies the token and caches its session and user checks.
            let (s, _) = n2.send_json(Method::GET, "/oidc/userinfo", &at, None).await;
            assert_eq!(s, StatusCode::OK, "{}", b.name);
            sessions.push((t["session_id"].clone(), at));
        }
        // A logout on A reaches B.
        let (s, _) = a
            .send_json(
                Method::POST,
                "/cis/v1/auth/session/logout",
                &token,
                Some(json!({"session_id": sessions[0].0})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        eventually("logout on the other node", || async {
            n2.send_json(Method::GET, "/oidc/userinfo", &sessions[0].1, None)
                .await
                .0
                == StatusCode::UNAUTHORIZED
        })
        .await;
        // Disabling the user on A reaches B.
        let (s, _) = n2
            .send_json(Method::GET, "/oidc/userinfo", &sessions[1].1, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = a
            .send_json(
                Method::PATCH,
                &format!("/cis/v1/users/{user_id}"),
                &token,
                Some(json!({"status": "disabled"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        eventually("user disable on the other node", || async {
            n2.send_json(Method::GET, "/oidc/userinfo", &sessions[1].1, None)
                .await
                .0
                == StatusCode::UNAUTHORIZED
        })
        .await;
        a.stop().await;
        n2.stop().await;
    }
}
