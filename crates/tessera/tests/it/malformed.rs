//! Malformed requests (issue 10): the generator of `generator/` sends requests built from the route
//! table — every route and method, mutated paths, queries, credentials, content types,
//! bodies and framing — and every answer must be below 500 and, for a 4xx, the documented
//! JSON error format; the server must still answer afterwards and shut down cleanly.
//!
//! CI runs 1,000 requests per backend; `MALFORMED_REQUESTS=10000` runs more (as
//! `reliability/malformed.sh` does). The seed is printed; `MALFORMED_SEED` and
//! `MALFORMED_CASE` replay a run or one case of it; `MALFORMED_BACKEND` picks one backend.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use tessera_api::openapi::DOCUMENT;

use crate::generator::fixture::{self, Values};
use crate::generator::raw::{Outcome, RawResponse};
use crate::generator::templates::{self, Body};
use crate::generator::verdict::{judge, Answer};
use crate::generator::{self, mutate, Settings};
use crate::harness::backends;

/// Every route with a body documented in `openapi.json` has a template of a documented
/// content type, naming only documented fields; every path parameter is one the fixture
/// can fill.
#[test]
fn templates_cover_every_documented_request_body() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let values = Values::placeholder();
    for e in tessera_api::endpoints() {
        let method = e.method.as_str();
        let op = &doc["paths"][e.path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {} is not documented", e.path);
        for name in e
            .path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
        {
            assert!(
                values.stable.param(name).is_some(),
                "{method} {}: the fixture has no value for {{{name}}}",
                e.path
            );
        }
        let Some(content) = op["requestBody"]["content"].as_object() else {
            continue;
        };
        let body = templates::body(method, e.path, &values, 0)
            .unwrap_or_else(|| panic!("{method} {} has a documented body but no template", e.path));
        let ct = body.content_type();
        assert!(
            content.contains_key(ct),
            "{method} {}: template is {ct}, documented {:?}",
            e.path,
            content.keys().collect::<Vec<_>>()
        );
        let mut schema = &content[ct]["schema"];
        if let Some(r) = schema["$ref"].as_str() {
            schema = &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")];
        }
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        let names: BTreeSet<String> = match &body {
            Body::Json(v) => v.as_object().unwrap().keys().cloned().collect(),
            Body::Form(pairs) => pairs
                .iter()
                .map(|(k, _)| k.clone())
                .filter(|k| k != "client_id" && k != "client_secret")
                .collect(),
            Body::Yaml(_) => BTreeSet::new(),
        };
        for name in names {
            assert!(
                properties.contains_key(&name),
                "{method} {}: the template's `{name}` is not documented",
                e.path
            );
        }
    }
}

/// A case is a function of the seed and its index alone, and the generator reaches every
/// route of the table.
#[test]
fn cases_are_reproducible_and_cover_every_route() {
    let values = Values::placeholder();
    let routes = tessera_api::endpoints();
    for index in [0, 1, 77, 4_999] {
        let a = mutate::case(&routes, &values, 42, index);
        let b = mutate::case(&routes, &values, 42, index);
        assert_eq!(a.request.encode(), b.request.encode(), "case {index}");
        assert_eq!(a.labels, b.labels);
    }
    let differ = (0..20)
        .filter(|&i| {
            mutate::case(&routes, &values, 42, i).request.encode()
                != mutate::case(&routes, &values, 43, i).request.encode()
        })
        .count();
    assert!(differ > 15, "seeds barely change the cases: {differ}/20");
    let reached: BTreeSet<String> = (0..1_000)
        .map(|i| mutate::case(&routes, &values, 7, i).route)
        .collect();
    for e in &routes {
        let route = format!("{} {}", e.method, e.path);
        assert!(reached.contains(&route), "1,000 cases never reach {route}");
    }
}

fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Outcome {
    let mut all = vec![("x-content-type-options", "nosniff")];
    all.extend_from_slice(headers);
    Outcome::Answered(RawResponse {
        status,
        headers: all
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: body.as_bytes().to_vec(),
    })
}

/// The verdict refuses what the issue forbids: a 5xx, a hang, a dropped connection, an error
/// body that is not the documented JSON, the wrong one of the two formats, a 401 without a
/// challenge, and a parser refusal of a valid request.
#[test]
fn the_verdict_refuses_every_kind_of_wrong_answer() {
    let values = Values::placeholder();
    let mut rest = mutate::case(&tessera_api::endpoints(), &values, 1, 0);
    rest.request.method = b"GET".to_vec();
    rest.oauth = false;
    rest.either_format = false;
    rest.html = false;
    rest.well_formed = true;
    let oauth = mutate::Case {
        oauth: true,
        ..rest.clone()
    };
    let json = [("content-type", "application/json")];
    let page = mutate::Case {
        html: true,
        ..rest.clone()
    };
    let html = [("content-type", "text/html; charset=utf-8")];
    let error_page = r#"<p role="alert">m</p><code id="tessera-error-code">invalid_request</code>"#;
    assert_eq!(
        judge(&page, &answer(400, &html, error_page)),
        Ok(Answer::Router(400))
    );
    assert!(judge(&page, &answer(400, &html, "<p>oops</p>")).is_err());
    assert!(judge(&rest, &answer(400, &html, error_page)).is_err());
    let rest_error = r#"{"error_code": "invalid_request", "message": "m"}"#;
    let oauth_error = r#"{"error": "invalid_request", "error_description": "m"}"#;

    assert_eq!(
        judge(&rest, &answer(400, &json, rest_error)),
        Ok(Answer::Router(400))
    );
    assert_eq!(
        judge(&oauth, &answer(400, &json, oauth_error)),
        Ok(Answer::Router(400))
    );
    assert_eq!(
        judge(&rest, &answer(200, &[], "anything")),
        Ok(Answer::Router(200))
    );
    for (case, outcome) in [
        (
            &rest,
            answer(
                500,
                &json,
                r#"{"error_code": "internal_error", "message": "m"}"#,
            ),
        ),
        (&rest, answer(503, &json, rest_error)),
        (
            &rest,
            answer(400, &[("content-type", "text/plain")], "Invalid URL"),
        ),
        (
            &rest,
            answer(400, &[("content-type", "text/plain")], rest_error),
        ),
        (&rest, answer(400, &json, r#"{"error": "x"}"#)),
        (
            &rest,
            answer(400, &json, r#"{"error_code": "Bad Thing", "message": "m"}"#),
        ),
        (&rest, answer(400, &json, oauth_error)),
        (&oauth, answer(400, &json, rest_error)),
        (&rest, answer(401, &json, rest_error)),
        (&rest, Outcome::Closed),
        (&rest, Outcome::TimedOut),
        (&rest, Outcome::Broken("garbage".into())),
    ] {
        assert!(judge(case, &outcome).is_err(), "{outcome:?} passed");
    }
    // The HTTP parser's bare 400 (no security headers) is right only for invalid HTTP.
    let parser = Outcome::Answered(RawResponse {
        status: 400,
        headers: vec![],
        body: vec![],
    });
    assert!(judge(&rest, &parser).is_err());
    let invalid = mutate::Case {
        well_formed: false,
        ..rest.clone()
    };
    assert_eq!(judge(&invalid, &parser), Ok(Answer::Protocol(400)));
    assert_eq!(judge(&invalid, &Outcome::Closed), Ok(Answer::Closed));
}

#[tokio::test]
async fn malformed_requests_get_documented_errors_and_never_a_5xx() {
    let settings = Settings::from_env(1_000);
    // `MALFORMED_BACKEND=sqlite|postgres` runs one backend only (the reliability script).
    let only = std::env::var("MALFORMED_BACKEND").ok();
    for b in backends().await {
        if only.as_deref().is_some_and(|o| o != b.name) {
            continue;
        }
        let (srv, values) = fixture::start(&b).await;
        eprintln!(
            "malformed requests on {}: seed {} (MALFORMED_SEED={} MALFORMED_REQUESTS={} to replay)",
            b.name, settings.seed, settings.seed, settings.requests
        );
        let stats = generator::run(&values, &settings).await;
        eprintln!(
            "=== malformed requests: {} seed={} ===\n{}",
            b.name,
            settings.seed,
            stats.table()
        );
        // Still serving, on a new connection.
        let r = srv.http.get(srv.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let shown: Vec<&String> = stats.failures.iter().take(15).collect();
        assert!(
            stats.failures.is_empty(),
            "{}: {} of {} requests failed (seed {}); the first:\n\n{}",
            b.name,
            stats.failures.len(),
            stats.sent,
            settings.seed,
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        );
        // A clean shutdown: no serving thread died.
        srv.stop().await;
    }
}
