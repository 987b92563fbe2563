//! The development outbox in the database: decoding `outbox` rows, and [`StoreOutbox`], the
//! [`OutboxStore`] port of `tessera_delivery` over any [`Store`], so a
//! [`DevOutbox`](tessera_delivery::DevOutbox) keeps its messages in the shared database and
//! every node lists the same ones.

use std::sync::Arc;

use sqlx::any::AnyRow;
use tessera_delivery::{Channel, DeliveryError, OutboxRecord, OutboxStore};
use tessera_identity::ports::StoreResult;
use tessera_identity::{Store, StoreError};

use crate::error::corrupt;
use crate::rows::column;

/// The columns [`outbox_record`] reads.
pub(crate) const OUTBOX_COLUMNS: &str = "id, channel, to_addr, subject, text, created_at_ms";

/// Decodes one `outbox` row.
pub(crate) fn outbox_record(row: &AnyRow) -> StoreResult<OutboxRecord> {
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

#[async_trait::async_trait]
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
