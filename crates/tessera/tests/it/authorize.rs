//! The authorization endpoint end to end (issue 13, points 1–4, 7 and 8), over HTTP as a
//! browser would drive it (a cookie jar, no script: the login journey is run over the IDO
//! JSON API exactly as the page's `login.js` does), on both backends:
//! - the code flow with PKCE through the hosted login, the ID token's `nonce`, `at_hash`,
//!   `sid`, `amr`, `auth_time`; single sign-on into a second client; `max_age`,
//!   `prompt=login`, `prompt=none`;
//! - every error of point 1 (error page without redirect, or a redirect with `error`,
//!   `state` and `iss`), the classic open-redirect bypasses, CSRF on the completion form;
//! - codes: single use (a replay revokes the tokens of the first exchange), bound to the
//!   client, the `redirect_uri` and the verifier; public clients;
//! - the kinds of sessions: a backend session id is no browser session and a browser
//!   session's cookie is no backend session id.

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::{backends, claims, now_ms, paths, Backend, TestServer, SECRET};

const RP: &str = "https://rp.example/cb";
const RP2: &str = "https://rp2.example/callback";

/// A PKCE pair: (verifier, S256 challenge).
fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("verifier-{seed}-0123456789-0123456789-0123456789");
    let challenge = tessera_jose::b64url_encode(&tessera_jose::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// A browser: a cookie jar over the test server (redirects not followed).
struct Browser<'a> {
    srv: &'a TestServer,
    cookies: HashMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(srv: &'a TestServer) -> Self {
        Self {
            srv,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let text = v.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
    }

    /// `path_and_query` on the server (an issuer-absolute URL is mapped onto it).
    fn url(&self, target: &str) -> String {
        match target.strip_prefix(&self.srv.issuer) {
            Some(rest) => self.srv.url(rest),
            None if target.starts_with('/') => self.srv.url(target),
            None => target.to_string(),
        }
    }

    async fn get(&mut self, target: &str) -> Response {
        let r = self
            .srv
            .http
            .get(self.url(target))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    /// A form POST from one of the server's own pages, as a browser sends it under
    /// `Referrer-Policy: no-referrer`: `Origin: null`, `Sec-Fetch-Site: same-origin`.
    async fn post_form(&mut self, target: &str, pairs: &[(&str, &str)]) -> Response {
        let r = self
            .srv
            .http
            .post(self.url(target))
            .header(COOKIE, self.cookie_header())
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .form(pairs)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    /// A cookie by its base name (`__Host-` prefixed on https).
    fn cookie(&self, base: &str) -> Option<&String> {
        self.cookies
            .get(base)
            .or_else(|| self.cookies.get(&format!("__Host-{base}")))
    }

    fn session_cookie(&self) -> Option<&String> {
        self.cookie("tessera-session")
    }
}

fn location(r: &Response) -> url::Url {
    let loc = r
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location; status {}", r.status()))
        .to_str()
        .unwrap();
    url::Url::parse(loc).unwrap()
}

fn query(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The hosted login page's data and hidden fields.
struct LoginPageData {
    data: Value,
    request: String,
    csrf: String,
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_string()
}

fn parse_login_page(html: &str) -> LoginPageData {
    let marker = "<script type=\"application/json\" id=\"tessera-page\">";
    let start = html.find(marker).unwrap() + marker.len();
    let end = start + html[start..].find("</script>").unwrap();
    LoginPageData {
        data: serde_json::from_str(&html[start..end]).unwrap(),
        request: if html.contains("name=\"request\"") {
            hidden(html, "request")
        } else {
            String::new()
        },
        csrf: hidden(html, "csrf"),
    }
}

struct Setup {
    srv: TestServer,
    admin: String,
    client: (String, String),
    client2: (String, String),
    public: String,
}

async fn setup(b: &Backend) -> Setup {
    setup_on(TestServer::start(b.config(), TestClock::new(now_ms())).await).await
}

async fn setup_on(srv: TestServer) -> Setup {
    let admin = srv.admin_token().await;
    let (_, id, secret) = srv
        .app_and_client(
            &admin,
            json!({"redirect_uris": [RP, "https://rp.example/other"]}),
        )
        .await;
    let (_, id2, secret2) = srv
        .app_and_client(&admin, json!({"redirect_uris": [RP2]}))
        .await;
    let (_, public, _) = srv
        .app_and_client(
            &admin,
            json!({"redirect_uris": ["http://127.0.0.1:9999/cb"], "token_endpoint_auth_method": "none"}),
        )
        .await;
    srv.create_user(
        &admin,
        json!({"username": "ann", "email": "ann@example.com",
               "credentials": {"password": SECRET}}),
    )
    .await;
    srv.create_user(
        &admin,
        json!({"username": "bob", "credentials": {"password": SECRET}}),
    )
    .await;
    Setup {
        srv,
        admin,
        client: (id, secret),
        client2: (id2, secret2),
        public,
    }
}

fn auth_url(
    client_id: &str,
    redirect_uri: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut url = url::Url::parse("http://x/oidc/auth").unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email")
            .append_pair("state", "st-1")
            .append_pair("nonce", "n-1")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    format!("/oidc/auth?{}", url.query().unwrap())
}

impl Setup {
    /// Runs the hosted login for `username` from a `/oidc/auth` answer that sent the browser
    /// to the login page; returns the redirect to the client.
    async fn hosted_login(
        &self,
        browser: &mut Browser<'_>,
        to_login: Response,
        username: &str,
    ) -> Response {
        assert_eq!(to_login.status(), StatusCode::SEE_OTHER);
        let login = location(&to_login);
        assert_eq!(login.path(), "/oidc/login");
        let page = browser.get(login.as_str()).await;
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let page = parse_login_page(&page.text().await.unwrap());
        assert_eq!(Some(&page.csrf), browser.cookie("tessera-login"));
        assert_eq!(page.data["journeyId"], "tessera-login-password");
        let code = self.run_login_journey(&page.data, username).await;
        let form = [
            ("request", page.request.as_str()),
            ("csrf", &page.csrf),
            ("code", &code),
        ];
        let done = browser.post_form("/oidc/login/complete", &form).await;
        if done.status() == StatusCode::SEE_OTHER {
            // A replayed completion (the same form posted again) is refused: the request and
            // the journey's code are single use.
            let again = self
                .srv
                .http
                .post(self.srv.url("/oidc/login/complete"))
                .header(COOKIE, browser.cookie_header())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), StatusCode::BAD_REQUEST);
            assert!(again.headers().get(LOCATION).is_none());
        }
        done
    }

    /// Runs the page's login journey over the IDO API as `login.js` does, logging in as
    /// `username`: the journey's completion code.
    async fn run_login_journey(&self, d: &Value, username: &str) -> String {
        let journey = d["journeyId"].as_str().unwrap();
        let start = self
            .srv
            .http
            .post(self.srv.url(&format!(
                "/ido/api/v2/journeys/{journey}/start?clientId={}",
                d["clientId"].as_str().unwrap()
            )))
            .json(
                &json!({"additionalParams": {}, "code_challenge": d["codeChallenge"],
                          "code_challenge_method": "S256"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), StatusCode::OK);
        let step: Value = start.json().await.unwrap();
        assert_eq!(step["type"], "client_input_required", "{step}");
        let id = step["interaction_id"].as_str().unwrap();
        let done: Value = self
            .srv
            .http
            .post(
                self.srv
                    .url(&format!("/ido/api/v2/interactions/{id}/submit")),
            )
            .json(&json!({"option": "client_input",
                          "data": {"username": username, "password": SECRET}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(done["type"], "journey_success", "{done}");
        done["code"].as_str().unwrap().to_string()
    }

    /// A code for the first client by single sign-on.
    async fn sso_code(&self, browser: &mut Browser<'_>, challenge: &str) -> String {
        let r = browser
            .get(&auth_url(&self.client.0, RP, challenge, &[]))
            .await;
        code_of(&self.srv, &r, RP)
    }

    async fn exchange(
        &self,
        client: &(String, String),
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> (StatusCode, Value) {
        let r = self
            .srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client.0),
                    ("client_secret", &client.1),
                    ("code", code),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        let s = r.status();
        (s, r.json().await.unwrap())
    }
}

/// The code and the checks every successful redirect passes: `state` and `iss` (RFC 9207).
fn code_of(srv: &TestServer, r: &Response, redirect_uri: &str) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = location(r);
    assert!(loc.as_str().starts_with(redirect_uri), "{loc}");
    let q = query(&loc);
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
    assert_eq!(q.get("iss"), Some(&srv.issuer));
    assert!(!q.contains_key("error"), "{q:?}");
    q["code"].clone()
}

#[tokio::test]
async fn the_code_flow_runs_through_the_hosted_login_and_single_sign_on() {
    for b in backends().await {
        let s = setup(&b).await;
        let mut browser = Browser::new(&s.srv);
        let (verifier, challenge) = pkce("a");
        let r = browser
            .get(&auth_url(&s.client.0, RP, &challenge, &[]))
            .await;
        assert!(browser.cookies.contains_key("tessera-login"));
        let back = s.hosted_login(&mut browser, r, "ann").await;
        let code = code_of(&s.srv, &back, RP);
        let session_token = browser.session_cookie().cloned().expect("a session cookie");
        assert!(
            !browser.cookies.contains_key("tessera-login"),
            "login cookie cleared"
        );
        let (st, tokens) = s.exchange(&s.client, &code, RP, &verifier).await;
        assert_eq!(st, StatusCode::OK, "{tokens}");
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["aud"], s.client.0.as_str());
        assert_eq!(id["amr"], json!(["pwd"]));
        assert!(id["auth_time"].as_i64().unwrap() > 0);
        assert!(id["at_hash"].is_string());
        let at = tokens["access_token"].as_str().unwrap();
        let expected_at_hash = {
            let h = tessera_jose::sha256(at.as_bytes());
            tessera_jose::b64url_encode(&h[..16])
        };
        assert_eq!(id["at_hash"], expected_at_hash.as_str(), "RS256 at_hash");
        assert!(tokens.get("session_id").is_none(), "{tokens}");
        let sid = id["sid"].as_str().unwrap().to_string();
        assert_eq!(claims(at)["sid"], sid.as_str());
        // userinfo with the access token.
        let info: Value = s
            .srv
            .http
            .get(s.srv.url("/oidc/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["email"], "ann@example.com");

        // Single sign-on: a second client gets a code without a login page, same session.
        let (v2, c2) = pkce("b");
        let r = browser.get(&auth_url(&s.client2.0, RP2, &c2, &[])).await;
        let code2 = code_of(&s.srv, &r, RP2);
        let (st, t2) = s.exchange(&s.client2, &code2, RP2, &v2).await;
        assert_eq!(st, StatusCode::OK, "{t2}");
        assert_eq!(
            claims(t2["id_token"].as_str().unwrap())["sid"],
            sid.as_str()
        );
        // prompt=none with the session works too.
        let r = browser
            .get(&auth_url(&s.client2.0, RP2, &c2, &[("prompt", "none")]))
            .await;
        code_of(&s.srv, &r, RP2);

        // max_age: an old authentication needs a new login; prompt=login always does.
        s.srv.clock.advance_s(120);
        let r = browser
            .get(&auth_url(&s.client2.0, RP2, &c2, &[("max_age", "60")]))
            .await;
        assert_eq!(location(&r).path(), "/oidc/login");
        let r = browser
            .get(&auth_url(
                &s.client2.0,
                RP2,
                &c2,
                &[("max_age", "60"), ("prompt", "none")],
            ))
            .await;
        assert_eq!(query(&location(&r))["error"], "login_required");
        let r = browser
            .get(&auth_url(
                &s.client.0,
                RP,
                &challenge,
                &[("prompt", "login")],
            ))
            .await;
        // The same user logs in again: the same session, a rotated cookie, a new auth_time.
        let back = s.hosted_login(&mut browser, r, "ann").await;
        let code = code_of(&s.srv, &back, RP);
        let rotated = browser.session_cookie().cloned().unwrap();
        assert_ne!(rotated, session_token, "the cookie is rotated at login");
        let (_, t3) = s.exchange(&s.client, &code, RP, &verifier).await;
        let id3 = claims(t3["id_token"].as_str().unwrap());
        assert_eq!(id3["sid"], sid.as_str());
        assert!(id3["auth_time"].as_i64() > id["auth_time"].as_i64());
        // The old cookie no longer opens the session.
        let mut stale = Browser::new(&s.srv);
        stale
            .cookies
            .insert("tessera-session".into(), session_token);
        let r = stale
            .get(&auth_url(
                &s.client.0,
                RP,
                &challenge,
                &[("prompt", "none")],
            ))
            .await;
        assert_eq!(query(&location(&r))["error"], "login_required");

        // Another user logging in in this browser ends the first user's session.
        let r = browser
            .get(&auth_url(
                &s.client.0,
                RP,
                &challenge,
                &[("prompt", "login")],
            ))
            .await;
        let back = s.hosted_login(&mut browser, r, "bob").await;
        let code = code_of(&s.srv, &back, RP);
        let (_, t4) = s.exchange(&s.client, &code, RP, &verifier).await;
        let id4 = claims(t4["id_token"].as_str().unwrap());
        assert_ne!(id4["sid"], sid.as_str());
        let r = s
            .srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &s.client.0),
                    ("client_secret", &s.client.1),
                    ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "ann's session ended");
        s.srv.stop().await;
    }
}

#[tokio::test]
async fn codes_are_single_use_and_bound() {
    for b in backends().await {
        let s = setup(&b).await;
        let mut browser = Browser::new(&s.srv);
        let (verifier, challenge) = pkce("c");
        let r = browser
            .get(&auth_url(&s.client.0, RP, &challenge, &[]))
            .await;
        let back = s.hosted_login(&mut browser, r, "ann").await;
        let code = code_of(&s.srv, &back, RP);
        // Wrong verifier, wrong redirect_uri, another client: refused without spending it?
        // RFC 6749 lets a failed exchange consume the code; ours does, so each case gets its
        // own code.
        let (st, e) = s
            .exchange(&s.client, &code, RP, "x".repeat(43).as_str())
            .await;
        assert_eq!(
            (st, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let code = s.sso_code(&mut browser, &challenge).await;
        let (st, e) = s
            .exchange(&s.client, &code, "https://rp.example/other", &verifier)
            .await;
        assert_eq!(
            (st, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let code = s.sso_code(&mut browser, &challenge).await;
        let (st, e) = s.exchange(&s.client2, &code, RP, &verifier).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        // A replay fails and revokes what the first exchange issued.
        let code = s.sso_code(&mut browser, &challenge).await;
        let (st, first) = s.exchange(&s.client, &code, RP, &verifier).await;
        assert_eq!(st, StatusCode::OK, "{first}");
        let (st, e) = s.exchange(&s.client, &code, RP, &verifier).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
        let at = first["access_token"].as_str().unwrap();
        let r = s
            .srv
            .http
            .get(s.srv.url("/oidc/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "the replayed code's access token is revoked"
        );
        let r = s
            .srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &s.client.0),
                    ("client_secret", &s.client.1),
                    ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "and its refresh token");
        // The browser session itself lives on: SSO still works.
        code_of(
            &s.srv,
            &browser
                .get(&auth_url(&s.client.0, RP, &challenge, &[]))
                .await,
            RP,
        );
        // Expired after 60 s.
        let code = s.sso_code(&mut browser, &challenge).await;
        s.srv.clock.advance_s(61);
        let (st, _) = s.exchange(&s.client, &code, RP, &verifier).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);

        // A public client: PKCE required at /oidc/auth; no secret at /oidc/token; only the
        // code and refresh grants.
        let public_rp = "http://127.0.0.1:9999/cb";
        let mut url = auth_url(&s.public, public_rp, &challenge, &[]);
        url = url.replace(
            &format!("&code_challenge={challenge}&code_challenge_method=S256"),
            "",
        );
        let r = browser.get(&url).await;
        let q = query(&location(&r));
        assert_eq!(q["error"], "invalid_request", "{q:?}");
        let r = browser
            .get(&auth_url(&s.public, public_rp, &challenge, &[]))
            .await;
        let code = code_of(&s.srv, &r, public_rp);
        let r = s
            .srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &s.public),
                    ("code", &code),
                    ("redirect_uri", public_rp),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = s
            .srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &s.public),
                ],
            )
            .await;
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "unauthorized_client", "{e}");
        let r = s
            .srv
            .form(
                "/oidc/introspect",
                &[("token", "x"), ("client_id", &s.public)],
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "public clients cannot introspect"
        );
        s.srv.stop().await;
    }
}

#[tokio::test]
async fn every_request_error_is_answered_as_the_specifications_say() {
    for b in backends().await {
        let s = setup(&b).await;
        let mut browser = Browser::new(&s.srv);
        let (_, challenge) = pkce("d");
        let id = s.client.0.as_str();
        // Never redirected: unknown client, missing or unregistered redirect_uri, and the
        // classic open-redirect bypasses of the registered one.
        let mut no_redirect = vec![
            "/oidc/auth?response_type=code&client_id=nope&redirect_uri=https%3A%2F%2Frp.example%2Fcb"
                .to_string(),
            format!("/oidc/auth?response_type=code&client_id={id}"),
            format!("/oidc/auth?response_type=code&redirect_uri={RP}"),
        ];
        for bad in [
            "https://evil.example/cb",
            "https://rp.example/cb/../../evil",
            "https://rp.example/cb@evil.example",
            "https://rp.example@evil.example/cb",
            "https://rp.example.evil.example/cb",
            "https://rp.example\\@evil.example/cb",
            "https://rp.example/cb%2F..%2Fevil",
            "https://rp.example:8443/cb",
            "http://rp.example/cb",
            "https://RP.example/cb",
            "https://rp.example/cb/",
            "https://rp.example/cb?x=1",
            "https://rp.example/cb#frag",
            "//evil.example/cb",
        ] {
            no_redirect.push(auth_url(id, bad, &challenge, &[]));
        }
        for url in &no_redirect {
            let r = browser.get(url).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
            assert!(r.headers().get(LOCATION).is_none(), "{url}");
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with("text/html"), "{ct}");
            let body = r.text().await.unwrap();
            assert!(body.contains("invalid_request"), "{url}: {body}");
        }
        // A duplicated client_id is not a client.
        let r = browser
            .get(&format!(
                "{}&client_id={id}",
                auth_url(id, RP, &challenge, &[])
            ))
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // Redirected with error, state and iss.
        let base =
            |extra: &str| format!("/oidc/auth?client_id={id}&redirect_uri={RP}&state=st-1{extra}");
        let with_pkce = format!("&code_challenge={challenge}&code_challenge_method=S256");
        let cases: Vec<(String, &str)> = vec![
            (base("&scope=openid"), "invalid_request"),
            (
                base("&response_type=token&scope=openid"),
                "unsupported_response_type",
            ),
            (
                base("&response_type=code%20id_token"),
                "unsupported_response_type",
            ),
            (
                base("&response_type=code&scope=openid%20admin"),
                "invalid_scope",
            ),
            (
                base("&response_type=code&code_challenge=short"),
                "invalid_request",
            ),
            (
                base(&format!(
                    "&response_type=code&code_challenge={challenge}&code_challenge_method=plain"
                )),
                "invalid_request",
            ),
            (
                base("&response_type=code&code_challenge_method=S256"),
                "invalid_request",
            ),
            (
                base(&format!("&response_type=code{with_pkce}&prompt=none")),
                "login_required",
            ),
            (
                base(&format!(
                    "&response_type=code{with_pkce}&prompt=none%20login"
                )),
                "invalid_request",
            ),
            (
                base(&format!("&response_type=code{with_pkce}&prompt=bogus")),
                "invalid_request",
            ),
            (
                base(&format!("&response_type=code{with_pkce}&max_age=-1")),
                "invalid_request",
            ),
            (
                base(&format!("&response_type=code{with_pkce}&max_age=soon")),
                "invalid_request",
            ),
            (
                base(&format!(
                    "&response_type=code{with_pkce}&response_mode=fragment"
                )),
                "invalid_request",
            ),
            (
                base(&format!("&response_type=code{with_pkce}&request=eyJ")),
                "request_not_supported",
            ),
            (
                base(&format!(
                    "&response_type=code{with_pkce}&request_uri=https%3A%2F%2Fx"
                )),
                "request_uri_not_supported",
            ),
            (
                base(&format!(
                    "&response_type=code{with_pkce}&registration=%7B%7D"
                )),
                "registration_not_supported",
            ),
            (
                base(&format!(
                    "&response_type=code{with_pkce}&acr_values=not-allowed"
                )),
                "invalid_request",
            ),
            (
                base(&format!("&response_type=code{with_pkce}&nonce=1&nonce=2")),
                "invalid_request",
            ),
        ];
        for (url, error) in &cases {
            let r = browser.get(url).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{url}");
            let loc = location(&r);
            assert!(loc.as_str().starts_with(RP), "{url} → {loc}");
            let q = query(&loc);
            assert_eq!(
                q.get("error").map(String::as_str),
                Some(*error),
                "{url}: {q:?}"
            );
            assert!(q.contains_key("error_description"), "{url}");
            assert_eq!(q.get("state").map(String::as_str), Some("st-1"), "{url}");
            assert_eq!(q.get("iss"), Some(&s.srv.issuer), "{url}");
        }
        // A client whose response_types lack `code`.
        let (_, no_code, _) = s
            .srv
            .app_and_client(
                &s.admin,
                json!({"redirect_uris": [RP], "response_types": ["id_token"]}),
            )
            .await;
        let r = browser.get(&auth_url(&no_code, RP, &challenge, &[])).await;
        assert_eq!(query(&location(&r))["error"], "unauthorized_client");
        // A form POST is served like a GET.
        let r = browser
            .post_form(
                "/oidc/auth",
                &[
                    ("client_id", id),
                    ("redirect_uri", RP),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("state", "st-1"),
                    ("code_challenge", &challenge),
                    ("prompt", "none"),
                ],
            )
            .await;
        assert_eq!(query(&location(&r))["error"], "login_required");
        // Discovery lists what exists.
        let d: Value = s
            .srv
            .http
            .get(s.srv.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            d["authorization_endpoint"],
            format!("{}/oidc/auth", s.srv.issuer)
        );
        assert_eq!(d["response_types_supported"], json!(["code"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert!(d["prompt_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none")));
        s.srv.stop().await;
    }
}

#[tokio::test]
async fn the_login_form_is_bound_to_its_browser() {
    for b in backends().await {
        let s = setup(&b).await;
        let mut browser = Browser::new(&s.srv);
        let (_, challenge) = pkce("e");
        let r = browser
            .get(&auth_url(&s.client.0, RP, &challenge, &[]))
            .await;
        let login = location(&r);
        let page = parse_login_page(&browser.get(login.as_str()).await.text().await.unwrap());
        // Another browser (no login cookie) posting this form, or this one with a forged
        // field, is refused; so is a post from another origin.
        let mut other = Browser::new(&s.srv);
        let r = other
            .post_form(
                "/oidc/login/complete",
                &[
                    ("request", &page.request),
                    ("csrf", &page.csrf),
                    ("code", "x"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get(LOCATION).is_none());
        let r = browser
            .post_form(
                "/oidc/login/complete",
                &[
                    ("request", &page.request),
                    ("csrf", "forged"),
                    ("code", "x"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = s
            .srv
            .http
            .post(s.srv.url("/oidc/login/complete"))
            .header(COOKIE, browser.cookie_header())
            .header("origin", "https://evil.example")
            .form(&[
                ("request", page.request.as_str()),
                ("csrf", &page.csrf),
                ("code", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = s
            .srv
            .http
            .post(s.srv.url("/oidc/login/complete"))
            .header(COOKIE, browser.cookie_header())
            .header("sec-fetch-site", "cross-site")
            .form(&[
                ("request", page.request.as_str()),
                ("csrf", &page.csrf),
                ("code", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // The authorization request itself comes from the client's site: allowed.
        let (_, challenge) = pkce("e2");
        let r = s
            .srv
            .http
            .post(s.srv.url("/oidc/auth"))
            .header("origin", "https://rp.example")
            .header("sec-fetch-site", "cross-site")
            .form(&[
                ("client_id", s.client.0.as_str()),
                ("redirect_uri", RP),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "st-1"),
                ("code_challenge", &challenge),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&r).path(), "/oidc/login");
        // A journey code of another run (not bound to this request's challenge) is refused.
        let r = browser
            .post_form(
                "/oidc/login/complete",
                &[
                    ("request", &page.request),
                    ("csrf", &page.csrf),
                    ("code", "not-a-code"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(LOCATION).is_none());
        // An unknown request: an error page, no redirect.
        let r = browser.get("/oidc/login?request=unknown").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        s.srv.stop().await;
    }
}

#[tokio::test]
async fn browser_and_backend_sessions_are_not_interchangeable() {
    for b in backends().await {
        let s = setup(&b).await;
        let (_, client_token) = s.srv.client(&s.admin, json!({"redirect_uris": [RP]})).await;
        // A backend session id in the session cookie is no browser session.
        let login = s.srv.login_ok(&client_token, "ann").await;
        let backend_sid = login["session_id"].as_str().unwrap();
        let mut browser = Browser::new(&s.srv);
        browser
            .cookies
            .insert("tessera-session".into(), backend_sid.to_string());
        let (_, challenge) = pkce("f");
        let r = browser
            .get(&auth_url(
                &s.client.0,
                RP,
                &challenge,
                &[("prompt", "none")],
            ))
            .await;
        assert_eq!(query(&location(&r))["error"], "login_required");
        // A browser session's cookie is no backend session id.
        let mut browser = Browser::new(&s.srv);
        let r = browser
            .get(&auth_url(&s.client.0, RP, &challenge, &[]))
            .await;
        s.hosted_login(&mut browser, r, "ann").await;
        let cookie = browser.session_cookie().unwrap().clone();
        let (st, v) = s
            .srv
            .post(
                paths::SESSION_AUTH,
                &client_token,
                json!({"session_id": cookie}),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        s.srv.stop().await;
    }
}

#[tokio::test]
async fn ciba_clients_without_a_login_page_use_the_hosted_approval_page() {
    for b in backends().await {
        let s = setup(&b).await;
        let (_, ciba_id, ciba_secret) = s
            .srv
            .app_and_client(&s.admin, json!({"ciba_authorization": {"enabled": true}}))
            .await;
        let request = |binding: &'static str| {
            let (id, secret) = (ciba_id.clone(), ciba_secret.clone());
            let srv = &s.srv;
            async move {
                let r = srv
                    .form(
                        "/oidc/backchannel",
                        &[
                            ("client_id", id.as_str()),
                            ("client_secret", secret.as_str()),
                            ("scope", "openid"),
                            ("login_hint", "ann"),
                            ("binding_message", binding),
                            ("request_context", r#"{"channel": "link"}"#),
                        ],
                    )
                    .await;
                assert_eq!(r.status(), StatusCode::OK);
                let v: Value = r.json().await.unwrap();
                (
                    v["auth_req_id"].as_str().unwrap().to_string(),
                    v["auth_link"].as_str().unwrap().to_string(),
                )
            }
        };
        let poll = |auth_req_id: String| {
            let (id, secret) = (ciba_id.clone(), ciba_secret.clone());
            let srv = &s.srv;
            async move {
                let r = srv
                    .form(
                        "/oidc/token",
                        &[
                            ("grant_type", "urn:openid:params:grant-type:ciba"),
                            ("client_id", id.as_str()),
                            ("client_secret", secret.as_str()),
                            ("auth_req_id", auth_req_id.as_str()),
                        ],
                    )
                    .await;
                let st = r.status();
                (st, r.json::<Value>().await.unwrap())
            }
        };
        let (auth_req_id, link) = request("W4 7Q").await;
        assert!(
            link.starts_with(&format!("{}/oidc/ciba/approve?auth_req_id=", s.srv.issuer)),
            "{link}"
        );
        // The page: the client's name, the binding message, the login journey.
        let mut browser = Browser::new(&s.srv);
        let page = browser.get(&link).await;
        let st = page.status();
        let html = page.text().await.unwrap();
        assert_eq!(st, StatusCode::OK, "{link} {html}");
        assert!(html.contains("W4 7Q"), "the binding message is shown");
        assert!(html.contains("Test client"), "the client's name is shown");
        let page = parse_login_page(&html);
        let csrf = hidden(&html, "csrf");
        assert_eq!(csrf, browser.cookies["tessera-ciba"]);
        // Another user cannot decide Ann's request.
        let bob_code = s.run_login_journey(&page.data, "bob").await;
        let r = browser
            .post_form(
                "/oidc/ciba/approve",
                &[
                    ("auth_req_id", &auth_req_id),
                    ("csrf", &csrf),
                    ("code", &bob_code),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // Without the page's cookie (another browser, or a forged form), refused.
        let ann_code = s.run_login_journey(&page.data, "ann").await;
        let mut other = Browser::new(&s.srv);
        let r = other
            .post_form(
                "/oidc/ciba/approve",
                &[
                    ("auth_req_id", &auth_req_id),
                    ("csrf", &csrf),
                    ("code", &ann_code),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let (st, pending) = poll(auth_req_id.clone()).await;
        assert_eq!(
            (st, pending["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("authorization_pending"))
        );
        // Ann approves after a fresh login.
        let ann_code = s.run_login_journey(&page.data, "ann").await;
        let r = browser
            .post_form(
                "/oidc/ciba/approve",
                &[
                    ("auth_req_id", &auth_req_id),
                    ("csrf", &csrf),
                    ("code", &ann_code),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("data-approved=\"true\""));
        let (st, tokens) = poll(auth_req_id.clone()).await;
        assert_eq!(st, StatusCode::OK, "{tokens}");
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["amr"],
            json!(["pwd"])
        );
        // The page of a decided request is an error page.
        let r = browser.get(&link).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // Deny.
        let (auth_req_id, link) = request("D1").await;
        let html = browser.get(&link).await.text().await.unwrap();
        let page = parse_login_page(&html);
        let csrf = hidden(&html, "csrf");
        let code = s.run_login_journey(&page.data, "ann").await;
        let r = browser
            .post_form(
                "/oidc/ciba/approve",
                &[
                    ("auth_req_id", &auth_req_id),
                    ("csrf", &csrf),
                    ("code", &code),
                    ("decision", "deny"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let (st, e) = poll(auth_req_id).await;
        assert_eq!(
            (st, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("access_denied"))
        );
        s.srv.stop().await;
    }
}

#[tokio::test]
async fn the_code_flow_runs_over_https_with_secure_host_cookies() {
    for b in backends().await {
        let tls = crate::harness::TestTls::new();
        let srv = TestServer::start_tls(
            b.config_with_address_issuer(),
            TestClock::new(now_ms()),
            &tls,
        )
        .await;
        assert!(srv.issuer.starts_with("https://"), "{}", srv.issuer);
        let s = setup_on(srv).await;
        let mut browser = Browser::new(&s.srv);
        let (verifier, challenge) = pkce("tls");
        let r = browser
            .get(&auth_url(&s.client.0, RP, &challenge, &[]))
            .await;
        let login_cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(
            login_cookie.starts_with("__Host-tessera-login="),
            "{login_cookie}"
        );
        assert!(login_cookie.contains("; Secure"), "{login_cookie}");
        let back = s.hosted_login(&mut browser, r, "ann").await;
        let set: Vec<String> = back
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(
            set.iter().any(|c| c.starts_with("__Host-tessera-session=")
                && c.contains("; Secure")
                && c.contains("HttpOnly")
                && c.contains("SameSite=Lax")),
            "{set:?}"
        );
        let code = code_of(&s.srv, &back, RP);
        let (st, tokens) = s.exchange(&s.client, &code, RP, &verifier).await;
        assert_eq!(st, StatusCode::OK, "{tokens}");
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["iss"],
            s.srv.issuer.as_str()
        );
        // SSO over https with the __Host- cookie.
        let (_, c2) = pkce("tls2");
        code_of(
            &s.srv,
            &browser.get(&auth_url(&s.client2.0, RP2, &c2, &[])).await,
            RP2,
        );
        s.srv.stop().await;
    }
}

/// Two nodes on one database: a login begun on one completes on the other, the session
/// cookie works on both, and the same completion posted to both at once succeeds once.
#[tokio::test]
async fn a_login_moves_between_nodes_and_a_race_completes_once() {
    use crate::multi_node::{node_config, shared_kek};
    for b in backends().await {
        let kek = shared_kek();
        let admin = Some((
            crate::harness::ADMIN_ID.to_string(),
            zeroize::Zeroizing::new(crate::harness::ADMIN_SECRET.to_string()),
        ));
        let mut ca = node_config(&b, "a", &kek);
        ca.admin = admin.clone();
        let mut cb = node_config(&b, "b", &kek);
        cb.admin = admin;
        let a = TestServer::start(ca, TestClock::new(now_ms())).await;
        let node_b = TestServer::start(cb, TestClock::new(now_ms())).await;
        let s = setup_on(a).await;
        let (verifier, challenge) = pkce("nodes");
        // Begun on node a.
        let mut on_a = Browser::new(&s.srv);
        let r = on_a.get(&auth_url(&s.client.0, RP, &challenge, &[])).await;
        let login = location(&r);
        // The page, the journey and the completion on node b.
        let mut on_b = Browser::new(&node_b);
        on_b.cookies = on_a.cookies.clone();
        let page = parse_login_page(&on_b.get(login.as_str()).await.text().await.unwrap());
        let code = s.run_login_journey(&page.data, "ann").await;
        let form = [
            ("request", page.request.as_str()),
            ("csrf", &page.csrf),
            ("code", &code),
        ];
        let cookie = on_b.cookie_header();
        let post = |srv: &TestServer| {
            srv.http
                .post(srv.url("/oidc/login/complete"))
                .header(COOKIE, cookie.clone())
                .form(&form)
                .send()
        };
        let (ra, rb) = tokio::join!(post(&s.srv), post(&node_b));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let statuses = [ra.status(), rb.status()];
        assert!(
            statuses.contains(&StatusCode::SEE_OTHER)
                && statuses.contains(&StatusCode::BAD_REQUEST),
            "exactly one completion wins: {statuses:?}"
        );
        let winner = if ra.status() == StatusCode::SEE_OTHER {
            ra
        } else {
            rb
        };
        on_b.keep(&winner);
        let code = code_of(&s.srv, &winner, RP);
        // Exchanged on node b, the session used for SSO on node a.
        let r = node_b
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &s.client.0),
                    ("client_secret", &s.client.1),
                    ("code", &code),
                    ("redirect_uri", RP),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let mut back_on_a = Browser::new(&s.srv);
        back_on_a.cookies = on_b.cookies.clone();
        let (_, c2) = pkce("nodes2");
        let r = back_on_a
            .get(&auth_url(&s.client2.0, RP2, &c2, &[("prompt", "none")]))
            .await;
        code_of(&s.srv, &r, RP2);
        node_b.stop().await;
        s.srv.stop().await;
    }
}
