//! Sealing under the key-encryption key, sub-key derivation and the secret hasher.

use aws_lc_rs::hkdf;
use tessera_jose::{JoseError, Kek, SecretHasher};

const KEY: [u8; 32] = [7u8; 32];

#[test]
fn seal_open_round_trip() {
    let kek = Kek::from_bytes(&KEY).unwrap();
    for plaintext in [&b""[..], b"x", &[42u8; 5000]] {
        let sealed = kek.seal(plaintext, b"kid-1").unwrap();
        assert_eq!(sealed.len(), 12 + plaintext.len() + 16);
        assert_eq!(kek.open(&sealed, b"kid-1").unwrap().as_slice(), plaintext);
    }
}

#[test]
fn sealing_twice_uses_fresh_nonces() {
    let kek = Kek::from_bytes(&KEY).unwrap();
    let a = kek.seal(b"same", b"").unwrap();
    let b = kek.seal(b"same", b"").unwrap();
    assert_ne!(a, b);
    assert_ne!(a[..12], b[..12]);
}

#[test]
fn any_tampering_is_detected() {
    let kek = Kek::from_bytes(&KEY).unwrap();
    let sealed = kek.seal(b"private key bytes", b"kid-1").unwrap();
    for i in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[i] ^= 0x01;
        assert_eq!(
            kek.open(&tampered, b"kid-1").unwrap_err(),
            JoseError::Decrypt,
            "byte {i}"
        );
    }
    assert_eq!(
        kek.open(&sealed[..sealed.len() - 1], b"kid-1").unwrap_err(),
        JoseError::Decrypt
    );
    assert_eq!(
        kek.open(&sealed[..27], b"kid-1").unwrap_err(),
        JoseError::Decrypt
    );
    assert_eq!(kek.open(&[], b"kid-1").unwrap_err(), JoseError::Decrypt);
    let mut extended = sealed.clone();
    extended.push(0);
    assert_eq!(
        kek.open(&extended, b"kid-1").unwrap_err(),
        JoseError::Decrypt
    );
}

#[test]
fn wrong_aad_or_wrong_kek_fails() {
    let kek = Kek::from_bytes(&KEY).unwrap();
    let sealed = kek.seal(b"secret", b"kid-1").unwrap();
    assert_eq!(kek.open(&sealed, b"kid-2").unwrap_err(), JoseError::Decrypt);
    assert_eq!(kek.open(&sealed, b"").unwrap_err(), JoseError::Decrypt);
    let (other, _) = Kek::generate().unwrap();
    assert_eq!(
        other.open(&sealed, b"kid-1").unwrap_err(),
        JoseError::Decrypt
    );
}

#[test]
fn kek_must_be_32_bytes() {
    for len in [0, 16, 31, 33, 64] {
        assert!(matches!(
            Kek::from_bytes(&vec![1u8; len]).unwrap_err(),
            JoseError::InvalidKey(_)
        ));
    }
}

#[test]
fn generated_kek_bytes_reload_to_the_same_key() {
    let (kek, bytes) = Kek::generate().unwrap();
    assert_eq!(bytes.len(), 32);
    let reloaded = Kek::from_bytes(&bytes).unwrap();
    let sealed = kek.seal(b"data", b"aad").unwrap();
    assert_eq!(reloaded.open(&sealed, b"aad").unwrap().as_slice(), b"data");
    assert_eq!(kek.derive("x"), reloaded.derive("x"));
}

#[test]
fn debug_hides_the_kek() {
    let kek = Kek::from_bytes(&KEY).unwrap();
    assert_eq!(format!("{kek:?}"), "Kek(***)");
    let hasher = SecretHasher::new(&KEY);
    assert!(!format!("{hasher:?}").contains('7'));
}

#[test]
fn derive_is_stable_label_separated_and_is_hkdf_expand() {
    let kek = Kek::from_bytes(&KEY).unwrap();
    let a = kek.derive("client-secret-hmac");
    assert_eq!(
        a,
        Kek::from_bytes(&KEY).unwrap().derive("client-secret-hmac")
    );
    assert_ne!(a, kek.derive("client-secret-hmac2"));
    assert_ne!(a, kek.derive(""));
    assert_ne!(
        a,
        Kek::from_bytes(&[8u8; 32])
            .unwrap()
            .derive("client-secret-hmac")
    );
    assert_ne!(a, KEY);

    // Cross-check with aws-lc's HKDF: Expand(PRK = KEK, info = label, L = 32).
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &KEY);
    let info = [&b"client-secret-hmac"[..]];
    let okm = prk.expand(&info, Len32).unwrap();
    let mut expected = [0u8; 32];
    okm.fill(&mut expected).unwrap();
    assert_eq!(a, expected);
}

#[test]
fn secret_hasher_hashes_and_verifies() {
    let hasher = SecretHasher::new(&KEY);
    let hash = hasher.hash(b"s3cret");
    assert_eq!(hash, SecretHasher::new(&KEY).hash(b"s3cret"));
    assert_ne!(hash, SecretHasher::new(&[8u8; 32]).hash(b"s3cret"));
    assert_ne!(hash, tessera_jose::sha256(b"s3cret"));
    assert!(hasher.verify(b"s3cret", &hash));
    assert!(!hasher.verify(b"s3cret!", &hash));
    assert!(!hasher.verify(b"s3cret", &hash[..31]));
    assert!(!hasher.verify(b"s3cret", &[]));
    // Matches a plain HMAC-SHA-256 computed through aws-lc directly.
    let direct = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEY),
        b"s3cret",
    );
    assert_eq!(hash.as_slice(), direct.as_ref());
}
