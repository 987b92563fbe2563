//! Serving https itself (`--tls-cert`, `--tls-key`): the certificate and key files, their
//! reload, and the rustls server configuration.
//!
//! The files are PEM: a certificate chain (leaf first) and a private key in PKCS#8, PKCS#1
//! (RSA) or SEC1 (EC) form. They are read at start, where a bad pair stops the server with a
//! message naming the file, and then polled by a background task every
//! `http.tls_reload_interval_ms`: when either file's content changed, both are read again and,
//! if they parse and the key matches the certificate, the new pair is installed. New
//! connections then get the new certificate; open ones keep the one they were made with. A
//! bad new pair is logged and the previous one kept (a rotation that writes the two files one
//! after the other is picked up at the next poll once both are written).
//!
//! Cryptography is rustls with the aws-lc-rs provider (the one the project signs with); ALPN
//! offers `h2` and `http/1.1`. The handshake itself runs on the HTTP worker that serves the
//! connection, bounded by `http.tls_handshake_timeout_ms` (`http.rs`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::{watch, Mutex};

/// `[http]` TLS settings, validated (both files or neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
    /// Time a client has to complete the TLS handshake.
    pub handshake_timeout: Duration,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// Neither file changed since the last read.
    Unchanged,
    /// A new pair is installed: new connections get it.
    Reloaded,
    /// The files changed but do not make a usable pair; the previous one is kept.
    Rejected(String),
}

/// The certificate in use and where it comes from.
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: ArcSwap<CertifiedKey>,
    /// Digest of the files as last read (installed or rejected), so a bad pair is reported
    /// once, not at every poll.
    seen: Mutex<[u8; 32]>,
    /// Counts installed pairs (0 = the one read at start).
    installed: watch::Sender<u64>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("cert", &self.cert_path)
            .field("key", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Reads the pair at start; an error names the file and what is wrong with it.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cert_pem = std::fs::read(cert)
            .map_err(|e| anyhow!("reading the TLS certificate {}: {e}", cert.display()))?;
        let key_pem = zeroize::Zeroizing::new(
            std::fs::read(key)
                .map_err(|e| anyhow!("reading the TLS private key {}: {e}", key.display()))?,
        );
        let pair = parse_pair(&provider, cert, &cert_pem, key, &key_pem).map_err(|e| anyhow!(e))?;
        let (installed, _) = watch::channel(0);
        Ok(Arc::new(Self {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            provider,
            current: ArcSwap::from_pointee(pair),
            seen: Mutex::new(digest(&cert_pem, &key_pem)),
            installed,
        }))
    }

    /// Reads both files again; installs them if they changed and make a usable pair.
    pub async fn reload(&self) -> Reload {
        let mut seen = self.seen.lock().await;
        let cert_pem = match tokio::fs::read(&self.cert_path).await {
            Ok(b) => b,
            Err(e) => return self.reject(format!("reading {}: {e}", self.cert_path.display())),
        };
        let key_pem = match tokio::fs::read(&self.key_path).await {
            Ok(b) => zeroize::Zeroizing::new(b),
            Err(e) => return self.reject(format!("reading {}: {e}", self.key_path.display())),
        };
        let now = digest(&cert_pem, &key_pem);
        if now == *seen {
            return Reload::Unchanged;
        }
        *seen = now;
        match parse_pair(
            &self.provider,
            &self.cert_path,
            &cert_pem,
            &self.key_path,
            &key_pem,
        ) {
            Ok(pair) => {
                self.current.store(Arc::new(pair));
                self.installed.send_modify(|n| *n += 1);
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                Reload::Reloaded
            }
            Err(e) => self.reject(e),
        }
    }

    fn reject(&self, reason: String) -> Reload {
        tracing::warn!(reason = %reason, "TLS certificate not reloaded; the previous one stays in use");
        Reload::Rejected(reason)
    }

    /// Changes each time a new pair is installed (the value counts them).
    pub fn installed(&self) -> watch::Receiver<u64> {
        self.installed.subscribe()
    }

    /// The certificate chain new connections get.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current.load().cert.clone()
    }

    /// The rustls acceptor: the current pair at each handshake, ALPN `h2` and `http/1.1`.
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow!("configuring TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// Hands every handshake the pair installed at that moment.
#[derive(Debug)]
struct Resolver(Arc<Certificates>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current.load_full())
    }
}

/// Checks the files every `interval` until `stop`; reload outcomes are logged by `reload`.
pub async fn watch_files(
    certs: Arc<Certificates>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; the files were just read
    loop {
        let stopping = tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            _ = tick.tick() => false,
        };
        if stopping {
            return;
        }
        certs.reload().await;
    }
}

fn digest(cert: &[u8], key: &[u8]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&(cert.len() as u64).to_be_bytes());
    ctx.update(cert);
    ctx.update(key);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Parses a PEM chain and key and checks that the key is the certificate's; the error names
/// the file at fault and never contains key material.
fn parse_pair(
    provider: &CryptoProvider,
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> std::result::Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "the TLS certificate {} is not a PEM certificate chain: {e}",
                cert_path.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "the TLS certificate {} holds no PEM CERTIFICATE block",
            cert_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        format!(
            "the TLS private key {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            key_path.display()
        )
    })?;
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
        format!(
            "the TLS private key {} cannot be used: {e}",
            key_path.display()
        )
    })?;
    let pair = CertifiedKey::new(chain, signing_key);
    match pair.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(format!(
                "the TLS private key {} does not belong to the certificate {}",
                key_path.display(),
                cert_path.display()
            ))
        }
        Err(e) => {
            return Err(format!(
                "the TLS certificate {} cannot be used with the key {}: {e}",
                cert_path.display(),
                key_path.display()
            ))
        }
    }
    Ok(pair)
}
