//! Compact JWS parsing and signature verification against a set of public keys.
//!
//! Rules enforced here (signature only; claims are [`crate::check_claims`]'s job):
//! - input is bounded by [`MAX_TOKEN_LEN`] and must have exactly three strict base64url parts;
//! - the header `alg` must be a supported asymmetric algorithm (`none` and `HS*` never are) and
//!   in the caller's allow-list; a `crit` header is refused;
//! - the key is found by `kid`, or without `kid` must be the only key fitting the algorithm;
//! - the key's type and curve (and its JWK `alg`, when given) must fit the header `alg`, so an
//!   RSA public key can never be used as an HMAC secret or an EC key with an RSA algorithm;
//! - ECDSA signatures are the fixed-length JOSE `r || s` form, never DER;
//! - the claims are parsed only after the signature verified.

use aws_lc_rs::rsa::RsaParameters;
use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED,
    ECDSA_P384_SHA384_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384,
    RSA_PSS_2048_8192_SHA512,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{b64url_decode, Algorithm, JoseError, Jwk, JwkSet};

/// Largest token (in bytes) that is parsed at all; larger input is [`JoseError::TooLarge`].
pub const MAX_TOKEN_LEN: usize = 32 * 1024;

/// Smallest accepted RSA modulus.
const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus (bounds verification cost of hostile key sets).
const MAX_RSA_BITS: usize = 8192;

/// The parsed protected header (only the members Tessera uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `alg` as written in the token (not yet checked against anything).
    pub alg: String,
    /// `typ`, e.g. `at+jwt`.
    pub typ: Option<String>,
    /// `kid`.
    pub kid: Option<String>,
}

/// A token whose signature verified: its header and claims (claims not yet checked).
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedJwt {
    /// The protected header.
    pub header: Header,
    /// The claims object.
    pub claims: Map<String, Value>,
}

/// Decodes header and claims WITHOUT verifying the signature.
///
/// For callers that need the `kid` (or `iss`) before choosing keys, and for tooling. Never
/// trust the result for authorization.
pub fn decode_unverified(token: &str) -> Result<(Header, Map<String, Value>), JoseError> {
    let parts = split_token(token)?;
    let header = parse_header(parts.header)?;
    let claims = parse_claims(parts.payload)?;
    Ok((header, claims))
}

/// One parsed public verification key.
#[derive(Clone, Debug)]
pub struct VerificationKey {
    kid: Option<String>,
    /// The JWK's `alg`, when it declared one: the only algorithm this key is used with.
    alg: Option<Algorithm>,
    material: KeyMaterial,
}

#[derive(Clone, Debug)]
enum KeyMaterial {
    /// P-256 (`ES256`) or P-384 (`ES384`) public key.
    Ecdsa {
        alg: Algorithm,
        key: ParsedPublicKey,
    },
    Ed25519(ParsedPublicKey),
    /// One parsed key per RSA algorithm it may be used with (aws-lc binds parameters at parse).
    Rsa(Vec<(Algorithm, ParsedPublicKey)>),
}

impl VerificationKey {
    /// Parses a public JWK. Supported: `EC` with `P-256`/`P-384`, `OKP` with `Ed25519`, `RSA`
    /// with 2048 to 8192 bits. Unsupported types, curves, `alg` values or a `use` other than
    /// `sig` are [`JoseError::UnsupportedKeyType`]; bad key data is [`JoseError::InvalidKey`];
    /// small RSA keys are [`JoseError::WeakKey`].
    pub fn from_jwk(jwk: &Jwk) -> Result<VerificationKey, JoseError> {
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(JoseError::UnsupportedKeyType);
        }
        let declared_alg = match jwk.alg.as_deref() {
            None => None,
            Some(name) => Some(
                name.parse::<Algorithm>()
                    .map_err(|_| JoseError::UnsupportedKeyType)?,
            ),
        };
        let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some("P-256")) => ec_material(jwk, Algorithm::ES256, 32)?,
            ("EC", Some("P-384")) => ec_material(jwk, Algorithm::ES384, 48)?,
            ("OKP", Some("Ed25519")) => {
                let x = decode_member(jwk.x.as_deref(), "missing or invalid x")?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidKey("Ed25519 key must be 32 bytes"));
                }
                let key = ParsedPublicKey::new(&ED25519, &x)
                    .map_err(|_| JoseError::InvalidKey("Ed25519 public key rejected"))?;
                KeyMaterial::Ed25519(key)
            }
            ("RSA", _) => rsa_material(jwk, declared_alg)?,
            _ => return Err(JoseError::UnsupportedKeyType),
        };
        let key = VerificationKey {
            kid: jwk.kid.clone(),
            alg: declared_alg,
            material,
        };
        if let Some(alg) = declared_alg {
            if !key.type_fits(alg) {
                return Err(JoseError::InvalidKey("JWK alg does not fit its key type"));
            }
        }
        Ok(key)
    }

    /// The key id, if the JWK had one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key may verify `alg`: type and curve fit, and the JWK's `alg` (if any)
    /// is exactly `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.alg.is_none_or(|declared| declared == alg) && self.type_fits(alg)
    }

    fn type_fits(&self, alg: Algorithm) -> bool {
        self.parsed_for(alg).is_some()
    }

    fn parsed_for(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        match &self.material {
            KeyMaterial::Ecdsa { alg: key_alg, key } => (*key_alg == alg).then_some(key),
            KeyMaterial::Ed25519(key) => (alg == Algorithm::EdDSA).then_some(key),
            KeyMaterial::Rsa(keys) => keys.iter().find(|(a, _)| *a == alg).map(|(_, k)| k),
        }
    }
}

/// A set of public verification keys built once from a JWKS and reused for every token.
#[derive(Clone, Debug, Default)]
pub struct VerificationKeys {
    keys: Vec<VerificationKey>,
}

impl VerificationKeys {
    /// Parses a JWKS. Keys of unsupported type, curve or `use` are skipped; a malformed key of
    /// a supported type, or an RSA key under 2048 bits, fails the whole set (see
    /// [`VerificationKeys::from_jwks_lenient`] to skip those too).
    pub fn from_jwks(set: &JwkSet) -> Result<VerificationKeys, JoseError> {
        let mut keys = Vec::with_capacity(set.keys.len());
        for jwk in &set.keys {
            match VerificationKey::from_jwk(jwk) {
                Ok(key) => keys.push(key),
                Err(JoseError::UnsupportedKeyType) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(VerificationKeys { keys })
    }

    /// Like [`VerificationKeys::from_jwks`] but skips every unusable key (weak, malformed or
    /// unsupported), returning how many were skipped. Meant for third-party key sets where one
    /// bad key must not disable the others.
    pub fn from_jwks_lenient(set: &JwkSet) -> (VerificationKeys, usize) {
        let keys: Vec<VerificationKey> = set
            .keys
            .iter()
            .filter_map(|jwk| VerificationKey::from_jwk(jwk).ok())
            .collect();
        let skipped = set.keys.len() - keys.len();
        (VerificationKeys { keys }, skipped)
    }

    /// A set from already parsed keys (e.g. [`crate::SigningKey::verification_key`]).
    pub fn from_keys(keys: impl IntoIterator<Item = VerificationKey>) -> VerificationKeys {
        VerificationKeys {
            keys: keys.into_iter().collect(),
        }
    }

    /// Whether some key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies the signature only (no claim checks); see the module docs for the rules.
    pub fn verify(&self, token: &str, allowed: &[Algorithm]) -> Result<VerifiedJwt, JoseError> {
        let parts = split_token(token)?;
        let header = parse_header(parts.header)?;
        let alg: Algorithm = header.alg.parse()?;
        if !allowed.contains(&alg) {
            return Err(JoseError::AlgorithmNotAllowed);
        }
        let key = self.select(header.kid.as_deref(), alg)?;
        let parsed = key.parsed_for(alg).ok_or(JoseError::KeyTypeMismatch)?;
        let signature =
            b64url_decode(parts.signature).map_err(|_| JoseError::Malformed("signature"))?;
        if let Some(expected) = fixed_signature_len(alg) {
            if signature.len() != expected {
                return Err(JoseError::BadSignature);
            }
        }
        parsed
            .verify_sig(parts.signing_input.as_bytes(), &signature)
            .map_err(|_| JoseError::BadSignature)?;
        let claims = parse_claims(parts.payload)?;
        Ok(VerifiedJwt { header, claims })
    }

    fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&VerificationKey, JoseError> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_none() {
                    return Err(JoseError::UnknownKid);
                }
                let mut fitting = named.filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(JoseError::KeyTypeMismatch),
                    (Some(_), Some(_)) => Err(JoseError::NoSuitableKey),
                }
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    _ => Err(JoseError::NoSuitableKey),
                }
            }
        }
    }
}

/// Number of significant bits in a big-endian unsigned integer.
pub(crate) fn rsa_bits(big_endian: &[u8]) -> usize {
    let trimmed = strip_leading_zeros(big_endian);
    match trimmed.first() {
        None => 0,
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn fixed_signature_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::ES256 | Algorithm::EdDSA => Some(64),
        Algorithm::ES384 => Some(96),
        _ => None,
    }
}

fn decode_member(value: Option<&str>, what: &'static str) -> Result<Vec<u8>, JoseError> {
    let value = value.ok_or(JoseError::InvalidKey(what))?;
    b64url_decode(value).map_err(|_| JoseError::InvalidKey(what))
}

fn ec_material(jwk: &Jwk, alg: Algorithm, coord_len: usize) -> Result<KeyMaterial, JoseError> {
    let x = decode_member(jwk.x.as_deref(), "missing or invalid x")?;
    let y = decode_member(jwk.y.as_deref(), "missing or invalid y")?;
    if x.len() != coord_len || y.len() != coord_len {
        return Err(JoseError::InvalidKey("EC coordinate has the wrong length"));
    }
    let mut point = Vec::with_capacity(1 + 2 * coord_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let verification: &'static dyn VerificationAlgorithm = if alg == Algorithm::ES384 {
        &ECDSA_P384_SHA384_FIXED
    } else {
        &ECDSA_P256_SHA256_FIXED
    };
    // Parsing checks that the point is on the curve.
    let key = ParsedPublicKey::new(verification, &point)
        .map_err(|_| JoseError::InvalidKey("EC public key rejected"))?;
    Ok(KeyMaterial::Ecdsa { alg, key })
}

fn rsa_material(jwk: &Jwk, declared_alg: Option<Algorithm>) -> Result<KeyMaterial, JoseError> {
    let n = decode_member(jwk.n.as_deref(), "missing or invalid n")?;
    let e = decode_member(jwk.e.as_deref(), "missing or invalid e")?;
    let bits = rsa_bits(&n);
    if bits < MIN_RSA_BITS {
        return Err(JoseError::WeakKey);
    }
    if bits > MAX_RSA_BITS {
        return Err(JoseError::InvalidKey("RSA key larger than 8192 bits"));
    }
    let components = RsaPublicKeyComponents {
        n: strip_leading_zeros(&n),
        e: strip_leading_zeros(&e),
    };
    let algorithms: &[Algorithm] = match declared_alg {
        Some(alg) if alg.is_rsa() => &[alg][..],
        Some(_) => return Err(JoseError::InvalidKey("JWK alg does not fit its key type")),
        None => &RSA_ALGORITHMS,
    };
    let mut keys = Vec::with_capacity(algorithms.len());
    for alg in algorithms {
        let Some(params) = rsa_parameters(*alg) else {
            continue;
        };
        let key = components
            .to_parsed_public_key(params)
            .map_err(|_| JoseError::InvalidKey("RSA public key rejected"))?;
        keys.push((*alg, key));
    }
    Ok(KeyMaterial::Rsa(keys))
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

struct TokenParts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
}

fn split_token(token: &str) -> Result<TokenParts<'_>, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed("expected three dot-separated parts"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(JoseError::Malformed("empty header or payload"));
    }
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(TokenParts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// Wire form of the header; `crit` is captured only to refuse it.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

fn parse_header(segment: &str) -> Result<Header, JoseError> {
    let bytes = b64url_decode(segment).map_err(|_| JoseError::Malformed("header"))?;
    // A derived struct would also accept a JSON array (`["ES256"]`); JOSE requires an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JoseError::Json("header"));
    }
    // Duplicate members are an error for derived structs, which avoids parser differentials.
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| JoseError::Json("header"))?;
    if raw.crit.is_some() {
        return Err(JoseError::UnsupportedCritical);
    }
    Ok(Header {
        alg: raw.alg,
        typ: raw.typ,
        kid: raw.kid,
    })
}

fn parse_claims(segment: &str) -> Result<Map<String, Value>, JoseError> {
    let bytes = b64url_decode(segment).map_err(|_| JoseError::Malformed("payload"))?;
    serde_json::from_slice(&bytes).map_err(|_| JoseError::Json("claims"))
}
