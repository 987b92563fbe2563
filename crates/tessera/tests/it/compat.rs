//! Compatibility with the hosted platform's clients (issue 14): each test replays the
//! requests of the platform's tutorials and official sample backends and reads the answers
//! the way those backends do — `result.phone_number.value`, `{status, ...data}`,
//! `response.status !== 204` — so a shape that would break them fails here.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::harness::paths::{LOGOUT, OTP_AUTH, OTP_SEND, OUTBOX, PASSWORD, USERS};
use tessera_identity::TestClock;

use crate::harness::{backends, now_ms, TestServer, SECRET};
use crate::otp::code_in;

/// The samples' `getClientCredsToken`: the secret posted in the form.
async fn form_token(srv: &TestServer, client_id: &str, secret: &str) -> reqwest::Response {
    srv.form(
        "/oidc/token",
        &[
            ("client_id", client_id),
            ("client_secret", secret),
            ("grant_type", "client_credentials"),
        ],
    )
    .await
}

/// A client-credentials request with HTTP Basic credentials.
async fn basic_token(srv: &TestServer, client_id: &str, secret: &str) -> reqwest::Response {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    srv.http
        .post(srv.url("/oidc/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// The samples' `{ status, ...data }`: the HTTP status, then every member of the body
/// (a member named `status` replaces it, which is what broke them).
fn spread(status: StatusCode, data: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("status".into(), json!(status.as_u16()));
    for (k, v) in data.as_object().unwrap() {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// The MFA sample (`login-with-be-mfa`) end to end: create the user (username, phone,
/// credentials), password login, look the user up by username and read
/// `result.phone_number.value`, send an SMS code there, authenticate it on the same session,
/// log out (`status === 204`).
#[tokio::test]
async fn the_mfa_sample_completes_every_step() {
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
        let r = form_token(&srv, &client_id, &secret).await;
        assert_eq!(r.status(), StatusCode::OK);
        let token = r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();

        // createUser: `{ status, ...data }` must keep the HTTP status a number.
        let (s, data) = srv
            .post(
                USERS,
                &token,
                json!({"username": "mia", "phone_number": "+14155550142",
                       "credentials": {"password": SECRET, "force_replace": false}}),
            )
            .await;
        let created = spread(s, &data);
        assert_eq!(created["status"], 201, "{} {data}", b.name);
        assert_eq!(created["result"]["username"], "mia");
        assert_eq!(created["result"]["status"], "Active");

        // authenticatePassword.
        let (s, login) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "mia", "password": SECRET}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{login}");
        let session_id = login["session_id"].as_str().unwrap().to_string();

        // getUserByUsername, then `result?.phone_number?.value`.
        let (s, data) = srv
            .send_json(Method::GET, &format!("{USERS}/username/mia"), &token, None)
            .await;
        let user = spread(s, &data);
        assert_eq!(user["status"], 200);
        let phone = user["result"]["phone_number"]["value"].as_str().unwrap();
        assert_eq!(phone, "+14155550142");

        // sendSMSOTP to that number, the code read from the dev outbox.
        let (s, sent) = srv
            .post(
                OTP_SEND,
                &token,
                json!({"channel": "sms", "identifier": phone, "identifier_type": "phone_number"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{sent}");
        let (s, outbox) = srv
            .send_json(
                Method::GET,
                &format!("{OUTBOX}?to=%2B14155550142"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        let code = code_in(outbox[0]["text"].as_str().unwrap());

        // authenticateSMSOtp on the same session: MFA.
        let (s, tokens) = srv
            .post(
                OTP_AUTH,
                &token,
                json!({"passcode": code, "identifier": phone, "identifier_type": "phone_number",
                       "session_id": session_id}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{tokens}");
        let amr = crate::harness::claims(tokens["access_token"].as_str().unwrap())["amr"].clone();
        assert!(amr.as_array().unwrap().contains(&json!("mfa")), "{amr}");

        // logout: the sample checks `response.status !== 204`; the body is empty.
        let r = srv
            .http
            .post(srv.url(LOGOUT))
            .bearer_auth(&token)
            .json(&json!({"session_id": session_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", b.name);
        assert_eq!(r.text().await.unwrap(), "");

        // The phone is verified now, with the time it was.
        let (_, data) = srv
            .send_json(Method::GET, &format!("{USERS}/username/mia"), &token, None)
            .await;
        assert_eq!(
            data["result"]["phone_number"]["phone_number_verified"],
            true
        );
        assert!(
            data["result"]["phone_number"]["verified_at"].is_string(),
            "{data}"
        );
        srv.stop().await;
    }
}

/// The email-OTP and magic-link samples create the user with only an email and read
/// `result.user_id` and `result.email.value`.
#[tokio::test]
async fn a_user_created_with_an_email_reads_as_the_platform_shapes_it() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = srv.client_token(&admin, json!({})).await;
        let (s, data) = srv
            .post(USERS, &token, json!({"email": "zoe@example.com"}))
            .await;
        let created = spread(s, &data);
        assert_eq!(created["status"], 201, "{data}");
        let keys: Vec<_> = data.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, vec!["result"], "one envelope member: {data}");
        let user = &data["result"];
        assert_eq!(
            user["email"],
            json!({"value": "zoe@example.com", "email_verified": false})
        );
        assert!(user.get("phone_number").is_none(), "{user}");
        assert!(
            user["created_at"].as_i64().unwrap() > 1_000_000_000_000,
            "epoch ms"
        );
        let user_id = user["user_id"].as_str().unwrap();

        let (s, got) = srv
            .send_json(Method::GET, &format!("{USERS}/{user_id}"), &token, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(got["result"]["email"]["value"], "zoe@example.com");

        // The platform's lookups by address.
        for path in [
            format!("{USERS}/email/ZOE%40Example.com"),
            format!("{USERS}/email/zoe@example.com"),
        ] {
            let (s, got) = srv.send_json(Method::GET, &path, &token, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {got}");
            assert_eq!(got["result"]["user_id"], user_id);
        }
        let (s, e) = srv
            .send_json(
                Method::GET,
                &format!("{USERS}/email/nobody%40example.com"),
                &token,
                None,
            )
            .await;
        assert_eq!(
            (s, e["error_code"].as_str()),
            (StatusCode::NOT_FOUND, Some("user_not_found"))
        );

        // The platform's list envelope.
        let (s, list) = srv
            .send_json(Method::GET, &format!("{USERS}?page_limit=1"), &token, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(list["total_count"], 1);
        assert_eq!(
            list["page_info"],
            json!({"has_next_page": false, "has_previous_page": false})
        );
        assert_eq!(list["result"][0]["user_id"], user_id);
        srv.stop().await;
    }
}

/// Every input field of the platform's `ApiCreateUserInput`/`ApiUpdateUserInput` is
/// accepted, returned, and replaced by `PUT` as the platform does (objects whole,
/// `custom_data` merged one level deep).
#[tokio::test]
async fn the_platform_user_fields_round_trip_and_put_updates() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = srv.client_token(&admin, json!({})).await;
        let full = json!({
            "email": "Lee@Example.com",
            "phone_number": "+44 20 7946 0958",
            "username": "lee",
            "secondary_emails": ["lee@work.example", "LEE@work.example"],
            "secondary_phone_numbers": ["+1 415 555 0199"],
            "birthday": "1990-04-01",
            "address": {"country": "GB", "city": "London", "street_address": "1 Road",
                        "postal_code": "N1", "state": "LDN", "type": "Home"},
            "name": {"title": "Dr", "first_name": "Lee", "middle_name": "Q", "last_name": "Ray"},
            "external_account_id": "acc-1",
            "custom_app_data": {"plan": "pro"},
            "picture": "https://img.example/lee.png",
            "language": "en-GB",
            "custom_data": {"a": 1, "b": 2},
            "external_user_id": "ext-lee",
            "delegated_access": {"actor_id": "parent-1", "permissions": ["read"]},
            "credentials": {"password": SECRET, "force_replace": true},
        });
        let (s, data) = srv.post(USERS, &token, full).await;
        assert_eq!(s, StatusCode::CREATED, "{} {data}", b.name);
        let u = &data["result"];
        assert_eq!(u["email"]["value"], "Lee@Example.com");
        assert_eq!(u["phone_number"]["value"], "+442079460958");
        // Normalised; exact duplicates dropped.
        assert_eq!(
            u["secondary_emails"],
            json!([{"value": "lee@work.example", "email_verified": false},
                   {"value": "LEE@work.example", "email_verified": false}])
        );
        assert_eq!(
            u["secondary_phone_numbers"],
            json!([{"value": "+14155550199", "phone_number_verified": false}])
        );
        assert_eq!(u["birthday"], "1990-04-01");
        assert_eq!(u["address"]["type"], "Home");
        assert_eq!(u["name"]["title"], "Dr");
        assert_eq!(u["name"]["middle_name"], "Q");
        assert_eq!(u["external_account_id"], "acc-1");
        assert_eq!(u["custom_app_data"], json!({"plan": "pro"}));
        assert_eq!(u["picture"], "https://img.example/lee.png");
        assert_eq!(u["language"], "en-GB");
        assert_eq!(
            u["delegated_access"],
            json!({"actor_id": "parent-1", "permissions": ["read"]})
        );
        // A temporary password is visible as such, never the password.
        assert_eq!(u["password_information"]["temporary"], true);
        assert_eq!(u["password_information"]["expired"], false);
        assert!(!data.to_string().contains("argon2"));

        let path = format!("{USERS}/{}", u["user_id"].as_str().unwrap());
        let (s, put) = srv
            .send_json(
                Method::PUT,
                &path,
                &token,
                Some(json!({
                    "address": {"city": "Leeds"},
                    "custom_data": {"b": null, "c": 3},
                    "status": "Pending",
                    "picture": null,
                })),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{put}");
        let p = &put["result"];
        assert_eq!(p["address"], json!({"city": "Leeds"}));
        assert_eq!(p["custom_data"], json!({"a": 1, "c": 3}));
        assert_eq!(p["status"], "Pending");
        assert!(p.get("picture").is_none(), "{p}");
        assert_eq!(p["name"]["title"], "Dr", "untouched fields stay");

        // A Pending user may not log in yet; Active again, they may.
        let (s, e) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "lee", "password": SECRET}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        let (s, _) = srv
            .send_json(
                Method::PUT,
                &path,
                &token,
                Some(json!({"status": "Active"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, e) = srv
            .post(
                PASSWORD,
                &token,
                json!({"username": "lee", "password": SECRET}),
            )
            .await;
        // Active again, the login gets past the status check to the temporary-password
        // rule: the right temporary password asks for a reset.
        assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
        assert_eq!(e["error_code"], "password_reset_required", "{e}");
        assert!(e["reset_token"].is_string(), "{e}");
        srv.stop().await;
    }
}

/// The platform registers clients with `client_secret_basic` by default, yet every tutorial
/// posts the secret in the form: a client that did not pin a method accepts both; a pinned
/// one only its own.
#[tokio::test]
async fn an_unpinned_client_accepts_basic_and_form_credentials() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv.app_and_client(&admin, json!({})).await;
        assert_eq!(
            form_token(&srv, &id, &secret).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            basic_token(&srv, &id, &secret).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            form_token(&srv, &id, "wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );

        let (_, basic_id, basic_secret) = srv
            .app_and_client(
                &admin,
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await;
        assert_eq!(
            basic_token(&srv, &basic_id, &basic_secret).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            form_token(&srv, &basic_id, &basic_secret).await.status(),
            StatusCode::UNAUTHORIZED,
            "{}: pinned to Basic",
            b.name
        );
        let (_, post_id, post_secret) = srv
            .app_and_client(
                &admin,
                json!({"token_endpoint_auth_method": "client_secret_post"}),
            )
            .await;
        assert_eq!(
            basic_token(&srv, &post_id, &post_secret).await.status(),
            StatusCode::UNAUTHORIZED,
            "{}: pinned to the form",
            b.name
        );
        srv.stop().await;
    }
}

/// The platform's application API: `app_name`/`app_description`, `{"result": …}`, and a
/// default client created with the application whose id and secret come back at once and
/// work at the token endpoint; client lists are bare arrays; client fields in the
/// platform's names.
#[tokio::test]
async fn applications_come_with_their_default_client() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, data) = srv
            .post(
                "/cis/v1/applications",
                &admin,
                json!({"app_name": "Shop", "app_description": "the shop",
                       "client_display_name": "Shop web",
                       "redirect_uris": ["https://shop.example/cb"],
                       "resources": ["https://api.shop.example"]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{} {data}", b.name);
        let app = &data["result"];
        assert_eq!(app["app_name"], "Shop");
        assert_eq!(app["app_description"], "the shop");
        assert_eq!(app["client_display_name"], "Shop web");
        let app_id = app["app_id"].as_str().unwrap();
        let client_id = app["client_id"].as_str().unwrap();
        let secret = app["client_secret"].as_str().unwrap();
        let r = form_token(&srv, client_id, secret).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("client_id", client_id),
                    ("client_secret", secret),
                    ("grant_type", "client_credentials"),
                    ("resource", "https://api.shop.example"),
                ],
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "the app's resources reach its client"
        );

        let (s, got) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/applications/{app_id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(got["result"]["client_id"], client_id);
        assert!(got["result"].get("client_secret").is_none(), "shown once");

        let (s, list) = srv
            .send_json(Method::GET, "/cis/v1/applications", &admin, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(list["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["app_id"] == app_id));

        // A second client with the platform's client fields, a second later (lists are
        // oldest first).
        srv.clock.advance_s(1);
        let clients = format!("/cis/v1/applications/{app_id}/clients");
        let (s, c) = srv
            .post(
                &clients,
                &admin,
                json!({"name": "Shop app", "redirect_uris": ["com.shop.app:/cb"],
                       "client_type": "native", "response_types": ["code"],
                       "supported_prompts": ["login"],
                       "pkce": "enforcePkceAlongsideClientCredentials",
                       "token_expiration": {"access_token_ttl": 120, "refresh_token_ttl": 600,
                                            "max_refresh_rotate": 1200}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(
            c["token_expiration"],
            json!({"access_token_ttl": 120, "refresh_token_ttl": 600, "max_refresh_rotate": 1200})
        );
        assert_eq!(c["client_type"], "native");
        assert_eq!(c["pkce"], "enforcePkceAlongsideClientCredentials");
        let r = form_token(
            &srv,
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str().unwrap(),
        )
        .await;
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["expires_in"], 120, "token_expiration has its meaning");

        let (s, list) = srv.send_json(Method::GET, &clients, &admin, None).await;
        assert_eq!(s, StatusCode::OK);
        let list = list.as_array().expect("a bare array");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["client_id"], client_id);
        assert_eq!(list[0]["resources"], json!(["https://api.shop.example"]));

        // An update with a platform name keeps the rest.
        let (s, patched) = srv
            .send_json(
                Method::PUT,
                &format!("{clients}/{}", c["client_id"].as_str().unwrap()),
                &admin,
                Some(json!({"token_expiration": {"access_token_ttl": 60}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{patched}");
        assert_eq!(patched["token_expiration"]["access_token_ttl"], 60);
        assert_eq!(patched["token_expiration"]["refresh_token_ttl"], 600);

        // Unknown platform fields are refused by name, not ignored.
        let (s, e) = srv
            .post(
                "/cis/v1/applications",
                &admin,
                json!({"app_name": "x", "logo": "https://img.example/x.png"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        assert!(e["message"].as_str().unwrap().contains("logo"), "{e}");
        srv.stop().await;
    }
}

/// The platform's session management: list a user's sessions, log them out everywhere
/// (`DELETE …/sessions`, 204), and a user's own `POST /cis/v1/auth/logout`
/// (`{sessions_count}`).
#[tokio::test]
async fn a_user_is_logged_out_everywhere() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let token = srv.client_token(&admin, json!({})).await;
        let user_id = srv
            .create_user(
                &token,
                json!({"username": "max", "credentials": {"password": SECRET}}),
            )
            .await;
        let first = srv.login_ok(&token, "max").await;
        let second = srv.login_ok(&token, "max").await;
        let sessions = format!("/cis/v1/auth/users/{user_id}/sessions");

        let (s, list) = srv.send_json(Method::GET, &sessions, &token, None).await;
        assert_eq!(s, StatusCode::OK, "{} {list}", b.name);
        let listed: Vec<_> = list
            .as_array()
            .expect("a bare array")
            .iter()
            .map(|s| s["session_id"].clone())
            .collect();
        let sids: Vec<_> = [&first, &second]
            .iter()
            .map(|t| crate::harness::claims(t["access_token"].as_str().unwrap())["sid"].clone())
            .collect();
        assert_eq!(listed.len(), 2, "{list}");
        for sid in &sids {
            assert!(listed.contains(sid), "{sid} in {list}");
        }
        assert!(list[0]["start_time"].as_str().unwrap().ends_with('Z'));
        assert!(list[0]["expiration_time"].as_str().unwrap().ends_with('Z'));

        // Log out everywhere: 204, no session left, none can be resumed or refreshed.
        let (s, body) = srv.send_json(Method::DELETE, &sessions, &token, None).await;
        assert_eq!((s, &body), (StatusCode::NO_CONTENT, &Value::Null));
        let (_, list) = srv.send_json(Method::GET, &sessions, &token, None).await;
        assert_eq!(list, json!([]));
        let (s, e) = srv
            .post(
                "/cis/v1/auth/session/authenticate",
                &token,
                json!({"session_id": first["session_id"]}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        let (s, e) = srv
            .post(
                "/cis/v1/auth/token/refresh",
                &token,
                json!({"refresh_token": second["refresh_token"]}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");

        // The user's own logout, with their access token.
        let third = srv.login_ok(&token, "max").await;
        let user_token = third["access_token"].as_str().unwrap();
        let (s, v) = srv.post("/cis/v1/auth/logout", user_token, json!({})).await;
        assert_eq!((s, &v), (StatusCode::OK, &json!({"sessions_count": 1})));
        let (s, _) = srv
            .send_json(Method::GET, "/oidc/userinfo", user_token, None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // An unknown user is 404; a client token cannot use the user's logout.
        let (s, e) = srv
            .send_json(
                Method::GET,
                "/cis/v1/auth/users/nobody/sessions",
                &token,
                None,
            )
            .await;
        assert_eq!(
            (s, e["error_code"].as_str()),
            (StatusCode::NOT_FOUND, Some("user_not_found"))
        );
        let (s, e) = srv.post("/cis/v1/auth/logout", &token, json!({})).await;
        assert_eq!(
            (s, e["error_code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        srv.stop().await;
    }
}

/// The platform's `default_custom_claims`: the client's ID tokens carry those claims without
/// a `claims` request (password login, silent authentication), and the client answers them.
#[tokio::test]
async fn a_clients_default_custom_claims_are_in_its_id_tokens() {
    for b in backends().await {
        let srv = TestServer::start(b.config(), TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        let (app_id, client_id, secret) = srv
            .app_and_client(
                &admin,
                json!({"default_custom_claims": ["username", "plan"]}),
            )
            .await;
        let token = srv.token(&client_id, &secret).await;
        let (s, client) = srv
            .send_json(
                Method::GET,
                &format!("/cis/v1/applications/{app_id}/clients/{client_id}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{client}");
        assert_eq!(client["default_custom_claims"], json!(["username", "plan"]));
        srv.create_user(
            &token,
            json!({"username": "cleo", "custom_data": {"plan": "gold"},
                   "credentials": {"password": SECRET, "force_replace": false}}),
        )
        .await;
        let login = srv.login_ok(&token, "cleo").await;
        let id = crate::harness::claims(login["id_token"].as_str().unwrap());
        assert_eq!(id["username"], "cleo", "{} {id}", b.name);
        assert_eq!(id["plan"], "gold", "{id}");
        let (s, silent) = srv
            .post(
                "/cis/v1/auth/session/authenticate",
                &token,
                json!({"session_id": login["session_id"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{silent}");
        let id = crate::harness::claims(silent["id_token"].as_str().unwrap());
        assert_eq!(id["username"], "cleo", "{id}");

        // Names are checked.
        let (s, e) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{app_id}/clients/{client_id}"),
                &admin,
                Some(json!({"default_custom_claims": ["no spaces allowed"]})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        srv.stop().await;
    }
}
