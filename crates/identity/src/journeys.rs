//! Journeys at run time: definitions and connections in the store, compiled journeys and
//! connections cached per node, runs, and traces written in batches.
//!
//! A journey is compiled once per stored version and shared; other nodes' changes drop the
//! cache entry through the change feed. Both caches (compiled journeys, parsed connections)
//! follow the epoch rule of `cache.rs`: a version read before an invalidation is never
//! cached. Connection definitions are sealed with the KEK at rest (they may hold secret
//! header values) and shown redacted. Admin operations take an [`Admin`] proof.

use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};
use tessera_jose::Kek;
use tessera_journey::{
    check_journey, ClientOutcome, ClientSubmit, CompiledJourney, Connection, ConnectionLookup,
    Directory, Format, JwksCache, Outbound, RandomSource, RunEnv, RunLimits, RunOutcome,
    RunRequest, Trace, ValidationError, Warning,
};

use crate::cache::EpochCache;
use crate::caller::Admin;
use crate::changes::FollowChanges;
use crate::clock::Clock;
use crate::error::{Code, Error, StoreError};
use crate::model::{Change, ChangeKind, ConnectionRecord, JourneyRecord, TraceRecord};
use crate::ports::JourneyStore;

/// How long run traces are kept.
pub const DEFAULT_TRACE_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// Pending traces beyond this are dropped (and counted) rather than growing memory.
const MAX_PENDING_TRACES: usize = 50_000;
const CONNECTION_AAD: &[u8] = b"tessera connection v1";

/// Compiled journeys and connections cached per node before the cache is cleared.
const CACHE_CAPACITY: usize = 10_000;

/// 400 `invalid_journey` listing the problems of an upload (`what`: journey, connection).
fn invalid_journey(errors: &[ValidationError], what: &str) -> Error {
    Error::new(
        Code::InvalidJourney,
        format!("the {what} is invalid ({} problem(s))", errors.len()),
    )
    .with("errors", json!(errors))
}

fn not_found(what: &'static str) -> Error {
    Error::new(Code::NotFound, format!("{what} not found"))
}

/// Secure randomness for expressions (`@std.uuid`, `@std.randomBase64`, `@math.random`).
struct SecureRandom;

impl RandomSource for SecureRandom {
    fn fill_bytes(&self, buf: &mut [u8]) {
        if tessera_jose::random_bytes(buf).is_err() {
            // aws-lc's generator does not fail in practice; never hand out zeros silently.
            buf.iter_mut().for_each(|b| *b = 0);
            tracing::error!("secure random generator failed");
        }
    }
}

/// The monotonic clock a run's time budget is measured with (time since the run began).
struct MonotonicRunClock(std::time::Instant);

impl tessera_journey::RunClock for MonotonicRunClock {
    fn monotonic(&self) -> std::time::Duration {
        self.0.elapsed()
    }
}

/// Connections of one run, loaded from the cache or the store on demand.
struct RunConnections<'a> {
    service: &'a JourneyService,
}

impl ConnectionLookup for RunConnections<'_> {
    fn connection<'a>(
        &'a self,
        name: &'a str,
    ) -> tessera_journey::BoxFuture<'a, Option<Arc<Connection>>> {
        Box::pin(async move { self.service.connection(name).await.ok().flatten() })
    }
}

/// What a run's environment borrows (randomness, connections, the monotonic clock).
struct EnvParts<'a> {
    service: &'a JourneyService,
    random: SecureRandom,
    connections: RunConnections<'a>,
    clock: MonotonicRunClock,
}

impl<'a> EnvParts<'a> {
    fn new(service: &'a JourneyService) -> Self {
        Self {
            service,
            random: SecureRandom,
            connections: RunConnections { service },
            clock: MonotonicRunClock(std::time::Instant::now()),
        }
    }

    /// The environment of one run (or one client step) with `directory`.
    fn env(&'a self, directory: &'a dyn Directory) -> RunEnv<'a> {
        let s = self.service;
        RunEnv::new(
            s.clock.now_ms(),
            &self.clock,
            &self.random,
            &self.connections,
            s.outbound.as_ref(),
            &s.jwks,
        )
        .with_limits(s.limits)
        .with_directory(directory)
    }
}

pub struct JourneyService {
    store: Arc<dyn JourneyStore>,
    clock: Arc<dyn Clock>,
    kek: Arc<Kek>,
    outbound: Arc<dyn Outbound>,
    jwks: JwksCache,
    limits: RunLimits,
    journeys: EpochCache<Option<Arc<CompiledJourney>>>,
    connections: EpochCache<Option<Arc<Connection>>>,
    pending_traces: Mutex<Vec<TraceRecord>>,
    trace_retention_ms: i64,
}

impl JourneyService {
    pub fn new(
        store: Arc<dyn JourneyStore>,
        clock: Arc<dyn Clock>,
        kek: Arc<Kek>,
        outbound: Arc<dyn Outbound>,
        limits: RunLimits,
    ) -> Self {
        Self {
            store,
            clock,
            kek,
            outbound,
            jwks: JwksCache::new(),
            limits,
            journeys: EpochCache::new(CACHE_CAPACITY, None),
            connections: EpochCache::new(CACHE_CAPACITY, None),
            pending_traces: Mutex::new(Vec::new()),
            trace_retention_ms: DEFAULT_TRACE_RETENTION_MS,
        }
    }

    // --- definitions ---

    /// Validates and stores a new version. The definition's `id` must equal `journey_id`.
    pub async fn put_journey(
        &self,
        _admin: &Admin,
        journey_id: &str,
        source: &str,
        format: Format,
    ) -> Result<(JourneyRecord, Vec<Warning>), Error> {
        if !valid_journey_id(journey_id) {
            return Err(Error::invalid(
                "journey ids match [a-z0-9_-]+ (at most 128)",
            ));
        }
        let checked =
            check_journey(source, format).map_err(|errors| invalid_journey(&errors, "journey"))?;
        if checked.journey.id != journey_id {
            return Err(invalid_journey(
                &[ValidationError::new(
                    None,
                    "id",
                    "the definition's `id` must equal the journey id in the path",
                )],
                "journey",
            ));
        }
        let format_name = match format {
            Format::Json => "json",
            _ if source.trim_start().starts_with('{') => "json",
            _ => "yaml",
        };
        let record = self
            .store
            .put_journey(journey_id, format_name, source, self.clock.now_s())
            .await?;
        // This node's write invalidates its cache (the next read compiles the new version
        // under the epoch rule); other nodes follow the `Journey` change row.
        self.journeys.remove(journey_id);
        Ok((record, checked.warnings))
    }

    pub async fn get_journey(
        &self,
        _admin: &Admin,
        journey_id: &str,
    ) -> Result<JourneyRecord, Error> {
        if !valid_journey_id(journey_id) {
            return Err(not_found("journey"));
        }
        self.store
            .latest_journey(journey_id)
            .await?
            .ok_or_else(|| not_found("journey"))
    }

    pub async fn list_journeys(&self, _admin: &Admin) -> Result<Vec<JourneyRecord>, Error> {
        Ok(self.store.list_journeys().await?)
    }

    pub async fn delete_journey(&self, _admin: &Admin, journey_id: &str) -> Result<(), Error> {
        if !valid_journey_id(journey_id) {
            return Err(not_found("journey"));
        }
        self.store
            .delete_journey(journey_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found("journey"),
                other => other.into(),
            })?;
        self.journeys.remove(journey_id);
        Ok(())
    }

    /// The latest compiled version, from the cache or compiled from the store (cached under
    /// the epoch rule, so a version read before an invalidation is never kept).
    pub async fn compiled(&self, journey_id: &str) -> Result<Option<Arc<CompiledJourney>>, Error> {
        if !valid_journey_id(journey_id) {
            return Ok(None);
        }
        self.journeys
            .get_or_load(journey_id, self.clock.now_ms(), || {
                self.compile_latest(journey_id)
            })
            .await
    }

    async fn compile_latest(
        &self,
        journey_id: &str,
    ) -> Result<Option<Arc<CompiledJourney>>, Error> {
        let Some(record) = self.store.latest_journey(journey_id).await? else {
            return Ok(builtin_journey(journey_id));
        };
        let format = if record.format == "json" {
            Format::Json
        } else {
            Format::Yaml
        };
        let checked = check_journey(&record.source, format).map_err(|errors| {
            Error::internal(format!(
                "stored journey no longer validates ({} errors)",
                errors.len()
            ))
        })?;
        let version = u64::try_from(record.version).unwrap_or(0);
        Ok(Some(Arc::new(checked.journey.with_version(version))))
    }

    // --- connections ---

    /// Validates and stores a connection. Secret header values given as the redaction
    /// placeholder (or omitted) keep their previous value: secrets are write-only.
    pub async fn put_connection(
        &self,
        _admin: &Admin,
        name: &str,
        mut definition: Value,
    ) -> Result<Value, Error> {
        if let Some(previous) = self.stored_connection_definition(name).await? {
            Connection::merge_secrets(&mut definition, &previous)
                .map_err(|errors| invalid_journey(&errors, "connection"))?;
        }
        let connection = tessera_journey::parse_connection(name, &definition)
            .map_err(|errors| invalid_journey(&errors, "connection"))?;
        let plain = serde_json::to_vec(&definition).map_err(|e| Error::internal(e.to_string()))?;
        let sealed = self.kek.seal(&plain, CONNECTION_AAD)?;
        let record = ConnectionRecord {
            name: name.to_string(),
            definition: json!({"sealed": tessera_jose::b64url_encode(&sealed)}).to_string(),
            updated_at: self.clock.now_s(),
        };
        self.store.put_connection(&record).await?;
        let redacted = connection.redacted();
        self.jwks.invalidate(name);
        self.connections.remove(name);
        Ok(redacted)
    }

    async fn stored_connection_definition(&self, name: &str) -> Result<Option<Value>, Error> {
        if !valid_connection_name(name) {
            return Ok(None);
        }
        let Some(record) = self.store.get_connection(name).await? else {
            return Ok(None);
        };
        Ok(Some(self.unseal(&record)?))
    }

    fn unseal(&self, record: &ConnectionRecord) -> Result<Value, Error> {
        let wrapper: Value = serde_json::from_str(&record.definition)
            .map_err(|_| Error::internal("stored connection is corrupt"))?;
        let sealed = wrapper
            .get("sealed")
            .and_then(Value::as_str)
            .and_then(|s| tessera_jose::b64url_decode(s).ok())
            .ok_or_else(|| Error::internal("stored connection is corrupt"))?;
        let plain = self.kek.open(&sealed, CONNECTION_AAD)?;
        serde_json::from_slice(&plain).map_err(|_| Error::internal("stored connection is corrupt"))
    }

    /// A connection by name, from the cache or the store (cached under the epoch rule).
    pub async fn connection(&self, name: &str) -> Result<Option<Arc<Connection>>, Error> {
        if !valid_connection_name(name) {
            return Ok(None);
        }
        self.connections
            .get_or_load(name, self.clock.now_ms(), || self.load_connection(name))
            .await
    }

    async fn load_connection(&self, name: &str) -> Result<Option<Arc<Connection>>, Error> {
        let Some(definition) = self.stored_connection_definition(name).await? else {
            return Ok(None);
        };
        let connection = tessera_journey::parse_connection(name, &definition)
            .map_err(|_| Error::internal("stored connection no longer validates"))?;
        Ok(Some(Arc::new(connection)))
    }

    /// The redacted public view of a connection.
    pub async fn get_connection(&self, _admin: &Admin, name: &str) -> Result<Value, Error> {
        self.connection(name)
            .await?
            .map(|c| c.redacted())
            .ok_or_else(|| not_found("connection"))
    }

    pub async fn list_connections(&self, _admin: &Admin) -> Result<Vec<(String, Value)>, Error> {
        let mut out = Vec::new();
        for record in self.store.list_connections().await? {
            if let Some(c) = self.connection(&record.name).await? {
                out.push((record.name, c.redacted()));
            }
        }
        Ok(out)
    }

    pub async fn delete_connection(&self, _admin: &Admin, name: &str) -> Result<(), Error> {
        if !valid_connection_name(name) {
            return Err(not_found("connection"));
        }
        self.store
            .delete_connection(name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found("connection"),
                other => other.into(),
            })?;
        self.connections.remove(name);
        self.jwks.invalidate(name);
        Ok(())
    }

    // --- runs ---

    /// Runs a backend journey and queues its trace under `trace_id`. `directory` lets its
    /// steps find, create and authenticate users.
    pub async fn run(
        &self,
        journey: &CompiledJourney,
        request: RunRequest,
        directory: &dyn Directory,
        trace_id: &str,
    ) -> RunOutcome {
        let parts = EnvParts::new(self);
        let env = parts.env(directory);
        let outcome = tessera_journey::run_backend(journey, request, &env).await;
        self.queue_trace(trace_id, &journey.id, &outcome.trace);
        outcome
    }

    /// Starts a client journey (until a step waits or the run ends); queues its trace.
    pub async fn start_client(
        &self,
        journey: &CompiledJourney,
        params: serde_json::Map<String, Value>,
        directory: &dyn Directory,
        trace_id: &str,
    ) -> ClientOutcome {
        let parts = EnvParts::new(self);
        let env = parts.env(directory);
        let outcome = tessera_journey::start_client(journey, params, &env).await;
        self.queue_trace(trace_id, &journey.id, &outcome.trace);
        outcome
    }

    /// Continues a client journey with the client's answer; queues its trace.
    pub async fn submit_client(
        &self,
        journey: &CompiledJourney,
        state: tessera_journey::ClientRunState,
        submit: ClientSubmit,
        directory: &dyn Directory,
        trace_id: &str,
    ) -> ClientOutcome {
        let parts = EnvParts::new(self);
        let env = parts.env(directory);
        let outcome = tessera_journey::submit_client(journey, state, submit, &env).await;
        self.queue_trace(trace_id, &journey.id, &outcome.trace);
        outcome
    }

    fn queue_trace(&self, trace_id: &str, journey_id: &str, trace: &Trace) {
        let trace = match serde_json::to_string(trace) {
            Ok(t) => t,
            Err(_) => return,
        };
        let mut pending = self.pending_traces.lock();
        if pending.len() >= MAX_PENDING_TRACES {
            tracing::warn!("trace buffer full; dropping a trace");
            return;
        }
        pending.push(TraceRecord {
            trace_id: trace_id.to_string(),
            journey_id: journey_id.to_string(),
            created_at_ms: self.clock.now_ms(),
            trace,
        });
    }

    /// Writes queued traces in one transaction. The binary calls this a few times a second,
    /// so a run costs no synchronous write.
    pub async fn flush_traces(&self) -> Result<usize, Error> {
        let batch = std::mem::take(&mut *self.pending_traces.lock());
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        if let Err(e) = self.store.insert_traces(&batch).await {
            // Put them back for the next flush rather than losing them.
            let mut pending = self.pending_traces.lock();
            if pending.len() + n <= MAX_PENDING_TRACES {
                pending.extend(batch);
            }
            return Err(e.into());
        }
        Ok(n)
    }

    /// A stored trace, as JSON.
    pub async fn get_trace(
        &self,
        _admin: &Admin,
        journey_id: &str,
        trace_id: &str,
    ) -> Result<Value, Error> {
        let plausible_trace = !trace_id.is_empty()
            && trace_id.len() <= 128
            && trace_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_journey_id(journey_id) || !plausible_trace {
            return Err(not_found("trace"));
        }
        let record = self
            .store
            .get_trace(journey_id, trace_id)
            .await?
            .ok_or_else(|| not_found("trace"))?;
        let trace: Value = serde_json::from_str(&record.trace)
            .map_err(|_| Error::internal("stored trace is corrupt"))?;
        Ok(json!({
            "trace_id": record.trace_id,
            "journey_id": record.journey_id,
            "created_at_ms": record.created_at_ms,
            "trace": trace,
        }))
    }

    /// Deletes traces past their retention.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_traces(self.clock.now_ms() - self.trace_retention_ms)
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl FollowChanges for JourneyService {
    fn follows(&self, kind: ChangeKind) -> bool {
        matches!(kind, ChangeKind::Journey | ChangeKind::Connection)
    }

    async fn apply(&self, changes: &[&Change]) -> Result<(), Error> {
        for change in changes {
            if change.kind == ChangeKind::Journey {
                self.journeys.remove(&change.key);
            } else {
                self.connections.remove(&change.key);
                self.jwks.invalidate(&change.key);
            }
        }
        Ok(())
    }
}

/// Journey ids: `[a-z0-9_-]+`, at most 128 characters.
/// The built-in login journeys of the hosted login (`authorize.rs`), as YAML. A stored journey
/// of the same id takes their place.
const BUILTIN_JOURNEYS: [(&str, &str); 2] = [
    (
        crate::authorize::PASSWORD_LOGIN_JOURNEY,
        include_str!("builtin_journeys/tessera-login-password.yaml"),
    ),
    (
        crate::authorize::EMAIL_OTP_LOGIN_JOURNEY,
        include_str!("builtin_journeys/tessera-login-email-otp.yaml"),
    ),
];

/// A built-in journey, compiled.
fn builtin_journey(journey_id: &str) -> Option<Arc<CompiledJourney>> {
    let (_, source) = BUILTIN_JOURNEYS.iter().find(|(id, _)| *id == journey_id)?;
    match check_journey(source, Format::Yaml) {
        Ok(checked) => Some(Arc::new(checked.journey)),
        Err(errors) => {
            tracing::error!(
                journey_id,
                errors = errors.len(),
                "a built-in journey does not validate"
            );
            None
        }
    }
}

pub fn valid_journey_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Connection names: `[A-Za-z0-9_-]+`, at most 128 characters (the journey crate enforces the
/// same on upload; checking here keeps odd bytes away from the database).
pub fn valid_connection_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
