//! [`RefreshStore`] over SQL: refresh-token families, one row each, updated in place. A
//! rotation is one conditional `UPDATE … WHERE family_id = $1 AND generation = $2 AND
//! token_hash = $3 …` by primary key, which exactly one caller can win. A loser that presented
//! the previous generation (its hash checked) is a retry within the reuse window, else a
//! replay, and the family is revoked in the same transaction; anything else changes nothing.
//! Families are cached nowhere and record no change rows.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{RefreshStore, StoreResult};
use tessera_identity::{RefreshFamily, RefreshRotation, Rotation};

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_optional};
use crate::rows::column;
use crate::sql_store::SqlStore;
use crate::writer::WriteTx;

/// The columns [`decode_family`] reads.
const FAMILY_COLUMNS: &str = "family_id, generation, token_hash, previous_hash, client_id, \
     user_id, session_hash, session_sealed, grant_doc, created_at, rotated_at, expires_at, \
     family_expires_at, revoked_at, successor_sealed";

#[async_trait]
impl RefreshStore for SqlStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        let f = family.clone();
        let statement = sqlx::query(
            "INSERT INTO refresh_families \
             (family_id, generation, token_hash, previous_hash, client_id, user_id, \
              session_hash, session_sealed, grant_doc, created_at, rotated_at, \
              expires_at, family_expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(f.family_id)
        .bind(f.generation)
        .bind(f.token_hash)
        .bind(f.previous_hash)
        .bind(f.client_id)
        .bind(f.user_id)
        .bind(f.session_hash)
        .bind(f.session_sealed)
        .bind(f.grant_doc)
        .bind(f.created_at)
        .bind(f.rotated_at)
        .bind(f.expires_at)
        .bind(f.family_expires_at)
        .bind(f.revoked_at);
        let on_error = |e| write_error(e, || "refresh family exists".into());
        self.write(statement, on_error).await?;
        Ok(())
    }

    async fn get_refresh_family(&self, family_id: &str) -> StoreResult<Option<RefreshFamily>> {
        let sql = format!("SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE family_id = $1");
        let query = sqlx::query(&sql).bind(family_id);
        fetch_optional(&self.reader, query, decode_family).await
    }

    async fn rotate_refresh_token(&self, rotation: &RefreshRotation) -> StoreResult<Rotation> {
        let a = rotation.clone();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // The one statement that decides a race: it matches only while the presented
                    // generation is the current one.
                    let sql = format!(
                        "UPDATE refresh_families SET generation = generation + 1, \
                         previous_hash = token_hash, token_hash = $5, rotated_at = $7, \
                         successor_sealed = $8, \
                         expires_at = CASE WHEN $6 < family_expires_at THEN $6 \
                                      ELSE family_expires_at END \
                         WHERE family_id = $1 AND generation = $2 AND token_hash = $3 \
                         AND client_id = $4 AND revoked_at IS NULL AND expires_at > $7 \
                         AND family_expires_at > $7 \
                         RETURNING {FAMILY_COLUMNS}"
                    );
                    let query = sqlx::query(&sql)
                        .bind(&a.family_id)
                        .bind(a.generation)
                        .bind(&a.token_hash)
                        .bind(&a.client_id)
                        .bind(&a.next_hash)
                        .bind(a.next_expires_at)
                        .bind(a.now_s)
                        .bind(&a.next_sealed);
                    if let Some(rotated) = fetch_optional(tx.conn(), query, decode_family).await? {
                        return Ok(Rotation::Rotated(Box::new(rotated)));
                    }
                    let sql = format!(
                        "SELECT {FAMILY_COLUMNS} FROM refresh_families WHERE family_id = $1"
                    );
                    let query = sqlx::query(&sql).bind(&a.family_id);
                    match fetch_optional(tx.conn(), query, decode_family).await? {
                        Some(f)
                            if f.client_id == a.client_id
                                && f.revoked_at.is_none()
                                && f.is_replay(a.generation, &a.token_hash) =>
                        {
                            let live = f.expires_at > a.now_s && f.family_expires_at > a.now_s;
                            if live && a.now_s - f.rotated_at <= a.reuse_window_s {
                                return Ok(Rotation::Retry(Box::new(f)));
                            }
                            revoke_family_in(tx, &f.family_id, a.now_s).await?;
                            Ok(Rotation::Reused {
                                family_id: f.family_id,
                            })
                        }
                        _ => Ok(Rotation::Invalid),
                    }
                })
            })
            .await
    }

    async fn revoke_refresh_family(&self, family_id: &str, now_s: i64) -> StoreResult<u64> {
        let family_id = family_id.to_string();
        self.writer
            .run(move |tx| Box::pin(async move { revoke_family_in(tx, &family_id, now_s).await }))
            .await
    }

    async fn purge_refresh_families(&self, now_s: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM refresh_families WHERE family_expires_at <= $1",
            now_s,
        )
        .await
    }
}

/// Revokes one family, inside the caller's transaction; 1 if it was live, else 0.
async fn revoke_family_in(tx: &mut WriteTx, family_id: &str, now_s: i64) -> StoreResult<u64> {
    let statement = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $2 \
         WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now_s);
    execute(tx.conn(), statement, backend).await
}

/// Revokes every refresh family of a session (logout in `sessions.rs`), inside the caller's
/// transaction.
pub(crate) async fn revoke_session_in(
    tx: &mut WriteTx,
    session_hash: &str,
    now_s: i64,
) -> StoreResult<u64> {
    let statement = sqlx::query(
        "UPDATE refresh_families SET revoked_at = $2 \
         WHERE session_hash = $1 AND revoked_at IS NULL",
    )
    .bind(session_hash)
    .bind(now_s);
    execute(tx.conn(), statement, backend).await
}

fn decode_family(row: &AnyRow) -> StoreResult<RefreshFamily> {
    let what = "refresh family";
    Ok(RefreshFamily {
        family_id: column(row, "family_id", what)?,
        generation: column(row, "generation", what)?,
        token_hash: column(row, "token_hash", what)?,
        previous_hash: column(row, "previous_hash", what)?,
        client_id: column(row, "client_id", what)?,
        user_id: column(row, "user_id", what)?,
        session_hash: column(row, "session_hash", what)?,
        session_sealed: column(row, "session_sealed", what)?,
        grant_doc: column(row, "grant_doc", what)?,
        created_at: column(row, "created_at", what)?,
        rotated_at: column(row, "rotated_at", what)?,
        expires_at: column(row, "expires_at", what)?,
        family_expires_at: column(row, "family_expires_at", what)?,
        revoked_at: column(row, "revoked_at", what)?,
        successor_sealed: column(row, "successor_sealed", what)?,
    })
}
