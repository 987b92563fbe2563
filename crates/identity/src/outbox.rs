//! [`DevOutbox`]: reading the development outbox (SPEC §5). When `delivery.outbox` is on,
//! messages are stored instead of sent (by `tessera_delivery::DevOutbox`, which the binary
//! wires to the store) and admins read them at `GET /cis/v1/dev/outbox?to=<address>`, so
//! tests and newcomers see codes and links without real providers. Stored messages are
//! deleted after a day.

use std::sync::Arc;

use serde_json::{json, Value};
use tessera_delivery::OutboxRecord;

use crate::caller::Admin;
use crate::clock::Clock;
use crate::error::{Code, Error};
use crate::ports::DevOutboxStore;

/// The most messages one listing returns.
pub const DEV_OUTBOX_LIMIT: u32 = 100;

/// How long development-outbox messages are kept before housekeeping deletes them.
pub const DEV_OUTBOX_RETENTION_MS: i64 = 24 * 3_600_000;

/// The public JSON of one message: `{id, channel, to, subject, text, created_at}`, with
/// `created_at` in Unix seconds like every other `created_at` of the REST API.
pub fn outbox_json(record: &OutboxRecord) -> Value {
    json!({
        "id": record.id,
        "channel": record.channel.as_str(),
        "to": record.to,
        "subject": record.subject,
        "text": record.text,
        "created_at": record.created_at_ms.div_euclid(1000),
    })
}

pub struct DevOutbox {
    store: Arc<dyn DevOutboxStore>,
    clock: Arc<dyn Clock>,
    enabled: bool,
}

impl DevOutbox {
    pub fn new(store: Arc<dyn DevOutboxStore>, clock: Arc<dyn Clock>, enabled: bool) -> Self {
        Self {
            store,
            clock,
            enabled,
        }
    }

    /// The newest [`DEV_OUTBOX_LIMIT`] messages, newest first, only those to `to` (trimmed,
    /// compared exactly) when given. 404 `not_found` when the outbox is off, so a
    /// production server never reveals whether it would have stored anything.
    pub async fn list(&self, _admin: &Admin, to: Option<&str>) -> Result<Vec<OutboxRecord>, Error> {
        if !self.enabled {
            return Err(Error::new(
                Code::NotFound,
                "the development outbox is off; start the server with --dev-outbox or \
                 TESSERA_DELIVERY__OUTBOX=true",
            ));
        }
        let to = to.map(str::trim);
        if to.is_some_and(|t| t.is_empty() || t.len() > 320 || t.chars().any(char::is_control)) {
            return Err(Error::invalid(
                "`to` must be an email address or phone number",
            ));
        }
        Ok(self.store.list_outbox(to, DEV_OUTBOX_LIMIT).await?)
    }

    /// Housekeeping: messages are kept for a day.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_outbox(self.clock.now_ms() - DEV_OUTBOX_RETENTION_MS)
            .await?;
        Ok(())
    }
}
