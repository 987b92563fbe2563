//! The HTTP surface of Tessera: axum routers, extractors, the error → HTTP mapping, metrics
//! and the OpenAPI document.
//!
//! Architecture invariant: this crate knows HTTP and nothing about SQL; it turns requests into
//! calls on the identity components and results into responses. Every route is one row of
//! the route table (`table()`), with who may call it; errors become responses only in
//! `error.rs`.

pub mod cookies;
pub mod error;
pub mod extract;
pub mod hosted;
pub mod metrics;
pub mod openapi;
pub mod respond;
pub mod routes;
pub mod state;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use tessera_identity::{Code, Error, Identity, Permission};

pub use error::{ApiError, OAuthApiError};
pub use metrics::Metrics;
pub use state::{ApiConfig, AppState};

use crate::metrics::{RequestLabels, RouteLabel, RouteLabels};
use crate::routes::{
    admin, auth, authorize, ciba, client_journeys, journeys, oidc, ops, passwords, sdk, settings,
    users,
};

/// Builds the shared state (serializing the discovery document once).
pub fn app_state(identity: Arc<Identity>, config: ApiConfig) -> AppState {
    let discovery = oidc::discovery_document(identity.issuer());
    AppState::new(state::Shared {
        identity,
        config,
        metrics: Metrics::new(),
        discovery,
    })
}

/// Who may call an endpoint. The handler's parameter types enforce it (the gate's proofs,
/// `extract.rs`); this column of the route table documents it, and the end-to-end
/// authorization test holds every route of the table to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A client authenticating with its secret at an OAuth endpoint (form or HTTP Basic).
    ClientAuth,
    /// A client token of the management application.
    Admin,
    /// A client token whose client holds the permission (admins hold all).
    Permission(Permission),
    /// A live user access token.
    User,
    /// A client token of the `clientId` when the journey enforces its token; else anyone.
    JourneyClient,
    /// Anyone; the `clientId` query parameter must name an enabled client (browser-facing
    /// client-journey start: a public client id proves nothing, so it only selects settings).
    NamedClient,
    /// Anyone holding the interaction id (256 random bits `start` handed out).
    Interaction,
}

/// One method of one path, with who may call it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// The route table: every endpoint and the router built from the same rows, so the list of
/// endpoints (for the OpenAPI and authorization tests) cannot drift from what is served.
struct Table {
    endpoints: Vec<Endpoint>,
    router: Router<AppState>,
}

impl Table {
    fn new() -> Self {
        Self {
            endpoints: Vec::new(),
            router: Router::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            Method::PATCH => MethodFilter::PATCH,
            Method::DELETE => MethodFilter::DELETE,
            Method::OPTIONS => MethodFilter::OPTIONS,
            _ => MethodFilter::GET,
        };
        self.router = self.router.route(path, on(filter, handler));
        self.endpoints.push(Endpoint {
            method,
            path,
            access,
        });
        self
    }
}

fn table() -> Table {
    use Access::{Admin, ClientAuth, JourneyClient, Public, User};
    use Method as M;
    let p = Access::Permission;
    let mut t = Table::new();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oidc/.well-known/openid-configuration",
        "/cis/oidc/.well-known/openid-configuration",
    ] {
        t = t.add(M::GET, path, Public, oidc::discovery);
    }
    t = t
        .add(M::GET, "/oidc/jwks", Public, oidc::jwks)
        .add(M::GET, "/cis/oidc/jwks", Public, oidc::jwks)
        .add(M::POST, "/oidc/token", ClientAuth, oidc::token)
        .add(M::POST, "/cis/oidc/token", ClientAuth, oidc::token)
        .add(M::POST, "/oidc/introspect", ClientAuth, oidc::introspect)
        .add(
            M::POST,
            "/cis/oidc/introspect",
            ClientAuth,
            oidc::introspect,
        )
        .add(M::POST, "/oidc/revoke", ClientAuth, oidc::revoke)
        .add(M::POST, "/cis/oidc/revoke", ClientAuth, oidc::revoke)
        // The platform's revocation path; discovery keeps naming /oidc/revoke.
        .add(M::POST, "/oidc/token/revocation", ClientAuth, oidc::revoke)
        .add(
            M::POST,
            "/cis/oidc/token/revocation",
            ClientAuth,
            oidc::revoke,
        )
        .add(M::POST, "/oidc/backchannel", ClientAuth, ciba::backchannel)
        .add(
            M::POST,
            "/cis/oidc/backchannel",
            ClientAuth,
            ciba::backchannel,
        )
        .add(
            M::POST,
            "/cis/auth/backchannel/complete",
            User,
            ciba::complete,
        )
        .add(
            M::POST,
            "/cis/v1/auth/backchannel/complete",
            User,
            ciba::complete,
        )
        .add(M::GET, "/oidc/auth", Public, authorize::authorize_get)
        .add(M::POST, "/oidc/auth", Public, authorize::authorize_post)
        .add(M::GET, "/cis/oidc/auth", Public, authorize::authorize_get)
        .add(M::POST, "/cis/oidc/auth", Public, authorize::authorize_post)
        .add(M::GET, authorize::LOGIN_PATH, Public, authorize::login)
        .add(
            M::POST,
            hosted::LOGIN_COMPLETE_PATH,
            Public,
            authorize::login_complete,
        )
        .add(M::GET, "/oidc/userinfo", User, auth::userinfo)
        .add(M::POST, "/oidc/userinfo", User, auth::userinfo);
    let apps = "/cis/v1/applications";
    let app = "/cis/v1/applications/{app_id}";
    let clients = "/cis/v1/applications/{app_id}/clients";
    let client = "/cis/v1/applications/{app_id}/clients/{client_id}";
    t = t
        .add(M::POST, apps, Admin, admin::create_application)
        .add(M::GET, apps, Admin, admin::list_applications)
        .add(M::GET, app, Admin, admin::get_application)
        .add(M::PUT, app, Admin, admin::update_application)
        .add(M::DELETE, app, Admin, admin::delete_application)
        .add(M::POST, clients, Admin, admin::create_client)
        .add(M::GET, clients, Admin, admin::list_clients)
        .add(M::GET, client, Admin, admin::get_client)
        .add(M::PUT, client, Admin, admin::update_client)
        .add(M::DELETE, client, Admin, admin::delete_client)
        .add(
            M::POST,
            "/cis/v1/applications/{app_id}/clients/{client_id}/secret",
            Admin,
            admin::rotate_client_secret,
        )
        .add(M::POST, "/cis/v1/keys/rotate", Admin, admin::rotate_keys)
        .add(
            M::GET,
            "/cis/v1/login-preferences",
            Admin,
            settings::get_login_preferences,
        )
        .add(
            M::PUT,
            "/cis/v1/login-preferences",
            Admin,
            settings::put_login_preferences,
        )
        .add(
            M::GET,
            "/cis/v1/loginPreferences/{app_id}",
            Admin,
            settings::get_app_login_preferences,
        )
        .add(
            M::PUT,
            "/cis/v1/loginPreferences/{app_id}/authMethods",
            Admin,
            settings::put_app_auth_methods,
        )
        .add(
            M::GET,
            "/cis/v1/dev/outbox",
            Admin,
            settings::list_dev_outbox,
        );
    let user = "/cis/v1/users/{user_id}";
    t = t
        .add(
            M::POST,
            "/cis/v1/users",
            p(Permission::UsersWrite),
            users::create_user,
        )
        .add(
            M::GET,
            "/cis/v1/users",
            p(Permission::UsersRead),
            users::list_users,
        )
        .add(M::GET, user, p(Permission::UsersRead), users::get_user)
        .add(M::PUT, user, p(Permission::UsersWrite), users::update_user)
        .add(
            M::PATCH,
            user,
            p(Permission::UsersWrite),
            users::update_user,
        )
        .add(
            M::DELETE,
            user,
            p(Permission::UsersWrite),
            users::delete_user,
        )
        .add(
            M::GET,
            "/cis/v1/users/username/{username}",
            p(Permission::UsersRead),
            users::get_user_by_username,
        )
        .add(
            M::GET,
            "/cis/v1/users/email/{email}",
            p(Permission::UsersRead),
            users::get_user_by_email,
        )
        .add(
            M::GET,
            "/cis/v1/users/phone-number/{phone_number}",
            p(Permission::UsersRead),
            users::get_user_by_phone_number,
        )
        .add(
            M::POST,
            "/cis/v1/users/{user_id}/password",
            p(Permission::UsersWrite),
            passwords::add_password,
        )
        .add(
            M::PUT,
            "/cis/v1/users/{user_id}/password",
            p(Permission::UsersWrite),
            passwords::replace_password,
        )
        .add(
            M::GET,
            "/cis/v1/users/external-user-id/{external_user_id}",
            p(Permission::UsersRead),
            users::get_user_by_external_user_id,
        )
        .add(
            M::DELETE,
            "/cis/v1/users/{user_id}/apps",
            p(Permission::UsersWrite),
            users::remove_user_from_app,
        )
        .add(
            M::DELETE,
            "/cis/v1/manage/users/{user_id}",
            Admin,
            users::delete_tenant_user,
        );
    let a = p(Permission::Auth);
    let s = p(Permission::Sessions);
    t = t
        .add(
            M::POST,
            "/cis/v1/auth/password/authenticate",
            a,
            auth::password_authenticate,
        )
        .add(
            M::POST,
            "/cis/v1/auth/password/reset/email/link",
            a,
            passwords::reset_link_send,
        )
        .add(
            M::POST,
            "/cis/v1/auth/password/reset/email/otp",
            a,
            passwords::reset_email_otp_send,
        )
        .add(
            M::POST,
            "/cis/v1/auth/password/reset/email/otp/validate",
            a,
            passwords::reset_email_otp_validate,
        )
        .add(
            M::POST,
            "/cis/v1/auth/password/reset/sms/otp",
            a,
            passwords::reset_sms_otp_send,
        )
        .add(
            M::POST,
            "/cis/v1/auth/password/reset/sms/otp/validate",
            a,
            passwords::reset_sms_otp_validate,
        )
        .add(M::POST, "/cis/v1/auth/password/reset", a, passwords::reset)
        .add(
            M::POST,
            "/cis/v1/auth/password/validate",
            a,
            passwords::validate,
        )
        .add(
            M::POST,
            "/cis/v1/auth/session/authenticate",
            s,
            auth::session_authenticate,
        )
        .add(
            M::POST,
            "/cis/v1/auth/session/logout",
            s,
            auth::session_logout,
        )
        .add(M::POST, "/cis/v1/auth/logout", User, auth::logout_caller)
        .add(
            M::GET,
            "/cis/v1/auth/users/{user_id}/sessions",
            s,
            auth::user_sessions,
        )
        .add(
            M::DELETE,
            "/cis/v1/auth/users/{user_id}/sessions",
            s,
            auth::logout_user,
        )
        .add(
            M::POST,
            "/cis/v1/auth/token/refresh",
            a,
            auth::token_refresh,
        )
        .add(M::POST, "/cis/v1/auth/otp/send", a, auth::otp_send)
        .add(
            M::POST,
            "/cis/v1/auth/otp/authenticate",
            a,
            auth::otp_authenticate,
        )
        .add(
            M::POST,
            "/cis/v1/auth/link/email/send",
            a,
            auth::magic_link_send,
        )
        .add(
            M::POST,
            "/cis/v1/auth/link/email/authenticate",
            a,
            auth::magic_link_authenticate,
        );
    let journey = "/ido/api/v2/journeys/{journey_id}";
    let connection = "/ido/api/v2/connections/{name}";
    let invoke = "/ido/api/v2/invoke-api-journey/{journey_id}";
    t = t
        .add(
            M::GET,
            "/ido/api/v2/journeys",
            Admin,
            journeys::list_journeys,
        )
        .add(M::GET, journey, Admin, journeys::get_journey)
        .add(M::PUT, journey, Admin, journeys::put_journey)
        .add(M::DELETE, journey, Admin, journeys::delete_journey)
        .add(
            M::GET,
            "/ido/api/v2/journeys/{journey_id}/runs/{trace_id}",
            Admin,
            journeys::get_trace,
        )
        .add(
            M::GET,
            "/ido/api/v2/connections",
            Admin,
            journeys::list_connections,
        )
        .add(M::GET, connection, Admin, journeys::get_connection)
        .add(M::PUT, connection, Admin, journeys::put_connection)
        .add(M::DELETE, connection, Admin, journeys::delete_connection)
        .add(M::POST, invoke, JourneyClient, journeys::invoke)
        .add(M::GET, invoke, JourneyClient, journeys::invoke)
        .add(
            M::POST,
            "/ido/api/v2/journeys/{journey_id}/start",
            Access::NamedClient,
            client_journeys::start,
        )
        .add(
            M::POST,
            "/ido/api/v2/interactions/{interaction_id}/submit",
            Access::Interaction,
            client_journeys::submit,
        )
        .add(
            M::OPTIONS,
            "/ido/api/v2/journeys/{journey_id}/start",
            Public,
            client_journeys::start_preflight,
        )
        .add(
            M::OPTIONS,
            "/ido/api/v2/interactions/{interaction_id}/submit",
            Public,
            client_journeys::submit_preflight,
        )
        .add(
            M::GET,
            "/ido/sdk/tessera-ido.js",
            Public,
            sdk::tessera_ido_js,
        )
        .add(M::GET, "/oidc/assets/{name}", Public, hosted::asset);
    t.add(M::GET, "/healthz", Public, ops::healthz)
        .add(M::GET, "/readyz", Public, ops::readyz)
        .add(M::GET, "/metrics", Public, ops::metrics)
        .add(M::GET, "/openapi.json", Public, ops::openapi)
}

/// Every endpoint the router serves, with who may call it.
pub fn endpoints() -> Vec<Endpoint> {
    table().endpoints
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    table()
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(refuse_bodies_of_reads))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> Response {
    ApiError(Error::new(Code::NotFound, "route not found")).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError(Code::MethodNotAllowed.into()).into_response()
}

/// A `GET`, `HEAD` or `OPTIONS` request with content is refused before routing (RFC 9110
/// gives such content no meaning here). Answering a large document while a large unread body
/// sits in the socket would end in a reset that can cut the answer short on the client; a
/// short 400 with `Connection: close` is read whole.
async fn refuse_bodies_of_reads(req: Request, next: Next) -> Response {
    let read_only = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if read_only && has_body {
        let mut response = ApiError(Error::invalid(
            "a GET, HEAD or OPTIONS request carries no content",
        ))
        .into_response();
        crate::error::close_connection(&mut response);
        return response;
    }
    next.run(req).await
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
