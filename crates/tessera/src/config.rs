//! Configuration: a raw, serde-checked document merged from the TOML file, `TESSERA_*`
//! environment variables and command-line flags (in that order of precedence, lowest first),
//! then resolved once into a validated [`Config`] that is passed explicitly.
//!
//! Environment variables map to keys as `TESSERA_<KEY>` for top-level keys and
//! `TESSERA_<SECTION>__<KEY>` for keys of a section, e.g. `TESSERA_HTTP__JSON_BODY_LIMIT`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub admin_client_id: Option<String>,
    pub admin_client_secret: Option<String>,
    pub key_encryption_key: Option<String>,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub tokens: RawTokens,
    #[serde(default)]
    pub outbound: RawOutbound,
    /// `[delivery]`: how OTP and magic-link messages are sent (the delivery crate's own
    /// section, which refuses unknown keys and accepts the string forms env values have).
    #[serde(default)]
    pub delivery: tessera_delivery::DeliveryConfig,
    /// `[messages]`: the texts of passcode, magic-link and CIBA messages.
    #[serde(default)]
    pub messages: RawMessages,
    /// `[rate_limits]`: per-node abuse limits, each `"<max>/<seconds>"`.
    #[serde(default)]
    pub rate_limits: RawRateLimits,
    /// `[database]`: how the node uses its database connections.
    #[serde(default)]
    pub database: RawDatabase,
    /// `[hosted]`: the hosted login pages.
    #[serde(default)]
    pub hosted: RawHosted,
}

/// `[hosted]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHosted {
    /// A CSS file served instead of the built-in `/oidc/assets/tessera.css`.
    pub stylesheet: Option<PathBuf>,
}

/// The largest replacement stylesheet accepted.
const MAX_STYLESHEET_BYTES: u64 = 512 * 1024;

/// Reads `hosted.stylesheet` (UTF-8, at most 512 KiB).
fn read_stylesheet(path: &Path) -> Result<std::sync::Arc<str>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("`hosted.stylesheet`: reading {}", path.display()))?
        .len();
    if size > MAX_STYLESHEET_BYTES {
        bail!(
            "`hosted.stylesheet`: {} is larger than {MAX_STYLESHEET_BYTES} bytes",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "`hosted.stylesheet`: reading {} (UTF-8 text)",
            path.display()
        )
    })?;
    Ok(text.into())
}

/// `[database]` (the database itself is `database_url`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub acquire_timeout_ms: Option<u64>,
}

/// `[rate_limits]`: each value is `"<max>/<window seconds>"`, e.g. `"5/600"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    pub send_per_destination: Option<String>,
    pub send_per_client: Option<String>,
    pub send_global: Option<String>,
    pub auth_per_identifier: Option<String>,
    pub auth_per_client: Option<String>,
    pub backchannel_per_user: Option<String>,
    pub backchannel_per_client: Option<String>,
    pub journey_start_per_client: Option<String>,
}

impl RawRateLimits {
    fn resolve(self) -> Result<tessera_identity::ratelimit::RateLimitSettings> {
        use tessera_identity::ratelimit::Limit;
        fn limit(key: &str, value: Option<String>, default: Limit) -> Result<Limit> {
            let Some(v) = value else {
                return Ok(default);
            };
            let parsed = v.split_once('/').and_then(|(max, window)| {
                Some((
                    max.trim().parse::<u32>().ok()?,
                    window.trim().parse::<i64>().ok()?,
                ))
            });
            match parsed {
                Some((max, window)) if max > 0 && (1..=86_400).contains(&window) => {
                    Ok(Limit::new(max, window))
                }
                _ => bail!(
                    "`rate_limits.{key}` must be \"<max>/<seconds>\" with max ≥ 1 and 1 to 86400 seconds, e.g. \"5/600\""
                ),
            }
        }
        let d = tessera_identity::ratelimit::RateLimitSettings::default();
        Ok(tessera_identity::ratelimit::RateLimitSettings {
            send_per_destination: limit(
                "send_per_destination",
                self.send_per_destination,
                d.send_per_destination,
            )?,
            send_per_client: limit("send_per_client", self.send_per_client, d.send_per_client)?,
            send_global: limit("send_global", self.send_global, d.send_global)?,
            auth_per_identifier: limit(
                "auth_per_identifier",
                self.auth_per_identifier,
                d.auth_per_identifier,
            )?,
            auth_per_client: limit("auth_per_client", self.auth_per_client, d.auth_per_client)?,
            backchannel_per_user: limit(
                "backchannel_per_user",
                self.backchannel_per_user,
                d.backchannel_per_user,
            )?,
            backchannel_per_client: limit(
                "backchannel_per_client",
                self.backchannel_per_client,
                d.backchannel_per_client,
            )?,
            journey_start_per_client: limit(
                "journey_start_per_client",
                self.journey_start_per_client,
                d.journey_start_per_client,
            )?,
            max_keys: d.max_keys,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessages {
    pub otp_email_subject: Option<String>,
    pub otp_email_text: Option<String>,
    pub otp_sms_text: Option<String>,
    pub magic_link_subject: Option<String>,
    pub magic_link_text: Option<String>,
    pub ciba_email_subject: Option<String>,
    pub ciba_text: Option<String>,
    pub reset_email_subject: Option<String>,
    pub reset_code_text: Option<String>,
    pub reset_link_text: Option<String>,
}

impl RawMessages {
    /// The templates, defaults for the keys not given, validated.
    fn resolve(self) -> Result<tessera_identity::messages::MessageTemplates> {
        let d = tessera_identity::messages::MessageTemplates::default();
        let t = tessera_identity::messages::MessageTemplates {
            otp_email_subject: self.otp_email_subject.unwrap_or(d.otp_email_subject),
            otp_email_text: self.otp_email_text.unwrap_or(d.otp_email_text),
            otp_sms_text: self.otp_sms_text.unwrap_or(d.otp_sms_text),
            magic_link_subject: self.magic_link_subject.unwrap_or(d.magic_link_subject),
            magic_link_text: self.magic_link_text.unwrap_or(d.magic_link_text),
            ciba_email_subject: self.ciba_email_subject.unwrap_or(d.ciba_email_subject),
            ciba_text: self.ciba_text.unwrap_or(d.ciba_text),
            reset_email_subject: self.reset_email_subject.unwrap_or(d.reset_email_subject),
            reset_code_text: self.reset_code_text.unwrap_or(d.reset_code_text),
            reset_link_text: self.reset_link_text.unwrap_or(d.reset_link_text),
        };
        t.validate().map_err(|e| anyhow!(e))?;
        Ok(t)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbound {
    pub allow_cidrs: Option<Vec<String>>,
    pub max_response_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub form_body_limit: Option<usize>,
    pub json_body_limit: Option<usize>,
    pub workers: Option<usize>,
    pub max_connections: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub body_timeout_ms: Option<u64>,
    /// PEM certificate chain to serve https (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    pub tls_reload_interval_ms: Option<u64>,
    pub tls_handshake_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    pub activation_delay_s: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    pub leeway_s: Option<i64>,
    pub secret_rotation_grace_s: Option<i64>,
    pub refresh_reuse_window_s: Option<i64>,
}

/// Keys whose environment values are integers; all others are strings, except lists.
const INTEGER_KEYS: [&str; 14] = [
    "database.acquire_timeout_ms",
    "http.tls_reload_interval_ms",
    "http.tls_handshake_timeout_ms",
    "outbound.max_response_bytes",
    "http.form_body_limit",
    "http.json_body_limit",
    "http.workers",
    "http.max_connections",
    "http.header_timeout_ms",
    "http.body_timeout_ms",
    "keys.activation_delay_s",
    "tokens.leeway_s",
    "tokens.secret_rotation_grace_s",
    "tokens.refresh_reuse_window_s",
];
/// Keys whose environment values are comma-separated lists.
const LIST_KEYS: [&str; 1] = ["outbound.allow_cidrs"];
/// `TESSERA_*` variables that are not configuration keys: the test suite's (CI exports
/// `TESSERA_REQUIRE_CHROMIUM` and `TESSERA_REQUIRE_AUTHLIB`, and the tests start
/// `tessera serve` with their environment).
const NON_CONFIG_ENV: [&str; 3] = [
    "TESSERA_CHROMEDRIVER",
    "TESSERA_CHROMIUM",
    "TESSERA_INTEROP",
];
/// Prefixes of the test suite's `TESSERA_*` variables (`TESSERA_TEST_POSTGRES_URL`,
/// `TESSERA_REQUIRE_…`).
const NON_CONFIG_ENV_PREFIXES: [&str; 2] = ["TESSERA_TEST_", "TESSERA_REQUIRE_"];

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    /// `serve --dev-outbox`: sets `delivery.outbox = true`.
    pub dev_outbox: bool,
    /// `serve --tls-cert`: `http.tls_cert`.
    pub tls_cert: Option<PathBuf>,
    /// `serve --tls-key`: `http.tls_key`.
    pub tls_key: Option<PathBuf>,
}

/// Merges file, environment and flags into one raw document.
pub fn load_raw(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    flags: &Overrides,
) -> Result<RawConfig> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            text.parse::<toml::Table>()
                .with_context(|| format!("parsing config file {}", path.display()))?
        }
        None => toml::Table::new(),
    };
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("TESSERA_") else {
            continue;
        };
        if NON_CONFIG_ENV.contains(&name.as_str())
            || NON_CONFIG_ENV_PREFIXES.iter().any(|p| name.starts_with(p))
            || rest.is_empty()
        {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        let dotted = path.join(".");
        let parsed = if INTEGER_KEYS.contains(&dotted.as_str()) {
            toml::Value::Integer(
                value
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("{name} must be an integer"))?,
            )
        } else if LIST_KEYS.contains(&dotted.as_str()) {
            toml::Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            )
        } else {
            toml::Value::String(value.clone())
        };
        set_path(&mut table, &path, parsed).with_context(|| format!("applying {name}"))?;
    }
    let flag_values = [
        ("listen", flags.listen.clone()),
        ("issuer", flags.issuer.clone()),
        (
            "data_dir",
            flags.data_dir.as_ref().map(|p| p.display().to_string()),
        ),
        ("database_url", flags.database_url.clone()),
        (
            "log_format",
            flags.log_format.map(|f| match f {
                LogFormat::Text => "text".to_string(),
                LogFormat::Json => "json".to_string(),
            }),
        ),
        ("log_level", flags.log_level.clone()),
    ];
    for (key, value) in flag_values {
        if let Some(v) = value {
            table.insert(key.into(), toml::Value::String(v));
        }
    }
    for (key, value) in [("tls_cert", &flags.tls_cert), ("tls_key", &flags.tls_key)] {
        if let Some(path) = value {
            set_path(
                &mut table,
                &["http".to_string(), key.to_string()],
                toml::Value::String(path.display().to_string()),
            )
            .with_context(|| format!("applying --{}", key.replace('_', "-")))?;
        }
    }
    if flags.dev_outbox {
        set_path(
            &mut table,
            &["delivery".to_string(), "outbox".to_string()],
            toml::Value::Boolean(true),
        )
        .context("applying --dev-outbox")?;
    }
    toml::Value::Table(table)
        .try_into::<RawConfig>()
        .map_err(|e| anyhow!("invalid configuration: {}", e.message()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<()> {
    match path {
        [] => bail!("empty key"),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => bail!("`{first}` is not a section"),
            }
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(Zeroizing<String>),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None` means "derive from the bound address" (loopback only).
    pub issuer: Option<String>,
    pub data_dir: PathBuf,
    pub database: Database,
    pub log_format: LogFormat,
    pub log_level: String,
    pub admin: Option<(String, Zeroizing<String>)>,
    pub key_encryption_key: Option<Zeroizing<String>>,
    pub form_body_limit: usize,
    pub json_body_limit: usize,
    /// Threads serving HTTP, each with its own single-threaded runtime (see `http.rs`).
    pub http_workers: usize,
    /// Open connections at most; beyond, new ones are closed at once.
    pub http_max_connections: usize,
    /// Time a client has to send a request head (also the longest idle keep-alive wait).
    pub http_header_timeout_ms: u64,
    /// Time a client has to send a request body.
    pub http_body_timeout_ms: u64,
    /// Serving https itself (`http.tls_cert` and `http.tls_key`), or plain http.
    pub tls: Option<crate::tls::TlsConfig>,
    pub key_activation_delay_s: i64,
    pub leeway_s: i64,
    pub secret_rotation_grace_s: i64,
    /// A retry of a just-rotated refresh token within this many seconds gets the same
    /// successor (0 disables).
    pub refresh_reuse_window_s: i64,
    /// Destinations exempt from the outbound special-purpose address check.
    pub outbound_allow_cidrs: Vec<tessera_outbound::IpNet>,
    pub outbound_max_response_bytes: usize,
    /// `[delivery]`, checked further when the senders are built at start.
    pub delivery: tessera_delivery::DeliveryConfig,
    /// `[messages]`, validated.
    pub messages: tessera_identity::messages::MessageTemplates,
    /// `[rate_limits]`, validated.
    pub rate_limits: tessera_identity::ratelimit::RateLimitSettings,
    /// `database.acquire_timeout_ms`: how long a request waits for a database connection
    /// before its 503 (the answer time while PostgreSQL is down).
    pub database_options: tessera_store::DatabaseOptions,
    /// `hosted.stylesheet`: the replacement stylesheet's text, read at start.
    pub hosted_stylesheet: Option<std::sync::Arc<str>>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./tessera-data";

impl Config {
    pub fn resolve(raw: RawConfig) -> Result<Self> {
        let listen: SocketAddr = raw
            .listen
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN)
            .parse()
            .map_err(|_| anyhow!("`listen` must be an address such as 127.0.0.1:8080"))?;
        let issuer = match raw.issuer {
            Some(i) => Some(validate_issuer(&i)?),
            None if listen.ip().is_loopback() => None,
            None => bail!("`issuer` is required when listening on a non-loopback address"),
        };
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database = match raw.database_url.as_deref() {
            None | Some("") => Database::Sqlite(data_dir.join("tessera.db")),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres(Zeroizing::new(url.to_string()))
            }
            Some(url) => {
                Database::Sqlite(PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url)))
            }
        };
        let admin = match (raw.admin_client_id, raw.admin_client_secret) {
            (None, None) => None,
            (Some(id), Some(secret)) => {
                if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
                    bail!("TESSERA_ADMIN_CLIENT_ID must be 1 to 128 printable ASCII characters");
                }
                if secret.chars().count() < 32 {
                    bail!("TESSERA_ADMIN_CLIENT_SECRET must be at least 32 characters");
                }
                Some((id, Zeroizing::new(secret)))
            }
            _ => bail!(
                "set both TESSERA_ADMIN_CLIENT_ID and TESSERA_ADMIN_CLIENT_SECRET, or neither"
            ),
        };
        if matches!(database, Database::Postgres(_)) && raw.key_encryption_key.is_none() {
            bail!("TESSERA_KEY_ENCRYPTION_KEY (32 random bytes, base64) is required with PostgreSQL, so every node shares it");
        }
        // Every node of a PostgreSQL deployment must sign and accept one issuer; a default
        // taken from each node's own listen address would make the nodes refuse each other's
        // tokens.
        if matches!(database, Database::Postgres(_)) && issuer.is_none() {
            bail!("`--issuer` (TESSERA_ISSUER, or `issuer` in the config file) is required with PostgreSQL, so every node shares it: give the public URL clients use, e.g. --issuer https://id.example.com");
        }
        let form_body_limit = raw.http.form_body_limit.unwrap_or(64 * 1024);
        let json_body_limit = raw.http.json_body_limit.unwrap_or(64 * 1024);
        for (name, v) in [
            ("http.form_body_limit", form_body_limit),
            ("http.json_body_limit", json_body_limit),
        ] {
            if !(1024..=16 * 1024 * 1024).contains(&v) {
                bail!("`{name}` must be between 1024 and 16777216 bytes");
            }
        }
        let http_workers = match raw.http.workers {
            Some(n) if (1..=256).contains(&n) => n,
            Some(_) => bail!("`http.workers` must be between 1 and 256"),
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        let http_max_connections = raw.http.max_connections.unwrap_or(10_000);
        if !(1..=1_000_000).contains(&http_max_connections) {
            bail!("`http.max_connections` must be between 1 and 1000000");
        }
        let http_header_timeout_ms = raw.http.header_timeout_ms.unwrap_or(10_000);
        let http_body_timeout_ms = raw.http.body_timeout_ms.unwrap_or(10_000);
        for (name, v) in [
            ("http.header_timeout_ms", http_header_timeout_ms),
            ("http.body_timeout_ms", http_body_timeout_ms),
        ] {
            if !(100..=600_000).contains(&v) {
                bail!("`{name}` must be between 100 and 600000 milliseconds");
            }
        }
        let tls = resolve_tls(&raw.http)?;
        let key_activation_delay_s = raw.keys.activation_delay_s.unwrap_or(30);
        let leeway_s = raw.tokens.leeway_s.unwrap_or(30);
        let secret_rotation_grace_s = raw.tokens.secret_rotation_grace_s.unwrap_or(0);
        let refresh_reuse_window_s = raw.tokens.refresh_reuse_window_s.unwrap_or(2);
        if !(0..=60).contains(&refresh_reuse_window_s) {
            bail!("`tokens.refresh_reuse_window_s` must be between 0 and 60 seconds");
        }
        for (name, v) in [
            ("keys.activation_delay_s", key_activation_delay_s),
            ("tokens.leeway_s", leeway_s),
            ("tokens.secret_rotation_grace_s", secret_rotation_grace_s),
        ] {
            if !(0..=30 * 24 * 3600).contains(&v) {
                bail!("`{name}` must be between 0 and 2592000 seconds");
            }
        }
        let outbound_allow_cidrs = raw
            .outbound
            .allow_cidrs
            .unwrap_or_default()
            .iter()
            .map(|c| {
                c.trim().parse::<tessera_outbound::IpNet>().map_err(|_| {
                    anyhow!("`outbound.allow_cidrs`: `{c}` is not a CIDR such as 127.0.0.0/8")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let outbound_max_response_bytes = raw.outbound.max_response_bytes.unwrap_or(1 << 20);
        if !(1024..=64 * 1024 * 1024).contains(&outbound_max_response_bytes) {
            bail!("`outbound.max_response_bytes` must be between 1024 and 67108864");
        }
        let mut database_options = tessera_store::DatabaseOptions::default();
        if let Some(ms) = raw.database.acquire_timeout_ms {
            if !(100..=60_000).contains(&ms) {
                bail!("`database.acquire_timeout_ms` must be between 100 and 60000 milliseconds");
            }
            database_options.acquire_timeout = std::time::Duration::from_millis(ms);
        }
        let hosted_stylesheet = match raw.hosted.stylesheet.as_deref() {
            Some(path) => Some(read_stylesheet(path)?),
            None => None,
        };
        Ok(Self {
            hosted_stylesheet,
            listen,
            issuer,
            data_dir,
            database,
            database_options,
            log_format: raw.log_format.unwrap_or_default(),
            log_level: raw.log_level.unwrap_or_else(|| "info".into()),
            admin,
            key_encryption_key: raw.key_encryption_key.map(Zeroizing::new),
            form_body_limit,
            json_body_limit,
            http_workers,
            http_max_connections,
            http_header_timeout_ms,
            http_body_timeout_ms,
            tls,
            key_activation_delay_s,
            leeway_s,
            secret_rotation_grace_s,
            refresh_reuse_window_s,
            outbound_allow_cidrs,
            outbound_max_response_bytes,
            delivery: raw.delivery,
            messages: raw.messages.resolve()?,
            rate_limits: raw.rate_limits.resolve()?,
        })
    }
}

/// `http.tls_*`: both files or neither; the intervals bounded.
fn resolve_tls(http: &RawHttp) -> Result<Option<crate::tls::TlsConfig>> {
    let (cert, key) = match (&http.tls_cert, &http.tls_key) {
        (None, None) => {
            if http.tls_reload_interval_ms.is_some() || http.tls_handshake_timeout_ms.is_some() {
                bail!("`http.tls_reload_interval_ms` and `http.tls_handshake_timeout_ms` apply only with `http.tls_cert` and `http.tls_key`");
            }
            return Ok(None);
        }
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => bail!(
            "set both `http.tls_cert` (--tls-cert, TESSERA_HTTP__TLS_CERT) and `http.tls_key` (--tls-key, TESSERA_HTTP__TLS_KEY), or neither"
        ),
    };
    if cert.as_os_str().is_empty() || key.as_os_str().is_empty() {
        bail!("`http.tls_cert` and `http.tls_key` must be file paths");
    }
    let reload = http.tls_reload_interval_ms.unwrap_or(5_000);
    if !(100..=3_600_000).contains(&reload) {
        bail!("`http.tls_reload_interval_ms` must be between 100 and 3600000 milliseconds");
    }
    let handshake = http.tls_handshake_timeout_ms.unwrap_or(10_000);
    if !(100..=600_000).contains(&handshake) {
        bail!("`http.tls_handshake_timeout_ms` must be between 100 and 600000 milliseconds");
    }
    Ok(Some(crate::tls::TlsConfig {
        cert,
        key,
        reload_interval: std::time::Duration::from_millis(reload),
        handshake_timeout: std::time::Duration::from_millis(handshake),
    }))
}

/// The issuer is used byte for byte: an absolute http(s) URL without a trailing slash, query
/// or fragment.
fn validate_issuer(issuer: &str) -> Result<String> {
    let ok_scheme = issuer.starts_with("https://") || issuer.starts_with("http://");
    if !ok_scheme
        || issuer.ends_with('/')
        || issuer.contains(['?', '#'])
        || issuer.contains(char::is_whitespace)
    {
        bail!("`issuer` must be an http(s) URL without a trailing slash, query or fragment");
    }
    Ok(issuer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn message_templates_come_from_toml_and_must_carry_their_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "[messages]\notp_sms_text = \"{{app}}: {{code}}\"\n").unwrap();
        let raw = load_raw(Some(&file), &env(&[]), &Overrides::default()).unwrap();
        let config = Config::resolve(raw).unwrap();
        assert_eq!(config.messages.otp_sms_text, "{{app}}: {{code}}");
        assert_eq!(
            config.messages.otp_email_subject, "Verification code for {{app}}",
            "keys not given keep their defaults"
        );
        std::fs::write(&file, "[messages]\nmagic_link_text = \"click here\"\n").unwrap();
        let raw = load_raw(Some(&file), &env(&[]), &Overrides::default()).unwrap();
        let e = Config::resolve(raw).unwrap_err().to_string();
        assert!(
            e.contains("messages.magic_link_text must contain {{link}}"),
            "{e}"
        );
    }

    #[test]
    fn the_hosted_stylesheet_is_read_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let css = dir.path().join("site.css");
        std::fs::write(&css, "body { color: teal; }\n").unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            format!("[hosted]\nstylesheet = {:?}\n", css.display().to_string()),
        )
        .unwrap();
        let raw = load_raw(Some(&file), &env(&[]), &Overrides::default()).unwrap();
        let config = Config::resolve(raw).unwrap();
        assert_eq!(
            config.hosted_stylesheet.as_deref(),
            Some("body { color: teal; }\n")
        );
        let missing = dir.path().join("none.css");
        let raw = load_raw(
            None,
            &env(&[("TESSERA_HOSTED__STYLESHEET", missing.to_str().unwrap())]),
            &Overrides::default(),
        )
        .unwrap();
        let e = format!("{:#}", Config::resolve(raw).unwrap_err());
        assert!(e.contains("`hosted.stylesheet`: reading"), "{e}");
        std::fs::write(&css, vec![b'a'; 600 * 1024]).unwrap();
        let raw = load_raw(Some(&file), &env(&[]), &Overrides::default()).unwrap();
        let e = Config::resolve(raw).unwrap_err().to_string();
        assert!(e.contains("larger than"), "{e}");
        let raw = load_raw(None, &env(&[]), &Overrides::default()).unwrap();
        assert!(Config::resolve(raw).unwrap().hosted_stylesheet.is_none());
    }

    #[test]
    fn the_delivery_section_parses_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "[delivery.smtp]\nhost = \"smtp.example.com\"\nport = 2525\ntls = \"tls\"\n\
             username = \"u\"\npassword = \"p\"\nfrom = \"Tessera <noreply@example.com>\"\n\
             [delivery.sms]\nurl = \"https://sms.example.com/send\"\n\
             headers = { authorization = \"Bearer k\" }\n",
        )
        .unwrap();
        let raw = load_raw(Some(&file), &env(&[]), &Overrides::default()).unwrap();
        let config = Config::resolve(raw).unwrap();
        assert!(!config.delivery.outbox);
        let smtp = config.delivery.smtp.as_ref().unwrap();
        assert_eq!(smtp.host, "smtp.example.com");
        assert_eq!(smtp.effective_port(), 2525);
        assert_eq!(smtp.tls, tessera_delivery::TlsMode::Tls);
        let sms = config.delivery.sms.as_ref().unwrap();
        assert_eq!(sms.url, "https://sms.example.com/send");
        assert_eq!(sms.headers["authorization"], "Bearer k");
        // Secrets never reach the debug output.
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("Bearer k") && !debug.contains("\"p\""),
            "{debug}"
        );

        let raw = load_raw(
            Some(&file),
            &env(&[("TESSERA_DELIVERY__BOGUS", "1")]),
            &Overrides::default(),
        );
        assert!(raw.is_err());
    }

    #[test]
    fn the_delivery_section_comes_from_env_and_the_dev_outbox_flag() {
        let e = env(&[
            ("TESSERA_DELIVERY__OUTBOX", "true"),
            ("TESSERA_DELIVERY__SMTP__HOST", "mail.example.com"),
            ("TESSERA_DELIVERY__SMTP__PORT", "2525"),
            ("TESSERA_DELIVERY__SMTP__FROM", "a@example.com"),
            ("TESSERA_DELIVERY__SMS__URL", "https://sms.example.com/"),
            ("TESSERA_DELIVERY__SMS__HEADERS__X_API_KEY", "k"),
        ]);
        let config = Config::resolve(load_raw(None, &e, &Overrides::default()).unwrap()).unwrap();
        assert!(config.delivery.outbox);
        let smtp = config.delivery.smtp.as_ref().unwrap();
        assert_eq!(smtp.host, "mail.example.com");
        assert_eq!(smtp.port, Some(2525));
        assert_eq!(
            config.delivery.sms.as_ref().unwrap().headers["x_api_key"],
            "k"
        );

        let config =
            Config::resolve(load_raw(None, &env(&[]), &Overrides::default()).unwrap()).unwrap();
        assert!(!config.delivery.outbox);
        let flags = Overrides {
            dev_outbox: true,
            ..Default::default()
        };
        let e = env(&[("TESSERA_DELIVERY__OUTBOX", "false")]);
        let config = Config::resolve(load_raw(None, &e, &flags).unwrap()).unwrap();
        assert!(config.delivery.outbox, "the flag overrides the environment");
    }

    #[test]
    fn flags_override_env_which_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\nissuer = \"http://file\"\n[http]\njson_body_limit = 2048\n",
        )
        .unwrap();
        let e = env(&[
            ("TESSERA_ISSUER", "http://env"),
            ("TESSERA_HTTP__JSON_BODY_LIMIT", "4096"),
        ]);
        let flags = Overrides {
            issuer: Some("http://flag".into()),
            ..Default::default()
        };
        let raw = load_raw(Some(&file), &e, &flags).unwrap();
        let config = Config::resolve(raw).unwrap();
        assert_eq!(config.issuer.as_deref(), Some("http://flag"));
        assert_eq!(config.listen.port(), 1);
        assert_eq!(config.json_body_limit, 4096);
    }

    #[test]
    fn http_workers_default_to_the_cpus_and_are_bounded() {
        let flags = Overrides::default();
        let config = Config::resolve(load_raw(None, &env(&[]), &flags).unwrap()).unwrap();
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(config.http_workers, cpus);
        let e = env(&[("TESSERA_HTTP__WORKERS", "3")]);
        let config = Config::resolve(load_raw(None, &e, &flags).unwrap()).unwrap();
        assert_eq!(config.http_workers, 3);
        for bad in ["0", "257"] {
            let e = env(&[("TESSERA_HTTP__WORKERS", bad)]);
            let err = Config::resolve(load_raw(None, &e, &flags).unwrap()).unwrap_err();
            assert!(format!("{err:#}").contains("http.workers"), "{err:#}");
        }
    }

    #[test]
    fn the_database_acquire_timeout_defaults_short_and_is_bounded() {
        let flags = Overrides::default();
        let config = Config::resolve(load_raw(None, &env(&[]), &flags).unwrap()).unwrap();
        assert_eq!(
            config.database_options.acquire_timeout,
            std::time::Duration::from_secs(3)
        );
        let e = env(&[("TESSERA_DATABASE__ACQUIRE_TIMEOUT_MS", "750")]);
        let config = Config::resolve(load_raw(None, &e, &flags).unwrap()).unwrap();
        assert_eq!(
            config.database_options.acquire_timeout,
            std::time::Duration::from_millis(750)
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "[database]\nacquire_timeout_ms = 5000\n").unwrap();
        let raw = load_raw(Some(&file), &env(&[]), &flags).unwrap();
        let config = Config::resolve(raw).unwrap();
        assert_eq!(
            config.database_options.acquire_timeout,
            std::time::Duration::from_secs(5)
        );
        for bad in ["0", "99", "60001"] {
            let e = env(&[("TESSERA_DATABASE__ACQUIRE_TIMEOUT_MS", bad)]);
            let err = Config::resolve(load_raw(None, &e, &flags).unwrap()).unwrap_err();
            assert!(
                format!("{err:#}").contains("database.acquire_timeout_ms"),
                "{err:#}"
            );
        }
        let e = env(&[("TESSERA_DATABASE__ACQUIRE_TIMEOUT_MS", "soon")]);
        assert!(load_raw(None, &e, &flags).is_err());
    }

    #[test]
    fn tls_needs_both_files_from_flags_env_or_file() {
        let flags = Overrides::default();
        let config = Config::resolve(load_raw(None, &env(&[]), &flags).unwrap()).unwrap();
        assert_eq!(config.tls, None);

        let e = env(&[
            ("TESSERA_HTTP__TLS_CERT", "/env/cert.pem"),
            ("TESSERA_HTTP__TLS_KEY", "/env/key.pem"),
            ("TESSERA_HTTP__TLS_RELOAD_INTERVAL_MS", "250"),
        ]);
        let tls = Config::resolve(load_raw(None, &e, &flags).unwrap())
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(tls.cert, PathBuf::from("/env/cert.pem"));
        assert_eq!(tls.key, PathBuf::from("/env/key.pem"));
        assert_eq!(tls.reload_interval, std::time::Duration::from_millis(250));
        assert_eq!(tls.handshake_timeout, std::time::Duration::from_secs(10));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "[http]\ntls_cert = \"/file/cert.pem\"\ntls_key = \"/file/key.pem\"\ntls_handshake_timeout_ms = 500\n",
        )
        .unwrap();
        let flags = Overrides {
            tls_cert: Some("/flag/cert.pem".into()),
            ..Default::default()
        };
        let tls = Config::resolve(load_raw(Some(&file), &env(&[]), &flags).unwrap())
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(tls.cert, PathBuf::from("/flag/cert.pem"), "the flag wins");
        assert_eq!(tls.key, PathBuf::from("/file/key.pem"));
        assert_eq!(tls.handshake_timeout, std::time::Duration::from_millis(500));

        for half in [
            ("TESSERA_HTTP__TLS_CERT", "/c.pem"),
            ("TESSERA_HTTP__TLS_KEY", "/k.pem"),
        ] {
            let err =
                Config::resolve(load_raw(None, &env(&[half]), &Overrides::default()).unwrap())
                    .unwrap_err()
                    .to_string();
            assert!(err.contains("set both `http.tls_cert`"), "{err}");
        }
        let e = env(&[
            ("TESSERA_HTTP__TLS_CERT", "/c.pem"),
            ("TESSERA_HTTP__TLS_KEY", "/k.pem"),
            ("TESSERA_HTTP__TLS_HANDSHAKE_TIMEOUT_MS", "50"),
        ]);
        let err = Config::resolve(load_raw(None, &e, &Overrides::default()).unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("tls_handshake_timeout_ms"),
            "{err}"
        );
        let e = env(&[("TESSERA_HTTP__TLS_RELOAD_INTERVAL_MS", "1000")]);
        let err = Config::resolve(load_raw(None, &e, &Overrides::default()).unwrap()).unwrap_err();
        assert!(err.to_string().contains("apply only with"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = env(&[("TESSERA_HTTP__NOPE", "1")]);
        let err = load_raw(None, &e, &Overrides::default()).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
    }

    /// CI exports the browser tests' switches, and tests start `tessera serve` with that
    /// environment: those variables are not configuration.
    #[test]
    fn the_test_suites_variables_are_not_configuration() {
        let e = env(&[
            ("TESSERA_TEST_POSTGRES_URL", "postgres://x"),
            ("TESSERA_REQUIRE_CHROMIUM", "1"),
            ("TESSERA_REQUIRE_AUTHLIB", "1"),
            ("TESSERA_CHROMEDRIVER", "/usr/bin/chromedriver"),
            ("TESSERA_CHROMIUM", "/usr/bin/chromium"),
        ]);
        let raw = load_raw(None, &e, &Overrides::default()).unwrap();
        Config::resolve(raw).unwrap();
    }

    #[test]
    fn issuer_is_required_off_loopback_and_must_be_clean() {
        let raw = RawConfig {
            listen: Some("0.0.0.0:8080".into()),
            ..Default::default()
        };
        assert!(Config::resolve(raw).is_err());
        let raw = RawConfig {
            issuer: Some("https://id.example.com/".into()),
            ..Default::default()
        };
        assert!(Config::resolve(raw).is_err());
    }

    #[test]
    fn admin_secret_must_be_long_and_paired() {
        let raw = RawConfig {
            admin_client_id: Some("a".into()),
            admin_client_secret: Some("short".into()),
            ..Default::default()
        };
        assert!(Config::resolve(raw).is_err());
        let raw = RawConfig {
            admin_client_id: Some("a".into()),
            ..Default::default()
        };
        assert!(Config::resolve(raw).is_err());
    }

    #[test]
    fn postgres_needs_a_shared_kek() {
        let raw = RawConfig {
            database_url: Some("postgres://x@localhost/db".into()),
            issuer: Some("https://id.example.com".into()),
            ..Default::default()
        };
        let err = Config::resolve(raw).unwrap_err();
        assert!(err.to_string().contains("TESSERA_KEY_ENCRYPTION_KEY"));
    }

    /// Two nodes on one PostgreSQL each defaulted the issuer to their own listen address and
    /// refused each other's user tokens (`iss` mismatch).
    #[test]
    fn postgres_needs_an_explicit_issuer() {
        let raw = RawConfig {
            database_url: Some("postgres://x@localhost/db".into()),
            key_encryption_key: Some("a2V5".into()),
            ..Default::default()
        };
        let err = Config::resolve(raw).unwrap_err().to_string();
        assert!(err.contains("--issuer"), "{err}");
        assert!(err.contains("PostgreSQL"), "{err}");
        let raw = RawConfig {
            database_url: Some("postgres://x@localhost/db".into()),
            key_encryption_key: Some("a2V5".into()),
            issuer: Some("https://id.example.com".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::resolve(raw).unwrap().issuer.as_deref(),
            Some("https://id.example.com")
        );
    }
}
