//! Journey definitions, connections and run traces as stored.

/// One stored version of a journey definition (the source text as uploaded).
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyRecord {
    pub journey_id: String,
    /// 1 for the first PUT, then +1 per PUT.
    pub version: i64,
    /// `"yaml"` or `"json"`.
    pub format: String,
    pub source: String,
    pub created_at: i64,
}

/// An external connection: its definition as JSON text, secret fields sealed with the KEK
/// by the caller before storing.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    pub name: String,
    pub definition: String,
    pub updated_at: i64,
}

/// The trace of one journey run (JSON without variable values or secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    pub trace_id: String,
    pub journey_id: String,
    pub created_at_ms: i64,
    pub trace: String,
}
