//! Dead string stores: an instruction whose only effect is writing a slot
//! that no instruction reads (`str_const`, `str_copy`, `str_concat`,
//! `str_load_global`, `str_context` into it) is removed, to a fixed point
//! (removing a copy can leave its source unread). Scratch stores cost
//! instructions in kernel programs; a string local that is only assigned
//! costs nothing after this.

use crate::ir::{Function, InstData, OutArg, Slot};
use cranelift_entity::SecondaryMap;

/// The slots an instruction reads.
fn reads(data: &InstData) -> Vec<Slot> {
    match data {
        InstData::StrStoreGlobal { src, .. } | InstData::StrCopy { src, .. } => vec![*src],
        InstData::StrConcat { args, .. } | InstData::StrCompare { args } => args.to_vec(),
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

pub fn eliminate_dead_slot_stores(func: &mut Function) -> bool {
    let mut changed = false;
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
