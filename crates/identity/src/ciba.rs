//! [`Ciba`]: Client-Initiated Backchannel Authentication (CIBA Core 1.0, SPEC §6) in poll
//! and ping mode.
//!
//! 1. **Request** ([`Ciba::request`], `POST /oidc/backchannel`): an authenticated client with
//!    CIBA enabled names a user by exactly one hint; Tessera stores the request (keyed by
//!    the hash of a 256-bit `auth_req_id`, which is never stored) and sends the user an
//!    authentication link `{login_uri}?auth_req_id=…&binding_message=…` by SMS or email
//!    through the retrying outbox, or hands it back (`channel: link`).
//! 2. **Decision** ([`Ciba::complete`], `POST /cis/auth/backchannel/complete`): the user, with
//!    an access token from an authentication made after the request was created, approves or
//!    denies, once (one conditional update, whichever node gets it). For a ping client the
//!    decision queues the notification in the same transaction.
//! 3. **Poll** ([`Ciba::poll`], the `urn:openid:params:grant-type:ciba` grant): pending,
//!    `slow_down` (the interval grows by 5 s, enforced from then on), denied, expired, or the
//!    tokens exactly once, carrying the approving authentication's `amr` and `auth_time`.
//!
//! Invariants: a hint that names nobody who can be asked — unknown, disabled, or without a
//! verified address on the channel — gets one answer, `unknown_user_id`, after the same
//! single lookup; a refresh token only with `offline_access`; every state lives in the
//! database, so any node serves any step.

use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_delivery::Channel;
use tessera_jose::{b64url_decode, b64url_encode, Kek};
use zeroize::Zeroizing;

use crate::caller::{AuthenticatedClient, UserCaller};
use crate::claims::UserGrant;
use crate::clients::Clients;
use crate::clock::Clock;
use crate::deliveries::{Deliveries, Job};
use crate::error::{Code, Error};
use crate::gate::ACCESS_TOKEN_TYP;
use crate::issuer::{normalize_scope, IssuedTokens};
use crate::keys::Keys;
use crate::live::LiveChecks;
use crate::logins::Logins;
use crate::messages::{render, MessageTemplates, MessageVars};
use crate::model::{CibaPoll, CibaRequest, CibaStatus, ClientRecord, User, UserStatus};
use crate::ports::CibaStore;
use crate::ratelimit::RateLimiter;
use crate::settings::CibaSettings;
use crate::users::{normalize_phone, IdentifierType, Users};

/// Tessera's own approval page, for clients that register no `login_uri`.
pub const HOSTED_APPROVAL_PATH: &str = "/oidc/ciba/approve";

/// The `grant_type` of the CIBA grant.
pub const CIBA_GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";
/// Random bytes of an `auth_req_id` (256 bits; SPEC asks ≥ 160).
const AUTH_REQ_ID_BYTES: usize = 32;
/// Length of an `auth_req_id` in base64url.
const AUTH_REQ_ID_LEN: usize = 43;
/// Longest `binding_message` (characters).
const MAX_BINDING_MESSAGE: usize = 64;
/// Longest `custom_message` (characters).
const MAX_CUSTOM_MESSAGE: usize = 500;
/// Longest `client_notification_token`.
const MAX_NOTIFICATION_TOKEN: usize = 1024;
/// Longest hint or hint token we look at.
const MAX_HINT: usize = 8192;

/// An `auth_req_id`: prints as `***`.
pub struct AuthReqId(Zeroizing<String>);

impl AuthReqId {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AuthReqId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthReqId(***)")
    }
}

/// base64url(SHA-256(auth_req_id)): the stored key.
fn request_hash(auth_req_id: &str) -> String {
    crate::util::sha256_b64url(auth_req_id)
}

/// Whether `s` has the shape of an `auth_req_id` we issue (checked before any query).
fn well_formed(s: &str) -> bool {
    s.len() == AUTH_REQ_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A backchannel authentication request's parameters (form fields), as given.
#[derive(Default)]
pub struct BackchannelParams {
    pub scope: Option<String>,
    pub login_hint: Option<String>,
    pub login_hint_token: Option<String>,
    pub id_token_hint: Option<String>,
    pub binding_message: Option<String>,
    /// The JSON text of `request_context`.
    pub request_context: Option<String>,
    /// The text of `requested_expiry` (an integer of seconds).
    pub requested_expiry: Option<String>,
    pub client_notification_token: Option<String>,
}

/// The answer to a backchannel request.
#[derive(Debug)]
pub struct BackchannelResponse {
    pub auth_req_id: AuthReqId,
    pub expires_in: i64,
    pub interval: i64,
    /// With `channel: link`: the link to show the user (it holds the `auth_req_id`).
    pub auth_link: Option<Zeroizing<String>>,
}

/// How the link reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkChannel {
    Sms,
    Email,
    Link,
}

/// `request_context` (SPEC §6): unknown members are ignored.
struct RequestContext {
    channel: LinkChannel,
    hint_type: Option<IdentifierType>,
    custom_message: Option<String>,
}

fn parse_context(text: Option<&str>) -> Result<RequestContext, Error> {
    let mut ctx = RequestContext {
        channel: LinkChannel::Sms,
        hint_type: None,
        custom_message: None,
    };
    let Some(text) = text else {
        return Ok(ctx);
    };
    let bad = |what: &str| Error::invalid(format!("`request_context` {what}"));
    let value: Value = serde_json::from_str(text).map_err(|_| bad("must be a JSON object"))?;
    let Value::Object(obj) = value else {
        return Err(bad("must be a JSON object"));
    };
    let string = |obj: &Map<String, Value>, key: &str| -> Result<Option<String>, Error> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("member `{key}` must be a string"))),
        }
    };
    if let Some(channel) = string(&obj, "channel")? {
        ctx.channel = match channel.as_str() {
            "sms" => LinkChannel::Sms,
            "email" => LinkChannel::Email,
            "link" => LinkChannel::Link,
            _ => return Err(bad("`channel` must be sms, email or link")),
        };
    }
    if let Some(t) = string(&obj, "login_hint_type")? {
        ctx.hint_type = Some(IdentifierType::parse(&t).map_err(|_| {
            bad("`login_hint_type` must be email, phone_number, user_id or username")
        })?);
    }
    if let Some(m) = string(&obj, "custom_message")? {
        if m.chars().count() > MAX_CUSTOM_MESSAGE || m.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(bad(&format!(
                "`custom_message` must be at most {MAX_CUSTOM_MESSAGE} characters without \
                 control characters other than newlines"
            )));
        }
        ctx.custom_message = Some(m);
    }
    Ok(ctx)
}

/// `requested_expiry`: a positive integer of seconds, capped; the default when absent.
fn parse_expiry(text: Option<&str>, settings: &CibaSettings) -> Result<i64, Error> {
    let Some(text) = text else {
        return Ok(settings.default_expiry_s);
    };
    match text.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n.min(settings.max_expiry_s)),
        _ => Err(Error::invalid(
            "`requested_expiry` must be a positive integer of seconds",
        )),
    }
}

fn check_binding_message(message: Option<&str>) -> Result<(), Error> {
    match message {
        Some(m) if m.chars().count() > MAX_BINDING_MESSAGE || m.chars().any(char::is_control) => {
            Err(Code::InvalidBindingMessage.into())
        }
        _ => Ok(()),
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The authentication link: `login_uri` with `auth_req_id` and `binding_message` appended
/// to its query, percent-encoded (a space is `%20`).
fn auth_link(login_uri: &str, auth_req_id: &str, binding: Option<&str>) -> Result<String, Error> {
    let mut url = url::Url::parse(login_uri)
        .map_err(|_| Error::internal("a stored login_uri does not parse"))?;
    let mut query = url.query().map(str::to_string).unwrap_or_default();
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str("auth_req_id=");
    query.push_str(&percent_encode(auth_req_id));
    if let Some(b) = binding {
        query.push_str("&binding_message=");
        query.push_str(&percent_encode(b));
    }
    url.set_query(Some(&query));
    Ok(url.into())
}

fn unknown_user() -> Error {
    Code::UnknownUserId.into()
}

/// What a login hint names, by `login_hint_type` or inferred from the value (SPEC §6).
enum HintLookup {
    One(IdentifierType),
    /// No `@`, no leading `+`: a user id, then a username.
    IdThenUsername,
}

/// A phone number whose `+` was decoded to a space: `-d login_hint=+14155550100` (curl, as
/// in the hosted platform's guide) sends a raw `+`, which form decoding turns into a space.
/// No username or user id starts with a space, so such a hint is read as `+digits`.
fn restore_plus(hint: &str) -> Option<String> {
    let digits = hint.strip_prefix(' ')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| format!("+{digits}"))
}

fn lookup_of(hint: &str, given: Option<IdentifierType>) -> HintLookup {
    match given {
        Some(t) => HintLookup::One(t),
        None if hint.contains('@') => HintLookup::One(IdentifierType::Email),
        None if hint.starts_with('+') => HintLookup::One(IdentifierType::PhoneNumber),
        None => HintLookup::IdThenUsername,
    }
}

pub struct Ciba {
    store: Arc<dyn CibaStore>,
    clients: Arc<Clients>,
    users: Arc<Users>,
    keys: Arc<Keys>,
    live: Arc<LiveChecks>,
    logins: Arc<Logins>,
    deliveries: Arc<Deliveries>,
    limits: Arc<RateLimiter>,
    templates: MessageTemplates,
    kek: Arc<Kek>,
    clock: Arc<dyn Clock>,
    issuer: String,
    settings: CibaSettings,
}

impl Ciba {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn CibaStore>,
        clients: Arc<Clients>,
        users: Arc<Users>,
        keys: Arc<Keys>,
        live: Arc<LiveChecks>,
        logins: Arc<Logins>,
        deliveries: Arc<Deliveries>,
        limits: Arc<RateLimiter>,
        templates: MessageTemplates,
        kek: Arc<Kek>,
        clock: Arc<dyn Clock>,
        issuer: String,
        settings: CibaSettings,
    ) -> Self {
        Self {
            store,
            clients,
            users,
            keys,
            live,
            logins,
            deliveries,
            limits,
            templates,
            kek,
            clock,
            issuer,
            settings,
        }
    }

    /// The polling interval every request starts with.
    pub fn interval_s(&self) -> i64 {
        self.settings.interval_s
    }

    /// `POST /oidc/backchannel`: validates the request, finds the user, stores the request
    /// and sends (or returns) the authentication link.
    pub async fn request(
        &self,
        client: &AuthenticatedClient,
        params: BackchannelParams,
    ) -> Result<BackchannelResponse, Error> {
        let record = client.record();
        let settings = record.settings();
        let ciba = &settings.ciba_authorization;
        let login_uri = match (&ciba.enabled, &ciba.login_uri) {
            (true, Some(uri)) => uri.clone(),
            // No page of its own: Tessera's hosted approval page.
            (true, None) => format!("{}{HOSTED_APPROVAL_PATH}", self.issuer),
            (false, _) => {
                return Err(Error::new(
                    Code::UnauthorizedClient,
                    "CIBA is not enabled for this client",
                ))
            }
        };
        // The request's shape first: nothing is looked up for a malformed request.
        let scope = params
            .scope
            .as_deref()
            .ok_or_else(|| Error::invalid("`scope` is required"))?;
        let scope = normalize_scope(Some(scope), &settings.allowed_scopes)?
            .filter(|s| s.split(' ').any(|v| v == "openid"))
            .ok_or_else(|| Error::invalid("`scope` must contain `openid`"))?;
        let hints = [
            params.login_hint.is_some(),
            params.login_hint_token.is_some(),
            params.id_token_hint.is_some(),
        ];
        if hints.iter().filter(|h| **h).count() != 1 {
            return Err(Error::invalid(
                "exactly one of `login_hint`, `login_hint_token` and `id_token_hint` is required",
            ));
        }
        if [
            &params.login_hint,
            &params.login_hint_token,
            &params.id_token_hint,
        ]
        .into_iter()
        .flatten()
        .any(|h| h.len() > MAX_HINT)
        {
            return Err(Error::invalid("the hint is too long"));
        }
        check_binding_message(params.binding_message.as_deref())?;
        let context = parse_context(params.request_context.as_deref())?;
        let expires_in = parse_expiry(params.requested_expiry.as_deref(), &self.settings)?;
        let ping = settings.backchannel_token_delivery_mode == "ping";
        let notification_token = match (&params.client_notification_token, ping) {
            (Some(t), true) => {
                if t.len() > MAX_NOTIFICATION_TOKEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::invalid(
                        "`client_notification_token` must be at most 1024 printable ASCII \
                         characters",
                    ));
                }
                Some(Zeroizing::new(t.clone()))
            }
            (None, true) => {
                return Err(Error::invalid(
                    "`client_notification_token` is required for a ping-mode client",
                ))
            }
            // A poll client's token has no use; it is ignored (Core §7.1).
            (_, false) => None,
        };

        // Who is asked. Every way of failing costs one lookup and gives one answer.
        let now_ms = self.clock.now_ms();
        let user = if let Some(hint) = &params.login_hint {
            let normal = restore_plus(hint).unwrap_or_else(|| hint.trim().to_lowercase());
            let key = format!("hint:{normal}");
            self.limits
                .check_backchannel(now_ms, record.client_id(), &key)?;
            self.user_by_hint(hint, context.hint_type).await?
        } else if let Some(token) = &params.login_hint_token {
            let sub = self.subject_of_hint_token(token)?;
            self.limits
                .check_backchannel(now_ms, record.client_id(), &format!("sub:{sub}"))?;
            self.users.by_id(&sub).await?
        } else {
            let token = params.id_token_hint.as_deref().unwrap_or_default();
            let sub = self.subject_of_id_token_hint(token, record.client_id())?;
            self.limits
                .check_backchannel(now_ms, record.client_id(), &format!("sub:{sub}"))?;
            self.users.by_id(&sub).await?
        };
        let user = user.ok_or_else(unknown_user)?;
        if user.status != UserStatus::Active {
            return Err(unknown_user());
        }
        let destination = match context.channel {
            LinkChannel::Sms => Some((
                Channel::Sms,
                user.phone_number
                    .clone()
                    .filter(|_| user.phone_number_verified)
                    .ok_or_else(unknown_user)?,
            )),
            LinkChannel::Email => Some((
                Channel::Email,
                user.email
                    .clone()
                    .filter(|_| user.email_verified)
                    .ok_or_else(unknown_user)?,
            )),
            LinkChannel::Link => None,
        };

        let auth_req_id = AuthReqId(Zeroizing::new(tessera_jose::random_token_b64url(
            AUTH_REQ_ID_BYTES,
        )?));
        let hash = request_hash(auth_req_id.expose());
        let link = Zeroizing::new(auth_link(
            &login_uri,
            auth_req_id.expose(),
            params.binding_message.as_deref(),
        )?);
        let notification_token_sealed = match &notification_token {
            Some(t) => Some(b64url_encode(
                &self.kek.seal(t.as_bytes(), hash.as_bytes())?,
            )),
            None => None,
        };
        let request = CibaRequest {
            request_hash: hash,
            client_id: record.client_id().to_string(),
            user_id: user.user_id.clone(),
            scope,
            binding_message: params.binding_message.clone(),
            delivery_mode: settings.backchannel_token_delivery_mode.clone(),
            notification_token_sealed,
            created_at_ms: now_ms,
            expires_at_ms: now_ms + expires_in * 1000,
            interval_s: self.settings.interval_s,
            last_polled_at_ms: None,
            status: CibaStatus::Pending,
            decided_at_ms: None,
            auth_time: None,
            methods: Vec::new(),
        };
        if let Some((channel, to)) = destination {
            // The per-destination and per-client message limits of every send.
            self.limits.check_send(now_ms, record.client_id(), &to)?;
            self.store.create_ciba_request(&request).await?;
            let job = self.message(record, channel, to, &link, &context, expires_in);
            self.deliveries.enqueue(&job).await?;
        } else {
            self.store.create_ciba_request(&request).await?;
        }
        tracing::info!(client_id = record.client_id(), user_id = %user.user_id, channel = ?context.channel, "backchannel authentication requested");
        Ok(BackchannelResponse {
            auth_req_id,
            expires_in,
            interval: self.settings.interval_s,
            auth_link: (context.channel == LinkChannel::Link).then_some(link),
        })
    }

    fn message(
        &self,
        record: &ClientRecord,
        channel: Channel,
        to: String,
        link: &str,
        context: &RequestContext,
        expires_in: i64,
    ) -> Job {
        let default_message = format!("{} asks you to confirm a request.", record.app.name);
        let vars = MessageVars {
            app: &record.app.name,
            secret: link,
            minutes: (expires_in + 59) / 60,
            message: context
                .custom_message
                .as_deref()
                .unwrap_or(&default_message),
        };
        let text = render(&self.templates.ciba_text, &vars);
        let subject = (channel == Channel::Email)
            .then(|| render(&self.templates.ciba_email_subject, &vars).to_string());
        Job::Message {
            channel,
            to,
            subject,
            text: text.to_string(),
        }
    }

    /// The user a `login_hint` names: by its type, or inferred (`@` → email, leading `+` →
    /// phone number, else a user id, then a username).
    async fn user_by_hint(
        &self,
        hint: &str,
        hint_type: Option<IdentifierType>,
    ) -> Result<Option<User>, Error> {
        let restored = restore_plus(hint);
        let hint = restored.as_deref().unwrap_or(hint).trim();
        let by = |kind| crate::users::Identifier {
            kind,
            value: hint.to_string(),
        };
        match lookup_of(hint, hint_type) {
            HintLookup::One(IdentifierType::PhoneNumber) => match normalize_phone(hint) {
                Ok(_) => {
                    self.users
                        .by_identifier(&by(IdentifierType::PhoneNumber), false)
                        .await
                }
                Err(_) => Ok(None),
            },
            HintLookup::One(kind) => self.users.by_identifier(&by(kind), false).await,
            HintLookup::IdThenUsername => {
                match self
                    .users
                    .by_identifier(&by(IdentifierType::UserId), false)
                    .await?
                {
                    Some(user) => Ok(Some(user)),
                    None => {
                        self.users
                            .by_identifier(&by(IdentifierType::Username), false)
                            .await
                    }
                }
            }
        }
    }

    /// `login_hint_token`: a token this server signed (an access or ID token) whose `sub` is
    /// the user; an expired one is `expired_login_hint_token` (SPEC §6, documented).
    fn subject_of_hint_token(&self, token: &str) -> Result<String, Error> {
        let bad = || Error::invalid("`login_hint_token` is not a token this server issued");
        let signed = self.keys.verify(token).ok_or_else(bad)?;
        let c = &signed.claims;
        if c.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(bad());
        }
        let exp = c.get("exp").and_then(Value::as_i64).ok_or_else(bad)?;
        if exp <= self.clock.now_s() {
            return Err(Code::ExpiredLoginHintToken.into());
        }
        // A client token's `sub` is its client, not a user.
        if signed.typ.as_deref() == Some(ACCESS_TOKEN_TYP) && c.get("sid").is_none() {
            return Err(bad());
        }
        c.get("sub")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(bad)
    }

    /// `id_token_hint`: an ID token this server issued to `client_id` (expired ones are
    /// accepted, as OIDC Core allows for hints); its `sub` is the user.
    fn subject_of_id_token_hint(&self, token: &str, client_id: &str) -> Result<String, Error> {
        let bad = || {
            Error::invalid("`id_token_hint` is not an ID token this server issued to the client")
        };
        let signed = self.keys.verify(token).ok_or_else(bad)?;
        if signed.typ.as_deref() == Some(ACCESS_TOKEN_TYP) {
            return Err(bad());
        }
        let c = &signed.claims;
        if c.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str())
            || c.get("aud").and_then(Value::as_str) != Some(client_id)
        {
            return Err(bad());
        }
        c.get("sub")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(bad)
    }

    /// `POST /cis/auth/backchannel/complete`: the user's decision, recorded once. The
    /// caller's token must be the requested user's, from an authentication made after the
    /// request was created.
    pub async fn complete(
        &self,
        caller: &UserCaller,
        auth_req_id: &str,
        approved: bool,
    ) -> Result<(), Error> {
        let (request, _) = self.pending(auth_req_id).await?;
        if request.user_id != caller.user_id() {
            return Err(Error::new(
                Code::Forbidden,
                "the access token is not the requested user's",
            ));
        }
        let auth_time = caller
            .token()
            .claims
            .get("auth_time")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN);
        if auth_time < request.created_at_ms.div_euclid(1000) {
            return Err(Error::new(
                Code::Forbidden,
                "the access token is from an authentication made before the request; \
                 authenticate again",
            ));
        }
        let session = self
            .live
            .session(caller.session_hash())
            .await?
            .ok_or_else(|| Error::from(Code::InvalidToken))?;
        self.decide(&request, auth_req_id, approved, auth_time, &session.methods)
            .await
    }

    /// The pending request `auth_req_id` names, for the hosted approval page (400
    /// `invalid_auth_req_id` if unknown, decided or expired), with its client.
    pub(crate) async fn pending(
        &self,
        auth_req_id: &str,
    ) -> Result<(CibaRequest, Arc<ClientRecord>), Error> {
        let invalid = || Error::from(Code::InvalidAuthReqId);
        if !well_formed(auth_req_id) {
            return Err(invalid());
        }
        let request = self
            .store
            .get_ciba_request(&request_hash(auth_req_id))
            .await?
            .filter(|r| r.status == CibaStatus::Pending && r.expires_at_ms > self.clock.now_ms())
            .ok_or_else(invalid)?;
        let client = self
            .clients
            .record(&request.client_id)
            .await?
            .ok_or_else(invalid)?;
        Ok((request, client))
    }

    /// The decision of the hosted approval page: `user_id` authenticated just now (a fresh
    /// login journey) with `methods` at `auth_time`.
    pub(crate) async fn decide_hosted(
        &self,
        request: &CibaRequest,
        auth_req_id: &str,
        user_id: &str,
        approved: bool,
        auth_time: i64,
        methods: &[String],
    ) -> Result<(), Error> {
        if request.user_id != user_id {
            return Err(Error::new(
                Code::Forbidden,
                "the request is for another user; log in as the user it names",
            ));
        }
        if auth_time < request.created_at_ms.div_euclid(1000) {
            return Err(Error::new(
                Code::Forbidden,
                "the authentication is older than the request; authenticate again",
            ));
        }
        self.decide(request, auth_req_id, approved, auth_time, methods)
            .await
    }

    /// Records a decision once, queueing the ping of a ping client in the same transaction.
    async fn decide(
        &self,
        request: &CibaRequest,
        auth_req_id: &str,
        approved: bool,
        auth_time: i64,
        methods: &[String],
    ) -> Result<(), Error> {
        let invalid = || Error::from(Code::InvalidAuthReqId);
        let now_ms = self.clock.now_ms();
        let hash = &request.request_hash;
        let notify = match &request.notification_token_sealed {
            Some(sealed) => {
                // The endpoint as configured now (the client may have moved it since).
                let client = self.clients.record(&request.client_id).await?;
                let url = client.as_ref().and_then(|c| {
                    c.settings()
                        .backchannel_client_notification_endpoint
                        .clone()
                });
                match url {
                    Some(url) => Some(self.ping_job(request, &url, sealed, auth_req_id)?),
                    // No longer a ping client: it polls.
                    None => None,
                }
            }
            None => None,
        };
        let decided = self
            .store
            .decide_ciba_request(
                hash,
                &request.user_id,
                approved,
                auth_time,
                methods,
                now_ms,
                notify.as_ref(),
            )
            .await?;
        if decided.is_none() {
            // Another decision won, or the request expired in between.
            return Err(invalid());
        }
        if notify.is_some() {
            self.deliveries.wake();
        }
        tracing::info!(client_id = %request.client_id, user_id = %request.user_id, approved, "backchannel authentication decided");
        Ok(())
    }

    /// The ping of a ping-mode request, to queue with its decision.
    fn ping_job(
        &self,
        request: &CibaRequest,
        url: &str,
        sealed: &str,
        auth_req_id: &str,
    ) -> Result<crate::model::DeliveryJob, Error> {
        let token = self
            .kek
            .open(&b64url_decode(sealed)?, request.request_hash.as_bytes())?;
        let token = String::from_utf8(token.to_vec())
            .map_err(|_| Error::internal("a sealed notification token is not UTF-8"))?;
        self.deliveries.prepare(&Job::CibaPing {
            url: url.to_string(),
            token,
            auth_req_id: auth_req_id.to_string(),
        })
    }

    /// The CIBA grant at the token endpoint, by the client that made the request.
    pub(crate) async fn poll(
        &self,
        client: &ClientRecord,
        auth_req_id: &str,
    ) -> Result<IssuedTokens, Error> {
        let invalid = || Error::new(Code::InvalidGrant, "the auth_req_id is invalid");
        if !well_formed(auth_req_id) {
            return Err(invalid());
        }
        let hash = request_hash(auth_req_id);
        let now_ms = self.clock.now_ms();
        match self
            .store
            .poll_ciba_request(&hash, client.client_id(), now_ms)
            .await?
        {
            CibaPoll::Pending => Err(Code::AuthorizationPending.into()),
            CibaPoll::SlowDown { interval_s } => Err(Error::new(
                Code::SlowDown,
                format!("polled faster than the interval, which is now {interval_s} s"),
            )),
            CibaPoll::Denied => Err(Code::AccessDenied.into()),
            CibaPoll::Expired => Err(Code::ExpiredToken.into()),
            CibaPoll::Invalid => Err(invalid()),
            CibaPoll::Approved(request) => self.issue(client, &request).await,
        }
    }

    async fn issue(
        &self,
        client: &ClientRecord,
        request: &CibaRequest,
    ) -> Result<IssuedTokens, Error> {
        let user = self
            .users
            .by_id(&request.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(|| Error::new(Code::InvalidGrant, "the user is no longer active"))?;
        let auth_time = request
            .auth_time
            .ok_or_else(|| Error::internal("an approved request without auth_time"))?;
        let with_refresh = request.scope.split(' ').any(|s| s == "offline_access");
        let grant = UserGrant {
            resource: None,
            claims: None,
            scope: Some(request.scope.clone()),
            nonce: None,
            at_hash: false,
            facts: Default::default(),
        };
        self.logins
            .complete_decoupled(
                client,
                &user,
                &request.methods,
                auth_time,
                &grant,
                with_refresh,
            )
            .await
    }

    /// Housekeeping: drops requests expired more than a day ago.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_ciba_requests(self.clock.now_ms() - 24 * 3600 * 1000)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_context_defaults_to_sms_and_checks_its_members() {
        let ctx = parse_context(None).unwrap();
        assert_eq!(ctx.channel, LinkChannel::Sms);
        let ctx = parse_context(Some(
            r#"{"channel":"link","login_hint_type":"username","custom_message":"Hi","x":1}"#,
        ))
        .unwrap();
        assert_eq!(ctx.channel, LinkChannel::Link);
        assert_eq!(ctx.hint_type, Some(IdentifierType::Username));
        assert_eq!(ctx.custom_message.as_deref(), Some("Hi"));
        for bad in [
            "[]",
            "not json",
            r#"{"channel":"fax"}"#,
            r#"{"login_hint_type":"nickname"}"#,
            r#"{"custom_message":"a\u0000b"}"#,
            r#"{"channel":5}"#,
        ] {
            assert_eq!(
                parse_context(Some(bad)).err().map(|e| e.code()),
                Some(Code::InvalidRequest),
                "{bad}"
            );
        }
    }

    #[test]
    fn hint_types_are_inferred_from_the_value() {
        assert!(matches!(
            lookup_of("ann@example.com", None),
            HintLookup::One(IdentifierType::Email)
        ));
        assert!(matches!(
            lookup_of("+15551234567", None),
            HintLookup::One(IdentifierType::PhoneNumber)
        ));
        assert!(matches!(lookup_of("ann", None), HintLookup::IdThenUsername));
        // `-d login_hint=+1415…` arrives as " 1415…".
        assert_eq!(
            restore_plus(" 14155550100").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(restore_plus("14155550100"), None);
        assert_eq!(restore_plus(" ann"), None);
        assert!(matches!(
            lookup_of("ann@example.com", Some(IdentifierType::Username)),
            HintLookup::One(IdentifierType::Username)
        ));
    }

    #[test]
    fn expiry_is_capped_and_must_be_positive() {
        let s = CibaSettings::default();
        assert_eq!(parse_expiry(None, &s).unwrap(), 300);
        assert_eq!(parse_expiry(Some("120"), &s).unwrap(), 120);
        assert_eq!(parse_expiry(Some("100000"), &s).unwrap(), 600);
        for bad in ["0", "-5", "soon", "1.5"] {
            assert!(parse_expiry(Some(bad), &s).is_err(), "{bad}");
        }
    }

    #[test]
    fn binding_messages_are_short_and_printable() {
        assert!(check_binding_message(None).is_ok());
        assert!(check_binding_message(Some(&"é".repeat(64))).is_ok());
        for bad in ["x".repeat(65), "a\nb".to_string()] {
            assert_eq!(
                check_binding_message(Some(&bad)).unwrap_err().code(),
                Code::InvalidBindingMessage
            );
        }
    }

    #[test]
    fn links_percent_encode_their_parameters() {
        let link = auth_link("https://app.example/ciba?x=1", "abc", Some("W4 & 7=?")).unwrap();
        assert_eq!(
            link,
            "https://app.example/ciba?x=1&auth_req_id=abc&binding_message=W4%20%26%207%3D%3F"
        );
        assert!(well_formed(&"a".repeat(43)));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&format!("{}%", "a".repeat(42))));
    }
}
