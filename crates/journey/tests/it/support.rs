//! Helpers: compile a journey from YAML, run it against stubs.

use std::sync::Arc;

use indexmap::IndexMap;
use tessera_journey::{
    check_journey, CompiledJourney, Connection, Format, FrozenClock, JwksCache, Outbound, RunEnv,
    RunOutcome, RunRequest, SeededRandom, StubOutbound, StubResponse,
};

pub fn journey(yaml: &str) -> CompiledJourney {
    match check_journey(yaml, Format::Yaml) {
        Ok(c) => c.journey,
        Err(e) => panic!("invalid journey: {e:?}"),
    }
}

pub fn request(body: serde_json::Value) -> RunRequest {
    RunRequest {
        method: "POST".into(),
        path: "/invoke".into(),
        body,
        ..RunRequest::default()
    }
}

pub fn connections(yaml: &str) -> IndexMap<String, Arc<Connection>> {
    tessera_journey::parse_connections(yaml, Format::Yaml).expect("connections")
}

pub fn stub(connection: &str, status: u16, body: serde_json::Value) -> StubResponse {
    StubResponse {
        connection: Some(connection.into()),
        url: None,
        status,
        headers: Default::default(),
        body: Some(body),
    }
}

pub async fn run_with(
    j: &CompiledJourney,
    req: RunRequest,
    conns: &IndexMap<String, Arc<Connection>>,
    outbound: &dyn Outbound,
    jwks: &JwksCache,
    now_ms: i64,
) -> RunOutcome {
    let random = SeededRandom::new(7);
    let env = RunEnv::new(now_ms, &FrozenClock, &random, conns, outbound, jwks);
    tessera_journey::run_backend(j, req, &env).await
}

pub async fn run(j: &CompiledJourney, req: RunRequest) -> RunOutcome {
    let out = StubOutbound::new(vec![]);
    run_with(
        j,
        req,
        &IndexMap::new(),
        &out,
        &JwksCache::new(),
        1_700_000_000_000,
    )
    .await
}
