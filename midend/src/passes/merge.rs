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

/// Jump threading: an edge into a block that does nothing but jump on (no
/// parameters, one `jump`) goes straight to where that jump goes, with its
/// arguments. (Those arguments dominate the skipped block, hence each of
/// its predecessors.) The skipped block usually becomes unreachable.
pub fn thread_jumps(func: &mut Function) -> bool {
    let entry = func.entry();
    let forward = |func: &Function, b: Block| -> Option<(Block, Vec<Value>)> {
        let bd = func.blocks.get(b)?;
        if Some(b) == entry || !bd.params.is_empty() || bd.insts.len() != 1 {
            return None;
        }
        match &func.insts[bd.insts[0]] {
            InstData::Jump { dest, args } if *dest != b => Some((*dest, args.clone())),
            _ => None,
        }
    };
    let mut changed = false;
    for a in func.layout.clone() {
        let Some(t) = func.terminator(a) else {
            continue;
        };
        let edges: Vec<(usize, Block)> = func.insts[t]
            .edges()
            .iter()
            .map(|(e, d, _)| (*e, *d))
            .collect();
        for (edge, dest) in edges {
            // Follow a chain of forwarding blocks (bounded: a cycle of them
            // is an empty infinite loop, left alone).
            let mut target = None;
            let mut d = dest;
            for _ in 0..64 {
                match forward(func, d) {
                    Some((next, args)) => {
                        target = Some((next, args.clone()));
                        if !args.is_empty() || !func.blocks[next].params.is_empty() {
                            break;
                        }
                        d = next;
                    }
                    None => break,
                }
            }
            let Some((to, args)) = target else { continue };
            // Never make both edges of a `brif` reach one block with
            // different arguments (legal, but every backend must then split
            // the edge); equal arguments are fine (branch folding makes a jump).
            if let InstData::Brif {
                then_dest,
                then_args,
                else_dest,
                else_args,
                ..
            } = &func.insts[t]
            {
                let (other, other_args) = if edge == 0 {
                    (else_dest, else_args)
                } else {
                    (then_dest, then_args)
                };
                if *other == to && *other_args != args {
                    continue;
                }
            }
            let data = &mut func.insts[t];
            match (data, edge) {
                (InstData::Jump { dest, args: a0 }, 0) => {
                    *dest = to;
                    *a0 = args;
                }
                (
                    InstData::Brif {
                        then_dest,
                        then_args,
                        ..
                    },
                    0,
                ) => {
                    *then_dest = to;
                    *then_args = args;
                }
                (
                    InstData::Brif {
                        else_dest,
                        else_args,
                        ..
                    },
                    1,
                ) => {
                    *else_dest = to;
                    *else_args = args;
                }
                _ => continue,
            }
            changed = true;
        }
    }
    changed
}
