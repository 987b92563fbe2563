//! The state shared by every handler.

use std::sync::Arc;

use bytes::Bytes;
use tessera_identity::Identity;

use crate::metrics::Metrics;

/// HTTP-level settings, resolved by the binary from the config.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted form body (OAuth endpoints).
    pub form_body_limit: usize,
    /// Largest accepted JSON body (REST endpoints).
    pub json_body_limit: usize,
    /// Time a client has to send a request body (408 `request_timeout` after).
    pub body_timeout: std::time::Duration,
    /// A stylesheet served at `/oidc/assets/tessera.css` instead of the built-in one
    /// (`hosted.stylesheet`, read from its file by the binary at start).
    pub stylesheet: Option<Arc<str>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            form_body_limit: 64 * 1024,
            json_body_limit: 64 * 1024,
            body_timeout: std::time::Duration::from_secs(10),
            stylesheet: None,
        }
    }
}

/// What every handler can reach. Cloned for each request by axum's `State` extractor and
/// middleware, so it is one `Arc`: one reference-count update per clone instead of one per
/// field (measurable on the token endpoint, where several clones happen per request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub identity: Arc<Identity>,
    pub config: ApiConfig,
    pub metrics: Metrics,
    /// The discovery document, serialized once.
    pub discovery: Bytes,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
