//! Minimal reference token server for Tessera's benchmark (SPEC §10).
//!
//! It does only what a `client_credentials` token request strictly needs, so its throughput is
//! this machine's ceiling for that request: axum on a multi-threaded tokio runtime, form
//! parsing, a client-secret check (HMAC-SHA-256 of the presented secret compared in constant
//! time with the stored one), and ES256 signing with a key held in memory, producing a JWT
//! access token with Tessera's client-token claim set and a JSON token response.
//!
//! Usage: `tessera-bench-reference [--listen 127.0.0.1:PORT] [--client-id ID] [--client-secret S]
//! [--no-signing]`
//! (or env `LISTEN`, `CLIENT_ID`, `CLIENT_SECRET`). Endpoints: `POST /oidc/token`,
//! `GET /oidc/jwks`, `GET /healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use aws_lc_rs::{hmac, rand};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

const ACCESS_TOKEN_TTL: u64 = 3600;
const AUDIENCE: &str = "userid-api";

struct Client {
    client_id: String,
    /// HMAC-SHA-256(kek, secret), as Tessera stores client secrets.
    secret_mac: Vec<u8>,
    app_id: String,
    app_name: String,
}

struct AppState {
    issuer: String,
    client: Client,
    secret_key: hmac::Key,
    signing_key: EcdsaKeyPair,
    /// base64url of the JOSE header, computed once.
    header_b64: String,
    jwks: String,
    rng: SystemRandom,
    /// `--no-signing`: append 64 zero bytes instead of an ES256 signature. The tokens are not
    /// valid; the mode measures what the same request costs without its signature, a ceiling
    /// for any server that signs each token (bench/run's `nosign` server).
    no_signing: bool,
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
    client_id: &'a str,
    app_id: &'a str,
    app_name: &'a str,
    scope: &'a str,
    roles: [&'a str; 0],
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'a str,
    expires_in: u64,
    scope: &'a str,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description }).to_string();
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    }
    res
}

async fn token(State(st): State<Arc<AppState>>, Form(req): Form<TokenRequest>) -> Response {
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let (Some(client_id), Some(secret)) = (req.client_id.as_deref(), req.client_secret.as_deref())
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let client = &st.client;
    // Constant-time comparison of the HMAC of the presented secret with the stored one.
    if client_id != client.client_id
        || hmac::verify(&st.secret_key, secret.as_bytes(), &client.secret_mac).is_err()
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let scope = req.scope.as_deref().unwrap_or("");

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut jti_bytes = [0u8; 16];
    if st.rng.fill(&mut jti_bytes).is_err() {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "rng");
    }
    let jti = B64.encode(jti_bytes);
    let claims = Claims {
        iss: &st.issuer,
        sub: &client.client_id,
        aud: AUDIENCE,
        iat: now,
        exp: now + ACCESS_TOKEN_TTL,
        jti: &jti,
        client_id: &client.client_id,
        app_id: &client.app_id,
        app_name: &client.app_name,
        scope,
        roles: [],
    };
    let Ok(payload) = serde_json::to_vec(&claims) else {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "encode");
    };
    let mut jwt = String::with_capacity(512);
    jwt.push_str(&st.header_b64);
    jwt.push('.');
    B64.encode_string(&payload, &mut jwt);
    jwt.push('.');
    if st.no_signing {
        B64.encode_string([0u8; 64], &mut jwt);
    } else {
        let Ok(sig) = st.signing_key.sign(&st.rng, jwt.as_bytes()) else {
            return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "sign");
        };
        B64.encode_string(sig.as_ref(), &mut jwt);
    }

    let body = TokenResponse {
        access_token: &jwt,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL,
        scope,
    };
    let Ok(body) = serde_json::to_vec(&body) else {
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "encode");
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

async fn jwks_handler(State(st): State<Arc<AppState>>) -> Response {
    let mut res = st.jwks.clone().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn arg_or_env(args: &[String], flag: &str, env: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var(env).ok())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = arg_or_env(&args, "--listen", "LISTEN")
        .unwrap_or_else(|| "127.0.0.1:8090".to_string())
        .parse()?;
    let client_id =
        arg_or_env(&args, "--client-id", "CLIENT_ID").unwrap_or_else(|| "bench-client".into());
    let client_secret = arg_or_env(&args, "--client-secret", "CLIENT_SECRET")
        .ok_or("--client-secret (or env CLIENT_SECRET) is required")?;

    let rng = SystemRandom::new();
    let kek: [u8; 32] = rand::generate(&rng).map_err(|_| "rng")?.expose();
    let secret_key = hmac::Key::new(hmac::HMAC_SHA256, &kek);
    let secret_mac = hmac::sign(&secret_key, client_secret.as_bytes())
        .as_ref()
        .to_vec();

    let signing_key =
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| "keygen")?;
    let mut kid_bytes = [0u8; 8];
    rng.fill(&mut kid_bytes).map_err(|_| "rng")?;
    let kid = B64.encode(kid_bytes);
    let header_b64 =
        B64.encode(serde_json::json!({ "alg": "ES256", "typ": "at+jwt", "kid": kid }).to_string());
    // Uncompressed point: 0x04 || x (32) || y (32).
    let point = signing_key.public_key().as_ref();
    let jwks = serde_json::json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
    }]})
    .to_string();

    let state = Arc::new(AppState {
        issuer: format!("http://{listen}"),
        client: Client {
            client_id,
            secret_mac,
            app_id: "bench-app".into(),
            app_name: "bench".into(),
        },
        secret_key,
        signing_key,
        header_b64,
        jwks,
        rng,
        no_signing: args.iter().any(|a| a == "--no-signing"),
    });

    let app = Router::new()
        .route("/oidc/token", post(token))
        .route("/oidc/jwks", get(jwks_handler))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("reference listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
