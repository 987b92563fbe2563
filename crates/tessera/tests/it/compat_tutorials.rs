//! The platform's backend-authentication tutorials (issue 14, "the proof"), each replayed as
//! its official sample backend sends it — the same paths (`shared/config.js` of the samples:
//! `/cis/v1/auth/…`, `/cis/oidc/jwks`, `/oidc/token`), the same bodies — and each answer read
//! the way that backend reads it: `{status, ...data}` spreads, `data.access_token`,
//! `status !== 200` as the error flag, `response.status !== 204` after logout, and the
//! access token verified against the JWKS (`jwt.verify` with the key whose `kid` matches).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::paths::{OUTBOX, USERS};
use crate::harness::{backends, claims, now_ms, verify_with_jwks, TestServer, SECRET};
use crate::otp::code_in;

const REDIRECT: &str = "https://sample.example/complete";

/// A server with the dev outbox, an application's default client whose secret is posted in
/// the form (the samples' `getClientCredsToken`), and an admin token to read the outbox.
struct Sample {
    srv: TestServer,
    admin: String,
    token: String,
}

impl Sample {
    async fn start(b: &crate::harness::Backend) -> Self {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        let (s, app) = srv
            .send_json(
                Method::POST,
                "/cis/v1/applications",
                &admin,
                Some(json!({"app_name": "Sample"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{app}");
        let app_id = app["result"]["app_id"].as_str().unwrap();
        let client_id = app["result"]["client_id"].as_str().unwrap();
        let secret = app["result"]["client_secret"].as_str().unwrap();
        let (s, v) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{app_id}/clients/{client_id}"),
                &admin,
                Some(json!({"redirect_uris": [REDIRECT]})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let token = r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        Self { srv, admin, token }
    }

    /// `{status, ...data}` of a JSON POST with the client token.
    async fn call(&self, path: &str, body: Value) -> Value {
        let (s, data) = self.srv.post(path, &self.token, body).await;
        let mut out = serde_json::Map::new();
        out.insert("status".into(), json!(s.as_u16()));
        if let Value::Object(m) = data {
            for (k, v) in m {
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }

    /// The newest dev-outbox message to `to`.
    async fn message_to(&self, to: &str) -> String {
        let to = url::form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>();
        let (s, outbox) = self
            .srv
            .send_json(Method::GET, &format!("{OUTBOX}?to={to}"), &self.admin, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        outbox[0]["text"].as_str().unwrap().to_string()
    }

    /// The samples' `validateToken`: the JWKS at `/cis/oidc/jwks` (the same keys as
    /// `/oidc/jwks`) verifies the access token.
    async fn validate(&self, access_token: &str) -> Value {
        let cis: Value = self
            .srv
            .http
            .get(self.srv.url("/cis/oidc/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let oidc: Value = self
            .srv
            .http
            .get(self.srv.url("/oidc/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(cis, oidc);
        verify_with_jwks(&self.srv, access_token, "userid-api").await
    }

    /// The samples' logout: 204 expected, anything else is read as JSON.
    async fn logout(&self, session_id: &str) {
        let r = self
            .srv
            .http
            .post(self.srv.url("/cis/v1/auth/session/logout"))
            .bearer_auth(&self.token)
            .json(&json!({"session_id": session_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
}

/// `login-with-be-email` and `login-with-be-sms`: create the user with an email (or a phone
/// number), send a code by `channel`, authenticate it, validate the access token.
#[tokio::test]
async fn the_email_and_sms_otp_tutorials() {
    for b in backends().await {
        let s = Sample::start(&b).await;
        for (field, value, channel) in [
            ("email", "otp-user@example.com", "email"),
            ("phone_number", "+14155550170", "sms"),
        ] {
            let created = s.call(USERS, json!({ field: value })).await;
            assert_eq!(created["status"], 201, "{} {created}", b.name);
            assert!(created["result"]["user_id"].is_string());

            let sent = s
                .call(
                    "/cis/v1/auth/otp/send",
                    json!({"channel": channel, "identifier": value, "identifier_type": field}),
                )
                .await;
            assert_eq!(sent["status"], 200, "{sent}");
            assert_eq!(sent["message"], "OTP sent");
            let passcode = code_in(&s.message_to(value).await);

            let data = s
                .call(
                    "/cis/v1/auth/otp/authenticate",
                    json!({"passcode": passcode, "identifier": value, "identifier_type": field}),
                )
                .await;
            assert_eq!(data["status"], 200, "{data}");
            let verified = s.validate(data["access_token"].as_str().unwrap()).await;
            assert_eq!(verified["sub"], created["result"]["user_id"]);
            let amr = if channel == "email" { "eotp" } else { "sms" };
            assert_eq!(verified["amr"], json!([amr]));
        }
        s.srv.stop().await;
    }
}

/// `login-with-be-magiclink` and `silent-and-offline-be-auth`: create the user with an email,
/// send a magic link with `{email, redirect_uri}` (no identifier fields), follow the link's
/// `code` to `link/email/authenticate`, then silent authentication with the session, offline
/// refresh with the refresh token (a retry gets the same successor), and logout (204), after
/// which both fail.
#[tokio::test]
async fn the_magic_link_silent_and_offline_tutorials() {
    for b in backends().await {
        let s = Sample::start(&b).await;
        let created = s
            .call(USERS, json!({"email": "link-user@example.com"}))
            .await;
        assert_eq!(created["status"], 201, "{} {created}", b.name);

        let sent = s
            .call(
                "/cis/v1/auth/link/email/send",
                json!({"email": "link-user@example.com", "redirect_uri": REDIRECT}),
            )
            .await;
        assert_eq!(sent["status"], 200, "{sent}");
        let text = s.message_to("link-user@example.com").await;
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with(REDIRECT))
            .unwrap();
        let url = url::Url::parse(link).unwrap();
        let (_, code) = url.query_pairs().find(|(k, _)| k == "code").unwrap();

        let login = s
            .call(
                "/cis/v1/auth/link/email/authenticate",
                json!({"code": code}),
            )
            .await;
        assert_eq!(login["status"], 200, "{login}");
        s.validate(login["access_token"].as_str().unwrap()).await;
        let session_id = login["session_id"].as_str().unwrap().to_string();
        let refresh_token = login["refresh_token"].as_str().unwrap().to_string();
        // The link verified the email.
        let (_, user) = s
            .srv
            .send_json(
                Method::GET,
                &format!("{USERS}/email/link-user@example.com"),
                &s.token,
                None,
            )
            .await;
        assert_eq!(user["result"]["email"]["email_verified"], true, "{user}");

        // Silent authentication (another login of the same session).
        let silent = s
            .call(
                "/cis/v1/auth/session/authenticate",
                json!({"session_id": session_id}),
            )
            .await;
        assert_eq!(silent["status"], 200, "{silent}");
        let id = claims(silent["id_token"].as_str().unwrap());
        assert_eq!(
            id["sid"],
            claims(login["id_token"].as_str().unwrap())["sid"]
        );

        // Offline: refresh, and the new refresh token replaces the old one.
        let refreshed = s
            .call(
                "/cis/v1/auth/token/refresh",
                json!({"refresh_token": refresh_token}),
            )
            .await;
        assert_eq!(refreshed["status"], 200, "{refreshed}");
        s.validate(refreshed["access_token"].as_str().unwrap())
            .await;
        assert_ne!(refreshed["refresh_token"], json!(refresh_token));
        // A retry within the 2 s reuse window (a lost answer) gets the same successor.
        let retry = s
            .call(
                "/cis/v1/auth/token/refresh",
                json!({"refresh_token": refresh_token}),
            )
            .await;
        assert_eq!(retry["status"], 200, "{retry}");
        assert_eq!(retry["refresh_token"], refreshed["refresh_token"]);

        // Logout ends the session and revokes its refresh tokens.
        s.logout(&session_id).await;
        let after = s
            .call(
                "/cis/v1/auth/session/authenticate",
                json!({"session_id": session_id}),
            )
            .await;
        assert_eq!(after["status"], 400, "{after}");
        assert_eq!(after["error_code"], "auth_session_invalid");
        let after = s
            .call(
                "/cis/v1/auth/token/refresh",
                json!({"refresh_token": refreshed["refresh_token"]}),
            )
            .await;
        assert_eq!(after["status"], 400, "{after}");
        assert_eq!(after["error_code"], "invalid_grant");
        s.srv.stop().await;
    }
}

/// `password-be-authentication`: sign up with `{username, credentials: {password,
/// force_replace: false}}` (the sample treats `status !== 200` as its error flag but only
/// fails the page on `>= 400`), log in asking for the `username` claim in the ID token, read
/// it, log out.
#[tokio::test]
async fn the_password_tutorial() {
    for b in backends().await {
        let s = Sample::start(&b).await;
        let signup = s
            .call(
                USERS,
                json!({"username": "pat@sample", "credentials": {"password": SECRET, "force_replace": false}}),
            )
            .await;
        assert!(
            signup["status"].as_u64().unwrap() < 400,
            "{} {signup}",
            b.name
        );

        let login = s
            .call(
                "/cis/v1/auth/password/authenticate",
                json!({"username": "pat@sample", "password": SECRET,
                       "claims": {"id_token": {"username": null}}}),
            )
            .await;
        assert_eq!(login["status"], 200, "{login}");
        let id = claims(login["id_token"].as_str().unwrap());
        assert_eq!(id["username"], "pat@sample", "{id}");
        s.validate(login["access_token"].as_str().unwrap()).await;
        s.logout(login["session_id"].as_str().unwrap()).await;
        s.srv.stop().await;
    }
}
