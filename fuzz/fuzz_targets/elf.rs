//! Fuzz target: any bytes as an object file; see `stapc_sim::fuzzing::elf`
//! (shared with the corpus smoke test sim/tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stapc_sim::fuzzing::elf(data);
});
