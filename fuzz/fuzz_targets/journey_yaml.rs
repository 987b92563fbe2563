//! Fuzz target: a journey definition uploaded as YAML (what `PUT /ido/api/v2/journeys/{journey_id}` runs,
//! `check_journey`) never panics; every accepted definition compiles (also through
//! `parse_definition` + `compile_journey`, to the same journey), every target is a step, and
//! every refusal has at least one error, each inside the text.
#![no_main]

#[path = "../common/journey.rs"]
mod journey;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    journey::check(data, tessera_journey::Format::Yaml);
});
