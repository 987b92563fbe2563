//! Queued deliveries (CIBA auth links by email or SMS, CIBA pings): the retrying outbox of
//! SPEC §8, as stored. The payload is sealed with the KEK (it holds links and tokens).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryJob {
    pub id: String,
    /// `message` or `ciba_ping`.
    pub kind: String,
    /// The job's JSON, sealed with the KEK (associated data: the id), base64url.
    pub payload_sealed: String,
    /// Attempts made so far (a claim counts one).
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    /// A claimed job belongs to its claimer until then.
    pub lease_until_ms: Option<i64>,
    pub created_at_ms: i64,
    pub done_at_ms: Option<i64>,
}
