//! base64url, SHA-256, constant-time comparison and random helpers.

use std::collections::HashSet;

use tessera_jose::{
    b64url_decode, b64url_encode, constant_time_eq, random_alphanumeric, random_bytes,
    random_token_b64url, sha256, JoseError,
};

#[test]
fn b64url_is_strict_and_unpadded() {
    assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
    assert_eq!(b64url_decode("-_8").unwrap(), b"\xfb\xff");
    assert_eq!(b64url_encode(b""), "");
    for bad in ["YQ==", "+/8", "YR", "Y", "a b", "YQ.", "é"] {
        assert_eq!(
            b64url_decode(bad).unwrap_err(),
            JoseError::Malformed("base64url"),
            "{bad}"
        );
    }
}

#[test]
fn sha256_matches_fips_vector() {
    let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expected);
}

#[test]
fn constant_time_eq_compares_content_and_length() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(constant_time_eq(b"", b""));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

#[test]
fn random_alphanumeric_has_length_and_charset() {
    for len in [0, 1, 43, 64, 1000] {
        let s = random_alphanumeric(len).unwrap();
        assert_eq!(s.len(), len);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s}");
    }
    let a = random_alphanumeric(43).unwrap();
    let b = random_alphanumeric(43).unwrap();
    assert_ne!(a, b);
}

#[test]
fn random_alphanumeric_uses_all_62_characters() {
    let s = random_alphanumeric(20_000).unwrap();
    let distinct: HashSet<u8> = s.bytes().collect();
    assert_eq!(distinct.len(), 62);
    // Each character expects 20000/62 ≈ 323 occurrences; bias from `% 62` over 256 values would
    // give the first 8 characters ≈ 5/4 of the rest. Allow wide random variation only.
    for c in distinct {
        let count = s.bytes().filter(|b| *b == c).count();
        assert!(
            (200..460).contains(&count),
            "{} appeared {count} times",
            c as char
        );
    }
}

#[test]
fn random_tokens_and_bytes() {
    let token = random_token_b64url(32).unwrap();
    assert_eq!(token.len(), 43);
    assert_eq!(b64url_decode(&token).unwrap().len(), 32);
    assert_ne!(token, random_token_b64url(32).unwrap());
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    random_bytes(&mut a).unwrap();
    random_bytes(&mut b).unwrap();
    assert_ne!(a, b);
    random_bytes(&mut []).unwrap();
}
