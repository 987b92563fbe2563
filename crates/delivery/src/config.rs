//! The `[delivery]` configuration section (embedded by the binary). Every struct refuses
//! unknown keys. Booleans and integers also accept their string forms (`"true"`, `"2525"`), so
//! `TESSERA_DELIVERY__*` environment variables, which arrive as strings, work unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::secret::Secret;

/// Default SMTP and webhook timeout.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// `[delivery]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Store messages in the development outbox instead of sending them (default `false`).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub outbox: bool,
    /// `[delivery.smtp]`: email. Absent → email is not configured.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// `[delivery.sms]`: SMS webhook. Absent → SMS is not configured.
    #[serde(default)]
    pub sms: Option<SmsConfig>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (local relays and tests only).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (default; port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl TlsMode {
    /// The usual port of the mode: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        }
    }
}

/// `[delivery.smtp]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name (also the name its TLS certificate must carry).
    pub host: String,
    /// Port; default from `tls` (25, 587, 465).
    #[serde(default, deserialize_with = "lenient_opt_u16")]
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    #[serde(default)]
    pub tls: TlsMode,
    /// User name for AUTH; with `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for AUTH; printed as `***`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Sender, `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
    /// Time allowed for one whole send, in milliseconds (default 10,000).
    #[serde(default = "default_timeout_ms", deserialize_with = "lenient_u64")]
    pub timeout_ms: u64,
}

impl SmtpConfig {
    /// A configuration with defaults for everything but host and sender.
    pub fn new(host: impl Into<String>, from: impl Into<String>) -> Self {
        SmtpConfig {
            host: host.into(),
            port: None,
            tls: TlsMode::default(),
            username: None,
            password: None,
            from: from.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    /// The port in effect.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.tls.default_port())
    }

    /// The timeout in effect.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// `[delivery.sms]`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Webhook URL (`http`/`https`); subject to the outbound address rules.
    pub url: String,
    /// Request headers (e.g. `authorization`). Values are printed as `***`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body with `{{to}}` and `{{text}}` placeholders inside string literals; default
    /// [`crate::DEFAULT_BODY_TEMPLATE`].
    #[serde(default)]
    pub body_template: Option<String>,
    /// Time allowed for the whole request, in milliseconds (default 10,000).
    #[serde(default = "default_timeout_ms", deserialize_with = "lenient_u64")]
    pub timeout_ms: u64,
}

impl SmsConfig {
    /// A configuration with defaults for everything but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        SmsConfig {
            url: url.into(),
            headers: BTreeMap::new(),
            body_template: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
        }
    }

    /// The timeout in effect.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The query string and header values may carry API keys.
        let url = self.url.split(['?', '#']).next().unwrap_or("");
        let headers: BTreeMap<&str, &str> =
            self.headers.keys().map(|k| (k.as_str(), "***")).collect();
        f.debug_struct("SmsConfig")
            .field("url", &url)
            .field("headers", &headers)
            .field("body_template", &self.body_template)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrString {
    Bool(bool),
    String(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(u64),
    String(String),
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match BoolOrString::deserialize(d)? {
        BoolOrString::Bool(b) => Ok(b),
        BoolOrString::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(serde::de::Error::custom("expected a boolean")),
        },
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match IntOrString::deserialize(d)? {
        IntOrString::Int(n) => Ok(n),
        IntOrString::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("expected a non-negative integer")),
    }
}

fn lenient_opt_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let n = lenient_u64(d)?;
    u16::try_from(n)
        .map(Some)
        .map_err(|_| serde::de::Error::custom("expected a port number (0-65535)"))
}
