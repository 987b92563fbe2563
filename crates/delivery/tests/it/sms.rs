//! `SmsWebhook` against a real axum server on loopback, sent through the SSRF-checked
//! `HttpOutbound` with loopback allow-listed.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use tessera_delivery::{render_body, Deliver, DeliveryErrorKind, Message, SmsConfig, SmsWebhook};
use tessera_outbound::{HttpOutbound, OutboundConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Debug)]
struct Request {
    uri: String,
    headers: HeaderMap,
    body: serde_json::Value,
}

#[derive(Clone)]
struct AppState {
    status: StatusCode,
    tx: mpsc::UnboundedSender<Request>,
}

async fn handler(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let _ = state.tx.send(Request {
        uri: uri.to_string(),
        headers,
        body,
    });
    state.status
}

/// Starts a webhook answering `status`; returns its base URL and the captured requests.
async fn start_webhook(status: StatusCode) -> (String, mpsc::UnboundedReceiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .fallback(handler)
        .with_state(AppState { status, tx });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), rx)
}

fn loopback_outbound() -> Arc<HttpOutbound> {
    Arc::new(
        HttpOutbound::new(OutboundConfig {
            allow_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
            ..OutboundConfig::default()
        })
        .unwrap(),
    )
}

fn config(url: String) -> SmsConfig {
    let mut c = SmsConfig::new(url);
    c.headers = BTreeMap::from([
        ("x-api-key".to_string(), "k-123".to_string()),
        ("authorization".to_string(), "Bearer tok".to_string()),
    ]);
    c.timeout_ms = 5_000;
    c
}

const TRICKY: &str = "Your code is \"654321\".\nLine two \\ tab\t{{to}} end";

#[tokio::test]
async fn posts_json_with_escaped_values_and_headers() {
    let (base, mut rx) = start_webhook(StatusCode::OK).await;
    let sms = SmsWebhook::new(
        &config(format!("{base}/v1/sms?route=otp")),
        loopback_outbound(),
    )
    .unwrap();
    sms.deliver(&Message::sms("+15550100", TRICKY))
        .await
        .unwrap();
    let req = rx.recv().await.unwrap();
    assert_eq!(req.uri, "/v1/sms?route=otp");
    assert_eq!(req.headers["x-api-key"], "k-123");
    assert_eq!(req.headers["authorization"], "Bearer tok");
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(
        req.body,
        serde_json::json!({"to": "+15550100", "text": TRICKY})
    );
}

#[tokio::test]
async fn custom_template() {
    let (base, mut rx) = start_webhook(StatusCode::ACCEPTED).await;
    let mut c = config(format!("{base}/send"));
    c.body_template =
        Some(r#"{"message": {"recipient": "{{to}}", "body": "Tessera: {{text}}"}, "n": 1}"#.into());
    c.headers
        .insert("content-type".into(), "application/vnd.sms+json".into());
    let sms = SmsWebhook::new(&c, loopback_outbound()).unwrap();
    sms.deliver(&Message::sms("+15550101", TRICKY))
        .await
        .unwrap();
    let req = rx.recv().await.unwrap();
    assert_eq!(req.headers["content-type"], "application/vnd.sms+json");
    assert_eq!(
        req.body,
        serde_json::json!({"message": {"recipient": "+15550101", "body": format!("Tessera: {TRICKY}")}, "n": 1})
    );
}

#[tokio::test]
async fn non_2xx_is_an_error() {
    let (base, _rx) = start_webhook(StatusCode::INTERNAL_SERVER_ERROR).await;
    let sms = SmsWebhook::new(&config(base), loopback_outbound()).unwrap();
    let err = sms
        .deliver(&Message::sms("+15550100", "code 314159"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Temporary, "{err}");
    assert!(err.to_string().contains("500"));
    assert!(!err.to_string().contains("314159"));

    let (base, _rx) = start_webhook(StatusCode::BAD_REQUEST).await;
    let sms = SmsWebhook::new(&config(base), loopback_outbound()).unwrap();
    let err = sms
        .deliver(&Message::sms("+15550100", "code 314159"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Rejected, "{err}");

    let (base, _rx) = start_webhook(StatusCode::TOO_MANY_REQUESTS).await;
    let sms = SmsWebhook::new(&config(base), loopback_outbound()).unwrap();
    let err = sms
        .deliver(&Message::sms("+15550100", "code 314159"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Temporary, "{err}");
}

#[tokio::test]
async fn timeout_is_honoured() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut c = config(format!("http://{addr}/sms"));
    c.timeout_ms = 200;
    let sms = SmsWebhook::new(&c, loopback_outbound()).unwrap();
    let err = sms
        .deliver(&Message::sms("+15550100", "code 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Temporary, "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn loopback_refused_unless_allow_listed() {
    let (base, mut rx) = start_webhook(StatusCode::OK).await;
    let strict = Arc::new(HttpOutbound::new(OutboundConfig::default()).unwrap());
    let sms = SmsWebhook::new(&config(base.clone()), strict).unwrap();
    let err = sms
        .deliver(&Message::sms("+15550100", "code 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Configuration, "{err}");
    assert!(rx.try_recv().is_err(), "nothing reached the webhook");

    // A host name resolving to loopback is refused too.
    let port = base.rsplit(':').next().unwrap();
    let strict = Arc::new(HttpOutbound::new(OutboundConfig::default()).unwrap());
    let sms = SmsWebhook::new(&config(format!("http://localhost:{port}/")), strict).unwrap();
    let err = sms
        .deliver(&Message::sms("+15550100", "code 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Configuration, "{err}");
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn wrong_channel_is_a_configuration_error() {
    let sms = SmsWebhook::new(&config("http://127.0.0.1:9/".into()), loopback_outbound()).unwrap();
    let err = sms
        .deliver(&Message::email("a@example.com", "s", "t"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DeliveryErrorKind::Configuration);
}

#[test]
fn configuration_is_validated() {
    let outbound = loopback_outbound();
    let mut c = config("ftp://example.com/".into());
    assert!(SmsWebhook::new(&c, outbound.clone()).is_err());
    c.url = "https://sms.example.com/send".into();
    c.body_template = Some(r#"{"to": "{{to}}"}"#.into());
    assert!(
        SmsWebhook::new(&c, outbound.clone()).is_err(),
        "no {{text}}"
    );
    c.body_template = Some(r#"{"to": {{to}}, "text": {{text}}}"#.into());
    assert!(SmsWebhook::new(&c, outbound.clone()).is_err(), "not JSON");
    c.body_template = None;
    c.headers.insert("bad header".into(), "x".into());
    assert!(SmsWebhook::new(&c, outbound.clone()).is_err());
    c.headers.remove("bad header");
    c.headers.insert("x-ok".into(), "line\nbreak".into());
    assert!(SmsWebhook::new(&c, outbound.clone()).is_err());
    c.headers.remove("x-ok");
    let sms = SmsWebhook::new(&c, outbound).unwrap();
    let debug = format!("{sms:?} {c:?}");
    assert!(
        !debug.contains("k-123") && !debug.contains("Bearer tok"),
        "{debug}"
    );
}

#[test]
fn render_is_single_pass_and_escapes() {
    assert_eq!(
        render_body(
            r#"{"a":"{{to}}","b":"{{text}}","c":"{{other}}"}"#,
            "{{text}}",
            "x\"\n\u{1}"
        ),
        r#"{"a":"{{text}}","b":"x\"\n\u0001","c":"{{other}}"}"#
    );
}
