//! The pieces every hosted page is made of: escaping (HTML text and attributes, JSON inside
//! a `<script type="application/json">`), the Content-Security-Policy, the security headers
//! and the page shell (head with the stylesheet and, when the page has one, the script).

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::assets;
use super::i18n::Lang;

/// `s` escaped for HTML text and (double- or single-quoted) attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as JSON that is safe inside `<script type="application/json">`: `<`, `>`, `&`
/// and U+2028/U+2029 become `\u` escapes, so no `</script>`, `<!--` or `<script` can appear
/// in it. These characters occur only inside JSON strings, where the escapes mean the same.
pub fn json_for_script(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The origin (`scheme://host[:port]`) of an http(s) URL, `None` for anything else. What a
/// caller passes as an extra `form-action` source goes through this, so nothing but an
/// origin (no spaces, `;` or quotes) can reach the policy.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return None;
    }
    let origin = parsed.origin().ascii_serialization();
    origin
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '[' | ']'))
        .then_some(origin)
}

/// The Content-Security-Policy of a page whose forms may also post to `extra` origins.
pub fn content_security_policy(extra: &[String]) -> String {
    let mut form_action = String::from("'self'");
    let mut seen: Vec<String> = Vec::new();
    for origin in extra.iter().filter_map(|u| origin_of(u)) {
        if !seen.contains(&origin) {
            form_action.push(' ');
            form_action.push_str(&origin);
            seen.push(origin);
        }
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

static X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");
static X_FRAME_OPTIONS: HeaderName = HeaderName::from_static("x-frame-options");

/// An HTML response with the hosted pages' security headers.
pub fn respond(status: StatusCode, csp: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let csp = HeaderValue::from_str(csp).unwrap_or_else(|_| {
        // Unreachable: the policy is built from origins checked by `origin_of`; the strictest
        // policy is the safe answer anyway.
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
    });
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(X_FRAME_OPTIONS.clone(), HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        X_CONTENT_TYPE_OPTIONS.clone(),
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// What a page is made of; [`Shell::render`] writes the document.
pub struct Shell<'a> {
    pub lang: Lang,
    /// The `<title>` text (escaped here).
    pub title: &'a str,
    /// Whether the page loads `login.js`.
    pub script: bool,
    /// The `<main>` content, already HTML.
    pub main: String,
}

impl Shell<'_> {
    pub fn render(&self) -> String {
        let script = if self.script {
            format!(
                "<script type=\"module\" src=\"/oidc/assets/login.js?v={}\"></script>\n",
                assets::login_js_version()
            )
        } else {
            String::new()
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <meta name=\"robots\" content=\"noindex, nofollow\">\n\
             <title>{title}</title>\n\
             <link rel=\"stylesheet\" href=\"/oidc/assets/tessera.css\">\n\
             {script}</head>\n<body>\n<main id=\"main\" class=\"tessera\" aria-labelledby=\"tessera-heading\">\n\
             {main}</main>\n</body>\n</html>\n",
            lang = escape(self.lang.tag()),
            title = escape(self.title),
            main = self.main,
        )
    }
}

/// Hidden inputs, one per `(name, value)`, escaped.
pub fn hidden_inputs(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("plain ü"), "plain ü");
    }

    #[test]
    fn script_json_has_no_markup_and_still_parses() {
        let v =
            serde_json::json!({"s": "</script><script>alert(1)</script><!-- & \u{2028}\u{2029}"});
        let text = json_for_script(&v);
        for bad in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
            assert!(!text.contains(bad), "{bad:?} in {text}");
        }
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn only_origins_reach_the_policy() {
        assert_eq!(
            origin_of("https://rp.example.com:8443/cb?x=1").as_deref(),
            Some("https://rp.example.com:8443")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000/").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("data:text/html,x"), None);
        assert_eq!(origin_of("not a url"), None);
        let csp = content_security_policy(&[
            "https://a.example/cb".into(),
            "https://a.example/other".into(),
            "https://b.example; script-src *".into(),
            "'unsafe-inline'".into(),
        ]);
        assert!(
            csp.contains("form-action 'self' https://a.example; frame-ancestors"),
            "{csp}"
        );
        assert!(!csp.contains("script-src *"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
