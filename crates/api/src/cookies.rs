//! The cookies of the hosted pages: reading them from a `Cookie` header and writing
//! `Set-Cookie` values with the one set of attributes every Tessera cookie uses.
//!
//! On an https issuer a cookie is `__Host-<name>` with `Secure; Path=/` (the prefix makes the
//! browser refuse it from any other host or without `Secure`); on an http issuer (the
//! documented development exception, e.g. `http://127.0.0.1:8080`) it is `<name>` without
//! `Secure`. Always `HttpOnly; SameSite=Lax`: a cross-site form POST carries none of them.

use axum::http::{header, HeaderMap, HeaderValue};

/// The browser session cookie.
pub const SESSION: &str = "tessera-session";
/// The login cookie (binds a pending authorization request to this browser; CSRF).
pub const LOGIN: &str = "tessera-login";
/// The hosted CIBA approval page's CSRF cookie.
pub const CIBA: &str = "tessera-ciba";
/// The RP-initiated logout's CSRF cookie.
pub const LOGOUT: &str = "tessera-logout";

/// How long the login cookie lives: the authorization request's lifetime.
pub const LOGIN_MAX_AGE_S: i64 = tessera_identity::authorize::REQUEST_TTL_MS / 1000;

/// The name a cookie has on this server.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// The value of cookie `base` in the request, if sent once with a plausible value.
pub fn get<'a>(headers: &'a HeaderMap, base: &str, secure: bool) -> Option<&'a str> {
    let wanted = name(base, secure);
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k == wanted {
                if found.is_some() {
                    // Two cookies of one name (one planted by a sibling domain, say): trust
                    // neither.
                    return None;
                }
                found = Some(v.trim_matches('"'));
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value: `max_age` `None` makes a browser-session cookie.
pub fn set(base: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax",
        name(base, secure)
    );
    if secure {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(base: &str, secure: bool) -> HeaderValue {
    set(base, "", secure, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn secure_cookies_are_host_prefixed() {
        let v = set(SESSION, "abc", true, None);
        assert_eq!(
            v.to_str().unwrap(),
            "__Host-tessera-session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        let v = set(LOGIN, "x", false, Some(1800));
        assert_eq!(
            v.to_str().unwrap(),
            "tessera-login=x; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800"
        );
    }

    #[test]
    fn reading_takes_the_right_name_once() {
        let h = headers("a=1; __Host-tessera-session=tok; tessera-session=dev");
        assert_eq!(get(&h, SESSION, true), Some("tok"));
        assert_eq!(get(&h, SESSION, false), Some("dev"));
        let twice = headers("tessera-session=a; tessera-session=b");
        assert_eq!(get(&twice, SESSION, false), None);
        assert_eq!(get(&headers("tessera-session="), SESSION, false), None);
    }
}
