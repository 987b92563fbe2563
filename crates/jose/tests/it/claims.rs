//! Registered claim checks: exp, nbf, iss and aud.

use serde_json::{json, Map, Value};
use tessera_jose::{check_claims, ClaimRules, JoseError};

const NOW: i64 = 1_700_000_000;

fn claims(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn audiences() -> Vec<String> {
    vec!["userid-api".into(), "other-api".into()]
}

fn rules(audience: &[String]) -> ClaimRules<'_> {
    ClaimRules {
        issuer: Some("https://issuer.example"),
        audience: Some(audience),
        now_s: NOW,
        leeway_s: 30,
        require_exp: true,
    }
}

fn valid() -> Value {
    json!({"iss": "https://issuer.example", "aud": "userid-api", "exp": NOW + 60, "sub": "a"})
}

fn check(value: Value) -> Result<(), JoseError> {
    let aud = audiences();
    check_claims(&claims(value), &rules(&aud))
}

fn with(field: &str, v: Value) -> Value {
    let mut value = valid();
    value[field] = v;
    value
}

fn without(field: &str) -> Value {
    let mut value = valid();
    value.as_object_mut().unwrap().remove(field);
    value
}

#[test]
fn valid_claims_pass() {
    assert_eq!(check(valid()), Ok(()));
}

#[test]
fn expiry_respects_leeway() {
    assert_eq!(check(with("exp", json!(NOW - 31))), Err(JoseError::Expired));
    assert_eq!(check(with("exp", json!(NOW - 30))), Err(JoseError::Expired));
    assert_eq!(check(with("exp", json!(NOW - 29))), Ok(()));
    assert_eq!(check(with("exp", json!(NOW))), Ok(()));
    let aud = audiences();
    let strict = ClaimRules {
        leeway_s: 0,
        ..rules(&aud)
    };
    assert_eq!(
        check_claims(&claims(with("exp", json!(NOW))), &strict),
        Err(JoseError::Expired)
    );
    assert_eq!(
        check_claims(&claims(with("exp", json!(NOW + 1))), &strict),
        Ok(())
    );
    let negative = ClaimRules {
        leeway_s: -100,
        ..rules(&aud)
    };
    assert_eq!(
        check_claims(&claims(with("exp", json!(NOW + 1))), &negative),
        Ok(())
    );
}

#[test]
fn fractional_and_huge_exp_are_handled() {
    assert_eq!(check(with("exp", json!((NOW - 29) as f64 + 0.5))), Ok(()));
    assert_eq!(check(with("exp", json!(1e300))), Ok(()));
    assert_eq!(check(with("exp", json!(-1e300))), Err(JoseError::Expired));
    assert_eq!(check(with("exp", json!(i64::MAX))), Ok(()));
    assert_eq!(check(with("exp", json!(u64::MAX))), Ok(()));
}

#[test]
fn missing_exp_is_refused_when_required() {
    assert_eq!(check(without("exp")), Err(JoseError::MissingClaim("exp")));
    let aud = audiences();
    let optional = ClaimRules {
        require_exp: false,
        ..rules(&aud)
    };
    assert_eq!(check_claims(&claims(without("exp")), &optional), Ok(()));
}

#[test]
fn exp_of_wrong_type_is_invalid() {
    for bad in [json!("1700000060"), json!(null), json!([1]), json!(true)] {
        assert_eq!(check(with("exp", bad)), Err(JoseError::InvalidClaim("exp")));
    }
}

#[test]
fn not_before_respects_leeway() {
    assert_eq!(
        check(with("nbf", json!(NOW + 31))),
        Err(JoseError::NotYetValid)
    );
    assert_eq!(check(with("nbf", json!(NOW + 30))), Ok(()));
    assert_eq!(check(with("nbf", json!(NOW - 1000))), Ok(()));
    assert_eq!(
        check(with("nbf", json!("soon"))),
        Err(JoseError::InvalidClaim("nbf"))
    );
}

#[test]
fn issuer_must_match_exactly() {
    assert_eq!(
        check(with("iss", json!("https://issuer.example/"))),
        Err(JoseError::IssuerMismatch)
    );
    assert_eq!(
        check(with("iss", json!("HTTPS://ISSUER.EXAMPLE"))),
        Err(JoseError::IssuerMismatch)
    );
    assert_eq!(
        check(with("iss", json!(["https://issuer.example"]))),
        Err(JoseError::InvalidClaim("iss"))
    );
    assert_eq!(check(without("iss")), Err(JoseError::MissingClaim("iss")));
    let aud = audiences();
    let any_issuer = ClaimRules {
        issuer: None,
        ..rules(&aud)
    };
    assert_eq!(check_claims(&claims(without("iss")), &any_issuer), Ok(()));
}

#[test]
fn audience_as_string_or_array() {
    assert_eq!(check(with("aud", json!("other-api"))), Ok(()));
    assert_eq!(check(with("aud", json!(["x", "userid-api"]))), Ok(()));
    assert_eq!(check(with("aud", json!(["x", 5, "other-api"]))), Ok(()));
    assert_eq!(
        check(with("aud", json!("userid"))),
        Err(JoseError::AudienceMismatch)
    );
    assert_eq!(
        check(with("aud", json!(["x", "y"]))),
        Err(JoseError::AudienceMismatch)
    );
    assert_eq!(
        check(with("aud", json!([]))),
        Err(JoseError::AudienceMismatch)
    );
    assert_eq!(
        check(with("aud", json!({"a": 1}))),
        Err(JoseError::InvalidClaim("aud"))
    );
    assert_eq!(check(without("aud")), Err(JoseError::MissingClaim("aud")));
}

#[test]
fn audience_any_and_empty_expected_list() {
    let aud = audiences();
    let any = ClaimRules {
        audience: None,
        ..rules(&aud)
    };
    assert_eq!(check_claims(&claims(without("aud")), &any), Ok(()));
    assert_eq!(
        check_claims(&claims(with("aud", json!("whatever"))), &any),
        Ok(())
    );
    let nothing: Vec<String> = Vec::new();
    assert_eq!(
        check_claims(&claims(valid()), &rules(&nothing)),
        Err(JoseError::AudienceMismatch)
    );
}
