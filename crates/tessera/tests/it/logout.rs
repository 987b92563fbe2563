//! Logout end to end: RP-initiated logout at `/oidc/session/end` (immediate with a hint of
//! the cookie's session, a CSRF-protected confirmation otherwise, error pages that never
//! redirect) and back-channel logout tokens POSTed to the clients of an ended browser session
//! (verified against the JWKS; retried after a failure), from every way a session ends.
//! Browser sessions are made through the domain's test hook (`Identity::test_browser_login`)
//! until the authorization endpoint exists on this branch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{backends, claims, header, verify_with_jwks, TestServer, ALL_PERMISSIONS};
use crate::multi_node::eventually;

const BYE: &str = "https://rp.example/bye";
const SESSION_COOKIE: &str = "tessera-session";
const LOGOUT_COOKIE: &str = "tessera-logout";

/// A back-channel receiver at `/bc`: records each `logout_token`; answers 500 to the first
/// `failures` requests, then 200.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn receiver(failures: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bc", listener.local_addr().unwrap());
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let record = tokens.clone();
    let app = axum::Router::new().route(
        "/bc",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let record = record.clone();
                let seen = seen.clone();
                async move {
                    assert_eq!(
                        headers.get("content-type").unwrap(),
                        "application/x-www-form-urlencoded"
                    );
                    let token = url::form_urlencoded::parse(&body)
                        .find(|(k, _)| k == "logout_token")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    record.lock().unwrap().push(token);
                    if seen.fetch_add(1, Ordering::SeqCst) < failures {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::OK
                    }
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, tokens }
}

struct Setup {
    admin: String,
    client_id: String,
    secret: String,
    /// A client token of the client (every permission).
    token: String,
    user_id: String,
}

async fn setup(srv: &TestServer, extra: Value) -> Setup {
    let admin = srv.admin_token().await;
    let mut fields = json!({
        "permissions": ALL_PERMISSIONS,
        "post_logout_redirect_uris": [BYE],
    });
    if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
        f.extend(e.clone());
    }
    let (_, client_id, secret) = srv.app_and_client(&admin, fields).await;
    let token = srv.token(&client_id, &secret).await;
    let user_id = srv
        .create_user(
            &token,
            json!({"username": "ann", "email": "ann@example.com"}),
        )
        .await;
    Setup {
        admin,
        client_id,
        secret,
        token,
        user_id,
    }
}

/// A browser session of the user for the client: (cookie value, token answer fields).
struct Login {
    cookie: String,
    id_token: String,
    access_token: String,
    refresh_token: String,
}

async fn browser_login(srv: &TestServer, s: &Setup) -> Login {
    let identity = &srv.server.as_ref().unwrap().identity;
    let (cookie, tokens) = identity
        .test_browser_login(&s.client_id, &s.user_id)
        .await
        .unwrap();
    Login {
        cookie,
        id_token: tokens.id_token.unwrap(),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token.unwrap(),
    }
}

fn location(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The `value` of the hidden input `name` of a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_string()
}

async fn userinfo_status(srv: &TestServer, access_token: &str) -> StatusCode {
    srv.http
        .get(srv.url("/oidc/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn refresh(srv: &TestServer, s: &Setup, refresh_token: &str) -> (StatusCode, Value) {
    let r = srv
        .form(
            "/oidc/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", &s.client_id),
                ("client_secret", &s.secret),
            ],
        )
        .await;
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_hint_of_the_cookies_session_logs_out_at_once_and_redirects() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, json!({})).await;
        let login = browser_login(&srv, &s).await;
        assert_eq!(
            userinfo_status(&srv, &login.access_token).await,
            StatusCode::OK
        );
        let r = srv
            .http
            .get(srv.url("/oidc/session/end"))
            .query(&[
                ("id_token_hint", login.id_token.as_str()),
                ("post_logout_redirect_uri", BYE),
                ("state", "af0ifjsldkj"),
                ("logout_hint", "ignored"),
            ])
            .header("cookie", format!("{SESSION_COOKIE}={}", login.cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", b.name);
        assert_eq!(
            location(&r).as_deref(),
            Some("https://rp.example/bye?state=af0ifjsldkj")
        );
        assert_eq!(
            set_cookies(&r),
            ["tessera-session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"]
        );
        // The session is over: its refresh token and access token are refused.
        let (status, v) = refresh(&srv, &s, &login.refresh_token).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        assert_eq!(
            userinfo_status(&srv, &login.access_token).await,
            StatusCode::UNAUTHORIZED
        );

        // The form POST at the /cis path, without a redirect: the logged-out page.
        let second = browser_login(&srv, &s).await;
        let r = srv
            .http
            .post(srv.url("/cis/oidc/session/end"))
            .header("cookie", format!("{SESSION_COOKIE}={}", second.cookie))
            .form(&[("id_token_hint", second.id_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(location(&r).is_none());
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(set_cookies(&r).len(), 1);
        let page = r.text().await.unwrap();
        assert!(page.contains("You are logged out"), "{page}");
        assert_eq!(
            userinfo_status(&srv, &second.access_token).await,
            StatusCode::UNAUTHORIZED
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn bad_requests_show_an_error_page_and_never_redirect() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, json!({})).await;
        let login = browser_login(&srv, &s).await;
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![
                    ("id_token_hint", &login.id_token),
                    ("post_logout_redirect_uri", "https://evil.example/bye"),
                ],
                "invalid_redirect_uri",
            ),
            (
                vec![
                    ("client_id", &s.client_id),
                    ("post_logout_redirect_uri", "https://rp.example/bye?x=1"),
                ],
                "invalid_redirect_uri",
            ),
            (vec![("post_logout_redirect_uri", BYE)], "invalid_request"),
            (
                vec![("id_token_hint", "eyJhbGciOiJub25lIn0.e30.")],
                "invalid_request",
            ),
            (
                vec![("id_token_hint", &login.access_token)],
                "invalid_request",
            ),
            (
                vec![
                    ("client_id", "unknown-client"),
                    ("post_logout_redirect_uri", BYE),
                ],
                "invalid_request",
            ),
            (
                vec![
                    ("id_token_hint", &login.id_token),
                    ("client_id", &s.admin[..20]),
                ],
                "invalid_request",
            ),
        ];
        for (params, code) in cases {
            let r = srv
                .http
                .get(srv.url("/oidc/session/end"))
                .query(&params)
                .header("cookie", format!("{SESSION_COOKIE}={}", login.cookie))
                .send()
                .await
                .unwrap();
            let context = format!("{} {params:?}", b.name);
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{context}");
            assert!(location(&r).is_none(), "{context}");
            assert!(set_cookies(&r).is_empty(), "{context}");
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
            assert_eq!(r.headers()["x-frame-options"], "DENY");
            let page = r.text().await.unwrap();
            assert!(
                page.contains(&format!("<code id=\"tessera-error-code\">{code}</code>")),
                "{context}: {page}"
            );
        }
        // Nothing ended the session.
        assert_eq!(
            userinfo_status(&srv, &login.access_token).await,
            StatusCode::OK
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn without_a_matching_hint_the_user_confirms_with_a_csrf_token() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv, json!({})).await;
        let login = browser_login(&srv, &s).await;
        let session = format!("{SESSION_COOKIE}={}", login.cookie);
        let r = srv
            .http
            .get(srv.url("/oidc/session/end"))
            .query(&[
                ("client_id", s.client_id.as_str()),
                ("post_logout_redirect_uri", BYE),
                ("state", "s1"),
            ])
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let cookies = set_cookies(&r);
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let csrf_cookie = cookies[0].clone();
        assert!(csrf_cookie.starts_with(&format!("{LOGOUT_COOKIE}=")));
        assert!(csrf_cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=600"));
        let csrf = csrf_cookie[LOGOUT_COOKIE.len() + 1..csrf_cookie.find(';').unwrap()].to_string();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("form-action 'self' https://rp.example"),
            "{csp}"
        );
        let page = r.text().await.unwrap();
        assert!(
            page.contains("action=\"/oidc/session/end/confirm\""),
            "{page}"
        );
        assert_eq!(hidden(&page, "csrf"), csrf);
        let pending = hidden(&page, "pending");
        // Still logged in until the user confirms.
        assert_eq!(
            userinfo_status(&srv, &login.access_token).await,
            StatusCode::OK
        );

        let confirm = |cookie: String, csrf: String, pending: String| {
            let http = srv.http.clone();
            let url = srv.url("/oidc/session/end/confirm");
            async move {
                http.post(url)
                    .header("cookie", cookie)
                    .form(&[("pending", pending), ("csrf", csrf)])
                    .send()
                    .await
                    .unwrap()
            }
        };
        // No CSRF cookie, a wrong field, a wrong cookie: refused.
        for (cookie, field) in [
            (session.clone(), csrf.clone()),
            (
                format!("{session}; {LOGOUT_COOKIE}={csrf}"),
                "forged".to_string(),
            ),
            (format!("{session}; {LOGOUT_COOKIE}=forged"), csrf.clone()),
        ] {
            let r = confirm(cookie, field, pending.clone()).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            assert!(location(&r).is_none());
        }
        // A pending request that was altered.
        let r = confirm(
            format!("{session}; {LOGOUT_COOKIE}={csrf}"),
            csrf.clone(),
            format!("{pending}x"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            userinfo_status(&srv, &login.access_token).await,
            StatusCode::OK
        );

        let r = confirm(format!("{session}; {LOGOUT_COOKIE}={csrf}"), csrf, pending).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location(&r).as_deref(),
            Some("https://rp.example/bye?state=s1")
        );
        let cookies = set_cookies(&r);
        assert!(cookies.contains(&format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        )));
        assert!(cookies.contains(&format!(
            "{LOGOUT_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        )));
        assert_eq!(
            userinfo_status(&srv, &login.access_token).await,
            StatusCode::UNAUTHORIZED
        );
        srv.stop().await;
    }
}

fn check_logout_token(token: &str, claims: &Value, s: &Setup, sid: &str) {
    assert_eq!(header(token)["typ"], "logout+jwt");
    assert_eq!(claims["aud"], s.client_id.as_str());
    assert_eq!(claims["sub"], s.user_id.as_str());
    assert_eq!(claims["sid"], sid);
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none());
    assert!(claims["jti"].is_string());
}

#[tokio::test]
async fn clients_of_the_session_get_a_signed_logout_token_again_after_a_failure() {
    for b in backends().await {
        let srv = b.start().await;
        let rx = receiver(1).await;
        let s = setup(&srv, json!({"backchannel_logout_uri": rx.url})).await;
        let login = browser_login(&srv, &s).await;
        let sid = claims(&login.id_token)["sid"].as_str().unwrap().to_string();
        let r = srv
            .http
            .get(srv.url("/oidc/session/end"))
            .query(&[("id_token_hint", login.id_token.as_str())])
            .header("cookie", format!("{SESSION_COOKIE}={}", login.cookie))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let tokens = rx.tokens.clone();
        eventually("the first back-channel logout", || {
            let n = tokens.lock().unwrap().len();
            async move { n >= 1 }
        })
        .await;
        // The receiver failed: the job waits for its backoff (2 s on the server's clock).
        srv.clock.advance_s(3);
        eventually("the retried back-channel logout", || {
            let n = tokens.lock().unwrap().len();
            async move { n >= 2 }
        })
        .await;
        let seen = rx.tokens.lock().unwrap().clone();
        assert_ne!(seen[0], seen[1], "{}: signed again for the retry", b.name);
        for token in &seen {
            let verified = verify_with_jwks(&srv, token, &s.client_id).await;
            check_logout_token(token, &verified, &s, &sid);
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn backend_logouts_of_browser_sessions_notify_too() {
    for b in backends().await {
        let srv = b.start().await;
        let rx = receiver(0).await;
        let s = setup(&srv, json!({"backchannel_logout_uri": rx.url})).await;

        // "Log out everywhere" by the backend.
        let login = browser_login(&srv, &s).await;
        let (status, v) = srv
            .send_json(
                Method::DELETE,
                &format!("/cis/v1/auth/users/{}/sessions", s.user_id),
                &s.token,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
        let tokens = rx.tokens.clone();
        eventually("the logout token of DELETE …/sessions", || {
            let n = tokens.lock().unwrap().len();
            async move { n >= 1 }
        })
        .await;
        let sid = claims(&login.id_token)["sid"].as_str().unwrap().to_string();
        let first = rx.tokens.lock().unwrap()[0].clone();
        check_logout_token(
            &first,
            &verify_with_jwks(&srv, &first, &s.client_id).await,
            &s,
            &sid,
        );

        // The user's own logout with a user access token of a browser session.
        let login = browser_login(&srv, &s).await;
        let (status, v) = srv
            .post("/cis/v1/auth/logout", &login.access_token, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        eventually("the logout token of /cis/v1/auth/logout", || {
            let n = tokens.lock().unwrap().len();
            async move { n >= 2 }
        })
        .await;
        let sid = claims(&login.id_token)["sid"].as_str().unwrap().to_string();
        let second = rx.tokens.lock().unwrap()[1].clone();
        check_logout_token(
            &second,
            &verify_with_jwks(&srv, &second, &s.client_id).await,
            &s,
            &sid,
        );
        assert_eq!(rx.tokens.lock().unwrap().len(), 2);
        let _ = &s.admin;
        srv.stop().await;
    }
}

#[tokio::test]
async fn logout_settings_are_validated_and_discovery_lists_logout() {
    let b = backends().await.remove(0);
    let srv = b.start().await;
    let admin = srv.admin_token().await;
    let (app_id, client_id, _) = srv
        .app_and_client(
            &admin,
            json!({"post_logout_redirect_uris": [BYE], "backchannel_logout_uri": "https://rp.example/bc"}),
        )
        .await;
    let path = format!("/cis/v1/applications/{app_id}/clients/{client_id}");
    let (status, v) = srv.send_json(Method::GET, &path, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["post_logout_redirect_uris"], json!([BYE]));
    assert_eq!(v["backchannel_logout_uri"], "https://rp.example/bc");
    assert_eq!(v["backchannel_logout_session_required"], true);
    for bad in [
        json!({"post_logout_redirect_uris": ["javascript:alert(1)"]}),
        json!({"post_logout_redirect_uris": ["http://rp.example/bye"]}),
        json!({"backchannel_logout_uri": "http://rp.example/bc"}),
        json!({"backchannel_logout_uri": "relative/bc"}),
        json!({"backchannel_logout_session_required": "yes"}),
    ] {
        let (status, v) = srv
            .send_json(Method::PUT, &path, &admin, Some(bad.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["error_code"], "invalid_request");
    }
    let d: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["end_session_endpoint"],
        format!("{}/oidc/session/end", srv.issuer)
    );
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    srv.stop().await;
}
