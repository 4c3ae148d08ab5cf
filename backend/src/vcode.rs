//! VCode: BPF instructions on virtual registers, grouped in blocks, between
//! instruction selection and register allocation.
//!
//! Operand constraints follow regalloc2's spirit but are expressed by
//! *precoloring*: isel writes helper arguments into physical `r1`–`r5`
//! (`Reg::P`) right before a `Call`, reads the result from `r0` right after
//! it, and `Call` clobbers `r0`–`r5`. The allocator keeps virtual registers
//! out of physical registers while those are in use, so anything live across
//! a call ends up in `r6`–`r9` or on the stack. `r10` (frame pointer) only
//! ever appears as a base register and is never allocated.
//!
//! VCode is not SSA: block parameters become plain vregs assigned by moves
//! in predecessors, and two-address ALU forms read and write `dst`.

use std::fmt;

use cranelift_entity::{entity_impl, PrimaryMap};
use stapc_bpf::insn::*;
use stapc_frontend::Span;

/// A virtual register.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VReg(u32);
entity_impl!(VReg, "v");

/// A VCode block.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VBlock(u32);
entity_impl!(VBlock, "L");

/// A register operand: virtual, or a physical BPF register (0..=10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    V(VReg),
    P(u8),
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reg::V(v) => write!(f, "{v}"),
            Reg::P(p) => write!(f, "r{p}"),
        }
    }
}

/// The second operand of ALU ops, stores and conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Src {
    Reg(Reg),
    Imm(i32),
}

impl fmt::Display for Src {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Src::Reg(r) => write!(f, "{r}"),
            Src::Imm(i) => write!(f, "{i}"),
        }
    }
}

/// Registers a helper call clobbers (r0 also receives the result).
pub const CALL_CLOBBERS: [u8; 6] = [0, 1, 2, 3, 4, 5];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VInst {
    /// `dst = dst op src` (`dst = src` for `BPF_MOV`); `wide` = ALU64;
    /// `signed` sets `off = 1` (ISA v4 sdiv/smod).
    Alu {
        op: u8,
        wide: bool,
        signed: bool,
        dst: Reg,
        src: Src,
    },
    /// `dst = -dst`.
    Neg {
        dst: Reg,
    },
    /// `dst = be64(dst)` (byte swap on little-endian hosts).
    Bswap64 {
        dst: Reg,
    },
    /// `lddw dst, imm`.
    LoadImm64 {
        dst: Reg,
        imm: i64,
    },
    /// `lddw dst, map` by map index.
    LoadMap {
        dst: Reg,
        map: u32,
    },
    Load {
        size: u8,
        dst: Reg,
        base: Reg,
        off: i16,
    },
    /// `st` for an immediate, `stx` for a register.
    Store {
        size: u8,
        base: Reg,
        off: i16,
        src: Src,
    },
    /// `lock *(u64 *)(base + off) += src`.
    AtomicAdd {
        base: Reg,
        off: i16,
        src: Reg,
    },
    /// Helper call: reads r1..=r`args`, writes r0, clobbers r0–r5.
    Call {
        helper: i32,
        args: u8,
    },
    /// Allocator-inserted store of `src` to spill slot `slot`.
    Spill {
        slot: u32,
        src: Reg,
    },
    /// Allocator-inserted load of spill slot `slot` into `dst`.
    Reload {
        dst: Reg,
        slot: u32,
    },
    // ---- terminators ----
    Jump {
        dest: VBlock,
    },
    /// `if lhs op rhs goto taken else goto not_taken` (`op` = BPF_J*).
    Branch {
        op: u8,
        lhs: Reg,
        rhs: Src,
        taken: VBlock,
        not_taken: VBlock,
    },
    /// `exit` (returns r0).
    Exit,
}

impl VInst {
    pub fn mov(dst: Reg, src: Src) -> VInst {
        VInst::Alu {
            op: BPF_MOV,
            wide: true,
            signed: false,
            dst,
            src,
        }
    }

    pub fn alu(op: u8, dst: Reg, src: Src) -> VInst {
        VInst::Alu {
            op,
            wide: true,
            signed: false,
            dst,
            src,
        }
    }

    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            VInst::Jump { .. } | VInst::Branch { .. } | VInst::Exit
        )
    }

    pub fn successors(&self) -> Vec<VBlock> {
        match self {
            VInst::Jump { dest } => vec![*dest],
            VInst::Branch {
                taken, not_taken, ..
            } => vec![*taken, *not_taken],
            _ => Vec::new(),
        }
    }

    /// Registers read.
    pub fn uses(&self) -> Vec<Reg> {
        let mut u = Vec::new();
        let src = |s: &Src, u: &mut Vec<Reg>| {
            if let Src::Reg(r) = s {
                u.push(*r)
            }
        };
        match self {
            VInst::Alu {
                op, dst, src: s, ..
            } => {
                if *op != BPF_MOV {
                    u.push(*dst);
                }
                src(s, &mut u);
            }
            VInst::Neg { dst } | VInst::Bswap64 { dst } => u.push(*dst),
            VInst::LoadImm64 { .. } | VInst::LoadMap { .. } | VInst::Reload { .. } => {}
            VInst::Load { base, .. } => u.push(*base),
            VInst::Store { base, src: s, .. } => {
                u.push(*base);
                src(s, &mut u);
            }
            VInst::AtomicAdd { base, src, .. } => {
                u.push(*base);
                u.push(*src);
            }
            VInst::Call { args, .. } => u.extend((1..=*args).map(Reg::P)),
            VInst::Spill { src, .. } => u.push(*src),
            VInst::Jump { .. } => {}
            VInst::Branch { lhs, rhs, .. } => {
                u.push(*lhs);
                src(rhs, &mut u);
            }
            VInst::Exit => u.push(Reg::P(0)),
        }
        u
    }

    /// Registers written.
    pub fn defs(&self) -> Vec<Reg> {
        match self {
            VInst::Alu { dst, .. }
            | VInst::Neg { dst }
            | VInst::Bswap64 { dst }
            | VInst::LoadImm64 { dst, .. }
            | VInst::LoadMap { dst, .. }
            | VInst::Load { dst, .. }
            | VInst::Reload { dst, .. } => vec![*dst],
            VInst::Call { .. } => vec![Reg::P(0)],
            _ => Vec::new(),
        }
    }

    /// Physical registers destroyed (beyond `defs`).
    pub fn clobbers(&self) -> &'static [u8] {
        match self {
            VInst::Call { .. } => &CALL_CLOBBERS,
            _ => &[],
        }
    }

    /// Rewrite every register operand (uses and defs alike).
    pub fn map_regs(&mut self, mut f: impl FnMut(Reg) -> Reg) {
        let src = |s: &mut Src, f: &mut dyn FnMut(Reg) -> Reg| {
            if let Src::Reg(r) = s {
                *r = f(*r)
            }
        };
        match self {
            VInst::Alu { dst, src: s, .. } => {
                *dst = f(*dst);
                src(s, &mut f);
            }
            VInst::Neg { dst }
            | VInst::Bswap64 { dst }
            | VInst::LoadImm64 { dst, .. }
            | VInst::LoadMap { dst, .. }
            | VInst::Reload { dst, .. } => *dst = f(*dst),
            VInst::Load { dst, base, .. } => {
                *dst = f(*dst);
                *base = f(*base);
            }
            VInst::Store { base, src: s, .. } => {
                *base = f(*base);
                src(s, &mut f);
            }
            VInst::AtomicAdd { base, src, .. } => {
                *base = f(*base);
                *src = f(*src);
            }
            VInst::Spill { src, .. } => *src = f(*src),
            VInst::Branch { lhs, rhs, .. } => {
                *lhs = f(*lhs);
                src(rhs, &mut f);
            }
            VInst::Call { .. } | VInst::Jump { .. } | VInst::Exit => {}
        }
    }
}

fn size_name(size: u8) -> &'static str {
    match size {
        BPF_B => "u8",
        BPF_H => "u16",
        BPF_W => "u32",
        _ => "u64",
    }
}

pub fn alu_name(op: u8) -> &'static str {
    match op {
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV => "/=",
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_MOD => "%=",
        BPF_XOR => "^=",
        BPF_MOV => "=",
        BPF_ARSH => "s>>=",
        _ => "?=",
    }
}

pub fn jmp_name(op: u8) -> &'static str {
    match op {
        BPF_JEQ => "==",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        BPF_JSET => "&",
        BPF_JNE => "!=",
        BPF_JSGT => "s>",
        BPF_JSGE => "s>=",
        BPF_JLT => "<",
        BPF_JLE => "<=",
        BPF_JSLT => "s<",
        BPF_JSLE => "s<=",
        _ => "?",
    }
}

impl fmt::Display for VInst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VInst::Alu {
                op,
                wide,
                signed,
                dst,
                src,
            } => {
                let w = if *wide { "" } else { "w:" };
                let s = if *signed { "s" } else { "" };
                write!(f, "{w}{dst} {s}{} {src}", alu_name(*op))
            }
            VInst::Neg { dst } => write!(f, "{dst} = -{dst}"),
            VInst::Bswap64 { dst } => write!(f, "{dst} = be64 {dst}"),
            VInst::LoadImm64 { dst, imm } => write!(f, "{dst} = {imm:#x} ll"),
            VInst::LoadMap { dst, map } => write!(f, "{dst} = map[{map}] ll"),
            VInst::Load {
                size,
                dst,
                base,
                off,
            } => {
                write!(f, "{dst} = *({} *)({base} {off:+})", size_name(*size))
            }
            VInst::Store {
                size,
                base,
                off,
                src,
            } => {
                write!(f, "*({} *)({base} {off:+}) = {src}", size_name(*size))
            }
            VInst::AtomicAdd { base, off, src } => {
                write!(f, "lock *(u64 *)({base} {off:+}) += {src}")
            }
            VInst::Call { helper, args } => match stapc_bpf::helpers::name(*helper) {
                Some(n) => write!(f, "call {n}/{args}"),
                None => write!(f, "call {helper}/{args}"),
            },
            VInst::Spill { slot, src } => write!(f, "spill{slot} = {src}"),
            VInst::Reload { dst, slot } => write!(f, "{dst} = spill{slot}"),
            VInst::Jump { dest } => write!(f, "goto {dest}"),
            VInst::Branch {
                op,
                lhs,
                rhs,
                taken,
                not_taken,
            } => {
                write!(
                    f,
                    "if {lhs} {} {rhs} goto {taken} else {not_taken}",
                    jmp_name(*op)
                )
            }
            VInst::Exit => write!(f, "exit"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct VBlockData {
    pub insts: Vec<VInst>,
    /// Source location of each instruction (parallel to `insts`).
    pub locs: Vec<Option<Span>>,
}

/// One program's VCode.
#[derive(Clone, Debug, Default)]
pub struct VCode {
    pub name: String,
    pub blocks: PrimaryMap<VBlock, VBlockData>,
    /// Emission order; the first block is the entry.
    pub order: Vec<VBlock>,
    /// Number of virtual registers created.
    pub num_vregs: u32,
    /// arrays: bytes at the bottom of the stack frame (from `r10 - 512`)
    /// that isel uses for map keys and values on kernels whose map helpers
    /// take only stack pointers; the spill area must stay above them.
    pub stack_buffer: u32,
    // ---- functions/strings ----
    /// Argument registers r2..=r(1+n) live at entry besides r1 (a function
    /// called with BPF-to-BPF calls).
    pub entry_args: u8,
}

impl VCode {
    pub fn new_vreg(&mut self) -> VReg {
        let v = VReg::from_u32(self.num_vregs);
        self.num_vregs += 1;
        v
    }

    pub fn entry(&self) -> Option<VBlock> {
        self.order.first().copied()
    }

    /// Blocks reachable from the entry, in a deterministic order.
    pub fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.blocks.len()];
        let mut stack: Vec<VBlock> = self.entry().into_iter().collect();
        while let Some(b) = stack.pop() {
            if std::mem::replace(&mut seen[b.as_u32() as usize], true) {
                continue;
            }
            if let Some(last) = self.blocks[b].insts.last() {
                stack.extend(last.successors());
            }
        }
        seen
    }

    /// Drop blocks the entry cannot reach (the kernel rejects dead code).
    pub fn remove_unreachable(&mut self) {
        let seen = self.reachable();
        self.order.retain(|b| seen[b.as_u32() as usize]);
    }

    /// Total instructions in layout blocks.
    pub fn len(&self) -> usize {
        self.order.iter().map(|b| self.blocks[*b].insts.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for VCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "vcode {} {{", self.name)?;
        for b in &self.order {
            writeln!(f, "{b}:")?;
            for i in &self.blocks[*b].insts {
                writeln!(f, "    {i}")?;
            }
        }
        writeln!(f, "}}")
    }
}
