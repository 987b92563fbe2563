//! Interop both ways with an independent implementation: `jsonwebtoken` on its RustCrypto
//! backend (p256, rsa, ed25519-dalek), which shares no code with aws-lc.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
use serde_json::Value;
use tessera_jose::{decode_unverified, Algorithm, Jwk, SigningKey, VerificationKeys};

use crate::support::{claims_json, keys_for, FAR_FUTURE};

fn their_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        other => panic!("not used in interop tests: {other}"),
    }
}

fn their_decoding_key(jwk: &Jwk) -> DecodingKey {
    // Their JWK type parses our published JSON: that is the interop contract of the JWKS.
    let json = serde_json::to_string(jwk).unwrap();
    let theirs: jsonwebtoken::jwk::Jwk = serde_json::from_str(&json).unwrap();
    DecodingKey::from_jwk(&theirs).unwrap()
}

fn their_validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(their_alg(alg));
    validation.set_audience(&["userid-api"]);
    validation.set_issuer(&["https://issuer.example"]);
    validation
}

fn pkcs8_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn their_encoding_key(key: &SigningKey) -> EncodingKey {
    let der = key.to_pkcs8();
    match key.alg() {
        Algorithm::ES256 => EncodingKey::from_ec_der(&der),
        Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pkcs8_pem(&der).as_bytes()).unwrap(),
        other => panic!("no signing key for {other}"),
    }
}

#[test]
fn our_tokens_verify_with_jsonwebtoken() {
    for alg in Algorithm::SIGNING {
        let key = SigningKey::generate(alg, format!("kid-{alg}")).unwrap();
        let token = key.sign_jwt("at+jwt", &claims_json()).unwrap();
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &their_decoding_key(&key.public_jwk()),
            &their_validation(alg),
        )
        .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken refused our token: {e}"));
        assert_eq!(decoded.claims["sub"], "alice");
        assert_eq!(decoded.header.alg, their_alg(alg));
        assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(decoded.header.kid.as_deref(), Some(key.kid()));
    }
}

#[test]
fn jsonwebtoken_rejects_our_token_with_tampered_payload() {
    for alg in Algorithm::SIGNING {
        let key = SigningKey::generate(alg, "k").unwrap();
        let token = key.sign_jwt("JWT", &claims_json()).unwrap();
        let other = key
            .sign_jwt("JWT", br#"{"sub":"mallory","exp":4102444800}"#)
            .unwrap();
        let (h, _, s) = crate::support::segments(&token);
        let (_, p, _) = crate::support::segments(&other);
        let forged = format!("{h}.{p}.{s}");
        let mut validation = Validation::new(their_alg(alg));
        validation.validate_aud = false;
        assert!(jsonwebtoken::decode::<Value>(
            &forged,
            &their_decoding_key(&key.public_jwk()),
            &validation
        )
        .is_err());
    }
}

#[test]
fn jsonwebtoken_tokens_verify_with_our_keys() {
    for alg in Algorithm::SIGNING {
        let key = SigningKey::generate(alg, "their-kid").unwrap();
        let mut header = jsonwebtoken::Header::new(their_alg(alg));
        header.kid = Some("their-kid".into());
        let claims = serde_json::json!({"sub": "bob", "exp": FAR_FUTURE});
        let token = jsonwebtoken::encode(&header, &claims, &their_encoding_key(&key)).unwrap();

        let verified = keys_for(&key)
            .verify(&token, &[alg])
            .unwrap_or_else(|e| panic!("{alg}: we refused jsonwebtoken's token: {e}"));
        assert_eq!(verified.claims["sub"], "bob");
        assert_eq!(verified.header.kid.as_deref(), Some("their-kid"));
        assert_eq!(verified.header.alg, alg.as_str());
    }
}

#[test]
fn jsonwebtoken_ps256_verifies_with_rsa_jwk_without_alg_but_not_with_rs256_jwk() {
    let key = SigningKey::generate(Algorithm::RS256, "rsa").unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some("rsa".into());
    let claims = serde_json::json!({"sub": "carol", "exp": FAR_FUTURE});
    let token = jsonwebtoken::encode(&header, &claims, &their_encoding_key(&key)).unwrap();

    let mut jwk = key.public_jwk();
    jwk.alg = None;
    let open = VerificationKeys::from_jwks(&tessera_jose::JwkSet { keys: vec![jwk] }).unwrap();
    let verified = open.verify(&token, &[Algorithm::PS256]).unwrap();
    assert_eq!(verified.claims["sub"], "carol");

    // The published JWK says alg RS256, so the same key must not verify PS256.
    let pinned = keys_for(&key);
    assert_eq!(
        pinned.verify(&token, &[Algorithm::PS256]).unwrap_err(),
        tessera_jose::JoseError::KeyTypeMismatch
    );
}

/// RFC 8037 Appendix A.4: a published Ed25519 JWS, verified with the published public key.
#[test]
fn rfc8037_ed25519_example_signature_verifies() {
    let jwk = Jwk {
        kty: "OKP".into(),
        kid: None,
        alg: None,
        use_: None,
        crv: Some("Ed25519".into()),
        x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
        y: None,
        n: None,
        e: None,
    };
    let keys = VerificationKeys::from_jwks(&tessera_jose::JwkSet { keys: vec![jwk] }).unwrap();
    let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    // The signature verifies; the example payload is plain text, so claims parsing then fails.
    assert_eq!(
        keys.verify(token, &[Algorithm::EdDSA]).unwrap_err(),
        tessera_jose::JoseError::Json("claims")
    );
    let tampered = token.replace(".hgyY", ".hgyZ");
    assert_eq!(
        keys.verify(&tampered, &[Algorithm::EdDSA]).unwrap_err(),
        tessera_jose::JoseError::BadSignature
    );
}

#[test]
fn header_segments_are_precomputed_and_custom_typ_works() {
    let key = SigningKey::generate(Algorithm::ES256, "k\"quoted").unwrap();
    for typ in ["at+jwt", "JWT", "logout+jwt"] {
        let token = key.sign_jwt(typ, &claims_json()).unwrap();
        let (header, claims) = decode_unverified(&token).unwrap();
        assert_eq!(header.alg, "ES256");
        assert_eq!(header.typ.as_deref(), Some(typ));
        assert_eq!(header.kid.as_deref(), Some("k\"quoted"));
        assert_eq!(claims["sub"], "alice");
        assert!(keys_for(&key).verify(&token, &[Algorithm::ES256]).is_ok());
    }
}

#[test]
fn token_without_kid_uses_the_only_key_of_fitting_type() {
    let ec = SigningKey::generate(Algorithm::ES256, "ec").unwrap();
    let rsa = SigningKey::generate(Algorithm::RS256, "rsa").unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    let claims = serde_json::json!({"sub": "dave", "exp": FAR_FUTURE});
    let token = jsonwebtoken::encode(&header, &claims, &their_encoding_key(&ec)).unwrap();
    let keys = VerificationKeys::from_jwks(&tessera_jose::JwkSet {
        keys: vec![rsa.public_jwk(), ec.public_jwk()],
    })
    .unwrap();
    let verified = keys.verify(&token, &[Algorithm::ES256]).unwrap();
    assert_eq!(verified.header.kid, None);
    assert_eq!(verified.claims["sub"], "dave");
}
