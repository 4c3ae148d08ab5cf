//! Abstract register values: the kernel's `bpf_reg_state` reduced to what
//! stapc's programs use — scalars with a tnum and signed/unsigned 64-bit
//! ranges, and pointers (context, stack, map value, map value or null, map,
//! ring-buffer memory) with a fixed and a variable offset.
//!
//! Also the scalar transfer functions for ALU instructions and the branch
//! refinements for conditional jumps. Everything here may lose precision
//! relative to the kernel but never gains it: a value the kernel cannot
//! bound, we cannot bound either.

use super::tnum::Tnum;

/// Largest offset or size the kernel lets a pointer carry (`BPF_MAX_VAR_OFF`).
pub const MAX_VAR_OFF: i64 = 1 << 29;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegType {
    NotInit,
    Scalar,
    /// PTR_TO_CTX.
    Ctx,
    /// PTR_TO_STACK (r10 is `Stack` with offset 0).
    Stack,
    MapValue,
    MapValueOrNull,
    /// CONST_PTR_TO_MAP.
    ConstMap,
    /// PTR_TO_MEM | MEM_RINGBUF (memory from `bpf_ringbuf_reserve`).
    RingbufMem,
    RingbufMemOrNull,
}

impl RegType {
    pub fn is_pointer(self) -> bool {
        !matches!(self, RegType::NotInit | RegType::Scalar)
    }

    pub fn maybe_null(self) -> bool {
        matches!(self, RegType::MapValueOrNull | RegType::RingbufMemOrNull)
    }
}

/// One register (or spilled stack slot) value.
///
/// For scalars `var`/bounds describe the value; for pointers they describe
/// the variable part of the offset and `off` the fixed part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg {
    pub ty: RegType,
    pub off: i32,
    pub var: Tnum,
    pub smin: i64,
    pub smax: i64,
    pub umin: u64,
    pub umax: u64,
    /// Bounds of the low 32 bits, tracked on their own as the kernel does
    /// (32-bit ALU and JMP32 work on them).
    pub s32min: i32,
    pub s32max: i32,
    pub u32min: u32,
    pub u32max: u32,
    /// Shared by copies of a maybe-null pointer, so one null check refines all.
    pub id: u32,
    /// Map index (map pointers and map values).
    pub map: u32,
    /// Reference acquired by `ringbuf_reserve` (0 = none).
    pub ref_obj: u32,
    /// Size of ring-buffer memory.
    pub mem_size: u32,
}

impl Reg {
    pub const NOT_INIT: Reg = Reg {
        ty: RegType::NotInit,
        off: 0,
        var: Tnum::UNKNOWN,
        smin: i64::MIN,
        smax: i64::MAX,
        umin: 0,
        umax: u64::MAX,
        s32min: i32::MIN,
        s32max: i32::MAX,
        u32min: 0,
        u32max: u32::MAX,
        id: 0,
        map: 0,
        ref_obj: 0,
        mem_size: 0,
    };

    pub fn unknown() -> Reg {
        Reg {
            ty: RegType::Scalar,
            ..Reg::NOT_INIT
        }
    }

    pub fn known(v: u64) -> Reg {
        Reg {
            ty: RegType::Scalar,
            var: Tnum::known(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32min: v as u32 as i32,
            s32max: v as u32 as i32,
            u32min: v as u32,
            u32max: v as u32,
            ..Reg::NOT_INIT
        }
    }

    /// A scalar in `0..=max` (a zero-extended load of a narrow size).
    pub fn unknown_upto(max: u64) -> Reg {
        let mut r = Reg::unknown();
        r.umax = max;
        r.var = Tnum::range(0, max);
        r.sync();
        r
    }

    /// A scalar in `min..=max` signed (a sign-extended narrow value).
    pub fn unknown_signed(min: i64, max: i64) -> Reg {
        let mut r = Reg::unknown();
        r.smin = min;
        r.smax = max;
        r.sync();
        r
    }

    /// A pointer of type `ty` with fixed offset 0 and no variable part.
    pub fn pointer(ty: RegType) -> Reg {
        Reg {
            ty,
            ..Reg::known(0)
        }
    }

    pub fn is_const(&self) -> bool {
        self.var.is_const()
    }

    pub fn is_scalar(&self) -> bool {
        self.ty == RegType::Scalar
    }

    pub fn is_known_zero(&self) -> bool {
        self.ty == RegType::Scalar && self.is_const() && self.var.value == 0
    }

    /// Makes the ranges and the tnum agree with each other, the 64-bit
    /// and the 32-bit ones too (the kernel's `reg_bounds_sync`).
    pub fn sync(&mut self) {
        self.update_bounds();
        self.deduce32();
        self.deduce_64_to_32();
        self.deduce_bounds();
        self.deduce_32_to_64();
        self.deduce_bounds();
        self.bound_offset();
        self.update_bounds();
    }

    fn update_bounds(&mut self) {
        let sign = 1u64 << 63;
        self.smin = self
            .smin
            .max((self.var.value | (self.var.mask & sign)) as i64);
        self.smax = self
            .smax
            .min((self.var.value | (self.var.mask & !sign)) as i64);
        self.umin = self.umin.max(self.var.value);
        self.umax = self.umax.min(self.var.value | self.var.mask);
        let sub = self.var.cast(4);
        let (v, m) = (sub.value as u32, sub.mask as u32);
        self.s32min = self.s32min.max((v | (m & 0x8000_0000)) as i32);
        self.s32max = self.s32max.min((v | (m & 0x7fff_ffff)) as i32);
        self.u32min = self.u32min.max(v);
        self.u32max = self.u32max.min(v | m);
    }

    /// Signed and unsigned 32-bit bounds tighten each other when the sign
    /// is known.
    fn deduce32(&mut self) {
        if self.s32min >= 0 || self.s32max < 0 {
            let lo = (self.s32min as u32).max(self.u32min);
            let hi = (self.s32max as u32).min(self.u32max);
            self.s32min = lo as i32;
            self.u32min = lo;
            self.s32max = hi as i32;
            self.u32max = hi;
            return;
        }
        if (self.u32max as i32) >= 0 {
            self.s32min = self.u32min as i32;
            let hi = (self.s32max as u32).min(self.u32max);
            self.s32max = hi as i32;
            self.u32max = hi;
        } else if (self.u32min as i32) < 0 {
            let lo = (self.s32min as u32).max(self.u32min);
            self.s32min = lo as i32;
            self.u32min = lo;
            self.s32max = self.u32max as i32;
        }
    }

    /// When a 64-bit range does not cross a 2^32 boundary, its ends bound
    /// the low 32 bits.
    fn deduce_64_to_32(&mut self) {
        if self.umin >> 32 == self.umax >> 32 {
            let (lo, hi) = (self.umin as u32, self.umax as u32);
            self.u32min = self.u32min.max(lo);
            self.u32max = self.u32max.min(hi);
            if (lo as i32) <= (hi as i32) {
                self.s32min = self.s32min.max(lo as i32);
                self.s32max = self.s32max.min(hi as i32);
            }
        }
        if self.smin >= i32::MIN as i64 && self.smax <= i32::MAX as i64 {
            self.s32min = self.s32min.max(self.smin as i32);
            self.s32max = self.s32max.min(self.smax as i32);
        }
        if self.smin >> 32 == self.smax >> 32 {
            let (lo, hi) = (self.smin as u32, self.smax as u32);
            if lo <= hi {
                self.u32min = self.u32min.max(lo);
                self.u32max = self.u32max.min(hi);
            }
            if (lo as i32) <= (hi as i32) {
                self.s32min = self.s32min.max(lo as i32);
                self.s32max = self.s32max.min(hi as i32);
            }
        }
    }

    /// The low-32-bit unsigned bounds tighten the 64-bit ones (the
    /// kernel's `__reg_deduce_mixed_bounds`: replacing the low half of a
    /// bound by the low half's own bound keeps it a bound).
    fn deduce_32_to_64(&mut self) {
        if self.u32min > self.u32max || self.s32min > self.s32max {
            return;
        }
        let lo = self.u32min as u64;
        let hi = self.u32max as u64;
        self.umin = self.umin.max((self.umin & !0xffff_ffff) | lo);
        self.umax = self.umax.min((self.umax & !0xffff_ffff) | hi);
        self.smin = self
            .smin
            .max(((self.smin as u64 & !0xffff_ffff) | lo) as i64);
        self.smax = self
            .smax
            .min(((self.smax as u64 & !0xffff_ffff) | hi) as i64);
        // A value within the s32 range whose low half is non-negative
        // cannot have all-ones upper bits: it is its low half.
        if self.s32min >= 0 && self.smin >= i32::MIN as i64 && self.smax <= i32::MAX as i64 {
            self.smin = self.s32min as i64;
            self.smax = self.s32max as i64;
            self.umin = self.s32min as u64;
            self.umax = self.s32max as u64;
        }
    }

    fn deduce_bounds(&mut self) {
        if self.smin >= 0 || self.smax < 0 {
            let lo = (self.smin as u64).max(self.umin);
            let hi = (self.smax as u64).min(self.umax);
            self.smin = lo as i64;
            self.umin = lo;
            self.smax = hi as i64;
            self.umax = hi;
            return;
        }
        if (self.umax as i64) >= 0 {
            self.smin = self.umin as i64;
            let hi = (self.smax as u64).min(self.umax);
            self.smax = hi as i64;
            self.umax = hi;
        } else if (self.umin as i64) < 0 {
            let lo = (self.smin as u64).max(self.umin);
            self.smin = lo as i64;
            self.umin = lo;
            self.smax = self.umax as i64;
        }
    }

    fn bound_offset(&mut self) {
        if self.umin <= self.umax {
            self.var = self.var.intersect(Tnum::range(self.umin, self.umax));
        }
        if self.u32min <= self.u32max {
            let low = self
                .var
                .cast(4)
                .intersect(Tnum::range(self.u32min as u64, self.u32max as u64));
            self.var = Tnum {
                value: (self.var.value & !0xffff_ffff) | low.value,
                mask: (self.var.mask & !0xffff_ffff) | low.mask,
            };
        }
    }

    /// False when no value satisfies the bounds (a dead branch).
    pub fn is_consistent(&self) -> bool {
        self.umin <= self.umax
            && self.smin <= self.smax
            && self.u32min <= self.u32max
            && self.s32min <= self.s32max
            && self.var.overlaps(Tnum::range(self.umin, self.umax))
            && self.umin <= self.var.max()
            && self.umax >= self.var.min()
    }

    /// The low 32 bits zero-extended (the result of any 32-bit ALU
    /// operation, and what unsigned JMP32 compares).
    pub fn zext32(&self) -> Reg {
        let mut r = Reg::unknown();
        r.var = self.var.cast(4);
        r.umin = self.u32min as u64;
        r.umax = self.u32max as u64;
        r.u32min = self.u32min;
        r.u32max = self.u32max;
        r.s32min = self.s32min;
        r.s32max = self.s32max;
        r.sync();
        r
    }

    /// The low 32 bits sign-extended to 64 (what signed JMP32 compares).
    pub fn sext32(&self) -> Reg {
        let mut r = Reg::unknown();
        let low = self.var.cast(4);
        r.var = if low.mask & 0x8000_0000 != 0 {
            Tnum {
                value: low.value,
                mask: low.mask | 0xffff_ffff_0000_0000,
            }
        } else if low.value & 0x8000_0000 != 0 {
            Tnum {
                value: low.value | 0xffff_ffff_0000_0000,
                mask: low.mask,
            }
        } else {
            low
        };
        r.smin = self.s32min as i64;
        r.smax = self.s32max as i64;
        r.u32min = self.u32min;
        r.u32max = self.u32max;
        r.s32min = self.s32min;
        r.s32max = self.s32max;
        r.sync();
        r
    }

    /// Truncation to the low 32 bits, zero-extended (result of ALU32 ops).
    pub fn trunc32(self) -> Reg {
        self.zext32()
    }

    /// Narrows the low 32 bits to what `view` (a `zext32` or `sext32` of
    /// this register, refined by a JMP32) allows.
    pub fn narrow_low32(&mut self, view: &Reg) {
        let low = view.var.cast(4);
        let cur = self.var.cast(4).intersect(low);
        self.var = Tnum {
            value: (self.var.value & !0xffff_ffff) | cur.value,
            mask: (self.var.mask & !0xffff_ffff) | cur.mask,
        };
        self.u32min = self.u32min.max(view.u32min);
        self.u32max = self.u32max.min(view.u32max);
        self.s32min = self.s32min.max(view.s32min);
        self.s32max = self.s32max.min(view.s32max);
        self.sync();
    }
}

/// `dst op= src` on two scalars, `alu32` for the 32-bit class. `op` is the
/// BPF operation (high 4 bits of the opcode); `signed` for sdiv/smod.
pub fn scalar_alu(op: u8, dst: &Reg, src: &Reg, alu32: bool) -> Reg {
    use bpf::insn::*;
    let (a, b) = if alu32 {
        if op == BPF_ARSH {
            (dst.sext32(), src.zext32())
        } else {
            (dst.zext32(), src.zext32())
        }
    } else {
        (*dst, *src)
    };
    let bits: u64 = if alu32 { 32 } else { 64 };
    // What the kernel does not track at all comes back unknown in all 64
    // bits, even for 32-bit operations (`is_safe_to_compute_dst_reg_range`):
    // division, modulo, and shifts by anything but an in-range constant.
    match op {
        BPF_DIV | BPF_MOD | BPF_NEG | BPF_END => return Reg::unknown(),
        BPF_LSH | BPF_RSH | BPF_ARSH if !b.is_const() || b.umax >= bits => return Reg::unknown(),
        _ => {}
    }
    let mut r = Reg::unknown();
    // The low 32 bits of a sum or difference depend only on the operands'
    // low 32 bits, for 64-bit and 32-bit operations alike.
    let low32 = match op {
        BPF_ADD => Some((
            dst.s32min
                .checked_add(src.s32min)
                .zip(dst.s32max.checked_add(src.s32max)),
            dst.u32min
                .checked_add(src.u32min)
                .zip(dst.u32max.checked_add(src.u32max)),
        )),
        BPF_SUB => Some((
            dst.s32min
                .checked_sub(src.s32max)
                .zip(dst.s32max.checked_sub(src.s32min)),
            (dst.u32min >= src.u32max).then(|| (dst.u32min - src.u32max, dst.u32max - src.u32min)),
        )),
        _ => None,
    };
    match op {
        BPF_ADD => {
            r.var = a.var.add(b.var);
            let (smin, o1) = a.smin.overflowing_add(b.smin);
            let (smax, o2) = a.smax.overflowing_add(b.smax);
            if !o1 && !o2 {
                r.smin = smin;
                r.smax = smax;
            }
            let (umin, o1) = a.umin.overflowing_add(b.umin);
            let (umax, o2) = a.umax.overflowing_add(b.umax);
            if !o1 && !o2 {
                r.umin = umin;
                r.umax = umax;
            }
        }
        BPF_SUB => {
            r.var = a.var.sub(b.var);
            let (smin, o1) = a.smin.overflowing_sub(b.smax);
            let (smax, o2) = a.smax.overflowing_sub(b.smin);
            if !o1 && !o2 {
                r.smin = smin;
                r.smax = smax;
            }
            if a.umin >= b.umax {
                r.umin = a.umin - b.umax;
                r.umax = a.umax - b.umin;
            }
        }
        BPF_MUL => {
            // Interval multiplication; any overflow gives up that half.
            r.var = a.var.mul(b.var);
            if let (Some(lo), Some(hi)) = (a.umin.checked_mul(b.umin), a.umax.checked_mul(b.umax)) {
                r.umin = lo;
                r.umax = hi;
            }
            let prods = [
                a.smin.checked_mul(b.smin),
                a.smin.checked_mul(b.smax),
                a.smax.checked_mul(b.smin),
                a.smax.checked_mul(b.smax),
            ];
            if prods.iter().all(Option::is_some) {
                let p = prods.map(|x| x.unwrap_or(0));
                r.smin = p.iter().copied().min().unwrap_or(i64::MIN);
                r.smax = p.iter().copied().max().unwrap_or(i64::MAX);
            }
        }
        BPF_AND => {
            r.var = a.var.and(b.var);
            r.umin = r.var.value;
            r.umax = a.umax.min(b.umax);
            if a.smin >= 0 && b.smin >= 0 {
                r.smin = r.umin as i64;
                r.smax = r.umax as i64;
            }
        }
        BPF_OR => {
            r.var = a.var.or(b.var);
            r.umin = a.umin.max(b.umin);
            r.umax = r.var.value | r.var.mask;
            if a.smin >= 0 && b.smin >= 0 {
                r.smin = r.umin as i64;
                r.smax = r.umax as i64;
            }
        }
        BPF_XOR => {
            r.var = a.var.xor(b.var);
            r.umin = r.var.value;
            r.umax = r.var.value | r.var.mask;
            if a.smin >= 0 && b.smin >= 0 {
                r.smin = r.umin as i64;
                r.smax = r.umax as i64;
            }
        }
        BPF_LSH | BPF_RSH | BPF_ARSH => {
            // Shift amounts the verifier cannot bound below the width give
            // an unknown result, as in the kernel.
            if b.umax >= bits {
                return finish(r, alu32, low32);
            }
            let (lo, hi) = (b.umin as u32, b.umax as u32);
            match op {
                BPF_LSH => {
                    r.var = if b.is_const() {
                        a.var.lshift(lo)
                    } else {
                        Tnum::UNKNOWN
                    };
                    if hi < 64 && a.umax <= (u64::MAX >> hi) {
                        r.umin = a.umin << lo;
                        r.umax = a.umax << hi;
                    }
                }
                BPF_RSH => {
                    r.var = if b.is_const() {
                        a.var.rshift(lo)
                    } else {
                        Tnum::UNKNOWN
                    };
                    r.umin = a.umin >> hi;
                    r.umax = a.umax >> lo;
                }
                _ => {
                    r.var = if b.is_const() {
                        a.var.arshift(lo)
                    } else {
                        Tnum::UNKNOWN
                    };
                    // Negative values move towards -1 and positive ones
                    // towards 0 as the shift grows: the extremes are at the
                    // smallest or the largest shift.
                    r.smin = (a.smin >> lo).min(a.smin >> hi);
                    r.smax = (a.smax >> lo).max(a.smax >> hi);
                }
            }
        }
        BPF_MOV => {
            r = b;
        }
        _ => {}
    }
    finish(r, alu32, low32)
}

type Low32 = (Option<(i32, i32)>, Option<(u32, u32)>);

fn finish(mut r: Reg, alu32: bool, low32: Option<Low32>) -> Reg {
    if let Some((s, u)) = low32 {
        if let Some((lo, hi)) = s {
            r.s32min = r.s32min.max(lo);
            r.s32max = r.s32max.min(hi);
        }
        if let Some((lo, hi)) = u {
            r.u32min = r.u32min.max(lo);
            r.u32max = r.u32max.min(hi);
        }
    }
    r.sync();
    if !r.is_consistent() {
        r = Reg::unknown();
    }
    if alu32 {
        r = r.trunc32();
    }
    r
}

/// Unsigned/signed comparison kinds after normalising a jump opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sgt,
    Sge,
    Slt,
    Sle,
    Set,
    /// Negation of `Set`: no common bit.
    NotSet,
}

impl Cmp {
    pub fn from_op(op: u8) -> Option<Cmp> {
        use bpf::insn::*;
        Some(match op {
            BPF_JEQ => Cmp::Eq,
            BPF_JNE => Cmp::Ne,
            BPF_JGT => Cmp::Gt,
            BPF_JGE => Cmp::Ge,
            BPF_JLT => Cmp::Lt,
            BPF_JLE => Cmp::Le,
            BPF_JSGT => Cmp::Sgt,
            BPF_JSGE => Cmp::Sge,
            BPF_JSLT => Cmp::Slt,
            BPF_JSLE => Cmp::Sle,
            BPF_JSET => Cmp::Set,
            _ => return None,
        })
    }

    pub fn negate(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
            Cmp::Gt => Cmp::Le,
            Cmp::Ge => Cmp::Lt,
            Cmp::Lt => Cmp::Ge,
            Cmp::Le => Cmp::Gt,
            Cmp::Sgt => Cmp::Sle,
            Cmp::Sge => Cmp::Slt,
            Cmp::Slt => Cmp::Sge,
            Cmp::Sle => Cmp::Sgt,
            Cmp::Set => Cmp::NotSet,
            Cmp::NotSet => Cmp::Set,
        }
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Cmp::Sgt | Cmp::Sge | Cmp::Slt | Cmp::Sle)
    }
}

/// Whether `a cmp b` is always true (`Some(true)`), always false, or unknown.
/// `tnum_overlap`: newer kernels also decide equality from the known bits.
pub fn branch_taken(cmp: Cmp, a: &Reg, b: &Reg, tnum_overlap: bool) -> Option<bool> {
    // What the kernel's `is_scalar_branch_taken` can tell, and no more:
    // equality from constants and disjoint ranges (64- and 32-bit), bit
    // tests only against a constant.
    let both_const = a.is_const() && b.is_const();
    let (av, bv) = (a.var.value, b.var.value);
    match cmp {
        Cmp::Eq | Cmp::Ne => {
            let eq = if both_const {
                Some(av == bv)
            } else if a.umin > b.umax
                || a.umax < b.umin
                || a.smin > b.smax
                || a.smax < b.smin
                || a.u32min > b.u32max
                || a.u32max < b.u32min
                || a.s32min > b.s32max
                || a.s32max < b.s32min
                || (tnum_overlap && !a.var.overlaps(b.var))
            {
                Some(false)
            } else {
                None
            };
            eq.map(|e| if cmp == Cmp::Eq { e } else { !e })
        }
        Cmp::Set | Cmp::NotSet => {
            let (t, k) = if b.is_const() {
                (a.var, bv)
            } else if a.is_const() {
                (b.var, av)
            } else {
                return None;
            };
            let set = if t.value & k != 0 {
                Some(true)
            } else if t.max() & k == 0 {
                Some(false)
            } else {
                None
            };
            set.map(|s| if cmp == Cmp::Set { s } else { !s })
        }
        Cmp::Gt => decide(a.umin > b.umax, a.umax <= b.umin),
        Cmp::Ge => decide(a.umin >= b.umax, a.umax < b.umin),
        Cmp::Lt => decide(a.umax < b.umin, a.umin >= b.umax),
        Cmp::Le => decide(a.umax <= b.umin, a.umin > b.umax),
        Cmp::Sgt => decide(a.smin > b.smax, a.smax <= b.smin),
        Cmp::Sge => decide(a.smin >= b.smax, a.smax < b.smin),
        Cmp::Slt => decide(a.smax < b.smin, a.smin >= b.smax),
        Cmp::Sle => decide(a.smax <= b.smin, a.smin > b.smax),
    }
}

fn decide(always: bool, never: bool) -> Option<bool> {
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

/// Narrows `a` and `b` on the path where `a cmp b` holds. Returns false when
/// that path is impossible.
pub fn refine(cmp: Cmp, a: &mut Reg, b: &mut Reg) -> bool {
    match cmp {
        Cmp::Eq => {
            let mut m = *a;
            m.umin = a.umin.max(b.umin);
            m.umax = a.umax.min(b.umax);
            m.smin = a.smin.max(b.smin);
            m.smax = a.smax.min(b.smax);
            if !a.var.overlaps(b.var) {
                return false;
            }
            m.var = a.var.intersect(b.var);
            a.umin = m.umin;
            a.umax = m.umax;
            a.smin = m.smin;
            a.smax = m.smax;
            a.var = m.var;
            b.umin = m.umin;
            b.umax = m.umax;
            b.smin = m.smin;
            b.smax = m.smax;
            b.var = m.var;
        }
        Cmp::Ne => {
            if b.is_const() {
                ne_const(a, b.var.value);
            }
            if a.is_const() {
                let v = a.var.value;
                ne_const(b, v);
            }
        }
        Cmp::Gt => {
            if b.umin == u64::MAX || a.umax == 0 {
                return false;
            }
            a.umin = a.umin.max(b.umin + 1);
            b.umax = b.umax.min(a.umax - 1);
        }
        Cmp::Ge => {
            a.umin = a.umin.max(b.umin);
            b.umax = b.umax.min(a.umax);
        }
        Cmp::Lt => {
            if b.umax == 0 || a.umin == u64::MAX {
                return false;
            }
            a.umax = a.umax.min(b.umax - 1);
            b.umin = b.umin.max(a.umin + 1);
        }
        Cmp::Le => {
            a.umax = a.umax.min(b.umax);
            b.umin = b.umin.max(a.umin);
        }
        Cmp::Sgt => {
            if b.smin == i64::MAX || a.smax == i64::MIN {
                return false;
            }
            a.smin = a.smin.max(b.smin + 1);
            b.smax = b.smax.min(a.smax - 1);
        }
        Cmp::Sge => {
            a.smin = a.smin.max(b.smin);
            b.smax = b.smax.min(a.smax);
        }
        Cmp::Slt => {
            if b.smax == i64::MIN || a.smin == i64::MAX {
                return false;
            }
            a.smax = a.smax.min(b.smax - 1);
            b.smin = b.smin.max(a.smin + 1);
        }
        Cmp::Sle => {
            a.smax = a.smax.min(b.smax);
            b.smin = b.smin.max(a.smin);
        }
        // The kernel learns bits from `&` tests and then keeps only what the
        // bits say (6.18's logs show the earlier ranges dropped); so do we,
        // never knowing more than it does.
        Cmp::Set => {
            if b.is_const() && b.var.value.is_power_of_two() {
                let var = a.var.or(b.var);
                *a = Reg {
                    var,
                    ..Reg::unknown()
                };
            }
        }
        Cmp::NotSet => {
            if b.is_const() {
                let var = a.var.and(Tnum::known(!b.var.value));
                *a = Reg {
                    var,
                    ..Reg::unknown()
                };
            }
        }
    }
    if a.umin > a.umax || a.smin > a.smax || b.umin > b.umax || b.smin > b.smax {
        return false;
    }
    a.sync();
    b.sync();
    a.is_consistent() && b.is_consistent()
}

fn ne_const(r: &mut Reg, v: u64) {
    if r.umin == v && r.umin < r.umax {
        r.umin += 1;
    } else if r.umax == v && r.umin < r.umax {
        r.umax -= 1;
    }
    let s = v as i64;
    if r.smin == s && r.smin < r.smax {
        r.smin += 1;
    } else if r.smax == s && r.smin < r.smax {
        r.smax -= 1;
    }
    if r.is_const() && r.var.value == v {
        // Contradiction: caught by the consistency check through bounds.
        r.umin = 1;
        r.umax = 0;
    }
}

/// Subsumption for pruning: every concrete value `new` may hold, `old` may
/// hold too (ids are checked by the caller).
pub fn scalar_covers(old: &Reg, new: &Reg) -> bool {
    old.umin <= new.umin
        && old.umax >= new.umax
        && old.smin <= new.smin
        && old.smax >= new.smax
        && old.var.contains(new.var)
        && old.u32min <= new.u32min
        && old.u32max >= new.u32max
        && old.s32min <= new.s32min
        && old.s32max >= new.s32max
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpf::insn::*;

    #[test]
    fn and_bounds_the_value() {
        let r = scalar_alu(BPF_AND, &Reg::unknown(), &Reg::known(0xff), false);
        assert_eq!((r.umin, r.umax, r.smin, r.smax), (0, 255, 0, 255));
        let r = scalar_alu(BPF_ADD, &r, &Reg::known(1), false);
        assert_eq!((r.umin, r.umax), (1, 256));
    }

    #[test]
    fn alu32_truncates() {
        let r = scalar_alu(BPF_ADD, &Reg::known(0xffff_ffff), &Reg::known(1), true);
        assert!(r.is_const() && r.var.value == 0);
        let r = scalar_alu(BPF_SUB, &Reg::known(0), &Reg::known(1), true);
        assert_eq!(r.var.value, 0xffff_ffff);
    }

    #[test]
    fn refine_unsigned() {
        let mut a = Reg::unknown();
        let mut b = Reg::known(10);
        assert!(refine(Cmp::Lt, &mut a, &mut b));
        assert_eq!((a.umin, a.umax), (0, 9));
        assert_eq!(branch_taken(Cmp::Lt, &a, &Reg::known(10), true), Some(true));
        let mut c = Reg::known(3);
        assert!(!refine(Cmp::Gt, &mut c, &mut Reg::known(5)));
    }
}
