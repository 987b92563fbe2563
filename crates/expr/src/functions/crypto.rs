//! `@crypto`: hashing, HMAC, base64, and JWT decoding.
//!
//! **`extractTokenClaims` and `extractTokenHeader` do not verify anything.** They base64url-decode
//! a JWT's payload or header and parse it as JSON, as the hosted platform does. Anyone can forge
//! a token that decodes to any claims, so never base an authentication or authorization decision
//! on their output; verify with `@crypto.verifyToken(token, connection)` (a host call) instead.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{builtin, string_result, Args, Builtin};
use crate::ast::Span;
use crate::error::EvalError;
use crate::eval::Evaluator;
use crate::value::Value;

pub(crate) const FUNCTIONS: &[Builtin] = &[
    builtin("crypto", "extractTokenClaims", 1, 1, extract_token_claims),
    builtin("crypto", "extractTokenHeader", 1, 1, extract_token_header),
    builtin("crypto", "sha256", 1, 1, sha256),
    builtin("crypto", "hmacSha256", 2, 2, hmac_sha256),
    builtin("crypto", "base64Encode", 1, 1, base64_encode),
    builtin("crypto", "base64Decode", 1, 1, base64_decode),
    builtin("crypto", "base64UrlEncode", 1, 1, base64_url_encode),
    builtin("crypto", "base64UrlDecode", 1, 1, base64_url_decode),
];

/// Standard alphabet; padding required when decoding.
const STANDARD_DECODE: GeneralPurpose = STANDARD;
/// URL-safe alphabet; decoding accepts input with or without padding.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_jwt_part(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
    name: &'static str,
    part: usize,
) -> Result<Value, EvalError> {
    let a = Args::new(args, name, span);
    let token = a.string(0)?;
    let segments: Vec<&str> = token.trim().split('.').collect();
    if segments.len() < 2 {
        return Err(a.invalid("the argument is not a JWT"));
    }
    let bytes = URL_SAFE_LENIENT
        .decode(segments[part])
        .map_err(|_| a.invalid("a JWT segment is not base64url"))?;
    let json = super::json::parse_json(ev, &bytes, span)?
        .ok_or_else(|| a.invalid("a JWT segment is not JSON"))?;
    if !matches!(json, Value::Object(_)) {
        return Err(a.invalid("a JWT segment is not a JSON object"));
    }
    Ok(json)
}

/// Decodes the JWT payload WITHOUT verifying the signature (see the module docs).
fn extract_token_claims(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
) -> Result<Value, EvalError> {
    decode_jwt_part(ev, args, span, "@crypto.extractTokenClaims", 1)
}

/// Decodes the JWT header WITHOUT verifying the signature (see the module docs).
fn extract_token_header(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
) -> Result<Value, EvalError> {
    decode_jwt_part(ev, args, span, "@crypto.extractTokenHeader", 0)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn sha256(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@crypto.sha256", span);
    let s = a.string(0)?;
    Ok(Value::from(hex(&Sha256::digest(s.as_bytes()))))
}

/// `hmacSha256(key, message)`: HMAC-SHA-256 of the message's UTF-8 bytes under the key's UTF-8
/// bytes, as lowercase hex.
fn hmac_sha256(_ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@crypto.hmacSha256", span);
    let key = a.string(0)?;
    let message = a.string(1)?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .map_err(|_| a.invalid("unusable key"))?;
    mac.update(message.as_bytes());
    Ok(Value::from(hex(&mac.finalize().into_bytes())))
}

fn base64_encode(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    let a = Args::new(args, "@crypto.base64Encode", span);
    string_result(ev, STANDARD.encode(a.string(0)?.as_bytes()), span)
}

fn base64_url_encode(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
) -> Result<Value, EvalError> {
    let a = Args::new(args, "@crypto.base64UrlEncode", span);
    string_result(ev, URL_SAFE_NO_PAD.encode(a.string(0)?.as_bytes()), span)
}

fn decode_to_string(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
    name: &'static str,
    engine: &GeneralPurpose,
) -> Result<Value, EvalError> {
    let a = Args::new(args, name, span);
    let bytes = engine
        .decode(a.string(0)?.as_bytes())
        .map_err(|_| a.invalid("the string is not valid base64"))?;
    let s = String::from_utf8(bytes).map_err(|_| a.invalid("the decoded bytes are not UTF-8"))?;
    string_result(ev, s, span)
}

fn base64_decode(ev: &mut Evaluator<'_>, args: &[Value], span: Span) -> Result<Value, EvalError> {
    decode_to_string(ev, args, span, "@crypto.base64Decode", &STANDARD_DECODE)
}

fn base64_url_decode(
    ev: &mut Evaluator<'_>,
    args: &[Value],
    span: Span,
) -> Result<Value, EvalError> {
    decode_to_string(ev, args, span, "@crypto.base64UrlDecode", &URL_SAFE_LENIENT)
}
