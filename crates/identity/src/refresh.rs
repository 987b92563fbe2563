//! Refresh tokens (SPEC §4): opaque, 256 random bits, stored as base64url(SHA-256), bound to
//! their client, **rotated on every use**. Each backend authentication starts a family;
//! every refresh consumes the presented token and issues its successor in one database
//! transaction, so two concurrent refreshes of one token (on any nodes) cannot both win.
//! Presenting a consumed token is treated as theft: the whole family is revoked.
//!
//! A token works until the earliest of its own TTL (`refresh_token_ttl`), the end of its
//! family (start plus `max_refresh_rotate`), its session's end (logout revokes the session's
//! families) and its user's disablement. Refresh keeps the session's `sid`, `auth_time` and
//! `amr`, and the family's audience and requested custom claims.

use serde::{Deserialize, Serialize};

use crate::cache::ClientRecord;
use crate::error::Error;
use crate::model::{SessionRecord, UserStatus};
use crate::oauth::{OAuthError, OAuthErrorCode};
use crate::service::Identity;
use crate::sessions::{AuthTokens, RequestedClaims, SessionId, UserGrant};

/// Longest accepted refresh token (ours are 43 characters).
const MAX_TOKEN_LEN: usize = 256;

/// One stored refresh token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// base64url(SHA-256(token)).
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_hash: String,
    /// The session id sealed with the KEK (associated data: the family id), base64url.
    pub session_sealed: String,
    /// JSON of [`GrantDoc`].
    pub grant_doc: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub family_expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was consumed; this is its stored successor.
    Rotated(RefreshToken),
    /// The presented token had been consumed before: its family is now revoked.
    Reused { family_id: String },
    /// Unknown, expired, revoked or another client's: nothing changed.
    Invalid,
}

/// The part of a grant a family keeps for its refreshes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct GrantDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claims: Option<RequestedClaims>,
}

/// base64url(SHA-256(token)).
fn token_hash(token: &str) -> String {
    tessera_jose::b64url_encode(&tessera_jose::sha256(token.as_bytes()))
}

fn invalid_grant(description: &str) -> Error {
    Error::OAuth(OAuthError::new(OAuthErrorCode::InvalidGrant, description))
}

impl Identity {
    /// Starts a refresh-token family for `session` and returns its first token.
    pub(crate) async fn start_refresh_family(
        &self,
        record: &ClientRecord,
        session: &SessionRecord,
        session_id: &SessionId,
        grant: &UserGrant,
    ) -> Result<String, Error> {
        let settings = &record.client.settings;
        let now = self.clock.now_s();
        let token = tessera_jose::random_token_b64url(32)?;
        let family_id = tessera_jose::random_token_b64url(16)?;
        let sealed = self
            .kek
            .seal(session_id.expose().as_bytes(), family_id.as_bytes())?;
        let doc = GrantDoc {
            resource: grant.resource.clone(),
            claims: grant.claims.clone(),
        };
        let family_expires_at = now + i64::from(settings.max_refresh_rotate);
        let row = RefreshToken {
            token_hash: token_hash(&token),
            family_id,
            client_id: record.client.client_id.clone(),
            user_id: session.user_id.clone(),
            session_hash: session.session_hash.clone(),
            session_sealed: tessera_jose::b64url_encode(&sealed),
            grant_doc: serde_json::to_string(&doc)
                .map_err(|e| Error::Internal(format!("grant encoding: {e}")))?,
            created_at: now,
            expires_at: (now + i64::from(settings.refresh_token_ttl)).min(family_expires_at),
            family_expires_at,
            used_at: None,
            revoked_at: None,
        };
        self.store.create_refresh_token(&row).await?;
        Ok(token)
    }

    /// The refresh grant (`grant_type=refresh_token` and `/cis/v1/auth/token/refresh`) for
    /// the authenticated client `record`. Refusals are `invalid_grant`.
    pub async fn refresh(
        &self,
        record: &ClientRecord,
        presented: &str,
    ) -> Result<AuthTokens, Error> {
        if presented.is_empty() || presented.len() > MAX_TOKEN_LEN {
            return Err(invalid_grant("the refresh token is invalid or expired"));
        }
        let settings = &record.client.settings;
        let now = self.clock.now_s();
        let next = tessera_jose::random_token_b64url(32)?;
        let rotation = self
            .store
            .rotate_refresh_token(
                &token_hash(presented),
                &record.client.client_id,
                &token_hash(&next),
                now + i64::from(settings.refresh_token_ttl),
                now,
            )
            .await?;
        let row = match rotation {
            Rotation::Rotated(row) => row,
            Rotation::Reused { family_id } => {
                tracing::warn!(
                    client_id = %record.client.client_id,
                    %family_id,
                    "a used refresh token was presented again; its family is revoked"
                );
                return Err(invalid_grant("the refresh token is invalid or expired"));
            }
            Rotation::Invalid => {
                return Err(invalid_grant("the refresh token is invalid or expired"));
            }
        };
        // Logout revokes a session's refresh tokens in the same transaction, so the rotation
        // above already refused those; the (briefly cached) session and user records add
        // the absolute session end and user disablement.
        let dead =
            || invalid_grant("the refresh token's session has ended or its user is inactive");
        let session = match self.cached_session(&row.session_hash).await? {
            Some(s) if s.ended_at.is_none() && s.expires_at > now && s.user_id == row.user_id => s,
            _ => return Err(dead()),
        };
        let user = match self.cached_user(&row.user_id).await? {
            Some(u) if u.status == UserStatus::Active => u,
            _ => return Err(dead()),
        };
        let sealed = tessera_jose::b64url_decode(&row.session_sealed)
            .map_err(|_| Error::Internal("refresh token row: bad session seal".into()))?;
        let opened = self.kek.open(&sealed, row.family_id.as_bytes())?;
        let session_id = SessionId::new(
            String::from_utf8(opened.to_vec())
                .map_err(|_| Error::Internal("refresh token row: bad session id".into()))?,
        );
        let doc: GrantDoc = serde_json::from_str(&row.grant_doc)
            .map_err(|e| Error::Internal(format!("refresh token row: grant: {e}")))?;
        let grant = UserGrant {
            resource: doc.resource,
            claims: doc.claims,
        };
        let mut tokens = self
            .issue_user_tokens(record, &user, &session, session_id, &grant)
            .await?;
        tokens.refresh_token = Some(next);
        Ok(tokens)
    }

    /// Revokes the family of a refresh token presented to `/oidc/revoke` by `caller`.
    /// `Ok(false)` when it is not a known refresh token (RFC 7009: still a success).
    pub async fn revoke_refresh_token(
        &self,
        caller: &ClientRecord,
        presented: &str,
    ) -> Result<bool, OAuthError> {
        if presented.len() > MAX_TOKEN_LEN {
            return Ok(false);
        }
        let row = self
            .store
            .get_refresh_token(&token_hash(presented))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "refresh token lookup failed");
                OAuthError::server_error()
            })?;
        let Some(row) = row else {
            return Ok(false);
        };
        if row.client_id != caller.client.client_id {
            return Err(OAuthError::invalid_request(
                "the token was issued to another client",
            ));
        }
        self.store
            .revoke_refresh_family(&row.family_id, self.clock.now_s())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "refresh revocation write failed");
                OAuthError::server_error()
            })?;
        Ok(true)
    }

    /// RFC 7662 introspection of a refresh token: `None` when it is not one of ours.
    pub async fn introspect_refresh_token(
        &self,
        presented: &str,
    ) -> Result<Option<serde_json::Value>, Error> {
        if presented.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let Some(row) = self.store.get_refresh_token(&token_hash(presented)).await? else {
            return Ok(None);
        };
        let now = self.clock.now_s();
        let live = row.used_at.is_none()
            && row.revoked_at.is_none()
            && row.expires_at > now
            && row.family_expires_at > now;
        if !live {
            return Ok(Some(serde_json::json!({"active": false})));
        }
        let session_live = self
            .store
            .get_session(&row.session_hash)
            .await?
            .is_some_and(|s| s.ended_at.is_none() && s.expires_at > now);
        let user_active = self
            .store
            .get_user(&row.user_id)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active);
        if !session_live || !user_active {
            return Ok(Some(serde_json::json!({"active": false})));
        }
        Ok(Some(serde_json::json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": row.client_id,
            "sub": row.user_id,
            "sid": row.session_hash,
            "iss": self.settings.issuer,
            "iat": row.created_at,
            "exp": row.expires_at.min(row.family_expires_at),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_stable_and_distinct() {
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert_ne!(token_hash("abc"), token_hash("abd"));
        assert_eq!(token_hash("abc").len(), 43);
    }

    #[test]
    fn grant_docs_round_trip() {
        let doc = GrantDoc {
            resource: Some("https://api.example".into()),
            claims: Some(RequestedClaims {
                id_token: vec!["custom_data".into()],
                access_token: vec![],
            }),
        };
        let json = serde_json::to_string(&doc).unwrap();
        let back: GrantDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back.resource.as_deref(), Some("https://api.example"));
        assert_eq!(back.claims.unwrap().id_token, ["custom_data"]);
        let empty: GrantDoc = serde_json::from_str("{}").unwrap();
        assert!(empty.resource.is_none() && empty.claims.is_none());
    }
}
