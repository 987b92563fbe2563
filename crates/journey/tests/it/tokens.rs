//! validate_token and @crypto.verifyToken: jwt_validator (inline keys and JWKS with refetch)
//! and token_validator.

use std::sync::Mutex;

use serde_json::json;
use tessera_jose::{b64url_encode, Algorithm, JwkSet, SigningKey};
use tessera_journey::{
    BoxFuture, JwksCache, Outbound, OutboundError, OutboundRequest, OutboundResponse, RunResult,
    StubOutbound,
};

use crate::support::{connections, journey, request, run_with, stub};

const NOW_S: i64 = 1_700_000_000;

fn sign(key: &SigningKey, claims: serde_json::Value) -> String {
    key.sign_jwt("JWT", claims.to_string().as_bytes()).unwrap()
}

fn good_claims() -> serde_json::Value {
    json!({"iss": "https://idp", "aud": "tessera", "sub": "u1", "exp": NOW_S + 600})
}

fn jwt_connection(key: &SigningKey) -> String {
    let jwks = serde_json::to_string(&JwkSet {
        keys: vec![key.public_jwk()],
    })
    .unwrap();
    format!("jwt:\n  type: jwt_validator\n  issuer: https://idp\n  audience: tessera\n  algorithms: [ES256]\n  jwks: {jwks}\n")
}

const VALIDATE: &str = "id: j\ntype: backend_api\nsteps:\n  - {id: v, type: validate_token, token: '@policy.request().body.t', validator: jwt, output: claims}\n  - {id: ok, type: http_complete, status: 200, body: 'claims.sub'}\n";

async fn validate(
    conns_yaml: &str,
    token: &str,
    outbound: &dyn Outbound,
    jwks: &JwksCache,
    now_s: i64,
) -> Result<String, String> {
    let j = journey(VALIDATE);
    let out = run_with(
        &j,
        request(json!({"t": token})),
        &connections(conns_yaml),
        outbound,
        jwks,
        now_s * 1000,
    )
    .await;
    match out.result {
        RunResult::Completed(r) => Ok(r.body),
        RunResult::Failed(f) => Err(format!("{}: {}", f.code, f.message)),
    }
}

#[tokio::test]
async fn jwt_validator_accepts_good_and_refuses_bad_tokens() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let conn = jwt_connection(&key);
    let stub = StubOutbound::new(vec![]);
    let jwks = JwksCache::new();
    assert_eq!(
        validate(&conn, &sign(&key, good_claims()), &stub, &jwks, NOW_S)
            .await
            .unwrap(),
        "\"u1\""
    );

    let mut wrong_iss = good_claims();
    wrong_iss["iss"] = json!("https://evil");
    assert!(validate(&conn, &sign(&key, wrong_iss), &stub, &jwks, NOW_S)
        .await
        .unwrap_err()
        .contains("issuer mismatch"));
    let mut wrong_aud = good_claims();
    wrong_aud["aud"] = json!("other");
    assert!(validate(&conn, &sign(&key, wrong_aud), &stub, &jwks, NOW_S)
        .await
        .unwrap_err()
        .contains("audience mismatch"));
    let expired = validate(&conn, &sign(&key, good_claims()), &stub, &jwks, NOW_S + 601)
        .await
        .unwrap_err();
    assert!(
        expired.starts_with("invalid_token") && expired.contains("expired"),
        "{expired}"
    );
    let mut no_exp = good_claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(validate(&conn, &sign(&key, no_exp), &stub, &jwks, NOW_S)
        .await
        .unwrap_err()
        .contains("exp"));

    let payload = b64url_encode(good_claims().to_string().as_bytes());
    let none = format!(
        "{}.{payload}.",
        b64url_encode(br#"{"alg":"none","kid":"k1"}"#)
    );
    assert!(validate(&conn, &none, &stub, &jwks, NOW_S)
        .await
        .unwrap_err()
        .contains("unsupported algorithm"));
    let hs = format!(
        "{}.{payload}.{}",
        b64url_encode(br#"{"alg":"HS256","kid":"k1"}"#),
        b64url_encode(b"mac")
    );
    assert!(validate(&conn, &hs, &stub, &jwks, NOW_S)
        .await
        .unwrap_err()
        .contains("unsupported algorithm"));
    let other = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    assert!(
        validate(&conn, &sign(&other, good_claims()), &stub, &jwks, NOW_S)
            .await
            .unwrap_err()
            .contains("bad signature")
    );
    assert!(stub.requests().is_empty());
}

/// Serves a JWKS that the test can swap, counting fetches.
struct JwksServer {
    set: Mutex<JwkSet>,
    fetches: Mutex<u32>,
}

impl Outbound for JwksServer {
    fn send<'a>(
        &'a self,
        request: OutboundRequest,
    ) -> BoxFuture<'a, Result<OutboundResponse, OutboundError>> {
        assert_eq!(request.url, "https://idp/jwks");
        *self.fetches.lock().unwrap() += 1;
        let body = serde_json::to_vec(&*self.set.lock().unwrap()).unwrap();
        Box::pin(async move {
            Ok(OutboundResponse {
                status: 200,
                headers: vec![],
                body,
            })
        })
    }
}

#[tokio::test]
async fn unknown_kid_triggers_at_most_one_refetch_a_minute() {
    let k1 = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let k2 = SigningKey::generate(Algorithm::ES256, "k2").unwrap();
    let conn = "jwt:\n  type: jwt_validator\n  issuer: https://idp\n  audience: [tessera, x]\n  algorithms: [ES256]\n  jwks_uri: https://idp/jwks\n";
    let server = JwksServer {
        set: Mutex::new(JwkSet {
            keys: vec![k1.public_jwk()],
        }),
        fetches: Mutex::new(0),
    };
    let jwks = JwksCache::new();
    validate(conn, &sign(&k1, good_claims()), &server, &jwks, NOW_S)
        .await
        .unwrap();
    validate(conn, &sign(&k1, good_claims()), &server, &jwks, NOW_S)
        .await
        .unwrap();
    assert_eq!(*server.fetches.lock().unwrap(), 1, "keys are cached");
    // k2 appears at the IdP; within the minute no refetch happens.
    server.set.lock().unwrap().keys.push(k2.public_jwk());
    let err = validate(conn, &sign(&k2, good_claims()), &server, &jwks, NOW_S + 10)
        .await
        .unwrap_err();
    assert!(err.contains("unknown key id"), "{err}");
    assert_eq!(*server.fetches.lock().unwrap(), 1);
    // A minute later the unknown kid triggers exactly one refetch, which finds it.
    validate(conn, &sign(&k2, good_claims()), &server, &jwks, NOW_S + 61)
        .await
        .unwrap();
    assert_eq!(*server.fetches.lock().unwrap(), 2);
    let k3 = SigningKey::generate(Algorithm::ES256, "k3").unwrap();
    validate(conn, &sign(&k3, good_claims()), &server, &jwks, NOW_S + 62)
        .await
        .unwrap_err();
    assert_eq!(*server.fetches.lock().unwrap(), 2);
}

#[tokio::test]
async fn verify_token_in_expressions() {
    let key = SigningKey::generate(Algorithm::ES256, "k1").unwrap();
    let j = journey("id: j\ntype: backend_api\nsteps:\n  - {id: c, type: condition, expression: '@crypto.verifyToken(@policy.request().body.t, \"jwt\").sub == \"u1\"', on_true: ok, on_false: no, on_error: bad}\n  - {id: ok, type: http_complete, status: 200}\n  - {id: no, type: http_complete, status: 403}\n  - {id: bad, type: http_complete, status: 401, body: 'error.code'}\n");
    let conns = connections(&jwt_connection(&key));
    let stub = StubOutbound::new(vec![]);
    let out = run_with(
        &j,
        request(json!({"t": sign(&key, good_claims())})),
        &conns,
        &stub,
        &JwksCache::new(),
        NOW_S * 1000,
    )
    .await;
    assert!(matches!(out.result, RunResult::Completed(ref r) if r.status == 200));
    let out = run_with(
        &j,
        request(json!({"t": "garbage"})),
        &conns,
        &stub,
        &JwksCache::new(),
        NOW_S * 1000,
    )
    .await;
    assert!(
        matches!(out.result, RunResult::Completed(ref r) if r.status == 401 && r.body == "\"host_error\""),
        "{:?}",
        out.result
    );
}

#[tokio::test]
async fn token_validator_uses_valid_when() {
    let conn = "tv:\n  type: token_validator\n  url: https://validator.example.com/check\n  valid_when: 'status == 200 && body.valid == true'\n";
    let j = journey("id: j\ntype: backend_api\nsteps:\n  - {id: v, type: validate_token, token: '@policy.request().body.t', validator: tv}\n  - {id: ok, type: http_complete, status: 200}\n");
    let conns = connections(conn);
    let good = StubOutbound::new(vec![stub("tv", 200, json!({"valid": true}))]);
    let out = run_with(
        &j,
        request(json!({"t": "abc"})),
        &conns,
        &good,
        &JwksCache::new(),
        0,
    )
    .await;
    assert!(matches!(out.result, RunResult::Completed(_)));
    let sent = &good.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(sent.body.as_ref().unwrap()).unwrap(),
        json!({"user_id": null, "token": "abc"})
    );
    let bad = StubOutbound::new(vec![stub("tv", 200, json!({"valid": false}))]);
    let out = run_with(
        &j,
        request(json!({"t": "abc"})),
        &conns,
        &bad,
        &JwksCache::new(),
        0,
    )
    .await;
    assert!(matches!(out.result, RunResult::Failed(ref f) if f.code == "invalid_token"));
}
