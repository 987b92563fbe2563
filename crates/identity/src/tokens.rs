//! OAuth token operations: client authentication, the client-credentials grant, RFC 7662
//! introspection, RFC 7009 revocation, and verification of bearer tokens presented to
//! Tessera's own APIs.
//!
//! The client-credentials path is the hot path: a cached client, one HMAC, one signature with
//! a cached key, no database write.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use tessera_jose::Algorithm;
use zeroize::Zeroizing;

use crate::cache::{ClientRecord, VerifiedAccessToken};
use crate::error::Error;
use crate::model::TokenEndpointAuthMethod;
use crate::oauth::{OAuthError, OAuthErrorCode};
use crate::service::Identity;
use crate::settings::DEFAULT_AUDIENCE;

/// The `typ` of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Algorithms Tessera signs with, and so accepts for its own tokens.
const OWN_ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

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

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

#[derive(Serialize)]
struct ClientTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    iat: i64,
    exp: i64,
    jti: &'a str,
    client_id: &'a str,
    app_id: &'a str,
    app_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    roles: &'a [&'a str],
}

/// A bearer token that passed every check, with the client it belongs to.
#[derive(Debug, Clone)]
pub struct AccessContext {
    pub token: Arc<VerifiedAccessToken>,
    pub client: Arc<ClientRecord>,
}

impl AccessContext {
    /// Admin rights come from the client's application in the store, not from the claim.
    pub fn is_admin(&self) -> bool {
        self.client.is_admin()
    }

    /// True for client tokens (`sub` = client_id), false for user tokens.
    pub fn is_client_token(&self) -> bool {
        self.token.sub == self.token.client_id
    }
}

impl Identity {
    /// Authenticates a client at an OAuth endpoint (RFC 6749 §2.3.1).
    pub async fn authenticate_client(
        &self,
        auth: &ClientAuth,
    ) -> Result<Arc<ClientRecord>, OAuthError> {
        let used_basic = auth.method == TokenEndpointAuthMethod::ClientSecretBasic;
        let fail = || OAuthError::invalid_client(used_basic);
        let Some(secret) = &auth.client_secret else {
            return Err(fail());
        };
        let record = match self.client_record(&auth.client_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(fail()),
            Err(e) => {
                tracing::error!(error = %e, "client lookup failed");
                return Err(OAuthError::server_error());
            }
        };
        let settings = &record.client.settings;
        if !settings.enabled || settings.token_endpoint_auth_method != auth.method {
            return Err(fail());
        }
        if !self.secret_matches(&record, secret) {
            return Err(fail());
        }
        Ok(record)
    }

    /// The client-credentials grant.
    pub fn client_credentials_token(
        &self,
        record: &ClientRecord,
        scope: Option<&str>,
        resources: &[String],
    ) -> Result<TokenResponse, OAuthError> {
        let settings = &record.client.settings;
        let scope = normalize_scope(scope, &settings.allowed_scopes)?;
        check_resources(resources, &settings.allowed_resources)?;
        let aud = match resources {
            [] => Audience::One(DEFAULT_AUDIENCE),
            [one] => Audience::One(one),
            many => Audience::Many(many),
        };
        let now = self.clock.now_s();
        let ttl = settings.access_token_ttl;
        let jti = tessera_jose::random_token_b64url(16).map_err(|_| OAuthError::server_error())?;
        let roles: &[&str] = if record.is_admin() { &["admin"] } else { &[] };
        let claims = ClientTokenClaims {
            iss: &self.settings.issuer,
            sub: &record.client.client_id,
            aud,
            iat: now,
            exp: now + i64::from(ttl),
            jti: &jti,
            client_id: &record.client.client_id,
            app_id: &record.app.app_id,
            app_name: &record.app.name,
            scope: scope.as_deref(),
            roles,
        };
        let access_token = self
            .sign(
                settings.access_token_signed_response_alg,
                ACCESS_TOKEN_TYP,
                &claims,
            )
            .map_err(|e| {
                tracing::error!(error = %e, "signing failed");
                OAuthError::server_error()
            })?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope,
            id_token: None,
            refresh_token: None,
        })
    }

    /// Signs `claims` with the current key of `alg`.
    pub fn sign<T: Serialize>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
    ) -> Result<String, Error> {
        let payload = serde_json::to_vec(claims).map_err(|e| Error::Internal(e.to_string()))?;
        let snapshot = self.keys.snapshot();
        let key = snapshot
            .signer(alg, self.clock.now_s())
            .ok_or_else(|| Error::Internal(format!("no active {} signing key", alg.as_str())))?;
        Ok(key.sign_jwt(typ, &payload)?)
    }

    /// Verifies the signature, `typ`, issuer and expiry of a token Tessera issued.
    /// Returns `None` for anything that is not a live access token of ours.
    fn verify_own_access_token(&self, token: &str, leeway_s: i64) -> Option<VerifiedAccessToken> {
        let snapshot = self.keys.snapshot();
        let verified = snapshot
            .verification()
            .verify(token, &OWN_ALGORITHMS)
            .ok()?;
        if verified.header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return None;
        }
        let c = verified.claims;
        if c.get("iss").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return None;
        }
        let exp = c.get("exp").and_then(Value::as_i64)?;
        if exp + leeway_s <= self.clock.now_s() {
            return None;
        }
        Some(VerifiedAccessToken {
            client_id: c.get("client_id").and_then(Value::as_str)?.to_string(),
            sub: c.get("sub").and_then(Value::as_str)?.to_string(),
            jti: c.get("jti").and_then(Value::as_str)?.to_string(),
            scope: c.get("scope").and_then(Value::as_str).map(str::to_string),
            exp,
            claims: c,
        })
    }

    /// Checks a bearer token presented to Tessera's own APIs (SPEC §4): an RFC 9068 token of
    /// ours, `aud` containing `userid-api`, unexpired, not revoked, its client existing and
    /// enabled. Verification results are cached; revocation and client state are not.
    pub async fn verify_bearer(&self, token: &str) -> Result<AccessContext, Error> {
        let now = self.clock.now_s();
        let verified = match self.tokens.get(token) {
            Some(v) => v,
            None => {
                let v = self
                    .verify_own_access_token(token, self.settings.leeway_s)
                    .ok_or(Error::Unauthenticated(
                        "the access token is invalid or expired",
                    ))?;
                if !audience_contains(v.claims.get("aud"), DEFAULT_AUDIENCE) {
                    return Err(Error::Unauthenticated(
                        "the access token is not meant for this API",
                    ));
                }
                let v = Arc::new(v);
                self.tokens.insert(token, v.clone(), now);
                v
            }
        };
        if verified.exp + self.settings.leeway_s <= now {
            return Err(Error::Unauthenticated(
                "the access token is invalid or expired",
            ));
        }
        if self.revoked.contains(&verified.jti) {
            return Err(Error::Unauthenticated("the access token was revoked"));
        }
        let client = self
            .client_record(&verified.client_id)
            .await?
            .filter(|r| r.client.settings.enabled)
            .ok_or(Error::Unauthenticated(
                "the token's client no longer exists or is disabled",
            ))?;
        if verified.sub != verified.client_id {
            // A user token: its session must be live and its user active.
            self.check_user_token(&verified).await?;
        }
        Ok(AccessContext {
            token: verified,
            client,
        })
    }

    /// RFC 7662 introspection. Any authenticated client of the tenant may introspect access
    /// tokens (it acts as a resource server). Inactive tokens give only `{"active": false}`.
    pub async fn introspect(&self, _caller: &ClientRecord, token: &str) -> Result<Value, Error> {
        let inactive = json!({"active": false});
        let Some(v) = self.verify_own_access_token(token, 0) else {
            // Not one of our access tokens: perhaps one of our refresh tokens.
            return Ok(self
                .introspect_refresh_token(token)
                .await?
                .unwrap_or(inactive));
        };
        if self.store.is_jti_revoked(&v.jti).await? {
            return Ok(inactive);
        }
        match self.client_record(&v.client_id).await? {
            Some(r) if r.client.settings.enabled => {}
            _ => return Ok(inactive),
        }
        // A user token is active only while its session is live and its user active, as
        // Tessera's own APIs require (SPEC §4).
        if v.claims.contains_key("sid") {
            match self.check_user_token(&v).await {
                Ok(()) => {}
                Err(Error::Unauthenticated(_)) => return Ok(inactive),
                Err(e) => return Err(e),
            }
        }
        let mut out = serde_json::Map::new();
        out.insert("active".into(), Value::Bool(true));
        out.insert("token_type".into(), Value::String("Bearer".into()));
        for field in [
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
        ] {
            if let Some(value) = v.claims.get(field) {
                out.insert(field.into(), value.clone());
            }
        }
        Ok(Value::Object(out))
    }

    /// RFC 7009 revocation of an access or refresh token. Unknown or invalid tokens are a success (the
    /// RFC says so); another client's token is refused.
    pub async fn revoke(&self, caller: &ClientRecord, token: &str) -> Result<(), OAuthError> {
        let Some(v) = self.verify_own_access_token(token, 0) else {
            // A refresh token revokes its whole family (SPEC §4).
            self.revoke_refresh_token(caller, token).await?;
            return Ok(());
        };
        if v.client_id != caller.client.client_id {
            return Err(OAuthError::invalid_request(
                "the token was issued to another client",
            ));
        }
        self.store.revoke_jti(&v.jti, v.exp).await.map_err(|e| {
            tracing::error!(error = %e, "revocation write failed");
            OAuthError::server_error()
        })?;
        self.revoked.insert(v.jti);
        Ok(())
    }
}

fn audience_contains(aud: Option<&Value>, wanted: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == wanted,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(wanted)),
        _ => false,
    }
}

/// Validates a requested `scope` against the client's allowed scopes; returns the scope to
/// grant (deduplicated, in request order) or `None` when none was requested.
fn normalize_scope(scope: Option<&str>, allowed: &[String]) -> Result<Option<String>, OAuthError> {
    let Some(scope) = scope else {
        return Ok(None);
    };
    let mut granted: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !s
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
        {
            return Err(OAuthError::invalid_request(
                "`scope` contains invalid characters",
            ));
        }
        if !allowed.iter().any(|a| a == s) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "a requested scope is not allowed for this client",
            ));
        }
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    Ok((!granted.is_empty()).then(|| granted.join(" ")))
}

/// RFC 8707: each resource is an absolute URI without a fragment and allowed for the client.
pub(crate) fn check_resources(resources: &[String], allowed: &[String]) -> Result<(), OAuthError> {
    for r in resources {
        let parsed = url::Url::parse(r).map_err(|_| {
            OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "`resource` must be an absolute URI",
            )
        })?;
        if parsed.fragment().is_some() {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "`resource` must not contain a fragment",
            ));
        }
        if !allowed.iter().any(|a| a == r) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "the requested resource is not allowed for this client",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["openid".into(), "read".into()]
    }

    #[test]
    fn scope_outside_allowed_list_is_invalid_scope() {
        let e = normalize_scope(Some("read write"), &allowed()).unwrap_err();
        assert_eq!(e.code, OAuthErrorCode::InvalidScope);
    }

    #[test]
    fn scope_is_deduplicated_and_empty_is_none() {
        assert_eq!(
            normalize_scope(Some("read  read openid"), &allowed())
                .unwrap()
                .as_deref(),
            Some("read openid")
        );
        assert_eq!(normalize_scope(Some(" "), &allowed()).unwrap(), None);
        assert_eq!(normalize_scope(None, &allowed()).unwrap(), None);
    }

    #[test]
    fn resources_must_be_absolute_fragment_free_and_allowed() {
        let allowed = vec!["https://api.example.com".to_string()];
        assert!(check_resources(&["https://api.example.com".into()], &allowed).is_ok());
        for bad in [
            "relative/path",
            "https://api.example.com#frag",
            "https://other.example.com",
        ] {
            let e = check_resources(&[bad.into()], &allowed).unwrap_err();
            assert_eq!(e.code, OAuthErrorCode::InvalidTarget, "{bad}");
        }
    }
}
