//! [`AuthorizationCodes`]: one-time codes that stand for a completed authentication (a client
//! journey that authenticated its user; later the authorization endpoint), and the
//! `authorization_code` grant that exchanges them for tokens (RFC 6749 §4.1.3, RFC 7636).
//!
//! Invariants:
//! - A code is 256 random bits, stored only as base64url(SHA-256), valid [`CODE_TTL_MS`],
//!   bound to the client it was issued for, and consumed by one conditional update: of two
//!   exchanges (on any nodes) exactly one gets tokens.
//! - PKCE: a code issued with an `S256` challenge needs the matching `code_verifier`
//!   (43–128 unreserved characters); a verifier for a code without a challenge is refused.
//! - A second exchange of a consumed code fails and revokes what the first one issued
//!   (RFC 6749 §4.1.2): for a client journey's code, the session it created (its refresh
//!   tokens and access tokens with it); for the authorization endpoint's, that exchange's
//!   refresh-token family and access token, leaving the browser session and the other
//!   clients' tokens alone.
//! - A client journey's code starts a session carrying every method of the authentication
//!   (its `amr`, with `mfa` across two factor classes) and its `auth_time`; the answer names
//!   the session, so the app can use silent authentication afterwards.
//! - The authorization endpoint's code is bound to its browser session, `redirect_uri`,
//!   `nonce` and scope: the tokens belong to that session (which must still be live) and the
//!   ID token carries `nonce` and `at_hash`; the client is recorded as one of the session's
//!   (single sign-on and back-channel logout).

use std::sync::Arc;

use crate::claims::UserGrant;
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::issuer::IssuedTokens;
use crate::logins::Logins;
use crate::model::{
    AuthorizationCode, ClientRecord, CodeExchange, CodeFirstUse, CodeGrant, User, UserStatus,
};
use crate::ports::InteractionStore;
use crate::refresh::RefreshTokens;
use crate::revocations::Revocations;
use crate::sessions::Sessions;
use crate::users::Users;
use crate::util::sha256_b64url;

/// How long a code may be exchanged.
pub const CODE_TTL_MS: i64 = 60_000;

/// Consumed codes are kept this long after they expire, so a late replay is still
/// recognised (and its tokens revoked).
const REPLAY_MEMORY_MS: i64 = 10 * 60_000;

fn invalid_grant(message: &'static str) -> Error {
    Error::new(Code::InvalidGrant, message)
}

/// A PKCE verifier: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
fn plausible_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A PKCE `S256` challenge: 43 base64url characters.
pub fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The `authorization_code` grant's parameters.
pub struct CodeRedemption<'a> {
    pub code: &'a str,
    pub code_verifier: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    /// The client is public: the code must have been issued with a PKCE challenge.
    pub public_client: bool,
}

pub struct AuthorizationCodes {
    store: Arc<dyn InteractionStore>,
    users: Arc<Users>,
    logins: Arc<Logins>,
    sessions: Arc<Sessions>,
    refresh: Arc<RefreshTokens>,
    revocations: Arc<Revocations>,
    clock: Arc<dyn Clock>,
}

/// The components an exchange reaches.
pub struct CodeDeps {
    pub users: Arc<Users>,
    pub logins: Arc<Logins>,
    pub sessions: Arc<Sessions>,
    pub refresh: Arc<RefreshTokens>,
    pub revocations: Arc<Revocations>,
}

impl AuthorizationCodes {
    pub fn new(store: Arc<dyn InteractionStore>, deps: CodeDeps, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            users: deps.users,
            logins: deps.logins,
            sessions: deps.sessions,
            refresh: deps.refresh,
            revocations: deps.revocations,
            clock,
        }
    }

    /// A new code for `client_id` standing for `grant` (an authentication of `user_id`).
    pub(crate) async fn issue(
        &self,
        client_id: &str,
        user_id: &str,
        grant: CodeGrant,
    ) -> Result<String, Error> {
        let code = tessera_jose::random_token_b64url(32)?;
        let now = self.clock.now_ms();
        self.store
            .create_authorization_code(&AuthorizationCode {
                code_hash: sha256_b64url(&code),
                client_id: client_id.to_string(),
                user_id: user_id.to_string(),
                grant,
                created_at_ms: now,
                expires_at_ms: now + CODE_TTL_MS,
                consumed_at_ms: None,
                sid: None,
                first_use: None,
            })
            .await?;
        Ok(code)
    }

    /// `grant_type=authorization_code` for an authenticated `client`.
    pub async fn exchange(
        &self,
        client: &ClientRecord,
        redemption: CodeRedemption<'_>,
    ) -> Result<IssuedTokens, Error> {
        if redemption.code.is_empty() || redemption.code.len() > 128 {
            return Err(invalid_grant("the code is invalid or expired"));
        }
        let hash = sha256_b64url(redemption.code);
        let code = match self
            .store
            .exchange_authorization_code(&hash, client.client_id(), self.clock.now_ms())
            .await?
        {
            CodeExchange::Consumed(code) => code,
            CodeExchange::Replayed(code) => {
                if let Some(first) = &code.first_use {
                    if let Some(family) = &first.refresh_family {
                        self.refresh.revoke_family(family).await?;
                    }
                    self.revocations.revoke(&first.jti, first.exp).await?;
                    tracing::info!(
                        client_id = %client.client_id(),
                        "authorization code replayed; the tokens of its first exchange are revoked"
                    );
                } else if let Some(sid) = &code.sid {
                    self.sessions.end_by_sid(sid).await?;
                    tracing::info!(
                        client_id = %client.client_id(),
                        "authorization code replayed; the session it created is ended"
                    );
                }
                return Err(invalid_grant(
                    "the code was already used; the tokens it gave are revoked",
                ));
            }
            CodeExchange::Invalid => return Err(invalid_grant("the code is invalid or expired")),
        };
        match (&code.grant.code_challenge, redemption.code_verifier) {
            (Some(challenge), Some(verifier)) => {
                if !plausible_verifier(verifier) || sha256_b64url(verifier) != *challenge {
                    return Err(invalid_grant("the code_verifier does not match"));
                }
            }
            (Some(_), None) => return Err(invalid_grant("the code needs its code_verifier")),
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "a code_verifier was sent for a code issued without a challenge",
                ))
            }
            (None, None) if redemption.public_client => {
                return Err(invalid_grant("a public client's code needs PKCE"))
            }
            (None, None) => {}
        }
        if code.grant.redirect_uri.as_deref() != redemption.redirect_uri
            && code.grant.redirect_uri.is_some()
        {
            return Err(invalid_grant(
                "the redirect_uri differs from the authorization's",
            ));
        }
        let user = self
            .users
            .by_id(&code.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(|| invalid_grant("the user is no longer active"))?;
        if let Some(sid) = &code.grant.session {
            return self
                .exchange_browser(client, &user, &hash, &code, sid)
                .await;
        }
        let grant = UserGrant::default();
        let tokens = self
            .logins
            .complete_decoupled(
                client,
                &user,
                &code.grant.methods,
                code.grant.auth_time,
                &grant,
                true,
            )
            .await?;
        if let Some(session) = &tokens.session_id {
            self.store
                .set_authorization_code_sid(&hash, &session.hash())
                .await?;
        }
        Ok(tokens)
    }

    /// Redeems the completion code of the hosted login's journey, which must have been
    /// started for `client_id` with the challenge of `verifier` (the server's own): the
    /// authentication it stands for, consumed.
    pub(crate) async fn redeem_login(
        &self,
        client_id: &str,
        code: &str,
        verifier: &str,
    ) -> Result<AuthorizationCode, Error> {
        let invalid = || Error::invalid("the login's code is invalid, expired or already used");
        if code.is_empty() || code.len() > 128 {
            return Err(invalid());
        }
        let hash = sha256_b64url(code);
        match self
            .store
            .exchange_authorization_code(&hash, client_id, self.clock.now_ms())
            .await?
        {
            CodeExchange::Consumed(code)
                if code.grant.session.is_none()
                    && code.grant.code_challenge.as_deref()
                        == Some(sha256_b64url(verifier).as_str()) =>
            {
                Ok(*code)
            }
            _ => Err(invalid()),
        }
    }

    /// The tokens of an authorization endpoint's code: of its browser session.
    async fn exchange_browser(
        &self,
        client: &ClientRecord,
        user: &User,
        hash: &str,
        code: &AuthorizationCode,
        sid: &str,
    ) -> Result<IssuedTokens, Error> {
        let session = self
            .sessions
            .get(sid)
            .await?
            .filter(|s| s.browser && s.user_id == user.user_id && self.sessions.is_live(s))
            .ok_or_else(|| invalid_grant("the login session of the code has ended"))?;
        let grant = UserGrant {
            scope: code.grant.scope.clone(),
            nonce: code.grant.nonce.clone(),
            at_hash: code.grant.id_token,
            ..UserGrant::default()
        };
        let mut tokens = self
            .logins
            .browser_tokens(client, user, &session, &grant)
            .await?;
        if !code.grant.id_token {
            tokens.id_token = None;
        }
        self.sessions.add_client(sid, client.client_id()).await?;
        if let Some((jti, exp)) = &tokens.access_jti {
            let first_use = CodeFirstUse {
                refresh_family: tokens
                    .refresh_token
                    .as_deref()
                    .and_then(|t| t.split('.').next())
                    .map(str::to_string),
                jti: jti.clone(),
                exp: *exp,
            };
            self.store
                .set_authorization_code_first_use(hash, &first_use)
                .await?;
        }
        Ok(tokens)
    }

    /// Housekeeping: codes gone past their replay memory.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_authorization_codes(self.clock.now_ms() - REPLAY_MEMORY_MS)
            .await?;
        Ok(())
    }
}
