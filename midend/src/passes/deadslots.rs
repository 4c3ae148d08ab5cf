//! Dead string stores: an instruction whose only effect is writing a slot
//! that is wholly written again, in the same block, before anything reads
//! it, or that no instruction reads (`str_const`, `str_copy`, `str_concat`,
//! `str_load_global`, `str_context` into it) is removed, to a fixed point
//! (removing a copy can leave its source unread). Scratch stores cost
//! instructions in kernel programs; a string local that is only assigned
//! costs nothing after this.

use crate::ir::{Function, Inst, InstData, OutArg, Slot};
use cranelift_entity::SecondaryMap;

/// The slots an instruction reads.
fn reads(data: &InstData) -> Vec<Slot> {
    match data {
        InstData::StrStoreGlobal { src, .. } | InstData::StrCopy { src, .. } => vec![*src],
        InstData::StrConcat { args, .. } | InstData::StrCompare { args } => args.to_vec(),
        InstData::StrCompareConst { arg, .. } => vec![*arg],
        InstData::Printf { args, .. } => args
            .iter()
            .filter_map(|a| match a {
                OutArg::Str(s) => Some(*s),
                OutArg::Long(_) => None,
            })
            .collect(),
        InstData::TrapMsg { msg, .. } => vec![*msg],
        // ---- arrays ----
        InstData::KeyStoreStr { src, .. } => vec![*src],
        InstData::ArraySetStr { key, src, .. } => vec![*key, *src],
        InstData::KeyLoad { key, .. }
        | InstData::KeyLoadStr { key, .. }
        | InstData::ArrayGet { key, .. }
        | InstData::ArrayGetStr { key, .. }
        | InstData::ArraySet { key, .. }
        | InstData::ArrayAdd { key, .. }
        | InstData::ArrayIn { key, .. }
        | InstData::ArrayDelete { key, .. } => vec![*key],
        // ---- statistics ----
        InstData::StatAdd { key, .. }
        | InstData::StatRead { key, .. }
        | InstData::PrintHist { key, .. } => key.iter().copied().collect(),
        // ---- functions/strings ----
        InstData::StrOp { srcs, .. } => srcs.clone(),
        InstData::Sprintf { args, .. } => args
            .iter()
            .filter_map(|a| match a {
                OutArg::Str(s) => Some(*s),
                OutArg::Long(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The slot an instruction writes, if writing it is its only effect.
fn only_writes(data: &InstData) -> Option<Slot> {
    match data {
        InstData::StrConst { dst, .. }
        | InstData::StrCopy { dst, .. }
        | InstData::StrConcat { dst, .. }
        | InstData::StrLoadGlobal { dst, .. }
        | InstData::StrContext { dst, .. }
        // ---- arrays ----
        | InstData::KeyLoadStr { dst, .. }
        | InstData::ArrayGetStr { dst, .. } => Some(*dst),
        // ---- functions/strings ----
        InstData::StrOp { dst: Some(dst), .. } | InstData::Sprintf { dst, .. } => Some(*dst),
        _ => None,
    }
}

/// A store whose slot is wholly written again before anything reads it
/// (on every path) is dead too: a temporary reused for the next expression,
/// a local's `""` initialisation before its first assignment. Backward
/// liveness of slots over the CFG; only the instructions that do nothing but
/// write their slot kill it.
fn eliminate_overwritten_slot_stores(func: &mut Function) -> bool {
    use rustc_hash::FxHashSet;
    type Live = FxHashSet<Slot>;
    let kills = |data: &InstData| only_writes(data).filter(|d| !reads(data).contains(d));
    // gen: read before any kill in the block; kill: killed in the block.
    let mut gen: SecondaryMap<crate::ir::Block, Live> = SecondaryMap::new();
    let mut kill: SecondaryMap<crate::ir::Block, Live> = SecondaryMap::new();
    for &b in &func.layout {
        let (mut g, mut k) = (Live::default(), Live::default());
        for &i in &func.blocks[b].insts {
            let data = &func.insts[i];
            for r in reads(data) {
                if !k.contains(&r) {
                    g.insert(r);
                }
            }
            if let Some(d) = kills(data) {
                k.insert(d);
            }
        }
        gen[b] = g;
        kill[b] = k;
    }
    let mut succ: SecondaryMap<crate::ir::Block, Vec<crate::ir::Block>> = SecondaryMap::new();
    for &b in &func.layout {
        if let Some(&t) = func.blocks[b].insts.last() {
            succ[b] = func.insts[t].successors();
        }
    }
    let succs = |b: crate::ir::Block| succ[b].clone();
    let mut live_in: SecondaryMap<crate::ir::Block, Live> = SecondaryMap::new();
    loop {
        let mut changed = false;
        for &b in func.layout.iter().rev() {
            let mut live: Live = Live::default();
            for s in succs(b) {
                live.extend(live_in[s].iter().copied());
            }
            live.retain(|s| !kill[b].contains(s));
            live.extend(gen[b].iter().copied());
            if live != live_in[b] {
                live_in[b] = live;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut changed = false;
    for b in func.layout.clone() {
        let mut live: Live = Live::default();
        for s in succs(b) {
            live.extend(live_in[s].iter().copied());
        }
        let mut dead = Vec::new();
        let insts = func.blocks[b].insts.clone();
        for (j, &i) in insts.iter().enumerate().rev() {
            let data = &func.insts[i];
            let r = reads(data);
            if let Some(d) = only_writes(data) {
                if !live.contains(&d) && !r.contains(&d) {
                    dead.push(i);
                    continue;
                }
            }
            // `L = T` where T dies here: have T's writer write L instead.
            if let InstData::StrCopy { dst, src } = *data {
                if dst != src && !live.contains(&src) {
                    if let Some(w) = copy_source_writer(func, &insts[..j], src, dst) {
                        func.insts[w].map_slots(|s| if s == src { dst } else { s });
                        dead.push(i);
                        // The rest of this block's liveness is stale: the
                        // next round redoes it. Other blocks' live sets can
                        // only have shrunk, so using them stays safe.
                        break;
                    }
                }
            }
            if let Some(d) = kills(data) {
                live.remove(&d);
            }
            live.extend(r);
        }
        if !dead.is_empty() {
            func.blocks[b].insts.retain(|i| !dead.contains(i));
            changed = true;
        }
    }
    changed
}

/// The instruction of `before` (a block's instructions up to a copy
/// `to = from`) that last wrote `from`, when it can write `to` instead:
/// it only writes `from` (reading neither slot), and nothing after it
/// mentions either slot.
fn copy_source_writer(func: &Function, before: &[Inst], from: Slot, to: Slot) -> Option<Inst> {
    for &k in before.iter().rev() {
        let data = &func.insts[k];
        if only_writes(data) == Some(from) {
            let r = reads(data);
            return (!r.contains(&from) && !r.contains(&to)).then_some(k);
        }
        if data.slots().iter().any(|s| *s == from || *s == to) {
            return None;
        }
    }
    None
}

pub fn eliminate_dead_slot_stores(func: &mut Function) -> bool {
    let mut changed = false;
    // Each round removes an instruction.
    while eliminate_overwritten_slot_stores(func) {
        changed = true;
    }
    loop {
        let mut read: SecondaryMap<Slot, bool> = SecondaryMap::new();
        for &b in &func.layout {
            for &i in &func.blocks[b].insts {
                let data = &func.insts[i];
                let dst = only_writes(data);
                for s in reads(data) {
                    // `dst = dst . x` reads dst only to write it again.
                    if Some(s) != dst {
                        read[s] = true;
                    }
                }
            }
        }
        let mut removed = false;
        for b in func.layout.clone() {
            let before = func.blocks[b].insts.len();
            let insts = std::mem::take(&mut func.blocks[b].insts);
            func.blocks[b].insts = insts
                .into_iter()
                .filter(|&i| only_writes(&func.insts[i]).is_none_or(|s| read[s]))
                .collect();
            removed |= func.blocks[b].insts.len() != before;
        }
        if !removed {
            return changed;
        }
        changed = true;
    }
}
