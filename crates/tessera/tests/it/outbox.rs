//! The development outbox end to end: off by default (404), admin only, and when on, the
//! messages a `DevOutbox` over the server's store kept, newest first and filtered by
//! recipient, purged after a day.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_delivery::{Deliver, DevOutbox, Message};
use tessera_identity::{Clock, TestClock};
use tessera_store::StoreOutbox;

use crate::harness::paths::OUTBOX;
use crate::harness::{backends, code, now_ms, TestServer};

async fn start_with_outbox(b: &crate::harness::Backend) -> TestServer {
    let mut config = b.config();
    config.delivery.outbox = true;
    TestServer::start(config, TestClock::new(now_ms())).await
}

/// A `DevOutbox` over the running server's store, on the server's clock: what the server's
/// own messenger is when `delivery.outbox` is on.
fn outbox_of(srv: &TestServer) -> DevOutbox<StoreOutbox> {
    let store = srv.server.as_ref().unwrap().identity.store().clone();
    let clock: Arc<dyn Clock> = Arc::new(srv.clock.clone());
    DevOutbox::new(StoreOutbox::new(store), move || clock.now_ms())
}

#[tokio::test]
async fn the_outbox_is_off_by_default() {
    for b in backends().await {
        let srv = b.start().await;
        let admin = srv.admin_token().await;
        let (s, v) = srv.send_json(Method::GET, OUTBOX, &admin, None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{v} on {}",
            b.name
        );
        assert!(
            v["message"].as_str().unwrap().contains("--dev-outbox"),
            "the message says how to turn it on: {v}"
        );
        srv.stop().await;
    }
}

#[tokio::test]
async fn only_admins_read_the_outbox() {
    for b in backends().await {
        let srv = start_with_outbox(&b).await;
        let admin = srv.admin_token().await;
        let (_, id, secret) = srv.app_and_client(&admin, json!({})).await;
        let token = srv.token(&id, &secret).await;
        let (s, v) = srv.send_json(Method::GET, OUTBOX, &token, None).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{v} on {}",
            b.name
        );
        let r = srv.http.get(srv.url(OUTBOX)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        srv.stop().await;
    }
}

#[tokio::test]
async fn stored_messages_are_listed_newest_first_by_recipient() {
    for b in backends().await {
        let srv = start_with_outbox(&b).await;
        let admin = srv.admin_token().await;
        let (s, v) = srv.send_json(Method::GET, OUTBOX, &admin, None).await;
        assert_eq!((s, v), (StatusCode::OK, json!([])));

        let outbox = outbox_of(&srv);
        let t0 = srv.clock.now_ms();
        outbox
            .deliver(&Message::email(
                "ann@example.com",
                "Your code",
                "Code: 111111",
            ))
            .await
            .unwrap();
        srv.clock.advance_s(2);
        outbox
            .deliver(&Message::sms("+14155550100", "Code: 222222"))
            .await
            .unwrap();
        srv.clock.advance_s(2);
        outbox
            .deliver(&Message::email(
                "ann@example.com",
                "Your link",
                "Link: https://x/y",
            ))
            .await
            .unwrap();

        let r = srv
            .http
            .get(srv.url(&format!("{OUTBOX}?to=ann%40example.com")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let list: Value = r.json().await.unwrap();
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2, "{list:?} on {}", b.name);
        assert_eq!(list[0]["text"], "Link: https://x/y", "newest first");
        assert_eq!(list[0]["subject"], "Your link");
        assert_eq!(list[0]["channel"], "email");
        assert_eq!(list[0]["to"], "ann@example.com");
        assert_eq!(list[0]["created_at"], (t0 + 4_000).div_euclid(1000));
        assert_eq!(list[1]["text"], "Code: 111111");
        assert_eq!(list[1]["created_at"], t0.div_euclid(1000));
        assert!(list[0]["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_ne!(list[0]["id"], list[1]["id"]);
        let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            6,
            "exactly id, channel, to, subject, text, created_at: {keys:?}"
        );

        let (s, v) = srv
            .send_json(
                Method::GET,
                &format!("{OUTBOX}?to=%2B14155550100"),
                &admin,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(v[0]["channel"], "sms");
        assert_eq!(v[0]["subject"], Value::Null);
        assert_eq!(v[0]["text"], "Code: 222222");

        let (_, all) = srv.send_json(Method::GET, OUTBOX, &admin, None).await;
        assert_eq!(all.as_array().unwrap().len(), 3);
        assert_eq!(all[1]["channel"], "sms");

        let (s, v) = srv
            .send_json(
                Method::GET,
                &format!("{OUTBOX}?to=nobody%40example.com"),
                &admin,
                None,
            )
            .await;
        assert_eq!((s, v), (StatusCode::OK, json!([])));
        let (s, v) = srv
            .send_json(Method::GET, &format!("{OUTBOX}?from=x"), &admin, None)
            .await;
        assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
        let (s, _) = srv
            .send_json(Method::GET, &format!("{OUTBOX}?to=a&to=b"), &admin, None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        srv.stop().await;
    }
}

#[tokio::test]
async fn at_most_100_messages_are_listed_and_old_ones_are_purged() {
    for b in backends().await {
        let srv = start_with_outbox(&b).await;
        let admin = srv.admin_token().await;
        let outbox = outbox_of(&srv);
        for i in 0..101 {
            outbox
                .deliver(&Message::sms("+14155550100", format!("message {i}")))
                .await
                .unwrap();
        }
        let (s, v) = srv.send_json(Method::GET, OUTBOX, &admin, None).await;
        assert_eq!(s, StatusCode::OK);
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 100, "on {}", b.name);
        assert_eq!(list[0]["text"], "message 100");
        assert_eq!(list[99]["text"], "message 1");

        // Housekeeping keeps a day of messages.
        srv.clock.advance_s(23 * 3600);
        outbox
            .deliver(&Message::sms("+14155550100", "recent"))
            .await
            .unwrap();
        srv.clock.advance_s(3600 + 1);
        let identity = srv.server.as_ref().unwrap().identity.clone();
        identity.purge().await.unwrap();
        // The first token expired during the day.
        let admin = srv.admin_token().await;
        let (_, v) = srv.send_json(Method::GET, OUTBOX, &admin, None).await;
        assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v[0]["text"], "recent");
        srv.stop().await;
    }
}
