//! Refresh-token SQL: issue, rotate (one conditional UPDATE that exactly one caller can win,
//! then the successor's INSERT, in one transaction), reuse detection and family revocation.

use sqlx::AnyPool;
use tessera_identity::refresh::{RefreshToken, Rotation};
use tessera_identity::store::StoreResult;

use crate::error::backend;
use crate::rows::column;
use crate::writer::{WriteTx, Writer};

/// The columns [`refresh_token`] reads.
const COLUMNS: &str = "token_hash, family_id, client_id, user_id, session_hash, session_sealed, \
     grant_doc, created_at, expires_at, family_expires_at, used_at, revoked_at";

fn refresh_token(row: &sqlx::any::AnyRow) -> StoreResult<RefreshToken> {
    let what = "refresh token";
    Ok(RefreshToken {
        token_hash: column(row, "token_hash", what)?,
        family_id: column(row, "family_id", what)?,
        client_id: column(row, "client_id", what)?,
        user_id: column(row, "user_id", what)?,
        session_hash: column(row, "session_hash", what)?,
        session_sealed: column(row, "session_sealed", what)?,
        grant_doc: column(row, "grant_doc", what)?,
        created_at: column(row, "created_at", what)?,
        expires_at: column(row, "expires_at", what)?,
        family_expires_at: column(row, "family_expires_at", what)?,
        used_at: column(row, "used_at", what)?,
        revoked_at: column(row, "revoked_at", what)?,
    })
}

async fn insert(tx: &mut WriteTx, t: &RefreshToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens \
         (token_hash, family_id, client_id, user_id, session_hash, session_sealed, grant_doc, \
          created_at, expires_at, family_expires_at, used_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&t.token_hash)
    .bind(&t.family_id)
    .bind(&t.client_id)
    .bind(&t.user_id)
    .bind(&t.session_hash)
    .bind(&t.session_sealed)
    .bind(&t.grant_doc)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.family_expires_at)
    .bind(t.used_at)
    .bind(t.revoked_at)
    .execute(tx.conn())
    .await
    .map_err(|e| crate::error::write_error(e, || "refresh token exists".into()))?;
    Ok(())
}

pub(crate) async fn create(writer: &Writer, token: &RefreshToken) -> StoreResult<()> {
    let token = token.clone();
    writer
        .run(move |tx| Box::pin(async move { insert(tx, &token).await }))
        .await
}

pub(crate) async fn get(reader: &AnyPool, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
    let sql = format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
    sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(reader)
        .await
        .map_err(backend)?
        .as_ref()
        .map(refresh_token)
        .transpose()
}

async fn revoke_family_in(tx: &mut WriteTx, family_id: &str, now_s: i64) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now_s)
    .execute(tx.conn())
    .await
    .map_err(backend)?
    .rows_affected())
}

pub(crate) async fn rotate(
    writer: &Writer,
    token_hash: &str,
    client_id: &str,
    next_hash: &str,
    next_expires_at: i64,
    now_s: i64,
) -> StoreResult<Rotation> {
    let (token_hash, client_id, next_hash) = (
        token_hash.to_string(),
        client_id.to_string(),
        next_hash.to_string(),
    );
    writer
        .run(move |tx| {
            Box::pin(async move {
                // The one statement that decides a race: only one caller sees its row.
                let sql = format!(
                    "UPDATE refresh_tokens SET used_at = $3 \
                     WHERE token_hash = $1 AND client_id = $2 AND used_at IS NULL \
                     AND revoked_at IS NULL AND expires_at > $3 AND family_expires_at > $3 \
                     RETURNING {COLUMNS}"
                );
                let consumed = sqlx::query(&sql)
                    .bind(&token_hash)
                    .bind(&client_id)
                    .bind(now_s)
                    .fetch_optional(tx.conn())
                    .await
                    .map_err(backend)?;
                if let Some(row) = consumed {
                    let old = refresh_token(&row)?;
                    let next = RefreshToken {
                        token_hash: next_hash,
                        created_at: now_s,
                        expires_at: next_expires_at.min(old.family_expires_at),
                        used_at: None,
                        revoked_at: None,
                        ..old
                    };
                    insert(tx, &next).await?;
                    return Ok(Rotation::Rotated(next));
                }
                let sql = format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
                let known = sqlx::query(&sql)
                    .bind(&token_hash)
                    .fetch_optional(tx.conn())
                    .await
                    .map_err(backend)?
                    .as_ref()
                    .map(refresh_token)
                    .transpose()?;
                match known {
                    Some(t) if t.client_id == client_id && t.used_at.is_some() => {
                        revoke_family_in(tx, &t.family_id, now_s).await?;
                        Ok(Rotation::Reused {
                            family_id: t.family_id,
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

/// Revokes every refresh token of a session (logout), inside the caller's transaction.
pub(crate) async fn revoke_session_in(
    tx: &mut WriteTx,
    session_hash: &str,
    now_s: i64,
) -> StoreResult<u64> {
    Ok(sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE session_hash = $1 AND revoked_at IS NULL",
    )
    .bind(session_hash)
    .bind(now_s)
    .execute(tx.conn())
    .await
    .map_err(backend)?
    .rows_affected())
}

/// Deletes the rows of families that have ended, inside the caller's transaction.
pub(crate) async fn purge_in(tx: &mut WriteTx, now_s: i64) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM refresh_tokens WHERE family_expires_at <= $1")
            .bind(now_s)
            .execute(tx.conn())
            .await
            .map_err(backend)?
            .rows_affected(),
    )
}
