//! [`RevocationStore`] over SQL: the `revoked_tokens` table of access-token ids, each kept
//! until its token expires. A new revocation records a `RevokedToken` change, so other nodes
//! add it to their in-memory sets.

use async_trait::async_trait;
use tessera_identity::ports::{RevocationStore, StoreResult};
use tessera_identity::ChangeKind;

use crate::error::backend;
use crate::sql_store::SqlStore;

#[async_trait]
impl RevocationStore for SqlStore {
    async fn revoke_jti(&self, jti: &str, expires_at_s: i64) -> StoreResult<()> {
        let statement = sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti.to_string())
        .bind(expires_at_s);
        // Revoking twice changes no row, so it announces nothing.
        self.write_recording(statement, backend, ChangeKind::RevokedToken, jti)
            .await
    }

    async fn is_jti_revoked(&self, jti: &str) -> StoreResult<bool> {
        let found =
            sqlx::query_scalar::<_, String>("SELECT jti FROM revoked_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn list_revoked_jtis(&self, now_s: i64) -> StoreResult<Vec<String>> {
        // A token is invalid from its `exp` on, so its revocation matters only before that.
        sqlx::query_scalar::<_, String>(
            "SELECT jti FROM revoked_tokens WHERE expires_at > $1 ORDER BY jti",
        )
        .bind(now_s)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)
    }

    async fn purge_revocations(&self, now_s: i64) -> StoreResult<u64> {
        // A token is invalid from its `exp` on, so its revocation matters only before that.
        self.delete_older("DELETE FROM revoked_tokens WHERE expires_at <= $1", now_s)
            .await
    }
}
