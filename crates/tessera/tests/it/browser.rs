//! The JavaScript client `tessera-ido.js` and the demo page `examples/web/` in headless
//! Chromium, driven over the W3C WebDriver protocol (Debian's `chromedriver`, spoken to with
//! reqwest: new session, navigate, find element, send keys, click, get text, execute script).
//!
//! - `the_sdk_is_served`: Tessera serves the module (no browser).
//! - `the_js_client_speaks_the_protocol`: the demo page and the module against a test-local
//!   mock of the two journey calls (information → collect, with a rejected input → success
//!   with a code), then the module's error codes, state and options from a script.
//! - `the_demo_page_runs_the_migration_journey`: the demo page against a real Tessera, from
//!   start to tokens (ignored until the server side of client journeys lands).
//!
//! Without `/usr/bin/chromedriver` and `/usr/bin/chromium` (or the paths in
//! `TESSERA_CHROMEDRIVER` / `TESSERA_CHROMIUM`) the browser tests pass with a notice
//! (developer machines); with `TESSERA_REQUIRE_CHROMIUM=1` (set by `.ci/run`, which
//! installs the packages) they fail instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_identity::TestClock;

use crate::harness::{backends, claims, now_ms, paths, TestServer, ALL_PERMISSIONS};
use crate::webdriver::{ChromeDriver, WAIT};

/// An async script answering the id of the focused element once the page's script has moved
/// the focus (polled inside the page, up to 10 s), or "" if it never does.
const FOCUSED_ID: &str = "const done = arguments[0]; const t0 = Date.now(); \
     (function check() { const id = document.activeElement && document.activeElement.id; \
     if (id || Date.now() - t0 > 10000) { done(id || ''); } else { setTimeout(check, 20); } })();";
const SDK_PATH: &str = "/ido/sdk/tessera-ido.js";
const INDEX_HTML: &str = include_str!("../../../../examples/web/index.html");
const APP_JS: &str = include_str!("../../../../examples/web/app.js");

// ---------------------------------------------------------------------------------------------
// Test-local servers.

/// Serves `router` on a free loopback port; its origin (`http://127.0.0.1:PORT`).
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    origin
}

/// The demo page's files under `/demo/`.
fn demo_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/demo/index.html",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    INDEX_HTML,
                )
            }),
        )
        .route(
            "/demo/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP_JS,
                )
            }),
        )
}

/// What the mock of the journey calls saw.
#[derive(Default)]
struct Mock {
    sdk: String,
    /// (journey id, clientId, body) per start.
    starts: Vec<(String, String, Value)>,
    /// (interaction id, body) per submit.
    submits: Vec<(String, Value)>,
    /// Interactions answered already (a second submit is a replay).
    used: Vec<String>,
}

type SharedMock = Arc<Mutex<Mock>>;

fn error(status: AxumStatus, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error_code": code, "message": message})),
    )
        .into_response()
}

fn waiting(interaction: &str, step: &str, data: Value, options: Value) -> Response {
    Json(json!({
        "interaction_id": interaction,
        "journey_step_id": step,
        "type": "client_input_required",
        "data": data,
        "client_response_options": options,
    }))
    .into_response()
}

fn collect_step(interaction: &str, error_data: Option<Value>) -> Response {
    let mut v = json!({
        "interaction_id": interaction,
        "journey_step_id": "profile",
        "type": "client_input_required",
        "data": {"fields": [{"name": "nickname", "type": "string", "required": true, "label": "Nickname"}]},
        "client_response_options": {"client_input": {"id": "client_input", "type": "client_input"}},
    });
    if let Some(e) = error_data {
        v["error_data"] = e;
    }
    Json(v).into_response()
}

async fn mock_start(
    State(mock): State<SharedMock>,
    Path(journey_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let client_id = query.get("clientId").cloned().unwrap_or_default();
    let n = {
        let mut m = mock.lock().unwrap();
        m.starts.push((journey_id.clone(), client_id.clone(), body));
        m.starts.len()
    };
    if client_id != "demo-client" {
        return error(AxumStatus::BAD_REQUEST, "invalid_request", "unknown client");
    }
    // Each start its own interaction: `i-info`, then `i-info-2`, ….
    let interaction = if n == 1 {
        "i-info".to_string()
    } else {
        format!("i-info-{n}")
    };
    match journey_id.as_str() {
        "migrate-legacy-user" => waiting(
            &interaction,
            "welcome",
            json!({"title": "Welcome back", "text": "We are moving your account.", "button_text": "Continue"}),
            json!({
                "client_input": {"id": "client_input", "type": "client_input"},
                "cancel": {"id": "cancel", "type": "cancel", "label": "Cancel"},
            }),
        ),
        "broken" => error(AxumStatus::INTERNAL_SERVER_ERROR, "internal", "boom"),
        _ => error(AxumStatus::NOT_FOUND, "not_found", "no such journey"),
    }
}

async fn mock_submit(
    State(mock): State<SharedMock>,
    Path(interaction): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut m = mock.lock().unwrap();
    m.submits.push((interaction.clone(), body.clone()));
    if m.used.contains(&interaction) {
        return error(AxumStatus::CONFLICT, "invalid_state", "already answered");
    }
    let step = if interaction.starts_with("i-info") {
        "info"
    } else if interaction == "i-collect" || interaction == "i-collect-2" {
        "collect"
    } else {
        ""
    };
    if step.is_empty() {
        return error(
            AxumStatus::NOT_FOUND,
            "no_active_journey",
            "no such interaction",
        );
    }
    m.used.push(interaction.clone());
    let option = body["option"].as_str().unwrap_or_default();
    match (step, option) {
        (_, "cancel") => Json(json!({
            "interaction_id": interaction,
            "journey_step_id": "action:rejection",
            "type": "journey_rejection",
            "data": {"reason": "cancelled"},
            "client_response_options": {},
        }))
        .into_response(),
        ("info", "client_input") => collect_step("i-collect", None),
        ("collect", "client_input") => {
            let nickname = body["data"]["nickname"].as_str().unwrap_or_default();
            if nickname.is_empty() || nickname == "bad" {
                collect_step(
                    "i-collect-2",
                    Some(
                        json!({"code": "invalid_input", "message": "nickname is not allowed", "fields": ["nickname"]}),
                    ),
                )
            } else {
                Json(json!({
                    "interaction_id": interaction,
                    "journey_step_id": "action:success",
                    "type": "journey_success",
                    "data": {"nickname": nickname},
                    "client_response_options": {},
                    "code": "code-123",
                }))
                .into_response()
            }
        }
        _ => error(AxumStatus::BAD_REQUEST, "invalid_request", "unknown option"),
    }
}

/// The mock: the demo page, the module (as Tessera served it) and the two journey calls, all
/// on one origin.
async fn mock_server(sdk: String) -> (String, SharedMock) {
    let mock: SharedMock = Arc::new(Mutex::new(Mock {
        sdk,
        ..Mock::default()
    }));
    let router = demo_routes::<SharedMock>()
        .route(
            SDK_PATH,
            get(|State(m): State<SharedMock>| async move {
                let sdk = m.lock().unwrap().sdk.clone();
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    sdk,
                )
            }),
        )
        .route("/ido/api/v2/journeys/{journey_id}/start", post(mock_start))
        .route(
            "/ido/api/v2/interactions/{interaction_id}/submit",
            post(mock_submit),
        )
        .with_state(mock.clone());
    (serve(router).await, mock)
}

/// GETs the module from Tessera, checking its headers; its text.
async fn fetch_sdk(srv: &TestServer) -> String {
    let r = srv.http.get(srv.url(SDK_PATH)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=3600");
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(h["x-content-type-options"], "nosniff");
    r.text().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn the_sdk_is_served() {
    for b in backends().await {
        let srv = b.start().await;
        let text = fetch_sdk(&srv).await;
        assert_eq!(text, tessera_api::routes::sdk::TESSERA_IDO_JS, "{}", b.name);
        for name in ["initialize", "startJourney", "submitClientResponse"] {
            assert!(text.contains(&format!("function {name}")), "{name}");
        }
        // Public: a bearer token is not needed, and a garbage one changes nothing.
        let r = srv
            .http
            .get(srv.url(SDK_PATH))
            .bearer_auth("garbage")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        srv.stop().await;
    }
}

/// Checks of the module itself, run in the page after the demo's journey ended (the page's
/// module instance, so its state is the demo's). `arguments[0]` is the server path.
const MODULE_CHECKS: &str = r#"
const done = arguments[arguments.length - 1];
const serverPath = arguments[0];
const caught = async (f) => { try { await f(); return null; } catch (e) { return e; } };
(async () => {
  const m = await import(serverPath + "/sdk/tessera-ido.js");
  const out = {};
  out.enums = [m.ClientResponseOptionType.ClientInput, m.ClientResponseOptionType.Cancel,
    m.ClientResponseOptionType.Custom, m.IdoServiceResponseType.JourneySuccess,
    m.IdoServiceResponseType.ClientInputRequired, m.IdoServiceResponseType.JourneyRejection];
  // The journey ended: nothing waits.
  out.afterEnd = await caught(() => m.submitClientResponse("client_input", {}));
  out.stateAfterEnd = JSON.parse(m.serializeState());
  // A replayed interaction (restored from a state saved before it was answered).
  m.restoreFromSerializedState(JSON.stringify({v: 1, clientId: "demo-client", serverPath, interactionId: "i-info"}));
  out.replay = await caught(() => m.submitClientResponse("client_input", {}));
  m.restoreFromSerializedState(JSON.stringify({v: 1, clientId: "demo-client", serverPath, interactionId: "nope"}));
  out.unknown = await caught(() => m.submitClientResponse("client_input", {}));
  out.badState = await caught(() => m.restoreFromSerializedState("{not json"));
  // A new journey with a PKCE challenge, saved and restored, then cancelled.
  m.initialize({clientId: "demo-client", serverPath});
  const first = await m.startJourney("migrate-legacy-user", {additionalParams: {username: "bob"}, codeChallenge: "abc_DEF-123"});
  out.firstKeys = Object.keys(first).sort();
  out.first = first;
  const saved = m.serializeState();
  out.saved = JSON.parse(saved);
  m.initialize({clientId: "other", serverPath: "http://127.0.0.1:9/ido"});
  m.restoreFromSerializedState(saved);
  out.cancelled = await m.submitClientResponse(m.ClientResponseOptionType.Cancel);
  out.badOption = await caught(() => m.submitClientResponse("", {}));
  // Server answers mapped to error codes.
  out.serverError = await caught(() => m.startJourney("broken", {}));
  out.notFound = await caught(() => m.startJourney("missing", {}));
  out.badParams = await caught(() => m.startJourney("migrate-legacy-user", {additionalParams: "x"}));
  m.initialize({clientId: "someone-else", serverPath});
  out.badClient = await caught(() => m.startJourney("migrate-legacy-user", {}));
  m.initialize({clientId: "demo-client", serverPath: "http://127.0.0.1:9/ido"});
  out.network = await caught(() => m.startJourney("migrate-legacy-user", {}));
  out.badInit = await caught(() => m.initialize({serverPath}));
  out.platformInit = await caught(() => m.initialize({clientId: "demo-client", ido: {serverPath}}));
  // A fresh instance of the module: not initialized.
  const fresh = await import(serverPath + "/sdk/tessera-ido.js?fresh");
  out.notInitialized = await caught(() => fresh.startJourney("migrate-legacy-user", {}));
  out.notInitializedState = await caught(() => fresh.serializeState());
  return out;
})().then(done, (e) => done({scriptFailed: String(e && e.stack || JSON.stringify(e))}));
"#;

#[tokio::test]
async fn the_js_client_speaks_the_protocol() {
    // The module exactly as Tessera serves it.
    let backend = backends().await.remove(0);
    let srv = backend.start().await;
    let sdk = fetch_sdk(&srv).await;
    let Some(driver) = ChromeDriver::start().await else {
        srv.stop().await;
        return;
    };
    let (origin, mock) = mock_server(sdk).await;
    let server_path = format!("{origin}/ido");
    let browser = driver.session().await;

    browser
        .navigate(&format!(
            "{origin}/demo/index.html?clientId=demo-client&serverPath={server_path}"
        ))
        .await;
    assert_eq!(
        browser.wait_text("#start-heading", "legacy").await,
        "Sign in with your legacy account"
    );
    browser.fill("#username", "ann").await;
    browser.fill("#external-token", "legacy-token").await;
    browser.fill("#amr", "legacy.sso").await;
    browser.click("#start").await;

    // information: title, text, the button's text, and the cancel option.
    browser.wait_text("#step-heading", "Welcome back").await;
    assert_eq!(
        browser.text("#step-text").await.unwrap(),
        "We are moving your account."
    );
    assert_eq!(browser.text("#step-submit").await.unwrap(), "Continue");
    assert_eq!(browser.text("#option-cancel").await.unwrap(), "Cancel");
    assert_eq!(browser.text("#step-id").await.unwrap(), "Step: welcome");
    browser.click("#step-submit").await;

    // collect: one labelled input per field; a rejected value shows the server's message.
    browser.wait_text("#step-id", "Step: profile").await;
    assert_eq!(
        browser.text("label[for=field-nickname]").await.unwrap(),
        "Nickname"
    );
    browser.fill("#field-nickname", "bad").await;
    browser.click("#step-submit").await;
    browser
        .wait_text("#step-error", "nickname is not allowed")
        .await;
    browser.fill("#field-nickname", "Nick").await;
    browser.click("#step-submit").await;

    // The result and the code.
    browser.wait_text("#result-type", "journey_success").await;
    assert_eq!(browser.text("#result-code").await.unwrap(), "code-123");
    assert!(browser
        .text("#result-data")
        .await
        .unwrap()
        .contains("\"nickname\": \"Nick\""));

    {
        let m = mock.lock().unwrap();
        assert_eq!(
            m.starts,
            vec![(
                "migrate-legacy-user".to_string(),
                "demo-client".to_string(),
                json!({"additionalParams": {"username": "ann", "externalToken": "legacy-token", "amr": "legacy.sso"}}),
            )]
        );
        let submits: Vec<(&str, &Value)> = m.submits.iter().map(|(i, b)| (i.as_str(), b)).collect();
        assert_eq!(
            submits,
            vec![
                ("i-info", &json!({"option": "client_input", "data": {}})),
                (
                    "i-collect",
                    &json!({"option": "client_input", "data": {"nickname": "bad"}})
                ),
                (
                    "i-collect-2",
                    &json!({"option": "client_input", "data": {"nickname": "Nick"}})
                ),
            ]
        );
    }

    // The module's surface, from a script in the same page.
    let out = browser.run_async(MODULE_CHECKS, json!([server_path])).await;
    assert!(out.get("scriptFailed").is_none(), "{out}");
    assert_eq!(
        out["enums"],
        json!([
            "client_input",
            "cancel",
            "custom",
            "journey_success",
            "client_input_required",
            "journey_rejection"
        ])
    );
    let code = |k: &str| out[k]["errorCode"].as_str().unwrap_or_default().to_string();
    assert_eq!(code("afterEnd"), "no_active_journey", "{out}");
    assert_eq!(out["stateAfterEnd"]["interactionId"], Value::Null);
    assert_eq!(out["stateAfterEnd"]["clientId"], "demo-client");
    assert_eq!(code("replay"), "invalid_state", "{out}");
    assert_eq!(out["replay"]["description"], "already answered");
    assert_eq!(code("unknown"), "no_active_journey", "{out}");
    assert_eq!(code("badState"), "invalid_state", "{out}");
    assert_eq!(
        out["firstKeys"],
        json!([
            "clientResponseOptions",
            "data",
            "errorData",
            "journeyStepId",
            "type"
        ])
    );
    assert_eq!(out["first"]["journeyStepId"], "welcome");
    assert_eq!(out["first"]["type"], "client_input_required");
    assert_eq!(out["first"]["errorData"], Value::Null);
    assert_eq!(
        out["first"]["clientResponseOptions"]["cancel"],
        json!({"id": "cancel", "type": "cancel", "label": "Cancel"})
    );
    assert_eq!(out["saved"]["interactionId"], "i-info-2");
    assert_eq!(out["cancelled"]["type"], "journey_rejection");
    assert_eq!(out["cancelled"]["journeyStepId"], "action:rejection");
    assert_eq!(out["cancelled"]["data"], json!({"reason": "cancelled"}));
    assert_eq!(code("badOption"), "no_active_journey", "{out}");
    assert_eq!(code("serverError"), "server_error", "{out}");
    assert_eq!(code("notFound"), "no_active_journey", "{out}");
    assert_eq!(code("badParams"), "client_response_not_valid", "{out}");
    assert_eq!(code("badClient"), "client_response_not_valid", "{out}");
    assert_eq!(out["badClient"]["description"], "unknown client");
    assert_eq!(code("network"), "network_error", "{out}");
    assert_eq!(code("badInit"), "invalid_initialization_options", "{out}");
    assert_eq!(out["platformInit"], Value::Null, "{out}");
    assert_eq!(code("notInitialized"), "not_initialized", "{out}");
    assert_eq!(code("notInitializedState"), "not_initialized", "{out}");
    {
        let m = mock.lock().unwrap();
        // The PKCE challenge went with the second start; the cancel to its interaction.
        assert_eq!(
            m.starts[1].2,
            json!({"additionalParams": {"username": "bob"}, "code_challenge": "abc_DEF-123", "code_challenge_method": "S256"})
        );
        assert!(m
            .submits
            .iter()
            .any(|(i, b)| i == "i-info-2" && b == &json!({"option": "cancel", "data": {}})));
    }

    // A page on another origin loads the module straight from Tessera (a module script is
    // fetched in CORS mode).
    let loaded = browser
        .run_async(
            r#"const done = arguments[arguments.length - 1];
               import(arguments[0]).then(
                 (m) => done([typeof m.initialize, typeof m.default.startJourney]),
                 (e) => done(String(e)));"#,
            json!([srv.url(SDK_PATH)]),
        )
        .await;
    assert_eq!(loaded, json!(["function", "function"]));
    browser.quit();
    srv.stop().await;
}

/// A legacy system's token validator: `{user_id, token}` is valid iff the token is
/// `legacy-<user_id>`.
async fn legacy_validator() -> String {
    let router = Router::new().route(
        "/validate",
        post(|Json(body): Json<Value>| async move {
            let user = body["user_id"].as_str().unwrap_or_default();
            if !user.is_empty() && body["token"] == format!("legacy-{user}") {
                (AxumStatus::OK, Json(json!({"valid": true})))
            } else {
                (AxumStatus::UNAUTHORIZED, Json(json!({"valid": false})))
            }
        }),
    );
    format!("{}/validate", serve(router).await)
}

#[tokio::test]
async fn the_demo_page_runs_the_migration_journey() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    let journey = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/journeys/migrate-legacy-user.yaml"
    ))
    .expect("examples/journeys/migrate-legacy-user.yaml");
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        // The demo page on its own origin, allowed by the client.
        let page_origin = serve(demo_routes::<()>()).await;
        let (_, client_id, secret) = srv
            .app_and_client(
                &admin,
                json!({"permissions": ALL_PERMISSIONS, "allowed_origins": [page_origin]}),
            )
            .await;
        let token = srv.token(&client_id, &secret).await;
        srv.create_user(
            &token,
            json!({"username": "ann", "email": "ann@example.com"}),
        )
        .await;
        let validator = legacy_validator().await;
        let (s, v) = srv
            .send_json(
                Method::PUT,
                "/ido/api/v2/connections/legacy",
                &admin,
                Some(json!({"type": "token_validator", "url": validator,
                            "valid_when": "status == 200 && body.valid == true"})),
            )
            .await;
        assert!(s.is_success(), "{} {v}", b.name);
        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/migrate-legacy-user"))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(journey.clone())
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{} {}",
            b.name,
            r.text().await.unwrap()
        );

        let browser = driver.session().await;
        browser
            .navigate(&format!(
                "{page_origin}/demo/index.html?clientId={client_id}&serverPath={}/ido",
                srv.base
            ))
            .await;
        browser.fill("#username", "ann").await;
        browser.fill("#external-token", "legacy-ann").await;
        browser.fill("#amr", "legacy.sso").await;
        browser.click("#start").await;

        // The email OTP (second factor): the passcode from the development outbox.
        browser.find("#field-passcode").await;
        let (s, outbox) = srv
            .send_json(
                Method::GET,
                &format!("{}?to=ann@example.com", paths::OUTBOX),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{outbox}");
        let text = outbox[0]["text"].as_str().unwrap();
        let passcode: String = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() >= 6)
            .unwrap()
            .to_string();
        browser.fill("#field-passcode", &passcode).await;
        browser.click("#step-submit").await;

        browser.wait_text("#result-type", "journey_success").await;
        let code = browser.text("#result-code").await.unwrap();
        assert!(!code.is_empty(), "{}", b.name);
        browser.quit();

        // The app's backend exchanges the code.
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                    ("code", &code),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        let tokens: Value = r.json().await.unwrap();
        let amr = claims(tokens["access_token"].as_str().unwrap())["amr"].clone();
        assert!(
            amr.as_array().unwrap().contains(&json!("legacy.sso")),
            "{} {amr}",
            b.name
        );
        srv.stop().await;
    }
}

/// `tessera demo`'s page in Chromium: the printed URL, prefilled for the demo user, runs the
/// migration journey through the helper listener (no CORS set-up) to a code whose tokens
/// carry the custom amr.
#[tokio::test]
async fn the_page_of_tessera_demo_runs_the_migration_journey() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    let (_demo, values, _) = crate::demo::start_demo();
    let base = values["Tessera"].clone();
    let data_dir = values["Data dir"]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let browser = driver.session().await;
    browser.navigate(&values["Demo page"]).await;
    browser.click("#start").await;
    // The email OTP (second factor): the passcode from the development outbox.
    browser.find("#field-passcode").await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let admin = crate::demo::admin_token(&http, &base, &data_dir).await;
    let passcode = crate::demo::passcode(&http, &base, &admin, "ann@example.com").await;
    browser.fill("#field-passcode", &passcode).await;
    browser.click("#step-submit").await;
    browser.wait_text("#result-type", "journey_success").await;
    let code = browser.text("#result-code").await.unwrap();
    assert!(!code.is_empty());
    browser.quit();

    let r = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/oidc/token", values["Tessera"]))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", values["client_id"].as_str()),
            ("client_secret", values["client_secret"].as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let at = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["amr"], json!(["legacy.sso", "eotp", "mfa"]), "{at}");
}

// ---------------------------------------------------------------------------------------------
// The hosted pages (`tessera_api::hosted`) in Chromium against a real Tessera.

const PASSWORD_JOURNEY: &str =
    include_str!("../../../identity/src/builtin_journeys/tessera-login-password.yaml");

/// What the test origin's completion routes received: (path, form pairs) per POST.
type Posts = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

/// Forwards a request to Tessera (`upstream`) and its answer back: the test origin serves the
/// hosted page itself and passes `/ido/…` and `/oidc/assets/…` through, so the page's script
/// talks to the real server on its own origin, as it does when Tessera serves the page.
async fn forward(upstream: String, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let target = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let method = Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut r = http.request(method, target).body(bytes.to_vec());
    for name in [header::CONTENT_TYPE, header::IF_NONE_MATCH] {
        if let Some(v) = parts.headers.get(&name) {
            r = r.header(name.as_str(), v.to_str().unwrap());
        }
    }
    let answer = r.send().await.unwrap();
    let status = AxumStatus::from_u16(answer.status().as_u16()).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::ETAG, header::CACHE_CONTROL] {
        if let Some(v) = answer.headers().get(name.as_str()) {
            headers.insert(
                name,
                axum::http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
    }
    let body = answer.bytes().await.unwrap();
    (status, headers, body).into_response()
}

/// A test origin serving the login page and a CIBA approval page for `client_id` (rendered by
/// `tessera_api::hosted`), passing the journey calls and assets through to `upstream`, and
/// capturing what the pages' forms POST.
async fn hosted_origin(
    upstream: &str,
    client_id: &str,
    journey_id: &str,
    challenge: &str,
    posts: Posts,
) -> String {
    use tessera_api::hosted::{self, JourneyStart, PageContext};
    let journey = JourneyStart {
        client_id: client_id.to_string(),
        journey_id: journey_id.into(),
        code_challenge: challenge.to_string(),
        login_hint: Some("ann".into()),
    };
    let login = hosted::LoginPage {
        ctx: PageContext::new(hosted::choose_lang(None, None)),
        client_name: "Shop <b>&</b>".into(),
        journey: journey.clone(),
        request: "req-1".into(),
        csrf: "csrf-1".into(),
    };
    let ciba = hosted::CibaApprovalPage {
        ctx: PageContext::new(hosted::choose_lang(Some("en-GB"), None)),
        client_name: "Bank".into(),
        binding_message: Some("AB12 </p><script>".into()),
        journey: JourneyStart {
            login_hint: None,
            ..journey
        },
        action: "/ciba/decide".into(),
        csrf: "csrf-2".into(),
        hidden: vec![("auth_req".into(), "r-9".into())],
    };
    let capture = |path: &'static str, posts: Posts| {
        post(
            move |axum::Form(pairs): axum::Form<Vec<(String, String)>>| async move {
                posts.lock().unwrap().push((path.to_string(), pairs));
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<!DOCTYPE html><title>done</title><p id=\"done\">done</p>",
                )
            },
        )
    };
    let (up1, up2) = (upstream.to_string(), upstream.to_string());
    let router = Router::new()
        .route(
            "/oidc/login",
            get(move || async move { hosted::login_page(&login) }),
        )
        .route(
            "/ciba",
            get(move || async move { hosted::ciba_approval_page(&ciba) }),
        )
        .route(
            "/ido/{*rest}",
            axum::routing::any(move |req| forward(up1.clone(), req)),
        )
        .route(
            "/oidc/assets/{name}",
            get(move |req| forward(up2.clone(), req)),
        )
        .route(
            "/oidc/login/complete",
            capture("/oidc/login/complete", posts.clone()),
        )
        .route("/ciba/decide", capture("/ciba/decide", posts));
    serve(router).await
}

/// Waits until the test origin captured a POST to `path`; its form pairs.
async fn wait_post(posts: &Posts, path: &str) -> HashMap<String, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some((_, pairs)) = posts.lock().unwrap().iter().find(|(p, _)| p == path) {
            return pairs.iter().cloned().collect();
        }
        assert!(Instant::now() < deadline, "no POST to {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The hosted login page runs the built-in password journey in Chromium under its CSP
/// (no inline script): a wrong password shows the error in an alert and keeps the username,
/// the right one submits the completion form with `request`, `csrf` and a code that the
/// client redeems with the PKCE verifier. The CIBA page runs the same journey, then shows the
/// binding message (as text) and posts the decision with the code and its hidden fields.
#[tokio::test]
async fn the_hosted_login_page_runs_the_password_journey() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    for b in backends().await {
        let srv = TestServer::start(b.config(), TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv
            .app_and_client(&admin, json!({"permissions": ALL_PERMISSIONS}))
            .await;
        let token = srv.token(&client_id, &secret).await;
        srv.create_user(
            &token,
            json!({"username": "ann", "credentials": {"password": "ann-password-1"}}),
        )
        .await;
        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/tessera-login-password"))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(PASSWORD_JOURNEY)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{} {}",
            b.name,
            r.text().await.unwrap()
        );

        let verifier = "hosted-page-verifier-0123456789-abcdefghijklmnop";
        let challenge = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(tessera_jose::sha256(verifier.as_bytes()))
        };
        let posts: Posts = Arc::default();
        let origin = hosted_origin(
            &srv.base,
            &client_id,
            "tessera-login-password",
            &challenge,
            posts.clone(),
        )
        .await;
        let browser = driver.session().await;
        browser.navigate(&format!("{origin}/oidc/login")).await;
        browser
            .wait_text("#tessera-heading", "Sign in to Shop <b>&</b>")
            .await;
        // The username comes prefilled from login_hint; the focus is on the empty password.
        let focused = browser.run_async(FOCUSED_ID, json!([])).await;
        assert_eq!(focused, json!("tessera-field-password"), "{}", b.name);
        browser
            .fill("#tessera-field-password", "wrong-password")
            .await;
        browser.click("#tessera-submit").await;
        let alert = browser
            .wait_text("[role=alert]", "The username or password is incorrect.")
            .await;
        assert!(!alert.is_empty());
        let username = browser
            .run_async(
                "arguments[0](document.getElementById('tessera-field-username').value)",
                json!([]),
            )
            .await;
        assert_eq!(username, json!("ann"), "{}", b.name);
        assert!(posts.lock().unwrap().is_empty(), "{}", b.name);
        browser
            .fill("#tessera-field-password", "ann-password-1")
            .await;
        browser.click("#tessera-submit").await;
        let form = wait_post(&posts, "/oidc/login/complete").await;
        assert_eq!(form.get("request").map(String::as_str), Some("req-1"));
        assert_eq!(form.get("csrf").map(String::as_str), Some("csrf-1"));
        let code = form.get("code").cloned().unwrap_or_default();
        assert!(!code.is_empty(), "{} {form:?}", b.name);
        browser.wait_text("#done", "done").await;

        // The code is the journey's, bound to the page's challenge.
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                    ("code", &code),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        let status = r.status();
        let tokens: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{} {tokens}", b.name);
        let at = claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["pwd"]), "{} {at}", b.name);

        // The CIBA approval page: binding message as text, journey first, then the decision.
        browser.navigate(&format!("{origin}/ciba")).await;
        let binding = browser.wait_text("#tessera-binding", "AB12").await;
        assert_eq!(binding, "AB12 </p><script>", "{}", b.name);
        assert_eq!(browser.text("#tessera-approve").await.as_deref(), Some(""));
        browser.fill("#tessera-field-username", "ann").await;
        browser
            .fill("#tessera-field-password", "ann-password-1")
            .await;
        browser.click("#tessera-submit").await;
        browser.wait_text("#tessera-approve", "Approve").await;
        browser.click("#tessera-approve").await;
        let form = wait_post(&posts, "/ciba/decide").await;
        assert_eq!(form.get("decision").map(String::as_str), Some("approve"));
        assert_eq!(form.get("csrf").map(String::as_str), Some("csrf-2"));
        assert_eq!(form.get("auth_req").map(String::as_str), Some("r-9"));
        assert!(
            !form.get("code").cloned().unwrap_or_default().is_empty(),
            "{form:?}"
        );
        browser.quit();
        srv.stop().await;
    }
}

/// `GET /oidc/assets/{name}`: the script and the stylesheet with their types, an hour of
/// caching and an ETag that answers 304; the configured stylesheet replaces the built-in one;
/// any other name is a JSON 404.
#[tokio::test]
async fn the_hosted_assets_are_served() {
    for b in backends().await {
        let mut config = b.config();
        let css = "main.tessera { color: teal; }\n";
        config.hosted_stylesheet = Some(css.into());
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let r = srv
            .http
            .get(srv.url("/oidc/assets/login.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(r.text().await.unwrap(), tessera_api::hosted::LOGIN_JS);
        let r = srv
            .http
            .get(srv.url("/oidc/assets/login.js"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{}", b.name);
        assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);

        let r = srv
            .http
            .get(srv.url("/oidc/assets/tessera.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", b.name);
        assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(
            r.headers()["etag"].to_str().unwrap(),
            tessera_api::hosted::etag_of(css)
        );
        assert_eq!(r.text().await.unwrap(), css);

        for name in ["other.js", "login.js.map", "..%2Fsecret", "LOGIN.JS"] {
            let r = srv
                .http
                .get(srv.url(&format!("/oidc/assets/{name}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{} {name}", b.name);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error_code"], "not_found", "{} {name}", b.name);
        }
        srv.stop().await;
    }
    // Without a configured file, the built-in stylesheet.
    let b = &backends().await[0];
    let srv = TestServer::start(b.config(), TestClock::new(now_ms())).await;
    let r = srv
        .http
        .get(srv.url("/oidc/assets/tessera.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), tessera_api::hosted::TESSERA_CSS);
    srv.stop().await;
}

const EMAIL_OTP_JOURNEY: &str =
    include_str!("../../../identity/src/builtin_journeys/tessera-login-email-otp.yaml");

/// The hosted login page with the built-in email OTP journey: the username (prefilled from
/// login_hint), the code from the development outbox, the completion form. An unknown
/// username gets the same code form (no enumeration on the page).
#[tokio::test]
async fn the_hosted_login_page_runs_the_email_otp_journey() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    for b in backends().await {
        let mut config = b.config();
        config.delivery.outbox = true;
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let admin = srv.admin_token().await;
        let (_, client_id, secret) = srv
            .app_and_client(&admin, json!({"permissions": ALL_PERMISSIONS}))
            .await;
        let token = srv.token(&client_id, &secret).await;
        srv.create_user(
            &token,
            json!({"username": "ann", "email": "ann@example.com"}),
        )
        .await;
        let r = srv
            .http
            .put(srv.url("/ido/api/v2/journeys/tessera-login-email-otp"))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(EMAIL_OTP_JOURNEY)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{} {}",
            b.name,
            r.text().await.unwrap()
        );
        let posts: Posts = Arc::default();
        let origin = hosted_origin(
            &srv.base,
            &client_id,
            "tessera-login-email-otp",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            posts.clone(),
        )
        .await;
        let browser = driver.session().await;

        // An unknown username: the same code form, then a refusal.
        browser.navigate(&format!("{origin}/oidc/login")).await;
        browser.fill("#tessera-field-username", "nobody").await;
        browser.click("#tessera-submit").await;
        browser
            .wait_text("#tessera-step-heading", "Enter the code we sent you")
            .await;
        browser.fill("#tessera-field-passcode", "123456").await;
        browser.click("#tessera-submit").await;
        browser
            .wait_text("[role=alert]", "The code is incorrect.")
            .await;
        browser.find("#tessera-start-again").await;

        // ann: the code from the outbox.
        browser.navigate(&format!("{origin}/oidc/login")).await;
        let value = browser
            .run_async(
                "const done = arguments[0]; const f = () => { const e = document.getElementById('tessera-field-username'); e ? done(e.value) : setTimeout(f, 20); }; f();",
                json!([]),
            )
            .await;
        assert_eq!(value, json!("ann"), "{}", b.name);
        browser.click("#tessera-submit").await;
        browser
            .wait_text("#tessera-step-text", "a***@example.com")
            .await;
        let passcode = crate::demo::passcode(&srv.http, &srv.base, &admin, "ann@example.com").await;
        browser.fill("#tessera-field-passcode", &passcode).await;
        browser.click("#tessera-submit").await;
        let form = wait_post(&posts, "/oidc/login/complete").await;
        assert!(
            !form.get("code").cloned().unwrap_or_default().is_empty(),
            "{form:?}"
        );
        assert_eq!(form.get("request").map(String::as_str), Some("req-1"));
        browser.quit();
        srv.stop().await;
    }
}
