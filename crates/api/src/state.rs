//! The state shared by every handler.

use std::sync::Arc;

use bytes::Bytes;
use tessera_identity::journeys::JourneyService;
use tessera_identity::Identity;

use crate::metrics::Metrics;

/// HTTP-level settings, resolved by the binary from the config.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted form body (OAuth endpoints).
    pub form_body_limit: usize,
    /// Largest accepted JSON body (REST endpoints).
    pub json_body_limit: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            form_body_limit: 64 * 1024,
            json_body_limit: 64 * 1024,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub identity: Arc<Identity>,
    pub journeys: Arc<JourneyService>,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    /// The discovery document, serialized once.
    pub discovery: Bytes,
}
