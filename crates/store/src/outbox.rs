//! The development outbox in the database: [`DevOutboxStore`] over SQL (the `outbox` table),
//! and [`StoreOutbox`], the [`OutboxStore`] port of `tessera_delivery` over any [`Store`], so a
//! [`DevOutbox`](tessera_delivery::DevOutbox) keeps its messages in the shared database and
//! every node lists the same ones. Nothing caches the outbox, so it records no change rows.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_delivery::{Channel, DeliveryError, OutboxRecord, OutboxStore};
use tessera_identity::ports::{DevOutboxStore, StoreResult};
use tessera_identity::{Store, StoreError};

use crate::error::{corrupt, write_error};
use crate::query::fetch_all;
use crate::rows::column;
use crate::sql_store::SqlStore;

/// The columns [`decode_outbox_record`] reads.
const OUTBOX_COLUMNS: &str = "id, channel, to_addr, subject, text, created_at_ms";

#[async_trait]
impl DevOutboxStore for SqlStore {
    async fn insert_outbox(&self, record: &OutboxRecord) -> StoreResult<()> {
        let r = record.clone();
        let statement = sqlx::query(
            "INSERT INTO outbox \
             (id, channel, to_addr, subject, text, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.id)
        .bind(r.channel.as_str())
        .bind(r.to)
        .bind(r.subject)
        .bind(r.text)
        .bind(r.created_at_ms);
        let conflict = format!("outbox message {} already exists", record.id);
        self.write(statement, move |e| write_error(e, move || conflict))
            .await?;
        Ok(())
    }

    async fn list_outbox(&self, to: Option<&str>, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        let limit = i64::from(limit);
        match to {
            Some(to) => {
                let sql = format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE to_addr = $1 \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT $2"
                );
                let query = sqlx::query(&sql).bind(to).bind(limit);
                fetch_all(&self.reader, query, decode_outbox_record).await
            }
            None => {
                let sql = format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox \
                     ORDER BY created_at_ms DESC, seq DESC LIMIT $1"
                );
                let query = sqlx::query(&sql).bind(limit);
                fetch_all(&self.reader, query, decode_outbox_record).await
            }
        }
    }

    async fn purge_outbox(&self, before_ms: i64) -> StoreResult<u64> {
        self.delete_older("DELETE FROM outbox WHERE created_at_ms < $1", before_ms)
            .await
    }
}

/// [`OutboxStore`] over a [`Store`]: the `outbox` table. Store failures become temporary
/// delivery errors whose text names the operation only (never the message or recipient).
#[derive(Clone)]
pub struct StoreOutbox {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for StoreOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOutbox")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl StoreOutbox {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl OutboxStore for StoreOutbox {
    async fn insert(&self, record: OutboxRecord) -> Result<(), DeliveryError> {
        self.store
            .insert_outbox(&record)
            .await
            .map_err(|e| delivery_error("storing in the dev outbox", e))
    }

    async fn list(
        &self,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, DeliveryError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.store
            .list_outbox(to, limit)
            .await
            .map_err(|e| delivery_error("listing the dev outbox", e))
    }
}

fn delivery_error(what: &str, e: StoreError) -> DeliveryError {
    match e {
        // A duplicate random id: the caller may simply try again with a new one.
        StoreError::Conflict(_) => DeliveryError::temporary(format!("{what}: duplicate id")),
        StoreError::NotFound => DeliveryError::temporary(format!("{what}: not found")),
        StoreError::Backend(_) | StoreError::Corrupt(_) | StoreError::Unavailable(_) => {
            DeliveryError::temporary(format!("{what}: database error"))
        }
    }
}

/// Decodes one `outbox` row.
fn decode_outbox_record(row: &AnyRow) -> StoreResult<OutboxRecord> {
    let id: String = column(row, "id", "outbox message")?;
    let what = format!("outbox message {id}");
    let channel: String = column(row, "channel", &what)?;
    let channel = match channel.as_str() {
        "email" => Channel::Email,
        "sms" => Channel::Sms,
        other => return Err(corrupt(format!("{what} column channel"), other)),
    };
    Ok(OutboxRecord {
        channel,
        to: column(row, "to_addr", &what)?,
        subject: column(row, "subject", &what)?,
        text: column(row, "text", &what)?,
        created_at_ms: column(row, "created_at_ms", &what)?,
        id,
    })
}
