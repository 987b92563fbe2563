//! The development outbox: [`DevOutbox`] stores messages in an [`OutboxStore`] instead of
//! sending them, so tests and newcomers read codes and links through
//! `GET /cis/v1/dev/outbox` (SPEC §5). The store (a database table in the product) is
//! implemented by the store crate.

use std::fmt;
use std::sync::Arc;

use crate::{Channel, Deliver, DeliveryError, Message};

/// One stored message.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxRecord {
    /// Random id (UUID v4).
    pub id: String,
    /// Email or SMS.
    pub channel: Channel,
    /// Recipient as given by the caller.
    pub to: String,
    /// Subject (emails).
    pub subject: Option<String>,
    /// Body (carries codes: `Debug` prints `***`).
    pub text: String,
    /// When it was stored, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl fmt::Debug for OutboxRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxRecord")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &"***")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

/// Durable storage of the development outbox.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Stores one record.
    async fn insert(&self, record: OutboxRecord) -> Result<(), DeliveryError>;

    /// At most `limit` records, newest first (by `created_at_ms`, then insertion order), only
    /// those sent to `to` when given.
    async fn list(
        &self,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, DeliveryError>;
}

#[async_trait::async_trait]
impl<S: OutboxStore + ?Sized> OutboxStore for Arc<S> {
    async fn insert(&self, record: OutboxRecord) -> Result<(), DeliveryError> {
        (**self).insert(record).await
    }

    async fn list(
        &self,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, DeliveryError> {
        (**self).list(to, limit).await
    }
}

/// A [`Deliver`] that stores every message (either channel) in an [`OutboxStore`].
pub struct DevOutbox<S> {
    store: S,
    now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl<S> fmt::Debug for DevOutbox<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevOutbox").finish_non_exhaustive()
    }
}

impl<S: OutboxStore> DevOutbox<S> {
    /// An outbox over `store`; `now_ms` is the clock (e.g. `move || clock.now_ms()`).
    pub fn new(store: S, now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        DevOutbox {
            store,
            now_ms: Arc::new(now_ms),
        }
    }

    /// The stored messages, newest first, optionally only those to `to`.
    pub async fn list(
        &self,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, DeliveryError> {
        self.store.list(to, limit).await
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }
}

#[async_trait::async_trait]
impl<S: OutboxStore> Deliver for DevOutbox<S> {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        let record = OutboxRecord {
            id: uuid::Uuid::new_v4().to_string(),
            channel: msg.channel,
            to: msg.to.trim().to_string(),
            subject: msg.subject.clone(),
            text: msg.text.clone(),
            created_at_ms: (self.now_ms)(),
        };
        self.store.insert(record).await
    }
}
