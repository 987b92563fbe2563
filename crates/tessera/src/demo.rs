//! `tessera demo`: a throwaway server to try client and backend journeys in one command.
//!
//! It starts a node on a fresh SQLite data dir (a new temp dir, deleted at exit, or an empty
//! `--data-dir`, kept) with the development outbox on and `outbound.allow_cidrs =
//! 127.0.0.0/8`, then sets it up through the admin and user APIs like an operator would: a
//! demo application and client, a demo user, the `legacy` token_validator connection and
//! the example journeys (`validate-transaction`, `migrate-legacy-user`,
//! `migrate-legacy-user-fallback`). A second listener on 127.0.0.1 (random port) serves
//! - `POST /validate`: a TOY legacy token validator (SPEC §7.4 contract: `{user_id, token}`)
//!   that accepts exactly the token `legacy-<user_id>`. It authenticates nobody for real and
//!   exists only inside this command;
//! - `/demo/`: the demo page (`examples/web`, embedded), whose origin is in the demo client's
//!   `allowed_origins`, so it calls Tessera's journey routes directly (CORS).
//!
//! Then it prints the values and the curl commands that exercise the journeys, and runs
//! until Ctrl-C (or SIGTERM).

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use axum::body::Bytes;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tessera_identity::SystemClock;

use crate::config::{load_raw, Config, Overrides};
use crate::server::{self, MigrateMode};

const INDEX_HTML: &str = include_str!("../../../examples/web/index.html");
const APP_JS: &str = include_str!("../../../examples/web/app.js");
const VALIDATE_TRANSACTION: &str =
    include_str!("../../../examples/journeys/validate-transaction.yaml");
const MIGRATE_LEGACY_USER: &str =
    include_str!("../../../examples/journeys/migrate-legacy-user.yaml");
const MIGRATE_LEGACY_USER_FALLBACK: &str =
    include_str!("../../../examples/journeys/migrate-legacy-user-fallback.yaml");

/// The demo user, and the token the toy validator accepts for it.
pub const DEMO_USERNAME: &str = "ann";
pub const DEMO_EMAIL: &str = "ann@example.com";
/// A fixed PKCE pair (verifier and its S256 challenge) for the printed commands; a real app
/// makes a new verifier per run.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mJ92K1rn2B8aY9d6Kw4dNy5r3l6xkVl";
pub const PKCE_CHALLENGE: &str = "mNHTXepW0Zp42KplcqHoFXoVE7BFj3yvTvKzgKSJjS8";
/// Example tokens for `validate-transaction` (unsigned-looking JWTs; `extractTokenClaims`
/// only decodes them): exp 2030-01-01, the ID token has `amr: ["pwd","mfa"]`.
const EXAMPLE_ACCESS_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTg5MzQ1NjAwMH0.c2lnbmF0dXJl";
const EXAMPLE_ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTg5MzQ1NjAwMCwiYW1yIjpbInB3ZCIsIm1mYSJdfQ.c2lnbmF0dXJl";

/// `tessera demo` options.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Tessera's address (default 127.0.0.1:8080; `127.0.0.1:0` for any free port).
    pub listen: Option<String>,
    /// An empty or new directory to keep the data in; default a new temp dir, deleted at exit.
    pub data_dir: Option<PathBuf>,
    /// Log filter (default `warn`).
    pub log_level: Option<String>,
}

/// The toy token validator: `{user_id, token}` is valid iff `token == "legacy-<user_id>"`.
/// It stands in for a legacy system in the demo and must never guard anything real.
pub fn toy_token_is_valid(user_id: &str, token: &str) -> bool {
    !user_id.is_empty() && token.strip_prefix("legacy-") == Some(user_id)
}

/// Runs the demo until `stop` resolves.
pub async fn run(options: DemoOptions, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    let (data_dir, temporary) = match &options.data_dir {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .with_context(|| format!("reading {}", dir.display()))?
                    .next()
                    .is_some()
            {
                bail!(
                    "{} is not empty: `tessera demo` needs a fresh data dir",
                    dir.display()
                );
            }
            (dir.clone(), false)
        }
        None => (new_temp_dir()?, true),
    };
    let result = run_in(&options, &data_dir, temporary, stop).await;
    if temporary {
        if let Err(e) = std::fs::remove_dir_all(&data_dir) {
            eprintln!("warning: could not delete {}: {e}", data_dir.display());
        }
    }
    result
}

async fn run_in(
    options: &DemoOptions,
    data_dir: &Path,
    temporary: bool,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let config = demo_config(options, data_dir)?;
    crate::telemetry::init(config.log_format, &config.log_level)?;

    // The helper listener first: the `legacy` connection points at it.
    let helper = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo helper listener")?;

    let srv = server::start(config, Arc::new(SystemClock), MigrateMode::Default).await?;
    let base = format!("http://{}", srv.addr);
    let result = match srv.generated_admin.clone() {
        None => Err(anyhow!(
            "the data dir already had a tenant: `tessera demo` needs a fresh data dir"
        )),
        Some(admin) => {
            serve_demo(
                helper,
                &base,
                &admin,
                Paths {
                    data_dir,
                    temporary,
                },
                stop,
            )
            .await
        }
    };
    let stopped = srv.shutdown().await;
    result.and(stopped)
}

struct Paths<'a> {
    data_dir: &'a Path,
    temporary: bool,
}

/// Sets the demo up, serves the helper listener, prints the instructions and waits for
/// `stop`; the helper listener is closed on return.
async fn serve_demo(
    helper: tokio::net::TcpListener,
    base: &str,
    admin: &tessera_identity::tenant::AdminCredentials,
    paths: Paths<'_>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let page_origin = format!("http://{}", helper.local_addr()?);
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| anyhow!("building the HTTP client: {e}"))?;
    let (helper_stop_tx, helper_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let page_url = Arc::new(std::sync::OnceLock::new());
    let helper_task = tokio::spawn(
        axum::serve(helper, helper_router(page_url.clone()))
            .with_graceful_shutdown(async {
                let _ = helper_stop_rx.await;
            })
            .into_future(),
    );
    let result = match setup(
        &http,
        base,
        &admin.client_id,
        &admin.client_secret,
        &page_origin,
    )
    .await
    {
        Ok(demo) => {
            let _ = page_url.set(page_path(base, &demo.client_id));
            println!(
                "{}",
                instructions(
                    base,
                    &page_origin,
                    paths.data_dir,
                    paths.temporary,
                    &demo,
                    &paths.data_dir.join("admin-credentials.json")
                )
            );
            stop.await;
            Ok(())
        }
        Err(e) => Err(e.context("setting up the demo")),
    };
    let _ = helper_stop_tx.send(());
    let _ = helper_task.await;
    result
}

/// SQLite in `data_dir`, the outbox on, outbound calls to 127.0.0.0/8 allowed; the process
/// environment is not read (a demo must not pick up a production database URL).
fn demo_config(options: &DemoOptions, data_dir: &Path) -> Result<Config> {
    let mut env = BTreeMap::new();
    env.insert(
        "TESSERA_OUTBOUND__ALLOW_CIDRS".to_string(),
        "127.0.0.0/8".to_string(),
    );
    let flags = Overrides {
        listen: Some(
            options
                .listen
                .clone()
                .unwrap_or_else(|| crate::config::DEFAULT_LISTEN.to_string()),
        ),
        issuer: None,
        data_dir: Some(data_dir.to_path_buf()),
        database_url: None,
        log_format: None,
        log_level: Some(
            options
                .log_level
                .clone()
                .unwrap_or_else(|| "warn".to_string()),
        ),
        dev_outbox: true,
        tls_cert: None,
        tls_key: None,
    };
    Config::resolve(load_raw(None, &env, &flags)?)
}

/// A new directory under the system temp dir (mode 0700).
fn new_temp_dir() -> Result<PathBuf> {
    use tessera_identity::Clock;
    let stamp = SystemClock.now_ms();
    let mut attempt = 0u32;
    loop {
        let dir = std::env::temp_dir().join(format!(
            "tessera-demo-{}-{stamp:x}-{attempt}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
}

/// What the set-up created.
struct Demo {
    client_id: String,
    client_secret: String,
}

/// Creates the demo application, client, user, connection and journeys through the API.
async fn setup(
    http: &reqwest::Client,
    base: &str,
    admin_id: &str,
    admin_secret: &str,
    page_origin: &str,
) -> Result<Demo> {
    let admin = client_token(http, base, admin_id, admin_secret).await?;
    let (status, app) = call(
        http,
        Method::POST,
        &format!("{base}/cis/v1/applications"),
        &admin,
        json!({"name": "Demo app"}),
    )
    .await?;
    if status != StatusCode::CREATED {
        bail!("creating the demo application: {status} {app}");
    }
    let app_id = app["result"]["app_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no app_id in {app}"))?;
    let clients = format!("{base}/cis/v1/applications/{app_id}/clients");
    let client_body = json!({
        "name": "Demo client",
        "redirect_uris": [format!("{page_origin}/demo/index.html")],
        "allowed_origins": [page_origin],
    });
    let (status, client) = call(http, Method::POST, &clients, &admin, client_body).await?;
    if status != StatusCode::CREATED {
        bail!("creating the demo client: {status} {client}");
    }
    let client_id = str_field(&client, "client_id")?;
    let client_secret = str_field(&client, "client_secret")?;

    let token = client_token(http, base, &client_id, &client_secret).await?;
    let (status, user) = call(
        http,
        Method::POST,
        &format!("{base}/cis/v1/users"),
        &token,
        json!({"username": DEMO_USERNAME, "email": DEMO_EMAIL}),
    )
    .await?;
    if status != StatusCode::CREATED {
        bail!("creating the demo user: {status} {user}");
    }

    let (status, v) = call(
        http,
        Method::PUT,
        &format!("{base}/ido/api/v2/connections/legacy"),
        &admin,
        json!({"type": "token_validator", "url": format!("{page_origin}/validate"),
               "valid_when": "status == 200 && body.valid == true", "timeout_ms": 3000}),
    )
    .await?;
    if !status.is_success() {
        bail!("creating the `legacy` connection: {status} {v}");
    }
    for (id, text) in [
        ("validate-transaction", VALIDATE_TRANSACTION),
        ("migrate-legacy-user", MIGRATE_LEGACY_USER),
        ("migrate-legacy-user-fallback", MIGRATE_LEGACY_USER_FALLBACK),
    ] {
        let r = http
            .put(format!("{base}/ido/api/v2/journeys/{id}"))
            .bearer_auth(&admin)
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(text)
            .send()
            .await
            .with_context(|| format!("uploading the journey `{id}`"))?;
        let status = r.status();
        if !status.is_success() {
            let text = r.text().await.unwrap_or_default();
            bail!("uploading the journey `{id}`: {status} {text}");
        }
    }
    Ok(Demo {
        client_id,
        client_secret,
    })
}

fn str_field(v: &Value, name: &str) -> Result<String> {
    v[name]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no {name} in {v}"))
}

async fn client_token(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    secret: &str,
) -> Result<String> {
    let r = http
        .post(format!("{base}/oidc/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .context("asking for a client token")?;
    let status = r.status();
    let v: Value = r.json().await.context("reading the token answer")?;
    if status != StatusCode::OK {
        bail!("client token: {status} {v}");
    }
    str_field(&v, "access_token")
}

async fn call(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: &str,
    body: Value,
) -> Result<(StatusCode, Value)> {
    let r = http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// The helper listener: the toy validator and the demo page. `/` and `/demo/` redirect to
/// the page with the demo's values once they exist.
fn helper_router(page_url: Arc<std::sync::OnceLock<String>>) -> Router {
    let to_page = move || {
        let page_url = page_url.clone();
        async move {
            Redirect::to(
                page_url
                    .get()
                    .map(String::as_str)
                    .unwrap_or("/demo/index.html"),
            )
        }
    };
    Router::new()
        .route("/validate", post(validate))
        .route("/", get(to_page.clone()))
        .route("/demo/", get(to_page))
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

/// The toy validator (SPEC §7.4 `token_validator` contract).
async fn validate(body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let user_id = v["user_id"].as_str().unwrap_or_default();
    let token = v["token"].as_str().unwrap_or_default();
    if toy_token_is_valid(user_id, token) {
        (StatusCode::OK, Json(json!({"valid": true}))).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, Json(json!({"valid": false}))).into_response()
    }
}

/// The demo page with the form prefilled for the demo user (path and query).
fn page_path(tessera: &str, client_id: &str) -> String {
    format!(
        "/demo/index.html?serverPath={tessera}/ido&clientId={client_id}&journeyId=migrate-legacy-user&username={DEMO_USERNAME}&externalToken=legacy-{DEMO_USERNAME}&amr=legacy.sso"
    )
}

/// The text printed once the demo is ready: values, then commands.
fn instructions(
    base: &str,
    page_origin: &str,
    data_dir: &Path,
    temporary: bool,
    demo: &Demo,
    admin_file: &Path,
) -> String {
    let Demo {
        client_id,
        client_secret,
    } = demo;
    let page = format!("{page_origin}{}", page_path(base, client_id));
    let kept = if temporary {
        "deleted when the demo stops"
    } else {
        "kept"
    };
    format!(
        r#"Tessera demo is running. Ctrl-C stops it.

  Tessera:        {base}
  Data dir:       {data_dir} ({kept}; SQLite, development outbox on)
  Admin client:   cat {admin_file}
  client_id:      {client_id}
  client_secret:  {client_secret}
  Demo user:      {DEMO_USERNAME} ({DEMO_EMAIL})
  Legacy token:   legacy-{DEMO_USERNAME}
  Validator:      {page_origin}/validate
  Demo page:      {page}

The validator is a TOY that stands in for a legacy system: it accepts the token
"legacy-<username>" for any username and nothing else. It exists only inside `tessera demo`.
Journeys: migrate-legacy-user (custom authentication from additionalParams, creates unknown
users, then an email OTP: users without an email cannot finish), migrate-legacy-user-fallback (no creation, failures end in a rejection) and
validate-transaction (backend API journey). The demo page's origin is in the demo client's
allowed_origins: it calls Tessera directly.

Try it with curl (and jq):

  TESSERA={base}
  CLIENT_ID={client_id}
  CLIENT_SECRET={client_secret}

  # 1. Start the migration journey with the legacy login's values (PKCE S256):
  INTERACTION_ID=$(curl -s -X POST "$TESSERA/ido/api/v2/journeys/migrate-legacy-user/start?clientId=$CLIENT_ID" \
    -H 'Content-Type: application/json' \
    -d '{{"additionalParams": {{"username": "{DEMO_USERNAME}", "externalToken": "legacy-{DEMO_USERNAME}", "amr": "legacy.sso"}},
         "code_challenge": "{PKCE_CHALLENGE}", "code_challenge_method": "S256"}}' \
    | tee /dev/stderr | jq -r .interaction_id)

  # 2. The journey emailed a passcode (second factor). The development outbox keeps it;
  #    reading the outbox takes the admin client:
  ADMIN_FILE={admin_file}
  ADMIN=$(curl -s "$TESSERA/oidc/token" -d grant_type=client_credentials \
    -d "client_id=$(jq -r .client_id "$ADMIN_FILE")" \
    -d "client_secret=$(jq -r .client_secret "$ADMIN_FILE")" | jq -r .access_token)
  PASSCODE=$(curl -s "$TESSERA/cis/v1/dev/outbox?to={DEMO_EMAIL}" -H "Authorization: Bearer $ADMIN" \
    | jq -r '.[0].text' | grep -oE '[0-9]{{6,}}' | head -n 1)
  CODE=$(curl -s -X POST "$TESSERA/ido/api/v2/interactions/$INTERACTION_ID/submit" \
    -H 'Content-Type: application/json' -d "{{\"option\": \"client_input\", \"data\": {{\"passcode\": \"$PASSCODE\"}}}}" \
    | tee /dev/stderr | jq -r .code)

  # 3. The app's backend exchanges the one-time code (60 s, single use) for tokens:
  curl -s "$TESSERA/oidc/token" -d grant_type=authorization_code \
    -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET" \
    -d "code=$CODE" -d code_verifier={PKCE_VERIFIER} | jq .

  # A token the legacy system does not accept (the run is rejected):
  curl -s -X POST "$TESSERA/ido/api/v2/journeys/migrate-legacy-user/start?clientId=$CLIENT_ID" \
    -H 'Content-Type: application/json' \
    -d '{{"additionalParams": {{"username": "{DEMO_USERNAME}", "externalToken": "forged"}}}}' | jq .

  # The backend API journey validate-transaction, with a client token:
  CLIENT_TOKEN=$(curl -s "$TESSERA/oidc/token" -d grant_type=client_credentials \
    -d "client_id=$CLIENT_ID" -d "client_secret=$CLIENT_SECRET" | jq -r .access_token)
  curl -s -X POST "$TESSERA/ido/api/v2/invoke-api-journey/validate-transaction?clientId=$CLIENT_ID" \
    -H "Authorization: Bearer $CLIENT_TOKEN" -H 'Content-Type: application/json' \
    -d '{{"external_access_token": "{EXAMPLE_ACCESS_TOKEN}",
         "external_id_token": "{EXAMPLE_ID_TOKEN}"}}'
"#,
        data_dir = data_dir.display(),
        admin_file = admin_file.display(),
    )
}

/// Parses `host:port` for `--listen` early, so a typo is reported before anything starts.
pub fn check_listen(listen: &str) -> Result<SocketAddr> {
    listen
        .parse()
        .map_err(|e| anyhow!("--listen {listen}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toy_validator_accepts_only_legacy_dash_username() {
        assert!(toy_token_is_valid("ann", "legacy-ann"));
        assert!(!toy_token_is_valid("ann", "legacy-bob"));
        assert!(!toy_token_is_valid("ann", "ann"));
        assert!(!toy_token_is_valid("", "legacy-"));
        assert!(!toy_token_is_valid("ann", ""));
    }
}
