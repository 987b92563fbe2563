//! Tessera's one outbound HTTP client ([`HttpOutbound`], implementing the journey crate's
//! [`Outbound`] port). Every address a host name resolves to is checked at connect time (in
//! the DNS resolver reqwest uses) and literal-IP URLs are checked before sending: special-purpose
//! ranges ([`is_forbidden`]) are refused unless inside the configured `allow_cidrs`. Redirects
//! are not followed unless configured (each hop re-checked), responses are capped in size and
//! time, only `http`/`https` are allowed and environment proxies are ignored.

mod ranges;

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use ipnet::IpNet;
pub use ranges::{is_forbidden, is_special_purpose};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tessera_journey::{
    BoxFuture, Outbound, OutboundError, OutboundErrorKind, OutboundRequest, OutboundResponse,
};

/// Settings of the client.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Ranges exempt from the special-purpose check (config `outbound.allow_cidrs`).
    pub allow_cidrs: Vec<IpNet>,
    /// Largest response body accepted (default 1 MiB).
    pub max_response_bytes: usize,
    /// Upper bound for any request's timeout (default 30 s).
    pub max_timeout: Duration,
    /// Redirects followed (default 0: a 3xx is returned as it is).
    pub max_redirects: usize,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow_cidrs: Vec::new(),
            max_response_bytes: 1 << 20,
            max_timeout: Duration::from_secs(30),
            max_redirects: 0,
        }
    }
}

/// The real outbound client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpOutbound {
    client: reqwest::Client,
    config: Arc<OutboundConfig>,
}

/// The marker error the resolver returns for refused addresses.
#[derive(Debug)]
struct Forbidden;

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("destination address is not allowed")
    }
}

impl StdError for Forbidden {}

/// Resolves with the system resolver and drops every refused address.
struct CheckingResolver {
    allow: Arc<Vec<IpNet>>,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> =
                resolved.filter(|a| !is_forbidden(a.ip(), &allow)).collect();
            if allowed.is_empty() {
                return Err(Box::new(Forbidden) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl HttpOutbound {
    /// Builds the client (rustls, no proxies, checked DNS, redirect policy).
    pub fn new(config: OutboundConfig) -> Result<HttpOutbound, OutboundError> {
        let allow = Arc::new(config.allow_cidrs.clone());
        let max_redirects = config.max_redirects;
        let redirect_allow = allow.clone();
        let policy = if max_redirects == 0 {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max_redirects {
                    return attempt.error(Forbidden);
                }
                match check_url(attempt.url(), &redirect_allow) {
                    Ok(()) => attempt.follow(),
                    Err(_) => attempt.error(Forbidden),
                }
            })
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(policy)
            .dns_resolver(Arc::new(CheckingResolver { allow }))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| {
                OutboundError::new(
                    OutboundErrorKind::Transport,
                    "building the HTTP client failed",
                )
            })?;
        Ok(HttpOutbound {
            client,
            config: Arc::new(config),
        })
    }

    async fn perform(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let url = url::Url::parse(&request.url).map_err(|_| {
            OutboundError::new(OutboundErrorKind::InvalidUrl, "not an absolute URL")
        })?;
        check_url(&url, &self.config.allow_cidrs)?;
        let host = url.host_str().unwrap_or("").to_string();
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| OutboundError::new(OutboundErrorKind::InvalidUrl, "invalid method"))?;
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let mut response = builder.send().await.map_err(|e| classify(&e, &host))?;
        let cap = self.config.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err(too_large(cap));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, &host))? {
            if body.len() + chunk.len() > cap {
                return Err(too_large(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }
}

fn too_large(cap: usize) -> OutboundError {
    OutboundError::new(
        OutboundErrorKind::TooLarge,
        format!("response larger than {cap} bytes"),
    )
}

/// Scheme and literal-IP checks (host names are checked when resolved).
fn check_url(url: &url::Url, allow: &[IpNet]) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::new(
            OutboundErrorKind::InvalidUrl,
            "only http and https URLs are allowed",
        ));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => {
            return Err(OutboundError::new(
                OutboundErrorKind::InvalidUrl,
                "URL has no host",
            ))
        }
    };
    if let Some(ip) = ip {
        if is_forbidden(ip, allow) {
            return Err(OutboundError::new(
                OutboundErrorKind::ForbiddenAddress,
                "destination address is not allowed",
            ));
        }
    }
    Ok(())
}

fn classify(e: &reqwest::Error, host: &str) -> OutboundError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<Forbidden>().is_some() {
            return OutboundError::new(
                OutboundErrorKind::ForbiddenAddress,
                format!("`{host}` resolves to an address that is not allowed"),
            );
        }
        source = s.source();
    }
    if e.is_timeout() {
        OutboundError::new(
            OutboundErrorKind::Timeout,
            format!("request to `{host}` timed out"),
        )
    } else if e.is_redirect() {
        OutboundError::new(
            OutboundErrorKind::Redirect,
            format!("redirect from `{host}` not followed"),
        )
    } else {
        OutboundError::new(
            OutboundErrorKind::Transport,
            format!("request to `{host}` failed"),
        )
    }
}

impl Outbound for HttpOutbound {
    fn send<'a>(
        &'a self,
        request: OutboundRequest,
    ) -> BoxFuture<'a, Result<OutboundResponse, OutboundError>> {
        Box::pin(async move {
            let timeout = request.timeout.min(self.config.max_timeout);
            match tokio::time::timeout(timeout, self.perform(request)).await {
                Ok(result) => result,
                Err(_) => Err(OutboundError::new(
                    OutboundErrorKind::Timeout,
                    "request timed out",
                )),
            }
        })
    }
}
