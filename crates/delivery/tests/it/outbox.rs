//! `DevOutbox` over an in-memory `OutboxStore` (tests only): newest first, filtered by `to`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tessera_delivery::{
    Channel, Deliver, DeliveryError, DevOutbox, Message, OutboxRecord, OutboxStore,
};

/// Records in insertion order.
#[derive(Default)]
pub struct MemoryOutbox {
    records: Mutex<Vec<OutboxRecord>>,
}

#[async_trait::async_trait]
impl OutboxStore for MemoryOutbox {
    async fn insert(&self, record: OutboxRecord) -> Result<(), DeliveryError> {
        self.records.lock().push(record);
        Ok(())
    }

    async fn list(
        &self,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, DeliveryError> {
        let records = self.records.lock();
        let mut out: Vec<OutboxRecord> = records
            .iter()
            .rev()
            .filter(|r| to.is_none_or(|to| r.to == to))
            .cloned()
            .collect();
        // Stable: equal timestamps keep newest-inserted first.
        out.sort_by_key(|r| std::cmp::Reverse(r.created_at_ms));
        out.truncate(limit);
        Ok(out)
    }
}

/// An outbox whose clock moves one second per message.
pub fn outbox() -> DevOutbox<Arc<MemoryOutbox>> {
    let now = Arc::new(AtomicI64::new(1_700_000_000_000));
    DevOutbox::new(Arc::new(MemoryOutbox::default()), move || {
        now.fetch_add(1_000, Ordering::SeqCst)
    })
}

#[tokio::test]
async fn lists_newest_first_filtered_by_to() {
    let outbox = outbox();
    outbox
        .deliver(&Message::email("a@example.com", "First", "code 1"))
        .await
        .unwrap();
    outbox
        .deliver(&Message::sms("+15550100", "code 2"))
        .await
        .unwrap();
    outbox
        .deliver(&Message::email("a@example.com", "Third", "code 3"))
        .await
        .unwrap();

    let all = outbox.list(None, 10).await.unwrap();
    let texts: Vec<&str> = all.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["code 3", "code 2", "code 1"]);
    assert_eq!(all[1].channel, Channel::Sms);
    assert_eq!(all[1].subject, None);
    assert!(all[0].created_at_ms > all[2].created_at_ms);
    assert_ne!(all[0].id, all[2].id);

    let to_a = outbox.list(Some("a@example.com"), 10).await.unwrap();
    let subjects: Vec<_> = to_a.iter().map(|r| r.subject.as_deref()).collect();
    assert_eq!(subjects, [Some("Third"), Some("First")]);

    assert_eq!(outbox.list(None, 1).await.unwrap()[0].text, "code 3");
    assert!(outbox
        .list(Some("b@example.com"), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(!format!("{:?}", all[0]).contains("code 3"));
}
