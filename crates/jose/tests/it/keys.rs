//! Key generation, PKCS#8 round trips, public JWKs and JWKS parsing rules.

use tessera_jose::{
    b64url_encode, Algorithm, JoseError, Jwk, JwkSet, SigningKey, VerificationKeys,
};

use crate::support::{claims_json, keys_for};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn keys_are_send_and_sync() {
    assert_send_sync::<SigningKey>();
    assert_send_sync::<VerificationKeys>();
    assert_send_sync::<tessera_jose::Kek>();
    assert_send_sync::<tessera_jose::SecretHasher>();
}

#[test]
fn only_signing_algorithms_generate() {
    for alg in Algorithm::ALL {
        let result = SigningKey::generate(alg, "k");
        assert_eq!(result.is_ok(), alg.can_sign(), "{alg}");
        if !alg.can_sign() {
            assert_eq!(result.unwrap_err(), JoseError::UnsupportedAlgorithm);
        }
    }
}

#[test]
fn pkcs8_round_trip_keeps_the_key() {
    for alg in Algorithm::SIGNING {
        let original = SigningKey::generate(alg, "k1").unwrap();
        let der = original.to_pkcs8();
        let restored = SigningKey::from_pkcs8(alg, "k1", &der).unwrap();
        assert_eq!(restored.public_jwk(), original.public_jwk(), "{alg}");
        assert_eq!(restored.to_pkcs8().as_slice(), der.as_slice());
        let token = restored.sign_jwt("JWT", &claims_json()).unwrap();
        assert!(keys_for(&original).verify(&token, &[alg]).is_ok());
    }
}

#[test]
fn pkcs8_of_the_wrong_type_is_refused() {
    let ec = SigningKey::generate(Algorithm::ES256, "k")
        .unwrap()
        .to_pkcs8();
    let ed = SigningKey::generate(Algorithm::EdDSA, "k")
        .unwrap()
        .to_pkcs8();
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::RS256, "k", &ec).unwrap_err(),
        JoseError::InvalidKey(_)
    ));
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::ES256, "k", &ed).unwrap_err(),
        JoseError::InvalidKey(_)
    ));
    assert!(matches!(
        SigningKey::from_pkcs8(Algorithm::EdDSA, "k", &ec).unwrap_err(),
        JoseError::InvalidKey(_)
    ));
    assert!(SigningKey::from_pkcs8(Algorithm::ES256, "k", b"garbage").is_err());
    assert_eq!(
        SigningKey::from_pkcs8(Algorithm::PS256, "k", &ec).unwrap_err(),
        JoseError::UnsupportedAlgorithm
    );
}

#[test]
fn public_jwks_have_the_expected_members_and_no_private_parts() {
    let ec = SigningKey::generate(Algorithm::ES256, "ec")
        .unwrap()
        .public_jwk();
    assert_eq!(
        (
            ec.kty.as_str(),
            ec.crv.as_deref(),
            ec.alg.as_deref(),
            ec.use_.as_deref()
        ),
        ("EC", Some("P-256"), Some("ES256"), Some("sig"))
    );
    assert_eq!(ec.x.as_ref().unwrap().len(), 43);
    assert_eq!(ec.y.as_ref().unwrap().len(), 43);

    let ed = SigningKey::generate(Algorithm::EdDSA, "ed")
        .unwrap()
        .public_jwk();
    assert_eq!(
        (ed.kty.as_str(), ed.crv.as_deref()),
        ("OKP", Some("Ed25519"))
    );
    assert!(ed.y.is_none());

    let rsa = SigningKey::generate(Algorithm::RS256, "rsa")
        .unwrap()
        .public_jwk();
    assert_eq!(rsa.kty, "RSA");
    assert_eq!(rsa.e.as_deref(), Some("AQAB"));
    assert_eq!(
        tessera_jose::b64url_decode(rsa.n.as_deref().unwrap())
            .unwrap()
            .len(),
        256
    );

    let json = serde_json::to_value(&rsa).unwrap();
    let object = json.as_object().unwrap();
    assert_eq!(object["use"], "sig");
    for absent in ["d", "p", "q", "dp", "dq", "qi", "crv", "x", "y"] {
        assert!(!object.contains_key(absent), "{absent}");
    }
}

#[test]
fn debug_shows_kid_and_alg_only() {
    let key = SigningKey::generate(Algorithm::ES256, "visible-kid").unwrap();
    let debug = format!("{key:?}");
    assert!(
        debug.contains("visible-kid") && debug.contains("ES256"),
        "{debug}"
    );
    let der = key.to_pkcs8();
    assert!(!debug.contains(&b64url_encode(&der)));
    assert!(debug.len() < 80, "{debug}");
}

#[test]
fn verification_key_helper_verifies_own_tokens() {
    let key = SigningKey::generate(Algorithm::EdDSA, "ed").unwrap();
    let keys = VerificationKeys::from_keys([key.verification_key()]);
    let token = key.sign_jwt("at+jwt", &claims_json()).unwrap();
    assert!(keys.verify(&token, &[Algorithm::EdDSA]).is_ok());
}

fn jwk(kty: &str) -> Jwk {
    Jwk {
        kty: kty.into(),
        kid: Some("x".into()),
        alg: None,
        use_: None,
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
    }
}

#[test]
fn unsupported_keys_are_skipped_not_fatal() {
    let good = SigningKey::generate(Algorithm::ES256, "good").unwrap();
    let mut oct = jwk("oct");
    oct.alg = Some("HS256".into());
    let mut x25519 = jwk("OKP");
    x25519.crv = Some("X25519".into());
    x25519.x = Some(b64url_encode(&[9u8; 32]));
    let mut p521 = jwk("EC");
    p521.crv = Some("P-521".into());
    let mut enc = good.public_jwk();
    enc.use_ = Some("enc".into());
    enc.kid = Some("enc".into());
    let mut rsa_oaep = SigningKey::generate(Algorithm::RS256, "oaep")
        .unwrap()
        .public_jwk();
    rsa_oaep.alg = Some("RSA-OAEP".into());
    let set = JwkSet {
        keys: vec![oct, x25519, p521, enc, rsa_oaep, good.public_jwk()],
    };
    let keys = VerificationKeys::from_jwks(&set).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.contains_kid("good"));
    assert!(!keys.contains_kid("enc"));
    assert!(!keys.contains_kid("oaep"));
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let mut small = jwk("RSA");
    let mut n = vec![0xC3u8; 128]; // 1024 bits, top bit set
    n[127] |= 1;
    small.n = Some(b64url_encode(&n));
    small.e = Some("AQAB".into());
    let set = JwkSet {
        keys: vec![small.clone()],
    };
    assert_eq!(
        VerificationKeys::from_jwks(&set).unwrap_err(),
        JoseError::WeakKey
    );

    // 2047 bits (256 bytes with the top bit clear) is still too small.
    let mut n2047 = vec![0xFFu8; 256];
    n2047[0] = 0x7F;
    small.n = Some(b64url_encode(&n2047));
    assert_eq!(
        VerificationKeys::from_jwks(&JwkSet {
            keys: vec![small.clone()]
        })
        .unwrap_err(),
        JoseError::WeakKey
    );

    let good = SigningKey::generate(Algorithm::RS256, "good").unwrap();
    let (lenient, skipped) = VerificationKeys::from_jwks_lenient(&JwkSet {
        keys: vec![small, good.public_jwk()],
    });
    assert_eq!((lenient.len(), skipped), (1, 1));
    assert!(lenient.contains_kid("good"));
}

#[test]
fn malformed_ec_keys_are_refused() {
    let good = SigningKey::generate(Algorithm::ES256, "k")
        .unwrap()
        .public_jwk();
    let mut short = good.clone();
    short.x = Some(b64url_encode(&[1u8; 31]));
    let mut off_curve = good.clone();
    off_curve.y = Some(b64url_encode(&[1u8; 32]));
    let mut missing = good.clone();
    missing.y = None;
    let mut wrong_alg = good;
    wrong_alg.alg = Some("RS256".into());
    for bad in [short, off_curve, missing, wrong_alg] {
        assert!(matches!(
            VerificationKeys::from_jwks(&JwkSet { keys: vec![bad] }).unwrap_err(),
            JoseError::InvalidKey(_)
        ));
    }
}

#[test]
fn algorithm_names_round_trip() {
    for alg in Algorithm::ALL {
        assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        assert_eq!(alg.to_string(), alg.as_str());
        let json = serde_json::to_string(&alg).unwrap();
        assert_eq!(json, format!("\"{}\"", alg.as_str()));
        assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
    }
    assert_eq!(Algorithm::EdDSA.as_str(), "EdDSA");
}

#[test]
fn jwks_json_round_trip_skips_absent_members() {
    let key = SigningKey::generate(Algorithm::ES256, "k").unwrap();
    let set = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let json = serde_json::to_string(&set).unwrap();
    assert!(!json.contains("null"));
    assert!(!json.contains("\"n\""));
    assert!(json.contains("\"use\":\"sig\""));
    assert_eq!(serde_json::from_str::<JwkSet>(&json).unwrap(), set);
}
