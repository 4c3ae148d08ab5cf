//! Block merging: a block whose only predecessor jumps to it unconditionally
//! is appended to that predecessor (its parameters become the jump's
//! arguments). Fewer blocks mean fewer jumps in the BPF program, which
//! matters most after unrolling.

use crate::cfg::Cfg;
use crate::ir::{Block, Function, InstData, Value};
use cranelift_entity::SecondaryMap;
use rustc_hash::FxHashMap;

pub fn merge_blocks(func: &mut Function) -> bool {
    // Merging moves edges from the merged block to its predecessor without
    // changing how many edges reach any block, so the counts of one CFG
    // computation stay valid throughout.
    let cfg = Cfg::compute(func);
    let mut subst: FxHashMap<Value, Value> = FxHashMap::default();
    let mut gone: SecondaryMap<Block, bool> = SecondaryMap::new();
    for &a in cfg.rpo() {
        if gone[a] {
            continue;
        }
        while let Some(t) = func.terminator(a) {
            let InstData::Jump { dest: b, args } = func.insts[t].clone() else {
                break;
            };
            if b == a || gone[b] || Some(b) == func.entry() || cfg.preds(b).len() != 1 {
                break;
            }
            for (&p, &arg) in func.blocks[b].params.iter().zip(args.iter()) {
                subst.insert(p, arg);
            }
            func.blocks[b].params.clear();
            func.blocks[a].insts.pop();
            let moved = std::mem::take(&mut func.blocks[b].insts);
            func.blocks[a].insts.extend(moved);
            gone[b] = true;
        }
    }
    let before = func.layout.len();
    func.layout.retain(|&x| !gone[x]);
    func.replace_uses(&subst);
    func.layout.len() != before
}
