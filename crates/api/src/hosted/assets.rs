//! `GET /oidc/assets/{name}`: the hosted pages' script and stylesheet. Public, cacheable for
//! an hour, with a strong `ETag` (a conditional request with a matching `If-None-Match` gets
//! 304). The stylesheet is the built-in one unless the operator configured a replacement
//! (`hosted.stylesheet`, read by the binary into [`ApiConfig::stylesheet`]).
//!
//! [`ApiConfig::stylesheet`]: crate::ApiConfig::stylesheet

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_identity::{Code, Error};

use crate::error::ApiError;
use crate::extract::PathParams;
use crate::state::AppState;

/// The login script, kept next to this file.
pub const LOGIN_JS: &str = include_str!("assets/login.js");
/// The built-in stylesheet.
pub const TESSERA_CSS: &str = include_str!("assets/tessera.css");

/// The strong validator of a body: the first 128 bits of its SHA-256, hex, quoted.
pub fn etag_of(body: &str) -> String {
    let digest = tessera_jose::sha256(body.as_bytes());
    let mut hex = String::with_capacity(34);
    hex.push('"');
    for b in &digest[..16] {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.push('"');
    hex
}

/// The login script's ETag, computed once.
fn login_js_etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| etag_of(LOGIN_JS))
}

/// The built-in stylesheet's ETag, computed once.
fn css_etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| etag_of(TESSERA_CSS))
}

/// A short version of the script for its URL (`login.js?v=…`), so a new binary's pages never
/// run a cached older script.
pub fn login_js_version() -> &'static str {
    let etag = login_js_etag();
    etag.get(1..13).unwrap_or("0")
}

/// Whether `If-None-Match` lists `etag` (or is `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn serve(headers: &HeaderMap, content_type: &'static str, etag: &str, body: String) -> Response {
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let mut response = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, etag_value);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// `GET /oidc/assets/{name}`: `login.js` or `tessera.css`; anything else 404 `not_found`.
pub async fn asset(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match name.as_str() {
        "login.js" => Ok(serve(
            &headers,
            "text/javascript; charset=utf-8",
            login_js_etag(),
            LOGIN_JS.to_string(),
        )),
        "tessera.css" => Ok(match &state.config.stylesheet {
            Some(css) => serve(
                &headers,
                "text/css; charset=utf-8",
                &etag_of(css),
                css.to_string(),
            ),
            None => serve(
                &headers,
                "text/css; charset=utf-8",
                css_etag(),
                TESSERA_CSS.to_string(),
            ),
        }),
        _ => Err(Error::new(Code::NotFound, "no such asset").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_quoted_and_follow_the_content() {
        let a = etag_of("a");
        assert_eq!(a.len(), 34);
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert_ne!(a, etag_of("b"));
        assert_eq!(login_js_version().len(), 12);
    }

    #[test]
    fn if_none_match_lists_are_understood() {
        let etag = etag_of("x");
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, &etag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{etag}")).unwrap(),
        );
        assert!(not_modified(&h, &etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!not_modified(&h, &etag));
    }

    #[test]
    fn the_script_imports_only_the_sdk_and_never_uses_inner_html() {
        for line in LOGIN_JS
            .lines()
            .filter(|l| l.trim_start().starts_with("import "))
        {
            assert!(line.contains("\"/ido/sdk/tessera-ido.js\""), "{line}");
        }
        assert!(!LOGIN_JS.contains("innerHTML"));
        assert!(!LOGIN_JS.contains("outerHTML"));
        assert!(!LOGIN_JS.contains("insertAdjacentHTML"));
        assert!(!LOGIN_JS.contains("document.write"));
        assert!(!LOGIN_JS.contains("eval("));
    }
}
