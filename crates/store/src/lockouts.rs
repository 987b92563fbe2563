//! [`LockoutStore`] over SQL: the `auth_failures` table, one failure counter per (subject,
//! method), the subject being a user id or `id:<keyed hash>` of an identifier that names no
//! user. A failure is counted by one upsert, so concurrent failures all count before the
//! limit is compared. Counters are cached nowhere and record no change rows.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{LockoutStore, StoreResult};
use tessera_identity::{AuthFailures, FailurePolicy};

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_optional};
use crate::rows::column;
use crate::sql_store::SqlStore;

/// The columns [`decode_auth_failures`] reads.
const AUTH_FAILURE_COLUMNS: &str = "count, window_started_at, locked_until";

#[async_trait]
impl LockoutStore for SqlStore {
    async fn record_auth_failure(
        &self,
        subject: &str,
        method: &str,
        policy: FailurePolicy,
    ) -> StoreResult<AuthFailures> {
        let subject = subject.to_string();
        let method = method.to_string();
        // Failure counters are not cached anywhere, so they record no change rows.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    let now = policy.now_s;
                    let window_start_before = now - policy.window_s;
                    // One statement increments (or starts over) atomically: concurrent
                    // failures serialise on the row and every one of them counts.
                    let sql = format!(
                        "INSERT INTO auth_failures \
                         (subject, method, count, window_started_at, locked_until) \
                         VALUES ($1, $2, 1, $3, NULL) \
                         ON CONFLICT (subject, method) DO UPDATE SET \
                         count = CASE WHEN {stale} THEN 1 ELSE auth_failures.count + 1 END, \
                         window_started_at = CASE WHEN {stale} THEN $3 \
                           ELSE auth_failures.window_started_at END, \
                         locked_until = CASE WHEN {stale} THEN NULL \
                           ELSE auth_failures.locked_until END \
                         RETURNING {AUTH_FAILURE_COLUMNS}",
                        stale = "(auth_failures.window_started_at <= $4 \
                                  OR auth_failures.locked_until <= $3)",
                    );
                    let row = sqlx::query(&sql)
                        .bind(&subject)
                        .bind(&method)
                        .bind(now)
                        .bind(window_start_before)
                        .fetch_one(tx.conn())
                        .await
                        .map_err(|e| write_error(e, String::new))?;
                    let mut failures = decode_auth_failures(&row)?;
                    if failures.count >= policy.max_failures && failures.locked_until.is_none() {
                        let until = now + policy.lockout_s;
                        let lock = sqlx::query(
                            "UPDATE auth_failures SET locked_until = $3 \
                             WHERE subject = $1 AND method = $2",
                        )
                        .bind(&subject)
                        .bind(&method)
                        .bind(until);
                        execute(tx.conn(), lock, backend).await?;
                        failures.locked_until = Some(until);
                    }
                    Ok(failures)
                })
            })
            .await
    }

    async fn reset_auth_failures(&self, subject: &str, method: &str) -> StoreResult<()> {
        let statement = sqlx::query("DELETE FROM auth_failures WHERE subject = $1 AND method = $2")
            .bind(subject.to_string())
            .bind(method.to_string());
        self.write(statement, backend).await?;
        Ok(())
    }

    async fn get_lock(&self, subject: &str, method: &str) -> StoreResult<Option<AuthFailures>> {
        let sql = format!(
            "SELECT {AUTH_FAILURE_COLUMNS} FROM auth_failures WHERE subject = $1 AND method = $2"
        );
        let query = sqlx::query(&sql).bind(subject).bind(method);
        fetch_optional(&self.reader, query, decode_auth_failures).await
    }

    async fn purge_lockouts(&self, now_s: i64, idle_before_s: i64) -> StoreResult<u64> {
        // An expired lock has already started the count over.
        let locks = self
            .delete_older("DELETE FROM auth_failures WHERE locked_until <= $1", now_s)
            .await?;
        // Counters of identifiers that name no user are forgotten once idle, so random
        // identifiers cannot grow the table without bound.
        let statement = sqlx::query(
            "DELETE FROM auth_failures WHERE subject LIKE 'id:%' \
             AND window_started_at < $1 AND locked_until IS NULL",
        )
        .bind(idle_before_s);
        let idle = self.write(statement, backend).await?;
        Ok(locks.saturating_add(idle))
    }
}

fn decode_auth_failures(row: &AnyRow) -> StoreResult<AuthFailures> {
    let what = "auth failure counter";
    Ok(AuthFailures {
        count: column(row, "count", what)?,
        window_started_at: column(row, "window_started_at", what)?,
        locked_until: column(row, "locked_until", what)?,
    })
}
