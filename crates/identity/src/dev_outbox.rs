//! Reading the development outbox (SPEC §5): when `delivery.outbox` is on, messages are stored
//! instead of sent (by `tessera_delivery::DevOutbox`, which the binary wires to the store) and
//! admins read them at `GET /cis/v1/dev/outbox?to=<address>`, so tests and newcomers see
//! codes and links without real providers. Stored messages are deleted after a day
//! ([`crate::service::DEV_OUTBOX_RETENTION_MS`]).

use serde_json::{json, Value};
use tessera_delivery::OutboxRecord;

use crate::error::{Error, Rejection};
use crate::service::Identity;
use crate::tokens::AccessContext;

/// The most messages one listing returns.
pub const DEV_OUTBOX_LIMIT: u32 = 100;

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

impl Identity {
    /// The newest [`DEV_OUTBOX_LIMIT`] outbox messages, newest first, only those to `to`
    /// (trimmed, compared exactly) when given. Admins only; 404 `not_found` when the outbox is
    /// off, so a production server never reveals whether it would have stored anything.
    pub async fn dev_outbox(
        &self,
        ctx: &AccessContext,
        to: Option<&str>,
    ) -> Result<Vec<OutboxRecord>, Error> {
        if !ctx.is_client_token() || !ctx.is_admin() {
            return Err(Error::Forbidden(
                "this API needs a client token of the management application",
            ));
        }
        if !self.settings.dev_outbox {
            return Err(Error::rejected(
                Rejection::NotFound,
                "not_found",
                "the development outbox is off; start the server with --dev-outbox or \
                 TESSERA_DELIVERY__OUTBOX=true",
            ));
        }
        let to = to.map(str::trim);
        if to.is_some_and(|t| t.is_empty() || t.len() > 320 || t.chars().any(char::is_control)) {
            return Err(Error::InvalidInput(
                "`to` must be an email address or phone number".into(),
            ));
        }
        Ok(self.store.list_outbox(to, DEV_OUTBOX_LIMIT).await?)
    }
}
