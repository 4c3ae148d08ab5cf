//! Comparisons against constant strings: `s == "bash"` lowers to a
//! `str_const` into a temporary and a `str_compare` of the two slots. When
//! the constant is known at the compare (written earlier in the same block
//! and not overwritten since), the compare takes the constant itself
//! (`StrCompareConst`): the backend then compares words against immediates,
//! and the temporary, if nothing else reads it, goes with `deadslots`.

use crate::ir::{Function, InstData, Slot};
use rustc_hash::FxHashMap;

pub fn fold_const_string_compares(func: &mut Function) -> bool {
    let mut changed = false;
    for &b in &func.layout {
        let mut known: FxHashMap<Slot, String> = FxHashMap::default();
        for &i in &func.blocks[b].insts {
            let data = &mut func.insts[i];
            match data {
                InstData::StrCompare { args: [a, c] } if a != c && known.contains_key(c) => {
                    let value = known[c].clone();
                    *data = InstData::StrCompareConst { arg: *a, value };
                    changed = true;
                }
                InstData::StrConst { dst, value } => {
                    known.insert(*dst, value.clone());
                }
                // Readers only.
                InstData::StrCompare { .. }
                | InstData::StrCompareConst { .. }
                | InstData::Printf { .. } => {}
                // A callee's frame is its own, but stay simple: forget all.
                InstData::Call { .. } => known.clear(),
                other => {
                    for s in other.slots() {
                        known.remove(&s);
                    }
                }
            }
        }
    }
    changed
}
