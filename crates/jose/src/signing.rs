//! Private signing keys and compact JWS/JWT signing.
//!
//! A [`SigningKey`] is parsed once and keeps everything the hot path needs: the aws-lc key pair,
//! the base64url protected-header segments for the common `typ` values, its public JWK and a
//! parsed verification key. `sign_jwt` then costs one base64 pass over the claims plus the
//! signature itself.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::verify::{rsa_bits, VerificationKey};
use crate::{b64url_encode, Algorithm, JoseError, Jwk};

/// `typ` values whose header segment is precomputed (RFC 9068 access tokens and plain JWTs).
pub const CACHED_TYPS: [&str; 2] = ["at+jwt", "JWT"];

/// Largest RSA signing key accepted (bits); larger keys only slow signing down.
const MAX_RSA_SIGNING_BITS: usize = 4096;

/// A private signing key with its `kid` and algorithm. Cheap to sign with repeatedly,
/// `Send + Sync`, and its `Debug` shows only `kid` and `alg`.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    inner: Inner,
    pkcs8: Zeroizing<Vec<u8>>,
    public_jwk: Jwk,
    verification_key: VerificationKey,
    /// `(typ, base64url(header JSON))` for [`CACHED_TYPS`].
    cached_headers: Vec<(&'static str, String)>,
    rng: SystemRandom,
}

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

#[derive(Serialize)]
struct ProtectedHeader<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

impl SigningKey {
    /// Generates a fresh key: `ES256` → P-256, `RS256` → RSA 2048, `EdDSA` → Ed25519.
    /// Verification-only algorithms are [`JoseError::UnsupportedAlgorithm`].
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<SigningKey, JoseError> {
        let inner = match alg {
            Algorithm::ES256 => {
                Inner::Ecdsa(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?)
            }
            Algorithm::RS256 => Inner::Rsa(RsaKeyPair::generate(KeySize::Rsa2048)?),
            Algorithm::EdDSA => Inner::Ed25519(Ed25519KeyPair::generate()?),
            _ => return Err(JoseError::UnsupportedAlgorithm),
        };
        let pkcs8 = export_pkcs8(&inner)?;
        SigningKey::assemble(alg, kid.into(), inner, pkcs8)
    }

    /// Loads an unencrypted PKCS#8 (v1 or v2) private key for `alg`. The key type (and curve)
    /// must fit the algorithm; RSA keys must have 2048 to 4096 bits.
    pub fn from_pkcs8(
        alg: Algorithm,
        kid: impl Into<String>,
        pkcs8_der: &[u8],
    ) -> Result<SigningKey, JoseError> {
        let rejected = |_| JoseError::InvalidKey("PKCS#8 private key does not fit the algorithm");
        let inner = match alg {
            Algorithm::ES256 => Inner::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der)
                    .map_err(rejected)?,
            ),
            Algorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8_der).map_err(rejected)?;
                let bits = rsa_bits(
                    pair.public_key()
                        .modulus()
                        .big_endian_without_leading_zero(),
                );
                if bits < 2048 {
                    return Err(JoseError::WeakKey);
                }
                if bits > MAX_RSA_SIGNING_BITS {
                    return Err(JoseError::InvalidKey(
                        "RSA signing key larger than 4096 bits",
                    ));
                }
                Inner::Rsa(pair)
            }
            Algorithm::EdDSA => {
                Inner::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8_der).map_err(rejected)?)
            }
            _ => return Err(JoseError::UnsupportedAlgorithm),
        };
        // Re-export rather than keep the caller's bytes, so to_pkcs8 is always canonical v1.
        let pkcs8 = export_pkcs8(&inner)?;
        SigningKey::assemble(alg, kid.into(), inner, pkcs8)
    }

    /// The private key as unencrypted PKCS#8 v1 DER (seal it before storing). Round-trips with
    /// [`SigningKey::from_pkcs8`].
    pub fn to_pkcs8(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (`kty`, `crv`/`x`/`y` or `n`/`e`, `kid`, `alg`, `use: "sig"`).
    pub fn public_jwk(&self) -> Jwk {
        self.public_jwk.clone()
    }

    /// A parsed public key for verifying this key's signatures without going through JSON.
    pub fn verification_key(&self) -> VerificationKey {
        self.verification_key.clone()
    }

    /// Signs a compact JWS with protected header `{"alg","typ","kid"}` over `claims_json`.
    ///
    /// `claims_json` must be the serialized JSON claims object; it is not re-parsed here. The
    /// header segment for `at+jwt` and `JWT` is precomputed; other `typ` values are encoded per
    /// call.
    pub fn sign_jwt(&self, typ: &str, claims_json: &[u8]) -> Result<String, JoseError> {
        let computed;
        let header_b64 = match self.cached_headers.iter().find(|(t, _)| *t == typ) {
            Some((_, segment)) => segment.as_str(),
            None => {
                computed = encode_header(self.alg, typ, &self.kid)?;
                computed.as_str()
            }
        };
        let capacity =
            header_b64.len() + 2 + b64_len(claims_json.len()) + b64_len(self.signature_len());
        let mut token = String::with_capacity(capacity);
        token.push_str(header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        self.sign_into(&mut token)?;
        Ok(token)
    }

    /// Signs `token` (the signing input) and appends `.` and the base64url signature.
    fn sign_into(&self, token: &mut String) -> Result<(), JoseError> {
        match &self.inner {
            Inner::Ecdsa(pair) => {
                let signature = pair.sign(&self.rng, token.as_bytes())?;
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(signature.as_ref(), token);
            }
            Inner::Ed25519(pair) => {
                let signature = pair.sign(token.as_bytes());
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(signature.as_ref(), token);
            }
            Inner::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &self.rng,
                    token.as_bytes(),
                    &mut signature,
                )?;
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(&signature, token);
            }
        }
        Ok(())
    }

    fn signature_len(&self) -> usize {
        match &self.inner {
            Inner::Ecdsa(_) | Inner::Ed25519(_) => 64,
            Inner::Rsa(pair) => pair.public_modulus_len(),
        }
    }

    fn assemble(
        alg: Algorithm,
        kid: String,
        inner: Inner,
        pkcs8: Zeroizing<Vec<u8>>,
    ) -> Result<SigningKey, JoseError> {
        let public_jwk = build_public_jwk(alg, &kid, &inner)?;
        let verification_key = VerificationKey::from_jwk(&public_jwk)?;
        let cached_headers = CACHED_TYPS
            .iter()
            .map(|typ| Ok((*typ, encode_header(alg, typ, &kid)?)))
            .collect::<Result<Vec<_>, JoseError>>()?;
        Ok(SigningKey {
            kid,
            alg,
            inner,
            pkcs8,
            public_jwk,
            verification_key,
            cached_headers,
            rng: SystemRandom::new(),
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn encode_header(alg: Algorithm, typ: &str, kid: &str) -> Result<String, JoseError> {
    let header = ProtectedHeader {
        alg: alg.as_str(),
        typ,
        kid,
    };
    let json = serde_json::to_vec(&header).map_err(|_| JoseError::Json("header"))?;
    Ok(b64url_encode(&json))
}

/// Length of the unpadded base64 encoding of `n` bytes.
fn b64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

fn export_pkcs8(inner: &Inner) -> Result<Zeroizing<Vec<u8>>, JoseError> {
    let der = match inner {
        Inner::Ecdsa(pair) => pair.to_pkcs8v1()?.as_ref().to_vec(),
        Inner::Ed25519(pair) => pair.to_pkcs8v1()?.as_ref().to_vec(),
        Inner::Rsa(pair) => {
            let der: Pkcs8V1Der<'static> = pair.as_der()?;
            der.as_ref().to_vec()
        }
    };
    Ok(Zeroizing::new(der))
}

fn build_public_jwk(alg: Algorithm, kid: &str, inner: &Inner) -> Result<Jwk, JoseError> {
    let mut jwk = Jwk {
        kty: String::new(),
        kid: Some(kid.to_owned()),
        alg: Some(alg.as_str().to_owned()),
        use_: Some("sig".to_owned()),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
    };
    match inner {
        Inner::Ecdsa(pair) => {
            // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = pair.public_key().as_ref();
            if point.len() != 65 || point.first() != Some(&0x04) {
                return Err(JoseError::InvalidKey("unexpected EC public key encoding"));
            }
            jwk.kty = "EC".to_owned();
            jwk.crv = Some("P-256".to_owned());
            jwk.x = Some(b64url_encode(&point[1..33]));
            jwk.y = Some(b64url_encode(&point[33..65]));
        }
        Inner::Ed25519(pair) => {
            jwk.kty = "OKP".to_owned();
            jwk.crv = Some("Ed25519".to_owned());
            jwk.x = Some(b64url_encode(pair.public_key().as_ref()));
        }
        Inner::Rsa(pair) => {
            let public = pair.public_key();
            jwk.kty = "RSA".to_owned();
            jwk.n = Some(b64url_encode(
                public.modulus().big_endian_without_leading_zero(),
            ));
            jwk.e = Some(b64url_encode(
                public.exponent().big_endian_without_leading_zero(),
            ));
        }
    }
    Ok(jwk)
}
