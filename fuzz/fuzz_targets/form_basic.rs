//! Fuzz target: the OAuth endpoints' request parsing never panics, and HTTP Basic credentials
//! round-trip.
//!
//! The input is `AUTHORIZATION-VALUE \n FORM-BODY`. The body goes through the
//! `application/x-www-form-urlencoded` parser of `OAuthForm` (token, introspection,
//! revocation and backchannel endpoints); then client authentication (`client_auth`: HTTP
//! Basic or `client_id`/`client_secret` in the form), the grant parser and the bearer-token
//! extractor. Separately, the two halves taken as a client id and secret, encoded as RFC 6749
//! §2.3.1 says (form-encode each, join with `:`, base64, padded or not), decode back to
//! exactly themselves (or are refused when the id is empty).
#![no_main]

use base64::Engine;
use http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use tessera_api::extract::{bearer_token, OAuthForm};
use tessera_api::routes::oidc::client_auth;
use tessera_identity::grants::Grant;

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn with_authorization(value: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(value) {
        headers.insert(header::AUTHORIZATION, v);
    }
    headers
}

fn round_trip(id: &str, secret: &str, padded: bool) {
    let raw = format!("{}:{}", form_encode(id), form_encode(secret));
    let mut encoded = base64::engine::general_purpose::STANDARD.encode(raw);
    if !padded {
        encoded.truncate(encoded.trim_end_matches('=').len());
    }
    let headers = with_authorization(format!("Basic {encoded}").as_bytes());
    assert!(headers.contains_key(header::AUTHORIZATION));
    let form = OAuthForm::parse(b"", headers);
    match client_auth(&form) {
        Ok(auth) => {
            assert!(!id.is_empty(), "an empty client id was accepted");
            assert_eq!(auth.client_id, id);
            assert_eq!(
                auth.client_secret.as_deref().map(String::as_str),
                Some(secret)
            );
        }
        Err(e) => assert!(
            id.is_empty(),
            "valid Basic credentials refused: {}",
            e.message()
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let (authorization, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let form = OAuthForm::parse(body, with_authorization(authorization));
    for name in ["grant_type", "client_id", "client_secret", "scope", "token"] {
        let _ = form.single(name);
    }
    let _ = form.all("resource");
    if let Ok(auth) = client_auth(&form) {
        assert!(
            !auth.client_id.is_empty(),
            "an empty client id was accepted"
        );
    }
    let _ = Grant::parse(&form);
    let _ = bearer_token(&form.headers);

    if let (Ok(id), Ok(secret)) = (
        std::str::from_utf8(authorization),
        std::str::from_utf8(body),
    ) {
        round_trip(id, secret, true);
        round_trip(id, secret, false);
    }
});
