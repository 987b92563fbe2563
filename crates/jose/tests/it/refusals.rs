//! Verification refuses every malformed, unsigned, confused or tampered token.

use aws_lc_rs::hmac;
use serde_json::json;
use tessera_jose::{
    b64url_encode, decode_unverified, Algorithm, JoseError, JwkSet, SigningKey, VerificationKeys,
    MAX_TOKEN_LEN,
};

use crate::support::{
    all_algs, claims_json, encode_json, keys_for, segments, signature_bytes, with_header,
};

fn es256() -> SigningKey {
    SigningKey::generate(Algorithm::ES256, "ec-1").unwrap()
}

#[test]
fn alg_none_is_refused_in_every_spelling() {
    let key = es256();
    let keys = keys_for(&key);
    let payload = segments(&key.sign_jwt("JWT", &claims_json()).unwrap()).1;
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = encode_json(&json!({"alg": alg, "kid": "ec-1"}));
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.AAAA"),
        ] {
            assert_eq!(
                keys.verify(&token, &all_algs()).unwrap_err(),
                JoseError::UnsupportedAlgorithm,
                "alg {alg:?}"
            );
        }
    }
}

#[test]
fn hmac_algorithms_do_not_parse() {
    for name in ["HS256", "HS384", "HS512", "none", "es256", "RSA-OAEP"] {
        assert_eq!(
            name.parse::<Algorithm>().unwrap_err(),
            JoseError::UnsupportedAlgorithm
        );
        assert!(serde_json::from_str::<Algorithm>(&format!("\"{name}\"")).is_err());
    }
}

/// The classic confusion attack: HS256 keyed with the RSA public key the server publishes.
#[test]
fn hs256_signed_with_rsa_public_key_is_refused() {
    let key = SigningKey::generate(Algorithm::RS256, "rsa-1").unwrap();
    let keys = keys_for(&key);
    let jwk = key.public_jwk();
    let header = encode_json(&json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}));
    let payload = b64url_encode(&claims_json());
    let signing_input = format!("{header}.{payload}");
    let jwk_json = serde_json::to_vec(&jwk).unwrap();
    let n = tessera_jose::b64url_decode(jwk.n.as_deref().unwrap()).unwrap();
    for secret in [
        jwk_json.as_slice(),
        n.as_slice(),
        jwk.n.as_deref().unwrap().as_bytes(),
    ] {
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            signing_input.as_bytes(),
        );
        let token = format!("{signing_input}.{}", b64url_encode(mac.as_ref()));
        assert_eq!(
            keys.verify(&token, &all_algs()).unwrap_err(),
            JoseError::UnsupportedAlgorithm
        );
    }
}

#[test]
fn es256_token_against_rsa_key_with_same_kid_is_refused() {
    let ec = SigningKey::generate(Algorithm::ES256, "shared").unwrap();
    let rsa = SigningKey::generate(Algorithm::RS256, "shared").unwrap();
    let rsa_only = keys_for(&rsa);
    let ec_only = keys_for(&ec);
    let es_token = ec.sign_jwt("JWT", &claims_json()).unwrap();
    let rs_token = rsa.sign_jwt("JWT", &claims_json()).unwrap();
    assert_eq!(
        rsa_only.verify(&es_token, &all_algs()).unwrap_err(),
        JoseError::KeyTypeMismatch
    );
    assert_eq!(
        ec_only.verify(&rs_token, &all_algs()).unwrap_err(),
        JoseError::KeyTypeMismatch
    );
    // An RS256 token relabelled as ES256 (and vice versa) fails too.
    let relabelled = with_header(&rs_token, &json!({"alg": "ES256", "kid": "shared"}));
    assert_eq!(
        rsa_only.verify(&relabelled, &all_algs()).unwrap_err(),
        JoseError::KeyTypeMismatch
    );
    // With both keys under one kid, each token finds the key that fits its algorithm.
    let both = VerificationKeys::from_jwks(&JwkSet {
        keys: vec![ec.public_jwk(), rsa.public_jwk()],
    })
    .unwrap();
    assert!(both.verify(&es_token, &all_algs()).is_ok());
    assert!(both.verify(&rs_token, &all_algs()).is_ok());
}

#[test]
fn curve_must_fit_the_algorithm() {
    let ed = SigningKey::generate(Algorithm::EdDSA, "k").unwrap();
    let ec = SigningKey::generate(Algorithm::ES256, "k").unwrap();
    let ed_token = ed.sign_jwt("JWT", &claims_json()).unwrap();
    let ec_token = ec.sign_jwt("JWT", &claims_json()).unwrap();
    assert_eq!(
        keys_for(&ec).verify(&ed_token, &all_algs()).unwrap_err(),
        JoseError::KeyTypeMismatch
    );
    assert_eq!(
        keys_for(&ed).verify(&ec_token, &all_algs()).unwrap_err(),
        JoseError::KeyTypeMismatch
    );
    // ES384 claimed against a P-256 key.
    let relabelled = with_header(&ec_token, &json!({"alg": "ES384", "kid": "k"}));
    assert_eq!(
        keys_for(&ec).verify(&relabelled, &all_algs()).unwrap_err(),
        JoseError::KeyTypeMismatch
    );
}

#[test]
fn algorithm_must_be_allowed() {
    let key = es256();
    let token = key.sign_jwt("JWT", &claims_json()).unwrap();
    let keys = keys_for(&key);
    assert_eq!(
        keys.verify(&token, &[Algorithm::RS256, Algorithm::EdDSA])
            .unwrap_err(),
        JoseError::AlgorithmNotAllowed
    );
    assert_eq!(
        keys.verify(&token, &[]).unwrap_err(),
        JoseError::AlgorithmNotAllowed
    );
    assert!(keys.verify(&token, &[Algorithm::ES256]).is_ok());
}

#[test]
fn wrong_kid_is_unknown() {
    let key = es256();
    let keys = keys_for(&key);
    assert!(keys.contains_kid("ec-1"));
    assert!(!keys.contains_kid("ec-2"));
    let other = SigningKey::generate(Algorithm::ES256, "ec-2").unwrap();
    let token = other.sign_jwt("JWT", &claims_json()).unwrap();
    assert_eq!(
        keys.verify(&token, &all_algs()).unwrap_err(),
        JoseError::UnknownKid
    );
}

#[test]
fn same_kid_different_key_is_bad_signature() {
    let key = es256();
    let impostor = es256();
    let token = impostor.sign_jwt("JWT", &claims_json()).unwrap();
    assert_eq!(
        keys_for(&key).verify(&token, &all_algs()).unwrap_err(),
        JoseError::BadSignature
    );
}

#[test]
fn without_kid_the_single_fitting_key_is_used_and_ambiguity_refused() {
    let a = SigningKey::generate(Algorithm::ES256, "a").unwrap();
    let b = SigningKey::generate(Algorithm::ES256, "b").unwrap();
    let rsa = SigningKey::generate(Algorithm::RS256, "r").unwrap();
    let token = a.sign_jwt("JWT", &claims_json()).unwrap();
    // Our signer always writes a kid, so strip it: the key is then chosen by type alone (the
    // changed header bytes make the signature fail, which shows the key was found).
    let stripped = with_header(&token, &json!({"alg": "ES256", "typ": "JWT"}));
    let one_ec = VerificationKeys::from_jwks(&JwkSet {
        keys: vec![a.public_jwk(), rsa.public_jwk()],
    })
    .unwrap();
    // Key found (only EC key), but the header bytes changed so the signature fails.
    assert_eq!(
        one_ec.verify(&stripped, &all_algs()).unwrap_err(),
        JoseError::BadSignature
    );
    let two_ec = VerificationKeys::from_jwks(&JwkSet {
        keys: vec![a.public_jwk(), b.public_jwk()],
    })
    .unwrap();
    assert_eq!(
        two_ec.verify(&stripped, &all_algs()).unwrap_err(),
        JoseError::NoSuitableKey
    );
    let none = keys_for(&rsa);
    assert_eq!(
        none.verify(&stripped, &all_algs()).unwrap_err(),
        JoseError::NoSuitableKey
    );
}

#[test]
fn tampered_payload_is_refused() {
    for alg in Algorithm::SIGNING {
        let key = SigningKey::generate(alg, "k").unwrap();
        let token = key.sign_jwt("JWT", &claims_json()).unwrap();
        let (h, _, s) = segments(&token);
        let mut claims: serde_json::Value = serde_json::from_slice(&claims_json()).unwrap();
        claims["sub"] = json!("mallory");
        let forged = format!("{h}.{}.{s}", encode_json(&claims));
        assert_eq!(
            keys_for(&key).verify(&forged, &[alg]).unwrap_err(),
            JoseError::BadSignature,
            "{alg}"
        );
    }
}

#[test]
fn truncated_or_empty_signature_is_refused() {
    for alg in Algorithm::SIGNING {
        let key = SigningKey::generate(alg, "k").unwrap();
        let keys = keys_for(&key);
        let token = key.sign_jwt("JWT", &claims_json()).unwrap();
        let (h, p, s) = segments(&token);
        for cut in [4, 8, s.len() - 4] {
            let truncated = format!("{h}.{p}.{}", &s[..s.len() - cut]);
            // Depending on the cut, the rest is non-canonical base64url or a short signature.
            let err = keys.verify(&truncated, &[alg]).unwrap_err();
            assert!(
                matches!(
                    err,
                    JoseError::BadSignature | JoseError::Malformed("signature")
                ),
                "{alg} cut {cut}: {err:?}"
            );
        }
        assert_eq!(
            keys.verify(&format!("{h}.{p}."), &[alg]).unwrap_err(),
            JoseError::BadSignature
        );
        // One character removed leaves an invalid base64url length.
        assert_eq!(
            keys.verify(&token[..token.len() - 1], &[alg]).unwrap_err(),
            JoseError::Malformed("signature")
        );
    }
}

/// Encodes a fixed-length JOSE ECDSA signature (r || s) as ASN.1 DER, as X.509 does.
fn der_from_raw(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut value = bytes[start..].to_vec();
        if value[0] & 0x80 != 0 {
            value.insert(0, 0);
        }
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn der_encoded_es256_signature_is_refused() {
    let key = es256();
    let token = key.sign_jwt("JWT", &claims_json()).unwrap();
    let (h, p, _) = segments(&token);
    let der = der_from_raw(&signature_bytes(&token));
    // The DER form is a valid ECDSA signature (aws-lc's ASN.1 verifier accepts it) ...
    let jwk = key.public_jwk();
    let mut point = vec![4u8];
    point.extend(tessera_jose::b64url_decode(jwk.x.as_deref().unwrap()).unwrap());
    point.extend(tessera_jose::b64url_decode(jwk.y.as_deref().unwrap()).unwrap());
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        &point,
    )
    .verify(format!("{h}.{p}").as_bytes(), &der)
    .unwrap();
    // ... but JOSE requires r || s, so the token is refused.
    let der_token = format!("{h}.{p}.{}", b64url_encode(&der));
    assert_eq!(
        keys_for(&key).verify(&der_token, &all_algs()).unwrap_err(),
        JoseError::BadSignature
    );
}

#[test]
fn non_json_or_non_object_header_is_refused() {
    let key = es256();
    let keys = keys_for(&key);
    let (_, p, s) = segments(&key.sign_jwt("JWT", &claims_json()).unwrap());
    for header in [
        b64url_encode(b"not json"),
        b64url_encode(b"[\"ES256\"]"),
        b64url_encode(b"{\"alg\":5}"),
        b64url_encode(b"{\"typ\":\"JWT\"}"),
        b64url_encode(b"{\"alg\":\"ES256\",\"alg\":\"none\"}"),
    ] {
        let token = format!("{header}.{p}.{s}");
        assert_eq!(
            keys.verify(&token, &all_algs()).unwrap_err(),
            JoseError::Json("header")
        );
        assert!(decode_unverified(&token).is_err());
    }
    let not_base64 = format!("eyJ*.{p}.{s}");
    assert_eq!(
        keys.verify(&not_base64, &all_algs()).unwrap_err(),
        JoseError::Malformed("header")
    );
}

#[test]
fn crit_header_is_refused() {
    let key = es256();
    let token = key.sign_jwt("JWT", &claims_json()).unwrap();
    let crit = with_header(
        &token,
        &json!({"alg": "ES256", "kid": "ec-1", "crit": ["b64"], "b64": false}),
    );
    assert_eq!(
        keys_for(&key).verify(&crit, &all_algs()).unwrap_err(),
        JoseError::UnsupportedCritical
    );
}

#[test]
fn wrong_number_of_segments_is_malformed() {
    let key = es256();
    let keys = keys_for(&key);
    let token = key.sign_jwt("JWT", &claims_json()).unwrap();
    let (h, p, s) = segments(&token);
    for bad in [
        String::new(),
        h.clone(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}."),
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}..{s}"),
    ] {
        assert!(
            matches!(
                keys.verify(&bad, &all_algs()).unwrap_err(),
                JoseError::Malformed(_)
            ),
            "{bad}"
        );
        assert!(matches!(
            decode_unverified(&bad).unwrap_err(),
            JoseError::Malformed(_)
        ));
    }
}

#[test]
fn padded_or_standard_alphabet_base64_is_refused() {
    let key = es256();
    let keys = keys_for(&key);
    let token = key.sign_jwt("JWT", &claims_json()).unwrap();
    let (h, p, s) = segments(&token);
    let padded = format!("{h}==.{p}.{s}");
    assert!(keys.verify(&padded, &all_algs()).is_err());
    let std_alphabet = format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/"));
    if std_alphabet != token {
        assert!(keys.verify(&std_alphabet, &all_algs()).is_err());
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let key = es256();
    let keys = keys_for(&key);
    let big_claims =
        serde_json::to_vec(&json!({"exp": 4_102_444_800_i64, "pad": "x".repeat(MAX_TOKEN_LEN)}))
            .unwrap();
    let token = key.sign_jwt("JWT", &big_claims).unwrap();
    assert!(token.len() > MAX_TOKEN_LEN);
    assert_eq!(
        keys.verify(&token, &all_algs()).unwrap_err(),
        JoseError::TooLarge
    );
    assert_eq!(decode_unverified(&token).unwrap_err(), JoseError::TooLarge);
    let junk = "a".repeat(10 * MAX_TOKEN_LEN);
    assert_eq!(
        keys.verify(&junk, &all_algs()).unwrap_err(),
        JoseError::TooLarge
    );
}

#[test]
fn non_object_claims_are_refused_after_signature() {
    let key = es256();
    let token = key.sign_jwt("JWT", b"[1,2,3]").unwrap();
    assert_eq!(
        keys_for(&key).verify(&token, &all_algs()).unwrap_err(),
        JoseError::Json("claims")
    );
}

#[test]
fn error_messages_never_contain_token_contents() {
    let key = es256();
    let keys = keys_for(&key);
    let payload = b64url_encode(br#"{"secret":"TOPSECRETVALUE"}"#);
    let cases = [
        format!(
            "{}.{payload}.sig",
            encode_json(&json!({"alg": "HS256TOPSECRETVALUE"}))
        ),
        format!(
            "{}.{payload}.sig",
            encode_json(&json!({"alg": "ES256", "kid": "TOPSECRETVALUE"}))
        ),
        format!(
            "{}.{payload}.sig",
            encode_json(&json!({"alg": ["TOPSECRETVALUE"]}))
        ),
        format!(
            "{}.{payload}.sig",
            b64url_encode(b"{\"alg\":\"TOPSECRETVALUE")
        ),
    ];
    for token in cases {
        let err = keys.verify(&token, &all_algs()).unwrap_err();
        assert!(
            !format!("{err} {err:?}").contains("TOPSECRETVALUE"),
            "{err:?}"
        );
    }
}
