//! Fuzz target: bytes decoded through the differential test's program
//! generator run cleanly; see `stapc_sim::fuzzing::generated` (shared with the corpus smoke
//! test sim/tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stapc_sim::fuzzing::generated(data);
});
