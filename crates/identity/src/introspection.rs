//! [`TokenIntrospection`]: RFC 7662 introspection and RFC 7009 revocation of access and
//! refresh tokens, for clients that authenticated at the OAuth endpoints.
//!
//! Rules: any authenticated client of the tenant may introspect (it acts as a resource
//! server); an inactive token gives only `{"active": false}`; a user token is active only
//! while its session is live and its user active (as Tessera's own APIs require). Only the
//! client a token was issued to may revoke it; revoking a refresh token revokes its family;
//! unknown tokens are a success (RFC 7009 §2.2).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::caller::AuthenticatedClient;
use crate::clients::Clients;
use crate::error::Error;
use crate::gate::Gate;
use crate::live::LiveChecks;
use crate::refresh::{introspection_json, RefreshTokens};
use crate::revocations::Revocations;

/// The claims an active access token's introspection shows.
const INTROSPECTED_CLAIMS: [&str; 12] = [
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "jti",
    "app_id",
    "sid",
    "auth_time",
    "amr",
];

pub struct TokenIntrospection {
    gate: Arc<Gate>,
    revocations: Arc<Revocations>,
    clients: Arc<Clients>,
    refresh: Arc<RefreshTokens>,
    live: Arc<LiveChecks>,
    issuer: String,
}

fn inactive() -> Value {
    json!({"active": false})
}

impl TokenIntrospection {
    pub fn new(
        gate: Arc<Gate>,
        revocations: Arc<Revocations>,
        clients: Arc<Clients>,
        refresh: Arc<RefreshTokens>,
        live: Arc<LiveChecks>,
        issuer: String,
    ) -> Self {
        Self {
            gate,
            revocations,
            clients,
            refresh,
            live,
            issuer,
        }
    }

    /// RFC 7662 introspection of an access or refresh token.
    pub async fn introspect(
        &self,
        _caller: &AuthenticatedClient,
        token: &str,
    ) -> Result<Value, Error> {
        let Some(v) = self.gate.verify_own_access_token(token, 0) else {
            // Not one of our access tokens: perhaps one of our refresh tokens.
            return match self.refresh.introspect(token).await? {
                None | Some(None) => Ok(inactive()),
                Some(Some(family)) => {
                    let live = self
                        .live
                        .user_token_live(&family.session_hash, &family.user_id)
                        .await?;
                    Ok(if live {
                        introspection_json(&family, &self.issuer)
                    } else {
                        inactive()
                    })
                }
            };
        };
        if self.revocations.is_revoked(&v.jti).await? {
            return Ok(inactive());
        }
        match self.clients.record(&v.client_id).await? {
            Some(r) if r.client.settings.enabled => {}
            _ => return Ok(inactive()),
        }
        if !self.gate.user_token_live(&v).await? {
            return Ok(inactive());
        }
        let mut out = Map::new();
        out.insert("active".into(), Value::Bool(true));
        out.insert("token_type".into(), Value::String("Bearer".into()));
        for field in INTROSPECTED_CLAIMS {
            if let Some(value) = v.claims.get(field) {
                out.insert(field.into(), value.clone());
            }
        }
        Ok(Value::Object(out))
    }

    /// RFC 7009 revocation of an access or refresh token by the client it was issued to.
    pub async fn revoke(&self, caller: &AuthenticatedClient, token: &str) -> Result<(), Error> {
        let Some(v) = self.gate.verify_own_access_token(token, 0) else {
            // A refresh token revokes its whole family (SPEC §4).
            self.refresh.revoke(caller.client_id(), token).await?;
            return Ok(());
        };
        if v.client_id != caller.client_id() {
            return Err(Error::invalid("the token was issued to another client"));
        }
        self.revocations.revoke(&v.jti, v.exp).await
    }
}
