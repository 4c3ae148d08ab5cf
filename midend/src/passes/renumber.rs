//! Renumbering: rebuild a function so blocks (in reverse postorder), values
//! and instructions are numbered top to bottom and unreferenced table entries (removed blocks,
//! folded-away values) disappear. Semantics are unchanged; the point is a
//! `-p3` listing that reads `block0, block1, …`, `v0, v1, …` top to bottom
//! and stays stable when earlier passes change.

use crate::ir::{Block, Function, Inst, Value};
use cranelift_entity::SecondaryMap;

pub fn renumber(func: &mut Function) {
    let mut out = Function::new(func.name.clone());
    out.slots = func.slots.clone();
    out.ctx_fields = std::mem::take(&mut func.ctx_fields);
    // Reachable blocks in reverse postorder (lowering and cleanup leave no
    // others): definitions come before uses, branches read top to bottom.
    let order: Vec<Block> = crate::cfg::Cfg::compute(func).rpo().to_vec();
    let mut bmap: SecondaryMap<Block, Option<Block>> = SecondaryMap::new();
    for &b in &order {
        bmap[b] = Some(out.create_block());
    }
    let mut vmap: SecondaryMap<Value, Option<Value>> = SecondaryMap::new();
    // Values in definition order: each block's parameters, then its results.
    let mut new_insts: Vec<(Block, Inst)> = Vec::new();
    for &b in &order {
        let Some(nb) = bmap[b] else { continue };
        for &p in &func.blocks[b].params {
            vmap[p] = Some(out.append_block_param(nb));
        }
        for &i in &func.blocks[b].insts {
            let data = func.insts[i].clone();
            let has = data.has_result();
            let span = func.srclocs[i];
            let inst = out.insts.push(data);
            out.blocks[nb].insts.push(inst);
            out.srclocs[inst] = span;
            if has {
                let v = out.values.push(crate::ir::ValueDef::Result(inst));
                out.results[inst] = v.into();
                if let Some(old) = func.result(i) {
                    vmap[old] = Some(v);
                }
            }
            new_insts.push((nb, inst));
        }
    }
    for (_, inst) in new_insts {
        out.insts[inst].map_values(|v| vmap[v].unwrap_or(v));
        out.insts[inst].map_blocks(|b| bmap[b].unwrap_or(b));
    }
    *func = out;
}
