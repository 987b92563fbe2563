//! [`KeyStore`] over SQL: the `signing_keys` table (private parts sealed under the KEK by the
//! caller). Every insert, retirement and deletion records a `SigningKeys` change, so other
//! nodes reload their key rings.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{KeyStore, StoreResult};
use tessera_identity::{ChangeKind, StoreError, StoredSigningKey};
use tessera_jose::Algorithm;

use crate::error::{backend, corrupt, write_error};
use crate::query::{execute, fetch_all};
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;
use crate::writer::WriteTx;

/// The columns [`decode_signing_key`] reads, in `SELECT` order.
const SIGNING_KEY_COLUMNS: &str =
    "kid, alg, public_jwk, sealed_private_key, created_at, activate_at, retire_at";

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<StoredSigningKey>> {
        let sql =
            format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid");
        fetch_all(&self.reader, sqlx::query(&sql), decode_signing_key).await
    }

    async fn rotate_signing_keys(
        &self,
        new_keys: &[StoredSigningKey],
        retire: &[(String, i64)],
    ) -> StoreResult<()> {
        let new_keys = new_keys.to_vec();
        let retire = retire.to_vec();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    for key in &new_keys {
                        insert_signing_key(tx, key).await?;
                    }
                    for (kid, retire_at) in &retire {
                        let statement =
                            sqlx::query("UPDATE signing_keys SET retire_at = $2 WHERE kid = $1")
                                .bind(kid)
                                .bind(*retire_at);
                        if execute(tx.conn(), statement, backend).await? == 0 {
                            return Err(StoreError::NotFound);
                        }
                        tx.record_change(ChangeKind::SigningKeys, kid).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn delete_retired_signing_keys(&self, now_s: i64) -> StoreResult<u64> {
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let deleted = sqlx::query_scalar::<_, String>(
                        "DELETE FROM signing_keys \
                         WHERE retire_at IS NOT NULL AND retire_at < $1 RETURNING kid",
                    )
                    .bind(now_s)
                    .fetch_all(tx.conn())
                    .await
                    .map_err(backend)?;
                    for kid in &deleted {
                        tx.record_change(ChangeKind::SigningKeys, kid).await?;
                    }
                    // A `usize` always fits in a `u64` on supported platforms.
                    Ok(u64::try_from(deleted.len()).unwrap_or(u64::MAX))
                })
            })
            .await
    }
}

/// Inserts a signing key and records its change, inside the caller's transaction (rotation,
/// and bootstrap in `tenant.rs`).
pub(crate) async fn insert_signing_key(
    tx: &mut WriteTx,
    key: &StoredSigningKey,
) -> StoreResult<()> {
    let public_jwk = to_json(&key.public_jwk, "public JWK")?;
    let statement = sqlx::query(
        "INSERT INTO signing_keys \
         (kid, alg, public_jwk, sealed_private_key, created_at, activate_at, retire_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.kid)
    .bind(key.alg.as_str())
    .bind(&public_jwk)
    .bind(&key.sealed_private_key)
    .bind(key.created_at)
    .bind(key.activate_at)
    .bind(key.retire_at);
    execute(tx.conn(), statement, |e| {
        write_error(e, || format!("signing key {} already exists", key.kid))
    })
    .await?;
    tx.record_change(ChangeKind::SigningKeys, &key.kid).await
}

fn decode_signing_key(row: &AnyRow) -> StoreResult<StoredSigningKey> {
    let kid: String = column(row, "kid", "signing key")?;
    let what = format!("signing key {kid}");
    let alg: String = column(row, "alg", &what)?;
    let public_jwk: String = column(row, "public_jwk", &what)?;
    Ok(StoredSigningKey {
        alg: Algorithm::from_str(&alg).map_err(|e| corrupt(format!("{what} alg {alg:?}"), e))?,
        public_jwk: from_json(&public_jwk, &format!("{what} public_jwk"))?,
        sealed_private_key: column(row, "sealed_private_key", &what)?,
        created_at: column(row, "created_at", &what)?,
        activate_at: column(row, "activate_at", &what)?,
        retire_at: column(row, "retire_at", &what)?,
        kid,
    })
}
