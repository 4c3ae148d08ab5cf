//! Dead-code elimination: pure instructions (`InstData::is_pure`) whose
//! results are never used, and block parameters whose values are never used
//! (with their incoming arguments), are removed. Anything with a side effect
//! (stores, output, traps, control flow) is a root and stays.

use crate::cfg::Cfg;
use crate::ir::{Function, Value, ValueDef};
use cranelift_entity::SecondaryMap;

pub fn eliminate_dead_code(func: &mut Function) -> bool {
    let cfg = Cfg::compute(func);
    let mut live: SecondaryMap<Value, bool> = SecondaryMap::new();
    let mut work: Vec<Value> = Vec::new();
    let mark = |v: Value, live: &mut SecondaryMap<Value, bool>, work: &mut Vec<Value>| {
        if !live[v] {
            live[v] = true;
            work.push(v);
        }
    };
    // Roots: operands of side-effecting instructions; branch conditions
    // (branch arguments are live only if the parameter is).
    for &b in &func.layout {
        for &i in &func.blocks[b].insts {
            let data = &func.insts[i];
            if data.is_pure() {
                continue;
            }
            match data {
                crate::ir::InstData::Jump { .. } => {}
                crate::ir::InstData::Brif { cond, .. } => mark(*cond, &mut live, &mut work),
                _ => {
                    for v in data.args() {
                        mark(v, &mut live, &mut work);
                    }
                }
            }
        }
    }
    while let Some(v) = work.pop() {
        match func.values[v] {
            ValueDef::Result(i) => {
                for a in func.insts[i].args() {
                    mark(a, &mut live, &mut work);
                }
            }
            ValueDef::Param(b, n) => {
                for e in cfg.preds(b) {
                    if let Some(&a) = func.insts[e.inst]
                        .edges()
                        .get(e.edge)
                        .and_then(|x| x.2.get(n as usize))
                    {
                        mark(a, &mut live, &mut work);
                    }
                }
            }
        }
    }
    let mut changed = false;
    for b in func.layout.clone() {
        let insts = std::mem::take(&mut func.blocks[b].insts);
        let kept: Vec<_> = insts
            .iter()
            .copied()
            .filter(|&i| !(func.insts[i].is_pure() && func.result(i).is_none_or(|v| !live[v])))
            .collect();
        changed |= kept.len() != insts.len();
        func.blocks[b].insts = kept;
        // Dead parameters, last first, with their arguments on every edge.
        if Some(b) == func.entry() {
            continue;
        }
        let params = func.blocks[b].params.clone();
        for (n, &p) in params.iter().enumerate().rev() {
            if live[p] {
                continue;
            }
            changed = true;
            for e in cfg.preds(b) {
                if let Some(args) = func.insts[e.inst].edge_args_mut(e.edge) {
                    if n < args.len() {
                        args.remove(n);
                    }
                }
            }
            func.blocks[b].params.remove(n);
        }
        for (n, &p) in func.blocks[b].params.clone().iter().enumerate() {
            func.values[p] = ValueDef::Param(b, n as u32);
        }
    }
    changed
}
