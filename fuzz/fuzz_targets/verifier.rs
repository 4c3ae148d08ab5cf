//! Fuzz target: arbitrary bytecode through the mini-verifier never panics;
//! see `stapc_sim::fuzzing::verifier` (shared with the corpus smoke test
//! sim/tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stapc_sim::fuzzing::verifier(data);
});
