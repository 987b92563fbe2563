//! Shared helpers for the integration tests: key sets, token surgery and fixed claims.

use tessera_jose::{b64url_decode, b64url_encode, Algorithm, JwkSet, SigningKey, VerificationKeys};

/// A time far in the future, for tokens that must not expire during tests.
pub const FAR_FUTURE: i64 = 4_102_444_800; // 2100-01-01

/// Claims JSON used by most signing tests.
pub fn claims_json() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "iss": "https://issuer.example",
        "sub": "alice",
        "aud": "userid-api",
        "exp": FAR_FUTURE,
        "iat": 1_700_000_000,
    }))
    .unwrap()
}

/// A verification key set holding exactly the public JWK of `key` (through JSON and back).
pub fn keys_for(key: &SigningKey) -> VerificationKeys {
    let json = serde_json::to_string(&JwkSet {
        keys: vec![key.public_jwk()],
    })
    .unwrap();
    let set: JwkSet = serde_json::from_str(&json).unwrap();
    VerificationKeys::from_jwks(&set).unwrap()
}

/// The three segments of a compact token.
pub fn segments(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    (parts[0].into(), parts[1].into(), parts[2].into())
}

/// `base64url(json)`.
pub fn encode_json(value: &serde_json::Value) -> String {
    b64url_encode(&serde_json::to_vec(value).unwrap())
}

/// Replaces the protected header of `token` (keeping payload and signature).
pub fn with_header(token: &str, header: &serde_json::Value) -> String {
    let (_, payload, signature) = segments(token);
    format!("{}.{payload}.{signature}", encode_json(header))
}

/// The raw signature bytes of `token`.
pub fn signature_bytes(token: &str) -> Vec<u8> {
    b64url_decode(&segments(token).2).unwrap()
}

/// Every supported algorithm.
pub fn all_algs() -> Vec<Algorithm> {
    Algorithm::ALL.to_vec()
}
