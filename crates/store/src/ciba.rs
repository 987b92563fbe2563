//! [`CibaStore`] over SQL: the `ciba_requests` table. A decision is one conditional `UPDATE …
//! WHERE status = 'pending'`, the hand-out of the tokens one conditional `UPDATE … WHERE status =
//! 'approved'`, so of two nodes deciding or polling at once exactly one wins. Requests are
//! cached nowhere and record no change rows.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{CibaStore, StoreResult};
use tessera_identity::{CibaPoll, CibaRequest, CibaStatus, DeliveryJob};

use crate::deliveries::insert_delivery;
use crate::error::{backend, corrupt, write_error};
use crate::query::{execute, fetch_optional};
use crate::rows::{column, from_json, to_json};
use crate::sql_store::SqlStore;

/// The columns [`decode_request`] reads.
const REQUEST_COLUMNS: &str = "request_hash, client_id, user_id, scope, binding_message, \
     delivery_mode, notification_token_sealed, created_at_ms, expires_at_ms, interval_s, \
     last_polled_at_ms, status, decided_at_ms, auth_time, methods";

#[async_trait]
impl CibaStore for SqlStore {
    async fn create_ciba_request(&self, request: &CibaRequest) -> StoreResult<()> {
        let r = request.clone();
        let methods = to_json(&r.methods, "ciba methods")?;
        let statement = sqlx::query(
            "INSERT INTO ciba_requests \
             (request_hash, client_id, user_id, scope, binding_message, delivery_mode, \
              notification_token_sealed, created_at_ms, expires_at_ms, interval_s, \
              last_polled_at_ms, status, decided_at_ms, auth_time, methods) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, NULL, NULL, $12)",
        )
        .bind(r.request_hash)
        .bind(r.client_id)
        .bind(r.user_id)
        .bind(r.scope)
        .bind(r.binding_message)
        .bind(r.delivery_mode)
        .bind(r.notification_token_sealed)
        .bind(r.created_at_ms)
        .bind(r.expires_at_ms)
        .bind(r.interval_s)
        .bind(r.status.as_str())
        .bind(methods);
        self.write(statement, |e| {
            write_error(e, || "backchannel request exists".to_string())
        })
        .await?;
        Ok(())
    }

    async fn get_ciba_request(&self, request_hash: &str) -> StoreResult<Option<CibaRequest>> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM ciba_requests WHERE request_hash = $1");
        let query = sqlx::query(&sql).bind(request_hash);
        fetch_optional(&self.reader, query, decode_request).await
    }

    async fn decide_ciba_request(
        &self,
        request_hash: &str,
        user_id: &str,
        approved: bool,
        auth_time: i64,
        methods: &[String],
        now_ms: i64,
        notify: Option<&DeliveryJob>,
    ) -> StoreResult<Option<CibaRequest>> {
        let notify = notify.cloned();
        let hash = request_hash.to_string();
        let user_id = user_id.to_string();
        let status = if approved {
            CibaStatus::Approved
        } else {
            CibaStatus::Denied
        };
        let methods = to_json(&methods.to_vec(), "ciba methods")?;
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "UPDATE ciba_requests SET status = $3, decided_at_ms = $4, \
                         auth_time = $5, methods = $6 \
                         WHERE request_hash = $1 AND user_id = $2 AND status = 'pending' \
                         AND expires_at_ms > $4 RETURNING {REQUEST_COLUMNS}"
                    );
                    let query = sqlx::query(&sql)
                        .bind(&hash)
                        .bind(&user_id)
                        .bind(status.as_str())
                        .bind(now_ms)
                        .bind(auth_time)
                        .bind(&methods);
                    let decided = fetch_optional(tx.conn(), query, decode_request).await?;
                    if let (Some(_), Some(job)) = (&decided, notify) {
                        execute(tx.conn(), insert_delivery(job), backend).await?;
                    }
                    Ok(decided)
                })
            })
            .await
    }

    async fn poll_ciba_request(
        &self,
        request_hash: &str,
        client_id: &str,
        now_ms: i64,
    ) -> StoreResult<CibaPoll> {
        let hash = request_hash.to_string();
        let client_id = client_id.to_string();
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {REQUEST_COLUMNS} FROM ciba_requests WHERE request_hash = $1"
                    );
                    let query = sqlx::query(&sql).bind(&hash);
                    let Some(r) = fetch_optional(tx.conn(), query, decode_request).await? else {
                        return Ok(CibaPoll::Invalid);
                    };
                    if r.client_id != client_id {
                        return Ok(CibaPoll::Invalid);
                    }
                    match r.status {
                        CibaStatus::Consumed => Ok(CibaPoll::Invalid),
                        CibaStatus::Denied => Ok(CibaPoll::Denied),
                        _ if r.expires_at_ms <= now_ms => Ok(CibaPoll::Expired),
                        CibaStatus::Approved => {
                            // The one poll that gets the tokens: a conditional update only
                            // one caller can win, on any node.
                            let sql = format!(
                                "UPDATE ciba_requests SET status = 'consumed', \
                                 last_polled_at_ms = $2 \
                                 WHERE request_hash = $1 AND status = 'approved' \
                                 RETURNING {REQUEST_COLUMNS}"
                            );
                            let query = sqlx::query(&sql).bind(&hash).bind(now_ms);
                            Ok(
                                match fetch_optional(tx.conn(), query, decode_request).await? {
                                    Some(taken) => CibaPoll::Approved(Box::new(taken)),
                                    None => CibaPoll::Invalid,
                                },
                            )
                        }
                        CibaStatus::Pending => {
                            let too_soon = r
                                .last_polled_at_ms
                                .is_some_and(|last| now_ms - last < r.interval_s * 1000);
                            let interval = if too_soon {
                                r.interval_s + 5
                            } else {
                                r.interval_s
                            };
                            let statement = sqlx::query(
                                "UPDATE ciba_requests SET last_polled_at_ms = $2, interval_s = $3 \
                                 WHERE request_hash = $1",
                            )
                            .bind(&hash)
                            .bind(now_ms)
                            .bind(interval);
                            execute(tx.conn(), statement, backend).await?;
                            Ok(if too_soon {
                                CibaPoll::SlowDown {
                                    interval_s: interval,
                                }
                            } else {
                                CibaPoll::Pending
                            })
                        }
                    }
                })
            })
            .await
    }

    async fn purge_ciba_requests(&self, before_ms: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM ciba_requests WHERE expires_at_ms < $1",
            before_ms,
        )
        .await
    }
}

fn decode_request(row: &AnyRow) -> StoreResult<CibaRequest> {
    let what = "backchannel request";
    let status: String = column(row, "status", what)?;
    let methods: String = column(row, "methods", what)?;
    Ok(CibaRequest {
        request_hash: column(row, "request_hash", what)?,
        client_id: column(row, "client_id", what)?,
        user_id: column(row, "user_id", what)?,
        scope: column(row, "scope", what)?,
        binding_message: column(row, "binding_message", what)?,
        delivery_mode: column(row, "delivery_mode", what)?,
        notification_token_sealed: column(row, "notification_token_sealed", what)?,
        created_at_ms: column(row, "created_at_ms", what)?,
        expires_at_ms: column(row, "expires_at_ms", what)?,
        interval_s: column(row, "interval_s", what)?,
        last_polled_at_ms: column(row, "last_polled_at_ms", what)?,
        status: CibaStatus::parse(&status).ok_or_else(|| corrupt(what, "unknown status"))?,
        decided_at_ms: column(row, "decided_at_ms", what)?,
        auth_time: column(row, "auth_time", what)?,
        methods: from_json(&methods, "backchannel request methods")?,
    })
}
