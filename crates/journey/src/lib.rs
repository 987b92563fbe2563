//! Journeys (SPEC §7): the definition model, validation into a [`CompiledJourney`], external
//! [`Connection`]s, and the executor for backend API journeys ([`run_backend`]).
//!
//! Flow: [`parse_definition`] turns YAML/JSON text into a [`JourneyDefinition`];
//! Client journeys run with [`start_client`] / [`submit_client`] over a [`ClientRunState`].
//! [`compile_journey`] validates it (every expression compiled once) into a [`CompiledJourney`]
//! plus [`Warning`]s, or a list of [`ValidationError`]s; [`check_journey`] does both. A compiled
//! journey is shared (`Arc`) and run many times with [`run_backend`], which needs a [`RunEnv`]
//! (the run's time and [`RunClock`], randomness, connections, the [`Outbound`] HTTP port, a
//! [`JwksCache`], limits) and
//! yields a [`RunOutcome`] with the HTTP answer or a [`JourneyFailure`], and a [`Trace`].
//!
//! Architecture invariant: no IO here (no sockets, files, environment, wall clock reads for
//! decisions); outbound HTTP goes through the [`Outbound`] port (`tessera-outbound` is the real
//! implementation). Error messages and traces never contain variable values.

mod client;
mod clock;
mod compile;
mod connection;
mod definition;
mod error;
mod exec;
mod host;
mod jwks;
mod outbound;
mod scalar_text;
mod source_map;
mod testcase;
mod trace;
mod yaml;

pub use client::{
    mask_email, mask_phone, start_client, submit_client, ClientOption, ClientOutcome, ClientResult,
    ClientRunState, ClientSubmit, Directory, DirectoryError, NewUser, PasscodeChannel, PendingAuth,
    RunUser, UserInfo, UserRef, CLIENT_RESPONSE_VARIABLE, MAX_COLLECT_STRING,
};
pub use clock::{FrozenClock, RunClock};
pub use compile::{
    check_journey, compile_journey, Checked, CompiledJourney, CompiledStep, FieldType, FormField,
    ServiceCall, StepKind, WaitOptions, MAX_FORM_FIELDS,
};
pub use connection::{
    connections_from_value, parse_connection, parse_connections, Connection, ConnectionKind,
    ConnectionLookup, HeaderTemplate, JwtValidator, TokenValidator, WebService, REDACTED,
};
pub use definition::{
    parse_definition, Format, JourneyDefinition, JourneyType, StepDefinition,
    DEFAULT_INTERACTION_EXPIRY_MINUTES,
};
pub use error::{ValidationError, Warning};
pub use exec::{
    resume_backend, run_backend, HttpResponse, JourneyFailure, RunEnv, RunLimits, RunOutcome,
    RunRequest, RunResult, RunState, DEFAULT_AMR,
};
pub use jwks::JwksCache;
pub use outbound::{Outbound, OutboundError, OutboundErrorKind, OutboundRequest, OutboundResponse};
pub use tessera_expr::{BoxFuture, RandomSource, SeededRandom};
pub use testcase::{
    parse_rfc3339_ms, parse_test_cases, run_test_case, CaseResult, StubOutbound, StubResponse,
    TestCase, TestExpect, TestResponse, TestUser,
};
pub use trace::{Trace, TraceOutcome, TraceStep};
