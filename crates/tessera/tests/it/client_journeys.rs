//! Client journeys end to end (issue 12): the seed's migration journey — custom
//! authentication of a legacy user from `additionalParams`, then steps that wait for the
//! client — started and answered over HTTP, ended with a one-time code that the app's backend
//! exchanges at `/oidc/token` (PKCE), replays and races refused, on both backends and across
//! two nodes.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::Clock;
use tessera_jose::{Algorithm, JwkSet, SigningKey};

use tessera_identity::TestClock;
use zeroize::Zeroizing;

use crate::harness::{backends, claims, now_ms, TestServer};
use crate::multi_node::{node_config, shared_kek};

const JOURNEY: &str = r#"
id: migrate-legacy-user
type: client
steps:
  - id: legacy
    type: custom_authentication
    username: "@policy.request().params.username"
    token: "@policy.request().params.externalToken"
    validator: legacy
    amr: '${@policy.request().params?.amr ?? "flex.login"}'
    create_user_if_missing: true
    on_failure: refused
  - id: welcome
    type: information
    title: "Welcome back"
    text: "${@policy.userContext().username}, your account moved."
    button_text: Continue
  - id: profile
    type: collect
    fields:
      - {name: nickname, type: string, required: true}
      - {name: newsletter, type: boolean}
    output: profile
  - id: done
    type: complete
    data: "{nickname: profile.nickname}"
  - id: refused
    type: reject
    data: "{reason: error.code}"
"#;

/// A PKCE verifier and its S256 challenge (base64url(SHA-256), computed independently).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1rn2B8aY9d6Kw4dNy5r3l6xkVl";
const CHALLENGE: &str = "mNHTXepW0Zp42KplcqHoFXoVE7BFj3yvTvKzgKSJjS8";

struct Setup {
    admin: String,
    client_id: String,
    secret: String,
    key: SigningKey,
}

async fn setup(srv: &TestServer) -> Setup {
    let admin = srv.admin_token().await;
    let (_, client_id, secret) = srv.app_and_client(&admin, json!({})).await;
    let key = SigningKey::generate(Algorithm::ES256, "legacy-key").unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let (s, v) = srv
        .send_json(
            Method::PUT,
            "/ido/api/v2/connections/legacy",
            &admin,
            Some(
                json!({"type": "jwt_validator", "issuer": "https://legacy.test",
                        "audience": "tessera", "algorithms": ["ES256"], "jwks": jwks}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = srv
        .http
        .put(srv.url("/ido/api/v2/journeys/migrate-legacy-user"))
        .bearer_auth(&admin)
        .header("content-type", "application/yaml")
        .body(JOURNEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    Setup {
        admin,
        client_id,
        secret,
        key,
    }
}

fn legacy_token(srv: &TestServer, key: &SigningKey, sub: &str) -> String {
    let now = srv.clock.now_s();
    let claims =
        json!({"iss": "https://legacy.test", "aud": "tessera", "sub": sub, "exp": now + 300});
    key.sign_jwt("JWT", claims.to_string().as_bytes()).unwrap()
}

async fn post(srv: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    let r = srv
        .http
        .post(srv.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    if status == StatusCode::OK {
        assert!(r.headers().contains_key("x-tessera-trace-id"));
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
    (status, r.json().await.unwrap())
}

async fn start(srv: &TestServer, client_id: &str, body: Value) -> (StatusCode, Value) {
    post(
        srv,
        &format!("/ido/api/v2/journeys/migrate-legacy-user/start?clientId={client_id}"),
        body,
    )
    .await
}

async fn submit(srv: &TestServer, id: &str, body: Value) -> (StatusCode, Value) {
    post(srv, &format!("/ido/api/v2/interactions/{id}/submit"), body).await
}

async fn exchange(
    srv: &TestServer,
    s: &Setup,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", s.client_id.as_str()),
        ("client_secret", s.secret.as_str()),
        ("code", code),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    srv.form("/oidc/token", &form).await
}

/// The seed's example: a legacy token for `legacy-ann` authenticates (creating the user),
/// the client answers an information step and a form (a bad answer is refused on the same
/// step), the run ends with a code, the backend exchanges it once with its verifier for
/// tokens whose `amr` holds the custom value and whose session works for silent
/// authentication; a second exchange fails and ends that session.
#[tokio::test]
async fn the_migration_journey_ends_with_a_code_for_tokens() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv).await;
        let token = legacy_token(&srv, &s.key, "legacy-ann");
        let (status, v) = start(
            &srv,
            &s.client_id,
            json!({"additionalParams": {"username": "legacy-ann", "externalToken": token,
                                        "amr": "legacy.sso"},
                   "code_challenge": CHALLENGE, "code_challenge_method": "S256"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v["type"], "client_input_required", "{v}");
        assert_eq!(v["journey_step_id"], "welcome");
        assert_eq!(v["data"]["title"], "Welcome back");
        assert_eq!(v["data"]["text"], "legacy-ann, your account moved.");
        assert_eq!(
            v["client_response_options"]["client_input"]["type"],
            "client_input"
        );
        let first = v["interaction_id"].as_str().unwrap().to_string();

        let (status, v) = submit(&srv, &first, json!({"option": "client_input", "data": {}})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["journey_step_id"], "profile");
        assert_eq!(v["data"]["fields"][0]["name"], "nickname");
        // Each answer names the step it waits at: replaying the first step is refused.
        let (status, replay) =
            submit(&srv, &first, json!({"option": "client_input", "data": {}})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{replay}");
        assert_eq!(replay["error_code"], "invalid_state");
        let id = v["interaction_id"].as_str().unwrap().to_string();

        // A required field missing: the same step again, with the error.
        let (status, v) = submit(
            &srv,
            &id,
            json!({"option": "client_input", "data": {"newsletter": true}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["journey_step_id"], "profile");
        assert_eq!(v["error_data"]["code"], "invalid_input", "{v}");
        let id = v["interaction_id"].as_str().unwrap().to_string();
        // An option the step does not offer.
        let (status, v) = submit(&srv, &id, json!({"option": "skip", "data": {}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error_code"], "client_response_not_valid");

        let (status, v) = submit(
            &srv,
            &id,
            json!({"option": "client_input", "data": {"nickname": "Annie", "newsletter": false}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["type"], "journey_success", "{v}");
        assert_eq!(v["data"], json!({"nickname": "Annie"}));
        let code = v["code"].as_str().unwrap().to_string();
        // The interaction is over.
        let (status, v) = submit(&srv, &id, json!({"option": "client_input", "data": {}})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error_code"], "no_active_journey");

        // Without the verifier, then with the wrong one: refused (and the code is spent).
        let r = exchange(&srv, &s, &code, None).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

        // A fresh run to exchange properly.
        let (_, v) = start(
            &srv,
            &s.client_id,
            json!({"additionalParams": {"username": "legacy-ann",
                                        "externalToken": legacy_token(&srv, &s.key, "legacy-ann")},
                   "code_challenge": CHALLENGE, "code_challenge_method": "S256"}),
        )
        .await;
        let id = v["interaction_id"].as_str().unwrap().to_string();
        let (_, v) = submit(&srv, &id, json!({"option": "client_input", "data": {}})).await;
        let id = v["interaction_id"].as_str().unwrap().to_string();
        let (_, v) = submit(
            &srv,
            &id,
            json!({"option": "client_input", "data": {"nickname": "A"}}),
        )
        .await;
        let code = v["code"].as_str().unwrap().to_string();
        // Another client cannot redeem it (and does not spend it).
        let (_, other_id, other_secret) = srv.app_and_client(&s.admin, json!({})).await;
        let other = Setup {
            admin: s.admin.clone(),
            client_id: other_id,
            secret: other_secret,
            key: SigningKey::generate(Algorithm::ES256, "unused").unwrap(),
        };
        let r = exchange(&srv, &other, &code, Some(VERIFIER)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
        let r = exchange(&srv, &s, &code, Some(VERIFIER)).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let tokens: Value = r.json().await.unwrap();
        let at = claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["flex.login"]), "{at}");
        let id_token = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id_token["aud"], s.client_id);
        assert!(tokens["refresh_token"].is_string());
        let session_id = tokens["session_id"].as_str().unwrap().to_string();
        // The user was created by the first run and is the same.
        let (_, user) = srv
            .send_json(
                Method::GET,
                "/cis/v1/users/username/legacy-ann",
                &s.admin,
                None,
            )
            .await;
        assert_eq!(user["result"]["user_id"], at["sub"], "{user}");

        // Silent authentication with the session.
        let client_token = srv.token(&s.client_id, &s.secret).await;
        let (status, silent) = srv
            .post(
                "/cis/v1/auth/session/authenticate",
                &client_token,
                json!({"session_id": session_id}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{silent}");

        // A second exchange fails and ends that session.
        let r = exchange(&srv, &s, &code, Some(VERIFIER)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let (status, after) = srv
            .post(
                "/cis/v1/auth/session/authenticate",
                &client_token,
                json!({"session_id": session_id}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{after}");
        assert_eq!(after["error_code"], "auth_session_invalid");
        srv.stop().await;
    }
}

/// The custom amr template, a token of another user (rejected through the failure branch
/// with the error code), an unknown client, a backend journey started as a client journey,
/// a bad challenge, and an expired interaction.
#[tokio::test]
async fn custom_authentication_and_the_protocol_refuse_what_they_must() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv).await;

        // The custom amr.
        let (_, v) = start(
            &srv,
            &s.client_id,
            json!({"additionalParams": {"username": "bo", "amr": "legacy.sso",
                                        "externalToken": legacy_token(&srv, &s.key, "bo")}}),
        )
        .await;
        let id = v["interaction_id"].as_str().unwrap().to_string();
        let (_, v) = submit(&srv, &id, json!({"option": "client_input", "data": {}})).await;
        let id = v["interaction_id"].as_str().unwrap().to_string();
        let (_, v) = submit(
            &srv,
            &id,
            json!({"option": "client_input", "data": {"nickname": "B"}}),
        )
        .await;
        let code = v["code"].as_str().unwrap().to_string();
        let r = exchange(&srv, &s, &code, None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let tokens: Value = r.json().await.unwrap();
        let at = claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["legacy.sso"]), "{} {at}", b.name);

        // Another user's token: the failure branch rejects with the code, and no code.
        let (status, v) = start(
            &srv,
            &s.client_id,
            json!({"additionalParams": {"username": "bo",
                                        "externalToken": legacy_token(&srv, &s.key, "eve")}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["type"], "journey_rejection", "{v}");
        assert!(v["data"]["reason"].is_string(), "{v}");
        assert!(v.get("code").is_none());

        // An unknown client, a missing clientId.
        let (status, v) = start(&srv, "no-such-client", json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        let (status, v) = post(
            &srv,
            "/ido/api/v2/journeys/migrate-legacy-user/start",
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        // A bad challenge method.
        let (status, v) = start(
            &srv,
            &s.client_id,
            json!({"code_challenge": CHALLENGE, "code_challenge_method": "plain"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        // An unknown journey.
        let (status, v) = post(
            &srv,
            &format!("/ido/api/v2/journeys/nope/start?clientId={}", s.client_id),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");

        // An interaction not answered within 15 minutes expires.
        let (_, v) = start(
            &srv,
            &s.client_id,
            json!({"additionalParams": {"username": "bo",
                                        "externalToken": legacy_token(&srv, &s.key, "bo")}}),
        )
        .await;
        let id = v["interaction_id"].as_str().unwrap().to_string();
        srv.clock.advance_s(15 * 60 + 1);
        let (status, v) = submit(&srv, &id, json!({"option": "client_input", "data": {}})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error_code"], "no_active_journey");
        let (status, v) = submit(&srv, "forged-id", json!({"option": "client_input"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        srv.stop().await;
    }
}

/// Two nodes on one database (SQLite file or PostgreSQL) with one KEK: an interaction
/// started on one continues on the other, and of two submits racing on both nodes exactly
/// one is applied (the other: 409 `invalid_state`).
#[tokio::test]
async fn an_interaction_moves_between_nodes_and_a_race_applies_once() {
    for backend in backends().await {
        let kek = shared_kek();
        let mut ca = node_config(&backend, "a", &kek);
        ca.admin = Some((
            crate::harness::ADMIN_ID.into(),
            Zeroizing::new(crate::harness::ADMIN_SECRET.into()),
        ));
        let mut cb = node_config(&backend, "b", &kek);
        cb.admin = ca.admin.clone();
        let a = TestServer::start(ca, TestClock::new(now_ms())).await;
        let s = setup(&a).await;
        let b = TestServer::start(cb, TestClock::new(now_ms())).await;
        for round in 0..4 {
            let (status, v) = start(
                &a,
                &s.client_id,
                json!({"additionalParams": {"username": "cy",
                                            "externalToken": legacy_token(&a, &s.key, "cy")}}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{} {v}", backend.name);
            let id = v["interaction_id"].as_str().unwrap().to_string();
            let body = json!({"option": "client_input", "data": {}});
            let (ra, rb) =
                tokio::join!(submit(&a, &id, body.clone()), submit(&b, &id, body.clone()));
            let ok = [ra.0, rb.0]
                .iter()
                .filter(|s| **s == StatusCode::OK)
                .count();
            assert_eq!(ok, 1, "round {round}: {ra:?} {rb:?}");
            let (won, lost) = if ra.0 == StatusCode::OK {
                (&ra, &rb)
            } else {
                (&rb, &ra)
            };
            assert_eq!(lost.0, StatusCode::CONFLICT, "{lost:?}");
            assert_eq!(lost.1["error_code"], "invalid_state");
            // The run goes on from the winner's state, on the other node.
            let next = won.1["interaction_id"].as_str().unwrap().to_string();
            let (status, v) = submit(
                &b,
                &next,
                json!({"option": "client_input", "data": {"nickname": "C"}}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{v}");
            assert_eq!(v["type"], "journey_success", "{v}");
        }
        a.stop().await;
        b.stop().await;
    }
}

/// CORS: only origins in the client's `allowed_origins` get the grant, on preflights and on
/// answers (errors too, so a page can read them); other origins get none.
#[tokio::test]
async fn cross_origin_calls_need_an_allowed_origin() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv).await;
        let page = "http://127.0.0.1:9999";
        let (app_id, client_id, _) = srv
            .app_and_client(&s.admin, json!({"allowed_origins": [page]}))
            .await;
        // Only serialized origins are accepted.
        let (status, v) = srv
            .send_json(
                Method::PUT,
                &format!("/cis/v1/applications/{app_id}/clients/{client_id}"),
                &s.admin,
                Some(json!({"allowed_origins": ["https://a.example/"]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        let start_path =
            format!("/ido/api/v2/journeys/migrate-legacy-user/start?clientId={client_id}");
        let preflight = |origin: &'static str, path: String| {
            let srv = &srv;
            async move {
                srv.http
                    .request(reqwest::Method::OPTIONS, srv.url(&path))
                    .header("origin", origin)
                    .header("access-control-request-method", "POST")
                    .header("access-control-request-headers", "content-type")
                    .send()
                    .await
                    .unwrap()
            }
        };
        let r = preflight(page, start_path.clone()).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{}", b.name);
        assert_eq!(r.headers()["access-control-allow-origin"], page);
        assert!(r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
        let r = preflight("https://evil.example", start_path.clone()).await;
        assert!(r.headers().get("access-control-allow-origin").is_none());
        // The client of the first setup allows no origin at all.
        let r = preflight(
            page,
            format!(
                "/ido/api/v2/journeys/migrate-legacy-user/start?clientId={}",
                s.client_id
            ),
        )
        .await;
        assert!(r.headers().get("access-control-allow-origin").is_none());

        let r = srv
            .http
            .post(srv.url(&start_path))
            .header("origin", page)
            .json(&json!({"additionalParams": {"username": "dee",
                          "externalToken": legacy_token(&srv, &s.key, "dee")}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["access-control-allow-origin"], page);
        assert_eq!(r.headers()["vary"], "Origin");
        let v: Value = r.json().await.unwrap();
        let id = v["interaction_id"].as_str().unwrap().to_string();
        let submit_path = format!("/ido/api/v2/interactions/{id}/submit");
        let r = preflight(page, submit_path.clone()).await;
        assert_eq!(r.headers()["access-control-allow-origin"], page);
        let r = preflight("https://evil.example", submit_path.clone()).await;
        assert!(r.headers().get("access-control-allow-origin").is_none());
        // An error answer (an option not offered) still carries the grant.
        let r = srv
            .http
            .post(srv.url(&submit_path))
            .header("origin", page)
            .json(&json!({"option": "nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["access-control-allow-origin"], page);
        // Without Origin (a backend), no CORS headers at all.
        let r = srv
            .http
            .post(srv.url(&submit_path))
            .json(&json!({"option": "client_input", "data": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        srv.stop().await;
    }
}

const BACKEND_JOURNEY: &str = r#"
id: legacy-backend-login
type: backend_api
steps:
  - id: legacy
    type: custom_authentication
    username: "@policy.request().body.username"
    token: "@policy.request().body.token"
    validator: legacy
    amr: "legacy.api"
    on_failure: refused
  - id: done
    type: http_complete
    status: 200
    body: "{user: @policy.userContext(), tokens: @policy.userTokens()}"
  - id: refused
    type: http_complete
    status: 401
    body: "{error: error.code}"
"#;

/// Custom authentication in a backend journey: `@policy.userTokens()` yields tokens of the
/// invoking client for the authenticated user (the custom amr in them, a live session); a
/// token of another user takes the failure branch.
#[tokio::test]
async fn a_backend_journey_authenticates_and_hands_out_user_tokens() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv).await;
        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/legacy-backend-login"))
            .bearer_auth(&s.admin)
            .header("content-type", "application/yaml")
            .body(BACKEND_JOURNEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        let client_token = srv.token(&s.client_id, &s.secret).await;
        srv.create_user(&client_token, json!({"username": "erin"}))
            .await;
        let invoke = |token: String| {
            let srv = &srv;
            let client_token = &client_token;
            let client_id = &s.client_id;
            async move {
                let r = srv
                    .http
                    .post(srv.url(&format!(
                        "/ido/api/v2/invoke-api-journey/legacy-backend-login?clientId={client_id}"
                    )))
                    .bearer_auth(client_token)
                    .json(&json!({"username": "erin", "token": token}))
                    .send()
                    .await
                    .unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, v) = invoke(legacy_token(&srv, &s.key, "erin")).await;
        assert_eq!(status, StatusCode::OK, "{} {v}", b.name);
        assert_eq!(v["user"]["username"], "erin");
        let at = claims(v["tokens"]["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["legacy.api"]), "{at}");
        assert_eq!(at["client_id"], s.client_id);
        let session_id = v["tokens"]["session_id"].as_str().unwrap();
        let (status, silent) = srv
            .post(
                "/cis/v1/auth/session/authenticate",
                &client_token,
                json!({"session_id": session_id}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{silent}");

        let (status, v) = invoke(legacy_token(&srv, &s.key, "mallory")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
        assert!(v["error"].is_string(), "{v}");
        srv.stop().await;
    }
}

/// A journey sets how long its waiting steps wait (`interaction_expiry_minutes`); only
/// client journeys may.
#[tokio::test]
async fn a_journey_sets_how_long_an_interaction_waits() {
    for b in backends().await {
        let srv = b.start().await;
        let s = setup(&srv).await;
        let upload = |id: &'static str, text: String| {
            let srv = &srv;
            let admin = &s.admin;
            async move {
                srv.http
                    .put(srv.url(&format!("/ido/api/v2/journeys/{id}")))
                    .bearer_auth(admin)
                    .header("content-type", "application/yaml")
                    .body(text)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let quick = JOURNEY
            .replace("id: migrate-legacy-user", "id: quick")
            .replace(
                "type: client\n",
                "type: client\ninteraction_expiry_minutes: 1\n",
            );
        assert_eq!(upload("quick", quick).await.status(), StatusCode::OK);
        let r = upload(
            "bad",
            "id: bad\ntype: backend_api\ninteraction_expiry_minutes: 5\nsteps:\n  - id: done\n    type: http_complete\n    status: 200\n".into(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let (status, v) = post(
            &srv,
            &format!("/ido/api/v2/journeys/quick/start?clientId={}", s.client_id),
            json!({"additionalParams": {"username": "fay",
                                        "externalToken": legacy_token(&srv, &s.key, "fay")}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{} {v}", b.name);
        let id = v["interaction_id"].as_str().unwrap().to_string();
        srv.clock.advance_s(50);
        let (status, v) = submit(&srv, &id, json!({"option": "client_input", "data": {}})).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let id = v["interaction_id"].as_str().unwrap().to_string();
        srv.clock.advance_s(61);
        let (status, v) = submit(&srv, &id, json!({"option": "client_input", "data": {}})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(v["error_code"], "no_active_journey");
        srv.stop().await;
    }
}

/// Anyone may start a journey naming any enabled client, so starts are limited per client
/// (`rate_limits.journey_start_per_client`): beyond it, 429 with `Retry-After`.
#[tokio::test]
async fn journey_starts_are_rate_limited_per_client() {
    for b in backends().await {
        let mut config = b.config();
        config.rate_limits.journey_start_per_client =
            tessera_identity::ratelimit::Limit::new(2, 60);
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let s = setup(&srv).await;
        for _ in 0..2 {
            let (status, v) = start(&srv, &s.client_id, json!({})).await;
            assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
        }
        let r = srv
            .http
            .post(srv.url(&format!(
                "/ido/api/v2/journeys/migrate-legacy-user/start?clientId={}",
                s.client_id
            )))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{}", b.name);
        assert!(r.headers().contains_key("retry-after"));
        srv.stop().await;
    }
}
