//! Prometheus metrics: requests by route and status, latency histograms, tokens issued by
//! grant. Exposed at `/metrics` in the OpenMetrics text format.

use axum::extract::MatchedPath;
use prometheus_client::encoding::{
    text::encode, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A route template as a label, without copying it: axum's `MatchedPath` is reference-counted,
/// so labelling a request costs a counter increment, not an allocation.
#[derive(Clone, Debug)]
pub struct RouteLabel(pub Option<MatchedPath>);

impl RouteLabel {
    pub fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for RouteLabel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RouteLabel {}

impl std::hash::Hash for RouteLabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        self.as_str().encode(encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: RouteLabel,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: RouteLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JourneyLabels {
    pub journey: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabels {
    pub grant: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CibaLabels {
    /// `requested`, `approved`, `denied` or `issued`.
    pub state: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    ])
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub tokens_issued: Family<GrantLabels, Counter>,
    pub journey_runs: Family<JourneyLabels, Counter>,
    pub ciba_requests: Family<CibaLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        let journey_runs = Family::<JourneyLabels, Counter>::default();
        let ciba_requests = Family::<CibaLabels, Counter>::default();
        registry.register(
            "ciba_requests",
            "CIBA requests by state reached (requested, approved, denied, issued)",
            ciba_requests.clone(),
        );
        registry.register(
            "journey_runs",
            "Journey runs by journey and outcome",
            journey_runs.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "tokens_issued",
            "Tokens issued by grant",
            tokens_issued.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            tokens_issued,
            journey_runs,
            ciba_requests,
        }
    }

    /// Counts a CIBA request reaching `state`.
    pub fn ciba(&self, state: &'static str) {
        self.ciba_requests
            .get_or_create(&CibaLabels { state })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
