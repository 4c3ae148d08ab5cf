//! Unreachable block removal: blocks the entry cannot reach leave the
//! layout. The kernel verifier rejects programs with dead instructions, so
//! this runs at every optimisation level.

use crate::cfg::Cfg;
use crate::ir::Function;

pub fn eliminate_unreachable_code(func: &mut Function) -> bool {
    let cfg = Cfg::compute(func);
    let before = func.layout.len();
    func.layout.retain(|&b| cfg.is_reachable(b));
    func.layout.len() != before
}
