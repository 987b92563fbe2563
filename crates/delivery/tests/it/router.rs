//! `Router`: routing by channel, unconfigured channels, building from `[delivery]`.

use std::sync::Arc;

use tessera_delivery::{
    Channel, Deliver, DeliveryConfig, DeliveryErrorKind, Message, Router, SmsConfig, SmtpConfig,
};
use tessera_outbound::{HttpOutbound, OutboundConfig};

use crate::outbox::outbox;

fn outbound() -> Arc<HttpOutbound> {
    Arc::new(HttpOutbound::new(OutboundConfig::default()).unwrap())
}

#[tokio::test]
async fn unconfigured_channel_is_a_configuration_error() {
    let err = Router::new()
        .deliver(&Message::email("a@example.com", "s", "code 5"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Configuration);
    assert!(err.to_string().contains("[delivery.smtp]"), "{err}");
    let err = Router::new()
        .deliver(&Message::sms("+15550100", "code 5"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("[delivery.sms]"), "{err}");
}

#[tokio::test]
async fn routes_by_channel() {
    let emails = Arc::new(outbox());
    let texts = Arc::new(outbox());
    let router = Router::new()
        .with_email(emails.clone())
        .with_sms(texts.clone());
    router
        .deliver(&Message::email("a@example.com", "s", "e"))
        .await
        .unwrap();
    router
        .deliver(&Message::sms("+15550100", "t"))
        .await
        .unwrap();
    assert_eq!(emails.list(None, 10).await.unwrap()[0].text, "e");
    assert_eq!(emails.list(None, 10).await.unwrap().len(), 1);
    assert_eq!(texts.list(None, 10).await.unwrap()[0].text, "t");
    assert_eq!(texts.list(None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn from_config() {
    // Outbox on: everything goes to the outbox, which must be given.
    let cfg = DeliveryConfig {
        outbox: true,
        ..DeliveryConfig::default()
    };
    assert_eq!(
        Router::from_config(&cfg, outbound(), None)
            .unwrap_err()
            .kind,
        DeliveryErrorKind::Configuration
    );
    let ob = Arc::new(outbox());
    let router = Router::from_config(&cfg, outbound(), Some(ob.clone())).unwrap();
    router
        .deliver(&Message::sms("+15550100", "via outbox"))
        .await
        .unwrap();
    assert_eq!(ob.list(None, 10).await.unwrap()[0].text, "via outbox");

    // Senders from sections; nothing configured → neither channel.
    let router = Router::from_config(&DeliveryConfig::default(), outbound(), None).unwrap();
    assert!(!router.handles(Channel::Email) && !router.handles(Channel::Sms));
    let cfg = DeliveryConfig {
        outbox: false,
        smtp: Some(SmtpConfig::new("smtp.example.com", "noreply@example.com")),
        sms: Some(SmsConfig::new("https://sms.example.com/send")),
    };
    let router = Router::from_config(&cfg, outbound(), None).unwrap();
    assert!(router.handles(Channel::Email) && router.handles(Channel::Sms));

    // A bad section fails the build.
    let cfg = DeliveryConfig {
        sms: Some(SmsConfig::new("not a url")),
        ..DeliveryConfig::default()
    };
    assert!(Router::from_config(&cfg, outbound(), None).is_err());
}
