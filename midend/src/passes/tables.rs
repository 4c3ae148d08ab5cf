//! Table pruning: string slots, formats and runtime errors that no laid-out
//! instruction names any more (their code was unreachable or folded away)
//! are dropped; the rest keep their order and are renumbered. Smaller
//! scratch layouts and objects, and `-p3` output without leftovers.

use crate::ir::{Function, InstData, Module, Slot};
use cranelift_entity::{PrimaryMap, SecondaryMap};

/// Drop the slots `func` does not use.
pub fn compact_slots(func: &mut Function) -> bool {
    let mut used: SecondaryMap<Slot, bool> = SecondaryMap::new();
    for &b in &func.layout {
        for &i in &func.blocks[b].insts {
            for s in func.insts[i].slots() {
                used[s] = true;
            }
        }
    }
    if func.slots.keys().all(|s| used[s]) {
        return false;
    }
    let mut new_slots = PrimaryMap::new();
    let mut remap: SecondaryMap<Slot, Option<Slot>> = SecondaryMap::new();
    for (s, data) in func.slots.iter() {
        if used[s] {
            remap[s] = Some(new_slots.push(data.clone()));
        }
    }
    for b in func.layout.clone() {
        for &i in &func.blocks[b].insts {
            func.insts[i].map_slots(|s| remap[s].unwrap_or(s));
        }
    }
    func.slots = new_slots;
    true
}

/// Drop the formats and errors no function uses.
pub fn prune_tables(module: &mut Module) -> bool {
    let mut fmt_used = vec![false; module.formats.len()];
    let mut err_used = vec![false; module.errors.len()];
    // Probe handlers and the functions they call (functions/strings).
    for f in module
        .probes
        .iter()
        .map(|p| &p.func)
        .chain(module.functions.iter())
    {
        for &b in &f.layout {
            for &i in &f.blocks[b].insts {
                match &f.insts[i] {
                    InstData::Printf { format, .. } | InstData::Sprintf { format, .. } => {
                        mark(&mut fmt_used, *format)
                    }
                    InstData::Trap { error } | InstData::TrapMsg { error, .. } => {
                        mark(&mut err_used, *error)
                    }
                    _ => {}
                }
            }
        }
    }
    if fmt_used.iter().all(|&u| u) && err_used.iter().all(|&u| u) {
        return false;
    }
    let fmt_map = renumber(&fmt_used);
    let err_map = renumber(&err_used);
    module.formats = std::mem::take(&mut module.formats)
        .into_iter()
        .zip(&fmt_used)
        .filter_map(|(x, &u)| u.then_some(x))
        .collect();
    module.errors = std::mem::take(&mut module.errors)
        .into_iter()
        .zip(&err_used)
        .filter_map(|(x, &u)| u.then_some(x))
        .collect();
    for f in module
        .probes
        .iter_mut()
        .map(|p| &mut p.func)
        .chain(module.functions.iter_mut())
    {
        for b in f.layout.clone() {
            for &i in &f.blocks[b].insts {
                match &mut f.insts[i] {
                    InstData::Printf { format, .. } | InstData::Sprintf { format, .. } => {
                        *format = fmt_map[*format as usize]
                    }
                    InstData::Trap { error } | InstData::TrapMsg { error, .. } => {
                        *error = err_map[*error as usize]
                    }
                    _ => {}
                }
            }
        }
    }
    true
}

fn mark(used: &mut [bool], i: u32) {
    if let Some(u) = used.get_mut(i as usize) {
        *u = true;
    }
}

/// New index of each used entry (unused ones map to 0, never read).
fn renumber(used: &[bool]) -> Vec<u32> {
    let mut n = 0;
    used.iter()
        .map(|&u| {
            let i = n;
            if u {
                n += 1;
            }
            i
        })
        .collect()
}
