//! The interpreter: pre-decodes a program once into a flat table of
//! operations (jump targets resolved, immediates sign-extended, invalid
//! encodings turned into ops that fault), then runs it with a tight loop over
//! that table against tagged memory (`memory.rs`) and maps (`maps.rs`).
//!
//! Every instruction of the ISA (RFC 9669 plus the Linux extensions stapc
//! uses) is implemented; every failure is an `ExecError` with the
//! instruction index, never a panic.

use crate::maps::MapStore;
use crate::memory::{self, Fault, Memory, RegionKind, MAX_FRAMES, STACK_SIZE};
use bpf::insn::*;
use bpf::Insn;
use rustc_hash::FxHashMap;
use std::fmt;
use std::rc::Rc;

/// Pseudo source of `lddw` loading a function's address (for callbacks).
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// Pseudo sources of `lddw` naming a map by index (libbpf's forms).
const BPF_PSEUDO_MAP_IDX: u8 = 5;
const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;

/// What went wrong while running a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// A load, store or helper access outside the memory a program may touch.
    Memory {
        pc: usize,
        fault: Fault,
    },
    /// More instructions executed than the fuel allowed.
    FuelExhausted {
        pc: usize,
        fuel: u64,
    },
    /// An encoding the machine does not execute.
    InvalidInstruction {
        pc: usize,
        code: u8,
        reason: &'static str,
    },
    /// Execution ran past the last instruction.
    FellOffEnd {
        pc: usize,
    },
    /// More than `MAX_FRAMES` nested calls.
    CallDepth {
        pc: usize,
    },
    UnknownHelper {
        pc: usize,
        id: i32,
    },
    /// An instruction reads a register that no path to it writes (the
    /// kernel's verifier rejects this as `!read_ok`).
    UninitRegister {
        pc: usize,
        reg: u8,
    },
    /// An `lddw` names a map (or map value) that does not exist.
    BadMapReference {
        pc: usize,
        reason: String,
    },
    /// A helper got an argument it cannot use (not a map, a bad size, …).
    BadHelperArg {
        pc: usize,
        helper: i32,
        reason: String,
    },
}

impl ExecError {
    /// Index of the instruction that failed.
    pub fn pc(&self) -> usize {
        match *self {
            ExecError::Memory { pc, .. }
            | ExecError::FuelExhausted { pc, .. }
            | ExecError::InvalidInstruction { pc, .. }
            | ExecError::FellOffEnd { pc }
            | ExecError::CallDepth { pc }
            | ExecError::UnknownHelper { pc, .. }
            | ExecError::UninitRegister { pc, .. }
            | ExecError::BadMapReference { pc, .. }
            | ExecError::BadHelperArg { pc, .. } => pc,
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Memory { pc, fault } => {
                write!(f, "insn {pc}: invalid memory access: {fault}")
            }
            ExecError::FuelExhausted { pc, fuel } => {
                write!(f, "insn {pc}: instruction limit of {fuel} exhausted")
            }
            ExecError::InvalidInstruction { pc, code, reason } => {
                write!(
                    f,
                    "insn {pc}: invalid instruction (opcode 0x{code:02x}): {reason}"
                )
            }
            ExecError::FellOffEnd { pc } => {
                write!(f, "insn {pc}: execution ran past the end of the program")
            }
            ExecError::CallDepth { pc } => {
                write!(f, "insn {pc}: call nesting deeper than the frame limit")
            }
            ExecError::UnknownHelper { pc, id } => write!(f, "insn {pc}: unknown helper {id}"),
            ExecError::BadMapReference { pc, reason } => {
                write!(f, "insn {pc}: lddw map reference: {reason}")
            }
            ExecError::UninitRegister { pc, reg } => {
                write!(
                    f,
                    "insn {pc}: reads r{reg}, which is never written before it"
                )
            }
            ExecError::BadHelperArg { pc, helper, reason } => {
                let name = bpf::helpers::name(*helper).unwrap_or("?");
                write!(f, "insn {pc}: helper {name} ({helper}): {reason}")
            }
        }
    }
}

impl std::error::Error for ExecError {}

/// Why the interpreter stopped early: an error, or the conformance suite's
/// "unwind" helper returning 0 (the program ends with r0 = 0).
#[derive(Debug)]
pub(crate) enum Halt {
    Error(ExecError),
    Unwind,
}

impl From<ExecError> for Halt {
    fn from(e: ExecError) -> Halt {
        Halt::Error(e)
    }
}

/// Flat operation kinds of the pre-decoded program. `…K` = immediate operand,
/// `X` = register operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add64K,
    Add64X,
    Sub64K,
    Sub64X,
    Mul64K,
    Mul64X,
    Div64K,
    Div64X,
    SDiv64K,
    SDiv64X,
    Mod64K,
    Mod64X,
    SMod64K,
    SMod64X,
    Or64K,
    Or64X,
    And64K,
    And64X,
    Lsh64K,
    Lsh64X,
    Rsh64K,
    Rsh64X,
    Arsh64K,
    Arsh64X,
    Xor64K,
    Xor64X,
    Mov64K,
    Mov64X,
    MovSx64B,
    MovSx64H,
    MovSx64W,
    Neg64,
    Bswap16,
    Bswap32,
    Bswap64,
    Add32K,
    Add32X,
    Sub32K,
    Sub32X,
    Mul32K,
    Mul32X,
    Div32K,
    Div32X,
    SDiv32K,
    SDiv32X,
    Mod32K,
    Mod32X,
    SMod32K,
    SMod32X,
    Or32K,
    Or32X,
    And32K,
    And32X,
    Lsh32K,
    Lsh32X,
    Rsh32K,
    Rsh32X,
    Arsh32K,
    Arsh32X,
    Xor32K,
    Xor32X,
    Mov32K,
    Mov32X,
    MovSx32B,
    MovSx32H,
    Neg32,
    Le16,
    Le32,
    Le64,
    Be16,
    Be32,
    Be64,
    Ja,
    Jeq64K,
    Jeq64X,
    Jgt64K,
    Jgt64X,
    Jge64K,
    Jge64X,
    Jset64K,
    Jset64X,
    Jne64K,
    Jne64X,
    Jsgt64K,
    Jsgt64X,
    Jsge64K,
    Jsge64X,
    Jlt64K,
    Jlt64X,
    Jle64K,
    Jle64X,
    Jslt64K,
    Jslt64X,
    Jsle64K,
    Jsle64X,
    Jeq32K,
    Jeq32X,
    Jgt32K,
    Jgt32X,
    Jge32K,
    Jge32X,
    Jset32K,
    Jset32X,
    Jne32K,
    Jne32X,
    Jsgt32K,
    Jsgt32X,
    Jsge32K,
    Jsge32X,
    Jlt32K,
    Jlt32X,
    Jle32K,
    Jle32X,
    Jslt32K,
    Jslt32X,
    Jsle32K,
    Jsle32X,
    CallHelper,
    CallLocal,
    CallX,
    Exit,
    /// `lddw` of a constant; `imm` is the full 64-bit value.
    Lddw,
    /// `lddw` of a map handle; `imm` = map index.
    LdMap,
    /// `lddw` of a map value address; `imm` = map index, `off`-like offset in `aux`.
    LdMapValue,
    /// `lddw` of a function address; `imm` = target instruction.
    LdFunc,
    LdxB,
    LdxH,
    LdxW,
    LdxDW,
    LdxSB,
    LdxSH,
    LdxSW,
    StB,
    StH,
    StW,
    StDW,
    StxB,
    StxH,
    StxW,
    StxDW,
    /// Atomic read-modify-write; the operation is in `imm`, the width in `aux` (4 or 8).
    Atomic,
    /// An encoding that faults when executed; the reason is in `aux` (index into REASONS).
    Invalid,
    /// Past the end of the program.
    End,
    /// Reads register `dst`, which no path to here has written.
    Uninit,
}

const REASONS: &[&str] = &[
    "unknown opcode",
    "second slot of lddw",
    "lddw without its second slot",
    "jump target out of range",
    "register number out of range",
    "unsupported lddw pseudo source",
    "unknown atomic operation",
    "legacy packet access (BPF_ABS/BPF_IND) is not supported",
    "byte swap width must be 16, 32 or 64",
    "unknown sign-extension width",
    "write to the read-only frame pointer r10",
    "a reserved field is not zero",
];

/// One pre-decoded operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    pub(crate) kind: OpKind,
    pub(crate) dst: u8,
    pub(crate) src: u8,
    pub(crate) off: i16,
    /// Auxiliary small operand (see `OpKind`).
    pub(crate) aux: u32,
    /// Sign-extended immediate, 64-bit constant, or resolved jump target.
    pub(crate) imm: i64,
    /// The raw opcode, for error messages.
    pub(crate) code: u8,
}

/// A program decoded for execution; cheap to clone.
#[derive(Clone, Debug)]
pub struct Code {
    pub(crate) ops: Rc<[Op]>,
}

impl Code {
    /// Decode a program. Never fails: encodings the machine cannot run
    /// become operations that fault when (and only if) they are executed.
    pub fn new(insns: &[Insn]) -> Code {
        let n = insns.len();
        let mut ops = Vec::with_capacity(n + 1);
        let mut i = 0;
        while i < n {
            let (op, width) = decode(insns, i);
            ops.push(op);
            if width == 2 {
                ops.push(invalid(insns[i + 1].code, 1));
            }
            i += width;
        }
        ops.push(Op {
            kind: OpKind::End,
            dst: 0,
            src: 0,
            off: 0,
            aux: 0,
            imm: 0,
            code: 0,
        });
        mark_uninit_reads(&mut ops);
        Code { ops: ops.into() }
    }

    /// Number of instruction slots.
    pub fn len(&self) -> usize {
        self.ops.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fields an encoding does not use must be zero, as the kernel
/// requires at load time (the bpf_conformance suite's "unused-*" tests).
fn reserved_fields_ok(insns: &[Insn], i: usize) -> bool {
    let ins = insns[i];
    let op = ins.code & 0xf0;
    let x = ins.code & BPF_X != 0;
    match ins.class() {
        BPF_ALU | BPF_ALU64 => match op {
            BPF_NEG => !x && ins.src == 0 && ins.off == 0 && ins.imm == 0,
            BPF_END => ins.src == 0 && ins.off == 0,
            BPF_MOV if x => ins.imm == 0,
            BPF_MOV => ins.src == 0 && ins.off == 0,
            BPF_DIV | BPF_MOD => {
                (ins.off == 0 || ins.off == 1) && if x { ins.imm == 0 } else { ins.src == 0 }
            }
            _ => ins.off == 0 && if x { ins.imm == 0 } else { ins.src == 0 },
        },
        BPF_JMP | BPF_JMP32 => match op {
            BPF_JA if ins.class() == BPF_JMP => ins.src == 0 && ins.dst == 0 && ins.imm == 0,
            BPF_JA => ins.src == 0 && ins.dst == 0 && ins.off == 0,
            BPF_CALL if !x => ins.off == 0 && ins.dst == 0,
            BPF_CALL => true,
            BPF_EXIT => ins.src == 0 && ins.dst == 0 && ins.off == 0 && ins.imm == 0,
            _ => {
                if x {
                    ins.imm == 0
                } else {
                    ins.src == 0
                }
            }
        },
        BPF_LDX => ins.imm == 0,
        BPF_ST => ins.src == 0,
        BPF_STX if ins.code & 0xe0 == BPF_MEM => ins.imm == 0,
        BPF_LD if ins.is_lddw() => {
            ins.off == 0
                && insns
                    .get(i + 1)
                    .is_none_or(|n| n.code == 0 && n.dst == 0 && n.src == 0 && n.off == 0)
        }
        _ => true,
    }
}

/// Registers an op reads and writes, as bit masks (bit n = rn).
fn reads_writes(op: &Op) -> (u16, u16) {
    use OpKind::*;
    let d = 1u16 << (op.dst & 15);
    let s = 1u16 << (op.src & 15);
    const CALL_WRITES: u16 = 1; // r0; r1–r5 become unreadable
    match op.kind {
        Mov64K | Mov32K | Lddw | LdMap | LdMapValue | LdFunc => (0, d),
        Mov64X | Mov32X | MovSx64B | MovSx64H | MovSx64W | MovSx32B | MovSx32H => (s, d),
        Neg64 | Neg32 | Bswap16 | Bswap32 | Bswap64 | Le16 | Le32 | Le64 | Be16 | Be32 | Be64 => {
            (d, d)
        }
        Ja | CallHelper | CallLocal => (0, CALL_WRITES),
        CallX => (d, CALL_WRITES),
        Exit => (1, 0),
        LdxB | LdxH | LdxW | LdxDW | LdxSB | LdxSH | LdxSW => (s, d),
        StB | StH | StW | StDW => (d, 0),
        StxB | StxH | StxW | StxDW => (d | s, 0),
        Atomic => {
            if op.imm as i32 == BPF_CMPXCHG {
                (d | s | 1, 1)
            } else if op.imm as i32 & BPF_FETCH != 0 {
                (d | s, s)
            } else {
                (d | s, 0)
            }
        }
        Invalid | End | Uninit => (0, 0),
        k if is_jump(k) => {
            if op.code & BPF_X != 0 {
                (d | s, 0)
            } else {
                (d, 0)
            }
        }
        // The remaining kinds are two-operand ALU ops.
        _ => {
            if op.code & BPF_X != 0 {
                (d | s, d)
            } else {
                (d, d)
            }
        }
    }
}

fn is_jump(k: OpKind) -> bool {
    (k as u8) >= (OpKind::Jeq64K as u8) && (k as u8) <= (OpKind::Jsle32X as u8)
}

/// Turn every reachable instruction that reads a register no path to it
/// has written into an `Uninit` op (a "may be written" dataflow: a read
/// outside that set can never see a value). Entry points are instruction 0
/// and every function target, with r1–r5 and r10 written.
fn mark_uninit_reads(ops: &mut [Op]) {
    use OpKind::*;
    const ENTRY: u16 = 0b11111 << 1 | 1 << 10;
    const CLOBBERED: u16 = 0b11111 << 1;
    let n = ops.len();
    let mut state: Vec<Option<u16>> = vec![None; n];
    let mut work: Vec<usize> = Vec::new();
    let seed = |state: &mut Vec<Option<u16>>, work: &mut Vec<usize>, at: usize, set: u16| {
        let old = state[at];
        let new = old.unwrap_or(0) | set;
        if old != Some(new) {
            state[at] = Some(new);
            work.push(at);
        }
    };
    seed(&mut state, &mut work, 0, ENTRY);
    for op in ops.iter() {
        if matches!(op.kind, CallLocal | LdFunc) && (op.imm as usize) < n {
            seed(&mut state, &mut work, op.imm as usize, ENTRY);
        }
    }
    while let Some(pc) = work.pop() {
        let Some(have) = state[pc] else { continue };
        let op = ops[pc];
        let (_, writes) = reads_writes(&op);
        let mut out = have | writes;
        if matches!(op.kind, CallHelper | CallLocal | CallX) {
            out &= !CLOBBERED;
        }
        let width = if matches!(op.kind, Lddw | LdMap | LdMapValue | LdFunc) {
            2
        } else {
            1
        };
        let mut succ = [None, None];
        match op.kind {
            Exit | Invalid | End | Uninit => {}
            Ja => succ[0] = Some(op.imm as usize),
            k if is_jump(k) => succ = [Some(pc + 1), Some(op.imm as usize)],
            _ => succ[0] = Some(pc + width),
        }
        for s in succ.into_iter().flatten() {
            if s < n {
                seed(&mut state, &mut work, s, out);
            }
        }
    }
    for (pc, op) in ops.iter_mut().enumerate() {
        let Some(have) = state[pc] else { continue };
        let (reads, _) = reads_writes(op);
        let missing = reads & !have;
        if missing != 0 {
            *op = Op {
                kind: Uninit,
                dst: missing.trailing_zeros() as u8,
                ..*op
            };
        }
    }
}

fn invalid(code: u8, reason: u32) -> Op {
    Op {
        kind: OpKind::Invalid,
        dst: 0,
        src: 0,
        off: 0,
        aux: reason,
        imm: 0,
        code,
    }
}

/// Decode the instruction at `i`; returns the op and how many slots it takes.
fn decode(insns: &[Insn], i: usize) -> (Op, usize) {
    let ins = insns[i];
    let n = insns.len() as i64;
    let bad = |reason: u32| (invalid(ins.code, reason), 1);
    if ins.dst > 10 || ins.src > 10 {
        // `src` of lddw/call carries pseudo kinds, checked below; others are registers.
        let pseudo = ins.is_lddw() || ins.code == (BPF_JMP | BPF_CALL);
        if ins.dst > 10 || !pseudo {
            return bad(4);
        }
    }
    let imm = ins.imm as i64;
    let mk = |kind: OpKind| Op {
        kind,
        dst: ins.dst,
        src: ins.src,
        off: ins.off,
        aux: 0,
        imm,
        code: ins.code,
    };
    let jump = |kind: OpKind, rel: i64| -> (Op, usize) {
        let t = i as i64 + 1 + rel;
        if t < 0 || t >= n {
            return (invalid(ins.code, 3), 1);
        }
        (Op { imm: t, ..mk(kind) }, 1)
    };
    if !reserved_fields_ok(insns, i) {
        return bad(11);
    }
    let class = ins.class();
    let op = ins.code & 0xf0;
    let x = ins.code & BPF_X != 0;
    match class {
        BPF_ALU64 | BPF_ALU => {
            let wide = class == BPF_ALU64;
            if ins.dst == 10 {
                return bad(10);
            }
            use OpKind::*;
            let kind = match (op, x, wide) {
                (BPF_ADD, false, true) => Add64K,
                (BPF_ADD, true, true) => Add64X,
                (BPF_SUB, false, true) => Sub64K,
                (BPF_SUB, true, true) => Sub64X,
                (BPF_MUL, false, true) => Mul64K,
                (BPF_MUL, true, true) => Mul64X,
                (BPF_DIV, false, true) if ins.off == 1 => SDiv64K,
                (BPF_DIV, true, true) if ins.off == 1 => SDiv64X,
                (BPF_DIV, false, true) => Div64K,
                (BPF_DIV, true, true) => Div64X,
                (BPF_MOD, false, true) if ins.off == 1 => SMod64K,
                (BPF_MOD, true, true) if ins.off == 1 => SMod64X,
                (BPF_MOD, false, true) => Mod64K,
                (BPF_MOD, true, true) => Mod64X,
                (BPF_OR, false, true) => Or64K,
                (BPF_OR, true, true) => Or64X,
                (BPF_AND, false, true) => And64K,
                (BPF_AND, true, true) => And64X,
                (BPF_LSH, false, true) => Lsh64K,
                (BPF_LSH, true, true) => Lsh64X,
                (BPF_RSH, false, true) => Rsh64K,
                (BPF_RSH, true, true) => Rsh64X,
                (BPF_ARSH, false, true) => Arsh64K,
                (BPF_ARSH, true, true) => Arsh64X,
                (BPF_XOR, false, true) => Xor64K,
                (BPF_XOR, true, true) => Xor64X,
                (BPF_MOV, false, true) => Mov64K,
                (BPF_MOV, true, true) => match ins.off {
                    0 => Mov64X,
                    8 => MovSx64B,
                    16 => MovSx64H,
                    32 => MovSx64W,
                    _ => return bad(9),
                },
                (BPF_NEG, _, true) => Neg64,
                (BPF_END, false, true) => match ins.imm {
                    16 => Bswap16,
                    32 => Bswap32,
                    64 => Bswap64,
                    _ => return bad(8),
                },
                (BPF_ADD, false, false) => Add32K,
                (BPF_ADD, true, false) => Add32X,
                (BPF_SUB, false, false) => Sub32K,
                (BPF_SUB, true, false) => Sub32X,
                (BPF_MUL, false, false) => Mul32K,
                (BPF_MUL, true, false) => Mul32X,
                (BPF_DIV, false, false) if ins.off == 1 => SDiv32K,
                (BPF_DIV, true, false) if ins.off == 1 => SDiv32X,
                (BPF_DIV, false, false) => Div32K,
                (BPF_DIV, true, false) => Div32X,
                (BPF_MOD, false, false) if ins.off == 1 => SMod32K,
                (BPF_MOD, true, false) if ins.off == 1 => SMod32X,
                (BPF_MOD, false, false) => Mod32K,
                (BPF_MOD, true, false) => Mod32X,
                (BPF_OR, false, false) => Or32K,
                (BPF_OR, true, false) => Or32X,
                (BPF_AND, false, false) => And32K,
                (BPF_AND, true, false) => And32X,
                (BPF_LSH, false, false) => Lsh32K,
                (BPF_LSH, true, false) => Lsh32X,
                (BPF_RSH, false, false) => Rsh32K,
                (BPF_RSH, true, false) => Rsh32X,
                (BPF_ARSH, false, false) => Arsh32K,
                (BPF_ARSH, true, false) => Arsh32X,
                (BPF_XOR, false, false) => Xor32K,
                (BPF_XOR, true, false) => Xor32X,
                (BPF_MOV, false, false) => Mov32K,
                (BPF_MOV, true, false) => match ins.off {
                    0 => Mov32X,
                    8 => MovSx32B,
                    16 => MovSx32H,
                    _ => return bad(9),
                },
                (BPF_NEG, _, false) => Neg32,
                (BPF_END, le_be, false) => match (le_be, ins.imm) {
                    (false, 16) => Le16,
                    (false, 32) => Le32,
                    (false, 64) => Le64,
                    (true, 16) => Be16,
                    (true, 32) => Be32,
                    (true, 64) => Be64,
                    _ => return bad(8),
                },
                _ => return bad(0),
            };
            (mk(kind), 1)
        }
        BPF_JMP | BPF_JMP32 => {
            let wide = class == BPF_JMP;
            use OpKind::*;
            match op {
                BPF_JA if wide && !x => return jump(Ja, ins.off as i64),
                // `gotol`: the 32-bit jump class carries its offset in imm.
                BPF_JA if !x => return jump(Ja, imm),
                BPF_CALL if wide && !x => {
                    return match ins.src {
                        0 => (mk(CallHelper), 1),
                        BPF_PSEUDO_CALL => jump(CallLocal, imm),
                        _ => bad(0),
                    }
                }
                BPF_CALL if wide => return (mk(CallX), 1),
                BPF_EXIT if wide && !x => return (mk(Exit), 1),
                _ => {}
            }
            let kind = match (op, x, wide) {
                (BPF_JEQ, false, true) => Jeq64K,
                (BPF_JEQ, true, true) => Jeq64X,
                (BPF_JGT, false, true) => Jgt64K,
                (BPF_JGT, true, true) => Jgt64X,
                (BPF_JGE, false, true) => Jge64K,
                (BPF_JGE, true, true) => Jge64X,
                (BPF_JSET, false, true) => Jset64K,
                (BPF_JSET, true, true) => Jset64X,
                (BPF_JNE, false, true) => Jne64K,
                (BPF_JNE, true, true) => Jne64X,
                (BPF_JSGT, false, true) => Jsgt64K,
                (BPF_JSGT, true, true) => Jsgt64X,
                (BPF_JSGE, false, true) => Jsge64K,
                (BPF_JSGE, true, true) => Jsge64X,
                (BPF_JLT, false, true) => Jlt64K,
                (BPF_JLT, true, true) => Jlt64X,
                (BPF_JLE, false, true) => Jle64K,
                (BPF_JLE, true, true) => Jle64X,
                (BPF_JSLT, false, true) => Jslt64K,
                (BPF_JSLT, true, true) => Jslt64X,
                (BPF_JSLE, false, true) => Jsle64K,
                (BPF_JSLE, true, true) => Jsle64X,
                (BPF_JEQ, false, false) => Jeq32K,
                (BPF_JEQ, true, false) => Jeq32X,
                (BPF_JGT, false, false) => Jgt32K,
                (BPF_JGT, true, false) => Jgt32X,
                (BPF_JGE, false, false) => Jge32K,
                (BPF_JGE, true, false) => Jge32X,
                (BPF_JSET, false, false) => Jset32K,
                (BPF_JSET, true, false) => Jset32X,
                (BPF_JNE, false, false) => Jne32K,
                (BPF_JNE, true, false) => Jne32X,
                (BPF_JSGT, false, false) => Jsgt32K,
                (BPF_JSGT, true, false) => Jsgt32X,
                (BPF_JSGE, false, false) => Jsge32K,
                (BPF_JSGE, true, false) => Jsge32X,
                (BPF_JLT, false, false) => Jlt32K,
                (BPF_JLT, true, false) => Jlt32X,
                (BPF_JLE, false, false) => Jle32K,
                (BPF_JLE, true, false) => Jle32X,
                (BPF_JSLT, false, false) => Jslt32K,
                (BPF_JSLT, true, false) => Jslt32X,
                (BPF_JSLE, false, false) => Jsle32K,
                (BPF_JSLE, true, false) => Jsle32X,
                _ => return bad(0),
            };
            // The comparison immediate stays in `aux`/`imm`: keep imm for the
            // target and the operand in `aux` (sign-extension done at use).
            let t = i as i64 + 1 + ins.off as i64;
            if t < 0 || t >= n {
                return bad(3);
            }
            (
                Op {
                    imm: t,
                    aux: ins.imm as u32,
                    ..mk(kind)
                },
                1,
            )
        }
        BPF_LD => {
            if ins.code == (BPF_LD | BPF_IMM | BPF_DW) {
                if ins.dst == 10 {
                    return bad(10);
                }
                let Some(next) = insns.get(i + 1) else {
                    return bad(2);
                };
                let hi = next.imm as u32 as u64;
                let lo = ins.imm as u32 as u64;
                let op = match ins.src {
                    0 => Op {
                        imm: ((hi << 32) | lo) as i64,
                        ..mk(OpKind::Lddw)
                    },
                    BPF_PSEUDO_MAP_FD | BPF_PSEUDO_MAP_IDX => mk(OpKind::LdMap),
                    BPF_PSEUDO_MAP_VALUE | BPF_PSEUDO_MAP_IDX_VALUE => Op {
                        aux: next.imm as u32,
                        ..mk(OpKind::LdMapValue)
                    },
                    BPF_PSEUDO_FUNC => {
                        let t = i as i64 + 1 + imm;
                        if t < 0 || t >= n {
                            return bad(3);
                        }
                        Op {
                            imm: t,
                            ..mk(OpKind::LdFunc)
                        }
                    }
                    _ => return bad(5),
                };
                (op, 2)
            } else if matches!(ins.code & 0xe0, BPF_ABS | BPF_IND) {
                bad(7)
            } else {
                bad(0)
            }
        }
        BPF_LDX => {
            if ins.dst == 10 {
                return bad(10);
            }
            let kind = match ins.code & 0xf8 {
                c if c == BPF_MEM | BPF_B => OpKind::LdxB,
                c if c == BPF_MEM | BPF_H => OpKind::LdxH,
                c if c == BPF_MEM | BPF_W => OpKind::LdxW,
                c if c == BPF_MEM | BPF_DW => OpKind::LdxDW,
                c if c == BPF_MEMSX | BPF_B => OpKind::LdxSB,
                c if c == BPF_MEMSX | BPF_H => OpKind::LdxSH,
                c if c == BPF_MEMSX | BPF_W => OpKind::LdxSW,
                _ => return bad(0),
            };
            (mk(kind), 1)
        }
        BPF_ST => {
            let kind = match ins.code & 0xf8 {
                c if c == BPF_MEM | BPF_B => OpKind::StB,
                c if c == BPF_MEM | BPF_H => OpKind::StH,
                c if c == BPF_MEM | BPF_W => OpKind::StW,
                c if c == BPF_MEM | BPF_DW => OpKind::StDW,
                _ => return bad(0),
            };
            (mk(kind), 1)
        }
        BPF_STX => {
            let size = ins.code & 0x18;
            match ins.code & 0xe0 {
                BPF_MEM => {
                    let kind = match size {
                        BPF_B => OpKind::StxB,
                        BPF_H => OpKind::StxH,
                        BPF_W => OpKind::StxW,
                        _ => OpKind::StxDW,
                    };
                    (mk(kind), 1)
                }
                BPF_ATOMIC if size == BPF_W || size == BPF_DW => {
                    let ok = matches!(ins.imm & !BPF_FETCH, 0x00 | 0x40 | 0x50 | 0xa0)
                        || ins.imm == BPF_XCHG
                        || ins.imm == BPF_CMPXCHG;
                    if !ok {
                        return bad(6);
                    }
                    let width = if size == BPF_W { 4 } else { 8 };
                    (
                        Op {
                            aux: width,
                            ..mk(OpKind::Atomic)
                        },
                        1,
                    )
                }
                _ => bad(0),
            }
        }
        _ => bad(0),
    }
}

/// Options of a machine.
#[derive(Clone, Debug)]
pub struct MachineOptions {
    /// Instructions one run may execute (callbacks included).
    pub fuel: u64,
    /// Helper 5 is the bpf_conformance suite's "unwind" instead of
    /// `ktime_get_ns` (its Linux meaning).
    pub conformance: bool,
    /// Seed of `get_prandom_u32`.
    pub seed: u64,
    /// Deepest nesting of BPF-to-BPF calls and callbacks (frames, the
    /// program's own included): the kernel's 8 by default; userspace
    /// programs (recursive script functions) may use up to
    /// `memory::MAX_STACK_FRAMES`.
    pub max_frames: usize,
}

impl Default for MachineOptions {
    fn default() -> Self {
        MachineOptions {
            fuel: 10_000_000,
            conformance: false,
            seed: 0x5eed_57a9,
            max_frames: MAX_FRAMES,
        }
    }
}

/// The task and CPU a program runs "in", set by the session per run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventContext {
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub cpu: u32,
    /// Simulated time, what `ktime_get_ns` returns.
    pub time_ns: u64,
    /// Tracepoint fields by name, in events-file order (`--sim-events`);
    /// missing fields are 0. See [`EventContext::field`].
    pub fields: Vec<(String, u64)>,
    /// Function arguments (`$arg1`…) and return value of kprobe/uprobe events.
    pub args: Vec<u64>,
    pub ret: u64,
    /// Strings of the traced process's memory that fields or arguments
    /// point at (`--sim-events`); placed by [`Machine::place_strings`].
    pub strings: Vec<(crate::events::Pointee, String)>,
}

impl EventContext {
    /// A tracepoint field's value for this event (0 when the event does
    /// not give it, as the event model says); `None` only when no field of
    /// that name was given, so a layout can tell the two apart.
    pub fn field(&self, name: &str) -> Option<u64> {
        self.fields.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

impl Default for EventContext {
    fn default() -> Self {
        EventContext {
            pid: 1000,
            tid: 1000,
            uid: 0,
            gid: 0,
            comm: "stapc-sim".to_string(),
            cpu: 0,
            time_ns: 0,
            fields: Vec::new(),
            args: Vec::new(),
            ret: 0,
            strings: Vec::new(),
        }
    }
}

/// The result of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// r0 at exit.
    pub r0: u64,
    /// Instructions executed (callbacks included).
    pub executed: u64,
}

/// A map value copied out of the store for the current run.
#[derive(Debug)]
pub(crate) struct CachedValue {
    pub(crate) region: u32,
    pub(crate) map: u32,
    pub(crate) cpu: u32,
    pub(crate) key: Vec<u8>,
    pub(crate) original: Vec<u8>,
    /// False once the key was deleted: the region stays readable (as with the
    /// kernel's RCU-freed elements) but is not written back.
    pub(crate) live: bool,
}

/// The machine: memory, maps, context and the interpreter state.
pub struct Machine {
    pub(crate) mem: Memory,
    pub(crate) store: Box<dyn MapStore>,
    pub(crate) opts: MachineOptions,
    pub(crate) event: EventContext,
    /// Address of each map's handle region, by map index.
    pub(crate) map_handles: Vec<u64>,
    pub(crate) cache: Vec<CachedValue>,
    /// (map, cpu) → key → index into `cache`; nested so a lookup by `&[u8]`
    /// allocates nothing.
    pub(crate) cache_index: FxHashMap<(u32, u32), FxHashMap<Vec<u8>, usize>>,
    /// Open ring buffer reservations: region id → (map, size).
    pub(crate) reservations: FxHashMap<u32, (u32, u32)>,
    /// Regions of submitted or discarded samples, reused by the next reserve.
    pub(crate) free_samples: Vec<u32>,
    /// Key copies handed to `for_each_map_elem` callbacks this run.
    pub(crate) key_regions: FxHashMap<(u32, Vec<u8>), u64>,
    /// arrays: open `foreach` snapshots, by handle (freed slots are `None`).
    pub(crate) array_iters: Vec<Option<crate::helpers::ArrayIter>>,
    pub(crate) rng: u64,
    /// Lines written by `trace_printk`, oldest first.
    pub trace_log: Vec<String>,
    pub(crate) executed: u64,
    pub(crate) depth: usize,
    // ---- functions/strings ----
    /// The object's formats and MAXSTRINGLEN, for `stapc_sprintf`.
    pub(crate) formats: Vec<bpf::Format>,
    pub(crate) max_string_len: u32,
    // ---- statistics ----
    /// The object's histogram sites and statistics, and whether HIST
    /// records are rendered as they are sent (userspace programs; see
    /// `record::TEXT`).
    pub(crate) hist_descs: (Vec<bpf::HistDesc>, Vec<bpf::StatDesc>),
    pub(crate) render_hists: bool,
    /// Wall-clock time minus event time (`gettimeofday_*()` in userspace
    /// programs); 0 in the simulator.
    pub(crate) realtime_offset: i64,
}

impl Machine {
    pub fn new(store: Box<dyn MapStore>, opts: MachineOptions) -> Machine {
        let mut mem = Memory::new();
        let map_handles = (0..store.map_count())
            .map(|map| mem.add_persistent(RegionKind::Map { map }, Vec::new(), false))
            .collect();
        let rng = opts.seed | 1;
        Machine {
            mem,
            store,
            opts,
            event: EventContext::default(),
            map_handles,
            cache: Vec::new(),
            cache_index: FxHashMap::default(),
            reservations: FxHashMap::default(),
            free_samples: Vec::new(),
            key_regions: FxHashMap::default(),
            array_iters: Vec::new(),
            rng,
            trace_log: Vec::new(),
            executed: 0,
            depth: 0,
            formats: Vec::new(),
            max_string_len: 0,
            hist_descs: (Vec::new(), Vec::new()),
            render_hists: false,
            realtime_offset: 0,
        }
    }

    /// Wall-clock time minus event time, for userspace `gettimeofday_*()`.
    pub fn set_realtime_offset(&mut self, offset: i64) {
        self.realtime_offset = offset;
    }

    /// The histogram sites and statistics of the object, for
    /// [`Machine::set_render_hists`].
    pub fn with_hists(mut self, hists: Vec<bpf::HistDesc>, stats: Vec<bpf::StatDesc>) -> Machine {
        self.hist_descs = (hists, stats);
        self
    }

    /// Render HIST records into TEXT records as they are sent (for the
    /// next runs: the session sets it for userspace programs).
    pub fn set_render_hists(&mut self, on: bool) {
        self.render_hists = on;
    }

    /// The frame limit in effect (`MachineOptions::max_frames`, clamped).
    pub(crate) fn max_frames(&self) -> usize {
        self.opts.max_frames.clamp(1, memory::MAX_STACK_FRAMES)
    }

    /// Change the frame limit for the next runs (the session raises it for
    /// userspace programs).
    pub fn set_max_frames(&mut self, n: usize) {
        self.opts.max_frames = n;
    }

    /// The formats `stapc_sprintf` uses (an object's `formats` and
    /// `max_string_len`).
    pub fn with_formats(mut self, formats: Vec<bpf::Format>, max_string_len: u32) -> Machine {
        self.formats = formats;
        self.max_string_len = max_string_len;
        self
    }

    pub fn store(&self) -> &dyn MapStore {
        self.store.as_ref()
    }

    pub fn store_mut(&mut self) -> &mut dyn MapStore {
        self.store.as_mut()
    }

    pub fn memory(&self) -> &Memory {
        &self.mem
    }

    pub fn memory_mut(&mut self) -> &mut Memory {
        &mut self.mem
    }

    pub fn options(&self) -> &MachineOptions {
        &self.opts
    }

    pub fn set_fuel(&mut self, fuel: u64) {
        self.opts.fuel = fuel;
    }

    pub fn event(&self) -> &EventContext {
        &self.event
    }

    /// Put the strings of `event` in memory for the next run (they live
    /// until it ends) and point their fields and arguments at them.
    pub fn place_strings(&mut self, event: &mut EventContext) {
        use crate::events::Pointee;
        for (at, s) in &event.strings {
            let mut bytes = s.as_bytes().to_vec();
            bytes.push(0);
            let p = self.mem.add_dynamic(RegionKind::User, bytes, false);
            match at {
                Pointee::Field(name) => {
                    if let Some(f) = event.fields.iter_mut().find(|(n, _)| n == name) {
                        f.1 = p;
                    }
                }
                Pointee::Arg(i) => {
                    if let Some(a) = event.args.get_mut(*i) {
                        *a = p;
                    }
                }
            }
        }
    }

    pub fn set_event(&mut self, event: EventContext) {
        self.event = event;
    }

    /// Run `code` with `ctx` as its (read-only) context: r1 points at it.
    pub fn run(&mut self, code: &Code, ctx: &[u8]) -> Result<RunOutcome, ExecError> {
        self.mem.set_context(ctx, false);
        let r1 = memory::addr(memory::CONTEXT_REGION, 0);
        self.run_with_args(code, [r1, 0, 0, 0, 0])
    }

    /// Run `code` with a writable copy of `input` at r1 and its length in r2
    /// (r1 = r2 = 0 for `None`), as the bpf_conformance suite defines.
    pub fn run_with_memory(
        &mut self,
        code: &Code,
        input: Option<&[u8]>,
    ) -> Result<RunOutcome, ExecError> {
        self.mem.reset_dynamic();
        let args = match input {
            Some(b) => {
                let p = self.mem.add_dynamic(RegionKind::Input, b.to_vec(), true);
                [p, b.len() as u64, 0, 0, 0]
            }
            None => [0; 5],
        };
        self.run_with_args(code, args)
    }

    /// Run `code` from its first instruction with r1–r5 = `args`. Regions
    /// added with `Memory::add_dynamic` before the call stay valid during it.
    pub fn run_with_args(&mut self, code: &Code, args: [u64; 5]) -> Result<RunOutcome, ExecError> {
        self.executed = 0;
        self.depth = 0;
        let result = self.exec(code, 0, args);
        self.finish_run();
        let executed = self.executed;
        match result {
            Ok(r0) => Ok(RunOutcome { r0, executed }),
            Err(Halt::Unwind) => Ok(RunOutcome { r0: 0, executed }),
            Err(Halt::Error(e)) => Err(e),
        }
    }

    /// Write the map values a run changed back to the store and drop the
    /// run's regions.
    /// Write the values this run changed through map value pointers back
    /// to the store now (they stay cached, as written back).
    pub(crate) fn write_back_cache(&mut self) {
        for c in &mut self.cache {
            if !c.live {
                continue;
            }
            let Some(r) = self.mem.region(c.region) else {
                continue;
            };
            if r.data != c.original {
                // The key exists (it was looked up and not deleted since).
                let _ =
                    self.store
                        .update(c.map, &c.key, &r.data, crate::maps::BPF_ANY, Some(c.cpu));
                c.original.clone_from(&r.data);
            }
        }
    }

    fn finish_run(&mut self) {
        self.write_back_cache();
        self.cache.clear();
        self.cache_index.clear();
        self.free_samples.clear();
        self.key_regions.clear();
        self.array_iters.clear();
        for (_, (map, size)) in std::mem::take(&mut self.reservations) {
            // A reservation never submitted: the verifier would reject the
            // program; release the space so the buffer does not leak.
            let _ = self.store.commit(map, size, None);
        }
        self.mem.reset_dynamic();
    }

    /// Execute from instruction `entry` in a new frame until that frame
    /// returns; used for the program itself and for helper callbacks.
    pub(crate) fn exec(&mut self, code: &Code, entry: usize, args: [u64; 5]) -> Result<u64, Halt> {
        #[derive(Clone, Copy, Default)]
        struct Frame {
            ret: usize,
            saved: [u64; 4],
        }
        let ops = code.ops.clone();
        let ops: &[Op] = &ops;
        let base_depth = self.depth;
        let max_frames = self.max_frames();
        if base_depth >= max_frames {
            return Err(ExecError::CallDepth { pc: entry }.into());
        }
        let frame_top = |depth: usize| memory::addr(memory::stack_region(depth), STACK_SIZE as u32);
        self.mem.clear_stack(base_depth);
        // 16 registers so that `& 15` indexing needs no bounds check; the
        // decoder never lets a program name r11–r15.
        let mut regs = [0u64; 16];
        regs[1..6].copy_from_slice(&args);
        regs[10] = frame_top(base_depth);
        let mut frames = vec![Frame::default(); max_frames];
        let mut nframes = 0usize;
        let fuel = self.opts.fuel;
        let mut pc = entry;

        macro_rules! mem_err {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(fault) => return Err(ExecError::Memory { pc: pc - 1, fault }.into()),
                }
            };
        }

        // The executed count lives in a local in the loop and is written back
        // around helper calls (callbacks count too) and on the way out.
        // Counting down what is left keeps one variable live instead of two.
        let mut left = fuel.saturating_sub(self.executed);
        macro_rules! sync_out {
            () => {
                self.executed = fuel - left
            };
        }
        macro_rules! sync_in {
            () => {
                left = fuel.saturating_sub(self.executed)
            };
        }
        loop {
            let op = ops[pc];
            if left == 0 {
                sync_out!();
                return Err(ExecError::FuelExhausted { pc, fuel }.into());
            }
            left -= 1;
            pc += 1;
            let d = op.dst as usize & 15;
            let s = op.src as usize & 15;
            // ALU32 immediates are used as u32; jump32 ones compare as u32/i32.
            let imm = op.imm as u64;
            let k32 = op.imm as u32;
            macro_rules! j64 {
                ($cond:expr) => {
                    if $cond {
                        pc = op.imm as usize;
                    }
                };
            }
            use OpKind::*;
            match op.kind {
                Add64K => regs[d] = regs[d].wrapping_add(imm),
                Add64X => regs[d] = regs[d].wrapping_add(regs[s]),
                Sub64K => regs[d] = regs[d].wrapping_sub(imm),
                Sub64X => regs[d] = regs[d].wrapping_sub(regs[s]),
                Mul64K => regs[d] = regs[d].wrapping_mul(imm),
                Mul64X => regs[d] = regs[d].wrapping_mul(regs[s]),
                Div64K => regs[d] = regs[d].checked_div(imm).unwrap_or(0),
                Div64X => regs[d] = regs[d].checked_div(regs[s]).unwrap_or(0),
                SDiv64K => regs[d] = sdiv64(regs[d], imm),
                SDiv64X => regs[d] = sdiv64(regs[d], regs[s]),
                Mod64K => regs[d] = regs[d].checked_rem(imm).unwrap_or(regs[d]),
                Mod64X => regs[d] = regs[d].checked_rem(regs[s]).unwrap_or(regs[d]),
                SMod64K => regs[d] = smod64(regs[d], imm),
                SMod64X => regs[d] = smod64(regs[d], regs[s]),
                Or64K => regs[d] |= imm,
                Or64X => regs[d] |= regs[s],
                And64K => regs[d] &= imm,
                And64X => regs[d] &= regs[s],
                Lsh64K => regs[d] = regs[d].wrapping_shl(imm as u32),
                Lsh64X => regs[d] = regs[d].wrapping_shl(regs[s] as u32),
                Rsh64K => regs[d] = regs[d].wrapping_shr(imm as u32),
                Rsh64X => regs[d] = regs[d].wrapping_shr(regs[s] as u32),
                Arsh64K => regs[d] = (regs[d] as i64).wrapping_shr(imm as u32) as u64,
                Arsh64X => regs[d] = (regs[d] as i64).wrapping_shr(regs[s] as u32) as u64,
                Xor64K => regs[d] ^= imm,
                Xor64X => regs[d] ^= regs[s],
                Mov64K => regs[d] = imm,
                Mov64X => regs[d] = regs[s],
                MovSx64B => regs[d] = regs[s] as i8 as i64 as u64,
                MovSx64H => regs[d] = regs[s] as i16 as i64 as u64,
                MovSx64W => regs[d] = regs[s] as i32 as i64 as u64,
                Neg64 => regs[d] = regs[d].wrapping_neg(),
                Bswap16 => regs[d] = (regs[d] as u16).swap_bytes() as u64,
                Bswap32 => regs[d] = (regs[d] as u32).swap_bytes() as u64,
                Bswap64 => regs[d] = regs[d].swap_bytes(),

                Add32K => regs[d] = (regs[d] as u32).wrapping_add(k32) as u64,
                Add32X => regs[d] = (regs[d] as u32).wrapping_add(regs[s] as u32) as u64,
                Sub32K => regs[d] = (regs[d] as u32).wrapping_sub(k32) as u64,
                Sub32X => regs[d] = (regs[d] as u32).wrapping_sub(regs[s] as u32) as u64,
                Mul32K => regs[d] = (regs[d] as u32).wrapping_mul(k32) as u64,
                Mul32X => regs[d] = (regs[d] as u32).wrapping_mul(regs[s] as u32) as u64,
                Div32K => regs[d] = (regs[d] as u32).checked_div(k32).unwrap_or(0) as u64,
                Div32X => {
                    regs[d] = (regs[d] as u32).checked_div(regs[s] as u32).unwrap_or(0) as u64
                }
                SDiv32K => regs[d] = sdiv32(regs[d], k32),
                SDiv32X => regs[d] = sdiv32(regs[d], regs[s] as u32),
                Mod32K => {
                    let a = regs[d] as u32;
                    regs[d] = a.checked_rem(k32).unwrap_or(a) as u64
                }
                Mod32X => {
                    let a = regs[d] as u32;
                    regs[d] = a.checked_rem(regs[s] as u32).unwrap_or(a) as u64
                }
                SMod32K => regs[d] = smod32(regs[d], k32),
                SMod32X => regs[d] = smod32(regs[d], regs[s] as u32),
                Or32K => regs[d] = (regs[d] as u32 | k32) as u64,
                Or32X => regs[d] = (regs[d] as u32 | regs[s] as u32) as u64,
                And32K => regs[d] = (regs[d] as u32 & k32) as u64,
                And32X => regs[d] = (regs[d] as u32 & regs[s] as u32) as u64,
                Lsh32K => regs[d] = (regs[d] as u32).wrapping_shl(k32) as u64,
                Lsh32X => regs[d] = (regs[d] as u32).wrapping_shl(regs[s] as u32) as u64,
                Rsh32K => regs[d] = (regs[d] as u32).wrapping_shr(k32) as u64,
                Rsh32X => regs[d] = (regs[d] as u32).wrapping_shr(regs[s] as u32) as u64,
                Arsh32K => regs[d] = (regs[d] as i32).wrapping_shr(k32) as u32 as u64,
                Arsh32X => regs[d] = (regs[d] as i32).wrapping_shr(regs[s] as u32) as u32 as u64,
                Xor32K => regs[d] = (regs[d] as u32 ^ k32) as u64,
                Xor32X => regs[d] = (regs[d] as u32 ^ regs[s] as u32) as u64,
                Mov32K => regs[d] = k32 as u64,
                Mov32X => regs[d] = regs[s] as u32 as u64,
                MovSx32B => regs[d] = regs[s] as i8 as i32 as u32 as u64,
                MovSx32H => regs[d] = regs[s] as i16 as i32 as u32 as u64,
                Neg32 => regs[d] = (regs[d] as u32).wrapping_neg() as u64,
                Le16 => regs[d] = regs[d] as u16 as u64,
                Le32 => regs[d] = regs[d] as u32 as u64,
                Le64 => {}
                Be16 => regs[d] = (regs[d] as u16).swap_bytes() as u64,
                Be32 => regs[d] = (regs[d] as u32).swap_bytes() as u64,
                Be64 => regs[d] = regs[d].swap_bytes(),

                Ja => pc = op.imm as usize,
                Jeq64K => j64!(regs[d] == op.aux as i32 as i64 as u64),
                Jeq64X => j64!(regs[d] == regs[s]),
                Jgt64K => j64!(regs[d] > op.aux as i32 as i64 as u64),
                Jgt64X => j64!(regs[d] > regs[s]),
                Jge64K => j64!(regs[d] >= op.aux as i32 as i64 as u64),
                Jge64X => j64!(regs[d] >= regs[s]),
                Jset64K => j64!(regs[d] & op.aux as i32 as i64 as u64 != 0),
                Jset64X => j64!(regs[d] & regs[s] != 0),
                Jne64K => j64!(regs[d] != op.aux as i32 as i64 as u64),
                Jne64X => j64!(regs[d] != regs[s]),
                Jsgt64K => j64!(regs[d] as i64 > op.aux as i32 as i64),
                Jsgt64X => j64!(regs[d] as i64 > regs[s] as i64),
                Jsge64K => j64!(regs[d] as i64 >= op.aux as i32 as i64),
                Jsge64X => j64!(regs[d] as i64 >= regs[s] as i64),
                Jlt64K => j64!(regs[d] < op.aux as i32 as i64 as u64),
                Jlt64X => j64!(regs[d] < regs[s]),
                Jle64K => j64!(regs[d] <= op.aux as i32 as i64 as u64),
                Jle64X => j64!(regs[d] <= regs[s]),
                Jslt64K => j64!((regs[d] as i64) < op.aux as i32 as i64),
                Jslt64X => j64!((regs[d] as i64) < regs[s] as i64),
                Jsle64K => j64!(regs[d] as i64 <= op.aux as i32 as i64),
                Jsle64X => j64!(regs[d] as i64 <= regs[s] as i64),
                Jeq32K => j64!(regs[d] as u32 == op.aux),
                Jeq32X => j64!(regs[d] as u32 == regs[s] as u32),
                Jgt32K => j64!(regs[d] as u32 > op.aux),
                Jgt32X => j64!(regs[d] as u32 > regs[s] as u32),
                Jge32K => j64!(regs[d] as u32 >= op.aux),
                Jge32X => j64!(regs[d] as u32 >= regs[s] as u32),
                Jset32K => j64!(regs[d] as u32 & op.aux != 0),
                Jset32X => j64!(regs[d] as u32 & regs[s] as u32 != 0),
                Jne32K => j64!(regs[d] as u32 != op.aux),
                Jne32X => j64!(regs[d] as u32 != regs[s] as u32),
                Jsgt32K => j64!(regs[d] as i32 > op.aux as i32),
                Jsgt32X => j64!(regs[d] as i32 > regs[s] as i32),
                Jsge32K => j64!(regs[d] as i32 >= op.aux as i32),
                Jsge32X => j64!(regs[d] as i32 >= regs[s] as i32),
                Jlt32K => j64!((regs[d] as u32) < op.aux),
                Jlt32X => j64!((regs[d] as u32) < regs[s] as u32),
                Jle32K => j64!(regs[d] as u32 <= op.aux),
                Jle32X => j64!(regs[d] as u32 <= regs[s] as u32),
                Jslt32K => j64!((regs[d] as i32) < op.aux as i32),
                Jslt32X => j64!((regs[d] as i32) < regs[s] as i32),
                Jsle32K => j64!(regs[d] as i32 <= op.aux as i32),
                Jsle32X => j64!(regs[d] as i32 <= regs[s] as i32),

                CallHelper => {
                    if let Some(v) = self.simple_helper(op.imm as i32) {
                        regs[0] = v;
                        // Helpers clobber r1–r5 (see below).
                        regs[1..6].fill(0);
                        continue;
                    }
                    let args = [regs[1], regs[2], regs[3], regs[4], regs[5]];
                    self.depth = base_depth + nframes;
                    sync_out!();
                    regs[0] = self.call_helper(code, pc - 1, op.imm as i32, args)?;
                    sync_in!();
                    // Helpers clobber r1–r5; zero them so stale values never leak.
                    regs[1..6].fill(0);
                }
                CallLocal | CallX => {
                    let target = if op.kind == CallLocal {
                        op.imm as usize
                    } else {
                        // callx: the register is in dst (Linux) or imm (uBPF).
                        let r = if op.dst != 0 {
                            op.dst as usize
                        } else {
                            op.imm as usize
                        };
                        let Some(&v) = regs.get(r) else {
                            return Err(ExecError::InvalidInstruction {
                                pc: pc - 1,
                                code: op.code,
                                reason: REASONS[4],
                            }
                            .into());
                        };
                        match memory::split(v) {
                            (memory::CODE_REGION, t) if (t as usize) < code.len() => t as usize,
                            (0, id) => {
                                // A helper id in a register: call it.
                                let args = [regs[1], regs[2], regs[3], regs[4], regs[5]];
                                self.depth = base_depth + nframes;
                                sync_out!();
                                regs[0] = self.call_helper(code, pc - 1, id as i32, args)?;
                                sync_in!();
                                regs[1..6].fill(0);
                                continue;
                            }
                            _ => {
                                return Err(ExecError::InvalidInstruction {
                                    pc: pc - 1,
                                    code: op.code,
                                    reason: "callx target is not a function",
                                }
                                .into())
                            }
                        }
                    };
                    if base_depth + nframes + 1 >= max_frames {
                        return Err(ExecError::CallDepth { pc: pc - 1 }.into());
                    }
                    frames[nframes] = Frame {
                        ret: pc,
                        saved: [regs[6], regs[7], regs[8], regs[9]],
                    };
                    nframes += 1;
                    self.mem.clear_stack(base_depth + nframes);
                    regs[10] = frame_top(base_depth + nframes);
                    pc = target;
                }
                Exit => {
                    if nframes == 0 {
                        sync_out!();
                        return Ok(regs[0]);
                    }
                    nframes -= 1;
                    let f = frames[nframes];
                    pc = f.ret;
                    regs[6..10].copy_from_slice(&f.saved);
                    regs[10] = frame_top(base_depth + nframes);
                }

                Lddw => {
                    regs[d] = imm;
                    pc += 1;
                }
                LdMap => {
                    regs[d] = self.map_handle(pc - 1, op.imm as u32)?;
                    pc += 1;
                }
                LdMapValue => {
                    let map = op.imm as u32;
                    self.map_handle(pc - 1, map)?;
                    let key = 0u32.to_le_bytes();
                    let cpu = self.event.cpu;
                    let v = self.lookup_cached(map, &key, cpu).map_err(|e| {
                        ExecError::BadMapReference {
                            pc: pc - 1,
                            reason: format!("map value of map #{map}: {e}"),
                        }
                    })?;
                    let Some(p) = v else {
                        return Err(ExecError::BadMapReference {
                            pc: pc - 1,
                            reason: format!("map #{map} has no value at key 0"),
                        }
                        .into());
                    };
                    regs[d] = p.wrapping_add(op.aux as u64);
                    pc += 1;
                }
                LdFunc => {
                    regs[d] = memory::addr(memory::CODE_REGION, op.imm as u32);
                    pc += 1;
                }

                LdxB => regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 1)),
                LdxH => regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 2)),
                LdxW => regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 4)),
                LdxDW => regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 8)),
                LdxSB => {
                    regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 1)) as i8
                        as i64 as u64
                }
                LdxSH => {
                    regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 2)) as i16
                        as i64 as u64
                }
                LdxSW => {
                    regs[d] = mem_err!(self.mem.load(regs[s].wrapping_add(op.off as u64), 4)) as i32
                        as i64 as u64
                }
                StB => mem_err!(self.mem.store(regs[d].wrapping_add(op.off as u64), 1, imm)),
                StH => mem_err!(self.mem.store(regs[d].wrapping_add(op.off as u64), 2, imm)),
                StW => mem_err!(self.mem.store(regs[d].wrapping_add(op.off as u64), 4, imm)),
                StDW => mem_err!(self.mem.store(regs[d].wrapping_add(op.off as u64), 8, imm)),
                StxB => mem_err!(self
                    .mem
                    .store(regs[d].wrapping_add(op.off as u64), 1, regs[s])),
                StxH => mem_err!(self
                    .mem
                    .store(regs[d].wrapping_add(op.off as u64), 2, regs[s])),
                StxW => mem_err!(self
                    .mem
                    .store(regs[d].wrapping_add(op.off as u64), 4, regs[s])),
                StxDW => mem_err!(self
                    .mem
                    .store(regs[d].wrapping_add(op.off as u64), 8, regs[s])),
                Atomic => {
                    let a = regs[d].wrapping_add(op.off as u64);
                    let w = op.aux as usize;
                    let mask = if w == 4 { u32::MAX as u64 } else { u64::MAX };
                    // Check writability first so a read-only target faults as a write.
                    mem_err!(self.mem.slice_mut(a, w).map(|_| ()));
                    let old = mem_err!(self.mem.load(a, w));
                    let v = regs[s] & mask;
                    let opc = op.imm as i32;
                    if opc == BPF_CMPXCHG {
                        if old == regs[0] & mask {
                            mem_err!(self.mem.store(a, w, v));
                        }
                        regs[0] = old;
                    } else if opc == BPF_XCHG {
                        mem_err!(self.mem.store(a, w, v));
                        regs[s] = old;
                    } else {
                        let new = match opc & !BPF_FETCH {
                            0x00 => old.wrapping_add(v),
                            0x40 => old | v,
                            0x50 => old & v,
                            _ => old ^ v,
                        } & mask;
                        mem_err!(self.mem.store(a, w, new));
                        if opc & BPF_FETCH != 0 {
                            regs[s] = old;
                        }
                    }
                }
                Invalid => {
                    let reason = REASONS.get(op.aux as usize).copied().unwrap_or("invalid");
                    return Err(ExecError::InvalidInstruction {
                        pc: pc - 1,
                        code: op.code,
                        reason,
                    }
                    .into());
                }
                End => return Err(ExecError::FellOffEnd { pc: pc - 1 }.into()),
                Uninit => {
                    return Err(ExecError::UninitRegister {
                        pc: pc - 1,
                        reg: op.dst,
                    }
                    .into())
                }
            }
        }
    }

    fn map_handle(&self, pc: usize, map: u32) -> Result<u64, ExecError> {
        self.map_handles
            .get(map as usize)
            .copied()
            .ok_or(ExecError::BadMapReference {
                pc,
                reason: format!("map #{map} does not exist"),
            })
    }

    /// A pointer to the run's copy of `map[key]` (on `cpu`), copying it out
    /// of the store on first use; `None` when the key is absent.
    pub(crate) fn lookup_cached(
        &mut self,
        map: u32,
        key: &[u8],
        cpu: u32,
    ) -> Result<Option<u64>, crate::maps::MapError> {
        if let Some(&i) = self.cache_index.get(&(map, cpu)).and_then(|m| m.get(key)) {
            return Ok(Some(memory::addr(self.cache[i].region, 0)));
        }
        let Some(value) = self.store.lookup(map, key, cpu)? else {
            return Ok(None);
        };
        let p = self
            .mem
            .add_dynamic(RegionKind::MapValue { map, cpu }, value.clone(), true);
        self.cache.push(CachedValue {
            region: memory::split(p).0,
            map,
            cpu,
            key: key.to_vec(),
            original: value,
            live: true,
        });
        self.cache_index
            .entry((map, cpu))
            .or_default()
            .insert(key.to_vec(), self.cache.len() - 1);
        Ok(Some(p))
    }
}

fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

fn sdiv32(a: u64, b: u32) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32 as u64
    }
}

fn smod32(a: u64, b: u32) -> u64 {
    if b == 0 {
        a as u32 as u64
    } else {
        (a as i32).wrapping_rem(b as i32) as u32 as u64
    }
}
