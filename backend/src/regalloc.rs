//! Register allocation: linear scan (Poletto–Sarkar) over live intervals
//! computed by liveness on the VCode CFG, onto r0–r9.
//!
//! Physical registers written by isel (helper arguments, `r0` results, the
//! `r1` context at entry) become *fixed ranges*; a vreg never gets a
//! register whose fixed range overlaps its interval, and calls put a
//! one-point fixed range on r0–r5, so values live across a call end up in
//! r6–r9 or on the stack. Moves give hints, so most copies coalesce away.
//! When no register is free, the interval with the fewest uses per position
//! covered is spilled everywhere: each def is followed by a store to its
//! 8-byte stack slot and each use preceded by a reload into a short-lived
//! temporary (shared by nearby uses in a block when no call intervenes),
//! and allocation runs again. Temporaries are never spilled. Finally, slots
//! whose lifetimes do not overlap are shared, and the stack (key + slots)
//! must fit the target's 512 bytes.
//!
//! Positions: instruction `i` (in layout order) reads its operands at `2i`
//! and writes its results at `2i + 1`, so an instruction's result may reuse
//! the register of an operand that dies there.

use crate::error::BackendError;
use crate::isel::RESERVED_STACK;
use crate::vcode::{Reg, Src, VBlock, VCode, VInst, VReg};
use cranelift_entity::EntityRef;

/// Allocatable registers, in order of preference (caller-saved first, so
/// r6–r9 stay free for values that live across calls).
const ALLOCATABLE: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/// The result: the VCode with spill code, and a register for every vreg.
#[derive(Clone, Debug)]
pub struct Allocation {
    pub vcode: VCode,
    /// Register of each vreg (`None` for vregs that no instruction mentions).
    pub regs: Vec<Option<u8>>,
    /// The vreg each vreg stands for (spill temporaries map to the spilled vreg).
    pub canonical: Vec<VReg>,
    /// Number of 8-byte spill slots used.
    pub spill_slots: u32,
}

impl Allocation {
    pub fn reg(&self, r: Reg) -> Option<u8> {
        match r {
            Reg::P(p) => Some(p),
            Reg::V(v) => self.regs.get(v.index()).copied().flatten(),
        }
    }

    /// Bytes of stack used (map key plus spill slots).
    pub fn stack_size(&self) -> u32 {
        RESERVED_STACK + 8 * self.spill_slots
    }

    /// The VCode with every vreg replaced by its register (for printing).
    pub fn physical(&self) -> VCode {
        let mut vc = self.vcode.clone();
        for b in vc.blocks.values_mut() {
            for i in &mut b.insts {
                i.map_regs(|r| match self.reg(r) {
                    Some(p) => Reg::P(p),
                    None => r,
                });
            }
        }
        vc
    }
}

/// Stack offset (from r10) of spill slot `slot`.
pub fn spill_offset(slot: u32) -> i16 {
    -((RESERVED_STACK + 8 * (slot + 1)) as i16)
}

#[derive(Clone)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union_with(&mut self, o: &BitSet) -> bool {
        let mut changed = false;
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            let n = *a | *b;
            changed |= n != *a;
            *a = n;
        }
        changed
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let b = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                Some(w * 64 + b)
            })
        })
    }
}

/// Live-in and live-out vregs (sorted) of every block, by position in
/// `order`. Sparse: a huge program has many blocks and many vregs but few
/// live across any one block boundary.
pub(crate) struct Liveness {
    live_in: Vec<Vec<u32>>,
    live_out: Vec<Vec<u32>>,
}

pub(crate) fn block_index(vc: &VCode) -> Vec<usize> {
    let mut idx = vec![usize::MAX; vc.blocks.len()];
    for (i, b) in vc.order.iter().enumerate() {
        idx[b.index()] = i;
    }
    idx
}

fn succs(vc: &VCode, b: VBlock, idx: &[usize]) -> Vec<usize> {
    vc.blocks[b]
        .insts
        .last()
        .map(|t| {
            t.successors()
                .iter()
                .map(|s| idx[s.index()])
                .filter(|&s| s != usize::MAX)
                .collect()
        })
        .unwrap_or_default()
}

fn liveness(vc: &VCode, idx: &[usize]) -> Liveness {
    let n = vc.num_vregs as usize;
    let nb = vc.order.len();
    // `defined[v]`: v was written earlier in the block being scanned.
    let mut defined = vec![false; n];
    let mut gen: Vec<Vec<u32>> = Vec::with_capacity(nb);
    let mut kill: Vec<Vec<u32>> = Vec::with_capacity(nb);
    for b in &vc.order {
        let (mut g, mut k) = (Vec::new(), Vec::new());
        for inst in &vc.blocks[*b].insts {
            for u in inst.uses() {
                if let Reg::V(v) = u {
                    if !defined[v.index()] {
                        g.push(v.as_u32());
                    }
                }
            }
            for d in inst.defs() {
                if let Reg::V(v) = d {
                    if !std::mem::replace(&mut defined[v.index()], true) {
                        k.push(v.as_u32());
                    }
                }
            }
        }
        for v in &k {
            defined[*v as usize] = false;
        }
        g.sort_unstable();
        g.dedup();
        k.sort_unstable();
        gen.push(g);
        kill.push(k);
    }
    let succ: Vec<Vec<usize>> = vc.order.iter().map(|b| succs(vc, *b, idx)).collect();
    let mut live_in = gen.clone();
    let mut live_out: Vec<Vec<u32>> = vec![Vec::new(); nb];
    let mut changed = true;
    while changed {
        changed = false;
        for bi in (0..nb).rev() {
            let mut out: Vec<u32> = succ[bi]
                .iter()
                .flat_map(|&s| live_in[s].iter().copied())
                .collect();
            out.sort_unstable();
            out.dedup();
            let mut inn: Vec<u32> = out
                .iter()
                .copied()
                .filter(|v| kill[bi].binary_search(v).is_err())
                .chain(gen[bi].iter().copied())
                .collect();
            inn.sort_unstable();
            inn.dedup();
            if inn != live_in[bi] {
                live_in[bi] = inn;
                changed = true;
            }
            live_out[bi] = out;
        }
    }
    Liveness { live_in, live_out }
}

struct Scan {
    regs: Vec<Option<u8>>,
    spilled: Vec<VReg>,
}

/// One linear-scan pass.
fn scan(vc: &VCode, is_temp: &[bool], func: &str) -> Result<Scan, BackendError> {
    let idx = block_index(vc);
    let live = liveness(vc, &idx);
    let n = vc.num_vregs as usize;
    let mut start = vec![u32::MAX; n];
    let mut end = vec![0u32; n];
    let touch = |v: usize, p: u32, start: &mut [u32], end: &mut [u32]| {
        start[v] = start[v].min(p);
        end[v] = end[v].max(p);
    };
    // Fixed ranges of physical registers, and move hints.
    let mut fixed: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 10];
    let mut hints: Vec<Vec<Reg>> = vec![Vec::new(); n];
    // Occurrences per vreg, for spill weights (occurrences per position).
    let mut occ = vec![0u64; n];
    let mut pos: u32 = 0;
    for (bi, b) in vc.order.iter().enumerate() {
        let insts = &vc.blocks[*b].insts;
        let bstart = 2 * pos;
        let bend = 2 * (pos + insts.len() as u32).max(pos + 1) - 1;
        for &v in &live.live_in[bi] {
            touch(v as usize, bstart, &mut start, &mut end);
        }
        for &v in &live.live_out[bi] {
            touch(v as usize, bend, &mut start, &mut end);
        }
        // Per physical register: (range start, last point) of the open range.
        let mut open: [Option<(u32, u32)>; 10] = [None; 10];
        for (k, inst) in insts.iter().enumerate() {
            let i = pos + k as u32;
            let (u, d) = (2 * i, 2 * i + 1);
            for r in inst.uses() {
                match r {
                    Reg::V(v) => {
                        touch(v.index(), u, &mut start, &mut end);
                        occ[v.index()] += 1;
                    }
                    Reg::P(p) if p < 10 => {
                        let o = open[p as usize].get_or_insert((bstart, u));
                        o.1 = u;
                    }
                    Reg::P(_) => {}
                }
            }
            for &c in inst.clobbers() {
                fixed[c as usize].push((d, d));
            }
            for r in inst.defs() {
                match r {
                    Reg::V(v) => {
                        touch(v.index(), d, &mut start, &mut end);
                        occ[v.index()] += 1;
                    }
                    Reg::P(p) if p < 10 => {
                        if let Some(o) = open[p as usize].take() {
                            fixed[p as usize].push(o);
                        }
                        open[p as usize] = Some((d, d));
                    }
                    Reg::P(_) => {}
                }
            }
            if let VInst::Alu {
                op: stapc_bpf::insn::BPF_MOV,
                wide: true,
                dst,
                src: Src::Reg(s),
                ..
            } = inst
            {
                if let Reg::V(v) = dst {
                    hints[v.index()].push(*s);
                }
                if let Reg::V(v) = s {
                    hints[v.index()].push(*dst);
                }
            }
        }
        for (p, o) in open.iter().enumerate() {
            if let Some(o) = o {
                fixed[p].push(*o);
            }
        }
        pos += insts.len() as u32;
    }
    for f in &mut fixed {
        f.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(f.len());
        for &(s, e) in f.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 + 1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *f = merged;
    }
    let blocked = |p: u8, s: u32, e: u32| -> bool {
        let f = &fixed[p as usize];
        let i = f.partition_point(|r| r.1 < s);
        i < f.len() && f[i].0 <= e
    };

    let mut ivs: Vec<(u32, u32, usize)> = (0..n)
        .filter(|&v| start[v] != u32::MAX)
        .map(|v| (start[v], end[v], v))
        .collect();
    ivs.sort_unstable();
    let mut regs: Vec<Option<u8>> = vec![None; n];
    let mut active: Vec<(u32, u8, usize)> = Vec::new();
    let mut spilled = Vec::new();
    for (s, e, v) in ivs {
        active.retain(|a| a.0 >= s);
        let mut occupied = [false; 10];
        for a in &active {
            occupied[a.1 as usize] = true;
        }
        let ok = |p: u8| !occupied[p as usize] && !blocked(p, s, e);
        let hinted = hints[v].iter().find_map(|h| {
            let p = match h {
                Reg::P(p) => Some(*p),
                Reg::V(x) => regs[x.index()],
            }?;
            (p < 10 && ok(p)).then_some(p)
        });
        if let Some(p) = hinted.or_else(|| ALLOCATABLE.iter().copied().find(|&p| ok(p))) {
            regs[v] = Some(p);
            active.push((e, p, v));
            continue;
        }
        // No register: spill the usable interval with the fewest uses per
        // position covered (temporaries never), or `v` itself if cheaper.
        let lighter = |a: usize, b: usize| {
            let (la, lb) = (
                u64::from(end[a] - start[a]) + 1,
                u64::from(end[b] - start[b]) + 1,
            );
            (occ[a] * lb, end[b]) < (occ[b] * la, end[a])
        };
        let cand = active
            .iter()
            .enumerate()
            .filter(|(_, a)| !is_temp[a.2] && !blocked(a.1, s, e))
            .fold(
                None::<(usize, (u32, u8, usize))>,
                |best, (i, a)| match best {
                    Some((_, b)) if !lighter(a.2, b.2) => best,
                    _ => Some((i, *a)),
                },
            );
        match cand {
            Some((i, (_, cp, cv))) if is_temp[v] || lighter(cv, v) => {
                active.remove(i);
                regs[cv] = None;
                spilled.push(VReg::new(cv));
                regs[v] = Some(cp);
                active.push((e, cp, v));
            }
            _ if is_temp[v] => {
                return Err(BackendError::Regalloc {
                    func: func.to_string(),
                    what: format!("no register for spill temporary v{v} at position {s}"),
                })
            }
            _ => spilled.push(VReg::new(v)),
        }
    }
    Ok(Scan { regs, spilled })
}

/// How many instructions apart two mentions of a spilled vreg in one block
/// may be and still share one reload.
const RELOAD_REUSE_WINDOW: usize = 8;

/// Allocate registers for `vc`.
pub fn allocate(vc: &VCode, stack_limit: u32) -> Result<Allocation, BackendError> {
    // Shared reloads make spill temporaries longer; should that ever leave a
    // temporary without a register, plain spill-everywhere always works.
    match allocate_with(vc, stack_limit, RELOAD_REUSE_WINDOW) {
        Err(BackendError::Regalloc { .. }) => allocate_with(vc, stack_limit, 0),
        r => r,
    }
}

pub(crate) fn allocate_with(
    vc: &VCode,
    stack_limit: u32,
    window: usize,
) -> Result<Allocation, BackendError> {
    let mut vc = vc.clone();
    let mut canonical: Vec<VReg> = (0..vc.num_vregs as usize).map(VReg::new).collect();
    let mut is_temp = vec![false; vc.num_vregs as usize];
    let mut slot_of: Vec<Option<u32>> = vec![None; vc.num_vregs as usize];
    let mut slots = 0u32;
    // Each round spills at least one non-temporary vreg, and a vreg is
    // spilled at most once, so this terminates.
    loop {
        let res = scan(&vc, &is_temp, &vc.name)?;
        if res.spilled.is_empty() {
            let slots = compact_slots(&mut vc, slots);
            let bytes = RESERVED_STACK + 8 * slots;
            if bytes > stack_limit {
                return Err(BackendError::StackOverflow {
                    func: vc.name.clone(),
                    bytes,
                    limit: stack_limit,
                });
            }
            return Ok(Allocation {
                vcode: vc,
                regs: res.regs,
                canonical,
                spill_slots: slots,
            });
        }
        for v in &res.spilled {
            if slot_of[v.index()].is_none() {
                slot_of[v.index()] = Some(slots);
                slots += 1;
            }
        }
        let spilled: Vec<bool> = {
            let mut s = vec![false; vc.num_vregs as usize];
            for v in &res.spilled {
                s[v.index()] = true;
            }
            s
        };
        rewrite(
            &mut vc,
            &spilled,
            &slot_of,
            &mut canonical,
            &mut is_temp,
            window,
        );
    }
}

/// Spill everywhere: reload before each use, store after each def.
fn rewrite(
    vc: &mut VCode,
    spilled: &[bool],
    slot_of: &[Option<u32>],
    canonical: &mut Vec<VReg>,
    is_temp: &mut Vec<bool>,
    window: usize,
) {
    let order = vc.order.clone();
    for b in order {
        let old = std::mem::take(&mut vc.blocks[b]);
        let mut new = crate::vcode::VBlockData::default();
        // Spilled vregs whose value is still in a temporary: (vreg, temp,
        // index of its last mention). Block-local, and dropped at calls so
        // no temporary has to live across one.
        let mut avail: Vec<(VReg, VReg, usize)> = Vec::new();
        for (k, (inst, loc)) in old.insts.into_iter().zip(old.locs).enumerate() {
            if matches!(inst, VInst::Call { .. }) {
                avail.clear();
            }
            avail.retain(|a| k - a.2 <= window);
            let is_spilled =
                |r: &Reg| matches!(r, Reg::V(v) if spilled.get(v.index()) == Some(&true));
            let uses: Vec<Reg> = inst.uses().into_iter().filter(is_spilled).collect();
            let defs: Vec<Reg> = inst.defs().into_iter().filter(is_spilled).collect();
            if uses.is_empty() && defs.is_empty() {
                new.insts.push(inst);
                new.locs.push(loc);
                continue;
            }
            let mut temps: Vec<(VReg, VReg)> = Vec::new();
            let mut reused: Vec<VReg> = Vec::new();
            for r in uses.iter().chain(&defs) {
                let Reg::V(v) = *r else { continue };
                if temps.iter().any(|(o, _)| *o == v) {
                    continue;
                }
                if let Some(a) = avail.iter().find(|a| a.0 == v && uses.contains(r)) {
                    temps.push((v, a.1));
                    reused.push(v);
                    continue;
                }
                let t = vc.new_vreg();
                canonical.push(canonical[v.index()]);
                is_temp.push(true);
                temps.push((v, t));
            }
            let temp = |v: VReg| temps.iter().find(|(o, _)| *o == v).map(|(_, t)| *t);
            let slot = |v: VReg| slot_of[v.index()].unwrap_or(0);
            avail.retain(|a| !temps.iter().any(|(o, _)| *o == a.0));
            avail.extend(temps.iter().map(|(o, t)| (*o, *t, k)));
            let mut done = Vec::new();
            for r in &uses {
                if let (Reg::V(v), false) = (
                    *r,
                    done.contains(r) || reused.iter().any(|x| Reg::V(*x) == *r),
                ) {
                    done.push(*r);
                    if let Some(t) = temp(v) {
                        new.insts.push(VInst::Reload {
                            dst: Reg::V(t),
                            slot: slot(v),
                        });
                        new.locs.push(loc);
                    }
                }
            }
            let mut inst = inst;
            inst.map_regs(|r| match r {
                Reg::V(v) => temp(v).map_or(r, Reg::V),
                p => p,
            });
            new.insts.push(inst);
            new.locs.push(loc);
            for r in &defs {
                if let Reg::V(v) = *r {
                    if let Some(t) = temp(v) {
                        new.insts.push(VInst::Spill {
                            slot: slot(v),
                            src: Reg::V(t),
                        });
                        new.locs.push(loc);
                    }
                }
            }
        }
        vc.blocks[b] = new;
    }
}

/// Share stack slots between spilled vregs whose slot lifetimes (from a
/// spill to the last reload it can reach) do not overlap; returns the
/// number of slots left. Greedy interval colouring in start order.
fn compact_slots(vc: &mut VCode, slots: u32) -> u32 {
    if slots == 0 {
        return 0;
    }
    let n = slots as usize;
    let idx = block_index(vc);
    let nb = vc.order.len();
    let mut gen = vec![BitSet::new(n); nb];
    let mut kill = vec![BitSet::new(n); nb];
    for (bi, b) in vc.order.iter().enumerate() {
        for inst in &vc.blocks[*b].insts {
            match inst {
                VInst::Reload { slot, .. } if !kill[bi].contains(*slot as usize) => {
                    gen[bi].insert(*slot as usize)
                }
                VInst::Spill { slot, .. } => kill[bi].insert(*slot as usize),
                _ => {}
            }
        }
    }
    let succ: Vec<Vec<usize>> = vc.order.iter().map(|b| succs(vc, *b, &idx)).collect();
    let mut live_in = gen.clone();
    let mut live_out = vec![BitSet::new(n); nb];
    let mut changed = true;
    while changed {
        changed = false;
        for bi in (0..nb).rev() {
            let mut out = BitSet::new(n);
            for &s in &succ[bi] {
                out.union_with(&live_in[s]);
            }
            let mut inn = out.clone();
            for (w, k) in inn.0.iter_mut().zip(&kill[bi].0) {
                *w &= !k;
            }
            inn.union_with(&gen[bi]);
            changed |= live_in[bi].union_with(&inn);
            live_out[bi] = out;
        }
    }
    let mut start = vec![u32::MAX; n];
    let mut end = vec![0u32; n];
    let mut pos = 0u32;
    for (bi, b) in vc.order.iter().enumerate() {
        let len = vc.blocks[*b].insts.len() as u32;
        let mut touch = |s: usize, p: u32| {
            start[s] = start[s].min(p);
            end[s] = end[s].max(p);
        };
        for s in live_in[bi].iter() {
            touch(s, 2 * pos);
        }
        for s in live_out[bi].iter() {
            touch(s, 2 * (pos + len) - 1);
        }
        for (k, inst) in vc.blocks[*b].insts.iter().enumerate() {
            let i = pos + k as u32;
            match inst {
                VInst::Reload { slot, .. } => touch(*slot as usize, 2 * i),
                VInst::Spill { slot, .. } => touch(*slot as usize, 2 * i + 1),
                _ => {}
            }
        }
        pos += len;
    }
    let mut ivs: Vec<(u32, u32, usize)> = (0..n)
        .filter(|&s| start[s] != u32::MAX)
        .map(|s| (start[s], end[s], s))
        .collect();
    ivs.sort_unstable();
    let mut color = vec![0u32; n];
    let mut busy_until: Vec<u32> = Vec::new(); // per colour: end of its current occupant
    for (s, e, slot) in ivs {
        let c = match busy_until.iter().position(|&until| until < s) {
            Some(c) => c,
            None => {
                busy_until.push(0);
                busy_until.len() - 1
            }
        };
        busy_until[c] = e;
        color[slot] = c as u32;
    }
    for b in vc.blocks.values_mut() {
        for inst in &mut b.insts {
            if let VInst::Reload { slot, .. } | VInst::Spill { slot, .. } = inst {
                *slot = color[*slot as usize];
            }
        }
    }
    busy_until.len() as u32
}
