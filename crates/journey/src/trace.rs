//! Run traces: the step path, decisions, timings and outcome of one run. Never variable
//! values, tokens or secrets, so traces can be stored and shown to admins.

use serde::{Deserialize, Serialize};

/// The record of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Journey id.
    pub journey_id: String,
    /// Journey version that ran.
    pub version: u64,
    /// Steps in execution order.
    pub steps: Vec<TraceStep>,
    /// How the run ended.
    pub outcome: TraceOutcome,
}

impl Trace {
    /// The visited step ids in order.
    pub fn path(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.step_id.as_str()).collect()
    }
}

/// One executed step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    /// Step id.
    pub step_id: String,
    /// Step type.
    pub step_type: String,
    /// Run clock (epoch ms) when the step started.
    pub started_at_ms: i64,
    /// Duration in microseconds.
    pub duration_us: u64,
    /// `"true"`/`"false"` (condition), `"case:N"`/`"otherwise"` (match), `"next"`,
    /// `"completed"`, `"success"`, `"rejected"`, `"waiting"` (a client step waits),
    /// `"submit:<option>"` (the client answered the waiting step), `"failure:<code>"` (a
    /// `custom_authentication` failure branch), or `"error:<code>"`.
    pub decision: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceOutcome {
    /// An `http_complete` step answered.
    Completed {
        /// HTTP status sent.
        status: u16,
    },
    /// A client run waits for the client at this step (this request ended there).
    Waiting {
        /// The waiting step.
        step_id: String,
    },
    /// A client run ended at a `complete` step.
    Success,
    /// A client run ended at a `reject` step.
    Rejected,
    /// The run failed.
    Failed {
        /// Failing step (empty when the failure was before any step).
        step_id: String,
        /// Error code.
        code: String,
    },
}
