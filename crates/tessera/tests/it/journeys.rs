//! Backend API journeys through the real server: the seed transaction-validation journey with
//! real signed external tokens, token enforcement, bad input, failures, versions and traces.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::Clock;
use tessera_jose::{Algorithm, SigningKey};

use crate::harness::{backends, TestServer};

const SEED: &str = include_str!("../../../../examples/journeys/validate-transaction.yaml");

async fn put_journey(srv: &TestServer, admin: &str, id: &str, yaml: &str) -> (StatusCode, Value) {
    let r = srv
        .http
        .put(srv.url(&format!("/ido/api/v2/journeys/{id}")))
        .bearer_auth(admin)
        .header("content-type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// An external system's token: a real RS256 JWT from a key Tessera knows nothing about.
fn external_token(key: &SigningKey, exp: i64, amr: &[&str]) -> String {
    let claims =
        json!({"iss": "https://idp.example.test", "sub": "user-1", "exp": exp, "amr": amr});
    key.sign_jwt("JWT", claims.to_string().as_bytes()).unwrap()
}

async fn invoke(
    srv: &TestServer,
    token: Option<&str>,
    client_id: &str,
    body: &str,
) -> reqwest::Response {
    let mut req = srv
        .http
        .post(srv.url(&format!(
            "/ido/api/v2/invoke-api-journey/validate-transaction?clientId={client_id}"
        )))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn seed_journey_answers_401_200_and_307() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, body) = put_journey(&srv, &admin, "validate-transaction", SEED).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["version"], 1);
        let (_, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
        let token = srv.token(&client_id, &secret).await;
        let key = SigningKey::generate(Algorithm::RS256, "external").unwrap();
        let now = srv.clock.now_s();
        let mut trace_ids = Vec::new();

        let mfa = json!({
            "external_access_token": external_token(&key, now + 600, &[]),
            "external_id_token": external_token(&key, now + 600, &["pwd", "mfa"]),
        });
        let r = invoke(&srv, Some(&token), &client_id, &mfa.to_string()).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        trace_ids.push(
            r.headers()["x-tessera-trace-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"result": "allowed"})
        );

        let no_mfa = json!({
            "external_access_token": external_token(&key, now + 600, &[]),
            "external_id_token": external_token(&key, now + 600, &["pwd"]),
        });
        let r = invoke(&srv, Some(&token), &client_id, &no_mfa.to_string()).await;
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(r.headers()["location"], "https://yourdemoapp.com/stepup");

        let expired = json!({
            "external_access_token": external_token(&key, now - 10, &[]),
            "external_id_token": external_token(&key, now + 600, &["mfa"]),
        });
        let r = invoke(&srv, Some(&token), &client_id, &expired.to_string()).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        // The run's trace is written asynchronously and readable by admins.
        let path = format!(
            "/ido/api/v2/journeys/validate-transaction/runs/{}",
            trace_ids[0]
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        let trace = loop {
            let (s, v) = srv.send_json(Method::GET, &path, &admin, None).await;
            if s == StatusCode::OK {
                break v;
            }
            assert!(Instant::now() < deadline, "trace not visible: {s} {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let steps: Vec<&str> = trace["trace"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step_id"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["extract", "check_expiry", "check_mfa", "allow"]);
        let text = trace.to_string();
        assert!(
            !text.contains("pwd") && !text.contains("user-1") && !text.contains("eyJ"),
            "traces carry no values: {text}"
        );
        // Other clients' tokens cannot read traces.
        let (s, _) = srv.send_json(Method::GET, &path, &token, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        srv.stop().await;
    }
}

#[tokio::test]
async fn invoke_enforces_the_token_and_refuses_bad_input() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        put_journey(&srv, &admin, "validate-transaction", SEED).await;
        let (_, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
        let (_, other_id, other_secret) = srv.app_and_client(&admin, json!({})).await;
        let token = srv.token(&client_id, &secret).await;
        let other = srv.token(&other_id, &other_secret).await;

        let r = invoke(&srv, None, &client_id, "{}").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().contains_key("x-tessera-trace-id"));
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let r = invoke(&srv, Some("garbage"), &client_id, "{}").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = invoke(&srv, Some(&other), &client_id, "{}").await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().contains_key("x-tessera-trace-id"));
        let r = invoke(
            &srv,
            Some(&token),
            &client_id,
            "{\"external_access_token\": ",
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error_code"],
            "invalid_request_body"
        );
        let big = format!("{{\"x\": \"{}\"}}", "a".repeat(65 * 1024));
        let r = invoke(&srv, Some(&token), &client_id, &big).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers()["connection"], "close");
        let r = srv
            .http
            .post(srv.url(&format!(
                "/ido/api/v2/invoke-api-journey/nope?clientId={client_id}"
            )))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers().contains_key("x-tessera-trace-id"));

        // A run that fails: 500 journey_failed naming the step and trace, without values.
        let secretish = "tok-ABCDEF-very-secret-value";
        let body = json!({"external_access_token": secretish, "external_id_token": 5});
        let r = invoke(&srv, Some(&token), &client_id, &body.to_string()).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let trace_header = r.headers()["x-tessera-trace-id"]
            .to_str()
            .unwrap()
            .to_string();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error_code"], "journey_failed");
        assert_eq!(v["step_id"], "extract");
        assert_eq!(v["trace_id"], trace_header.as_str());
        assert!(!v.to_string().contains(secretish), "{v}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn journey_admin_api_validates_and_versions() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        // An invalid journey names the step, field and expression position.
        let bad = "id: broken\ntype: backend_api\nsteps:\n  - id: c\n    type: condition\n    expression: \"1 +\"\n    on_true: done\n    on_false: done\n  - {id: done, type: http_complete, status: 200}\n";
        let (s, v) = put_journey(&srv, &admin, "broken", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error_code"], "invalid_journey");
        let e = &v["errors"][0];
        assert_eq!(e["step_id"], "c");
        assert_eq!(e["field"], "expression");
        // `line`/`column`: the file position; the expression's own under `expression_*`.
        assert_eq!(e["expression_line"], 1);
        let expression_column = e["expression_column"].as_u64().unwrap();
        assert!(expression_column >= 3, "{v}");
        assert_eq!(e["line"], 6);
        // `    expression: "` is 17 characters: expression column 1 is file column 18.
        assert_eq!(e["column"].as_u64().unwrap(), 17 + expression_column, "{v}");
        assert_eq!(e["step_line"], 4);
        assert!(e.get("approximate").is_none(), "{v}");
        // JSON uploads: positions in the JSON text.
        let bad_json = "{\"id\": \"broken\", \"type\": \"backend_api\", \"steps\": [\n  {\"id\": \"c\", \"type\": \"condition\", \"expression\": \"true\",\n   \"on_true\": \"done\", \"on_false\": \"nowhere\"},\n  {\"id\": \"done\", \"type\": \"http_complete\", \"status\": 200}]}";
        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/broken"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(bad_json)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await.unwrap();
        let e = &v["errors"][0];
        assert_eq!(e["field"], "on_false", "{v}");
        assert_eq!(e["message"], "target step `nowhere` does not exist");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(3), Some(35)),
            "{v}"
        );
        assert!(e.get("expression_line").is_none(), "{v}");
        // Unknown target.
        let bad_target = SEED.replace("on_false: step_up", "on_false: nowhere");
        let (s, v) = put_journey(&srv, &admin, "validate-transaction", &bad_target).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let target = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["step_id"] == "check_mfa" && e["field"] == "on_false")
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(target["message"], "target step `nowhere` does not exist");
        // Path id and definition id must agree.
        let (s, _) = put_journey(&srv, &admin, "other-id", SEED).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // Versions.
        let (s, v) = put_journey(&srv, &admin, "validate-transaction", SEED).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["version"], 1);
        let (_, v) = put_journey(&srv, &admin, "validate-transaction", SEED).await;
        assert_eq!(v["version"], 2);
        let (s, v) = srv
            .send_json(
                Method::GET,
                "/ido/api/v2/journeys/validate-transaction",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["version"], 2);
        assert!(v["source"].as_str().unwrap().contains("check_mfa"));
        let (_, v) = srv
            .send_json(Method::GET, "/ido/api/v2/journeys", &admin, None)
            .await;
        assert_eq!(v["journeys"].as_array().unwrap().len(), 1);
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                "/ido/api/v2/journeys/validate-transaction",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = srv
            .send_json(
                Method::GET,
                "/ido/api/v2/journeys/validate-transaction",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Ids that cannot exist are 404s on both backends (PostgreSQL refuses NUL bytes).
        for path in [
            "/ido/api/v2/journeys/%00",
            "/ido/api/v2/connections/a%00b",
            "/ido/api/v2/journeys/x/runs/%00",
            "/ido/api/v2/journeys/UPPER",
        ] {
            let (s, v) = srv.send_json(Method::GET, path, &admin, None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        }
        let (s, _) = srv
            .send_json(
                Method::DELETE,
                "/ido/api/v2/connections/a%00b",
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Wrong content type.
        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/x"))
            .bearer_auth(&admin)
            .header("content-type", "image/png")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        srv.stop().await;
    }
}
