//! [`TokenIssuer`]: what the tokens Tessera signs contain (SPEC §4) — client access tokens
//! of the client-credentials grant, and the user access token and ID token of a session.
//! It signs with the cached keys of `keys.rs` and touches no database: the
//! client-credentials path is the hot path.
//!
//! Invariants: access tokens are RFC 9068 (`typ: at+jwt`); no user token outlives its
//! session; among access tokens `roles` is only in client tokens (an ID token carries the
//! platform's `roles` claim, always empty, only when a `claims` request names it); a requested `resource` must be absolute,
//! fragment-free and allowed for the client (`invalid_target`); a requested scope must be
//! allowed (`invalid_scope`).

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::claims::{amr, requested_claims, standard_claims, ClaimContext, UserGrant};
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::gate::ACCESS_TOKEN_TYP;
use crate::keys::Keys;
use crate::model::{ClientRecord, SessionRecord, User};
use crate::sessions::SessionId;
use crate::settings::DEFAULT_AUDIENCE;

/// The tokens of one issuance. The OAuth token endpoint and the REST APIs render it
/// differently (only the REST answers carry `session_id`).
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: Option<String>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    /// The session the tokens belong to (user tokens of a backend session only).
    pub session_id: Option<SessionId>,
    /// The access token's `jti` and expiry (user tokens), so a replayed authorization code
    /// can revoke it.
    pub access_jti: Option<(String, i64)>,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
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

#[derive(Serialize)]
struct UserAccessClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    iat: i64,
    exp: i64,
    jti: &'a str,
    client_id: &'a str,
    app_id: &'a str,
    scope: &'a str,
    sid: &'a str,
    auth_time: i64,
    amr: &'a [String],
    #[serde(flatten)]
    custom: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    amr: &'a [String],
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_data: Option<&'a Map<String, Value>>,
    #[serde(flatten)]
    standard: &'a Map<String, Value>,
}

pub struct TokenIssuer {
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
    issuer: String,
    /// The tenant's identifier, the `tid` claim: the id of the management application,
    /// created once per database at bootstrap (`tenant.rs`), so every node of one database
    /// says the same.
    tenant_id: String,
}

impl TokenIssuer {
    pub fn new(keys: Arc<Keys>, clock: Arc<dyn Clock>, issuer: String, tenant_id: String) -> Self {
        Self {
            keys,
            clock,
            issuer,
            tenant_id,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A client access token (client-credentials grant).
    pub fn client_token(
        &self,
        record: &ClientRecord,
        scope: Option<&str>,
        resources: &[String],
    ) -> Result<IssuedTokens, Error> {
        let settings = record.settings();
        let scope = normalize_scope(scope, &settings.allowed_scopes)?;
        check_resources(resources, &settings.allowed_resources)?;
        let aud = match resources {
            [] => Audience::One(DEFAULT_AUDIENCE),
            [one] => Audience::One(one),
            many => Audience::Many(many),
        };
        let now = self.clock.now_s();
        let ttl = settings.access_token_ttl;
        let jti = tessera_jose::random_token_b64url(16)?;
        let roles: &[&str] = if record.is_admin() { &["admin"] } else { &[] };
        let claims = ClientTokenClaims {
            iss: &self.issuer,
            sub: record.client_id(),
            aud,
            iat: now,
            exp: now + i64::from(ttl),
            jti: &jti,
            client_id: record.client_id(),
            app_id: &record.app.app_id,
            app_name: &record.app.name,
            scope: scope.as_deref(),
            roles,
        };
        let access_token = self.keys.sign(
            settings.access_token_signed_response_alg,
            ACCESS_TOKEN_TYP,
            &claims,
        )?;
        Ok(IssuedTokens {
            access_token,
            expires_in: i64::from(ttl),
            scope,
            id_token: None,
            refresh_token: None,
            session_id: None,
            access_jti: None,
        })
    }

    /// The user access token and ID token of `session` for `record`'s client.
    pub fn user_tokens(
        &self,
        record: &ClientRecord,
        user: &User,
        session: &SessionRecord,
        session_id: Option<SessionId>,
        grant: &UserGrant,
    ) -> Result<IssuedTokens, Error> {
        let resource = grant.resource.as_deref();
        let settings = record.settings();
        let now = self.clock.now_s();
        let scope = match &grant.scope {
            Some(scope) => scope.clone(),
            None => settings.default_scopes.join(" "),
        };
        let amr = amr(&session.methods);
        let jti = tessera_jose::random_token_b64url(16)?;
        // No token outlives its session.
        let access_exp = (now + i64::from(settings.access_token_ttl)).min(session.expires_at);
        let id_exp = (now + i64::from(settings.id_token_ttl)).min(session.expires_at);
        let ctx = ClaimContext {
            tenant_id: &self.tenant_id,
            new_user: grant.facts.new_user,
            id_token: false,
        };
        let access_custom = match &grant.claims {
            Some(claims) => requested_claims(user, &claims.access_token, &Map::new(), &ctx),
            None => Map::new(),
        };
        let access = UserAccessClaims {
            iss: &self.issuer,
            sub: &user.user_id,
            aud: Audience::One(resource.unwrap_or(DEFAULT_AUDIENCE)),
            iat: now,
            exp: access_exp,
            jti: &jti,
            client_id: record.client_id(),
            app_id: &record.app.app_id,
            scope: &scope,
            sid: &session.session_hash,
            auth_time: session.auth_time,
            amr: &amr,
            custom: &access_custom,
        };
        let mut standard = standard_claims(user, scope.split(' '));
        let id_ctx = ClaimContext {
            id_token: true,
            ..ctx
        };
        // What the request asked for, then the client's `default_custom_claims`.
        let requested = grant.claims.as_ref().map_or(&[][..], |c| &c.id_token[..]);
        for names in [requested, &settings.default_custom_claims[..]] {
            let extra = requested_claims(user, names, &standard, &id_ctx);
            standard.extend(extra);
        }
        let access_token = self.keys.sign(
            settings.access_token_signed_response_alg,
            ACCESS_TOKEN_TYP,
            &access,
        )?;
        let at_hash = grant
            .at_hash
            .then(|| half_hash(settings.id_token_signed_response_alg, &access_token));
        let id = IdTokenClaims {
            iss: &self.issuer,
            sub: &user.user_id,
            aud: record.client_id(),
            iat: now,
            exp: id_exp,
            auth_time: session.auth_time,
            amr: &amr,
            sid: &session.session_hash,
            nonce: grant.nonce.as_deref(),
            at_hash: at_hash.as_deref(),
            approval_data: grant.facts.approval_data.as_ref(),
            standard: &standard,
        };
        let id_token = self
            .keys
            .sign(settings.id_token_signed_response_alg, "JWT", &id)?;
        Ok(IssuedTokens {
            access_token,
            expires_in: access_exp - now,
            scope: Some(scope),
            id_token: Some(id_token),
            refresh_token: None,
            session_id,
            access_jti: Some((jti, access_exp)),
        })
    }
}

/// OpenID Connect's `at_hash`: base64url of the left half of the hash of the access token,
/// with the hash of the ID token's signing algorithm (SHA-256 for ES256 and RS256; SHA-512 for
/// EdDSA with Ed25519, as the OpenID Foundation's errata and certified providers use).
fn half_hash(alg: tessera_jose::Algorithm, token: &str) -> String {
    let digest: Vec<u8> = match alg {
        tessera_jose::Algorithm::EdDSA => tessera_jose::sha512(token.as_bytes()).to_vec(),
        _ => tessera_jose::sha256(token.as_bytes()).to_vec(),
    };
    tessera_jose::b64url_encode(&digest[..digest.len() / 2])
}

/// Validates a requested `scope` against the client's allowed scopes; returns the scope to
/// grant (deduplicated, in request order) or `None` when none was requested.
pub(crate) fn normalize_scope(
    scope: Option<&str>,
    allowed: &[String],
) -> Result<Option<String>, Error> {
    let Some(scope) = scope else {
        return Ok(None);
    };
    let mut granted: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !s
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
        {
            return Err(Error::invalid("`scope` contains invalid characters"));
        }
        if !allowed.iter().any(|a| a == s) {
            return Err(Code::InvalidScope.into());
        }
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    Ok((!granted.is_empty()).then(|| granted.join(" ")))
}

/// RFC 8707: each resource is an absolute URI without a fragment and allowed for the client.
pub(crate) fn check_resources(resources: &[String], allowed: &[String]) -> Result<(), Error> {
    for r in resources {
        let parsed = url::Url::parse(r)
            .map_err(|_| Error::new(Code::InvalidTarget, "`resource` must be an absolute URI"))?;
        if parsed.fragment().is_some() {
            return Err(Error::new(
                Code::InvalidTarget,
                "`resource` must not contain a fragment",
            ));
        }
        if !allowed.iter().any(|a| a == r) {
            return Err(Code::InvalidTarget.into());
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
        assert_eq!(e.code(), Code::InvalidScope);
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
            assert_eq!(e.code(), Code::InvalidTarget, "{bad}");
        }
    }
}
