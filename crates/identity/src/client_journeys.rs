//! [`ClientJourneys`]: interactive journeys started by an app (`type: client`), SPEC §7 and
//! the hosted platform's IDO protocol: `start` runs the journey until a step waits for the
//! client, `submit` answers that step and runs on, and a `complete` after an authentication
//! ends the run with a one-time code that the app's backend exchanges at `/oidc/token`
//! (`auth_codes.rs`).
//!
//! Invariants:
//! - The run's state lives in the database, sealed with the KEK (AES-256-GCM, the interaction
//!   id as associated data), so the client holds only the interaction id (256 random bits) and
//!   can neither read nor forge the state; any node continues any interaction.
//! - The `interaction_id` of each answer names the interaction and the step it waits at
//!   (`<id>.<version>`), and every continuation is one conditional update on that version:
//!   of two submits racing (on any nodes) exactly one is applied; the other gets 409
//!   `invalid_state`, as does a replay of an answered step (its id names an older version).
//!   An unknown, finished or expired interaction is 404 `no_active_journey`.
//! - An interaction expires `interaction_expiry_minutes` (of the journey; 15 by default)
//!   after its last step began to wait.
//! - The code is bound to the client that started the journey and, when `start` sent an
//!   `S256` challenge, to its verifier.
//! - A run that fails (a step error without `on_error`, a custom authentication that
//!   aborts, a limit) ends as `journey_rejection` with `error_data {code, message, step_id}`:
//!   the journey is over and nothing about values is said.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};
use tessera_jose::{b64url_decode, b64url_encode, Kek};
use tessera_journey::{
    BoxFuture, ClientOutcome, ClientResult, ClientRunState, ClientSubmit, Directory,
    DirectoryError, JourneyType, NewUser, PasscodeChannel, RunUser, UserInfo, UserRef,
};

use crate::authn::otp::{Otp, OtpChannel};
use crate::authn::password::PasswordLogins;
use crate::clients::Clients;
use crate::users::{Identifier, IdentifierType};

use crate::auth_codes::{valid_challenge, AuthorizationCodes};
use crate::caller::NamedClient;
use crate::claims::UserGrant;
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::journeys::JourneyService;
use crate::logins::Logins;
use crate::model::{ClientRecord, CodeGrant, InteractionRecord, UserLookup, UserStatus};
use crate::ports::InteractionStore;
use crate::ratelimit::RateLimiter;
use crate::users::Users;

/// How long a waiting step of `journey` waits for the client (its
/// `interaction_expiry_minutes`, 15 by default).
fn ttl_ms(journey: &tessera_journey::CompiledJourney) -> i64 {
    i64::from(journey.interaction_expiry_minutes) * 60_000
}

/// The associated data of a sealed state.
fn aad(interaction_id: &str) -> Vec<u8> {
    format!("tessera interaction v1\0{interaction_id}").into_bytes()
}

/// `POST /ido/api/v2/journeys/{journey_id}/start?clientId=`.
#[derive(Debug, Clone, Default)]
pub struct JourneyStart {
    pub journey_id: String,
    /// `additionalParams`: `@policy.request().params` of the run.
    pub params: Map<String, Value>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// A live interaction as a submit names it: its record and the step version the client's
/// id carries.
#[derive(Debug)]
pub struct PendingInteraction {
    record: InteractionRecord,
    step: i64,
}

impl PendingInteraction {
    /// The client that started it.
    pub fn client_id(&self) -> &str {
        &self.record.client_id
    }
}

/// The answer of `start` and `submit`, in the platform's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InteractionAnswer {
    pub interaction_id: String,
    pub journey_step_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: Value,
    pub client_response_options: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The identity core as a journey run sees it: users by username, new users, and (for a
/// backend journey invoked with a client token) tokens for the authenticated user; for a
/// client run, password and passcode checks for the interaction's client.
pub struct UserDirectory {
    users: Arc<Users>,
    logins: Arc<Logins>,
    /// The invoking client of a backend run that enforces its token.
    client: Option<Arc<ClientRecord>>,
    /// The client a client run belongs to (the interaction's), for the authentication steps.
    run_client: Option<Arc<ClientRecord>>,
    authn: Option<Arc<JourneyAuthn>>,
}

/// The backend authentication services the journey steps reuse.
pub struct JourneyAuthn {
    pub clients: Arc<Clients>,
    pub passwords: Arc<PasswordLogins>,
    pub otp: Arc<Otp>,
}

/// Error codes as the journey steps read them (`invalid_credentials` and
/// `expired_otp_passcode` wait again; the rest fail the step).
fn directory_error(e: Error) -> DirectoryError {
    let code = match e.code() {
        Code::AuthInvalidCredentials => "invalid_credentials",
        Code::AuthOtpPasscodeExpired => "expired_otp_passcode",
        other => other.name(),
    };
    DirectoryError {
        code: code.to_string(),
        message: e.message().to_string(),
    }
}

fn user_info(user: &crate::model::User) -> UserInfo {
    UserInfo {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
        phone_number: user.phone_number.clone(),
    }
}

fn channel(c: PasscodeChannel) -> OtpChannel {
    match c {
        PasscodeChannel::Email => OtpChannel::Email,
        PasscodeChannel::Sms => OtpChannel::Sms,
    }
}

fn run_user(user: &crate::model::User) -> RunUser {
    RunUser {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        email: user.email.clone(),
    }
}

impl UserDirectory {
    pub fn new(users: Arc<Users>, logins: Arc<Logins>, client: Option<Arc<ClientRecord>>) -> Self {
        Self {
            users,
            logins,
            client,
            run_client: None,
            authn: None,
        }
    }

    /// A directory for a client run of `run_client` with the authentication services.
    pub fn for_client_run(
        mut self,
        run_client: Option<Arc<ClientRecord>>,
        authn: Option<Arc<JourneyAuthn>>,
    ) -> Self {
        self.run_client = run_client;
        self.authn = authn;
        self
    }

    /// The run's client and the services, or `directory_unavailable`.
    fn authn(&self) -> Result<(&ClientRecord, &JourneyAuthn), DirectoryError> {
        match (&self.run_client, &self.authn) {
            (Some(c), Some(a)) => Ok((c, a)),
            _ => Err(DirectoryError {
                code: "directory_unavailable".to_string(),
                message: "authentication steps run only in client journeys".to_string(),
            }),
        }
    }
}

impl Directory for UserDirectory {
    fn find_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<RunUser>, DirectoryError>> {
        Box::pin(async move {
            let lookup = UserLookup::UsernameNorm(crate::model::username_norm(username));
            let user = self.users.find(&lookup).await.map_err(directory_error)?;
            match user {
                Some(u) if u.status != UserStatus::Active => Err(DirectoryError {
                    code: Code::UserNotActive.name().to_string(),
                    message: "the user is not active".to_string(),
                }),
                Some(u) => Ok(Some(run_user(&u))),
                None => Ok(None),
            }
        })
    }

    fn create_user<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        Box::pin(async move {
            let user = self
                .users
                .create_for_journey(username)
                .await
                .map_err(directory_error)?;
            if user.status != UserStatus::Active {
                return Err(directory_error(Code::UserNotActive.into()));
            }
            Ok(run_user(&user))
        })
    }

    fn issue_tokens<'a>(
        &'a self,
        user: &'a RunUser,
        methods: &'a [String],
        auth_time: i64,
    ) -> BoxFuture<'a, Result<Value, DirectoryError>> {
        Box::pin(async move {
            let Some(client) = &self.client else {
                return Err(DirectoryError {
                    code: "not_available".to_string(),
                    message: "user tokens need a backend journey that enforces the client \
                              token (the tokens are the invoking client's)"
                        .to_string(),
                });
            };
            let record = self
                .users
                .by_id(&user.user_id)
                .await
                .map_err(directory_error)?
                .filter(|u| u.status == UserStatus::Active)
                .ok_or_else(|| directory_error(Code::UserNotActive.into()))?;
            let grant = UserGrant::default();
            let tokens = self
                .logins
                .complete_decoupled(client, &record, methods, auth_time, &grant, true)
                .await
                .map_err(directory_error)?;
            Ok(json!({
                "access_token": tokens.access_token,
                "id_token": tokens.id_token,
                "refresh_token": tokens.refresh_token,
                "session_id": tokens.session_id.as_ref().map(|s| s.expose().to_string()),
            }))
        })
    }

    fn authenticate_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        Box::pin(async move {
            let (client, authn) = self.authn()?;
            let user = authn
                .passwords
                .authenticate_for_journey(client, username, password)
                .await
                .map_err(directory_error)?;
            Ok(run_user(&user))
        })
    }

    fn send_passcode<'a>(
        &'a self,
        user_id: &'a str,
        channel_: PasscodeChannel,
    ) -> BoxFuture<'a, Result<String, DirectoryError>> {
        Box::pin(async move {
            let (client, authn) = self.authn()?;
            authn
                .otp
                .send_for_journey(client, user_id, channel(channel_))
                .await
                .map_err(directory_error)
        })
    }

    fn verify_passcode<'a>(
        &'a self,
        user_id: &'a str,
        channel_: PasscodeChannel,
        passcode: &'a str,
    ) -> BoxFuture<'a, Result<RunUser, DirectoryError>> {
        Box::pin(async move {
            let (client, authn) = self.authn()?;
            let user = authn
                .otp
                .redeem_for_journey(client, user_id, channel(channel_), passcode)
                .await
                .map_err(directory_error)?;
            Ok(run_user(&user))
        })
    }

    fn get_user<'a>(
        &'a self,
        user: UserRef<'a>,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, DirectoryError>> {
        Box::pin(async move {
            let id = match user {
                UserRef::Username(u) => Identifier {
                    kind: IdentifierType::Username,
                    value: u.to_string(),
                },
                UserRef::UserId(u) => Identifier {
                    kind: IdentifierType::UserId,
                    value: u.to_string(),
                },
            };
            let found = self
                .users
                .by_identifier(&id, false)
                .await
                .map_err(directory_error)?;
            Ok(found.as_ref().map(user_info))
        })
    }

    fn create_user_with<'a>(
        &'a self,
        new: &'a NewUser,
    ) -> BoxFuture<'a, Result<UserInfo, DirectoryError>> {
        Box::pin(async move {
            // A member of the run's application: the client run's, else the invoking
            // client's of a backend run.
            let app = self
                .run_client
                .as_ref()
                .or(self.client.as_ref())
                .map(|c| c.app.app_id.clone());
            let user = self
                .users
                .create_from_journey(
                    app.as_deref(),
                    new.username.as_deref(),
                    new.email.as_deref(),
                    new.phone_number.as_deref(),
                )
                .await
                .map_err(directory_error)?;
            Ok(user_info(&user))
        })
    }
}

pub struct ClientJourneys {
    store: Arc<dyn InteractionStore>,
    journeys: Arc<JourneyService>,
    codes: Arc<AuthorizationCodes>,
    users: Arc<Users>,
    logins: Arc<Logins>,
    kek: Arc<Kek>,
    clock: Arc<dyn Clock>,
    limits: Arc<RateLimiter>,
    authn: Option<Arc<JourneyAuthn>>,
}

impl ClientJourneys {
    /// Gives client runs the authentication steps (`password_authentication`, the OTP
    /// steps), checked for the interaction's client.
    pub fn with_authn(mut self, authn: JourneyAuthn) -> Self {
        self.authn = Some(Arc::new(authn));
        self
    }

    /// The directory of a client run of `client`.
    fn run_directory(&self, client: Option<Arc<ClientRecord>>) -> UserDirectory {
        self.directory(None)
            .for_client_run(client, self.authn.clone())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn InteractionStore>,
        journeys: Arc<JourneyService>,
        codes: Arc<AuthorizationCodes>,
        users: Arc<Users>,
        logins: Arc<Logins>,
        kek: Arc<Kek>,
        clock: Arc<dyn Clock>,
        limits: Arc<RateLimiter>,
    ) -> Self {
        Self {
            store,
            journeys,
            codes,
            users,
            logins,
            kek,
            clock,
            limits,
            authn: None,
        }
    }

    /// The directory of a run for `client` (none for client runs: they end with a code).
    pub fn directory(&self, client: Option<Arc<ClientRecord>>) -> UserDirectory {
        UserDirectory::new(self.users.clone(), self.logins.clone(), client)
    }

    fn seal(&self, interaction_id: &str, state: &ClientRunState) -> Result<String, Error> {
        let json = serde_json::to_vec(state)
            .map_err(|e| Error::internal(format!("a run state does not serialize: {e}")))?;
        Ok(b64url_encode(&self.kek.seal(&json, &aad(interaction_id))?))
    }

    fn unseal(&self, record: &InteractionRecord) -> Result<ClientRunState, Error> {
        let sealed = b64url_decode(&record.state_sealed)?;
        let json = self.kek.open(&sealed, &aad(&record.interaction_id))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::internal(format!("a stored run state does not parse: {e}")))
    }

    /// `POST /ido/api/v2/journeys/{journey_id}/start?clientId=`.
    pub async fn start(
        &self,
        client: &NamedClient,
        req: JourneyStart,
        trace_id: &str,
    ) -> Result<InteractionAnswer, Error> {
        // Anyone may start a journey naming any enabled client: a per-client limit bounds what
        // that costs (`rate_limits.journey_start_per_client`).
        self.limits
            .check_journey_start(self.clock.now_ms(), client.client_id())?;
        let journey = self
            .journeys
            .compiled(&req.journey_id)
            .await?
            .ok_or_else(|| Error::new(Code::NotFound, "journey not found"))?;
        if journey.journey_type != JourneyType::Client {
            return Err(Error::invalid(
                "this is a backend API journey: invoke it at /ido/api/v2/invoke-api-journey/{id}",
            ));
        }
        let code_challenge = match (req.code_challenge, req.code_challenge_method.as_deref()) {
            (None, None) => None,
            (Some(c), Some("S256")) if valid_challenge(&c) => Some(c),
            (Some(_), Some("S256")) => {
                return Err(Error::invalid(
                    "`code_challenge` must be 43 base64url characters (S256)",
                ))
            }
            (Some(_), None) | (None, Some(_)) | (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "`code_challenge` needs `code_challenge_method` \"S256\" (the only one)",
                ))
            }
        };
        let interaction_id = tessera_jose::random_token_b64url(32)?;
        let directory = self.run_directory(Some(client.record().clone()));
        let outcome = self
            .journeys
            .start_client(&journey, req.params, &directory, trace_id)
            .await;
        let now = self.clock.now_ms();
        let record = InteractionRecord {
            interaction_id: interaction_id.clone(),
            client_id: client.client_id().to_string(),
            journey_id: journey.id.clone(),
            state_sealed: String::new(),
            version: 0,
            code_challenge,
            created_at_ms: now,
            expires_at_ms: now + ttl_ms(&journey),
        };
        self.settle(record, outcome, true, ttl_ms(&journey)).await
    }

    /// `POST /ido/api/v2/interactions/{interaction_id}/submit`.
    /// The live interaction an id the client holds names (404 `no_active_journey`
    /// otherwise), loaded once for [`ClientJourneys::submit`] and the route's CORS check.
    pub async fn find(&self, interaction_id: &str) -> Result<PendingInteraction, Error> {
        // The id the client holds names the interaction and the step it answers.
        let Some((stored_id, step)) = interaction_id
            .rsplit_once('.')
            .and_then(|(id, v)| Some((id, v.parse::<i64>().ok()?)))
            .filter(|(id, _)| crate::util::plausible_key(id))
        else {
            return Err(Code::NoActiveJourney.into());
        };
        match self.store.get_interaction(stored_id).await? {
            Some(record) if record.expires_at_ms > self.clock.now_ms() => {
                Ok(PendingInteraction { record, step })
            }
            _ => Err(Code::NoActiveJourney.into()),
        }
    }

    /// `POST /ido/api/v2/interactions/{interaction_id}/submit`, for an interaction
    /// [`ClientJourneys::find`] loaded.
    pub async fn submit(
        &self,
        pending: PendingInteraction,
        submit: ClientSubmit,
        trace_id: &str,
    ) -> Result<InteractionAnswer, Error> {
        let PendingInteraction { record, step } = pending;
        if record.version != step {
            return Err(Code::InvalidState.into());
        }
        let state = self.unseal(&record)?;
        let journey = self
            .journeys
            .compiled(&record.journey_id)
            .await?
            .ok_or_else(|| Error::from(Code::NoActiveJourney))?;
        if state.waiting.is_none() {
            return Err(Code::ClientResponseNotValid.into());
        }
        // The run's client is the interaction's (it may have been deleted since).
        let run_client = match &self.authn {
            Some(a) => a.clients.record(&record.client_id).await?,
            None => None,
        };
        let directory = self.run_directory(run_client);
        let outcome = self
            .journeys
            .submit_client(&journey, state, submit, &directory, trace_id)
            .await;
        if let ClientResult::Failed(f) = &outcome.result {
            if matches!(f.code.as_str(), "invalid_option" | "invalid_state") {
                return Err(Error::new(Code::ClientResponseNotValid, f.message.clone()));
            }
        }
        self.settle(record, outcome, false, ttl_ms(&journey)).await
    }

    /// Stores (or ends) the interaction after a run step and builds the answer.
    async fn settle(
        &self,
        mut record: InteractionRecord,
        outcome: ClientOutcome,
        new: bool,
        ttl_ms: i64,
    ) -> Result<InteractionAnswer, Error> {
        let ClientOutcome { state, result, .. } = outcome;
        let id = record.interaction_id.clone();
        let now = self.clock.now_ms();
        let lost = || Error::from(Code::InvalidState);
        match result {
            ClientResult::InputRequired {
                step_id,
                step_type: _,
                data,
                options,
                error,
            } => {
                let sealed = self.seal(&id, &state)?;
                let expires = now + ttl_ms;
                let version = if new {
                    record.state_sealed = sealed;
                    record.version = 1;
                    record.expires_at_ms = expires;
                    self.store.create_interaction(&record).await?;
                    1
                } else if self
                    .store
                    .update_interaction(&id, record.version, &sealed, expires)
                    .await?
                {
                    record.version + 1
                } else {
                    return Err(lost());
                };
                let mut opts = Map::new();
                for o in options {
                    opts.insert(
                        o.id.clone(),
                        json!({"id": o.id, "type": o.kind, "label": o.label}),
                    );
                }
                Ok(InteractionAnswer {
                    interaction_id: format!("{id}.{version}"),
                    journey_step_id: step_id,
                    kind: "client_input_required",
                    data,
                    client_response_options: opts,
                    error_data: error,
                    code: None,
                })
            }
            other => {
                if !new && !self.store.finish_interaction(&id, record.version).await? {
                    return Err(lost());
                }
                let (step, kind, data, error_data, code) = match other {
                    ClientResult::Success { data } => {
                        let code = match (&state.user, state.auth_time) {
                            (Some(user), Some(auth_time)) => Some(
                                self.codes
                                    .issue(
                                        &record.client_id,
                                        &user.user_id,
                                        CodeGrant {
                                            methods: state.methods.clone(),
                                            auth_time,
                                            code_challenge: record.code_challenge.clone(),
                                            redirect_uri: None,
                                            nonce: None,
                                            session: None,
                                            scope: None,
                                            id_token: true,
                                        },
                                    )
                                    .await?,
                            ),
                            _ => None,
                        };
                        ("action:success", "journey_success", data, None, code)
                    }
                    ClientResult::Rejected { data } => {
                        ("action:rejection", "journey_rejection", data, None, None)
                    }
                    ClientResult::Failed(f) => (
                        "action:rejection",
                        "journey_rejection",
                        Value::Null,
                        Some(json!({"code": f.code, "message": f.message, "step_id": f.step_id})),
                        None,
                    ),
                    ClientResult::InputRequired { .. } => {
                        return Err(Error::internal("an input request reached the end branch"))
                    }
                };
                Ok(InteractionAnswer {
                    interaction_id: format!("{id}.{}", record.version + 1),
                    journey_step_id: step.to_string(),
                    kind,
                    data,
                    client_response_options: Map::new(),
                    error_data,
                    code,
                })
            }
        }
    }

    /// Housekeeping: expired interactions.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store.purge_interactions(self.clock.now_ms()).await?;
        Ok(())
    }
}
