//! Rendering tests: headers, escaping of hostile values, the page data, the strings.

use axum::body::to_bytes;
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::*;

const HOSTILE: &str =
    "</script><script>alert(1)</script>\"'><img src=x onerror=alert(2)><!--\u{2028}&amp;";

async fn body_of(r: Response) -> String {
    String::from_utf8(to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}

fn en() -> Lang {
    choose_lang(None, None)
}

fn journey(hint: Option<&str>) -> JourneyStart {
    JourneyStart {
        client_id: format!("client{HOSTILE}"),
        journey_id: format!("journey{HOSTILE}"),
        code_challenge: format!("challenge{HOSTILE}"),
        login_hint: hint.map(str::to_string),
    }
}

fn login(origins: Vec<String>) -> LoginPage {
    LoginPage {
        ctx: PageContext {
            lang: en(),
            form_action_origins: origins,
        },
        client_name: format!("Shop {HOSTILE}"),
        journey: journey(Some(HOSTILE)),
        request: format!("req{HOSTILE}"),
        csrf: format!("csrf{HOSTILE}"),
    }
}

fn assert_security_headers(r: &Response, form_action: &str) {
    let h = r.headers();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
}

/// No markup of a hostile value survives: the only `<script` elements are the page's own two,
/// no `<img` at all, no raw quote-breaking sequence.
fn assert_contained(html: &str) {
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("alert(1)</script>"), "{html}");
    assert!(!html.contains("\"'>"), "{html}");
    assert!(!html.contains("<!--"), "{html}");
    assert!(html.matches("<script").count() <= 2, "{html}");
    assert!(!html.contains(" style="), "inline style: {html}");
}

/// The JSON of `<script type="application/json" id="tessera-page">`.
fn page_json(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"tessera-page\">";
    let start = html.find(open).unwrap() + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}

#[tokio::test]
async fn the_login_page_has_the_form_the_script_and_the_headers() {
    let r = login_page(&login(vec!["https://rp.example/cb".into()]));
    assert_eq!(r.status(), StatusCode::OK);
    assert_security_headers(&r, "'self' https://rp.example");
    let html = body_of(r).await;
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{html}"
    );
    assert!(html.contains("<main id=\"main\""));
    assert!(html.contains("<noscript>"));
    assert!(html.contains("<div id=\"tessera-steps\""));
    assert!(html.contains(
        "<form id=\"tessera-complete\" method=\"post\" action=\"/oidc/login/complete\" hidden>"
    ));
    assert!(html.contains("<input type=\"hidden\" name=\"code\" value=\"\">"));
    assert!(html.contains("<script type=\"module\" src=\"/oidc/assets/login.js?v="));
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/oidc/assets/tessera.css\">"));
    assert_contained(&html);
    // The escaped values are there, as text.
    assert!(html.contains(
        "<input type=\"hidden\" name=\"csrf\" value=\"csrf&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;&lt;!--"
    ), "{html}");
    assert!(html.contains("<h1 id=\"tessera-heading\">Sign in to Shop &lt;/script&gt;"));
    // The page data round-trips every value exactly.
    let data = page_json(&html);
    assert_eq!(data["mode"], "login");
    assert_eq!(data["clientId"], format!("client{HOSTILE}"));
    assert_eq!(data["journeyId"], format!("journey{HOSTILE}"));
    assert_eq!(data["codeChallenge"], format!("challenge{HOSTILE}"));
    assert_eq!(data["loginHint"], HOSTILE);
    assert_eq!(data["strings"]["field.password"], "Password");
    assert_eq!(
        data["strings"]["login.heading"],
        format!("Sign in to Shop {HOSTILE}")
    );
}

#[tokio::test]
async fn the_ciba_page_shows_the_binding_message_and_the_decision_form() {
    let p = CibaApprovalPage {
        ctx: PageContext::new(en()),
        client_name: format!("Bank {HOSTILE}"),
        binding_message: Some(format!("A1B2 {HOSTILE}")),
        journey: journey(None),
        action: format!("/cis/ciba/decide?x={HOSTILE}"),
        csrf: "c".into(),
        hidden: vec![
            ("auth_req".into(), HOSTILE.into()),
            (HOSTILE.into(), "v".into()),
        ],
    };
    let r = ciba_approval_page(&p);
    assert_security_headers(&r, "'self'");
    let html = body_of(r).await;
    assert_contained(&html);
    assert!(
        html.contains("<p class=\"tessera-binding\" id=\"tessera-binding\">A1B2 &lt;/script&gt;")
    );
    assert!(html.contains("name=\"decision\" value=\"approve\""));
    assert!(html.contains("name=\"decision\" value=\"deny\""));
    assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"c\">"));
    assert!(html.contains("action=\"/cis/ciba/decide?x=&lt;/script&gt;"));
    let data = page_json(&html);
    assert_eq!(data["mode"], "ciba");
    assert_eq!(data["loginHint"], Value::Null);
}

#[tokio::test]
async fn the_error_page_shows_code_and_description_as_text_without_script() {
    let r = error_page(StatusCode::BAD_REQUEST, en(), HOSTILE, HOSTILE);
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&r, "'self'");
    let html = body_of(r).await;
    assert_contained(&html);
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("<code id=\"tessera-error-code\">&lt;/script&gt;"));
    assert!(html.contains("role=\"alert\""));
}

#[tokio::test]
async fn the_logout_pages() {
    let p = LogoutConfirmPage {
        ctx: PageContext {
            lang: en(),
            form_action_origins: vec!["https://rp.example/logged-out".into()],
        },
        client_name: Some(HOSTILE.into()),
        csrf: "tok".into(),
        hidden: vec![
            (
                "post_logout_redirect_uri".into(),
                "https://rp.example/logged-out".into(),
            ),
            ("state".into(), HOSTILE.into()),
        ],
    };
    let r = logout_confirm_page(&p);
    assert_security_headers(&r, "'self' https://rp.example");
    let html = body_of(r).await;
    assert_contained(&html);
    assert!(!html.contains("<script"));
    assert!(html.contains("action=\"/oidc/session/end/confirm\""));
    assert!(html.contains("<input type=\"hidden\" name=\"csrf\" value=\"tok\">"));
    assert!(html.contains(
        "<input type=\"hidden\" name=\"post_logout_redirect_uri\" value=\"https://rp.example/logged-out\">"
    ));

    let r = logged_out_page(en());
    assert_security_headers(&r, "'self'");
    let html = body_of(r).await;
    assert!(html.contains("You are logged out"));
    assert!(!html.contains("<script"));
}

/// Every `t("key")` of the script names a string of the English table.
#[test]
fn the_script_uses_only_known_strings() {
    let lang = en();
    let known: Vec<&str> = lang.all().map(|(k, _)| k).collect();
    let mut used = 0;
    for part in LOGIN_JS.split("msg(\"").skip(1) {
        let key = &part[..part.find('"').unwrap()];
        assert!(known.contains(&key), "login.js uses unknown string {key:?}");
        used += 1;
    }
    assert!(used > 10, "the script takes its strings from the page data");
}
