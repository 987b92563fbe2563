//! Regression tests for attacks on the running server.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::backends;

/// A user logged in through a client of the management application got admin rights with
/// her own access token: she could list every user, replace another user's email and
/// password, and have that user's one-time code handed to her.
#[tokio::test]
async fn a_user_token_from_an_admin_client_has_no_admin_rights() {
    for backend in backends().await {
        let srv = backend.start().await;
        let admin = srv.admin_token().await;
        let (s, mallory) = srv
            .send_json(
                Method::POST,
                "/cis/v1/users",
                &admin,
                Some(json!({"username": "mallory", "credentials": {"password": "mallory-password-1"}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{mallory}");
        let (s, victim) = srv
            .send_json(
                Method::POST,
                "/cis/v1/users",
                &admin,
                Some(json!({"email": "victim@example.com", "username": "victim"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{victim}");
        let victim_id = victim["result"]["user_id"].as_str().unwrap().to_string();

        // The admin client logs mallory in; she holds a user token of that client.
        let (s, login) = srv
            .send_json(
                Method::POST,
                "/cis/v1/auth/password/authenticate",
                &admin,
                Some(json!({"username": "mallory", "password": "mallory-password-1"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{login}");
        let user_token = login["access_token"].as_str().unwrap().to_string();

        let attempts = [
            (Method::GET, "/cis/v1/users".to_string(), None),
            (Method::GET, format!("/cis/v1/users/{victim_id}"), None),
            (
                Method::PATCH,
                format!("/cis/v1/users/{victim_id}"),
                Some(json!({"email": "mallory@example.com", "password": "taken-over-password"})),
            ),
            (Method::DELETE, format!("/cis/v1/users/{victim_id}"), None),
            (
                Method::POST,
                "/cis/v1/auth/otp/send".to_string(),
                Some(
                    json!({"channel": "direct", "identifier_type": "user_id", "identifier": victim_id}),
                ),
            ),
            (
                Method::POST,
                "/cis/v1/auth/password/authenticate".to_string(),
                Some(json!({"username": "victim", "password": "whatever-password"})),
            ),
            (Method::GET, "/cis/v1/applications".to_string(), None),
            (Method::GET, "/cis/v1/login-preferences".to_string(), None),
            (Method::GET, "/ido/api/v2/journeys".to_string(), None),
        ];
        for (method, path, body) in attempts {
            let (s, answer) = srv
                .send_json(method.clone(), &path, &user_token, body)
                .await;
            assert_eq!(
                s,
                StatusCode::FORBIDDEN,
                "{} {method} {path}: {answer}",
                backend.name
            );
        }

        // Nothing changed: the victim keeps her email.
        let (s, after) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/users/{victim_id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(after["result"]["email"]["value"], "victim@example.com");
        srv.stop().await;
    }
}
