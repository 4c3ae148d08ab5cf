//! IR passes. Each is a free function over `&mut Function` that returns
//! whether it changed anything (cranelift's `unreachable_code.rs` shape).

pub mod branchfold;
pub mod constfold;
pub mod dce;
pub mod deadslots;
pub mod merge;
pub mod params;
pub mod renumber;
pub mod strconst;
pub mod tables;
pub mod unreachable;
pub mod unroll;

use crate::ir::Function;

pub use branchfold::fold_branches;
pub use constfold::fold_constants;
pub use dce::eliminate_dead_code;
pub use deadslots::eliminate_dead_slot_stores;
pub use merge::{merge_blocks, thread_jumps};
pub use params::remove_trivial_params;
pub use renumber::renumber;
pub use strconst::fold_const_string_compares;
pub use tables::{compact_slots, prune_tables};
pub use unreachable::eliminate_unreachable_code;

/// What every function needs before the backend, at any optimisation level:
/// no unreachable blocks (the kernel rejects dead code) and no trivial block
/// parameters left over from SSA construction.
pub fn cleanup(func: &mut Function) {
    eliminate_unreachable_code(func);
    remove_trivial_params(func);
}

/// A function pass, by name (for pass timings and verifier reports).
pub type Pass = (&'static str, fn(&mut Function) -> bool);

/// The -O2 scalar pipeline, in order.
pub const SIMPLIFY: [Pass; 9] = [
    ("constfold", fold_constants),
    ("strconst", fold_const_string_compares),
    ("branchfold", fold_branches),
    ("unreachable", eliminate_unreachable_code),
    ("params", remove_trivial_params),
    ("dce", eliminate_dead_code),
    ("deadslots", eliminate_dead_slot_stores),
    ("merge", merge_blocks),
    ("threadjumps", thread_jumps),
];

/// Run `SIMPLIFY` to a fixed point (bounded: each round must shrink or
/// simplify something), calling `after(func, pass)` after every pass that
/// changed something; the first error stops the pipeline.
pub fn simplify_with<E>(
    func: &mut Function,
    mut after: impl FnMut(&Function, &str) -> Result<(), E>,
) -> Result<(), E> {
    for _ in 0..16 {
        let mut changed = false;
        for (name, pass) in SIMPLIFY {
            if pass(func) {
                changed = true;
                after(func, name)?;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(())
}

/// `simplify_with` without checks.
pub fn simplify(func: &mut Function) {
    let _ = simplify_with(func, |_, _| Ok::<(), ()>(()));
}
