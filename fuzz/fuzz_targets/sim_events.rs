//! Fuzz target: any text as a `--sim-events` file, then a session; see
//! `stapc_sim::fuzzing::events` (shared with the corpus smoke
//! test sim/tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stapc_sim::fuzzing::events(data);
});
