//! stapc midend: the resolved `Script` → one SSA `ir::Function` per probe
//! point → optimised IR (passes, unrolling, loop rule, budget). The backend
//! consumes `Module`.
//!
//! The driver calls [`lower()`], [`optimize`], [`print_module`] (`-p3`) and, in
//! tests or debug builds, [`verify_function`] / [`verify_module`].
//!
//! - `lower`: probes → functions (Braun et al. SSA construction; runtime
//!   checks as explicit trap branches; `try`/`catch` as handler jumps;
//!   non-recursive script functions inlined per call). Unsupported
//!   constructs are `E0900` diagnostics at their span. Statistics become
//!   `StatAdd` (any probe), `StatRead`/`StatClear` (userspace probes only:
//!   merging the per-CPU copies needs userspace, so `@count`… and `delete`
//!   of a statistic in a kernel probe are `E0900` diagnostics that say to
//!   read it in begin/end/error) and `PrintHist` (any probe);
//!   `Module::stats`/`hists` describe them.
//! - `optimize`: cleanup (always), the -O2 scalar pipeline (`passes`), and
//!   for kernel probes full unrolling of constant loops, the rule that no
//!   loop may remain (`E0901`) and the instruction budget (`E0902`, see
//!   `budget`). The verifier runs after every pass in debug builds; a
//!   failure there is an internal error (`E0999`) with the annotated IR.
//! - `testing` (feature `testing`): a builder for hand-made `Script`s.
#![forbid(unsafe_code)]

pub mod budget;
pub mod cfg;
pub mod ir;
pub mod lower;
pub mod passes;
pub mod print;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verifier;

#[cfg(test)]
mod tests;

pub use ir::{Function, Module};
pub use print::{print_function, print_module_with};
pub use verifier::{verify_module, VerifierError};

use stapc_frontend::script::Script;
use stapc_frontend::{Diagnostic, SourceMap};

/// Diagnostic code: a kernel probe keeps a loop whose trip count cannot be bounded.
pub const E_UNBOUNDED_LOOP: &str = "E0901";
/// Diagnostic code: the midend produced IR its own verifier rejects (a stapc bug).
pub const E_INTERNAL: &str = "E0999";

#[derive(Clone, Debug)]
pub struct Options {
    pub target: stapc_bpf::Target,
    /// MAXSTRINGLEN: the size of every string slot and string global.
    pub max_string_len: u32,
    /// 0 or 2.
    pub opt_level: u8,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: stapc_bpf::Target::default(),
            max_string_len: 64,
            opt_level: 2,
        }
    }
}

/// Lower a resolved script to IR (one function per probe point).
pub fn lower(script: &Script, sm: &SourceMap, opts: &Options) -> Result<Module, Vec<Diagnostic>> {
    lower::lower(script, sm, opts)
}

/// Print a module as text (`-p3`), without source locations.
pub fn print_module(module: &Module) -> String {
    print::print_module(module)
}

/// Check a function's invariants (see `verifier`).
pub fn verify_function(func: &Function) -> Result<(), Vec<VerifierError>> {
    verifier::verify_function(func)
}

/// Optimise every function: cleanup always; at -O2 constant and branch
/// folding, DCE and block merging; for kernel probes, full unrolling of
/// constant loops, the rule that no loop may remain, and the instruction
/// budget. Runs the verifier after each pass in debug builds.
pub fn optimize(module: &mut Module, opts: &Options) -> Result<(), Vec<Diagnostic>> {
    let target = opts.target;
    let msl = module.max_string_len;
    let mut diags = Vec::new();
    for p in &mut module.probes {
        let kernel = !p.kind.is_userspace();
        passes::cleanup(&mut p.func);
        debug_verify(&p.func, "cleanup")?;
        if opts.opt_level > 0 {
            passes::simplify_with(&mut p.func, debug_verify)?;
        }
        if !kernel {
            continue;
        }
        let cost = |d: &ir::InstData| budget::inst_cost(d, &target, msl);
        let limit = u64::from(target.insn_limit());
        let unrolled =
            match passes::unroll::unroll_loops(&mut p.func, &cost, budget::PROLOGUE_COST, limit) {
                Ok(stats) => stats.loops > 0,
                Err(passes::unroll::UnrollError::TooBig {
                    span,
                    trips,
                    iteration_cost,
                    total,
                }) => {
                    diags.push(budget::loop_too_big(
                        &p.point,
                        span,
                        trips,
                        iteration_cost,
                        total,
                        &target,
                    ));
                    continue;
                }
                Err(passes::unroll::UnrollError::NotBounded { span, reason }) => {
                    diags.push(unbounded_loop(&p.point, span, &reason));
                    continue;
                }
                Err(passes::unroll::UnrollError::TooManyCopies {
                    span,
                    trips,
                    ir_insts,
                }) => {
                    diags.push(budget::loop_too_many_copies(
                        &p.point, span, trips, ir_insts,
                    ));
                    continue;
                }
            };
        debug_verify(&p.func, "unroll")?;
        // Unrolled copies are only affordable folded (the counter is a
        // constant in each), so kernel probes with unrolled loops are
        // simplified even at -O0; the budget is checked on what will be emitted.
        if opts.opt_level > 0 || unrolled {
            passes::simplify_with(&mut p.func, debug_verify)?;
        } else {
            passes::cleanup(&mut p.func);
            debug_verify(&p.func, "cleanup")?;
        }
        if let Some(d) = budget::check_budget(p, &target, msl) {
            diags.push(d);
        }
    }
    for p in &mut module.probes {
        passes::compact_slots(&mut p.func);
        passes::renumber(&mut p.func);
    }
    passes::prune_tables(module);
    if cfg!(debug_assertions) {
        verifier::verify_module(module).map_err(internal_errors)?;
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags)
    }
}

fn unbounded_loop(point: &str, span: stapc_frontend::Span, reason: &str) -> Diagnostic {
    Diagnostic::error(
        E_UNBOUNDED_LOOP,
        format!("loop in kernel probe {point}: its trip count cannot be bounded at compile time"),
    )
    .with_primary(span, format!("this loop: {reason}"))
    .with_note("kernel probes run inside the BPF verifier's limits; stapc unrolls loops there, which needs a trip count known at compile time")
    .with_help(
        "make the loop compare a counter against a constant, with a constant start and step \
         (e.g. `for (i = 0; i < 100; i++)`), or move it to a begin/end probe",
    )
}

fn debug_verify(func: &Function, pass: &str) -> Result<(), Vec<Diagnostic>> {
    if cfg!(debug_assertions) {
        if let Err(errs) = verifier::verify_function(func) {
            let listing = verifier::annotate(func, &errs);
            let mut d = internal_errors(errs);
            for x in &mut d {
                x.notes.push(format!("after the {pass} pass"));
            }
            if let Some(first) = d.first_mut() {
                first.notes.push(listing);
            }
            return Err(d);
        }
    }
    Ok(())
}

/// Verifier errors on IR the midend produced, as diagnostics (compiler bugs).
pub(crate) fn internal_errors(errs: Vec<VerifierError>) -> Vec<Diagnostic> {
    errs.into_iter()
        .map(|e| {
            Diagnostic::error(
                E_INTERNAL,
                format!("internal compiler error: invalid IR: {e}"),
            )
        })
        .collect()
}
