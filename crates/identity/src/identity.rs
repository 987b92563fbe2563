//! [`Identity`]: the components of the domain core, wired together once at start. A facade
//! for the HTTP layer and the binary (nothing in the core depends on it): it holds one
//! `Arc` of each component, builds them in dependency order, registers the ones that
//! follow the change feed, and runs housekeeping.

use std::sync::Arc;

use tessera_delivery::Deliver;
use tessera_jose::Kek;
use tessera_journey::{Outbound, RunLimits};

use crate::auth_codes::{AuthorizationCodes, CodeDeps};
use crate::authn::{Challenges, MagicLinks, Otp, PasswordLogins, PasswordResets};
use crate::authorize::{Authorizations, AuthorizeDeps};
use crate::changes::{ChangeFeed, FollowChanges};
use crate::ciba::Ciba;
use crate::client_journeys::ClientJourneys;
use crate::client_journeys::JourneyAuthn;
use crate::clients::Clients;
use crate::clock::Clock;
use crate::deliveries::Deliveries;
use crate::error::Error;
use crate::gate::Gate;
use crate::grants::Grants;
use crate::introspection::TokenIntrospection;
use crate::issuer::TokenIssuer;
use crate::journeys::JourneyService;
use crate::keys::Keys;
use crate::live::LiveChecks;
use crate::lockouts::Lockouts;
use crate::logins::Logins;
use crate::outbox::DevOutbox;
use crate::passwords::Passwords;
use crate::ports::Store;
use crate::preferences::Preferences;
use crate::ratelimit::RateLimiter;
use crate::refresh::RefreshTokens;
use crate::revocations::Revocations;
use crate::sessions::Sessions;
use crate::settings::IdentitySettings;
use crate::tenant::{bootstrap, AdminCredentials, BootstrapReport};
use crate::users::Users;

/// What the core needs from outside: the database, the clock, the KEK, message delivery
/// and outbound HTTP.
pub struct Dependencies {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub kek: Arc<Kek>,
    pub messenger: Arc<dyn Deliver>,
    pub outbound: Arc<dyn Outbound>,
    pub run_limits: RunLimits,
}

/// Every component of the domain core.
pub struct Identity {
    pub settings: IdentitySettings,
    pub keys: Arc<Keys>,
    pub clients: Arc<Clients>,
    pub revocations: Arc<Revocations>,
    pub live: Arc<LiveChecks>,
    pub gate: Arc<Gate>,
    pub preferences: Arc<Preferences>,
    pub users: Arc<Users>,
    pub sessions: Arc<Sessions>,
    pub lockouts: Arc<Lockouts>,
    pub issuer: Arc<TokenIssuer>,
    pub refresh: Arc<RefreshTokens>,
    pub logins: Arc<Logins>,
    pub passwords: Arc<PasswordLogins>,
    pub resets: Arc<PasswordResets>,
    pub challenges: Arc<Challenges>,
    pub otp: Arc<Otp>,
    pub magic_links: Arc<MagicLinks>,
    pub grants: Arc<Grants>,
    pub codes: Arc<AuthorizationCodes>,
    pub ciba: Arc<Ciba>,
    pub deliveries: Arc<Deliveries>,
    pub introspection: Arc<TokenIntrospection>,
    pub journeys: Arc<JourneyService>,
    pub client_journeys: Arc<ClientJourneys>,
    pub authorize: Arc<Authorizations>,
    pub outbox: Arc<DevOutbox>,
    pub changes: ChangeFeed,
    store: Arc<dyn Store>,
}

impl Identity {
    /// Bootstraps the tenant if needed, applies operator-given admin credentials, loads keys,
    /// revocations and login preferences, and wires the components.
    pub async fn start(
        deps: Dependencies,
        settings: IdentitySettings,
        admin: Option<AdminCredentials>,
    ) -> Result<(Self, BootstrapReport), Error> {
        let Dependencies {
            store,
            clock,
            kek,
            messenger,
            outbound,
            run_limits,
        } = deps;
        let clients = Arc::new(Clients::new(
            store.clone(),
            clock.clone(),
            &kek,
            settings.secret_rotation_grace_s,
            settings.outbound_allow_cidrs.clone(),
        ));
        let report = bootstrap(
            store.as_ref(),
            store.as_ref(),
            &clients,
            clock.as_ref(),
            &kek,
            admin,
        )
        .await?;
        let keys = Arc::new(
            Keys::load(
                store.clone(),
                store.clone(),
                kek.clone(),
                clock.clone(),
                settings.key_activation_delay_s,
                settings.leeway_s,
            )
            .await?,
        );
        let revocations = Arc::new(Revocations::load(store.clone(), clock.clone()).await?);
        let live = Arc::new(LiveChecks::new(
            store.clone(),
            store.clone(),
            clock.clone(),
            settings.live_check_cache_ms,
        ));
        let gate = Arc::new(Gate::new(
            keys.clone(),
            revocations.clone(),
            clients.clone(),
            live.clone(),
            clock.clone(),
            &settings,
        ));
        let preferences = Arc::new(Preferences::load(store.clone(), clock.clone()).await?);
        let users = Arc::new(Users::new(
            store.clone(),
            clock.clone(),
            Arc::new(Passwords::default()),
            preferences.clone(),
            live.clone(),
        ));
        let sessions = Arc::new(Sessions::new(
            store.clone(),
            clock.clone(),
            live.clone(),
            settings.session_idle_timeout_s,
        ));
        let lockouts = Arc::new(Lockouts::new(store.clone(), clock.clone(), &kek));
        let issuer = Arc::new(TokenIssuer::new(
            keys.clone(),
            clock.clone(),
            settings.issuer.clone(),
            report.management_app_id.clone(),
        ));
        let refresh = Arc::new(RefreshTokens::new(
            store.clone(),
            kek.clone(),
            clock.clone(),
            settings.refresh_reuse_window_s,
        ));
        let logins = Arc::new(Logins::new(
            sessions.clone(),
            refresh.clone(),
            issuer.clone(),
            live.clone(),
            users.clone(),
        ));
        let limits = Arc::new(RateLimiter::new(settings.rate_limits.clone()));
        let deliveries = Arc::new(Deliveries::new(
            store.clone(),
            kek.clone(),
            messenger.clone(),
            outbound.clone(),
            clock.clone(),
        ));
        let challenges = Arc::new(Challenges::new(
            store.clone(),
            users.clone(),
            preferences.clone(),
            limits.clone(),
            messenger,
            settings.messages.clone(),
            &kek,
            clock.clone(),
            logins.clone(),
        ));
        let resets = Arc::new(PasswordResets::new(challenges.clone(), lockouts.clone()));
        let passwords = Arc::new(PasswordLogins::new(
            users.clone(),
            lockouts.clone(),
            preferences.clone(),
            limits.clone(),
            logins.clone(),
            resets.clone(),
            clock.clone(),
        ));
        let ciba = Arc::new(Ciba::new(
            store.clone(),
            clients.clone(),
            users.clone(),
            keys.clone(),
            live.clone(),
            logins.clone(),
            deliveries.clone(),
            limits.clone(),
            settings.messages.clone(),
            kek.clone(),
            clock.clone(),
            settings.issuer.clone(),
            settings.ciba,
        ));
        let otp = Arc::new(Otp::new(challenges.clone(), lockouts.clone()));
        let magic_links = Arc::new(MagicLinks::new(challenges.clone()));
        let codes = Arc::new(AuthorizationCodes::new(
            store.clone(),
            CodeDeps {
                users: users.clone(),
                logins: logins.clone(),
                sessions: sessions.clone(),
                refresh: refresh.clone(),
                revocations: revocations.clone(),
            },
            clock.clone(),
        ));
        let grants = Arc::new(Grants::new(
            issuer.clone(),
            logins.clone(),
            ciba.clone(),
            codes.clone(),
        ));
        let introspection = Arc::new(TokenIntrospection::new(
            gate.clone(),
            revocations.clone(),
            clients.clone(),
            refresh.clone(),
            live.clone(),
            settings.issuer.clone(),
        ));
        let journeys = Arc::new(JourneyService::new(
            store.clone(),
            clock.clone(),
            kek.clone(),
            outbound,
            run_limits,
        ));
        let client_journeys = Arc::new(
            ClientJourneys::new(
                store.clone(),
                journeys.clone(),
                codes.clone(),
                users.clone(),
                logins.clone(),
                kek,
                clock.clone(),
                limits,
            )
            .with_authn(JourneyAuthn {
                clients: clients.clone(),
                passwords: passwords.clone(),
                otp: otp.clone(),
            }),
        );
        let authorize = Arc::new(Authorizations::new(
            AuthorizeDeps {
                clients: clients.clone(),
                preferences: preferences.clone(),
                journeys: journeys.clone(),
                sessions: sessions.clone(),
                codes: codes.clone(),
                users: users.clone(),
            },
            store.clone(),
            clock.clone(),
            settings.issuer.clone(),
        ));
        let outbox = Arc::new(DevOutbox::new(
            store.clone(),
            clock.clone(),
            settings.dev_outbox,
        ));
        let followers: Vec<Arc<dyn FollowChanges>> = vec![
            clients.clone(),
            keys.clone(),
            revocations.clone(),
            live.clone(),
            preferences.clone(),
            journeys.clone(),
        ];
        let changes = ChangeFeed::new(store.clone(), clock, followers);
        let identity = Self {
            settings,
            keys,
            clients,
            revocations,
            live,
            gate,
            preferences,
            users,
            sessions,
            lockouts,
            issuer,
            refresh,
            logins,
            passwords,
            resets,
            challenges,
            otp,
            magic_links,
            grants,
            codes,
            ciba,
            deliveries,
            introspection,
            journeys,
            client_journeys,
            authorize,
            outbox,
            changes,
            store,
        };
        Ok((identity, report))
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The database, for the binary's own wiring (the delivery outbox) and tests.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Which database backs this node ("sqlite" or "postgres").
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), Error> {
        Ok(self.store.ping().await?)
    }

    /// Follows other nodes' changes (the binary calls this about twice a second).
    pub async fn sync_changes(&self) -> Result<usize, Error> {
        self.changes.sync().await
    }

    /// Housekeeping: every component drops what has expired. Runs every step even if one
    /// fails; the first error is returned.
    pub async fn purge(&self) -> Result<(), Error> {
        let results = [
            self.keys.purge().await,
            self.revocations.purge().await,
            self.changes.purge().await,
            self.sessions.purge().await,
            self.lockouts.purge().await,
            self.refresh.purge().await,
            self.challenges.purge().await,
            self.outbox.purge().await,
            self.journeys.purge().await,
            self.ciba.purge().await,
            self.deliveries.purge().await,
            self.codes.purge().await,
            self.client_journeys.purge().await,
            self.authorize.purge().await,
        ];
        results
            .into_iter()
            .collect::<Result<Vec<()>, Error>>()
            .map(|_| ())
    }
}
