//! Refresh tokens (SPEC §4): opaque, bound to their client, **rotated on every use**. Each
//! backend authentication starts a *family*; a token is `<family_id>.<generation>.<secret>`
//! (128-bit family id, 256-bit secret) and only base64url(SHA-256) of the current and the
//! previous generation's token is stored. A refresh moves the family to the next generation
//! in one conditional database update, so two concurrent refreshes of one token (on any
//! nodes) cannot both win. Presenting an older generation is treated as theft: the family is
//! revoked.
//!
//! A token works until the earliest of its own TTL (`refresh_token_ttl`), the end of its
//! family (start plus `max_refresh_rotate`), its session's end (logout revokes the session's
//! families) and its user's disablement. Refresh keeps the session's `sid`, `auth_time` and
//! `amr`, and the family's audience and requested custom claims.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_jose::Kek;

use crate::claims::{LoginFacts, RequestedClaims, UserGrant};
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::model::{ClientRecord, RefreshFamily, RefreshRotation, Rotation, SessionRecord};
use crate::ports::RefreshStore;
use crate::sessions::SessionId;

/// Longest accepted refresh token (ours are 43 characters).
const MAX_TOKEN_LEN: usize = 256;

/// Whether `s` is non-empty base64url (the alphabet of family ids and secrets).
fn is_b64url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A presented token, split: (family id, generation). The format is checked strictly before
/// anything reaches the database: base64url family and secret, a decimal generation (so no
/// control character, NUL included, is ever used in a query).
fn parse(token: &str) -> Option<(&str, i64)> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.splitn(3, '.');
    let family = parts.next()?;
    let generation = parts.next()?;
    let secret = parts.next()?;
    if family.len() > 64 || !is_b64url(family) || !is_b64url(secret) {
        return None;
    }
    if generation.is_empty()
        || generation.len() > 10
        || !generation.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    generation.parse().ok().map(|g| (family, g))
}

/// A new token of `family_id` at `generation`.
fn new_token(family_id: &str, generation: i64) -> Result<String, Error> {
    let secret = tessera_jose::random_token_b64url(32)?;
    Ok(format!("{family_id}.{generation}.{secret}"))
}

/// The part of a grant a family keeps for its refreshes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct GrantDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claims: Option<RequestedClaims>,
    /// The granted scope when the grant named one (CIBA); else the client's default scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// base64url(SHA-256(token)).
fn token_hash(token: &str) -> String {
    crate::util::sha256_b64url(token)
}

fn invalid_grant(description: &'static str) -> Error {
    Error::new(Code::InvalidGrant, description)
}

/// A successful rotation: the family after it, the next token, and what the family keeps.
pub struct Rotated {
    pub family: RefreshFamily,
    pub next_token: String,
    /// The session id to hand back (`None` for a browser session, whose id is never shown).
    pub session_id: Option<SessionId>,
    pub grant: UserGrant,
}

/// The key the successor of `presented` is sealed under: derived from the presented token
/// itself, so only its holder can open it and the database alone holds no usable token.
fn successor_key(presented: &str) -> Result<Kek, Error> {
    let mut input = Vec::with_capacity(presented.len() + 32);
    input.extend_from_slice(b"tessera refresh successor v1\0");
    input.extend_from_slice(presented.as_bytes());
    Ok(Kek::from_bytes(&tessera_jose::sha256(&input))?)
}

/// Refresh-token families.
pub struct RefreshTokens {
    store: Arc<dyn RefreshStore>,
    kek: Arc<Kek>,
    clock: Arc<dyn Clock>,
    /// A retry of the previous token within this many seconds gets the same successor.
    reuse_window_s: i64,
}

impl RefreshTokens {
    pub fn new(
        store: Arc<dyn RefreshStore>,
        kek: Arc<Kek>,
        clock: Arc<dyn Clock>,
        reuse_window_s: i64,
    ) -> Self {
        Self {
            store,
            kek,
            clock,
            reuse_window_s,
        }
    }

    /// Starts a family for `session` and returns its first token.
    pub(crate) async fn start(
        &self,
        record: &ClientRecord,
        session: &SessionRecord,
        session_id: Option<&SessionId>,
        grant: &UserGrant,
    ) -> Result<String, Error> {
        let settings = record.settings();
        let now = self.clock.now_s();
        let family_id = tessera_jose::random_token_b64url(16)?;
        let token = new_token(&family_id, 0)?;
        let sealed = self.kek.seal(
            session_id.map_or("", |id| id.expose()).as_bytes(),
            family_id.as_bytes(),
        )?;
        let doc = GrantDoc {
            resource: grant.resource.clone(),
            claims: grant.claims.clone(),
            scope: grant.scope.clone(),
        };
        let family_expires_at = now + i64::from(settings.max_refresh_rotate);
        let family = RefreshFamily {
            token_hash: token_hash(&token),
            family_id,
            generation: 0,
            previous_hash: None,
            client_id: record.client_id().to_string(),
            user_id: session.user_id.clone(),
            session_hash: session.session_hash.clone(),
            session_sealed: tessera_jose::b64url_encode(&sealed),
            grant_doc: serde_json::to_string(&doc)
                .map_err(|e| Error::internal(format!("grant encoding: {e}")))?,
            created_at: now,
            rotated_at: now,
            expires_at: (now + i64::from(settings.refresh_token_ttl)).min(family_expires_at),
            family_expires_at,
            revoked_at: None,
            successor_sealed: None,
        };
        self.store.create_refresh_family(&family).await?;
        Ok(token)
    }

    /// Rotates `presented` for the authenticated client `record`. Refusals are
    /// `invalid_grant`. The previous generation presented again by its client within the
    /// reuse window (a retry after a lost answer) gets the same successor; after the window
    /// it revokes the family. A token whose secret does not match revokes nothing.
    pub(crate) async fn rotate(
        &self,
        record: &ClientRecord,
        presented: &str,
    ) -> Result<Rotated, Error> {
        let invalid = || invalid_grant("the refresh token is invalid or expired");
        let (family_id, generation) = parse(presented).ok_or_else(invalid)?;
        let now = self.clock.now_s();
        let next = new_token(family_id, generation + 1)?;
        let successor_key = successor_key(presented)?;
        let next_sealed = tessera_jose::b64url_encode(
            &successor_key.seal(next.as_bytes(), family_id.as_bytes())?,
        );
        let rotation = self
            .store
            .rotate_refresh_token(&RefreshRotation {
                family_id: family_id.to_string(),
                generation,
                token_hash: token_hash(presented),
                client_id: record.client_id().to_string(),
                next_hash: token_hash(&next),
                next_sealed,
                next_expires_at: now + i64::from(record.settings().refresh_token_ttl),
                now_s: now,
                reuse_window_s: self.reuse_window_s,
            })
            .await?;
        let (family, next) = match rotation {
            Rotation::Rotated(family) => (*family, next),
            Rotation::Retry(family) => {
                // The successor the first presentation got, opened with the presented token.
                let successor = family
                    .successor_sealed
                    .as_deref()
                    .and_then(|s| tessera_jose::b64url_decode(s).ok())
                    .and_then(|sealed| successor_key.open(&sealed, family_id.as_bytes()).ok())
                    .and_then(|plain| String::from_utf8(plain.to_vec()).ok())
                    .ok_or_else(invalid)?;
                (*family, successor)
            }
            Rotation::Reused { family_id } => {
                // The family id is part of a token: it goes to the log at INFO at most.
                tracing::warn!(
                    client_id = %record.client_id(),
                    "a used refresh token was presented again after the reuse window; its family is revoked"
                );
                tracing::info!(client_id = %record.client_id(), %family_id, "refresh family revoked on reuse");
                return Err(invalid());
            }
            Rotation::Invalid => return Err(invalid()),
        };
        let sealed = tessera_jose::b64url_decode(&family.session_sealed)
            .map_err(|_| Error::internal("refresh token row: bad session seal"))?;
        let opened = self.kek.open(&sealed, family.family_id.as_bytes())?;
        let session_id = String::from_utf8(opened.to_vec())
            .map_err(|_| Error::internal("refresh token row: bad session id"))?;
        let session_id = (!session_id.is_empty()).then(|| SessionId::new(session_id));
        let doc: GrantDoc = serde_json::from_str(&family.grant_doc)
            .map_err(|e| Error::internal(format!("refresh token row: grant: {e}")))?;
        Ok(Rotated {
            family,
            next_token: next,
            session_id,
            grant: UserGrant {
                resource: doc.resource,
                claims: doc.claims,
                scope: doc.scope,
                nonce: None,
                at_hash: false,
                facts: LoginFacts::default(),
            },
        })
    }

    /// The family whose current or previous token `presented` is, if any.
    async fn family_of(&self, presented: &str) -> Result<Option<RefreshFamily>, Error> {
        let Some((family_id, generation)) = parse(presented) else {
            return Ok(None);
        };
        let hash = token_hash(presented);
        Ok(self.store.get_refresh_family(family_id).await?.filter(|f| {
            f.is_current(generation, &hash)
                || (generation == f.generation - 1
                    && f.previous_hash.as_deref() == Some(hash.as_str()))
        }))
    }

    /// Revokes the family of a refresh token presented to `/oidc/revoke` by `client_id`.
    /// `Ok(false)` when it is not a known refresh token (RFC 7009: still a success);
    /// another client's token is refused.
    pub(crate) async fn revoke(&self, client_id: &str, presented: &str) -> Result<bool, Error> {
        let Some(family) = self.family_of(presented).await? else {
            return Ok(false);
        };
        if family.client_id != client_id {
            return Err(Error::invalid("the token was issued to another client"));
        }
        self.store
            .revoke_refresh_family(&family.family_id, self.clock.now_s())
            .await?;
        Ok(true)
    }

    /// Revokes the family `family_id` (a replayed authorization code's tokens).
    pub(crate) async fn revoke_family(&self, family_id: &str) -> Result<(), Error> {
        self.store
            .revoke_refresh_family(family_id, self.clock.now_s())
            .await?;
        Ok(())
    }

    /// RFC 7662 introspection of a refresh token: `None` when it is not one of ours; the
    /// live family otherwise, for the caller to check its session and user.
    pub(crate) async fn introspect(
        &self,
        presented: &str,
    ) -> Result<Option<Option<RefreshFamily>>, Error> {
        let Some(family) = self.family_of(presented).await? else {
            return Ok(None);
        };
        let now = self.clock.now_s();
        let current = parse(presented).is_some_and(|(_, g)| g == family.generation);
        let live = current
            && family.revoked_at.is_none()
            && family.expires_at > now
            && family.family_expires_at > now;
        Ok(Some(live.then_some(family)))
    }

    /// Housekeeping: families that can no longer be used are deleted.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_refresh_families(self.clock.now_s())
            .await?;
        Ok(())
    }
}

/// The introspection answer of a live refresh token.
pub(crate) fn introspection_json(family: &RefreshFamily, issuer: &str) -> Value {
    json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": family.client_id,
        "sub": family.user_id,
        "sid": family.session_hash,
        "iss": issuer,
        "iat": family.rotated_at,
        "exp": family.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_into_family_and_generation() {
        let t = new_token("fam", 7).unwrap();
        assert_eq!(parse(&t), Some(("fam", 7)));
        assert!(t.len() > 43 + 5);
        for bad in [
            "",
            "fam",
            "fam.1",
            "fam.x.s",
            "fam.-1.s",
            ".1.s",
            "fam.1.",
            "f.99999999999.s",
            "\u{0}.1.x",
            "fam.1.se\u{0}cret",
            "fa m.1.s",
            "fam.+1.s",
            "fam.1.s.t",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse(&"a".repeat(300)), None);
    }

    #[test]
    fn only_the_previous_generation_with_its_hash_is_a_replay() {
        let f = RefreshFamily {
            family_id: "f".into(),
            generation: 3,
            token_hash: "h3".into(),
            previous_hash: Some("h2".into()),
            client_id: "c".into(),
            user_id: "u".into(),
            session_hash: "s".into(),
            session_sealed: String::new(),
            grant_doc: "{}".into(),
            created_at: 0,
            rotated_at: 0,
            expires_at: 10,
            family_expires_at: 10,
            revoked_at: None,
            successor_sealed: None,
        };
        assert!(f.is_current(3, "h3"));
        assert!(!f.is_current(3, "forged"));
        assert!(f.is_replay(2, "h2"));
        assert!(
            !f.is_replay(2, "forged"),
            "the previous generation's hash is checked"
        );
        // Older generations cannot be verified: a forged `<family>.0.garbage` revokes nothing.
        assert!(!f.is_replay(0, "anything") && !f.is_replay(1, "anything"));
        assert!(!f.is_replay(3, "h3") && !f.is_replay(4, "x"));
    }

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
            scope: Some("openid offline_access".into()),
        };
        let json = serde_json::to_string(&doc).unwrap();
        let back: GrantDoc = serde_json::from_str(&json).unwrap();
        assert_eq!(back.resource.as_deref(), Some("https://api.example"));
        assert_eq!(back.scope.as_deref(), Some("openid offline_access"));
        assert_eq!(back.claims.unwrap().id_token, ["custom_data"]);
        let empty: GrantDoc = serde_json::from_str("{}").unwrap();
        assert!(empty.resource.is_none() && empty.claims.is_none());
    }
}
