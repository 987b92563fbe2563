//! The applications and clients API: CRUD, merge-patch updates, secret rotation, rights.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, ADMIN_ID};

#[tokio::test]
async fn applications_and_clients_crud() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, app) = srv
            .send_json(
                Method::POST,
                "/cis/v1/applications",
                &admin,
                Some(json!({"name": "Your demo app", "description": "d"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        // Today's `name`/`description` are aliases of the platform's fields.
        assert_eq!(app["result"]["app_name"], "Your demo app");
        assert_eq!(app["result"]["app_description"], "d");
        let app_id = app["result"]["app_id"].as_str().unwrap().to_string();
        let default_client = app["result"]["client_id"].as_str().unwrap().to_string();
        let (s, list) = srv
            .send_json(Method::GET, "/cis/v1/applications", &admin, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(list["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["app_id"] == app_id.as_str()));
        let (s, got) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{app_id}"),
                &admin,
                Some(json!({"name": "Renamed"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(got["result"]["app_name"], "Renamed");
        assert_eq!(got["result"]["app_description"], "d");
        assert_eq!(got["result"]["client_id"], default_client.as_str());

        let clients = format!("/cis/v1/applications/{app_id}/clients");
        // A second later, so the list order (oldest first) is the creation order.
        srv.clock.advance_s(1);
        let (s, created) = srv
            .send_json(Method::POST, &clients, &admin, Some(json!({"name": "Demo client", "redirect_uris": ["https://yourdemoapp.com/verify"]})))
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let client_id = created["client_id"].as_str().unwrap().to_string();
        let secret = created["client_secret"].as_str().unwrap();
        assert!(
            secret.len() >= 43 && secret.chars().all(|c| c.is_ascii_alphanumeric()),
            "secret must be ≥ 256 bits alphanumeric"
        );
        let one = format!("{clients}/{client_id}");
        let (s, got) = srv.send_json(Method::GET, &one, &admin, None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            got.get("client_secret").is_none(),
            "the secret is shown once"
        );
        assert_eq!(
            got["redirect_uris"],
            json!(["https://yourdemoapp.com/verify"])
        );

        // The seed's CIBA-enable call: a merge patch that keeps everything else.
        let (s, patched) = srv
            .send_json(Method::PUT, &one, &admin, Some(json!({"ciba_authorization": {"enabled": true, "login_uri": "https://yourdemoapp.com/ciba"}})))
            .await;
        assert_eq!(s, StatusCode::OK, "{patched}");
        assert_eq!(
            patched["ciba_authorization"],
            json!({"enabled": true, "login_uri": "https://yourdemoapp.com/ciba"})
        );
        assert_eq!(
            patched["redirect_uris"],
            json!(["https://yourdemoapp.com/verify"])
        );
        assert_eq!(patched["name"], "Demo client");
        let (_, got) = srv.send_json(Method::GET, &one, &admin, None).await;
        assert_eq!(got["ciba_authorization"]["enabled"], true);

        // Invalid updates are 400 and change nothing.
        for bad in [
            json!({"colour": "red"}),
            json!({"access_token_ttl": 0}),
            json!({"redirect_uris": ["relative"]}),
            json!({"client_id": "other"}),
            json!([1]),
        ] {
            let (s, body) = srv
                .send_json(Method::PUT, &one, &admin, Some(bad.clone()))
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(body["error_code"], "invalid_request", "{bad}");
        }

        let (s, list) = srv.send_json(Method::GET, &clients, &admin, None).await;
        assert_eq!(s, StatusCode::OK);
        // A bare array: the default client and the one created above.
        let ids: Vec<_> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["client_id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(default_client), json!(client_id)]);

        // Unknown ids are 404.
        for path in [
            format!("{clients}/nope"),
            "/cis/v1/applications/nope".to_string(),
            "/cis/v1/applications/nope/clients".to_string(),
        ] {
            let (s, body) = srv.send_json(Method::GET, &path, &admin, None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body["error_code"], "not_found");
        }

        let (s, _) = srv.send_json(Method::DELETE, &one, &admin, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = srv.send_json(Method::GET, &one, &admin, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                &format!("/cis/v1/applications/{app_id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/applications/{app_id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        srv.stop().await;
    }
}

#[tokio::test]
async fn deleting_a_client_stops_its_tokens_and_secrets() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, id, secret) = srv.app_and_client(&admin, json!({})).await;
        let token = srv.token(&id, &secret).await;
        let r = srv
            .form(
                "/oidc/introspect",
                &[
                    ("client_id", ADMIN_ID),
                    ("client_secret", crate::harness::ADMIN_SECRET),
                    ("token", &token),
                ],
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                &format!("/cis/v1/applications/{app_id}/clients/{id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let r = srv
            .form(
                "/oidc/introspect",
                &[
                    ("client_id", ADMIN_ID),
                    ("client_secret", crate::harness::ADMIN_SECRET),
                    ("token", &token),
                ],
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"active": false}));
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

#[tokio::test]
async fn secret_rotation_with_and_without_grace() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (app_id, id, old) = srv.app_and_client(&admin, json!({})).await;
        let path = format!("/cis/v1/applications/{app_id}/clients/{id}/secret");
        let r = srv
            .http
            .post(srv.url(&path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        let new = body["client_secret"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        let tok = |s: String| {
            let srv = &srv;
            let id = id.clone();
            async move {
                srv.form(
                    "/oidc/token",
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", &id),
                        ("client_secret", &s),
                    ],
                )
                .await
                .status()
            }
        };
        assert_eq!(tok(old.clone()).await, StatusCode::UNAUTHORIZED);
        assert_eq!(tok(new.clone()).await, StatusCode::OK);
        // With a grace period the previous secret keeps working until it ends.
        let (s, body) = srv
            .send_json(
                Method::POST,
                &path,
                &admin,
                Some(json!({"grace_period_s": 60})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let newer = body["client_secret"].as_str().unwrap().to_string();
        assert_eq!(tok(new.clone()).await, StatusCode::OK);
        assert_eq!(tok(newer.clone()).await, StatusCode::OK);
        srv.clock.advance_s(61);
        assert_eq!(tok(new).await, StatusCode::UNAUTHORIZED);
        assert_eq!(tok(newer).await, StatusCode::OK);
        srv.stop().await;
    }
}

#[tokio::test]
async fn only_management_clients_may_use_the_admin_api() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv.app_and_client(&admin, json!({})).await;
        let plain = srv.token(&id, &secret).await;
        let (s, body) = srv
            .send_json(Method::GET, "/cis/v1/applications", &plain, None)
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(body["error_code"], "forbidden");
        let r = srv
            .http
            .get(srv.url("/cis/v1/applications"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        assert_eq!(
            r.json::<Value>().await.unwrap()["error_code"],
            "unauthorized"
        );
        let (s, body) = srv
            .send_json(Method::GET, "/cis/v1/applications", "not.a.jwt", None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error_code"], "invalid_token");
        // A second client of the management application is an admin too, and deleting it
        // ends its rights at once.
        let (_, apps) = srv
            .send_json(Method::GET, "/cis/v1/applications", &admin, None)
            .await;
        let mgmt = apps["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["management"] == true)
            .unwrap()["app_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, c) = srv
            .send_json(
                Method::POST,
                &format!("/cis/v1/applications/{mgmt}/clients"),
                &admin,
                Some(json!({"name": "ops"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let ops = srv
            .token(
                c["client_id"].as_str().unwrap(),
                c["client_secret"].as_str().unwrap(),
            )
            .await;
        let (s, _) = srv
            .send_json(Method::GET, "/cis/v1/applications", &ops, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                &format!(
                    "/cis/v1/applications/{mgmt}/clients/{}",
                    c["client_id"].as_str().unwrap()
                ),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = srv
            .send_json(Method::GET, "/cis/v1/applications", &ops, None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // The management application itself cannot be deleted.
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                &format!("/cis/v1/applications/{mgmt}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        srv.stop().await;
    }
}
