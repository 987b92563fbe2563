//! [`SmsWebhook`]: SMS through an HTTP webhook. Each message is one `POST` of a JSON body
//! rendered from a template, sent through the [`Outbound`] port (in the product the
//! SSRF-checked `tessera_outbound::HttpOutbound`, so the special-purpose address rules and
//! `outbound.allow_cidrs` apply). Any 2xx answer is success.

use std::sync::Arc;
use std::time::Duration;

use tessera_journey::{Outbound, OutboundErrorKind, OutboundRequest};

use crate::config::SmsConfig;
use crate::{Channel, Deliver, DeliveryError, Message};

/// The body used when `body_template` is not set.
pub const DEFAULT_BODY_TEMPLATE: &str = r#"{"to":"{{to}}","text":"{{text}}"}"#;

const TO: &str = "{{to}}";
const TEXT: &str = "{{text}}";

/// Renders a body template: every `{{to}}` and `{{text}}` is replaced by the JSON-escaped
/// value (without surrounding quotes, so placeholders belong inside JSON string literals and
/// may be combined with other text, e.g. `"Tessera: {{text}}"`). Replacement is a single pass:
/// placeholders inside the values are not expanded.
pub fn render_body(template: &str, to: &str, text: &str) -> String {
    let mut out = String::with_capacity(template.len() + to.len() + text.len() + 16);
    let mut rest = template;
    while let Some(pos) = rest.find("{{") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix(TO) {
            escape_into(&mut out, to);
            rest = after;
        } else if let Some(after) = tail.strip_prefix(TEXT) {
            escape_into(&mut out, text);
            rest = after;
        } else {
            out.push_str("{{");
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}

/// JSON string escaping (RFC 8259 §7) of `value`, without quotes.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
}

/// Sends [`Channel::Sms`] messages to an HTTP webhook.
pub struct SmsWebhook {
    outbound: Arc<dyn Outbound>,
    url: String,
    headers: Vec<(String, String)>,
    template: String,
    timeout: Duration,
}

impl std::fmt::Debug for SmsWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.split(['?', '#']).next().unwrap_or("");
        f.debug_struct("SmsWebhook")
            .field("url", &url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmsWebhook {
    /// Builds the sender. Fails with a configuration error for a non-http(s) URL, invalid
    /// header names or values, a zero timeout, or a template that lacks `{{text}}` or does not
    /// render to valid JSON.
    pub fn new(
        config: &SmsConfig,
        outbound: Arc<dyn Outbound>,
    ) -> Result<SmsWebhook, DeliveryError> {
        let url = config.url.trim().to_string();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(DeliveryError::configuration(
                "delivery.sms.url must be an absolute http or https URL",
            ));
        }
        if config.timeout_ms == 0 {
            return Err(DeliveryError::configuration(
                "delivery.sms.timeout_ms must be positive",
            ));
        }
        let mut headers = Vec::with_capacity(config.headers.len() + 1);
        for (name, value) in &config.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(DeliveryError::configuration(format!(
                    "delivery.sms.headers: `{name}` is not a valid header name"
                )));
            }
            if http::HeaderValue::from_str(value).is_err() {
                return Err(DeliveryError::configuration(format!(
                    "delivery.sms.headers: the value of `{name}` is not a valid header value"
                )));
            }
            headers.push((name.clone(), value.clone()));
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let template = config
            .body_template
            .clone()
            .unwrap_or_else(|| DEFAULT_BODY_TEMPLATE.to_string());
        if !template.contains(TEXT) {
            return Err(DeliveryError::configuration(
                "delivery.sms.body_template must contain {{text}}",
            ));
        }
        let sample = render_body(&template, "+15550100", "sample \"text\"\nline");
        if serde_json::from_str::<serde_json::Value>(&sample).is_err() {
            return Err(DeliveryError::configuration(
                "delivery.sms.body_template does not render to valid JSON (placeholders belong inside string literals)",
            ));
        }
        Ok(SmsWebhook {
            outbound,
            url,
            headers,
            template,
            timeout: config.timeout(),
        })
    }
}

#[async_trait::async_trait]
impl Deliver for SmsWebhook {
    async fn deliver(&self, msg: &Message) -> Result<(), DeliveryError> {
        if msg.channel != Channel::Sms {
            return Err(DeliveryError::configuration(format!(
                "the SMS webhook cannot send {} messages",
                msg.channel
            )));
        }
        let body = render_body(&self.template, msg.to.trim(), &msg.text);
        let request = OutboundRequest {
            method: "POST".to_string(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: Some(body.into_bytes()),
            timeout: self.timeout,
            connection: Some("delivery.sms".to_string()),
        };
        let response = self
            .outbound
            .send(request)
            .await
            .map_err(|e| match e.kind {
                OutboundErrorKind::InvalidUrl
                | OutboundErrorKind::ForbiddenAddress
                | OutboundErrorKind::Redirect => {
                    DeliveryError::configuration(format!("SMS webhook: {e}"))
                }
                OutboundErrorKind::Transport
                | OutboundErrorKind::Timeout
                | OutboundErrorKind::TooLarge
                | OutboundErrorKind::NoStub => {
                    DeliveryError::temporary(format!("SMS webhook: {e}"))
                }
            })?;
        match response.status {
            200..=299 => Ok(()),
            s @ (408 | 429 | 500..=599) => Err(DeliveryError::temporary(format!(
                "SMS webhook answered {s}"
            ))),
            s @ 300..=399 => Err(DeliveryError::configuration(format!(
                "SMS webhook answered with a redirect ({s})"
            ))),
            s => Err(DeliveryError::rejected(format!("SMS webhook answered {s}"))),
        }
    }
}
