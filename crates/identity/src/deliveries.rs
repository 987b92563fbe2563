//! [`Deliveries`]: the retrying outbox of SPEC §8 — messages (CIBA auth links by email or
//! SMS) and CIBA pings that must reach their destination at least once even if the node
//! that queued them dies.
//!
//! - **Enqueue** writes the job durably (its payload sealed with the KEK: it holds links and
//!   bearer tokens) before the caller is answered, then wakes this node's worker.
//! - **Work** ([`Deliveries::run_due`], called by the binary's background task whenever it
//!   is woken and at least once a second): claims due jobs with a lease (`FOR UPDATE SKIP
//!   LOCKED` on PostgreSQL, so two nodes never hold one job at once), performs them, then
//!   marks each done or schedules its next attempt with exponential backoff. A job whose
//!   claimer died is claimed again when its lease ends, so delivery is at least once; the
//!   receivers of a ping are idempotent by `auth_req_id` (CIBA Core §10.2).
//! - A back-channel logout (OpenID Connect Back-Channel Logout 1.0) is signed when it is
//!   sent, so a retry never carries an expired token.
//! - After [`MAX_ATTEMPTS`] a job is given up (logged at WARN, never with its payload).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_delivery::{Channel, Deliver, Message};
use tessera_jose::{b64url_decode, b64url_encode, Kek};
use tessera_journey::{Outbound, OutboundRequest};
use tokio::sync::Notify;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::error::Error;
use crate::keys::Keys;
use crate::model::DeliveryJob;
use crate::ports::DeliveryStore;

/// Attempts before a job is given up (about 2 h of backoff in all).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a claimed job belongs to its claimer.
const LEASE_MS: i64 = 30_000;
/// Jobs claimed per round.
const CLAIM_BATCH: u32 = 32;
/// Time allowed for one ping.
const PING_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one back-channel logout request.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// A logout token's lifetime from the moment it is sent.
pub const LOGOUT_TOKEN_TTL_S: i64 = 120;
/// The `typ` of logout tokens (Back-Channel Logout §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// The event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Done jobs are kept this long (for inspection), then purged.
const KEEP_DONE_MS: i64 = 24 * 3600 * 1000;

/// What a job does. No `Debug`: it holds links and bearer tokens.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// An email or SMS.
    Message {
        channel: Channel,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        text: String,
    },
    /// CIBA ping (Core §10.2): `POST url` with `Authorization: Bearer token` and
    /// `{"auth_req_id": …}`.
    CibaPing {
        url: String,
        token: String,
        auth_req_id: String,
    },
    /// Back-channel logout: `POST url` with `logout_token=<JWT>` naming the ended session
    /// `sid` of user `sub`, signed at send time for `client_id` with `alg`.
    BackchannelLogout {
        url: String,
        client_id: String,
        alg: tessera_jose::Algorithm,
        sub: String,
        sid: String,
    },
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Self::Message { .. } => "message",
            Self::CibaPing { .. } => "ciba_ping",
            Self::BackchannelLogout { .. } => "backchannel_logout",
        }
    }
}

/// The associated data a job's payload is sealed with: its id, so a payload cannot be moved
/// to another row.
fn aad(id: &str) -> Vec<u8> {
    format!("delivery:{id}").into_bytes()
}

/// Seconds before attempt `attempts + 1`: 2, 4, 8, … capped at 30 minutes.
fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 11)).unwrap_or(11);
    (1000_i64 << exp).min(30 * 60 * 1000)
}

pub struct Deliveries {
    store: Arc<dyn DeliveryStore>,
    kek: Arc<Kek>,
    messenger: Arc<dyn Deliver>,
    outbound: Arc<dyn Outbound>,
    clock: Arc<dyn Clock>,
    signer: LogoutSigner,
    wake: Notify,
}

/// What signs logout tokens: the key ring and our issuer.
#[derive(Clone)]
pub struct LogoutSigner {
    pub keys: Arc<Keys>,
    pub issuer: String,
}

/// The claims of a logout token (Back-Channel Logout §2.4): never a `nonce`.
#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
}

impl LogoutSigner {
    /// A logout token for `client_id` naming the session `sid` of `sub`, valid
    /// [`LOGOUT_TOKEN_TTL_S`] from `now_s`.
    pub fn logout_token(
        &self,
        alg: tessera_jose::Algorithm,
        client_id: &str,
        sub: &str,
        sid: &str,
        now_s: i64,
    ) -> Result<String, Error> {
        let jti = tessera_jose::random_token_b64url(16)?;
        let claims = LogoutClaims {
            iss: &self.issuer,
            aud: client_id,
            iat: now_s,
            exp: now_s + LOGOUT_TOKEN_TTL_S,
            jti: &jti,
            sub,
            sid,
            events: serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        };
        self.keys.sign(alg, LOGOUT_TOKEN_TYP, &claims)
    }
}

impl Deliveries {
    pub fn new(
        store: Arc<dyn DeliveryStore>,
        kek: Arc<Kek>,
        messenger: Arc<dyn Deliver>,
        outbound: Arc<dyn Outbound>,
        clock: Arc<dyn Clock>,
        signer: LogoutSigner,
    ) -> Self {
        Self {
            store,
            kek,
            messenger,
            outbound,
            clock,
            signer,
            wake: Notify::new(),
        }
    }

    /// The stored row of `job`, due now (sealed; not yet written).
    pub(crate) fn prepare(&self, job: &Job) -> Result<DeliveryJob, Error> {
        let id = tessera_jose::random_token_b64url(16)?;
        let json = Zeroizing::new(
            serde_json::to_vec(job).map_err(|e| Error::internal(format!("delivery job: {e}")))?,
        );
        let sealed = self.kek.seal(&json, &aad(&id))?;
        let now = self.clock.now_ms();
        Ok(DeliveryJob {
            id,
            kind: job.kind().to_string(),
            payload_sealed: b64url_encode(&sealed),
            attempts: 0,
            next_attempt_at_ms: now,
            lease_until_ms: None,
            created_at_ms: now,
            done_at_ms: None,
        })
    }

    /// Queues `job` durably and wakes the worker.
    pub async fn enqueue(&self, job: &Job) -> Result<(), Error> {
        let row = self.prepare(job)?;
        self.store.enqueue_delivery(&row).await?;
        self.wake();
        Ok(())
    }

    /// Wakes the worker (after a job was queued by another component's transaction).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits until a job is queued on this node or `timeout` passes (the worker's idle wait).
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    /// Claims the due jobs and performs them, concurrently; returns how many were claimed.
    pub async fn run_due(&self) -> Result<usize, Error> {
        let mut total = 0;
        loop {
            let now = self.clock.now_ms();
            let jobs = self
                .store
                .claim_deliveries(now, LEASE_MS, CLAIM_BATCH)
                .await?;
            let n = jobs.len();
            total += n;
            let mut set = tokio::task::JoinSet::new();
            for row in jobs {
                let worker = self.worker();
                set.spawn(async move { worker.perform(row).await });
            }
            while let Some(done) = set.join_next().await {
                if let Ok(Err(e)) = done {
                    tracing::warn!(error = %e, "recording a delivery's outcome failed");
                }
            }
            if n < CLAIM_BATCH as usize {
                return Ok(total);
            }
        }
    }

    fn worker(&self) -> Worker {
        Worker {
            store: self.store.clone(),
            kek: self.kek.clone(),
            messenger: self.messenger.clone(),
            outbound: self.outbound.clone(),
            clock: self.clock.clone(),
            signer: self.signer.clone(),
        }
    }

    /// Housekeeping: drops jobs done more than a day ago.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_deliveries(self.clock.now_ms() - KEEP_DONE_MS)
            .await?;
        Ok(())
    }
}

/// What one spawned delivery needs (owned, so it can run on its own task).
struct Worker {
    store: Arc<dyn DeliveryStore>,
    kek: Arc<Kek>,
    messenger: Arc<dyn Deliver>,
    outbound: Arc<dyn Outbound>,
    clock: Arc<dyn Clock>,
    signer: LogoutSigner,
}

impl Worker {
    async fn perform(&self, row: DeliveryJob) -> Result<(), Error> {
        let job = match self.open(&row) {
            Ok(job) => job,
            Err(e) => {
                // A payload that does not open never will: give it up.
                tracing::warn!(id = %row.id, kind = %row.kind, error = %e, "delivery payload unreadable; given up");
                return Ok(self
                    .store
                    .finish_delivery(&row.id, self.clock.now_ms())
                    .await?);
            }
        };
        match self.attempt(&job).await {
            Ok(()) => {
                tracing::debug!(id = %row.id, kind = %row.kind, attempts = row.attempts, "delivered");
                Ok(self
                    .store
                    .finish_delivery(&row.id, self.clock.now_ms())
                    .await?)
            }
            Err(reason) if row.attempts >= MAX_ATTEMPTS => {
                tracing::warn!(id = %row.id, kind = %row.kind, attempts = row.attempts, reason, "delivery given up");
                Ok(self
                    .store
                    .finish_delivery(&row.id, self.clock.now_ms())
                    .await?)
            }
            Err(reason) => {
                let next = self.clock.now_ms() + backoff_ms(row.attempts);
                tracing::info!(id = %row.id, kind = %row.kind, attempts = row.attempts, reason, "delivery failed; will retry");
                Ok(self.store.retry_delivery(&row.id, next).await?)
            }
        }
    }

    fn open(&self, row: &DeliveryJob) -> Result<Job, Error> {
        let sealed = b64url_decode(&row.payload_sealed)?;
        let json = self.kek.open(&sealed, &aad(&row.id))?;
        serde_json::from_slice(&json).map_err(|e| Error::internal(format!("delivery job: {e}")))
    }

    /// One attempt; the error is a log-safe reason (no address, link or token).
    async fn attempt(&self, job: &Job) -> Result<(), String> {
        match job {
            Job::Message {
                channel,
                to,
                subject,
                text,
            } => {
                let message = Message {
                    channel: *channel,
                    to: to.clone(),
                    subject: subject.clone(),
                    text: text.clone(),
                };
                let sent = self.messenger.deliver(&message).await;
                drop(Zeroizing::new(message.text));
                sent.map_err(|e| format!("{} {}", channel.as_str(), e.kind.as_str()))
            }
            Job::CibaPing {
                url,
                token,
                auth_req_id,
            } => {
                let body = serde_json::to_vec(&serde_json::json!({ "auth_req_id": auth_req_id }))
                    .map_err(|e| e.to_string())?;
                let request = OutboundRequest {
                    method: "POST".into(),
                    url: url.clone(),
                    headers: vec![
                        ("authorization".into(), format!("Bearer {token}")),
                        ("content-type".into(), "application/json".into()),
                    ],
                    body: Some(body),
                    timeout: PING_TIMEOUT,
                    connection: Some("ciba_ping".into()),
                };
                match self.outbound.send(request).await {
                    Ok(r) if (200..300).contains(&r.status) => Ok(()),
                    Ok(r) => Err(format!("ping answered {}", r.status)),
                    Err(e) => Err(format!("ping {}", e.kind.as_str())),
                }
            }
            Job::BackchannelLogout {
                url,
                client_id,
                alg,
                sub,
                sid,
            } => {
                let token = self
                    .signer
                    .logout_token(*alg, client_id, sub, sid, self.clock.now_s())
                    .map_err(|e| format!("signing the logout token: {}", e.code().name()))?;
                let body = Zeroizing::new(
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("logout_token", &token)
                        .finish(),
                );
                let request = OutboundRequest {
                    method: "POST".into(),
                    url: url.clone(),
                    headers: vec![(
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    )],
                    body: Some(body.as_bytes().to_vec()),
                    timeout: LOGOUT_TIMEOUT,
                    connection: Some("backchannel_logout".into()),
                };
                match self.outbound.send(request).await {
                    Ok(r) if (200..300).contains(&r.status) => Ok(()),
                    Ok(r) => Err(format!("back-channel logout answered {}", r.status)),
                    Err(e) => Err(format!("back-channel logout {}", e.kind.as_str())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(10), 1_024_000);
        assert_eq!(backoff_ms(11), 30 * 60 * 1000);
        assert_eq!(backoff_ms(50), 30 * 60 * 1000);
    }

    #[test]
    fn jobs_serialize_with_their_type() {
        let ping = Job::CibaPing {
            url: "https://rp.example/cb".into(),
            token: "t".into(),
            auth_req_id: "a".into(),
        };
        let json = serde_json::to_value(&ping).unwrap();
        assert_eq!(json["type"], "ciba_ping");
        assert_eq!(ping.kind(), "ciba_ping");
        let back: Job = serde_json::from_value(json).unwrap();
        assert!(back == ping);
    }
}
