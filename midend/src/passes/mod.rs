//! IR passes. Each is a free function over `&mut Function` that returns
//! whether it changed anything (cranelift's `unreachable_code.rs` shape).

pub mod branchfold;
pub mod constfold;
pub mod dce;
pub mod merge;
pub mod params;
pub mod unreachable;
pub mod unroll;

use crate::ir::Function;

pub use branchfold::fold_branches;
pub use constfold::fold_constants;
pub use dce::eliminate_dead_code;
pub use merge::merge_blocks;
pub use params::remove_trivial_params;
pub use unreachable::eliminate_unreachable_code;

/// What every function needs before the backend, at any optimisation level:
/// no unreachable blocks (the kernel rejects dead code) and no trivial block
/// parameters left over from SSA construction.
pub fn cleanup(func: &mut Function) {
    eliminate_unreachable_code(func);
    remove_trivial_params(func);
}

/// The -O2 scalar pipeline, to a fixed point (bounded: each round must
/// shrink or simplify something).
pub fn simplify(func: &mut Function) {
    for _ in 0..16 {
        let mut changed = fold_constants(func);
        changed |= fold_branches(func);
        changed |= eliminate_unreachable_code(func);
        changed |= remove_trivial_params(func);
        changed |= eliminate_dead_code(func);
        changed |= merge_blocks(func);
        if !changed {
            break;
        }
    }
}
