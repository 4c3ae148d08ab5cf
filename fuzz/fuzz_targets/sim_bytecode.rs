//! Fuzz target: arbitrary bytecode on the simulator never panics or hangs;
//! see `stapc_sim::fuzzing::bytecode` (shared with the corpus smoke
//! test sim/tests/fuzz_corpus.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    stapc_sim::fuzzing::bytecode(data);
});
