//! The allocation checker, in regalloc2's spirit: a forward dataflow over
//! the allocated VCode that tracks, for every physical location (r0–r9 and
//! each spill slot), the set of values it certainly holds, and proves that
//! every use reads the value that was meant.
//!
//! Values are the *canonical* vregs (a spill temporary stands for the vreg
//! it was split from) plus the physical registers isel wrote directly
//! (helper arguments and results). A def of value `x` removes `x` from every
//! other location (its older copies are stale) and sets the location to
//! `{x}`; spills and reloads copy sets between a register and a slot; calls
//! empty r0–r5 before defining r0; at joins the sets intersect. It also
//! checks that nothing writes r10, that r10 is never allocated and that
//! isel's own stack stores stay out of the spill area.

use cranelift_entity::EntityRef;

use crate::error::BackendError;
use crate::isel::RESERVED_STACK;
use crate::regalloc::{block_index, Allocation};
use crate::vcode::{Reg, Src, VInst, VReg};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Val {
    V(VReg),
    P(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Loc {
    R(u8),
    S(u32),
}

/// Per location (r0..=r10, then the spill slots) the values it certainly
/// holds, as a small sorted vector.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State(Vec<Vec<Val>>);

impl State {
    fn new(slots: u32) -> State {
        State(vec![Vec::new(); 11 + slots as usize])
    }

    fn index(loc: Loc) -> usize {
        match loc {
            Loc::R(r) => r as usize,
            Loc::S(s) => 11 + s as usize,
        }
    }

    fn get(&self, loc: Loc) -> &[Val] {
        self.0.get(Self::index(loc)).map_or(&[], |v| v.as_slice())
    }

    fn set(&mut self, loc: Loc, vals: Vec<Val>) {
        let i = Self::index(loc);
        if i >= self.0.len() {
            self.0.resize(i + 1, Vec::new());
        }
        self.0[i] = vals;
    }

    fn meet(&self, other: &State) -> State {
        let n = self.0.len().max(other.0.len());
        State(
            (0..n)
                .map(|i| match (self.0.get(i), other.0.get(i)) {
                    (Some(a), Some(b)) => a.iter().filter(|v| b.contains(v)).copied().collect(),
                    _ => Vec::new(),
                })
                .collect(),
        )
    }
}

struct Checker<'a> {
    a: &'a Allocation,
}

impl Checker<'_> {
    fn err(&self, what: String) -> BackendError {
        BackendError::Checker {
            func: self.a.vcode.name.clone(),
            what,
        }
    }

    fn loc(&self, r: Reg) -> Result<Loc, BackendError> {
        match self.a.reg(r) {
            Some(10) if matches!(r, Reg::V(_)) => {
                Err(self.err(format!("{r} was allocated to r10")))
            }
            Some(p) if p <= 10 => Ok(Loc::R(p)),
            Some(p) => Err(self.err(format!("{r} was allocated to invalid register r{p}"))),
            None => Err(self.err(format!("{r} has no register"))),
        }
    }

    fn val(&self, r: Reg) -> Val {
        match r {
            Reg::P(p) => Val::P(p),
            Reg::V(v) => Val::V(self.a.canonical.get(v.index()).copied().unwrap_or(v)),
        }
    }

    fn check_use(&self, st: &State, r: Reg, inst: &VInst) -> Result<(), BackendError> {
        if r == Reg::P(10) {
            return Ok(());
        }
        let loc = self.loc(r)?;
        let want = self.val(r);
        if st.get(loc).contains(&want) {
            return Ok(());
        }
        Err(self.err(format!(
            "`{inst}` reads {want:?} from {loc:?}, which holds {:?}",
            st.get(loc)
        )))
    }

    fn step(&self, st: &mut State, inst: &VInst, check: bool) -> Result<(), BackendError> {
        match inst {
            VInst::Spill { slot, src } => {
                if check {
                    self.check_use(st, *src, inst)?;
                }
                let set = st.get(self.loc(*src)?).to_vec();
                st.set(Loc::S(*slot), set);
                return Ok(());
            }
            VInst::Reload { dst, slot } => {
                let set = st.get(Loc::S(*slot)).to_vec();
                st.set(self.loc(*dst)?, set);
                return Ok(());
            }
            _ => {}
        }
        if check {
            for u in inst.uses() {
                self.check_use(st, u, inst)?;
            }
            if let VInst::Store {
                base: Reg::P(10),
                off,
                ..
            } = inst
            {
                // The arrays' key buffer at the bottom of the frame is isel's.
                let buffer_top =
                    -(crate::isel::STACK_FRAME as i32) + self.a.vcode.stack_buffer as i32;
                if i32::from(*off) < -(RESERVED_STACK as i32) && i32::from(*off) >= buffer_top {
                    return Err(self.err(format!("`{inst}` writes into the spill area")));
                }
            }
        }
        for c in inst.clobbers() {
            st.set(Loc::R(*c), Vec::new());
        }
        for d in inst.defs() {
            let loc = self.loc(d)?;
            if loc == Loc::R(10) {
                return Err(self.err(format!("`{inst}` writes r10")));
            }
            let v = self.val(d);
            for s in st.0.iter_mut() {
                s.retain(|x| *x != v);
            }
            st.set(loc, vec![v]);
        }
        Ok(())
    }
}

/// Prove `a` correct, or say which instruction reads the wrong value.
pub fn check(a: &Allocation) -> Result<(), BackendError> {
    let c = Checker { a };
    let vc = &a.vcode;
    let idx = block_index(vc);
    let nb = vc.order.len();
    let mut ins: Vec<Option<State>> = vec![None; nb];
    if nb == 0 {
        return Ok(());
    }
    // At entry r1 holds the context.
    let mut entry = State::new(a.spill_slots);
    entry.set(Loc::R(1), vec![Val::P(1)]);
    // A called function also gets its arguments (functions/strings).
    for p in 2..2 + a.vcode.entry_args.min(4) {
        entry.set(Loc::R(p), vec![Val::P(p)]);
    }
    ins[0] = Some(entry);
    let mut work: Vec<usize> = vec![0];
    while let Some(bi) = work.pop() {
        let Some(mut st) = ins[bi].clone() else {
            continue;
        };
        let b = vc.order[bi];
        for inst in &vc.blocks[b].insts {
            c.step(&mut st, inst, false)?;
        }
        if let Some(t) = vc.blocks[b].insts.last() {
            for s in t.successors() {
                let si = idx[s.index()];
                if si == usize::MAX {
                    return Err(c.err(format!("branch to {s}, which is not laid out")));
                }
                let new = match &ins[si] {
                    Some(old) => old.meet(&st),
                    None => st.clone(),
                };
                if ins[si].as_ref() != Some(&new) {
                    ins[si] = Some(new);
                    work.push(si);
                }
            }
        }
    }
    // Check every instruction against the fixpoint.
    for (bi, b) in vc.order.iter().enumerate() {
        let Some(mut st) = ins[bi].clone() else {
            return Err(c.err(format!("{b} is unreachable")));
        };
        let insts = &vc.blocks[*b].insts;
        match insts.last() {
            Some(t) if t.is_terminator() => {}
            _ => return Err(c.err(format!("{b} does not end in a terminator"))),
        }
        for inst in insts {
            if let VInst::Alu {
                src: Src::Reg(Reg::P(10)),
                op,
                ..
            } = inst
            {
                if *op != stapc_bpf::insn::BPF_MOV {
                    return Err(c.err(format!("`{inst}` computes with r10")));
                }
            }
            c.step(&mut st, inst, true)?;
        }
    }
    Ok(())
}
