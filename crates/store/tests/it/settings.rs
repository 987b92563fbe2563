//! Tenant settings documents and the development outbox.

use tessera_delivery::{Channel, Deliver, DevOutbox, Message, OutboxRecord, OutboxStore};
use tessera_identity::{ChangeKind, StoreError};
use tessera_store::StoreOutbox;

use crate::harness::{test_databases, T0_MS};

fn record(id: &str, to: &str, at_ms: i64) -> OutboxRecord {
    OutboxRecord {
        id: id.to_string(),
        channel: Channel::Email,
        to: to.to_string(),
        subject: Some(format!("subject {id}")),
        text: format!("text {id}"),
        created_at_ms: at_ms,
    }
}

fn ids(records: &[OutboxRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test]
async fn a_setting_is_absent_until_put_then_replaced() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert_eq!(store.get_setting("login_preferences").await.unwrap(), None);

        store
            .put_setting("login_preferences", r#"{"otp":{"code_length":8}}"#, 10)
            .await
            .unwrap();
        assert_eq!(
            store
                .get_setting("login_preferences")
                .await
                .unwrap()
                .as_deref(),
            Some(r#"{"otp":{"code_length":8}}"#)
        );
        store
            .put_setting("login_preferences", "{}", 11)
            .await
            .unwrap();
        assert_eq!(
            store
                .get_setting("login_preferences")
                .await
                .unwrap()
                .as_deref(),
            Some("{}"),
            "{}",
            tdb.backend()
        );
        assert_eq!(store.get_setting("other").await.unwrap(), None);
        db.close().await;
    }
}

#[tokio::test]
async fn putting_a_setting_records_a_settings_change() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .put_setting("login_preferences", "{}", 10)
            .await
            .unwrap();
        let changes = store.changes_since(T0_MS - 1).await.unwrap();
        let settings: Vec<_> = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Settings)
            .collect();
        assert_eq!(settings.len(), 1, "{}", tdb.backend());
        assert_eq!(settings[0].key, "login_preferences");
        assert_eq!(
            ChangeKind::parse(ChangeKind::Settings.as_str()),
            ChangeKind::Settings
        );
        db.close().await;
    }
}

/// Replacing a document takes the upsert's update path, which must announce the change too
/// (the write helper records a change only when its statement changed a row).
#[tokio::test]
async fn replacing_a_setting_records_another_settings_change() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .put_setting("login_preferences", "{}", 10)
            .await
            .unwrap();
        store
            .put_setting("login_preferences", r#"{"a":1}"#, 11)
            .await
            .unwrap();
        let changes = store.changes_since(T0_MS - 1).await.unwrap();
        let settings = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Settings && c.key == "login_preferences")
            .count();
        assert_eq!(settings, 2, "{}", tdb.backend());
        db.close().await;
    }
}

#[tokio::test]
async fn outbox_lists_newest_first_filtered_and_limited() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        assert!(store.list_outbox(None, 100).await.unwrap().is_empty());
        // Two in the same millisecond: insertion order breaks the tie.
        store
            .insert_outbox(&record("a", "x@example.com", 1_000))
            .await
            .unwrap();
        store
            .insert_outbox(&record("b", "y@example.com", 2_000))
            .await
            .unwrap();
        store
            .insert_outbox(&record("c", "x@example.com", 3_000))
            .await
            .unwrap();
        store
            .insert_outbox(&record("d", "x@example.com", 3_000))
            .await
            .unwrap();
        let sms = OutboxRecord {
            channel: Channel::Sms,
            subject: None,
            ..record("e", "+14155550100", 500)
        };
        store.insert_outbox(&sms).await.unwrap();

        let all = store.list_outbox(None, 100).await.unwrap();
        assert_eq!(ids(&all), ["d", "c", "b", "a", "e"], "{}", tdb.backend());
        let x = store.list_outbox(Some("x@example.com"), 100).await.unwrap();
        assert_eq!(ids(&x), ["d", "c", "a"]);
        assert_eq!(x[2], record("a", "x@example.com", 1_000), "round trip");
        let limited = store.list_outbox(Some("x@example.com"), 2).await.unwrap();
        assert_eq!(ids(&limited), ["d", "c"]);
        let phone = store.list_outbox(Some("+14155550100"), 100).await.unwrap();
        assert_eq!(phone, vec![sms]);
        assert!(store
            .list_outbox(Some("nobody@example.com"), 100)
            .await
            .unwrap()
            .is_empty());

        let err = store
            .insert_outbox(&record("a", "z@example.com", 9))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        db.close().await;
    }
}

#[tokio::test]
async fn outbox_purge_deletes_only_older_messages_and_records_no_change() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let before = store.changes_since(0).await.unwrap().len();
        store
            .insert_outbox(&record("old", "x@example.com", 1_000))
            .await
            .unwrap();
        store
            .insert_outbox(&record("new", "x@example.com", 2_000))
            .await
            .unwrap();
        assert_eq!(store.purge_outbox(2_000).await.unwrap(), 1);
        assert_eq!(ids(&store.list_outbox(None, 10).await.unwrap()), ["new"]);
        assert_eq!(store.purge_outbox(2_000).await.unwrap(), 0);
        assert_eq!(store.changes_since(0).await.unwrap().len(), before);
        db.close().await;
    }
}

#[tokio::test]
async fn a_dev_outbox_over_the_store_keeps_what_it_delivers() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let clock = tdb.clock.clone();
        let outbox = DevOutbox::new(StoreOutbox::new(store.clone()), move || {
            use tessera_identity::Clock;
            clock.now_ms()
        });
        outbox
            .deliver(&Message::email(
                " a@example.com ",
                "Your code",
                "code 123456",
            ))
            .await
            .unwrap();
        tdb.clock.set_ms(T0_MS + 1);
        outbox
            .deliver(&Message::sms("+14155550100", "code 654321"))
            .await
            .unwrap();

        let listed = outbox.list(None, 10).await.unwrap();
        assert_eq!(listed.len(), 2, "{}", tdb.backend());
        assert_eq!(listed[0].channel, Channel::Sms);
        assert_eq!(listed[0].text, "code 654321");
        assert_eq!(listed[0].created_at_ms, T0_MS + 1);
        assert_eq!(listed[1].to, "a@example.com", "the outbox trims recipients");
        assert_eq!(listed[1].subject.as_deref(), Some("Your code"));
        let only = outbox
            .store()
            .list(Some("a@example.com"), 10)
            .await
            .unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].text, "code 123456");
        db.close().await;
    }
}
