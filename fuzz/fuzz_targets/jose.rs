//! Fuzz target: the JOSE paths that see untrusted input never panic, and no input forges a
//! signature.
//!
//! * the input as a compact JWS: `decode_unverified` (header and claims decoding) and
//!   `VerificationKeys::verify` against a fixed key set (ES256, RS256, EdDSA, generated once
//!   per process), which must refuse it — nothing the fuzzer writes is signed by those keys;
//! * the input as a JWK and as a JWKS (third-party key sets of `jwt_validator` connections):
//!   strict and lenient parsing, and verifying with whatever keys were accepted;
//! * the input as claims (after an optional `typ` line): signed with one of the fixed keys, it
//!   verifies to the same header and claims, `check_claims` decides without panicking, and the
//!   token with its signature altered is refused;
//! * strict base64url: whatever decodes re-encodes to the same text (one encoding per value).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use tessera_jose::{
    b64url_decode, b64url_encode, check_claims, decode_unverified, Algorithm, ClaimRules, Jwk,
    JwkSet, SigningKey, VerificationKeys,
};

struct Keys {
    signing: Vec<SigningKey>,
    verification: VerificationKeys,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let signing: Vec<SigningKey> = [
            (Algorithm::ES256, "es"),
            (Algorithm::RS256, "rs"),
            (Algorithm::EdDSA, "ed"),
        ]
        .into_iter()
        .map(|(alg, kid)| SigningKey::generate(alg, kid).expect("key generation"))
        .collect();
        let verification =
            VerificationKeys::from_keys(signing.iter().map(SigningKey::verification_key));
        Keys {
            signing,
            verification,
        }
    })
}

fn rules(audience: &[String]) -> ClaimRules<'_> {
    ClaimRules {
        issuer: Some("https://issuer.example"),
        audience: Some(audience),
        now_s: 1_700_000_000,
        leeway_s: 30,
        require_exp: true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keys = keys();
    let audience = vec!["api".to_string()];

    // Untrusted compact JWS.
    if let Ok((header, claims)) = decode_unverified(text) {
        let _ = (header.alg.len(), header.typ, header.kid);
        let _ = check_claims(&claims, &rules(&audience));
    }
    assert!(
        keys.verification.verify(text, &Algorithm::ALL).is_err(),
        "an input the fuzzer wrote verified"
    );

    // Untrusted JWK / JWKS.
    if let Ok(jwk) = serde_json::from_str::<Jwk>(text) {
        let _ = tessera_jose::VerificationKey::from_jwk(&jwk);
    }
    if let Ok(set) = serde_json::from_str::<JwkSet>(text) {
        let strict = VerificationKeys::from_jwks(&set);
        let (lenient, skipped) = VerificationKeys::from_jwks_lenient(&set);
        assert_eq!(lenient.len() + skipped, set.keys.len());
        if let Ok(strict) = strict {
            assert!(strict.len() <= lenient.len());
        }
        let token = keys.signing[0]
            .sign_jwt("JWT", br#"{"sub":"x"}"#)
            .expect("signing");
        let _ = lenient.verify(&token, &Algorithm::ALL);
    }

    // Signed by us: verifies to what was signed; altered, it does not.
    let (typ, claims_text) = match text.split_once('\n') {
        Some((typ, rest)) => (typ, rest),
        None => ("JWT", text),
    };
    if let Ok(claims) = serde_json::from_str::<Map<String, Value>>(claims_text) {
        let key = &keys.signing[text.len() % keys.signing.len()];
        if let Ok(token) = key.sign_jwt(typ, claims_text.as_bytes()) {
            let verified = keys
                .verification
                .verify(&token, &[key.alg()])
                .unwrap_or_else(|e| panic!("our own token does not verify: {e:?}"));
            assert_eq!(verified.header.alg, key.alg().as_str());
            assert_eq!(verified.header.typ.as_deref(), Some(typ));
            assert_eq!(verified.header.kid.as_deref(), Some(key.kid()));
            assert_eq!(verified.claims, claims);
            let _ = check_claims(&verified.claims, &rules(&audience));
            let other: Vec<Algorithm> = Algorithm::ALL
                .into_iter()
                .filter(|a| *a != key.alg())
                .collect();
            assert!(keys.verification.verify(&token, &other).is_err());
            // Alter one signature character (chosen by the input) to another base64url one.
            let sig_start = token.rfind('.').expect("three parts") + 1;
            let at = sig_start + data.len() % (token.len() - sig_start);
            let mut altered = token.clone().into_bytes();
            altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).expect("ascii");
            assert!(
                keys.verification.verify(&altered, &Algorithm::ALL).is_err(),
                "an altered signature verified"
            );
        }
    }

    // Strict base64url: one accepted encoding per value.
    if let Ok(bytes) = b64url_decode(text) {
        assert_eq!(
            b64url_encode(&bytes),
            text,
            "non-canonical base64url accepted"
        );
    }
});
