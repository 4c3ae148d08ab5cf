//! The midend's tests: lowering of each construct (asserted on the printed
//! IR of hand-built scripts), each pass, the verifier, unrolling and the
//! budget, and a property test of constant folding against an interpreter.

mod cfg_prop;
mod fold_prop;
mod interp;
mod lowering;
mod passes;
mod program_prop;
mod stats;
mod unroll_prop;
mod verifier;

use crate::testing::ScriptBuilder;
use crate::{Module, Options};
use stapc_bpf::{KernelVersion, Target};
use stapc_frontend::Diagnostic;

pub(crate) fn opts(opt_level: u8) -> Options {
    Options {
        target: Target::new(KernelVersion::new(4, 14)),
        max_string_len: 64,
        opt_level,
    }
}

pub(crate) fn lower_ok(b: &ScriptBuilder) -> Module {
    match crate::lower(&b.script, &b.sm, &opts(0)) {
        Ok(m) => m,
        Err(d) => panic!("lowering failed: {d:#?}"),
    }
}

pub(crate) fn lower_err(b: &ScriptBuilder) -> Vec<Diagnostic> {
    match crate::lower(&b.script, &b.sm, &opts(0)) {
        Ok(m) => panic!("lowering succeeded:\n{}", crate::print_module(&m)),
        Err(d) => d,
    }
}

/// The printed functions only (no module header).
pub(crate) fn funcs(m: &Module) -> String {
    let text = crate::print_module(m);
    let start = text.find("function").unwrap_or(text.len());
    text[start..].to_string()
}
