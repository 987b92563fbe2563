//! Refresh-token SQL: one row per family, updated in place. A rotation is one conditional
//! `UPDATE … WHERE family_id = $1 AND generation = $2 AND token_hash = $3 …` by primary key,
//! which exactly one caller can win; the loser (or a thief with an older generation) finds the
//! generation moved on, and the family is revoked in the same transaction.

use sqlx::AnyPool;
use tessera_identity::ports::{RefreshStore, StoreResult};
use tessera_identity::refresh::{RefreshFamily, RefreshRotation, Rotation};

use crate::error::backend;
use crate::rows::column;
use crate::sql_store::SqlStore;
use crate::writer::{WriteTx, Writer};

/// The columns [`family`] reads.
const COLUMNS: &str = "family_id, generation, token_hash, previous_hash, client_id, user_id, \
     session_hash, session_sealed, grant_doc, created_at, rotated_at, expires_at, \
     family_expires_at, revoked_at";

fn family(row: &sqlx::any::AnyRow) -> StoreResult<RefreshFamily> {
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
    })
}

pub(crate) async fn create(writer: &Writer, f: &RefreshFamily) -> StoreResult<()> {
    let f = f.clone();
    writer
        .run(move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO refresh_families \
                     (family_id, generation, token_hash, previous_hash, client_id, user_id, \
                      session_hash, session_sealed, grant_doc, created_at, rotated_at, \
                      expires_at, family_expires_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&f.family_id)
                .bind(f.generation)
                .bind(&f.token_hash)
                .bind(&f.previous_hash)
                .bind(&f.client_id)
                .bind(&f.user_id)
                .bind(&f.session_hash)
                .bind(&f.session_sealed)
                .bind(&f.grant_doc)
                .bind(f.created_at)
                .bind(f.rotated_at)
                .bind(f.expires_at)
                .bind(f.family_expires_at)
                .bind(f.revoked_at)
                .execute(tx.conn())
                .await
                .map_err(|e| crate::error::write_error(e, || "refresh family exists".into()))?;
                Ok(())
            })
        })
        .await
}

pub(crate) async fn get(reader: &AnyPool, family_id: &str) -> StoreResult<Option<RefreshFamily>> {
    let sql = format!("SELECT {COLUMNS} FROM refresh_families WHERE family_id = $1");
    sqlx::query(&sql)
        .bind(family_id)
        .fetch_optional(reader)
        .await
        .map_err(backend)?
        .as_ref()
        .map(family)
        .transpose()
}

async fn revoke_family_in(tx: &mut WriteTx, family_id: &str, now_s: i64) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE refresh_families SET revoked_at = $2 \
         WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now_s)
    .execute(tx.conn())
    .await
    .map_err(backend)?
    .rows_affected())
}

pub(crate) async fn rotate(writer: &Writer, a: RefreshRotation) -> StoreResult<Rotation> {
    writer
        .run(move |tx| {
            Box::pin(async move {
                // The one statement that decides a race: it matches only while the presented
                // generation is the current one.
                let sql = format!(
                    "UPDATE refresh_families SET generation = generation + 1, \
                     previous_hash = token_hash, token_hash = $5, rotated_at = $7, \
                     expires_at = CASE WHEN $6 < family_expires_at THEN $6 \
                                  ELSE family_expires_at END \
                     WHERE family_id = $1 AND generation = $2 AND token_hash = $3 \
                     AND client_id = $4 AND revoked_at IS NULL AND expires_at > $7 \
                     AND family_expires_at > $7 \
                     RETURNING {COLUMNS}"
                );
                let rotated = sqlx::query(&sql)
                    .bind(&a.family_id)
                    .bind(a.generation)
                    .bind(&a.token_hash)
                    .bind(&a.client_id)
                    .bind(&a.next_hash)
                    .bind(a.next_expires_at)
                    .bind(a.now_s)
                    .fetch_optional(tx.conn())
                    .await
                    .map_err(backend)?;
                if let Some(row) = rotated {
                    return Ok(Rotation::Rotated(Box::new(family(&row)?)));
                }
                let sql = format!("SELECT {COLUMNS} FROM refresh_families WHERE family_id = $1");
                let known = sqlx::query(&sql)
                    .bind(&a.family_id)
                    .fetch_optional(tx.conn())
                    .await
                    .map_err(backend)?
                    .as_ref()
                    .map(family)
                    .transpose()?;
                match known {
                    Some(f)
                        if f.client_id == a.client_id
                            && f.is_replay(a.generation, &a.token_hash) =>
                    {
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

pub(crate) async fn revoke_family(
    writer: &Writer,
    family_id: &str,
    now_s: i64,
) -> StoreResult<u64> {
    let family_id = family_id.to_string();
    writer
        .run(move |tx| Box::pin(async move { revoke_family_in(tx, &family_id, now_s).await }))
        .await
}

/// Revokes every refresh family of a session (logout), inside the caller's transaction.
pub(crate) async fn revoke_session_in(
    tx: &mut WriteTx,
    session_hash: &str,
    now_s: i64,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE refresh_families SET revoked_at = $2 \
         WHERE session_hash = $1 AND revoked_at IS NULL",
    )
    .bind(session_hash)
    .bind(now_s)
    .execute(tx.conn())
    .await
    .map_err(backend)?
    .rows_affected())
}

/// Deletes families that have ended, inside the caller's transaction.
pub(crate) async fn purge_in(tx: &mut WriteTx, now_s: i64) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM refresh_families WHERE family_expires_at <= $1")
            .bind(now_s)
            .execute(tx.conn())
            .await
            .map_err(backend)?
            .rows_affected(),
    )
}

#[async_trait::async_trait]
impl RefreshStore for SqlStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        create(&self.writer, family).await
    }

    async fn get_refresh_family(&self, family_id: &str) -> StoreResult<Option<RefreshFamily>> {
        get(&self.reader, family_id).await
    }

    async fn rotate_refresh_token(&self, rotation: &RefreshRotation) -> StoreResult<Rotation> {
        rotate(&self.writer, rotation.clone()).await
    }

    async fn revoke_refresh_family(&self, family_id: &str, now_s: i64) -> StoreResult<u64> {
        revoke_family(&self.writer, family_id, now_s).await
    }

    async fn purge_refresh_families(&self, now_s: i64) -> StoreResult<u64> {
        self.writer
            .run(move |tx| Box::pin(async move { purge_in(tx, now_s).await }))
            .await
    }
}
