//! [`DeliveryStore`] over SQL: the `deliveries` table, the retrying outbox. A claim is one
//! write transaction that selects the due jobs (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
//! nodes claiming at once take different jobs; SQLite has one writer) and leases them. Jobs are
//! cached nowhere and record no change rows.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{DeliveryStore, StoreResult};
use tessera_identity::DeliveryJob;

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_all, Statement};
use crate::rows::column;
use crate::sql_store::SqlStore;

/// The columns [`decode_job`] reads.
const JOB_COLUMNS: &str = "id, kind, payload_sealed, attempts, next_attempt_at_ms, \
     lease_until_ms, created_at_ms, done_at_ms";

#[async_trait]
impl DeliveryStore for SqlStore {
    async fn enqueue_delivery(&self, job: &DeliveryJob) -> StoreResult<()> {
        let conflict = format!("delivery {} already exists", job.id);
        self.write(insert_delivery(job.clone()), move |e| {
            write_error(e, move || conflict)
        })
        .await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryJob>> {
        let lock = if self.backend == "postgres" {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let select = format!(
            "SELECT {JOB_COLUMNS} FROM deliveries \
             WHERE done_at_ms IS NULL AND next_attempt_at_ms <= $1 \
             AND (lease_until_ms IS NULL OR lease_until_ms <= $1) \
             ORDER BY next_attempt_at_ms LIMIT $2{lock}"
        );
        let lease_until = now_ms.saturating_add(lease_ms);
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let query = sqlx::query(&select).bind(now_ms).bind(i64::from(limit));
                    let mut jobs = fetch_all(tx.conn(), query, decode_job).await?;
                    for job in &mut jobs {
                        let statement = sqlx::query(
                            "UPDATE deliveries SET lease_until_ms = $2, attempts = attempts + 1 \
                             WHERE id = $1",
                        )
                        .bind(job.id.clone())
                        .bind(lease_until);
                        execute(tx.conn(), statement, backend).await?;
                        job.lease_until_ms = Some(lease_until);
                        job.attempts += 1;
                    }
                    Ok(jobs)
                })
            })
            .await
    }

    async fn finish_delivery(&self, id: &str, now_ms: i64) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE deliveries SET done_at_ms = $2, lease_until_ms = NULL, payload_sealed = '' \
             WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(now_ms);
        self.write(statement, backend).await?;
        Ok(())
    }

    async fn retry_delivery(&self, id: &str, next_attempt_at_ms: i64) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE deliveries SET next_attempt_at_ms = $2, lease_until_ms = NULL \
             WHERE id = $1 AND done_at_ms IS NULL",
        )
        .bind(id.to_string())
        .bind(next_attempt_at_ms);
        self.write(statement, backend).await?;
        Ok(())
    }

    async fn purge_deliveries(&self, before_ms: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM deliveries WHERE done_at_ms IS NOT NULL AND done_at_ms < $1",
            before_ms,
        )
        .await
    }
}

/// The insert of a queued job (also used inside other aggregates' transactions: a CIBA
/// decision queues its ping atomically).
pub(crate) fn insert_delivery(j: DeliveryJob) -> Statement<'static> {
    sqlx::query(
        "INSERT INTO deliveries \
         (id, kind, payload_sealed, attempts, next_attempt_at_ms, lease_until_ms, \
          created_at_ms, done_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(j.id)
    .bind(j.kind)
    .bind(j.payload_sealed)
    .bind(j.attempts)
    .bind(j.next_attempt_at_ms)
    .bind(j.lease_until_ms)
    .bind(j.created_at_ms)
    .bind(j.done_at_ms)
}

fn decode_job(row: &AnyRow) -> StoreResult<DeliveryJob> {
    let what = "delivery";
    Ok(DeliveryJob {
        id: column(row, "id", what)?,
        kind: column(row, "kind", what)?,
        payload_sealed: column(row, "payload_sealed", what)?,
        attempts: column(row, "attempts", what)?,
        next_attempt_at_ms: column(row, "next_attempt_at_ms", what)?,
        lease_until_ms: column(row, "lease_until_ms", what)?,
        created_at_ms: column(row, "created_at_ms", what)?,
        done_at_ms: column(row, "done_at_ms", what)?,
    })
}
