//! Bad input gets a clear error in the documented format: never a panic, a hang or a 500.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::backends;

#[tokio::test]
async fn malformed_requests_get_documented_errors() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let apps = srv.url("/cis/v1/applications");
        // Malformed JSON.
        let r = srv
            .http
            .post(&apps)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error_code"], "invalid_request_body");
        assert!(body["message"].as_str().unwrap().contains("line"));
        // Wrong type of a field.
        let r = srv
            .http
            .post(&apps)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{\"name\": 5}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        // Wrong content type.
        let r = srv
            .http
            .post(&apps)
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(r.headers()["connection"], "close");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error_code"],
            "unsupported_media_type"
        );
        // The token endpoint with a JSON body: refused unread, connection closed.
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("content-type", "application/json")
            .body("{\"grant_type\": \"client_credentials\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["connection"], "close");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
        // Too large.
        let big = format!("{{\"name\": \"{}\"}}", "a".repeat(70 * 1024));
        let r = srv
            .http
            .post(&apps)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // The rest of the body is never read, so the connection is not reused.
        assert_eq!(r.headers()["connection"], "close");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error_code"],
            "payload_too_large"
        );
        let big_form = format!("grant_type=client_credentials&x={}", "a".repeat(70 * 1024));
        let r = srv
            .http
            .post(srv.url("/oidc/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big_form)
            .send()
            .await
            .unwrap();
        // 413 like the other endpoints, with an RFC 6749 body.
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.headers()["connection"], "close");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
        // Unknown route and wrong method.
        let r = srv.http.get(srv.url("/nope")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.json::<Value>().await.unwrap()["error_code"], "not_found");
        let r = srv.http.get(srv.url("/oidc/token")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        // Garbage in many shapes never produces a 5xx.
        let garbage: Vec<(&str, &str, &str)> = vec![
            (
                "/oidc/token",
                "application/x-www-form-urlencoded",
                "%%%&&==&grant_type=%ZZ",
            ),
            (
                "/oidc/token",
                "application/x-www-form-urlencoded",
                "grant_type=client_credentials&client_id=%00&client_secret=%FF%FE",
            ),
            (
                "/oidc/introspect",
                "application/x-www-form-urlencoded",
                "token=a.b.c&client_id=x&client_secret=y",
            ),
            ("/oidc/revoke", "application/x-www-form-urlencoded", ""),
            ("/cis/v1/applications", "application/json", "[]"),
            ("/cis/v1/applications", "application/json", "\u{0}\u{1}"),
            ("/cis/v1/keys/rotate", "application/json", "not json"),
        ];
        for (path, ct, body) in garbage {
            let r = srv
                .http
                .post(srv.url(path))
                .bearer_auth(&admin)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_client_error() || r.status().is_success(),
                "{path} {body:?} → {}",
                r.status()
            );
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert!(
                v.get("error").is_some() || v.get("error_code").is_some() || r_is_ok(&v),
                "{path}: {v}"
            );
        }
        // A malformed bearer header counts as missing.
        let r = srv
            .http
            .get(&apps)
            .header("authorization", "Bearer")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Security headers are on every response.
        let r = srv.http.get(srv.url("/healthz")).send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        srv.stop().await;
    }
}

fn r_is_ok(v: &Value) -> bool {
    v.get("keys").is_some() || v.is_null()
}

/// Invalid UTF-8 in a path segment was answered with axum's `text/plain` "Invalid URL".
#[tokio::test]
async fn invalid_utf8_in_a_path_segment_gets_a_json_error() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        for path in [
            "/cis/v1/applications/%ff%fe",
            "/cis/v1/applications/%ff/clients/%fe",
            "/cis/v1/users/%c3%28",
            "/ido/api/v2/journeys/%ff",
        ] {
            let r = srv
                .http
                .get(srv.url(path))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(r.headers()["content-type"], "application/json", "{path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error_code"], "invalid_request", "{path}");
            assert!(
                body["message"].as_str().unwrap().contains("UTF-8"),
                "{path}"
            );
        }
        // Unauthenticated, the same path is refused for the missing token first.
        let r = srv
            .http
            .get(srv.url("/cis/v1/applications/%ff%fe"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

#[tokio::test]
async fn operational_endpoints() {
    for b in backends().await {
        let srv = b.start().await;
        let r = srv.http.get(srv.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = srv.http.get(srv.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["database"], b.name);
        srv.admin_token().await;
        let text = srv
            .http
            .get(srv.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("tessera_tokens_issued_total{grant=\"client_credentials\"}"),
            "{text}"
        );
        assert!(text.contains("tessera_http_requests_total{"), "{text}");
        assert!(text.contains("route=\"/oidc/token\""));
        let doc: Value = srv
            .http
            .get(srv.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for path in [
            "/oidc/token",
            "/cis/v1/applications/{app_id}/clients/{client_id}",
            "/cis/v1/keys/rotate",
        ] {
            assert!(
                doc["paths"].get(path).is_some(),
                "{path} missing from OpenAPI"
            );
        }
        srv.stop().await;
    }
}

/// Found by the malformed-request generator: a body that ended (the client half-closed)
/// before its `Content-Length` was answered 413 "the request body exceeds 65536 bytes",
/// though it was 12 bytes long. It is an incomplete request: 400 `invalid_request`.
#[tokio::test]
async fn a_body_cut_before_its_content_length_is_400_not_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let addr = srv.base.trim_start_matches("http://").to_string();
        for (path, auth, content_type, field) in [
            (
                "/cis/v1/applications",
                format!("authorization: Bearer {admin}\r\n"),
                "application/json",
                "error_code",
            ),
            (
                "/oidc/token",
                String::new(),
                "application/x-www-form-urlencoded",
                "error",
            ),
        ] {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n{auth}\
                 content-type: {content_type}\r\ncontent-length: 50\r\n\r\n{{\"name\":\"x\"}}"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await.unwrap();
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.starts_with("HTTP/1.1 400 "),
                "{} {path}: {answer}",
                b.name
            );
            let body: Value =
                serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
            assert_eq!(body[field], "invalid_request", "{} {path}: {body}", b.name);
        }
        srv.stop().await;
    }
}

/// A read (`GET`, `OPTIONS`) with content is refused before routing with a short 400 and
/// `Connection: close`, so a large unread body can never cut a large answer (the OpenAPI
/// document) short; an empty body (`Content-Length: 0`) is fine.
#[tokio::test]
async fn reads_with_content_are_refused_whole() {
    for b in backends().await {
        let srv = b.start().await;
        let r = srv
            .http
            .get(srv.url("/openapi.json"))
            .header("content-type", "application/json")
            .body(vec![b'x'; 1 << 20])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", b.name);
        assert_eq!(r.headers()["connection"], "close");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error_code"], "invalid_request");
        let r = srv
            .http
            .get(srv.url("/openapi.json"))
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        srv.stop().await;
    }
}
