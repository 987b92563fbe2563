//! [`Revocations`]: revoked access-token ids. Every node keeps the unexpired ones in memory
//! (loaded at start, followed through `RevokedToken` change rows), so checking a bearer
//! token costs no query; the store keeps them until the tokens expire.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::changes::FollowChanges;
use crate::clock::Clock;
use crate::error::Error;
use crate::model::{Change, ChangeKind};
use crate::ports::RevocationStore;

pub struct Revocations {
    store: Arc<dyn RevocationStore>,
    clock: Arc<dyn Clock>,
    jtis: RwLock<HashSet<String>>,
}

impl Revocations {
    /// Loads the revocations of unexpired tokens.
    pub async fn load(
        store: Arc<dyn RevocationStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let jtis = store.list_revoked_jtis(clock.now_s()).await?;
        Ok(Self {
            store,
            clock,
            jtis: RwLock::new(jtis.into_iter().collect()),
        })
    }

    /// Whether this node knows `jti` as revoked (other nodes' revocations arrive within a
    /// change-feed poll).
    pub fn contains(&self, jti: &str) -> bool {
        self.jtis.read().contains(jti)
    }

    /// Whether the store has `jti` as revoked (for introspection, which must not lag).
    pub async fn is_revoked(&self, jti: &str) -> Result<bool, Error> {
        Ok(self.store.is_jti_revoked(jti).await?)
    }

    /// Revokes `jti` until `expires_at_s` (durably, then on this node at once).
    pub async fn revoke(&self, jti: &str, expires_at_s: i64) -> Result<(), Error> {
        self.store.revoke_jti(jti, expires_at_s).await?;
        self.jtis.write().insert(jti.to_string());
        Ok(())
    }

    /// Housekeeping: forgets revocations of expired tokens.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store.purge_revocations(self.clock.now_s()).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl FollowChanges for Revocations {
    fn follows(&self, kind: ChangeKind) -> bool {
        kind == ChangeKind::RevokedToken
    }

    async fn apply(&self, changes: &[&Change]) -> Result<(), Error> {
        let mut jtis = self.jtis.write();
        for change in changes {
            jtis.insert(change.key.clone());
        }
        Ok(())
    }
}
