//! Trivial block-parameter removal (the "trivial phi" step of Braun et al.):
//! a parameter whose incoming arguments are all one value (or itself) is
//! that value. Lowering leaves such parameters for variables a loop does not
//! change; the unroller leaves them on single-predecessor blocks.

use crate::cfg::Cfg;
use crate::ir::{Function, Value, ValueDef};
use rustc_hash::FxHashMap;

pub fn remove_trivial_params(func: &mut Function) -> bool {
    let mut changed = false;
    let entry = func.entry();
    loop {
        let cfg = Cfg::compute(func);
        let mut subst: FxHashMap<Value, Value> = FxHashMap::default();
        let mut removals: Vec<(crate::ir::Block, usize)> = Vec::new();
        for &b in cfg.rpo() {
            if Some(b) == entry || cfg.preds(b).is_empty() {
                continue;
            }
            for (i, &p) in func.blocks[b].params.iter().enumerate() {
                let mut same: Option<Value> = None;
                let mut trivial = true;
                for e in cfg.preds(b) {
                    let edges = func.insts[e.inst].edges();
                    let Some(&arg) = edges.get(e.edge).and_then(|(_, _, args)| args.get(i)) else {
                        trivial = false;
                        break;
                    };
                    let arg = resolve(&subst, arg);
                    if arg == p || Some(arg) == same {
                        continue;
                    }
                    if same.is_some() {
                        trivial = false;
                        break;
                    }
                    same = Some(arg);
                }
                if let (true, Some(x)) = (trivial, same) {
                    subst.insert(p, x);
                    removals.push((b, i));
                }
            }
        }
        if removals.is_empty() {
            return changed;
        }
        changed = true;
        // Drop the parameters and their arguments, last index first.
        removals.sort_by_key(|r| std::cmp::Reverse(r.1));
        for &(b, i) in &removals {
            for e in cfg.preds(b) {
                if let Some(args) = func.insts[e.inst].edge_args_mut(e.edge) {
                    if i < args.len() {
                        args.remove(i);
                    }
                }
            }
            func.blocks[b].params.remove(i);
        }
        let mut blocks: Vec<_> = removals.iter().map(|r| r.0).collect();
        blocks.dedup();
        for b in blocks {
            for (n, &p) in func.blocks[b].params.iter().enumerate() {
                func.values[p] = ValueDef::Param(b, n as u32);
            }
        }
        func.replace_uses(&subst);
    }
}

fn resolve(subst: &FxHashMap<Value, Value>, mut v: Value) -> Value {
    for _ in 0..=subst.len() {
        match subst.get(&v) {
            Some(&w) => v = w,
            None => break,
        }
    }
    v
}
