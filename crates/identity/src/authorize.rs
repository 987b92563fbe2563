//! [`Authorizations`]: the authorization endpoint (OpenID Connect Core 1.0 §3.1, RFC 6749
//! §4.1, PKCE RFC 7636, RFC 9207 `iss`) with hosted login and single sign-on.
//!
//! 1. [`Authorizations::authorize`] checks the request. An unknown client or a `redirect_uri`
//!    that is not exactly one of the client's is answered with an error page and never
//!    redirected; every other error goes back to the client as `error`, `error_description`,
//!    `state` and `iss`. A live browser session that satisfies `max_age` (and no
//!    `prompt=login`) gets a code at once (single sign-on); `prompt=none` without one gets
//!    `login_required`; otherwise the request is stored and the browser is sent to the hosted
//!    login page.
//! 2. The hosted page runs the login journey (a client journey) and posts its completion
//!    code to [`Authorizations::complete_login`], which checks the login cookie (CSRF), redeems
//!    the journey's code with the verifier only the server knows, starts or extends the
//!    browser session (its cookie token rotated) and sends the browser back with a code.
//!
//! Invariants:
//! - Browser sessions are their own kind: the cookie holds a token that is not a session id,
//!   a backend session id never finds a browser session (and the backend session APIs refuse
//!   browser sessions, `sessions.rs`).
//! - A stored request is single use (one conditional delete) and bound to the browser that
//!   began it: its login cookie's hash is stored with it and the form must repeat the cookie.
//! - A code is bound to its client, the browser session, `redirect_uri`, PKCE challenge and
//!   `nonce` (`auth_codes.rs`).
//! - Redirects go only to a registered `redirect_uri`, compared exactly.

use std::sync::Arc;

use crate::auth_codes::{valid_challenge, AuthorizationCodes};
use crate::ciba::Ciba;
use crate::clients::Clients;
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::grants::GrantParams;
use crate::issuer::normalize_scope;
use crate::journeys::JourneyService;
use crate::model::{
    AuthorizationRequestRecord, ClientRecord, CodeGrant, PkceMode, ResponseType, SessionRecord,
    StoredAuthorizationRequest, TokenEndpointAuthMethod, UserStatus,
};
use crate::ports::InteractionStore;
use crate::preferences::Preferences;
use crate::sessions::{BrowserToken, Sessions};
use crate::users::Users;
use crate::util::sha256_b64url;

/// How long a stored authorization request waits for its login.
pub const REQUEST_TTL_MS: i64 = 30 * 60_000;

/// The built-in login journeys (client journeys served from embedded definitions).
pub const PASSWORD_LOGIN_JOURNEY: &str = "tessera-login-password";
pub const EMAIL_OTP_LOGIN_JOURNEY: &str = "tessera-login-email-otp";

/// The `prompt` values this endpoint understands (discovery lists them).
pub const PROMPT_VALUES: [&str; 4] = ["none", "login", "consent", "select_account"];

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 256;
const MAX_LOCALES: usize = 64;

/// What the endpoint answers.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// An error shown to the user, never redirected (unknown client, bad `redirect_uri`).
    ErrorPage(Error),
    /// A redirect to the client: a code, or an error for it.
    Redirect(String),
    /// The hosted login: send the browser to the login page of `request_id` and set the login
    /// cookie to `csrf`.
    Login { request_id: String, csrf: String },
}

/// What the hosted login page needs to run the login journey.
#[derive(Debug, Clone)]
pub struct LoginContext {
    pub client_id: String,
    pub client_name: String,
    pub journey_id: String,
    /// The PKCE challenge the journey's completion code must be bound to.
    pub code_challenge: String,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    /// The client's `redirect_uri` (the page's form is answered with a redirect there, which
    /// the page's CSP `form-action` must allow).
    pub redirect_uri: String,
}

/// The completion form of the hosted login.
pub struct LoginCompletion<'a> {
    pub request_id: &'a str,
    /// The `csrf` form field.
    pub csrf_field: &'a str,
    /// The login cookie.
    pub csrf_cookie: Option<&'a str>,
    /// The journey's completion code.
    pub code: &'a str,
    /// The browser-session cookie, if any.
    pub session_cookie: Option<&'a str>,
}

/// A completed login: where to send the browser, and the session cookie's new token.
#[derive(Debug)]
pub struct LoginDone {
    pub redirect: String,
    pub session_token: BrowserToken,
}

/// What the hosted CIBA approval page shows and runs.
#[derive(Debug, Clone)]
pub struct CibaApproval {
    pub client_id: String,
    pub client_name: String,
    pub binding_message: Option<String>,
    pub journey_id: String,
    pub code_challenge: String,
    /// The new CSRF token (the login cookie's value and the form's `csrf` field).
    pub csrf: String,
}

/// The hosted CIBA approval page's decision form.
pub struct CibaDecision<'a> {
    pub auth_req_id: &'a str,
    pub csrf_field: &'a str,
    pub csrf_cookie: Option<&'a str>,
    /// The login journey's completion code.
    pub code: &'a str,
    pub approve: bool,
}

/// The PKCE verifier of a hosted CIBA approval, derived from its CSRF token (which only
/// this browser holds, in an HttpOnly cookie and the page).
fn ciba_verifier(csrf: &str) -> String {
    sha256_b64url(&format!("tessera ciba approval v1\0{csrf}"))
}

/// A checked request whose client and `redirect_uri` are known (so errors can be redirected).
struct Checked {
    client: Arc<ClientRecord>,
    request: StoredAuthorizationRequest,
    prompt_none: bool,
    prompt_login: bool,
    max_age: Option<i64>,
    acr_journey: bool,
}

/// An error for the client: its RFC 6749 §4.1.2.1 `error` and a description.
struct Refusal {
    error: &'static str,
    description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        error,
        description: description.into(),
    }
}

fn bad_request(description: impl Into<String>) -> Refusal {
    refuse("invalid_request", description)
}

/// The components the endpoint reaches.
pub struct AuthorizeDeps {
    pub clients: Arc<Clients>,
    pub preferences: Arc<Preferences>,
    pub journeys: Arc<JourneyService>,
    pub sessions: Arc<Sessions>,
    pub codes: Arc<AuthorizationCodes>,
    pub users: Arc<Users>,
    pub ciba: Arc<Ciba>,
}

pub struct Authorizations {
    deps: AuthorizeDeps,
    store: Arc<dyn InteractionStore>,
    clock: Arc<dyn Clock>,
    issuer: String,
}

impl Authorizations {
    pub fn new(
        deps: AuthorizeDeps,
        store: Arc<dyn InteractionStore>,
        clock: Arc<dyn Clock>,
        issuer: String,
    ) -> Self {
        Self {
            deps,
            store,
            clock,
            issuer,
        }
    }

    /// Whether cookies must be `Secure` (and `__Host-` prefixed): the issuer is https. An http
    /// issuer is the documented development exception.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// `GET|POST /oidc/auth`.
    pub async fn authorize(
        &self,
        params: &(dyn GrantParams + Sync),
        session_cookie: Option<&str>,
    ) -> AuthorizeOutcome {
        let (client, redirect_uri) = match self.client_and_redirect(params).await {
            Ok(found) => found,
            Err(e) => return AuthorizeOutcome::ErrorPage(e),
        };
        let state = params
            .single("state")
            .ok()
            .flatten()
            .filter(|s| s.len() <= MAX_STATE)
            .map(str::to_string);
        let checked = match self.check(params, client, redirect_uri.clone(), state.clone()) {
            Ok(c) => c,
            Err(r) => {
                return AuthorizeOutcome::Redirect(self.error_redirect(
                    &redirect_uri,
                    r.error,
                    &r.description,
                    state.as_deref(),
                ))
            }
        };
        match self.begin(checked, session_cookie).await {
            Ok(outcome) => outcome,
            Err(e) => {
                // A store failure: tell the client rather than strand the user.
                tracing::warn!(code = %e.code().name(), "authorization request failed");
                let error = match e.code() {
                    Code::ServiceUnavailable => "temporarily_unavailable",
                    _ => "server_error",
                };
                AuthorizeOutcome::Redirect(self.error_redirect(
                    &redirect_uri,
                    error,
                    "the request could not be processed; try again",
                    state.as_deref(),
                ))
            }
        }
    }

    /// The client and its exact `redirect_uri`, or the error page's error.
    async fn client_and_redirect(
        &self,
        params: &(dyn GrantParams + Sync),
    ) -> Result<(Arc<ClientRecord>, String), Error> {
        let client_id = params
            .single("client_id")?
            .ok_or_else(|| Error::invalid("`client_id` is required"))?;
        let client = self
            .deps
            .clients
            .record(client_id)
            .await?
            .filter(|c| c.settings().enabled)
            .ok_or_else(|| Error::invalid("`client_id` does not name an enabled client"))?;
        let redirect_uri = params
            .single("redirect_uri")?
            .ok_or_else(|| Error::invalid("`redirect_uri` is required"))?;
        if !client
            .settings()
            .redirect_uris
            .iter()
            .any(|u| u == redirect_uri)
        {
            return Err(Error::invalid(
                "`redirect_uri` is not registered for this client",
            ));
        }
        Ok((client, redirect_uri.to_string()))
    }

    /// Every other parameter (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
    fn check(
        &self,
        params: &(dyn GrantParams + Sync),
        client: Arc<ClientRecord>,
        redirect_uri: String,
        state: Option<String>,
    ) -> Result<Checked, Refusal> {
        let one = |name: &str| {
            params
                .single(name)
                .map_err(|_| bad_request(format!("`{name}` must not repeat")))
        };
        if state.is_none() && one("state")?.is_some() {
            return Err(bad_request(format!(
                "`state` is longer than {MAX_STATE} characters"
            )));
        }
        if one("request")?.is_some() {
            return Err(refuse(
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if one("request_uri")?.is_some() {
            return Err(refuse(
                "request_uri_not_supported",
                "`request_uri` is not supported",
            ));
        }
        if one("registration")?.is_some() {
            return Err(refuse(
                "registration_not_supported",
                "`registration` is not supported",
            ));
        }
        match one("response_type")? {
            None => return Err(bad_request("`response_type` is required")),
            Some("code") => {}
            Some(_) => {
                return Err(refuse(
                    "unsupported_response_type",
                    "only `response_type=code` is supported",
                ))
            }
        }
        if !client
            .settings()
            .response_types
            .contains(&ResponseType::Code)
        {
            return Err(refuse(
                "unauthorized_client",
                "the client's `response_types` do not include `code`",
            ));
        }
        match one("response_mode")? {
            None | Some("query") => {}
            Some(_) => return Err(bad_request("only `response_mode=query` is supported")),
        }
        let settings = client.settings();
        // Scope: `openid` makes it an OpenID Connect request.
        let requested = one("scope")?;
        let scope = normalize_scope(requested, &settings.allowed_scopes).map_err(|e| {
            if e.code() == Code::InvalidScope {
                refuse(
                    "invalid_scope",
                    "a requested scope is not allowed for this client",
                )
            } else {
                bad_request(e.message().to_string())
            }
        })?;
        let openid = scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|v| v == "openid"));
        let nonce = one("nonce")?.map(str::to_string);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(bad_request(format!(
                "`nonce` is longer than {MAX_NONCE} characters"
            )));
        }
        // PKCE: S256 only; required for public clients and where the client says so.
        let challenge = one("code_challenge")?;
        let method = one("code_challenge_method")?;
        let code_challenge = match (challenge, method) {
            (Some(c), None | Some("S256")) => {
                if !valid_challenge(c) {
                    return Err(bad_request(
                        "`code_challenge` must be 43 base64url characters (S256)",
                    ));
                }
                Some(c.to_string())
            }
            (Some(_), Some(_)) => {
                return Err(bad_request(
                    "only `code_challenge_method=S256` is supported",
                ))
            }
            (None, Some(_)) => {
                return Err(bad_request(
                    "`code_challenge_method` without `code_challenge`",
                ))
            }
            (None, None) => None,
        };
        let public = settings.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::None);
        let pkce_required = public
            || matches!(
                settings.pkce,
                Some(
                    PkceMode::EnforcePkceInsteadOfClientCredentials
                        | PkceMode::EnforcePkceAlongsideClientCredentials
                )
            );
        if pkce_required && code_challenge.is_none() {
            return Err(bad_request(
                "this client must use PKCE: `code_challenge` with `code_challenge_method=S256`",
            ));
        }
        // prompt.
        let mut prompt_none = false;
        let mut prompt_login = false;
        let mut prompts = 0;
        for p in one("prompt")?
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
        {
            prompts += 1;
            match p {
                "none" => prompt_none = true,
                "login" => prompt_login = true,
                // No consent screen (clients are the tenant's own) and one account per
                // browser session: nothing to ask.
                "consent" | "select_account" => {}
                _ => return Err(bad_request("`prompt` holds an unknown value")),
            }
        }
        if prompt_none && prompts > 1 {
            return Err(bad_request(
                "`prompt=none` cannot be combined with other values",
            ));
        }
        let max_age = match one("max_age")? {
            None => None,
            Some(v) => Some(
                v.parse::<i64>()
                    .ok()
                    .filter(|n| (0..=i64::from(u32::MAX)).contains(n))
                    .ok_or_else(|| bad_request("`max_age` must be a non-negative integer"))?,
            ),
        };
        let login_hint = one("login_hint")?.map(str::to_string);
        if login_hint.as_ref().is_some_and(|h| h.len() > MAX_HINT) {
            return Err(bad_request(format!(
                "`login_hint` is longer than {MAX_HINT} characters"
            )));
        }
        let ui_locales = one("ui_locales")?
            .filter(|l| l.len() <= MAX_LOCALES)
            .map(str::to_string);
        // acr_values: a login journey the client allows.
        let (journey_id, acr_journey) = match one("acr_values")? {
            Some(values) => {
                let allowed = |j: &str| {
                    settings.login_journey_id.as_deref() == Some(j)
                        || settings.login_journeys.iter().any(|a| a == j)
                };
                let chosen = values.split(' ').find(|v| allowed(v)).ok_or_else(|| {
                    bad_request("`acr_values` names no login journey this client allows")
                })?;
                (chosen.to_string(), true)
            }
            None => (self.default_journey(&client), false),
        };
        let login_verifier = tessera_jose::random_token_b64url(32)
            .map_err(|_| refuse("server_error", "randomness failed"))?;
        Ok(Checked {
            request: StoredAuthorizationRequest {
                redirect_uri,
                state,
                nonce,
                scope,
                openid,
                code_challenge,
                login_hint,
                ui_locales,
                journey_id,
                login_verifier,
            },
            client,
            prompt_none,
            prompt_login,
            max_age,
            acr_journey,
        })
    }

    /// The client's login journey, else the built-in one the login preferences of its
    /// application allow: password, else email one-time passcode.
    fn default_journey(&self, client: &ClientRecord) -> String {
        if let Some(j) = &client.settings().login_journey_id {
            return j.clone();
        }
        let prefs = self.deps.preferences.for_app(&client.app.app_id);
        if prefs.auth_methods.password || !prefs.auth_methods.email_otp {
            PASSWORD_LOGIN_JOURNEY.to_string()
        } else {
            EMAIL_OTP_LOGIN_JOURNEY.to_string()
        }
    }

    /// Single sign-on, `prompt=none`, or the hosted login.
    async fn begin(
        &self,
        checked: Checked,
        session_cookie: Option<&str>,
    ) -> Result<AuthorizeOutcome, Error> {
        let now_s = self.clock.now_s();
        let session = match session_cookie {
            Some(token) => self.live_browser_session(token).await?,
            None => None,
        };
        let fresh_enough = |s: &SessionRecord| match checked.max_age {
            Some(max_age) => now_s - s.auth_time <= max_age,
            None => true,
        };
        if let Some(session) =
            session.filter(|s| !checked.prompt_login && !checked.acr_journey && fresh_enough(s))
        {
            let url = self
                .code_redirect(&checked.client, &checked.request, &session)
                .await?;
            return Ok(AuthorizeOutcome::Redirect(url));
        }
        let request = &checked.request;
        if checked.prompt_none {
            return Ok(AuthorizeOutcome::Redirect(self.error_redirect(
                &request.redirect_uri,
                "login_required",
                "the user must log in",
                request.state.as_deref(),
            )));
        }
        if self
            .deps
            .journeys
            .compiled(&request.journey_id)
            .await?
            .is_none()
        {
            return Ok(AuthorizeOutcome::Redirect(self.error_redirect(
                &request.redirect_uri,
                "server_error",
                "the client's login journey does not exist",
                request.state.as_deref(),
            )));
        }
        let request_id = tessera_jose::random_token_b64url(32)?;
        let csrf = tessera_jose::random_token_b64url(32)?;
        let now_ms = self.clock.now_ms();
        self.store
            .create_authorization_request(&AuthorizationRequestRecord {
                request_hash: sha256_b64url(&request_id),
                client_id: checked.client.client_id().to_string(),
                request: checked.request,
                csrf_hash: sha256_b64url(&csrf),
                created_at_ms: now_ms,
                expires_at_ms: now_ms + REQUEST_TTL_MS,
            })
            .await?;
        Ok(AuthorizeOutcome::Login { request_id, csrf })
    }

    /// The live browser session behind a cookie, if its user is still active.
    async fn live_browser_session(&self, token: &str) -> Result<Option<SessionRecord>, Error> {
        let Some(session) = self.deps.sessions.browser(token).await? else {
            return Ok(None);
        };
        let active = self
            .deps
            .users
            .by_id(&session.user_id)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active);
        Ok(active.then_some(session))
    }

    /// A code for `client` bound to `session`, as a redirect to the client.
    async fn code_redirect(
        &self,
        client: &ClientRecord,
        request: &StoredAuthorizationRequest,
        session: &SessionRecord,
    ) -> Result<String, Error> {
        let code = self
            .deps
            .codes
            .issue(
                client.client_id(),
                &session.user_id,
                CodeGrant {
                    methods: session.methods.clone(),
                    auth_time: session.auth_time,
                    code_challenge: request.code_challenge.clone(),
                    redirect_uri: Some(request.redirect_uri.clone()),
                    nonce: request.nonce.clone(),
                    session: Some(session.session_hash.clone()),
                    scope: request.scope.clone(),
                    id_token: request.openid,
                },
            )
            .await?;
        let mut pairs = vec![("code", code.as_str())];
        if let Some(state) = &request.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.issuer));
        Ok(with_query(&request.redirect_uri, &pairs))
    }

    /// An error for the client (RFC 6749 §4.1.2.1, RFC 9207).
    fn error_redirect(
        &self,
        redirect_uri: &str,
        error: &str,
        description: &str,
        state: Option<&str>,
    ) -> String {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(state) = state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.issuer));
        with_query(redirect_uri, &pairs)
    }

    /// `GET /oidc/login?request=`: what the hosted login page of a pending request needs.
    pub async fn login_context(&self, request_id: &str) -> Result<LoginContext, Error> {
        let record = self.pending(request_id).await?;
        let client = self
            .deps
            .clients
            .record(&record.client_id)
            .await?
            .ok_or_else(login_expired)?;
        let r = record.request;
        Ok(LoginContext {
            client_id: record.client_id,
            client_name: client.settings().name.clone(),
            journey_id: r.journey_id,
            code_challenge: sha256_b64url(&r.login_verifier),
            login_hint: r.login_hint,
            ui_locales: r.ui_locales,
            redirect_uri: r.redirect_uri,
        })
    }

    async fn pending(&self, request_id: &str) -> Result<AuthorizationRequestRecord, Error> {
        if request_id.len() != 43 {
            return Err(login_expired());
        }
        self.store
            .get_authorization_request(&sha256_b64url(request_id), self.clock.now_ms())
            .await?
            .ok_or_else(login_expired)
    }

    /// `POST /oidc/login/complete`: the hosted login's journey completed with `code`.
    pub async fn complete_login(&self, form: LoginCompletion<'_>) -> Result<LoginDone, Error> {
        let record = self.pending(form.request_id).await?;
        // CSRF: the form repeats the login cookie, which only this browser holds (SameSite).
        let cookie_ok = form.csrf_cookie.is_some_and(|cookie| {
            tessera_jose::constant_time_eq(cookie.as_bytes(), form.csrf_field.as_bytes())
                && tessera_jose::constant_time_eq(
                    sha256_b64url(cookie).as_bytes(),
                    record.csrf_hash.as_bytes(),
                )
        });
        if !cookie_ok {
            return Err(Error::new(
                Code::Forbidden,
                "the login form does not belong to this browser's login; start again from the application",
            ));
        }
        let client = self
            .deps
            .clients
            .record(&record.client_id)
            .await?
            .filter(|c| c.settings().enabled)
            .ok_or_else(login_expired)?;
        let login = self
            .deps
            .codes
            .redeem_login(
                client.client_id(),
                form.code,
                &record.request.login_verifier,
            )
            .await?;
        // One login completes a request.
        let record = self
            .store
            .take_authorization_request(&record.request_hash, self.clock.now_ms())
            .await?
            .ok_or_else(login_expired)?;
        let user = self
            .deps
            .users
            .by_id(&login.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(|| Error::from(Code::UserNotActive))?;
        let methods = &login.grant.methods;
        let auth_time = login.grant.auth_time;
        let current = match form.session_cookie {
            Some(token) => self.deps.sessions.browser(token).await?.map(|s| (token, s)),
            None => None,
        };
        let mut renewed = None;
        if let Some((token, session)) = current {
            if session.user_id == user.user_id {
                renewed = self
                    .deps
                    .sessions
                    .relogin_browser(&session, token, methods, auth_time)
                    .await?;
            } else {
                // Another user logs in in this browser: the previous user's session ends.
                self.deps.sessions.end_by_sid(&session.session_hash).await?;
            }
        }
        let (session_token, session) = match renewed {
            Some(renewed) => renewed,
            None => {
                let lifetime = i64::from(client.settings().session_expiration);
                self.deps
                    .sessions
                    .start_browser(
                        &user.user_id,
                        client.client_id(),
                        methods,
                        auth_time,
                        lifetime,
                    )
                    .await?
            }
        };
        self.deps.users.record_authentication(&user.user_id).await?;
        let redirect = self
            .code_redirect(&client, &record.request, &session)
            .await?;
        tracing::info!(client_id = %client.client_id(), "hosted login completed");
        Ok(LoginDone {
            redirect,
            session_token,
        })
    }

    /// `GET /oidc/ciba/approve?auth_req_id=`: the hosted approval page of a pending CIBA
    /// request (SPEC §6: for clients without a `login_uri`), with a new CSRF token.
    pub async fn ciba_approval(&self, auth_req_id: &str) -> Result<CibaApproval, Error> {
        let (request, client) = self.deps.ciba.pending(auth_req_id).await?;
        let csrf = tessera_jose::random_token_b64url(32)?;
        Ok(CibaApproval {
            client_id: request.client_id.clone(),
            client_name: client.settings().name.clone(),
            binding_message: request.binding_message.clone(),
            journey_id: self.default_journey(&client),
            code_challenge: sha256_b64url(&ciba_verifier(&csrf)),
            csrf,
        })
    }

    /// `POST /oidc/ciba/approve`: the user authenticated afresh with the login journey (its
    /// code bound to this page's challenge) and decided. The user must be the request's.
    pub async fn ciba_decide(&self, form: CibaDecision<'_>) -> Result<(), Error> {
        let csrf = form
            .csrf_cookie
            .filter(|c| tessera_jose::constant_time_eq(c.as_bytes(), form.csrf_field.as_bytes()))
            .ok_or_else(|| {
                Error::new(
                    Code::Forbidden,
                    "the approval form does not belong to this browser; open the link again",
                )
            })?;
        let (request, _) = self.deps.ciba.pending(form.auth_req_id).await?;
        let login = self
            .deps
            .codes
            .redeem_login(&request.client_id, form.code, &ciba_verifier(csrf))
            .await?;
        self.deps
            .ciba
            .decide_hosted(
                &request,
                form.auth_req_id,
                &login.user_id,
                form.approve,
                login.grant.auth_time,
                &login.grant.methods,
            )
            .await
    }

    /// Housekeeping: requests past their time.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_authorization_requests(self.clock.now_ms())
            .await?;
        Ok(())
    }
}

fn login_expired() -> Error {
    Error::invalid(
        "this login has expired or was already completed; start again from the application",
    )
}

/// `uri` with the pairs appended to its query (the registered URI's own query is kept).
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        // Registered URIs are validated absolute URIs; this is not reached.
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_registered_query_and_encode_values() {
        let url = with_query(
            "https://app.example/cb?tenant=a",
            &[("code", "x y"), ("state", "s&t=1")],
        );
        assert_eq!(
            url,
            "https://app.example/cb?tenant=a&code=x+y&state=s%26t%3D1"
        );
    }
}
