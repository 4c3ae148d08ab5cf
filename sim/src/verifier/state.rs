//! A verifier state at one instruction: eleven registers, the stack by byte,
//! and the references (ring-buffer reservations) still held. Also the
//! kernel-style printing of a state and the subsumption test used to prune.

use super::reg::{scalar_covers, Reg, RegType};
use super::tnum::Tnum;
use bpf::{KernelVersion, MapDef};
use std::fmt::Write as _;

/// What one stack byte holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotByte {
    /// Never written on this path (STACK_INVALID).
    Invalid,
    /// Written with some unknown data (STACK_MISC).
    Misc,
    /// Known zero (STACK_ZERO).
    Zero,
    /// Part of an 8-byte register spill (STACK_SPILL).
    Spill,
}

/// One 8-byte stack slot; `bytes[0]` is the lowest address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    pub bytes: [SlotByte; 8],
    pub spill: Reg,
}

impl Slot {
    pub const EMPTY: Slot = Slot {
        bytes: [SlotByte::Invalid; 8],
        spill: Reg::NOT_INIT,
    };

    pub fn is_spill(&self) -> bool {
        self.bytes.iter().all(|b| *b == SlotByte::Spill)
    }
}

/// A reference (from `ringbuf_reserve`) the program must release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefState {
    pub id: u32,
    pub insn: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub regs: [Reg; 11],
    /// Slot `i` covers fp-8(i+1) .. fp-8i; grows as the program writes deeper.
    pub stack: Vec<Slot>,
    pub refs: Vec<RefState>,
}

/// Slot index and byte index (0 = lowest address) of stack offset `off` (< 0).
pub fn slot_of(off: i64) -> (usize, usize) {
    let spi = ((-off - 1) / 8) as usize;
    let byte = (off + 8 * (spi as i64 + 1)) as usize;
    (spi, byte)
}

impl State {
    pub fn new(ctx: RegType) -> State {
        let mut regs = [Reg::NOT_INIT; 11];
        regs[1] = Reg::pointer(ctx);
        regs[10] = Reg::pointer(RegType::Stack);
        State {
            regs,
            stack: Vec::new(),
            refs: Vec::new(),
        }
    }

    pub fn byte(&self, off: i64) -> SlotByte {
        let (spi, b) = slot_of(off);
        self.stack
            .get(spi)
            .map(|s| s.bytes[b])
            .unwrap_or(SlotByte::Invalid)
    }

    pub fn slot_mut(&mut self, spi: usize) -> &mut Slot {
        if self.stack.len() <= spi {
            self.stack.resize(spi + 1, Slot::EMPTY);
        }
        &mut self.stack[spi]
    }

    /// Marks `[off, off+size)` as written with `kind` (Misc or Zero),
    /// breaking any spill it touches the way the kernel does: the whole
    /// slot of a broken spill becomes misc.
    pub fn write_bytes(&mut self, off: i64, size: i64, kind: SlotByte) {
        for o in off..off + size {
            let (spi, b) = slot_of(o);
            let slot = self.slot_mut(spi);
            if slot.bytes.contains(&SlotByte::Spill) {
                let zero = slot.spill.is_known_zero();
                for x in slot.bytes.iter_mut() {
                    *x = if zero { SlotByte::Zero } else { SlotByte::Misc };
                }
                slot.spill = Reg::NOT_INIT;
            }
            slot.bytes[b] = kind;
        }
    }

    /// Spills `reg` into the 8-byte aligned slot at `off`.
    pub fn spill(&mut self, off: i64, reg: Reg) {
        let (spi, _) = slot_of(off);
        let slot = self.slot_mut(spi);
        slot.bytes = [SlotByte::Spill; 8];
        slot.spill = reg;
    }

    /// Applies `f` to every register and spilled register.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut Reg)) {
        for r in self.regs.iter_mut() {
            f(r);
        }
        for s in self.stack.iter_mut() {
            if s.is_spill() {
                f(&mut s.spill);
            }
        }
    }
}

/// Kernel type names, which changed over versions ("inv" became "scalar"
/// in 5.18; ring-buffer memory was plain "mem" before).
#[derive(Clone, Copy, Debug)]
pub struct Names {
    pub modern: bool,
    /// The 6.6+ state format: `map=name`, no `off=0`, merged 64/32-bit
    /// bounds (`smin=smin32=0,smax=umax=smax32=umax32=15`).
    pub v66: bool,
}

impl Names {
    pub fn new(k: KernelVersion) -> Names {
        Names {
            modern: k >= KernelVersion::new(5, 18),
            v66: k >= KernelVersion::new(6, 6),
        }
    }

    pub fn ty(&self, t: RegType) -> &'static str {
        match t {
            RegType::NotInit => "?",
            RegType::Scalar => {
                if self.modern {
                    "scalar"
                } else {
                    "inv"
                }
            }
            RegType::Ctx => "ctx",
            RegType::Stack => "fp",
            RegType::MapValue => "map_value",
            RegType::MapValueOrNull => "map_value_or_null",
            RegType::ConstMap => "map_ptr",
            RegType::RingbufMem => {
                if self.modern {
                    "ringbuf_mem"
                } else {
                    "mem"
                }
            }
            RegType::RingbufMemOrNull => {
                if self.modern {
                    "ringbuf_mem_or_null"
                } else {
                    "mem_or_null"
                }
            }
        }
    }
}

/// `verbose_snum`: small numbers in decimal, others in hex.
fn snum(v: i64) -> String {
    if (-512..=512).contains(&v) {
        format!("{v}")
    } else {
        format!("{:#x}", v as u64)
    }
}

/// `verbose_unum`.
fn unum(v: u64) -> String {
    if v <= 512 {
        format!("{v}")
    } else {
        format!("{v:#x}")
    }
}

/// The bounds that are not the defaults. Before 6.6: 64-bit only, one
/// field each. From 6.6: 64- and 32-bit, equal values merged as the
/// kernel's `print_scalar_ranges` does.
fn bounds(r: &Reg, names: Names, out: &mut Vec<String>) {
    if !names.v66 {
        if r.smin != i64::MIN {
            out.push(format!("smin={}", r.smin));
        }
        if r.smax != i64::MAX {
            out.push(format!("smax={}", r.smax));
        }
        if r.umin != 0 {
            out.push(format!("umin={}", r.umin));
        }
        if r.umax != u64::MAX {
            out.push(format!("umax={}", r.umax));
        }
    } else {
        // (name, value, signed, omitted)
        let mut m: [(&str, u64, bool, bool); 8] = [
            ("smin", r.smin as u64, true, r.smin == i64::MIN),
            ("smax", r.smax as u64, true, r.smax == i64::MAX),
            ("umin", r.umin, false, r.umin == 0),
            ("umax", r.umax, false, r.umax == u64::MAX),
            ("smin32", r.s32min as i64 as u64, true, r.s32min == i32::MIN),
            ("smax32", r.s32max as i64 as u64, true, r.s32max == i32::MAX),
            ("umin32", r.u32min as u64, false, r.u32min == 0),
            ("umax32", r.u32max as u64, false, r.u32max == u32::MAX),
        ];
        for i in 0..m.len() {
            if m[i].3 {
                continue;
            }
            let neg1 = m[i].2 && (m[i].1 as i64) < 0;
            let mut field = format!("{}=", m[i].0);
            let mut j = i + 2;
            while j < m.len() {
                let neg2 = m[j].2 && (m[j].1 as i64) < 0;
                if !m[j].3 && neg1 == neg2 && m[i].1 == m[j].1 {
                    field.push_str(&format!("{}=", m[j].0));
                    m[j].3 = true;
                }
                j += 2;
            }
            field.push_str(&if m[i].2 {
                snum(m[i].1 as i64)
            } else {
                unum(m[i].1)
            });
            out.push(field);
        }
    }
    if !r.var.is_unknown() {
        out.push(format!("var_off={}", r.var));
    }
}

/// One register as the kernel log prints it: `5`, `scalar(umax=255,...)`,
/// `ctx()`, `fp-8`, `map_value_or_null(id=1,off=0,ks=4,vs=16)` (6.6+:
/// `map_value_or_null(id=1,map=counts,ks=4,vs=16)`).
pub fn format_reg(r: &Reg, maps: &[MapDef], names: Names) -> String {
    let name = names.ty(r.ty);
    match r.ty {
        RegType::NotInit => "?".into(),
        RegType::Scalar => {
            if r.is_const() {
                return snum(r.var.value as i64);
            }
            let mut f = vec![];
            if r.id != 0 {
                f.push(format!("id={}", r.id));
            }
            bounds(r, names, &mut f);
            format!("{name}({})", f.join(","))
        }
        RegType::Stack if r.is_const() => {
            format!("fp{}", r.off as i64 + r.var.value as i64)
        }
        _ => {
            let mut f = vec![];
            if r.id != 0 && r.ty.maybe_null() {
                f.push(format!("id={}", r.id));
            }
            if r.ref_obj != 0 {
                f.push(format!("ref_obj_id={}", r.ref_obj));
            }
            let is_map = matches!(
                r.ty,
                RegType::MapValue | RegType::MapValueOrNull | RegType::ConstMap
            );
            let m = maps.get(r.map as usize).filter(|_| is_map);
            if names.v66 {
                if let Some(m) = m {
                    if !m.name.is_empty() {
                        f.push(format!("map={}", m.name));
                    }
                    f.push(format!("ks={},vs={}", m.key_size, m.value_size));
                }
                if r.off != 0 {
                    f.push(format!("off={}", snum(r.off as i64)));
                }
            } else {
                if r.ty != RegType::Ctx || r.off != 0 {
                    f.push(format!("off={}", r.off));
                }
                if let Some(m) = m {
                    f.push(format!("ks={},vs={}", m.key_size, m.value_size));
                }
            }
            if matches!(r.ty, RegType::RingbufMem | RegType::RingbufMemOrNull) {
                f.push(format!("sz={}", unum(r.mem_size as u64)));
            }
            if !r.is_const() {
                bounds(r, names, &mut f);
            } else if r.var.value != 0 {
                f.push(format!("imm={}", snum(r.var.value as i64)));
            }
            format!("{name}({})", f.join(","))
        }
    }
}

/// The whole state in the kernel's one-line form:
/// `R0=map_value_or_null(id=1,off=0,ks=4,vs=16) R1=ctx() R10=fp0 fp-8=mmmmmmmm`.
pub fn format_state(s: &State, maps: &[MapDef], names: Names) -> String {
    let mut out = String::new();
    for (i, r) in s.regs.iter().enumerate() {
        if r.ty == RegType::NotInit {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "R{i}={}", format_reg(r, maps, names));
    }
    for (spi, slot) in s.stack.iter().enumerate() {
        if slot.bytes.iter().all(|b| *b == SlotByte::Invalid) {
            continue;
        }
        let off = -8 * (spi as i64 + 1);
        if slot.is_spill() {
            let _ = write!(out, " fp{off}={}", format_reg(&slot.spill, maps, names));
        } else {
            // Highest address first, as the kernel's slot_type[] prints.
            let text: String = slot
                .bytes
                .iter()
                .rev()
                .map(|b| match b {
                    SlotByte::Invalid => '?',
                    SlotByte::Misc => 'm',
                    SlotByte::Zero => '0',
                    SlotByte::Spill => 'r',
                })
                .collect();
            let _ = write!(out, " fp{off}={text}");
        }
    }
    for r in &s.refs {
        let _ = write!(out, " refs={}", r.id);
    }
    out
}

/// Consistent renaming of ids between an old and a new state.
#[derive(Default)]
pub struct IdMap {
    pairs: Vec<(u32, u32)>,
}

impl IdMap {
    fn check(&mut self, old: u32, new: u32) -> bool {
        if old == 0 && new == 0 {
            return true;
        }
        if old == 0 || new == 0 {
            return false;
        }
        for &(o, n) in &self.pairs {
            if o == old || n == new {
                return o == old && n == new;
            }
        }
        self.pairs.push((old, new));
        true
    }
}

fn reg_covers(old: &Reg, new: &Reg, ids: &mut IdMap) -> bool {
    if old.ty == RegType::NotInit {
        return true;
    }
    if old.ty != new.ty {
        return false;
    }
    if old.ty == RegType::Scalar {
        // Links the old path relied on must exist in the new one too.
        return scalar_covers(old, new) && (old.id == 0 || ids.check(old.id, new.id));
    }
    old.off == new.off
        && old.map == new.map
        && old.mem_size == new.mem_size
        && scalar_covers(old, new)
        && ids.check(old.id, new.id)
        && ids.check(old.ref_obj, new.ref_obj)
}

/// True when every execution from `new` is one the already-verified `old`
/// allowed for: `old` subsumes `new` on the live registers and the stack.
pub fn covers(old: &State, new: &State, live: u16) -> bool {
    let mut ids = IdMap::default();
    for i in 0..11 {
        if live & (1 << i) != 0 && !reg_covers(&old.regs[i], &new.regs[i], &mut ids) {
            return false;
        }
    }
    for (spi, o) in old.stack.iter().enumerate() {
        let n = new.stack.get(spi).copied().unwrap_or(Slot::EMPTY);
        if o.is_spill() {
            if !n.is_spill() {
                // An old spilled unknown scalar is as good as misc bytes.
                let unknown_scalar = o.spill.ty == RegType::Scalar
                    && o.spill.var == Tnum::UNKNOWN
                    && o.spill.smin == i64::MIN
                    && o.spill.smax == i64::MAX;
                if !(unknown_scalar && n.bytes.iter().all(|b| *b == SlotByte::Misc)) {
                    return false;
                }
                continue;
            }
            if !reg_covers(&o.spill, &n.spill, &mut ids) {
                return false;
            }
            continue;
        }
        for b in 0..8 {
            let ok = match o.bytes[b] {
                SlotByte::Invalid => true,
                SlotByte::Misc => match n.bytes[b] {
                    SlotByte::Misc | SlotByte::Zero => true,
                    SlotByte::Spill => n.spill.ty == RegType::Scalar,
                    SlotByte::Invalid => false,
                },
                SlotByte::Zero => {
                    n.bytes[b] == SlotByte::Zero
                        || (n.bytes[b] == SlotByte::Spill && n.spill.is_known_zero())
                }
                SlotByte::Spill => false,
            };
            if !ok {
                return false;
            }
        }
    }
    if old.refs.len() != new.refs.len() {
        return false;
    }
    for (o, n) in old.refs.iter().zip(&new.refs) {
        if !ids.check(o.id, n.id) {
            return false;
        }
    }
    true
}
