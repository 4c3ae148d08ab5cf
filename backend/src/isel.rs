//! Instruction selection: one `ir::Function` → `VCode`, following the runtime
//! layout of runtime.md (prologue with the control-map exit check, globals
//! and scratch through looked-up map value pointers, records built in
//! scratch and sent through the output map).
//!
//! Constants are never given registers of their own: every use
//! rematerialises them (or folds them into an immediate operand), which
//! keeps register pressure down and never leaves a dead `mov` behind.

use cranelift_entity::SecondaryMap;
use stapc_bpf::helpers;
use stapc_bpf::insn::*;
use stapc_bpf::object::{control, record};
use stapc_bpf::{ArgKind, StatDesc, Target};
use stapc_frontend::Span;
use stapc_midend::ir::{
    ArrayInfo, BinaryOp, Block, ContextOp, Function, Inst, InstData, IntCC, IterSort, MemSpace,
    OutArg, Slot, StrContextOp, StrOp, UnaryOp, Value, ValueDef,
};

use crate::error::BackendError;
use crate::vcode::{Reg, Src, VBlock, VCode, VInst, VReg};

/// Map indexes of the runtime maps (runtime.md: fixed order).
pub const MAP_GLOBALS: u32 = 0;
pub const MAP_CONTROL: u32 = 1;
pub const MAP_SCRATCH: u32 = 2;
pub const MAP_OUTPUT: u32 = 3;
/// Stack offset of the u32 key 0 used for every map lookup.
pub const KEY_OFF: i16 = -8;
/// Copies at least this long use `probe_read_kernel` in kernel programs
/// (6 instructions instead of 2 per 8 bytes).
pub const COPY_BY_HELPER_MIN: u32 = 64;
/// Bytes of stack the prologue reserves (the key), below which spill slots start.
pub const RESERVED_STACK: u32 = 8;
/// The BPF stack frame (bytes below r10).
pub const STACK_FRAME: u32 = 512;

/// Where a program's strings and records live in its per-CPU scratch value.
#[derive(Clone, Debug, Default)]
pub struct ScratchLayout {
    pub slot_off: SecondaryMap<Slot, u32>,
    /// Offset of the record buffer.
    pub record_off: u32,
    /// Largest record this program builds.
    pub record_size: u32,
    /// A string buffer for `StrConcat` whose destination is its second operand.
    pub tmp_off: u32,
    /// Total bytes (a multiple of 8).
    pub size: u32,
    pub needs_scratch: bool,
    pub needs_globals: bool,
    // ---- arrays ----
    /// The module's arrays (`ir::Module::arrays`), for the foreach spec.
    pub arrays: Vec<ArrayInfo>,
    /// Offset of the 8-byte value buffer of long array updates.
    pub array_val_off: u32,
    /// Map index of array 0 (after the runtime maps and the statistics').
    pub array_map_base: u32,
    // ---- functions/strings ----
    /// A called function's scratch frame size (0 for probes): the scratch
    /// pointer is moved by `depth * frame_size`, depth clamped to `max_depth`.
    pub frame_size: u32,
    pub max_depth: u32,
    // ---- statistics ----
    /// A buffer, zero-filled right before use, that a new element of an
    /// array of statistics is inserted from (`zero_size` bytes; 0: none).
    pub zero_off: u32,
    pub zero_size: u32,
}

fn round8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

/// Compute the scratch layout of `func` for strings of `msl` bytes.
pub fn scratch_layout(
    func: &Function,
    msl: u32,
    userspace: bool,
) -> Result<ScratchLayout, BackendError> {
    let mut l = ScratchLayout::default();
    let mut off: u64 = 0;
    for (slot, data) in func.slots.iter() {
        l.slot_off[slot] = off as u32;
        off += round8(u64::from(data.size.max(msl)));
    }
    let mut record: u64 = 0;
    let mut kernel_concat = false;
    let mut array_val = false;
    for b in &func.layout {
        let Some(bd) = func.blocks.get(*b) else {
            continue;
        };
        for i in &bd.insts {
            let Some(data) = func.insts.get(*i) else {
                continue;
            };
            match data {
                InstData::LoadGlobal { .. }
                | InstData::StoreGlobal { .. }
                | InstData::AtomicAddGlobal { .. }
                | InstData::StrLoadGlobal { .. }
                | InstData::StrStoreGlobal { .. } => l.needs_globals = true,
                _ => {}
            }
            let rec = match data {
                InstData::Printf { args, .. } | InstData::Sprintf { args, .. } => {
                    8 + args
                        .iter()
                        .map(|a| match a {
                            OutArg::Long(_) => 8u64,
                            OutArg::Str(_) => u64::from(msl),
                        })
                        .sum::<u64>()
                }
                InstData::Exit | InstData::Trap { .. } | InstData::PrintHist { .. } => 8,
                InstData::TrapMsg { .. } => 8 + u64::from(msl),
                _ => 0,
            };
            record = record.max(rec);
            // ---- arrays ----
            if matches!(data, InstData::ArraySet { .. } | InstData::ArrayAdd { .. }) {
                array_val = true;
            }
            if matches!(data, InstData::StrConcat { .. }) && !userspace {
                kernel_concat = true;
            }
        }
    }
    l.needs_scratch = off > 0 || record > 0 || array_val;
    l.record_off = off as u32;
    l.record_size = record as u32;
    off += round8(record);
    // ---- arrays ----
    l.array_val_off = off as u32;
    if array_val {
        off += 8;
    }
    l.tmp_off = off as u32;
    if kernel_concat {
        // The temporary, plus slack: the verifier checks `dst + len .. + size`
        // with both at their maxima, which runs up to MAXSTRINGLEN past a slot.
        off += 2 * u64::from(msl);
    }
    if off > u64::from(i32::MAX as u32) {
        return Err(BackendError::OffsetTooLarge {
            func: func.name.clone(),
            offset: off,
        });
    }
    l.size = off as u32;
    Ok(l)
}

/// Lower `func` to VCode.
pub fn lower(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    layout: &ScratchLayout,
) -> Result<VCode, BackendError> {
    lower_with(func, target, msl, userspace, layout, false)
}

/// Like `lower`; `far` is for programs too long for 16-bit jump offsets:
/// the prologue's early-return tail is placed right after the prologue and
/// `Return`/`Trap` exit in place instead of jumping to a shared tail.
pub fn lower_with(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    layout: &ScratchLayout,
    far: bool,
) -> Result<VCode, BackendError> {
    lower_full(func, target, msl, userspace, layout, far, &[])
}

/// Like `lower_with`, for a function that uses statistics: `stats` are the
/// module's statistics with their map indexes filled in.
pub fn lower_full(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    layout: &ScratchLayout,
    far: bool,
    stats: &[StatDesc],
) -> Result<VCode, BackendError> {
    lower_function(func, target, msl, userspace, layout, far, stats, false)
}

// ---- functions/strings ----
/// `VInst::Call` helper ids at or below this are BPF-to-BPF calls of
/// `Module::functions[LOCAL_CALL_BASE - helper]`; emission encodes them as
/// `call` with src = BPF_PSEUDO_CALL and imm = the function index, which
/// `link_functions` turns into the relative offset.
pub const LOCAL_CALL_BASE: i32 = -0x1000;

/// Like `lower_full`; `callee` lowers a function of `Module::functions`:
/// r1 = ctx, r2.. = its arguments (`InstData::Arg`), no exit-flag check
/// (a handler goes on after `exit()`), `ReturnValue` returns r0.
#[allow(clippy::too_many_arguments)]
pub fn lower_function(
    func: &Function,
    target: &Target,
    msl: u32,
    userspace: bool,
    layout: &ScratchLayout,
    far: bool,
    stats: &[StatDesc],
    callee: bool,
) -> Result<VCode, BackendError> {
    if msl < 8 || msl & 7 != 0 {
        return Err(BackendError::MalformedIr {
            func: func.name.clone(),
            what: format!("MAXSTRINGLEN {msl} is not a positive multiple of 8"),
        });
    }
    let mut vc = VCode {
        name: func.name.clone(),
        ..VCode::default()
    };
    let entry_vb = vc.blocks.push(Default::default());
    let ret_block = vc.blocks.push(Default::default());
    let ctx = vc.new_vreg();
    let control = vc.new_vreg();
    let mut s = Isel {
        f: func,
        target,
        msl,
        userspace,
        layout,
        vc,
        cur: entry_vb,
        loc: None,
        vregs: SecondaryMap::new(),
        consts: SecondaryMap::new(),
        uses: SecondaryMap::new(),
        fused: SecondaryMap::new(),
        blocks: SecondaryMap::new(),
        ctx,
        control,
        globals: None,
        scratch: None,
        ret_block,
        far,
        pending_edges: Vec::new(),
        callee,
        argv: Vec::new(),
        stats,
    };
    s.array_stack_buffer()?;
    s.run(entry_vb)?;
    let mut vc = s.vc;
    vc.remove_unreachable();
    Ok(vc)
}

struct Isel<'a> {
    f: &'a Function,
    target: &'a Target,
    msl: u32,
    userspace: bool,
    layout: &'a ScratchLayout,
    vc: VCode,
    cur: VBlock,
    loc: Option<Span>,
    vregs: SecondaryMap<Value, Option<VReg>>,
    consts: SecondaryMap<Value, Option<i64>>,
    uses: SecondaryMap<Value, u32>,
    /// Icmps folded into the conditional jump of their block's Brif.
    fused: SecondaryMap<Inst, bool>,
    blocks: SecondaryMap<Block, Option<VBlock>>,
    ctx: VReg,
    control: VReg,
    globals: Option<VReg>,
    scratch: Option<VReg>,
    ret_block: VBlock,
    /// Returns are emitted in place (see `lower_with`).
    far: bool,
    /// Edge blocks carrying branch arguments, emitted after the current block.
    pending_edges: Vec<(VBlock, Block, Vec<Value>)>,
    // ---- functions/strings ----
    /// Lowering a function of `Module::functions` (see `lower_function`).
    callee: bool,
    /// Its arguments, copied out of r2.. in the prologue.
    argv: Vec<VReg>,
    /// The module's statistics, with their maps.
    stats: &'a [StatDesc],
}

type R<T> = Result<T, BackendError>;

fn fits_i32(v: i64) -> bool {
    i32::try_from(v).is_ok()
}

fn cc_op(cc: IntCC) -> u8 {
    match cc {
        IntCC::Eq => BPF_JEQ,
        IntCC::Ne => BPF_JNE,
        IntCC::Slt => BPF_JSLT,
        IntCC::Sle => BPF_JSLE,
        IntCC::Sgt => BPF_JSGT,
        IntCC::Sge => BPF_JSGE,
        IntCC::Ult => BPF_JLT,
        IntCC::Ule => BPF_JLE,
        IntCC::Ugt => BPF_JGT,
        IntCC::Uge => BPF_JGE,
    }
}

/// The condition with its operands swapped.
fn cc_swap(cc: IntCC) -> IntCC {
    match cc {
        IntCC::Eq => IntCC::Eq,
        IntCC::Ne => IntCC::Ne,
        IntCC::Slt => IntCC::Sgt,
        IntCC::Sle => IntCC::Sge,
        IntCC::Sgt => IntCC::Slt,
        IntCC::Sge => IntCC::Sle,
        IntCC::Ult => IntCC::Ugt,
        IntCC::Ule => IntCC::Uge,
        IntCC::Ugt => IntCC::Ult,
        IntCC::Uge => IntCC::Ule,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MoveSrc {
    Const(i64),
    V(VReg),
}

impl<'a> Isel<'a> {
    fn malformed(&self, what: impl Into<String>) -> BackendError {
        BackendError::MalformedIr {
            func: self.f.name.clone(),
            what: what.into(),
        }
    }

    fn emit(&mut self, i: VInst) {
        let b = &mut self.vc.blocks[self.cur];
        b.insts.push(i);
        b.locs.push(self.loc);
    }

    fn new_block(&mut self) -> VBlock {
        self.vc.blocks.push(Default::default())
    }

    fn switch_to(&mut self, b: VBlock) {
        self.vc.order.push(b);
        self.cur = b;
    }

    fn new_vreg(&mut self) -> VReg {
        self.vc.new_vreg()
    }

    fn vreg(&mut self, v: Value) -> VReg {
        if let Some(r) = self.vregs[v] {
            return r;
        }
        let r = self.vc.new_vreg();
        self.vregs[v] = Some(r);
        r
    }

    fn vblock(&mut self, b: Block) -> R<VBlock> {
        self.blocks[b]
            .ok_or_else(|| self.malformed(format!("branch to {b}, which is not in the layout")))
    }

    fn check_value(&self, v: Value) -> R<()> {
        if self.f.values.get(v).is_none() {
            return Err(self.malformed(format!("use of undefined value {v}")));
        }
        Ok(())
    }

    /// `dst = const`.
    fn load_const(&mut self, dst: Reg, c: i64) {
        if fits_i32(c) {
            self.emit(VInst::mov(dst, Src::Imm(c as i32)));
        } else {
            self.emit(VInst::LoadImm64 { dst, imm: c });
        }
    }

    /// `v` in a register (constants are rematerialised into a fresh vreg).
    fn reg(&mut self, v: Value) -> R<Reg> {
        self.check_value(v)?;
        if let Some(c) = self.consts[v] {
            let t = self.new_vreg();
            self.load_const(Reg::V(t), c);
            return Ok(Reg::V(t));
        }
        Ok(Reg::V(self.vreg(v)))
    }

    /// `v` as an operand: an immediate when it is a small constant.
    fn src(&mut self, v: Value) -> R<Src> {
        self.check_value(v)?;
        match self.consts[v] {
            Some(c) if fits_i32(c) => Ok(Src::Imm(c as i32)),
            _ => Ok(Src::Reg(self.reg(v)?)),
        }
    }

    /// `dst = v`.
    fn put(&mut self, dst: Reg, v: Value) -> R<()> {
        self.check_value(v)?;
        if let Some(c) = self.consts[v] {
            self.load_const(dst, c);
        } else {
            let r = self.vreg(v);
            self.emit(VInst::mov(dst, Src::Reg(Reg::V(r))));
        }
        Ok(())
    }

    fn is_const(&self, v: Value) -> bool {
        self.consts[v].is_some()
    }

    fn result(&mut self, inst: Inst) -> R<VReg> {
        match self.f.result(inst) {
            Some(v) => Ok(self.vreg(v)),
            None => Err(self.malformed(format!("{inst} has no result value"))),
        }
    }

    fn dead(&self, inst: Inst) -> bool {
        self.f.result(inst).is_some_and(|v| self.uses[v] == 0)
    }

    /// The helper that reads `space` memory (a NUL-terminated string with
    /// `string`): the `_kernel`/`_user` variants from 5.5, before that
    /// `probe_read[_str]`, which read either.
    fn read_helper(&self, space: MemSpace, string: bool) -> i32 {
        match (self.target.has_probe_read_kernel(), space, string) {
            (false, _, false) => helpers::PROBE_READ,
            (false, _, true) => helpers::PROBE_READ_STR,
            (true, MemSpace::Kernel, false) => helpers::PROBE_READ_KERNEL,
            (true, MemSpace::Kernel, true) => helpers::PROBE_READ_KERNEL_STR,
            (true, MemSpace::User, false) => helpers::PROBE_READ_USER,
            (true, MemSpace::User, true) => helpers::PROBE_READ_USER_STR,
        }
    }

    fn scratch(&self) -> R<VReg> {
        self.scratch
            .ok_or_else(|| self.malformed("scratch memory used but not laid out"))
    }

    fn globals(&self) -> R<VReg> {
        self.globals
            .ok_or_else(|| self.malformed("globals used but not looked up"))
    }

    fn slot(&self, s: Slot) -> R<u32> {
        if self.f.slots.get(s).is_none() {
            return Err(self.malformed(format!("unknown string slot {s}")));
        }
        Ok(self.layout.slot_off[s])
    }

    /// `base + off` as a (register, i16) address, materialising the base
    /// when the offset does not fit `off`; the range `off..off+len` must fit.
    fn addr(&mut self, base: VReg, off: u32, len: u32) -> R<(Reg, i16)> {
        if u64::from(off) + u64::from(len) <= i16::MAX as u64 {
            return Ok((Reg::V(base), off as i16));
        }
        if off > i32::MAX as u32 || len > i16::MAX as u32 {
            return Err(BackendError::OffsetTooLarge {
                func: self.f.name.clone(),
                offset: off.into(),
            });
        }
        let t = self.new_vreg();
        self.emit(VInst::mov(Reg::V(t), Src::Reg(Reg::V(base))));
        self.emit(VInst::alu(BPF_ADD, Reg::V(t), Src::Imm(off as i32)));
        Ok((Reg::V(t), 0))
    }

    /// `dst = scratch + off` (for helper pointer arguments).
    fn scratch_ptr(&mut self, dst: Reg, off: u32) -> R<()> {
        let s = self.scratch()?;
        self.ptr(dst, s, off)
    }

    /// `dst = base + off` (for helper pointer arguments).
    fn ptr(&mut self, dst: Reg, base: VReg, off: u32) -> R<()> {
        let s = base;
        self.emit(VInst::mov(dst, Src::Reg(Reg::V(s))));
        if off != 0 {
            let off = i32::try_from(off).map_err(|_| BackendError::OffsetTooLarge {
                func: self.f.name.clone(),
                offset: off.into(),
            })?;
            self.emit(VInst::alu(BPF_ADD, dst, Src::Imm(off)));
        }
        Ok(())
    }

    /// Copy `len` bytes (a multiple of 8): in kernel programs with one
    /// `probe_read_kernel` call when that is shorter than word copies (the
    /// instruction budget is the scarce resource there), else in 8-byte words.
    fn copy(&mut self, dst: VReg, dst_off: u32, src: VReg, src_off: u32, len: u32) -> R<()> {
        if !self.userspace && len >= COPY_BY_HELPER_MIN {
            let read = self.read_helper(MemSpace::Kernel, false);
            self.ptr(Reg::P(1), dst, dst_off)?;
            self.emit(VInst::mov(Reg::P(2), Src::Imm(len as i32)));
            self.ptr(Reg::P(3), src, src_off)?;
            self.emit(VInst::Call {
                helper: read,
                args: 3,
            });
            return Ok(());
        }
        let (db, doff) = self.addr(dst, dst_off, len)?;
        let (sb, soff) = self.addr(src, src_off, len)?;
        let t = Reg::V(self.new_vreg());
        for w in 0..(len / 8) as i16 {
            self.emit(VInst::Load {
                size: BPF_DW,
                dst: t,
                base: sb,
                off: soff + 8 * w,
            });
            self.emit(VInst::Store {
                size: BPF_DW,
                base: db,
                off: doff + 8 * w,
                src: Src::Reg(t),
            });
        }
        Ok(())
    }

    fn zero(&mut self, base: VReg, off: u32, len: u32) -> R<()> {
        let (b, o) = self.addr(base, off, len)?;
        for w in 0..(len / 8) as i16 {
            self.emit(VInst::Store {
                size: BPF_DW,
                base: b,
                off: o + 8 * w,
                src: Src::Imm(0),
            });
        }
        Ok(())
    }

    /// `dst = *map_lookup_elem(map, &0)`, returning at once on NULL.
    fn lookup(&mut self, map: u32, dst: VReg) {
        self.emit(VInst::LoadMap {
            dst: Reg::P(1),
            map,
        });
        self.emit(VInst::mov(Reg::P(2), Src::Reg(Reg::P(10))));
        self.emit(VInst::alu(BPF_ADD, Reg::P(2), Src::Imm(KEY_OFF.into())));
        self.emit(VInst::Call {
            helper: helpers::MAP_LOOKUP_ELEM,
            args: 2,
        });
        self.emit(VInst::mov(Reg::V(dst), Src::Reg(Reg::P(0))));
        let next = self.new_block();
        self.emit(VInst::Branch {
            op: BPF_JEQ,
            lhs: Reg::V(dst),
            rhs: Src::Imm(0),
            taken: self.ret_block,
            not_taken: next,
        });
        self.switch_to(next);
    }

    fn run(&mut self, entry_vb: VBlock) -> R<()> {
        let f = self.f;
        let entry = f
            .entry()
            .ok_or_else(|| self.malformed("function has no blocks"))?;
        // Pre-pass: constants, use counts, blocks.
        for b in &f.layout {
            if f.blocks.get(*b).is_none() {
                return Err(self.malformed(format!("{b} in the layout does not exist")));
            }
            if self.blocks[*b].is_some() {
                return Err(self.malformed(format!("{b} appears twice in the layout")));
            }
            let vb = self.new_block();
            self.blocks[*b] = Some(vb);
            for i in &f.blocks[*b].insts {
                let Some(data) = f.insts.get(*i) else {
                    return Err(self.malformed(format!("{i} does not exist")));
                };
                if let InstData::Iconst { imm } = data {
                    if let Some(v) = f.result(*i) {
                        self.consts[v] = Some(*imm);
                    }
                }
                for a in data.args() {
                    self.uses[a] += 1;
                }
            }
        }
        for b in &f.layout {
            let Some(t) = f.terminator(*b) else { continue };
            if let InstData::Brif { cond, .. } = &f.insts[t] {
                if let Some(ValueDef::Result(def)) = f.values.get(*cond).copied() {
                    if self.uses[*cond] == 1
                        && f.blocks[*b].insts.contains(&def)
                        && matches!(f.insts.get(def), Some(InstData::Icmp { .. }))
                    {
                        self.fused[def] = true;
                    }
                }
            }
        }
        self.prologue(entry_vb, entry)?;
        if self.far {
            self.emit_ret_block();
        }
        for b in &f.layout {
            let vb = self.vblock(*b)?;
            self.switch_to(vb);
            let mut terminated = false;
            for i in &f.blocks[*b].insts {
                self.loc = Some(f.srclocs[*i]);
                self.inst(*i)?;
                if f.insts[*i].is_terminator() {
                    terminated = true;
                    break;
                }
            }
            if !terminated {
                return Err(self.malformed(format!("{b} has no terminator")));
            }
            for (e, dest, args) in std::mem::take(&mut self.pending_edges) {
                self.switch_to(e);
                self.block_args(dest, &args)?;
                let d = self.vblock(dest)?;
                self.emit(VInst::Jump { dest: d });
            }
        }
        if !self.far {
            self.emit_ret_block();
        }
        Ok(())
    }

    /// The shared `r0 = 0; exit` tail.
    fn emit_ret_block(&mut self) {
        let loc = std::mem::take(&mut self.loc);
        self.switch_to(self.ret_block);
        self.emit(VInst::mov(Reg::P(0), Src::Imm(0)));
        self.emit(VInst::Exit);
        self.loc = loc;
    }

    /// Leave the handler: jump to the shared tail, or exit in place.
    fn emit_return(&mut self) {
        if self.far {
            self.emit(VInst::mov(Reg::P(0), Src::Imm(0)));
            self.emit(VInst::Exit);
        } else {
            // Free when the tail is the next block.
            self.emit(VInst::Jump {
                dest: self.ret_block,
            });
        }
    }

    fn prologue(&mut self, entry_vb: VBlock, entry: Block) -> R<()> {
        let f = self.f;
        self.loc = f.blocks[entry].insts.first().map(|i| f.srclocs[*i]);
        if !f.blocks[entry].params.is_empty() {
            return Err(self.malformed("the entry block has parameters"));
        }
        self.switch_to(entry_vb);
        self.emit(VInst::mov(Reg::V(self.ctx), Src::Reg(Reg::P(1))));
        if self.callee {
            return self.callee_prologue(entry);
        }
        self.emit(VInst::Store {
            size: BPF_W,
            base: Reg::P(10),
            off: KEY_OFF,
            src: Src::Imm(0),
        });
        let control = self.control;
        self.lookup(MAP_CONTROL, control);
        let flag = self.new_vreg();
        self.emit(VInst::Load {
            size: BPF_DW,
            dst: Reg::V(flag),
            base: Reg::V(control),
            off: control::EXIT_FLAG,
        });
        let next = self.new_block();
        self.emit(VInst::Branch {
            op: BPF_JNE,
            lhs: Reg::V(flag),
            rhs: Src::Imm(0),
            taken: self.ret_block,
            not_taken: next,
        });
        self.switch_to(next);
        if self.layout.needs_globals {
            let g = self.new_vreg();
            self.lookup(MAP_GLOBALS, g);
            self.globals = Some(g);
        }
        if self.layout.needs_scratch {
            let s = self.new_vreg();
            self.lookup(MAP_SCRATCH, s);
            self.scratch = Some(s);
        }
        let dest = self.vblock(entry)?;
        self.emit(VInst::Jump { dest });
        Ok(())
    }

    fn inst(&mut self, inst: Inst) -> R<()> {
        let data = self.f.insts[inst].clone();
        // Only pure instructions go when unused (array updates have a status,
        // a call runs for its effects).
        if data.has_result() && data.is_pure() && self.dead(inst) {
            return Ok(());
        }
        match data {
            InstData::Iconst { .. } => {}
            InstData::Unary { op, arg } => {
                let d = Reg::V(self.result(inst)?);
                self.put(d, arg)?;
                match op {
                    UnaryOp::Neg => self.emit(VInst::Neg { dst: d }),
                    UnaryOp::BitNot => self.emit(VInst::alu(BPF_XOR, d, Src::Imm(-1))),
                }
            }
            InstData::Binary { op, args } => {
                let d = self.result(inst)?;
                self.binary(op, args[0], args[1], d)?;
            }
            InstData::Icmp { cond, args } => {
                if self.fused[inst] {
                    return Ok(());
                }
                let d = Reg::V(self.result(inst)?);
                match self.cmp_operands(cond, args)? {
                    Err(known) => self.emit(VInst::mov(d, Src::Imm(known as i32))),
                    Ok((op, lhs, rhs)) => {
                        let zero = self.new_block();
                        let join = self.new_block();
                        self.emit(VInst::mov(d, Src::Imm(1)));
                        self.emit(VInst::Branch {
                            op,
                            lhs,
                            rhs,
                            taken: join,
                            not_taken: zero,
                        });
                        self.switch_to(zero);
                        self.emit(VInst::mov(d, Src::Imm(0)));
                        self.emit(VInst::Jump { dest: join });
                        self.switch_to(join);
                    }
                }
            }
            InstData::LoadGlobal { offset } => {
                let d = Reg::V(self.result(inst)?);
                let g = self.globals()?;
                let (base, off) = self.addr(g, offset, 8)?;
                self.emit(VInst::Load {
                    size: BPF_DW,
                    dst: d,
                    base,
                    off,
                });
            }
            InstData::StoreGlobal { offset, arg } => {
                let src = self.src(arg)?;
                let g = self.globals()?;
                let (base, off) = self.addr(g, offset, 8)?;
                self.emit(VInst::Store {
                    size: BPF_DW,
                    base,
                    off,
                    src,
                });
            }
            InstData::AtomicAddGlobal { offset, arg } => {
                let src = self.reg(arg)?;
                let g = self.globals()?;
                let (base, off) = self.addr(g, offset, 8)?;
                self.emit(VInst::AtomicAdd { base, off, src });
            }
            InstData::StrConst { dst, value } => self.str_const(dst, &value)?,
            InstData::StrLoadGlobal { dst, offset } => {
                let (s, g, d) = (self.scratch()?, self.globals()?, self.slot(dst)?);
                self.copy(s, d, g, offset, self.msl)?;
            }
            InstData::StrStoreGlobal { offset, src } => {
                let (s, g, o) = (self.scratch()?, self.globals()?, self.slot(src)?);
                self.copy(g, offset, s, o, self.msl)?;
            }
            InstData::StrCopy { dst, src } => {
                let (s, d, o) = (self.scratch()?, self.slot(dst)?, self.slot(src)?);
                if d != o {
                    self.copy(s, d, s, o, self.msl)?;
                }
            }
            InstData::StrConcat { dst, args } => self.str_concat(dst, args)?,
            InstData::StrCompare { args } => {
                let d = self.result(inst)?;
                self.str_compare(d, args)?;
            }
            InstData::StrCompareConst { arg, value } => {
                let d = self.result(inst)?;
                self.str_compare_const(d, arg, &value)?;
            }
            InstData::Context { op } => {
                let d = Reg::V(self.result(inst)?);
                let (helper, post) = match op {
                    ContextOp::Pid => (helpers::GET_CURRENT_PID_TGID, Some(true)),
                    ContextOp::Tid => (helpers::GET_CURRENT_PID_TGID, Some(false)),
                    ContextOp::Uid => (helpers::GET_CURRENT_UID_GID, Some(false)),
                    ContextOp::Gid => (helpers::GET_CURRENT_UID_GID, Some(true)),
                    ContextOp::Cpu => (helpers::GET_SMP_PROCESSOR_ID, None),
                    ContextOp::KtimeNs => (helpers::KTIME_GET_NS, None),
                    other => return self.funcs_context(other, d),
                };
                self.emit(VInst::Call { helper, args: 0 });
                match post {
                    // Upper half: tgid / gid.
                    Some(true) => {
                        self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
                        self.emit(VInst::alu(BPF_RSH, d, Src::Imm(32)));
                    }
                    // Lower half: a 32-bit move zero-extends.
                    Some(false) => self.emit(VInst::Alu {
                        op: BPF_MOV,
                        wide: false,
                        signed: false,
                        dst: d,
                        src: Src::Reg(Reg::P(0)),
                    }),
                    None => self.emit(VInst::mov(d, Src::Reg(Reg::P(0)))),
                }
            }
            InstData::StrContext {
                dst,
                op: StrContextOp::Execname,
            } => {
                let (s, d) = (self.scratch()?, self.slot(dst)?);
                // Zero first: get_current_comm writes at most 16 bytes and
                // strings must be zero after their NUL.
                self.zero(s, d, self.msl)?;
                self.scratch_ptr(Reg::P(1), d)?;
                self.emit(VInst::mov(Reg::P(2), Src::Imm(self.msl.min(16) as i32)));
                self.emit(VInst::Call {
                    helper: helpers::GET_CURRENT_COMM,
                    args: 2,
                });
            }
            InstData::Printf { format, args } => {
                let s = self.scratch()?;
                self.header(record::PRINTF, format)?;
                let mut off = self.layout.record_off + record::HEADER_SIZE;
                for a in args {
                    match a {
                        OutArg::Long(v) => {
                            let src = self.src(v)?;
                            let (base, o) = self.addr(s, off, 8)?;
                            self.emit(VInst::Store {
                                size: BPF_DW,
                                base,
                                off: o,
                                src,
                            });
                            off += 8;
                        }
                        OutArg::Str(slot) => {
                            let so = self.slot(slot)?;
                            self.copy(s, off, s, so, self.msl)?;
                            off += self.msl;
                        }
                    }
                }
                self.output(off - self.layout.record_off)?;
            }
            // ---- arrays ----
            InstData::KeyStore { key, offset, arg } => {
                let src = self.src(arg)?;
                let (s, k) = (self.scratch()?, self.slot(key)?);
                let (base, off) = self.addr(s, k + offset, 8)?;
                self.emit(VInst::Store {
                    size: BPF_DW,
                    base,
                    off,
                    src,
                });
            }
            InstData::KeyStoreStr { key, offset, src } => {
                let (s, k, o) = (self.scratch()?, self.slot(key)?, self.slot(src)?);
                self.copy(s, k + offset, s, o, self.msl)?;
            }
            InstData::KeyLoad { key, offset } => {
                let d = Reg::V(self.result(inst)?);
                let (s, k) = (self.scratch()?, self.slot(key)?);
                let (base, off) = self.addr(s, k + offset, 8)?;
                self.emit(VInst::Load {
                    size: BPF_DW,
                    dst: d,
                    base,
                    off,
                });
            }
            InstData::KeyLoadStr { dst, key, offset } => {
                let (s, k, d) = (self.scratch()?, self.slot(key)?, self.slot(dst)?);
                self.copy(s, d, s, k + offset, self.msl)?;
            }
            InstData::ArrayGet { array, key } => {
                let d = self.result(inst)?;
                self.array_lookup(array, key, d)?;
                let load = self.new_block();
                let join = self.new_block();
                // Missing: r0 (and so d) is NULL, which is the 0 to return.
                self.emit(VInst::Branch {
                    op: BPF_JEQ,
                    lhs: Reg::V(d),
                    rhs: Src::Imm(0),
                    taken: join,
                    not_taken: load,
                });
                self.switch_to(load);
                self.emit(VInst::Load {
                    size: BPF_DW,
                    dst: Reg::V(d),
                    base: Reg::V(d),
                    off: 0,
                });
                self.emit(VInst::Jump { dest: join });
                self.switch_to(join);
            }
            InstData::ArrayGetStr { dst, array, key } => {
                let p = self.new_vreg();
                self.array_lookup(array, key, p)?;
                let (s, d) = (self.scratch()?, self.slot(dst)?);
                let found = self.new_block();
                let missing = self.new_block();
                let join = self.new_block();
                self.emit(VInst::Branch {
                    op: BPF_JEQ,
                    lhs: Reg::V(p),
                    rhs: Src::Imm(0),
                    taken: missing,
                    not_taken: found,
                });
                self.switch_to(found);
                self.copy(s, d, p, 0, self.msl)?;
                self.emit(VInst::Jump { dest: join });
                self.switch_to(missing);
                self.zero(s, d, self.msl)?;
                self.emit(VInst::Jump { dest: join });
                self.switch_to(join);
            }
            InstData::ArraySet { array, key, arg } => {
                let d = self.result(inst)?;
                let src = self.src(arg)?;
                let (s, v) = (self.scratch()?, self.layout.array_val_off);
                let (base, off) = self.addr(s, v, 8)?;
                self.emit(VInst::Store {
                    size: BPF_DW,
                    base,
                    off,
                    src,
                });
                self.array_update(array, key, v, 8, 0, d)?;
            }
            InstData::ArraySetStr { array, key, src } => {
                let d = self.result(inst)?;
                let o = self.slot(src)?;
                self.array_update(array, key, o, self.msl, 0, d)?;
            }
            InstData::ArrayAdd { array, key, arg } => {
                let d = self.result(inst)?;
                self.array_add(array, key, arg, d)?;
            }
            InstData::ArrayIn { array, key } => {
                let d = self.result(inst)?;
                self.array_lookup(array, key, d)?;
                let one = self.new_block();
                let join = self.new_block();
                self.emit(VInst::Branch {
                    op: BPF_JEQ,
                    lhs: Reg::V(d),
                    rhs: Src::Imm(0),
                    taken: join,
                    not_taken: one,
                });
                self.switch_to(one);
                self.emit(VInst::mov(Reg::V(d), Src::Imm(1)));
                self.emit(VInst::Jump { dest: join });
                self.switch_to(join);
            }
            InstData::ArrayDelete { array, key } => {
                self.array_args(array, key)?;
                self.emit(VInst::Call {
                    helper: helpers::MAP_DELETE_ELEM,
                    args: 2,
                });
            }
            InstData::ArrayClear { array } => {
                self.userspace_only("delete of a whole array")?;
                let map = self.array_map(array)?;
                self.emit(VInst::LoadMap {
                    dst: Reg::P(1),
                    map,
                });
                self.emit(VInst::Call {
                    helper: helpers::STAPC_ARRAY_CLEAR,
                    args: 1,
                });
            }
            InstData::ArrayIterStart { array, sort, limit } => {
                self.userspace_only("foreach")?;
                let d = Reg::V(self.result(inst)?);
                let map = self.array_map(array)?;
                let info = &self.layout.arrays[array as usize];
                let cols: Vec<bool> = info.keys.iter().map(|k| *k == ArgKind::Str).collect();
                let sort = match sort {
                    IterSort::Unsorted => None,
                    IterSort::Key { column, descending } => Some((Some(column), descending)),
                    IterSort::Value { descending } => Some((None, descending)),
                };
                let mut spec = helpers::iter_spec(&cols, info.value == ArgKind::Str, sort);
                if info.stat.is_some() {
                    spec |= helpers::ITER_SPEC_STAT;
                }
                self.put(Reg::P(3), limit)?;
                self.emit(VInst::LoadMap {
                    dst: Reg::P(1),
                    map,
                });
                self.emit(VInst::mov(Reg::P(2), Src::Imm(spec)));
                self.emit(VInst::Call {
                    helper: helpers::STAPC_ARRAY_ITER_START,
                    args: 3,
                });
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
            }
            InstData::ArrayIterNext { handle, key } => {
                self.userspace_only("foreach")?;
                let d = Reg::V(self.result(inst)?);
                let k = self.slot(key)?;
                self.put(Reg::P(1), handle)?;
                self.scratch_ptr(Reg::P(2), k)?;
                let ks = self.f.slots[key].size;
                self.emit(VInst::mov(Reg::P(3), Src::Imm(ks as i32)));
                self.emit(VInst::Call {
                    helper: helpers::STAPC_ARRAY_ITER_NEXT,
                    args: 3,
                });
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
            }
            InstData::ArrayIterEnd { handle } => {
                self.userspace_only("foreach")?;
                self.put(Reg::P(1), handle)?;
                self.emit(VInst::Call {
                    helper: helpers::STAPC_ARRAY_ITER_END,
                    args: 1,
                });
            }
            InstData::Exit => {
                self.set_exit_flag();
                self.header(record::EXIT, 0)?;
                self.output(record::HEADER_SIZE)?;
            }
            // ---- functions/strings ----
            InstData::StrOp {
                op,
                dst,
                srcs,
                args,
            } => {
                let d = match dst {
                    Some(_) => None,
                    None => Some(self.result(inst)?),
                };
                self.str_op(op, d, dst, &srcs, &args)?;
            }
            InstData::Sprintf { dst, format, args } => self.sprintf(dst, format, &args)?,
            InstData::Arg { index } => {
                let d = Reg::V(self.result(inst)?);
                let a = *self
                    .argv
                    .get(index as usize)
                    .ok_or_else(|| self.malformed(format!("arg {index} outside a callee")))?;
                self.emit(VInst::mov(d, Src::Reg(Reg::V(a))));
            }
            InstData::Call { func, args } => {
                let d = self.result(inst)?;
                self.local_call(d, func, &args)?;
            }
            InstData::ProbeRead {
                space,
                dst,
                addr,
                size,
                string,
            } => {
                let d = Reg::V(self.result(inst)?);
                let (s, so) = (self.scratch()?, self.slot(dst)?);
                let helper = self.read_helper(space, string);
                let len = i32::try_from(size)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| self.malformed(format!("probe_read of {size} bytes")))?;
                if string {
                    // probe_read_str does not pad: strings must be zero after their NUL.
                    self.zero(s, so, size)?;
                }
                let a = self.src(addr)?;
                self.scratch_ptr(Reg::P(1), so)?;
                self.emit(VInst::mov(Reg::P(2), Src::Imm(len)));
                self.emit(VInst::mov(Reg::P(3), a));
                self.emit(VInst::Call { helper, args: 3 });
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
            }
            InstData::LoadCtx {
                offset,
                size,
                signed,
            } => {
                let d = Reg::V(self.result(inst)?);
                let (bsize, bits) = match size {
                    1 => (BPF_B, 8),
                    2 => (BPF_H, 16),
                    4 => (BPF_W, 32),
                    8 => (BPF_DW, 64),
                    _ => return Err(self.malformed(format!("load_ctx of {size} bytes"))),
                };
                let off = i16::try_from(offset)
                    .map_err(|_| self.malformed(format!("load_ctx at offset {offset}")))?;
                self.emit(VInst::Load {
                    size: bsize,
                    dst: d,
                    base: Reg::V(self.ctx),
                    off,
                });
                if signed && bits < 64 {
                    self.emit(VInst::alu(BPF_LSH, d, Src::Imm(64 - bits)));
                    self.emit(VInst::alu(BPF_ARSH, d, Src::Imm(64 - bits)));
                }
            }
            InstData::ReturnValue { arg } => {
                if !self.callee {
                    return Err(self.malformed("return with a value outside a function"));
                }
                self.put(Reg::P(0), arg)?;
                self.emit(VInst::Exit);
            }
            // ---- statistics ----
            InstData::StatAdd { stat, arg, key } => {
                let status = match key {
                    Some(_) => Some(Reg::V(self.result(inst)?)),
                    None => None,
                };
                self.stat_add(stat, arg, key, status)?
            }
            InstData::StatRead { stat, op, key } => {
                if !self.userspace {
                    return Err(self.malformed("statistic read in a kernel program"));
                }
                let d = Reg::V(self.result(inst)?);
                let map = self.stat_desc(stat)?.map;
                let key = key.map(|k| self.slot(k)).transpose()?;
                self.stat_call(map, key, helpers::STAPC_STAT_READ, Some(op.code()))?;
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
            }
            InstData::StatClear { stat } => {
                if !self.userspace {
                    return Err(self.malformed("statistic reset in a kernel program"));
                }
                let map = self.stat_desc(stat)?.map;
                self.stat_call(map, None, helpers::STAPC_STAT_CLEAR, None)?;
            }
            InstData::PrintHist { hist, key } => {
                self.header(record::HIST, hist)?;
                let mut size = record::HEADER_SIZE;
                if let Some(k) = key {
                    // The element's packed key follows the header.
                    let s = self.scratch()?;
                    // (A key slot is exactly the packed key's size.)
                    let ko = self.slot(k)?;
                    let ks = self.f.slots[k].size;
                    self.copy(s, self.layout.record_off + size, s, ko, ks)?;
                    size += ks;
                }
                self.output(size)?;
            }
            InstData::Jump { dest, args } => {
                self.block_args(dest, &args)?;
                let d = self.vblock(dest)?;
                self.emit(VInst::Jump { dest: d });
            }
            InstData::Brif {
                cond,
                then_dest,
                then_args,
                else_dest,
                else_args,
            } => {
                self.check_value(cond)?;
                if let Some(c) = self.consts[cond] {
                    let (dest, args) = if c != 0 {
                        (then_dest, then_args)
                    } else {
                        (else_dest, else_args)
                    };
                    self.block_args(dest, &args)?;
                    let d = self.vblock(dest)?;
                    self.emit(VInst::Jump { dest: d });
                    return Ok(());
                }
                let fused = match self.f.values[cond] {
                    ValueDef::Result(def) if self.fused[def] => match &self.f.insts[def] {
                        InstData::Icmp { cond, args } => Some(self.cmp_operands(*cond, *args)?),
                        _ => None,
                    },
                    _ => None,
                };
                let taken = self.edge(then_dest, then_args)?;
                let not_taken = self.edge(else_dest, else_args)?;
                match fused {
                    Some(Err(known)) => {
                        let dest = if known { taken } else { not_taken };
                        self.emit(VInst::Jump { dest });
                    }
                    Some(Ok((op, lhs, rhs))) => self.emit(VInst::Branch {
                        op,
                        lhs,
                        rhs,
                        taken,
                        not_taken,
                    }),
                    None => {
                        let lhs = self.reg(cond)?;
                        self.emit(VInst::Branch {
                            op: BPF_JNE,
                            lhs,
                            rhs: Src::Imm(0),
                            taken,
                            not_taken,
                        });
                    }
                }
            }
            InstData::Return => {
                self.emit_return();
            }
            InstData::Trap { error } => self.trap(error, None)?,
            InstData::TrapMsg { error, msg } => self.trap(error, Some(msg))?,
        }
        Ok(())
    }

    /// Operands of a comparison as a jump: `Ok((op, lhs, rhs))`, or
    /// `Err(result)` when both are constants.
    fn cmp_operands(&mut self, cc: IntCC, args: [Value; 2]) -> R<Result<(u8, Reg, Src), bool>> {
        let [a, b] = args;
        self.check_value(a)?;
        self.check_value(b)?;
        if let (Some(x), Some(y)) = (self.consts[a], self.consts[b]) {
            return Ok(Err(cc.eval(x, y)));
        }
        let (cc, a, b) = if self.is_const(a) {
            (cc_swap(cc), b, a)
        } else {
            (cc, a, b)
        };
        let lhs = self.reg(a)?;
        let rhs = self.src(b)?;
        Ok(Ok((cc_op(cc), lhs, rhs)))
    }

    fn binary(&mut self, op: BinaryOp, a: Value, b: Value, d: VReg) -> R<()> {
        let dst = Reg::V(d);
        let commutative = matches!(
            op,
            BinaryOp::Add | BinaryOp::Mul | BinaryOp::And | BinaryOp::Or | BinaryOp::Xor
        );
        let (a, b) = if commutative && self.is_const(a) && !self.is_const(b) {
            (b, a)
        } else {
            (a, b)
        };
        let bpf_op = match op {
            BinaryOp::Add => BPF_ADD,
            BinaryOp::Sub => BPF_SUB,
            BinaryOp::Mul => BPF_MUL,
            BinaryOp::And => BPF_AND,
            BinaryOp::Or => BPF_OR,
            BinaryOp::Xor => BPF_XOR,
            BinaryOp::Shl => BPF_LSH,
            BinaryOp::AShr => BPF_ARSH,
            BinaryOp::LShr => BPF_RSH,
            BinaryOp::SDiv | BinaryOp::SRem => {
                let div = op == BinaryOp::SDiv;
                if self.target.has_isa_v4() {
                    self.put(dst, a)?;
                    let rb = self.reg(b)?;
                    self.emit(VInst::Alu {
                        op: if div { BPF_DIV } else { BPF_MOD },
                        wide: true,
                        signed: true,
                        dst,
                        src: Src::Reg(rb),
                    });
                } else {
                    self.signed_divmod(div, a, b, dst)?;
                }
                return Ok(());
            }
        };
        self.put(dst, a)?;
        let mut src = self.src(b)?;
        if let (true, Src::Imm(i)) = (
            matches!(op, BinaryOp::Shl | BinaryOp::AShr | BinaryOp::LShr),
            src,
        ) {
            // The verifier rejects immediate shifts >= 64; the IR promises 0..=63.
            src = Src::Imm(i & 63);
        }
        self.emit(VInst::alu(bpf_op, dst, src));
        Ok(())
    }

    /// C-semantics signed division/remainder from unsigned BPF div/mod,
    /// branch-free: |a| and |b| via the sign masks, then the sign fixed up.
    /// `i64::MIN / -1` yields `i64::MIN` and `i64::MIN % -1` yields 0.
    fn signed_divmod(&mut self, div: bool, a: Value, b: Value, dst: Reg) -> R<()> {
        let abs = |s: &mut Self, v: Value| -> R<(Reg, Reg)> {
            let sign = Reg::V(s.new_vreg());
            let mag = Reg::V(s.new_vreg());
            s.put(sign, v)?;
            s.emit(VInst::alu(BPF_ARSH, sign, Src::Imm(63)));
            s.put(mag, v)?;
            s.emit(VInst::alu(BPF_XOR, mag, Src::Reg(sign)));
            s.emit(VInst::alu(BPF_SUB, mag, Src::Reg(sign)));
            Ok((sign, mag))
        };
        let (sa, ua) = abs(self, a)?;
        let (sb, ub) = abs(self, b)?;
        self.emit(VInst::mov(dst, Src::Reg(ua)));
        if div {
            self.emit(VInst::alu(BPF_DIV, dst, Src::Reg(ub)));
            self.emit(VInst::alu(BPF_XOR, sa, Src::Reg(sb)));
        } else {
            self.emit(VInst::alu(BPF_MOD, dst, Src::Reg(ub)));
        }
        self.emit(VInst::alu(BPF_XOR, dst, Src::Reg(sa)));
        self.emit(VInst::alu(BPF_SUB, dst, Src::Reg(sa)));
        Ok(())
    }

    /// The block a branch with `args` should target: `dest` itself, or a
    /// new edge block doing the parallel moves (emitted after this block).
    fn edge(&mut self, dest: Block, args: Vec<Value>) -> R<VBlock> {
        let d = self.vblock(dest)?;
        if args.is_empty() {
            if !self.f.blocks[dest].params.is_empty() {
                return Err(self.malformed(format!("branch to {dest} without its arguments")));
            }
            return Ok(d);
        }
        let e = self.new_block();
        self.pending_edges.push((e, dest, args));
        Ok(e)
    }

    /// Assign branch arguments to `dest`'s parameters as one parallel move.
    fn block_args(&mut self, dest: Block, args: &[Value]) -> R<()> {
        let params = self
            .f
            .blocks
            .get(dest)
            .map(|b| b.params.clone())
            .unwrap_or_default();
        if params.len() != args.len() {
            return Err(self.malformed(format!(
                "branch to {dest} passes {} arguments for {} parameters",
                args.len(),
                params.len()
            )));
        }
        let mut pending = Vec::new();
        for (p, a) in params.iter().zip(args) {
            self.check_value(*a)?;
            let d = self.vreg(*p);
            let s = match self.consts[*a] {
                Some(c) => MoveSrc::Const(c),
                None => MoveSrc::V(self.vreg(*a)),
            };
            if s != MoveSrc::V(d) {
                pending.push((d, s));
            }
        }
        self.parallel_moves(pending);
        Ok(())
    }

    /// Sequentialise a parallel copy: emit a move once nobody still needs
    /// its destination's old value; break cycles through a fresh vreg.
    fn parallel_moves(&mut self, mut pending: Vec<(VReg, MoveSrc)>) {
        while !pending.is_empty() {
            let ready = pending
                .iter()
                .position(|(d, _)| !pending.iter().any(|(_, s)| *s == MoveSrc::V(*d)));
            match ready {
                Some(i) => {
                    let (d, s) = pending.remove(i);
                    match s {
                        MoveSrc::Const(c) => self.load_const(Reg::V(d), c),
                        MoveSrc::V(s) => self.emit(VInst::mov(Reg::V(d), Src::Reg(Reg::V(s)))),
                    }
                }
                None => {
                    let (d, _) = pending[0];
                    let t = self.new_vreg();
                    self.emit(VInst::mov(Reg::V(t), Src::Reg(Reg::V(d))));
                    for p in pending.iter_mut() {
                        if p.1 == MoveSrc::V(d) {
                            p.1 = MoveSrc::V(t);
                        }
                    }
                }
            }
        }
    }

    fn str_const(&mut self, dst: Slot, value: &str) -> R<()> {
        let (s, d) = (self.scratch()?, self.slot(dst)?);
        let mut buf = vec![0u8; self.msl as usize];
        let bytes = value.as_bytes();
        let n = bytes.len().min(self.msl as usize - 1);
        buf[..n].copy_from_slice(&bytes[..n]);
        let (base, off) = self.addr(s, d, self.msl)?;
        for (w, chunk) in buf.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            let v = i64::from_le_bytes(b);
            let o = off + 8 * w as i16;
            if fits_i32(v) {
                self.emit(VInst::Store {
                    size: BPF_DW,
                    base,
                    off: o,
                    src: Src::Imm(v as i32),
                });
            } else {
                self.emit(VInst::Store {
                    size: BPF_W,
                    base,
                    off: o,
                    src: Src::Imm(v as i32),
                });
                self.emit(VInst::Store {
                    size: BPF_W,
                    base,
                    off: o + 4,
                    src: Src::Imm((v >> 32) as i32),
                });
            }
        }
        Ok(())
    }

    fn str_concat(&mut self, dst: Slot, args: [Slot; 2]) -> R<()> {
        let (d, a, b) = (self.slot(dst)?, self.slot(args[0])?, self.slot(args[1])?);
        let msl = self.msl as i32;
        if self.userspace {
            self.scratch_ptr(Reg::P(1), d)?;
            self.scratch_ptr(Reg::P(2), a)?;
            self.scratch_ptr(Reg::P(3), b)?;
            self.emit(VInst::mov(Reg::P(4), Src::Imm(msl)));
            self.emit(VInst::Call {
                helper: helpers::STAPC_STR_CONCAT,
                args: 4,
            });
            return Ok(());
        }
        let s = self.scratch()?;
        let read_str = self.read_helper(MemSpace::Kernel, true);
        // The second operand must not be read while dst is being written
        // (dst == b, including dst == a == b).
        let b = if d == b {
            let t = self.layout.tmp_off;
            self.copy(s, t, s, b, self.msl)?;
            t
        } else {
            b
        };
        if d != a {
            // probe_read_str does not pad: zero the rest of dst first.
            self.zero(s, d, self.msl)?;
        }
        // dst = a (a self-copy when dst == a), r0 = strlen(a) + 1.
        self.scratch_ptr(Reg::P(1), d)?;
        self.emit(VInst::mov(Reg::P(2), Src::Imm(msl)));
        self.scratch_ptr(Reg::P(3), a)?;
        self.emit(VInst::Call {
            helper: read_str,
            args: 3,
        });
        let len = Reg::V(self.new_vreg());
        self.emit(VInst::mov(len, Src::Reg(Reg::P(0))));
        self.emit(VInst::alu(BPF_ADD, len, Src::Imm(-1)));
        // Bound len to 0..MAXSTRINGLEN-1 so the verifier can check dst + len.
        if self.msl.is_power_of_two() {
            self.emit(VInst::alu(BPF_AND, len, Src::Imm(msl - 1)));
        } else {
            let clamp = self.new_block();
            let cont = self.new_block();
            self.emit(VInst::Branch {
                op: BPF_JLE,
                lhs: len,
                rhs: Src::Imm(msl - 1),
                taken: cont,
                not_taken: clamp,
            });
            self.switch_to(clamp);
            self.emit(VInst::mov(len, Src::Imm(msl - 1)));
            self.emit(VInst::Jump { dest: cont });
            self.switch_to(cont);
        }
        self.scratch_ptr(Reg::P(1), d)?;
        self.emit(VInst::alu(BPF_ADD, Reg::P(1), Src::Reg(len)));
        self.emit(VInst::mov(Reg::P(2), Src::Imm(msl)));
        self.emit(VInst::alu(BPF_SUB, Reg::P(2), Src::Reg(len)));
        self.scratch_ptr(Reg::P(3), b)?;
        self.emit(VInst::Call {
            helper: read_str,
            args: 3,
        });
        Ok(())
    }

    /// `str_compare` against a constant: each word of `arg` is compared
    /// with the constant's word as an immediate (in kernel and userspace
    /// programs alike). A zero constant word means `arg` is greater as soon
    /// as its word is not zero.
    fn str_compare_const(&mut self, d: VReg, arg: Slot, value: &str) -> R<()> {
        let a = self.slot(arg)?;
        let msl = self.msl as usize;
        let mut bytes = vec![0u8; msl];
        let n = value.len().min(msl.saturating_sub(1));
        bytes[..n].copy_from_slice(&value.as_bytes()[..n]);
        let dst = Reg::V(d);
        let s = self.scratch()?;
        let (ba, oa) = self.addr(s, a, self.msl)?;
        let (ta, tb) = (Reg::V(self.new_vreg()), Reg::V(self.new_vreg()));
        let eq = self.new_block();
        let diff = self.new_block();
        let greater = self.new_block();
        let join = self.new_block();
        let words = msl / 8;
        for w in 0..words {
            let cw =
                u64::from_le_bytes(bytes[8 * w..8 * w + 8].try_into().unwrap_or([0; 8])) as i64;
            self.emit(VInst::Load {
                size: BPF_DW,
                dst: ta,
                base: ba,
                off: oa + 8 * w as i16,
            });
            let next = if w + 1 == words { eq } else { self.new_block() };
            if cw == 0 {
                self.emit(VInst::Branch {
                    op: BPF_JNE,
                    lhs: ta,
                    rhs: Src::Imm(0),
                    taken: greater,
                    not_taken: next,
                });
            } else if fits_i32(cw) {
                // The constant goes into a register only on the way out.
                let prep = self.new_block();
                self.emit(VInst::Branch {
                    op: BPF_JNE,
                    lhs: ta,
                    rhs: Src::Imm(cw as i32),
                    taken: prep,
                    not_taken: next,
                });
                self.switch_to(prep);
                self.emit(VInst::mov(tb, Src::Imm(cw as i32)));
                self.emit(VInst::Jump { dest: diff });
            } else {
                self.emit(VInst::LoadImm64 { dst: tb, imm: cw });
                self.emit(VInst::Branch {
                    op: BPF_JNE,
                    lhs: ta,
                    rhs: Src::Reg(tb),
                    taken: diff,
                    not_taken: next,
                });
            }
            self.switch_to(next);
        }
        self.emit(VInst::mov(dst, Src::Imm(0)));
        self.emit(VInst::Jump { dest: join });
        self.switch_to(greater);
        self.emit(VInst::mov(dst, Src::Imm(1)));
        self.emit(VInst::Jump { dest: join });
        self.switch_to(diff);
        self.word_order(dst, ta, tb, join);
        Ok(())
    }

    /// At the first differing words `ta` and `tb` of two strings: `dst` =
    /// 1 or -1 by their big-endian order (the order of their first differing
    /// bytes), then on to `join`, which becomes the current block.
    fn word_order(&mut self, dst: Reg, ta: Reg, tb: Reg, join: VBlock) {
        let neg = self.new_block();
        self.emit(VInst::Bswap64 { dst: ta });
        self.emit(VInst::Bswap64 { dst: tb });
        self.emit(VInst::mov(dst, Src::Imm(1)));
        self.emit(VInst::Branch {
            op: BPF_JGT,
            lhs: ta,
            rhs: Src::Reg(tb),
            taken: join,
            not_taken: neg,
        });
        self.switch_to(neg);
        self.emit(VInst::mov(dst, Src::Imm(-1)));
        self.emit(VInst::Jump { dest: join });
        self.switch_to(join);
    }

    fn str_compare(&mut self, d: VReg, args: [Slot; 2]) -> R<()> {
        let (a, b) = (self.slot(args[0])?, self.slot(args[1])?);
        let dst = Reg::V(d);
        if a == b {
            self.emit(VInst::mov(dst, Src::Imm(0)));
            return Ok(());
        }
        if self.userspace {
            self.scratch_ptr(Reg::P(1), a)?;
            self.scratch_ptr(Reg::P(2), b)?;
            self.emit(VInst::mov(Reg::P(3), Src::Imm(self.msl as i32)));
            self.emit(VInst::Call {
                helper: helpers::STAPC_STR_COMPARE,
                args: 3,
            });
            // Sign-extend the helper's int result.
            self.emit(VInst::mov(dst, Src::Reg(Reg::P(0))));
            self.emit(VInst::alu(BPF_LSH, dst, Src::Imm(32)));
            self.emit(VInst::alu(BPF_ARSH, dst, Src::Imm(32)));
            return Ok(());
        }
        // Strings are zero after their NUL, so comparing the buffers word by
        // word is strcmp; at the first differing word, big-endian order of
        // the words is the order of their first differing bytes.
        let s = self.scratch()?;
        let (ba, oa) = self.addr(s, a, self.msl)?;
        let (bb, ob) = self.addr(s, b, self.msl)?;
        let (ta, tb) = (Reg::V(self.new_vreg()), Reg::V(self.new_vreg()));
        let eq = self.new_block();
        let diff = self.new_block();
        let join = self.new_block();
        let words = (self.msl / 8) as i16;
        for w in 0..words {
            self.emit(VInst::Load {
                size: BPF_DW,
                dst: ta,
                base: ba,
                off: oa + 8 * w,
            });
            self.emit(VInst::Load {
                size: BPF_DW,
                dst: tb,
                base: bb,
                off: ob + 8 * w,
            });
            let next = if w + 1 == words { eq } else { self.new_block() };
            self.emit(VInst::Branch {
                op: BPF_JNE,
                lhs: ta,
                rhs: Src::Reg(tb),
                taken: diff,
                not_taken: next,
            });
            self.switch_to(next);
        }
        self.emit(VInst::mov(dst, Src::Imm(0)));
        self.emit(VInst::Jump { dest: join });
        self.switch_to(diff);
        self.word_order(dst, ta, tb, join);
        Ok(())
    }

    // ---- arrays ----

    /// The map index of array `array`: after the four runtime maps and
    /// the statistics' maps (`ScratchLayout::array_map_base`).
    fn array_map(&self, array: u32) -> R<u32> {
        let Some(info) = self.layout.arrays.get(array as usize) else {
            return Err(self.malformed(format!("array{array} does not exist")));
        };
        // An array of statistics is its statistic's map; the other arrays'
        // maps follow the statistics' in order.
        if let Some(s) = info.stat {
            return Ok(self.stat_desc(s)?.map);
        }
        let before = self.layout.arrays[..array as usize]
            .iter()
            .filter(|a| a.stat.is_none())
            .count() as u32;
        Ok(self.layout.array_map_base.max(MAP_OUTPUT + 1) + before)
    }

    fn userspace_only(&self, what: &str) -> R<()> {
        if self.userspace {
            Ok(())
        } else {
            Err(self.malformed(format!("{what} in a kernel program")))
        }
    }

    /// Map helpers take map values (scratch) as key and value pointers
    /// since Linux 4.18; before, only stack pointers.
    fn keys_on_stack(&self) -> bool {
        !self.userspace && self.target.kernel < stapc_bpf::KernelVersion::new(4, 18)
    }

    /// On kernels before 4.18: reserve the bottom of the stack frame for the
    /// largest key (plus value, for updates) of this program.
    fn array_stack_buffer(&mut self) -> R<()> {
        if !self.keys_on_stack() {
            return Ok(());
        }
        let mut need = 0u32;
        for b in &self.f.layout {
            let Some(bd) = self.f.blocks.get(*b) else {
                continue;
            };
            for i in &bd.insts {
                let (key, value) = match self.f.insts.get(*i) {
                    Some(
                        InstData::ArrayGet { key, .. }
                        | InstData::ArrayGetStr { key, .. }
                        | InstData::ArrayIn { key, .. }
                        | InstData::ArrayDelete { key, .. },
                    ) => (*key, 0),
                    Some(InstData::ArraySet { key, .. } | InstData::ArrayAdd { key, .. }) => {
                        (*key, 8)
                    }
                    Some(InstData::ArraySetStr { key, .. }) => (*key, self.msl),
                    _ => continue,
                };
                let ks = self.f.slots.get(key).map_or(0, |s| s.size);
                need = need.max(round8(u64::from(ks)) as u32 + value);
            }
        }
        // Leave room for the prologue's key and some spill slots.
        if need + RESERVED_STACK + 64 > STACK_FRAME {
            return Err(BackendError::ArrayKeyTooLarge {
                func: self.f.name.clone(),
                bytes: need,
                limit: STACK_FRAME - RESERVED_STACK - 64,
            });
        }
        self.vc.stack_buffer = need;
        Ok(())
    }

    /// Copy `len` bytes (a multiple of 8) from `src + src_off` to the stack
    /// at `r10 + stack_off`.
    fn copy_to_stack(&mut self, stack_off: i16, src: VReg, src_off: u32, len: u32) -> R<()> {
        if len >= COPY_BY_HELPER_MIN {
            let read = self.read_helper(MemSpace::Kernel, false);
            self.emit(VInst::mov(Reg::P(1), Src::Reg(Reg::P(10))));
            self.emit(VInst::alu(BPF_ADD, Reg::P(1), Src::Imm(stack_off.into())));
            self.emit(VInst::mov(Reg::P(2), Src::Imm(len as i32)));
            self.ptr(Reg::P(3), src, src_off)?;
            self.emit(VInst::Call {
                helper: read,
                args: 3,
            });
            return Ok(());
        }
        let (sb, soff) = self.addr(src, src_off, len)?;
        let t = Reg::V(self.new_vreg());
        for w in 0..(len / 8) as i16 {
            self.emit(VInst::Load {
                size: BPF_DW,
                dst: t,
                base: sb,
                off: soff + 8 * w,
            });
            self.emit(VInst::Store {
                size: BPF_DW,
                base: Reg::P(10),
                off: stack_off + 8 * w,
                src: Src::Reg(t),
            });
        }
        Ok(())
    }

    /// r1 = the array's map, r2 = its key and, with `value` = (scratch
    /// offset, size), r3 = the value: scratch pointers, or on kernels before
    /// 4.18 copies at the bottom of the stack frame.
    fn array_args_with(&mut self, array: u32, key: Slot, value: Option<(u32, u32)>) -> R<()> {
        let map = self.array_map(array)?;
        let k = self.slot(key)?;
        if self.keys_on_stack() {
            let s = self.scratch()?;
            let ks = round8(u64::from(self.f.slots[key].size)) as u32;
            let base = -(STACK_FRAME as i32);
            let vlen = value.map_or(0, |v| v.1);
            if ks + vlen > self.vc.stack_buffer {
                return Err(self.malformed("array key larger than the stack buffer"));
            }
            self.copy_to_stack(base as i16, s, k, ks)?;
            if let Some((voff, vlen)) = value {
                self.copy_to_stack((base + ks as i32) as i16, s, voff, vlen)?;
                self.emit(VInst::mov(Reg::P(3), Src::Reg(Reg::P(10))));
                self.emit(VInst::alu(BPF_ADD, Reg::P(3), Src::Imm(base + ks as i32)));
            }
            self.emit(VInst::mov(Reg::P(2), Src::Reg(Reg::P(10))));
            self.emit(VInst::alu(BPF_ADD, Reg::P(2), Src::Imm(base)));
        } else {
            self.scratch_ptr(Reg::P(2), k)?;
            if let Some((voff, _)) = value {
                self.scratch_ptr(Reg::P(3), voff)?;
            }
        }
        self.emit(VInst::LoadMap {
            dst: Reg::P(1),
            map,
        });
        Ok(())
    }

    /// r1 = the array's map, r2 = its key.
    fn array_args(&mut self, array: u32, key: Slot) -> R<()> {
        self.array_args_with(array, key, None)
    }

    /// `dst = map_lookup_elem(array, key)` (NULL when missing).
    fn array_lookup(&mut self, array: u32, key: Slot, dst: VReg) -> R<()> {
        self.array_args(array, key)?;
        self.emit(VInst::Call {
            helper: helpers::MAP_LOOKUP_ELEM,
            args: 2,
        });
        self.emit(VInst::mov(Reg::V(dst), Src::Reg(Reg::P(0))));
        Ok(())
    }

    /// `dst = map_update_elem(array, key, scratch + value_off, flags)` for a
    /// `value_size`-byte value, the int result sign-extended.
    fn array_update(
        &mut self,
        array: u32,
        key: Slot,
        value_off: u32,
        value_size: u32,
        flags: i32,
        dst: VReg,
    ) -> R<()> {
        let vs = value_size;
        self.array_args_with(array, key, Some((value_off, vs)))?;
        self.emit(VInst::mov(Reg::P(4), Src::Imm(flags)));
        self.emit(VInst::Call {
            helper: helpers::MAP_UPDATE_ELEM,
            args: 4,
        });
        let d = Reg::V(dst);
        self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
        self.emit(VInst::alu(BPF_LSH, d, Src::Imm(32)));
        self.emit(VInst::alu(BPF_ARSH, d, Src::Imm(32)));
        Ok(())
    }

    /// `arr[key] += arg`: an atomic add on the element when it exists, else
    /// an insert (`BPF_NOEXIST`); when another CPU inserted it meanwhile
    /// (EEXIST), the add is retried on its element. `dst` = 0 or the
    /// update's negative errno.
    fn array_add(&mut self, array: u32, key: Slot, arg: Value, dst: VReg) -> R<()> {
        const EEXIST: i32 = -17;
        let d = Reg::V(dst);
        let p = self.new_vreg();
        let add = self.new_block();
        let insert = self.new_block();
        let retry = self.new_block();
        let add2 = self.new_block();
        let join = self.new_block();
        self.array_lookup(array, key, p)?;
        self.emit(VInst::Branch {
            op: BPF_JEQ,
            lhs: Reg::V(p),
            rhs: Src::Imm(0),
            taken: insert,
            not_taken: add,
        });
        self.switch_to(add);
        let r = self.reg(arg)?;
        self.emit(VInst::AtomicAdd {
            base: Reg::V(p),
            off: 0,
            src: r,
        });
        self.emit(VInst::mov(d, Src::Imm(0)));
        self.emit(VInst::Jump { dest: join });

        self.switch_to(insert);
        let src = self.src(arg)?;
        let (s, v) = (self.scratch()?, self.layout.array_val_off);
        let (base, off) = self.addr(s, v, 8)?;
        self.emit(VInst::Store {
            size: BPF_DW,
            base,
            off,
            src,
        });
        // BPF_NOEXIST = 1.
        self.array_update(array, key, v, 8, 1, dst)?;
        self.emit(VInst::Branch {
            op: BPF_JNE,
            lhs: d,
            rhs: Src::Imm(EEXIST),
            taken: join,
            not_taken: retry,
        });

        self.switch_to(retry);
        self.array_lookup(array, key, p)?;
        // Deleted again meanwhile: the increment is lost, as with any
        // concurrent delete.
        self.emit(VInst::mov(d, Src::Imm(0)));
        self.emit(VInst::Branch {
            op: BPF_JEQ,
            lhs: Reg::V(p),
            rhs: Src::Imm(0),
            taken: join,
            not_taken: add2,
        });
        self.switch_to(add2);
        let r = self.reg(arg)?;
        self.emit(VInst::AtomicAdd {
            base: Reg::V(p),
            off: 0,
            src: r,
        });
        self.emit(VInst::Jump { dest: join });
        self.switch_to(join);
        Ok(())
    }

    // ---- functions/strings ----

    /// The prologue of a callee: arguments out of r2.., then the map
    /// lookups the body needs (no exit-flag check).
    fn callee_prologue(&mut self, entry: Block) -> R<()> {
        let f = self.f;
        let mut n = 0u32;
        for b in &f.layout {
            for i in &f.blocks[*b].insts {
                if let Some(InstData::Arg { index }) = f.insts.get(*i) {
                    n = n.max(index + 1);
                }
            }
        }
        if n as usize > stapc_midend::ir::MAX_CALL_ARGS {
            return Err(self.malformed(format!("{n} arguments (at most 4)")));
        }
        for i in 0..n {
            let v = self.new_vreg();
            self.emit(VInst::mov(Reg::V(v), Src::Reg(Reg::P(2 + i as u8))));
            self.argv.push(v);
        }
        self.vc.entry_args = n as u8;
        self.emit(VInst::Store {
            size: BPF_W,
            base: Reg::P(10),
            off: KEY_OFF,
            src: Src::Imm(0),
        });
        let control = self.control;
        self.lookup(MAP_CONTROL, control);
        if self.layout.needs_globals {
            let g = self.new_vreg();
            self.lookup(MAP_GLOBALS, g);
            self.globals = Some(g);
        }
        if self.layout.needs_scratch {
            let s = self.new_vreg();
            self.lookup(MAP_SCRATCH, s);
            self.scratch = Some(s);
            if self.layout.frame_size > 0 {
                // s += min(depth, max_depth) * frame_size (depth is unsigned:
                // anything out of range takes the last frame).
                let d = Reg::V(self.new_vreg());
                let depth = *self
                    .argv
                    .first()
                    .ok_or_else(|| self.malformed("a called function without its depth"))?;
                self.emit(VInst::mov(d, Src::Reg(Reg::V(depth))));
                let max = self.layout.max_depth as i32;
                let clamp = self.new_block();
                let cont = self.new_block();
                self.emit(VInst::Branch {
                    op: BPF_JLE,
                    lhs: d,
                    rhs: Src::Imm(max),
                    taken: cont,
                    not_taken: clamp,
                });
                self.switch_to(clamp);
                self.emit(VInst::mov(d, Src::Imm(max)));
                self.emit(VInst::Jump { dest: cont });
                self.switch_to(cont);
                self.emit(VInst::alu(
                    BPF_MUL,
                    d,
                    Src::Imm(self.layout.frame_size as i32),
                ));
                self.emit(VInst::alu(BPF_ADD, Reg::V(s), Src::Reg(d)));
            }
        }
        let dest = self.vblock(entry)?;
        self.emit(VInst::Jump { dest });
        Ok(())
    }

    /// `d = fn(args)`: a BPF-to-BPF call (r1 = ctx, r2.. = args). A callee
    /// that raised a runtime error has counted it: when the error count
    /// changed across the call, this function leaves at once too.
    fn local_call(&mut self, d: VReg, func: u32, args: &[Value]) -> R<()> {
        if !self.userspace {
            return Err(self.malformed("a function call in a kernel program"));
        }
        if args.len() > stapc_midend::ir::MAX_CALL_ARGS || func > 0xfff {
            return Err(self.malformed(format!("call of fn{func} with {} arguments", args.len())));
        }
        let before = Reg::V(self.new_vreg());
        self.emit(VInst::Load {
            size: BPF_DW,
            dst: before,
            base: Reg::V(self.control),
            off: control::ERROR_COUNT,
        });
        for (i, a) in args.iter().enumerate() {
            self.put(Reg::P(2 + i as u8), *a)?;
        }
        self.emit(VInst::mov(Reg::P(1), Src::Reg(Reg::V(self.ctx))));
        self.emit(VInst::Call {
            helper: LOCAL_CALL_BASE - func as i32,
            args: 1 + args.len() as u8,
        });
        self.emit(VInst::mov(Reg::V(d), Src::Reg(Reg::P(0))));
        let after = Reg::V(self.new_vreg());
        self.emit(VInst::Load {
            size: BPF_DW,
            dst: after,
            base: Reg::V(self.control),
            off: control::ERROR_COUNT,
        });
        let next = self.new_block();
        self.emit(VInst::Branch {
            op: BPF_JNE,
            lhs: after,
            rhs: Src::Reg(before),
            taken: self.ret_block,
            not_taken: next,
        });
        self.switch_to(next);
        Ok(())
    }

    /// Context values of the functions/strings feature (see `ContextOp`).
    fn funcs_context(&mut self, op: ContextOp, d: Reg) -> R<()> {
        match op {
            ContextOp::Target => self.emit(VInst::Load {
                size: BPF_DW,
                dst: d,
                base: Reg::V(self.control),
                off: control::TARGET_PID,
            }),
            ContextOp::Jiffies => {
                self.emit(VInst::Call {
                    helper: helpers::JIFFIES64,
                    args: 0,
                });
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
            }
            ContextOp::Prandom => {
                self.emit(VInst::Call {
                    helper: helpers::GET_PRANDOM_U32,
                    args: 0,
                });
                // The helper returns a u32: a 32-bit move zero-extends.
                self.emit(VInst::Alu {
                    op: BPF_MOV,
                    wide: false,
                    signed: false,
                    dst: d,
                    src: Src::Reg(Reg::P(0)),
                });
            }
            ContextOp::RealtimeNs if !self.userspace => {
                // ktime_get_ns() + the control map's wall-clock offset.
                self.emit(VInst::Call {
                    helper: helpers::KTIME_GET_NS,
                    args: 0,
                });
                let off = Reg::V(self.new_vreg());
                self.emit(VInst::Load {
                    size: BPF_DW,
                    dst: off,
                    base: Reg::V(self.control),
                    off: control::REALTIME_OFFSET,
                });
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
                self.emit(VInst::alu(BPF_ADD, d, Src::Reg(off)));
            }
            ContextOp::Ppid | ContextOp::Euid | ContextOp::RealtimeNs => {
                if !self.userspace {
                    return Err(self.malformed(format!(
                        "context value {op:?} in a kernel program (userspace probes only)"
                    )));
                }
                let what = match op {
                    ContextOp::Ppid => helpers::STAPC_CTX_PPID,
                    ContextOp::Euid => helpers::STAPC_CTX_EUID,
                    _ => helpers::STAPC_CTX_REALTIME_NS,
                };
                self.emit(VInst::mov(Reg::P(1), Src::Imm(what)));
                self.emit(VInst::Call {
                    helper: helpers::STAPC_CONTEXT,
                    args: 1,
                });
                self.emit(VInst::mov(d, Src::Reg(Reg::P(0))));
            }
            other => {
                return Err(self.malformed(format!("context value {other:?} not expected here")))
            }
        }
        Ok(())
    }

    /// String built-ins: stapc helpers in userspace programs; in kernel
    /// programs only `strlen`, as a bounded `probe_read_kernel_str` of the
    /// string onto itself (its return value is the length plus the NUL).
    fn str_op(
        &mut self,
        op: StrOp,
        d: Option<VReg>,
        dst: Option<Slot>,
        srcs: &[Slot],
        args: &[Value],
    ) -> R<()> {
        let want = match op {
            StrOp::Len | StrOp::TextStr | StrOp::Strtol | StrOp::Substr => 1,
            StrOp::Isinstr => 2,
            StrOp::Replace => 3,
        };
        let want_args = match op {
            StrOp::Substr => 2,
            StrOp::Strtol => 1,
            _ => 0,
        };
        if srcs.len() != want || args.len() != want_args || dst.is_some() != op.writes_string() {
            return Err(self.malformed(format!("str_op {op:?} with the wrong operands")));
        }
        let msl = self.msl as i32;
        let offs = srcs
            .iter()
            .map(|s| self.slot(*s))
            .collect::<R<Vec<u32>>>()?;
        if !self.userspace && op == StrOp::Substr {
            let d =
                self.slot(dst.ok_or_else(|| self.malformed("substr without a destination"))?)?;
            return self.kernel_substr(d, offs[0], args[0], args[1]);
        }
        if !self.userspace {
            if op != StrOp::Len {
                return Err(self.malformed(format!(
                    "string built-in {op:?} in a kernel program (userspace probes only)"
                )));
            }
            let read_str = self.read_helper(MemSpace::Kernel, true);
            self.scratch_ptr(Reg::P(1), offs[0])?;
            self.emit(VInst::mov(Reg::P(2), Src::Imm(msl)));
            self.scratch_ptr(Reg::P(3), offs[0])?;
            self.emit(VInst::Call {
                helper: read_str,
                args: 3,
            });
            let r = Reg::V(d.ok_or_else(|| self.malformed("strlen without a result"))?);
            self.emit(VInst::mov(r, Src::Reg(Reg::P(0))));
            self.emit(VInst::alu(BPF_ADD, r, Src::Imm(-1)));
            return Ok(());
        }
        // Userspace: pointers first (dst, then the sources), then values, then size.
        let mut n: u8 = 1;
        if let Some(ds) = dst {
            let o = self.slot(ds)?;
            self.scratch_ptr(Reg::P(n), o)?;
            n += 1;
        }
        for o in offs {
            self.scratch_ptr(Reg::P(n), o)?;
            n += 1;
        }
        for v in args {
            self.put(Reg::P(n), *v)?;
            n += 1;
        }
        self.emit(VInst::mov(Reg::P(n), Src::Imm(msl)));
        let helper = match op {
            StrOp::Len => helpers::STAPC_STR_LEN,
            StrOp::Substr => helpers::STAPC_SUBSTR,
            StrOp::Isinstr => helpers::STAPC_ISINSTR,
            StrOp::Strtol => helpers::STAPC_STRTOL,
            StrOp::Replace => helpers::STAPC_STR_REPLACE,
            StrOp::TextStr => helpers::STAPC_TEXT_STR,
        };
        self.emit(VInst::Call { helper, args: n });
        if let Some(r) = d {
            self.emit(VInst::mov(Reg::V(r), Src::Reg(Reg::P(0))));
        }
        Ok(())
    }

    /// `substr(s, start, len)` in a kernel program: zero dst, then, when
    /// `0 <= start < MAXSTRINGLEN-1` and `len > 0`, one bounded
    /// `probe_read_kernel_str` of `min(len, MAXSTRINGLEN-1-start)` bytes from
    /// `s + start` (a start past the string's end reads its zero padding).
    fn kernel_substr(&mut self, d: u32, src: u32, start: Value, len: Value) -> R<()> {
        let s = self.scratch()?;
        let msl = self.msl as i32;
        // dst must not be zeroed under the source.
        let src = if d == src {
            let t = self.layout.tmp_off;
            self.copy(s, t, s, src, self.msl)?;
            t
        } else {
            src
        };
        self.zero(s, d, self.msl)?;
        let read_str = self.read_helper(MemSpace::Kernel, true);
        let (st, n) = (Reg::V(self.new_vreg()), Reg::V(self.new_vreg()));
        let (a, b) = (self.src(start)?, self.src(len)?);
        self.emit(VInst::mov(st, a));
        self.emit(VInst::mov(n, b));
        let done = self.new_block();
        let positive = self.new_block();
        let clamp = self.new_block();
        let read = self.new_block();
        // Unsigned: a negative start is huge.
        self.emit(VInst::Branch {
            op: BPF_JGE,
            lhs: st,
            rhs: Src::Imm(msl - 1),
            taken: done,
            not_taken: positive,
        });
        self.switch_to(positive);
        let room = Reg::V(self.new_vreg());
        self.emit(VInst::mov(room, Src::Imm(msl - 1)));
        self.emit(VInst::alu(BPF_SUB, room, Src::Reg(st)));
        let keep = self.new_block();
        self.emit(VInst::Branch {
            op: BPF_JSLE,
            lhs: n,
            rhs: Src::Imm(0),
            taken: done,
            not_taken: keep,
        });
        self.switch_to(keep);
        self.emit(VInst::Branch {
            op: BPF_JGT,
            lhs: n,
            rhs: Src::Reg(room),
            taken: clamp,
            not_taken: read,
        });
        self.switch_to(clamp);
        self.emit(VInst::mov(n, Src::Reg(room)));
        self.emit(VInst::Jump { dest: read });
        self.switch_to(read);
        // n in 1..=MAXSTRINGLEN-1: read n bytes and the NUL.
        self.emit(VInst::alu(BPF_ADD, n, Src::Imm(1)));
        self.scratch_ptr(Reg::P(1), d)?;
        self.emit(VInst::mov(Reg::P(2), Src::Reg(n)));
        self.scratch_ptr(Reg::P(3), src)?;
        self.emit(VInst::alu(BPF_ADD, Reg::P(3), Src::Reg(st)));
        self.emit(VInst::Call {
            helper: read_str,
            args: 3,
        });
        self.emit(VInst::Jump { dest: done });
        self.switch_to(done);
        Ok(())
    }

    /// `dst = sprintf(...)`: the arguments are laid out in the record buffer
    /// as for a PRINTF record, then the stapc formatting helper writes dst.
    fn sprintf(&mut self, dst: Slot, format: u32, args: &[OutArg]) -> R<()> {
        if !self.userspace {
            return Err(self.malformed("sprintf in a kernel program (userspace probes only)"));
        }
        let s = self.scratch()?;
        let start = self.layout.record_off + record::HEADER_SIZE;
        let mut off = start;
        for a in args {
            match *a {
                OutArg::Long(v) => {
                    let src = self.src(v)?;
                    let (base, o) = self.addr(s, off, 8)?;
                    self.emit(VInst::Store {
                        size: BPF_DW,
                        base,
                        off: o,
                        src,
                    });
                    off += 8;
                }
                OutArg::Str(slot) => {
                    let so = self.slot(slot)?;
                    self.copy(s, off, s, so, self.msl)?;
                    off += self.msl;
                }
            }
        }
        let d = self.slot(dst)?;
        self.scratch_ptr(Reg::P(1), d)?;
        self.emit(VInst::mov(Reg::P(2), Src::Imm(format as i32)));
        self.scratch_ptr(Reg::P(3), start)?;
        self.emit(VInst::mov(Reg::P(4), Src::Imm(self.msl as i32)));
        self.emit(VInst::Call {
            helper: helpers::STAPC_SPRINTF,
            args: 4,
        });
        Ok(())
    }

    // ---- statistics ----

    fn stat_desc(&self, stat: u32) -> R<&'a StatDesc> {
        let stats = self.stats;
        stats
            .get(stat as usize)
            .ok_or_else(|| self.malformed(format!("stat{stat} does not exist")))
    }

    /// `helper(map, key[, op])`: the key of an element of an array of
    /// statistics is in the scratch at `key` (its slot's offset); a global
    /// statistic's is the u32 0 on the stack. For `stapc_stat_read`,
    /// `stapc_stat_clear` and `map_lookup_elem`.
    fn stat_call(&mut self, map: u32, key: Option<u32>, helper: i32, op: Option<i32>) -> R<()> {
        self.emit(VInst::LoadMap {
            dst: Reg::P(1),
            map,
        });
        match key {
            Some(ko) => self.scratch_ptr(Reg::P(2), ko)?,
            None => {
                self.emit(VInst::mov(Reg::P(2), Src::Reg(Reg::P(10))));
                self.emit(VInst::alu(BPF_ADD, Reg::P(2), Src::Imm(KEY_OFF.into())));
            }
        }
        let mut args = 2;
        if let Some(op) = op {
            self.emit(VInst::mov(Reg::P(3), Src::Imm(op)));
            args = 3;
        }
        self.emit(VInst::Call { helper, args });
        Ok(())
    }

    fn load64(&mut self, dst: Reg, base: Reg, off: u32) -> R<()> {
        let off = self.stat_off(off)?;
        self.emit(VInst::Load {
            size: BPF_DW,
            dst,
            base,
            off,
        });
        Ok(())
    }

    fn store64(&mut self, base: Reg, off: u32, src: Src) -> R<()> {
        let off = self.stat_off(off)?;
        self.emit(VInst::Store {
            size: BPF_DW,
            base,
            off,
            src,
        });
        Ok(())
    }

    fn stat_off(&self, off: u32) -> R<i16> {
        i16::try_from(off).map_err(|_| BackendError::OffsetTooLarge {
            func: self.f.name.clone(),
            offset: off.into(),
        })
    }

    /// `p = map_lookup_elem(map, key)` (see `stat_call`).
    fn stat_lookup(&mut self, map: u32, key: Option<u32>, p: Reg) -> R<()> {
        self.stat_call(map, key, helpers::MAP_LOOKUP_ELEM, None)?;
        self.emit(VInst::mov(p, Src::Reg(Reg::P(0))));
        Ok(())
    }

    /// `s <<< v` on the current CPU's copy of the statistic (a per-CPU map,
    /// so plain loads and stores): count, sum, min and max (the first value
    /// sets both), then the buckets the statistic keeps. The log bucket is
    /// computed without branches (ilog2 of |v| by a binary search whose
    /// steps are masks, the sign mirrored by xor), so the verifier walks one
    /// path; its index and the linear one are bounded by a compare the
    /// verifier sees before the bucket's address is formed.
    fn stat_add(&mut self, stat: u32, arg: Value, key: Option<Slot>, status: Option<Reg>) -> R<()> {
        let desc = self.stat_desc(stat)?;
        let v = self.reg(arg)?;
        let key_off = key.map(|k| self.slot(k)).transpose()?;
        let p = Reg::V(self.new_vreg());
        self.stat_lookup(desc.map, key_off, p)?;
        let done = self.new_block();
        let body = self.new_block();
        match (key_off, status) {
            (Some(ko), Some(st)) => {
                // A missing element is inserted from a zero-filled buffer
                // (BPF_NOEXIST: another CPU may have just inserted it), then
                // looked up again; still missing means the map is full.
                let create = self.new_block();
                let full = self.new_block();
                self.emit(VInst::mov(st, Src::Imm(0)));
                self.emit(VInst::Branch {
                    op: BPF_JNE,
                    lhs: p,
                    rhs: Src::Imm(0),
                    taken: body,
                    not_taken: create,
                });
                self.switch_to(create);
                let size = desc.value_size();
                if self.layout.zero_size < size {
                    return Err(self.malformed("no zero buffer for a new statistic element"));
                }
                let s = self.scratch()?;
                let zo = self.layout.zero_off;
                if self.userspace {
                    self.zero(s, zo, size)?;
                } else {
                    // A read of address 0 fails and zero-fills its buffer: one
                    // call instead of a store per word.
                    let read = self.read_helper(MemSpace::Kernel, false);
                    self.scratch_ptr(Reg::P(1), zo)?;
                    self.emit(VInst::mov(Reg::P(2), Src::Imm(size as i32)));
                    self.emit(VInst::mov(Reg::P(3), Src::Imm(0)));
                    self.emit(VInst::Call {
                        helper: read,
                        args: 3,
                    });
                }
                self.emit(VInst::LoadMap {
                    dst: Reg::P(1),
                    map: desc.map,
                });
                self.scratch_ptr(Reg::P(2), ko)?;
                self.scratch_ptr(Reg::P(3), zo)?;
                self.emit(VInst::mov(Reg::P(4), Src::Imm(1)));
                self.emit(VInst::Call {
                    helper: helpers::MAP_UPDATE_ELEM,
                    args: 4,
                });
                self.stat_lookup(desc.map, key_off, p)?;
                self.emit(VInst::Branch {
                    op: BPF_JNE,
                    lhs: p,
                    rhs: Src::Imm(0),
                    taken: body,
                    not_taken: full,
                });
                self.switch_to(full);
                self.emit(VInst::mov(st, Src::Imm(-1)));
                self.emit(VInst::Jump { dest: done });
            }
            (None, None) => {
                self.emit(VInst::Branch {
                    op: BPF_JEQ,
                    lhs: p,
                    rhs: Src::Imm(0),
                    taken: done,
                    not_taken: body,
                });
            }
            _ => {
                return Err(
                    self.malformed("stat_add with a key needs a status result, and only then")
                )
            }
        }
        self.switch_to(body);
        // count, sum
        let c = Reg::V(self.new_vreg());
        let t = Reg::V(self.new_vreg());
        self.load64(c, p, StatDesc::COUNT)?;
        self.emit(VInst::mov(t, Src::Reg(c)));
        self.emit(VInst::alu(BPF_ADD, t, Src::Imm(1)));
        self.store64(p, StatDesc::COUNT, Src::Reg(t))?;
        self.load64(t, p, StatDesc::SUM)?;
        self.emit(VInst::alu(BPF_ADD, t, Src::Reg(v)));
        self.store64(p, StatDesc::SUM, Src::Reg(t))?;
        // min, max
        let first = self.new_block();
        let min_b = self.new_block();
        let set_min = self.new_block();
        let max_b = self.new_block();
        let set_max = self.new_block();
        let buckets = self.new_block();
        self.emit(VInst::Branch {
            op: BPF_JEQ,
            lhs: c,
            rhs: Src::Imm(0),
            taken: first,
            not_taken: min_b,
        });
        self.switch_to(min_b);
        self.load64(t, p, StatDesc::MIN)?;
        self.emit(VInst::Branch {
            op: BPF_JSGE,
            lhs: v,
            rhs: Src::Reg(t),
            taken: max_b,
            not_taken: set_min,
        });
        self.switch_to(set_min);
        self.store64(p, StatDesc::MIN, Src::Reg(v))?;
        self.emit(VInst::Jump { dest: max_b });
        self.switch_to(max_b);
        self.load64(t, p, StatDesc::MAX)?;
        self.emit(VInst::Branch {
            op: BPF_JSLE,
            lhs: v,
            rhs: Src::Reg(t),
            taken: buckets,
            not_taken: set_max,
        });
        self.switch_to(set_max);
        self.store64(p, StatDesc::MAX, Src::Reg(v))?;
        self.emit(VInst::Jump { dest: buckets });
        self.switch_to(first);
        self.store64(p, StatDesc::MIN, Src::Reg(v))?;
        self.store64(p, StatDesc::MAX, Src::Reg(v))?;
        self.emit(VInst::Jump { dest: buckets });
        self.switch_to(buckets);
        if desc.log {
            self.log_bucket(p, v, desc.log_offset())?;
        }
        if let Some((start, stop, interval)) = desc.linear {
            self.linear_bucket(p, v, desc, start, stop, interval)?;
        }
        self.emit(VInst::Jump { dest: done });
        self.switch_to(done);
        Ok(())
    }

    /// Add one to the bucket `idx` (a bounded scalar, clobbered) of the
    /// array of i64 at `p + base`.
    fn bump_bucket(&mut self, p: Reg, idx: Reg, base: u32) -> R<()> {
        let q = Reg::V(self.new_vreg());
        let x = Reg::V(self.new_vreg());
        self.emit(VInst::alu(BPF_LSH, idx, Src::Imm(3)));
        self.emit(VInst::mov(q, Src::Reg(p)));
        self.emit(VInst::alu(BPF_ADD, q, Src::Reg(idx)));
        self.load64(x, q, base)?;
        self.emit(VInst::alu(BPF_ADD, x, Src::Imm(1)));
        self.store64(q, base, Src::Reg(x))
    }

    /// The log bucket of `v`: 64 ± (64 - clz(|v|)), 64 for 0.
    fn log_bucket(&mut self, p: Reg, v: Reg, base: u32) -> R<()> {
        let a = Reg::V(self.new_vreg());
        let sign = Reg::V(self.new_vreg());
        let k = Reg::V(self.new_vreg());
        let t = Reg::V(self.new_vreg());
        let u = Reg::V(self.new_vreg());
        // sign = v >> 63 (0 or -1); a = |v| (i64::MIN stays 2^63, unsigned).
        self.emit(VInst::mov(sign, Src::Reg(v)));
        self.emit(VInst::alu(BPF_ARSH, sign, Src::Imm(63)));
        self.emit(VInst::mov(a, Src::Reg(v)));
        self.emit(VInst::alu(BPF_XOR, a, Src::Reg(sign)));
        self.emit(VInst::alu(BPF_SUB, a, Src::Reg(sign)));
        self.emit(VInst::mov(k, Src::Imm(0)));
        // Binary search for the highest set bit: at each step, if
        // a >> s != 0 then a >>= s and k += s, with `u = (t | -t) >> 63`
        // (t < 2^63, so 1 exactly when t != 0) as the condition.
        for shift in [5, 4, 3, 2, 1, 0] {
            let s = 1i32 << shift;
            self.emit(VInst::mov(t, Src::Reg(a)));
            self.emit(VInst::alu(BPF_RSH, t, Src::Imm(s)));
            self.emit(VInst::mov(u, Src::Reg(t)));
            self.emit(VInst::Neg { dst: u });
            self.emit(VInst::alu(BPF_OR, u, Src::Reg(t)));
            self.emit(VInst::alu(BPF_RSH, u, Src::Imm(63)));
            if shift > 0 {
                self.emit(VInst::alu(BPF_LSH, u, Src::Imm(shift)));
            }
            self.emit(VInst::alu(BPF_RSH, a, Src::Reg(u)));
            self.emit(VInst::alu(BPF_ADD, k, Src::Reg(u)));
        }
        // a is now 0 or 1: k = number of significant bits of |v|.
        self.emit(VInst::alu(BPF_ADD, k, Src::Reg(a)));
        // Mirror for negatives: k = (k ^ sign) - sign; index = 64 + k.
        self.emit(VInst::alu(BPF_XOR, k, Src::Reg(sign)));
        self.emit(VInst::alu(BPF_SUB, k, Src::Reg(sign)));
        self.emit(VInst::alu(BPF_ADD, k, Src::Imm(64)));
        let bump = self.new_block();
        let after = self.new_block();
        self.emit(VInst::Branch {
            op: BPF_JGT,
            lhs: k,
            rhs: Src::Imm(StatDesc::LOG_BUCKETS as i32 - 1),
            taken: after,
            not_taken: bump,
        });
        self.switch_to(bump);
        self.bump_bucket(p, k, base)?;
        self.emit(VInst::Jump { dest: after });
        self.switch_to(after);
        Ok(())
    }

    /// The linear bucket of `v`: 0 below `start`, `1 + (v - start) /
    /// interval` up to the last bucket, the overflow bucket above.
    fn linear_bucket(
        &mut self,
        p: Reg,
        v: Reg,
        desc: &StatDesc,
        start: i64,
        stop: i64,
        interval: i64,
    ) -> R<()> {
        let n = desc.linear_buckets();
        if n < 3 || interval <= 0 || stop < start {
            return Err(self.malformed(format!(
                "statistic `{}` has invalid linear bounds {start}, {stop}, {interval}",
                desc.name
            )));
        }
        let operand = |s: &mut Self, c: i64| -> Src {
            if fits_i32(c) {
                Src::Imm(c as i32)
            } else {
                let r = Reg::V(s.new_vreg());
                s.load_const(r, c);
                Src::Reg(r)
            }
        };
        let t = Reg::V(self.new_vreg());
        let under = self.new_block();
        let in_range = self.new_block();
        let in_bucket = self.new_block();
        let over = self.new_block();
        let bump = self.new_block();
        let start_src = operand(self, start);
        self.emit(VInst::Branch {
            op: BPF_JSLT,
            lhs: v,
            rhs: start_src,
            taken: under,
            not_taken: in_range,
        });
        self.switch_to(in_range);
        // v >= start: the difference is exact as an unsigned number, and
        // so is its unsigned quotient by the positive interval.
        self.emit(VInst::mov(t, Src::Reg(v)));
        if start != 0 {
            let start_src = operand(self, start);
            self.emit(VInst::alu(BPF_SUB, t, start_src));
        }
        if interval != 1 {
            let interval_src = operand(self, interval);
            self.emit(VInst::alu(BPF_DIV, t, interval_src));
        }
        self.emit(VInst::Branch {
            op: BPF_JGT,
            lhs: t,
            rhs: Src::Imm(n as i32 - 3),
            taken: over,
            not_taken: in_bucket,
        });
        self.switch_to(in_bucket);
        self.emit(VInst::alu(BPF_ADD, t, Src::Imm(1)));
        self.emit(VInst::Jump { dest: bump });
        self.switch_to(under);
        self.emit(VInst::mov(t, Src::Imm(0)));
        self.emit(VInst::Jump { dest: bump });
        self.switch_to(over);
        self.emit(VInst::mov(t, Src::Imm(n as i32 - 1)));
        self.emit(VInst::Jump { dest: bump });
        self.switch_to(bump);
        self.bump_bucket(p, t, desc.linear_offset())
    }

    fn set_exit_flag(&mut self) {
        self.emit(VInst::Store {
            size: BPF_DW,
            base: Reg::V(self.control),
            off: control::EXIT_FLAG,
            src: Src::Imm(1),
        });
    }

    fn header(&mut self, kind: u32, id: u32) -> R<()> {
        let s = self.scratch()?;
        let (base, off) = self.addr(s, self.layout.record_off, 8)?;
        self.emit(VInst::Store {
            size: BPF_W,
            base,
            off,
            src: Src::Imm(kind as i32),
        });
        self.emit(VInst::Store {
            size: BPF_W,
            base,
            off: off + 4,
            src: Src::Imm(id as i32),
        });
        Ok(())
    }

    /// Send the `size`-byte record at the record offset.
    fn output(&mut self, size: u32) -> R<()> {
        let rec = self.layout.record_off;
        if self.target.has_ringbuf() {
            self.emit(VInst::LoadMap {
                dst: Reg::P(1),
                map: MAP_OUTPUT,
            });
            self.scratch_ptr(Reg::P(2), rec)?;
            self.emit(VInst::mov(Reg::P(3), Src::Imm(size as i32)));
            self.emit(VInst::mov(Reg::P(4), Src::Imm(0)));
            self.emit(VInst::Call {
                helper: helpers::RINGBUF_OUTPUT,
                args: 4,
            });
        } else {
            self.emit(VInst::mov(Reg::P(1), Src::Reg(Reg::V(self.ctx))));
            self.emit(VInst::LoadMap {
                dst: Reg::P(2),
                map: MAP_OUTPUT,
            });
            self.emit(VInst::LoadImm64 {
                dst: Reg::P(3),
                imm: helpers::BPF_F_CURRENT_CPU,
            });
            self.scratch_ptr(Reg::P(4), rec)?;
            self.emit(VInst::mov(Reg::P(5), Src::Imm(size as i32)));
            self.emit(VInst::Call {
                helper: helpers::PERF_EVENT_OUTPUT,
                args: 5,
            });
        }
        // A full buffer makes the helper fail: count the lost record in the
        // control map so userspace reports it (ring buffers keep no count).
        let res = self.new_vreg();
        self.emit(VInst::mov(Reg::V(res), Src::Reg(Reg::P(0))));
        let (sent, dropped) = (self.new_block(), self.new_block());
        self.emit(VInst::Branch {
            op: BPF_JSGE,
            lhs: Reg::V(res),
            rhs: Src::Imm(0),
            taken: sent,
            not_taken: dropped,
        });
        self.switch_to(dropped);
        let one = Reg::V(self.new_vreg());
        self.emit(VInst::mov(one, Src::Imm(1)));
        self.emit(VInst::AtomicAdd {
            base: Reg::V(self.control),
            off: control::OUTPUT_DROPS,
            src: one,
        });
        self.emit(VInst::Jump { dest: sent });
        self.switch_to(sent);
        Ok(())
    }

    fn trap(&mut self, error: u32, msg: Option<Slot>) -> R<()> {
        let one = Reg::V(self.new_vreg());
        self.emit(VInst::mov(one, Src::Imm(1)));
        self.emit(VInst::AtomicAdd {
            base: Reg::V(self.control),
            off: control::ERROR_COUNT,
            src: one,
        });
        self.set_exit_flag();
        self.header(record::ERROR, error)?;
        let mut size = record::HEADER_SIZE;
        if let Some(m) = msg {
            let (s, o) = (self.scratch()?, self.slot(m)?);
            self.copy(s, self.layout.record_off + size, s, o, self.msl)?;
            size += self.msl;
        }
        self.output(size)?;
        self.emit_return();
        Ok(())
    }
}
