//! [`CodeStore`] over SQL: the `one_time_codes` table of OTP passcodes and magic links, stored
//! as keyed hashes. A redemption is one conditional `UPDATE … AND consumed_at IS NULL`, so of
//! concurrent redeems of one code exactly one wins. Codes are cached nowhere and record no
//! change rows.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{CodeStore, StoreResult};
use tessera_identity::{CodeRedemption, OneTimeCode, Redemption};

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_optional, Statement};
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;

/// The columns [`decode_code`] reads.
const CODE_COLUMNS: &str = "code_id, code_hash, user_id, client_id, kind, destination, \
     redirect_uri, state, created_at, expires_at, consumed_at, custom_destination, \
     approval_data";

#[async_trait]
impl CodeStore for SqlStore {
    async fn create_one_time_code(&self, code: &OneTimeCode) -> StoreResult<()> {
        let code = code.clone();
        let approval_data = match &code.approval_data {
            Some(data) => Some(to_json(data, "approval data")?),
            None => None,
        };
        // Codes are not cached anywhere, so they record no change rows.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let replace_older = sqlx::query(
                        "UPDATE one_time_codes SET consumed_at = $4 \
                         WHERE user_id = $1 AND client_id = $2 AND kind = $3 \
                         AND consumed_at IS NULL",
                    )
                    .bind(&code.user_id)
                    .bind(&code.client_id)
                    .bind(&code.kind)
                    .bind(code.created_at);
                    execute(tx.conn(), replace_older, backend).await?;
                    let insert = sqlx::query(
                        "INSERT INTO one_time_codes \
                         (code_id, code_hash, user_id, client_id, kind, destination, \
                          redirect_uri, state, created_at, expires_at, consumed_at, \
                          custom_destination, approval_data) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)",
                    )
                    .bind(&code.code_id)
                    .bind(&code.code_hash)
                    .bind(&code.user_id)
                    .bind(&code.client_id)
                    .bind(&code.kind)
                    .bind(code.destination.as_deref())
                    .bind(code.redirect_uri.as_deref())
                    .bind(code.state.as_deref())
                    .bind(code.created_at)
                    .bind(code.expires_at)
                    .bind(i64::from(code.custom_destination))
                    .bind(approval_data.as_deref());
                    execute(tx.conn(), insert, |e| {
                        write_error(e, || "one-time code already exists".to_string())
                    })
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn redeem_one_time_code(&self, redemption: &CodeRedemption) -> StoreResult<Redemption> {
        if redemption.kinds.is_empty() {
            return Ok(Redemption::Invalid);
        }
        let r = redemption.clone();
        // $1 = now, $2 = code_hash, then the kinds, then user_id and client_id when given
        // (the order `bind_matching` binds them in).
        let mut next = 3;
        let mut matching = String::from("code_hash = $2 AND consumed_at IS NULL AND kind IN (");
        for i in 0..r.kinds.len() {
            if i > 0 {
                matching.push_str(", ");
            }
            matching.push_str(&format!("${next}"));
            next += 1;
        }
        matching.push(')');
        if r.user_id.is_some() {
            matching.push_str(&format!(" AND user_id = ${next}"));
            next += 1;
        }
        if r.client_id.is_some() {
            matching.push_str(&format!(" AND client_id = ${next}"));
        }
        // One conditional update: the inner SELECT picks the newest live match, and the outer
        // `consumed_at IS NULL` is re-checked on the row itself, so a concurrent redeem that
        // got there first (PostgreSQL: after waiting for its row lock) makes this one miss.
        let consume = format!(
            "UPDATE one_time_codes SET consumed_at = $1 \
             WHERE code_id = (SELECT code_id FROM one_time_codes \
               WHERE {matching} AND expires_at > $1 ORDER BY created_at DESC LIMIT 1) \
             AND consumed_at IS NULL \
             RETURNING {CODE_COLUMNS}"
        );
        let expired = format!(
            "SELECT code_id FROM one_time_codes WHERE {matching} AND expires_at <= $1 LIMIT 1"
        );
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let query = bind_matching(sqlx::query(&consume), &r);
                    if let Some(code) = fetch_optional(tx.conn(), query, decode_code).await? {
                        return Ok(Redemption::Consumed(Box::new(code)));
                    }
                    // Only whether an expired match exists matters, not what it holds.
                    let query = bind_matching(sqlx::query(&expired), &r);
                    let found = fetch_optional(tx.conn(), query, |_| Ok(())).await?;
                    Ok(if found.is_some() {
                        Redemption::Expired
                    } else {
                        Redemption::Invalid
                    })
                })
            })
            .await
    }

    async fn purge_one_time_codes(&self, expired_before_s: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM one_time_codes WHERE expires_at < $1",
            expired_before_s,
        )
        .await
    }
}

/// Binds the arguments of a redemption's matching condition, in the order its placeholders
/// were numbered: now, code hash, the kinds, then user and client when given.
fn bind_matching<'q>(query: Statement<'q>, r: &'q CodeRedemption) -> Statement<'q> {
    let mut query = query.bind(r.now_s).bind(&r.code_hash);
    for kind in &r.kinds {
        query = query.bind(kind);
    }
    if let Some(user_id) = &r.user_id {
        query = query.bind(user_id);
    }
    if let Some(client_id) = &r.client_id {
        query = query.bind(client_id);
    }
    query
}

fn decode_code(row: &AnyRow) -> StoreResult<OneTimeCode> {
    let what = "one-time code";
    Ok(OneTimeCode {
        code_id: column(row, "code_id", what)?,
        code_hash: column(row, "code_hash", what)?,
        user_id: column(row, "user_id", what)?,
        client_id: column(row, "client_id", what)?,
        kind: column(row, "kind", what)?,
        destination: column(row, "destination", what)?,
        redirect_uri: column(row, "redirect_uri", what)?,
        state: column(row, "state", what)?,
        created_at: column(row, "created_at", what)?,
        expires_at: column(row, "expires_at", what)?,
        consumed_at: column(row, "consumed_at", what)?,
        custom_destination: column::<i64>(row, "custom_destination", what)? != 0,
        approval_data: match column::<Option<String>>(row, "approval_data", what)? {
            Some(text) => Some(from_json(&text, "one-time code approval data")?),
            None => None,
        },
    })
}
