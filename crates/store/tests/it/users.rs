//! Users: the whole record round-trips, the normalised keys are unique (each conflict names
//! its field), lookups, whole-record updates, deletes, filtered pages and change rows.

use serde_json::json;
use tessera_identity::{
    ChangeKind, DelegatedAccess, PasswordHash, StoreError, User, UserAddress, UserCondition,
    UserField, UserFilter, UserLookup, UserMatch, UserName, UserSort, UserStatus,
};

use crate::harness::test_databases;

fn user(user_id: &str, created_at: i64) -> User {
    User::new(user_id.to_string(), created_at)
}

fn full_user() -> User {
    let mut u = user("u-full", 10);
    u.username = Some("Ren\u{e9}".into());
    u.email = Some("Ann@Example.com".into());
    u.email_verified = true;
    u.phone_number = Some("+14155550100".into());
    u.phone_number_verified = true;
    u.external_user_id = Some("ext-1".into());
    u.name = Some(UserName {
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        ..UserName::default()
    });
    // The platform's fields round-trip in the stored document.
    u.email_verified_at = Some(1_700_000_000_123);
    u.secondary_emails = vec!["ann@work.example".into()];
    u.birthday = Some("1990-04-01".into());
    u.address = Some(UserAddress {
        city: Some("London".into()),
        kind: Some("Home".into()),
        ..UserAddress::default()
    });
    u.custom_app_data = json!({"plan": "pro"}).as_object().cloned().unwrap();
    u.delegated_access = Some(DelegatedAccess {
        actor_id: "parent".into(),
        permissions: vec!["read".into()],
    });
    u.status_changed_at = Some(1_700_000_000_456);
    u.password_updated_at = Some(1_700_000_000_789);
    u.custom_data = json!({"tier": "gold", "n": [1, 2]})
        .as_object()
        .cloned()
        .unwrap();
    u.status = UserStatus::Disabled;
    u.password_hash = Some(PasswordHash(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    ));
    u.password_force_replace = true;
    u
}

fn conflict_field(e: StoreError) -> String {
    match e {
        StoreError::Conflict(field) => field,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_round_trips_and_is_found_by_each_key() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        let u = full_user();
        store.create_user(&u).await.unwrap();
        assert_eq!(
            store.get_user("u-full").await.unwrap(),
            Some(u.clone()),
            "{}",
            tdb.backend()
        );
        assert_eq!(store.get_user("nobody").await.unwrap(), None);
        for lookup in [
            UserLookup::EmailNorm("ann@example.com".into()),
            UserLookup::Phone("+14155550100".into()),
            UserLookup::UsernameNorm("ren\u{e9}".into()),
        ] {
            assert_eq!(
                store.get_user_by(&lookup).await.unwrap().map(|u| u.user_id),
                Some("u-full".to_string()),
                "{lookup:?}"
            );
        }
        // Lookups use the normalised keys, not the stored spelling.
        assert_eq!(
            store
                .get_user_by(&UserLookup::EmailNorm("Ann@Example.com".into()))
                .await
                .unwrap(),
            None
        );
        db.close().await;
    }
}

#[tokio::test]
async fn unique_keys_conflict_naming_the_field() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.create_user(&full_user()).await.unwrap();

        let mut same_email = user("u-2", 20);
        same_email.email = Some("ANN@example.COM".into());
        assert_eq!(
            conflict_field(store.create_user(&same_email).await.unwrap_err()),
            "email"
        );

        let mut same_phone = user("u-2", 20);
        same_phone.phone_number = Some("+14155550100".into());
        assert_eq!(
            conflict_field(store.create_user(&same_phone).await.unwrap_err()),
            "phone_number",
            "{}",
            tdb.backend()
        );

        let mut same_username = user("u-2", 20);
        same_username.username = Some("REN\u{c9}".into());
        assert_eq!(
            conflict_field(store.create_user(&same_username).await.unwrap_err()),
            "username"
        );

        let same_id = user("u-full", 20);
        assert_eq!(
            conflict_field(store.create_user(&same_id).await.unwrap_err()),
            "user_id"
        );

        // Users without addresses do not collide on their NULLs.
        store.create_user(&user("u-3", 30)).await.unwrap();
        store.create_user(&user("u-4", 40)).await.unwrap();

        // An update into another user's address conflicts too, and changes nothing.
        let mut u3 = user("u-3", 30);
        u3.phone_number = Some("+14155550100".into());
        assert_eq!(
            conflict_field(store.update_user(&u3).await.unwrap_err()),
            "phone_number"
        );
        assert_eq!(store.get_user("u-3").await.unwrap(), Some(user("u-3", 30)));
        db.close().await;
    }
}

#[tokio::test]
async fn updates_replace_the_whole_record_and_deletes_remove_it() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store.create_user(&full_user()).await.unwrap();
        let mut changed = user("u-full", 10);
        changed.email = Some("new@example.com".into());
        changed.updated_at = 99;
        store.update_user(&changed).await.unwrap();
        assert_eq!(
            store.get_user("u-full").await.unwrap(),
            Some(changed.clone())
        );
        // The old keys are free again.
        assert_eq!(
            store
                .get_user_by(&UserLookup::Phone("+14155550100".into()))
                .await
                .unwrap(),
            None
        );
        let mut other = user("u-2", 20);
        other.phone_number = Some("+14155550100".into());
        store.create_user(&other).await.unwrap();

        assert!(matches!(
            store.update_user(&user("ghost", 1)).await,
            Err(StoreError::NotFound)
        ));
        store.delete_user("u-full").await.unwrap();
        assert_eq!(store.get_user("u-full").await.unwrap(), None);
        assert!(matches!(
            store.delete_user("u-full").await,
            Err(StoreError::NotFound)
        ));

        let changes = store.changes_since(0).await.unwrap();
        let users: Vec<_> = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::User)
            .map(|c| c.key.as_str())
            .collect();
        assert_eq!(
            users,
            vec!["u-full", "u-full", "u-2", "u-full"],
            "{}",
            tdb.backend()
        );
        db.close().await;
    }
}

#[tokio::test]
async fn lists_are_filtered_paged_and_counted() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        for n in 0..5 {
            let mut u = user(&format!("u-{n}"), 100 + n);
            u.email = Some(format!("user{n}@example.com"));
            if n % 2 == 0 {
                u.phone_number = Some(format!("+1415555010{n}"));
            }
            store.create_user(&u).await.unwrap();
        }
        let ids = |page: &tessera_identity::UserPage| {
            page.users
                .iter()
                .map(|u| u.user_id.clone())
                .collect::<Vec<_>>()
        };
        let all = store
            .list_users(&UserFilter {
                limit: 2,
                offset: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ids(&all), vec!["u-1", "u-2"], "{}", tdb.backend());
        assert_eq!(all.total, 5);

        let by_email = store
            .list_users(&UserFilter {
                conditions: vec![eq(UserField::EmailNorm, "user3@example.com")],
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ids(&by_email), vec!["u-3"]);
        assert_eq!(by_email.total, 1);

        let both = store
            .list_users(&UserFilter {
                conditions: vec![
                    eq(UserField::EmailNorm, "user3@example.com"),
                    eq(UserField::Phone, "+14155550102"),
                ],
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(both.total, 0);
        assert!(both.users.is_empty());

        let by_phone = store
            .list_users(&UserFilter {
                conditions: vec![eq(UserField::Phone, "+14155550104")],
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(ids(&by_phone), vec!["u-4"]);

        // Prefixes are literal (`_` and `%` are not wildcards); sorts put users without the
        // field last in both directions and break ties on user_id.
        let prefix = |p: &str| UserFilter {
            prefix: Some(p.to_string()),
            limit: 10,
            ..Default::default()
        };
        let by_prefix = store.list_users(&prefix("user1")).await.unwrap();
        assert_eq!(ids(&by_prefix), vec!["u-1"]);
        let by_phone_prefix = store.list_users(&prefix("+1415555010")).await.unwrap();
        assert_eq!(ids(&by_phone_prefix), vec!["u-0", "u-2", "u-4"]);
        assert_eq!(store.list_users(&prefix("user_")).await.unwrap().total, 0);
        assert_eq!(store.list_users(&prefix("%")).await.unwrap().total, 0);
        let sorted = |sort: UserSort, descending: bool| UserFilter {
            sort,
            descending,
            limit: 10,
            ..Default::default()
        };
        let by_phone_desc = store
            .list_users(&sorted(UserSort::PhoneNumber, true))
            .await
            .unwrap();
        assert_eq!(
            ids(&by_phone_desc),
            vec!["u-4", "u-2", "u-0", "u-3", "u-1"],
            "{}",
            tdb.backend()
        );
        let by_phone_asc = store
            .list_users(&sorted(UserSort::PhoneNumber, false))
            .await
            .unwrap();
        assert_eq!(ids(&by_phone_asc), vec!["u-0", "u-2", "u-4", "u-1", "u-3"]);
        let newest = store
            .list_users(&sorted(UserSort::CreatedAt, true))
            .await
            .unwrap();
        assert_eq!(ids(&newest), vec!["u-4", "u-3", "u-2", "u-1", "u-0"]);
        db.close().await;
    }
}

fn eq(field: UserField, value: &str) -> UserCondition {
    UserCondition {
        field,
        how: UserMatch::Equals,
        value: value.to_string(),
    }
}

#[tokio::test]
async fn memberships_and_external_ids_go_with_their_user_and_application() {
    use crate::fixtures::application;
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        store
            .create_application(&application("app-a", 1))
            .await
            .unwrap();
        store
            .create_application(&application("app-b", 1))
            .await
            .unwrap();
        let mut ann = user("u-ann", 10);
        ann.username = Some("ann".into());
        ann.external_user_id = Some("ext-1".into());
        ann.external_account_id = Some("acc".into());
        store.create_user_in_app(&ann, "app-a", 10).await.unwrap();
        assert!(store.user_in_app("u-ann", "app-a").await.unwrap());
        assert!(!store.user_in_app("u-ann", "app-b").await.unwrap());
        assert_eq!(
            store
                .get_user_by(&UserLookup::ExternalUserId("ext-1".into()))
                .await
                .unwrap()
                .map(|u| u.user_id),
            Some("u-ann".to_string())
        );
        // external_user_id is unique; external_account_id is not.
        let mut bob = user("u-bob", 11);
        bob.username = Some("bob".into());
        bob.external_user_id = Some("ext-1".into());
        bob.external_account_id = Some("acc".into());
        let conflict = store.create_user_in_app(&bob, "app-a", 11).await;
        assert!(
            matches!(&conflict, Err(StoreError::Conflict(f)) if f == "external_user_id"),
            "{} {conflict:?}",
            tdb.backend()
        );
        bob.external_user_id = None;
        store.create_user(&bob).await.unwrap();
        // A user whose application is gone is not created at all.
        let mut carl = user("u-carl", 12);
        carl.username = Some("carl".into());
        assert!(matches!(
            store.create_user_in_app(&carl, "app-gone", 12).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.get_user("u-carl").await.unwrap(), None);

        assert!(store.add_user_app("u-bob", "app-b", 13).await.unwrap());
        assert!(!store.add_user_app("u-bob", "app-b", 14).await.unwrap());
        assert!(matches!(
            store.add_user_app("u-bob", "app-gone", 14).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.add_user_app("u-ann", "app-b", 15).await.unwrap());
        assert!(store.remove_user_app("u-ann", "app-b").await.unwrap());
        assert!(!store.remove_user_app("u-ann", "app-b").await.unwrap());
        // Deleting the application ends its memberships; deleting the user ends theirs.
        store.delete_application("app-b").await.unwrap();
        assert!(!store.user_in_app("u-bob", "app-b").await.unwrap());
        store.delete_user("u-ann").await.unwrap();
        assert!(!store.user_in_app("u-ann", "app-a").await.unwrap());
        assert!(store.add_user_app("u-bob", "app-a", 16).await.unwrap());
        db.close().await;
    }
}

/// The lookup columns of 0012 are filled from the documents of users stored before it; of
/// two users that shared an `external_user_id` then, the older keeps it as its identifier.
#[tokio::test]
async fn the_lookup_migration_backfills_existing_users() {
    for tdb in test_databases().await {
        let (db, store) = tdb.open_store().await;
        // Back to the schema before 0012, with users written by an older binary.
        for sql in [
            "DROP TABLE app_login_preferences",
            "DROP TABLE user_apps",
            "DROP INDEX users_external_user_id",
            "DROP INDEX users_external_account_id",
            "ALTER TABLE users DROP COLUMN external_user_id",
            "ALTER TABLE users DROP COLUMN external_account_id",
            "DELETE FROM _sqlx_migrations WHERE version = 12",
        ] {
            tdb.raw_execute(sql).await;
        }
        for (id, at, ext) in [
            ("u-new", 2, "\"dup\""),
            ("u-old", 1, "\"dup\""),
            ("u-none", 3, "null"),
        ] {
            tdb.raw_execute(&format!(
                "INSERT INTO users (user_id, username_norm, doc, status, created_at, updated_at) \
                 VALUES ('{id}', '{id}', '{{\"user_id\": \"{id}\", \"username\": \"{id}\", \
                 \"external_user_id\": {ext}, \"external_account_id\": \"acc\", \
                 \"created_at\": {at}, \"updated_at\": {at}}}', 'active', {at}, {at})"
            ))
            .await;
        }
        db.migrate().await.unwrap();
        let found = store
            .get_user_by(&UserLookup::ExternalUserId("dup".into()))
            .await
            .unwrap();
        assert_eq!(
            found.map(|u| u.user_id),
            Some("u-old".to_string()),
            "{}",
            tdb.backend()
        );
        let by_account = store
            .list_users(&UserFilter {
                conditions: vec![eq(UserField::ExternalAccountId, "acc")],
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_account.total, 3);
        db.close().await;
    }
}
