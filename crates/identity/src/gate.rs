//! [`Gate`]: the one place a request's credentials are checked, producing the typed
//! [`Caller`] (bearer tokens) or [`AuthenticatedClient`] (client authentication at the OAuth
//! endpoints) that operations demand (`caller.rs`).
//!
//! A bearer token is accepted (SPEC §4) when it is an RFC 9068 access token we signed
//! (`typ: at+jwt`), our issuer, `aud` containing `userid-api`, unexpired (with leeway), not
//! revoked, its client existing and enabled, and — for a user token — its session live and
//! its user active. A token that is neither a client token (no `sid`, `sub` = client) nor a
//! user token (a `sid`) is refused. Signature checks are cached by token text until expiry;
//! revocation, client and liveness are checked on every use (from per-node caches that
//! follow the change feed).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::caller::{AuthenticatedClient, Caller, NamedClient, TokenKind, VerifiedAccessToken};
use crate::clients::Clients;
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::keys::Keys;
use crate::live::LiveChecks;
use crate::model::TokenEndpointAuthMethod;
use crate::revocations::Revocations;
use crate::settings::{IdentitySettings, DEFAULT_AUDIENCE};

/// The `typ` of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Client credentials as presented at an OAuth endpoint.
pub struct ClientAuth {
    pub client_id: String,
    pub client_secret: Option<Zeroizing<String>>,
    pub method: TokenEndpointAuthMethod,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("method", &self.method)
            .finish()
    }
}

/// Verified bearer tokens by their exact text, so repeated calls skip the signature check.
struct TokenCache {
    entries: RwLock<HashMap<Box<str>, Arc<VerifiedAccessToken>>>,
    capacity: usize,
}

impl TokenCache {
    fn get(&self, token: &str) -> Option<Arc<VerifiedAccessToken>> {
        self.entries.read().get(token).cloned()
    }

    fn insert(&self, token: &str, verified: Arc<VerifiedAccessToken>, now_s: i64) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.entries.write();
        if map.len() >= self.capacity {
            map.retain(|_, v| v.exp > now_s);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(token.into(), verified);
    }
}

pub struct Gate {
    keys: Arc<Keys>,
    revocations: Arc<Revocations>,
    clients: Arc<Clients>,
    live: Arc<LiveChecks>,
    clock: Arc<dyn Clock>,
    issuer: String,
    leeway_s: i64,
    tokens: TokenCache,
}

fn invalid_token(message: &'static str) -> Error {
    Error::new(Code::InvalidToken, message)
}

impl Gate {
    pub fn new(
        keys: Arc<Keys>,
        revocations: Arc<Revocations>,
        clients: Arc<Clients>,
        live: Arc<LiveChecks>,
        clock: Arc<dyn Clock>,
        settings: &IdentitySettings,
    ) -> Self {
        Self {
            keys,
            revocations,
            clients,
            live,
            clock,
            issuer: settings.issuer.clone(),
            leeway_s: settings.leeway_s,
            tokens: TokenCache {
                entries: RwLock::new(HashMap::new()),
                capacity: settings.token_cache_entries,
            },
        }
    }

    /// The caller a request's bearer token (if any) makes. Without a token: anonymous. A
    /// token that fails any check: 401 `invalid_token`.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Caller, Error> {
        let Some(token) = bearer else {
            return Ok(Caller::Anonymous);
        };
        let now = self.clock.now_s();
        let verified = match self.tokens.get(token) {
            Some(v) => v,
            None => {
                let v = self
                    .verify_own_access_token(token, self.leeway_s)
                    .ok_or_else(|| invalid_token("the access token is invalid or expired"))?;
                if !audience_contains(v.claims.get("aud"), DEFAULT_AUDIENCE) {
                    return Err(invalid_token("the access token is not meant for this API"));
                }
                let v = Arc::new(v);
                self.tokens.insert(token, v.clone(), now);
                v
            }
        };
        if verified.exp + self.leeway_s <= now {
            return Err(invalid_token("the access token is invalid or expired"));
        }
        if self.revocations.contains(&verified.jti) {
            return Err(invalid_token("the access token was revoked"));
        }
        let client = self
            .clients
            .record(&verified.client_id)
            .await?
            .filter(|r| r.client.settings.enabled)
            .ok_or_else(|| invalid_token("the token's client no longer exists or is disabled"))?;
        if let TokenKind::User { sid } = &verified.kind {
            if !self.live.user_token_live(sid, &verified.sub).await? {
                return Err(invalid_token(
                    "the token's session has ended or its user is inactive",
                ));
            }
        }
        Ok(Caller::verified(verified, client))
    }

    /// Authenticates a client at an OAuth endpoint (RFC 6749 §2.3.1): its pinned
    /// `token_endpoint_auth_method` if it has one (else Basic or the form), an enabled client, its current secret or the previous
    /// one within the grace period. Every failure is the same 401 `invalid_client`.
    pub async fn authenticate_client(
        &self,
        auth: &ClientAuth,
    ) -> Result<AuthenticatedClient, Error> {
        self.check_client(auth, false).await
    }

    /// [`Gate::authenticate_client`], or a public client (`token_endpoint_auth_method: none`)
    /// naming itself with `client_id` and no secret: for the token and revocation endpoints
    /// only (the grants a public client may use are checked in `grants.rs`).
    pub async fn authenticate_client_or_public(
        &self,
        auth: &ClientAuth,
    ) -> Result<AuthenticatedClient, Error> {
        self.check_client(auth, true).await
    }

    async fn check_client(
        &self,
        auth: &ClientAuth,
        public_allowed: bool,
    ) -> Result<AuthenticatedClient, Error> {
        let used_basic = auth.method == TokenEndpointAuthMethod::ClientSecretBasic;
        let fail = || Error::invalid_client(used_basic);
        let Some(secret) = &auth.client_secret else {
            if !public_allowed || used_basic {
                return Err(fail());
            }
            let record = match self.clients.record(&auth.client_id).await? {
                Some(r) => r,
                None => return Err(fail()),
            };
            let settings = &record.client.settings;
            if !settings.enabled
                || settings.token_endpoint_auth_method != Some(TokenEndpointAuthMethod::None)
            {
                return Err(fail());
            }
            return Ok(AuthenticatedClient::proven(
                record,
                TokenEndpointAuthMethod::None,
            ));
        };
        let record = match self.clients.record(&auth.client_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(fail()),
            Err(e) => return Err(e),
        };
        let settings = &record.client.settings;
        let pinned_elsewhere = settings
            .token_endpoint_auth_method
            .is_some_and(|pinned| pinned != auth.method);
        if !settings.enabled || pinned_elsewhere {
            return Err(fail());
        }
        if !self.clients.secret_matches(&record, secret) {
            return Err(fail());
        }
        Ok(AuthenticatedClient::proven(record, auth.method))
    }

    /// The enabled client a browser-facing call names by id (400 `invalid_request` for an
    /// unknown or disabled one; the same answer for both).
    pub async fn named_client(&self, client_id: &str) -> Result<NamedClient, Error> {
        let unknown = || Error::invalid("`clientId` does not name an enabled client");
        if client_id.is_empty() || client_id.len() > 128 {
            return Err(unknown());
        }
        match self.clients.record(client_id).await? {
            Some(r) if r.client.settings.enabled => Ok(NamedClient::found(r)),
            _ => Err(unknown()),
        }
    }

    /// Checks the signature, `typ`, issuer, expiry and kind of a token Tessera issued.
    /// Returns `None` for anything that is not a live access token of ours.
    pub(crate) fn verify_own_access_token(
        &self,
        token: &str,
        leeway_s: i64,
    ) -> Option<VerifiedAccessToken> {
        let signed = self.keys.verify(token)?;
        if signed.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return None;
        }
        let c = signed.claims;
        if c.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return None;
        }
        let exp = c.get("exp").and_then(Value::as_i64)?;
        if exp + leeway_s <= self.clock.now_s() {
            return None;
        }
        let client_id = c.get("client_id").and_then(Value::as_str)?.to_string();
        let sub = c.get("sub").and_then(Value::as_str)?.to_string();
        let kind = VerifiedAccessToken::kind_of(&c, &sub, &client_id)?;
        Some(VerifiedAccessToken {
            client_id,
            sub,
            jti: c.get("jti").and_then(Value::as_str)?.to_string(),
            scope: c.get("scope").and_then(Value::as_str).map(str::to_string),
            exp,
            kind,
            claims: c,
        })
    }

    /// Whether a verified user token's session is live and user active now.
    pub(crate) async fn user_token_live(&self, token: &VerifiedAccessToken) -> Result<bool, Error> {
        match &token.kind {
            TokenKind::User { sid } => self.live.user_token_live(sid, &token.sub).await,
            TokenKind::Client => Ok(true),
        }
    }
}

fn audience_contains(aud: Option<&Value>, wanted: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == wanted,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(wanted)),
        _ => false,
    }
}
