//! The HTTP surface of Tessera: axum routers, extractors, the error → HTTP mapping, metrics
//! and the OpenAPI document.
//!
//! Architecture invariant: this crate knows HTTP and nothing about SQL; it turns requests into
//! calls on `tessera_identity::Identity` and results into responses. Errors become responses
//! only in `error.rs`.

pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tessera_identity::journeys::JourneyService;
use tessera_identity::Identity;

pub use error::{ApiError, OAuthApiError};
pub use metrics::Metrics;
pub use state::{ApiConfig, AppState};

use crate::metrics::{RequestLabels, RouteLabel, RouteLabels};
use crate::routes::{admin, auth, journeys, oidc, ops, settings, users};

/// Builds the shared state (serializing the discovery document once).
pub fn app_state(
    identity: Arc<Identity>,
    journeys: Arc<JourneyService>,
    config: ApiConfig,
) -> AppState {
    let discovery = oidc::discovery_document(identity.issuer());
    AppState::new(state::Shared {
        identity,
        journeys,
        config,
        metrics: Metrics::new(),
        discovery,
    })
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let discovery_paths = [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oidc/.well-known/openid-configuration",
        "/cis/oidc/.well-known/openid-configuration",
    ];
    let mut router = Router::new();
    for path in discovery_paths {
        router = router.route(path, get(oidc::discovery));
    }
    for prefix in ["/oidc", "/cis/oidc"] {
        router = router
            .route(&format!("{prefix}/jwks"), get(oidc::jwks))
            .route(&format!("{prefix}/token"), post(oidc::token))
            .route(&format!("{prefix}/introspect"), post(oidc::introspect))
            .route(&format!("{prefix}/revoke"), post(oidc::revoke));
    }
    let router = router
        .route(
            "/cis/v1/applications",
            post(admin::create_application).get(admin::list_applications),
        )
        .route(
            "/cis/v1/applications/{app_id}",
            get(admin::get_application)
                .put(admin::update_application)
                .delete(admin::delete_application),
        )
        .route(
            "/cis/v1/applications/{app_id}/clients",
            post(admin::create_client).get(admin::list_clients),
        )
        .route(
            "/cis/v1/applications/{app_id}/clients/{client_id}",
            get(admin::get_client)
                .put(admin::update_client)
                .delete(admin::delete_client),
        )
        .route(
            "/cis/v1/applications/{app_id}/clients/{client_id}/secret",
            post(admin::rotate_client_secret),
        )
        .route("/cis/v1/keys/rotate", post(admin::rotate_keys))
        .route(
            "/cis/v1/login-preferences",
            get(settings::get_login_preferences).put(settings::put_login_preferences),
        )
        .route("/cis/v1/dev/outbox", get(settings::list_dev_outbox))
        .route(
            "/cis/v1/users",
            post(users::create_user).get(users::list_users),
        )
        .route(
            "/cis/v1/users/{user_id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route(
            "/cis/v1/users/username/{username}",
            get(users::get_user_by_username),
        )
        .route(
            "/cis/v1/auth/password/authenticate",
            post(auth::password_authenticate),
        )
        .route(
            "/cis/v1/auth/session/authenticate",
            post(auth::session_authenticate),
        )
        .route("/cis/v1/auth/session/logout", post(auth::session_logout))
        .route("/cis/v1/auth/token/refresh", post(auth::token_refresh))
        .route("/cis/v1/auth/otp/send", post(auth::otp_send))
        .route(
            "/cis/v1/auth/otp/authenticate",
            post(auth::otp_authenticate),
        )
        .route("/cis/v1/auth/link/email/send", post(auth::magic_link_send))
        .route(
            "/cis/v1/auth/link/email/authenticate",
            post(auth::magic_link_authenticate),
        )
        .route("/oidc/userinfo", get(auth::userinfo).post(auth::userinfo))
        .route("/ido/api/v2/journeys", get(journeys::list_journeys))
        .route(
            "/ido/api/v2/journeys/{journey_id}",
            get(journeys::get_journey)
                .put(journeys::put_journey)
                .delete(journeys::delete_journey),
        )
        .route(
            "/ido/api/v2/journeys/{journey_id}/runs/{trace_id}",
            get(journeys::get_trace),
        )
        .route("/ido/api/v2/connections", get(journeys::list_connections))
        .route(
            "/ido/api/v2/connections/{name}",
            get(journeys::get_connection)
                .put(journeys::put_connection)
                .delete(journeys::delete_connection),
        )
        .route(
            "/ido/api/v2/invoke-api-journey/{journey_id}",
            post(journeys::invoke).get(journeys::invoke),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    router
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> Response {
    ApiError::NotFound("route").into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

static X_CONTENT_TYPE_OPTIONS: HeaderName = HeaderName::from_static("x-content-type-options");
static X_FRAME_OPTIONS: HeaderName = HeaderName::from_static("x-frame-options");

/// Per-request metrics, the request log line (method, route template, status, latency; never
/// the query string or headers) and security headers.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = RouteLabel(req.extensions().get::<MatchedPath>().cloned());
    let mut response = next.run(req).await;
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(
        method,
        route = route.as_str(),
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    let headers = response.headers_mut();
    headers.insert(
        X_CONTENT_TYPE_OPTIONS.clone(),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(X_FRAME_OPTIONS.clone(), HeaderValue::from_static("DENY"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    response
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
