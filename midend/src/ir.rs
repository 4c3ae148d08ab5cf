//! The SSA IR: entities `Block`, `Inst`, `Value`, `Slot` indexing tables of
//! one `Function` (cranelift style); block parameters instead of phis; the
//! CFG is a view computed from the terminators (see `cfg`).
//!
//! All SSA values are 64-bit integers. Strings are memory: a `Slot` is a
//! MAXSTRINGLEN-byte buffer in the per-CPU scratch map, written and read by
//! the `Str*` instructions, never an SSA value (the verifier tracks map
//! memory, and BPF has no registers wide enough for a string).

use cranelift_entity::packed_option::PackedOption;
use cranelift_entity::{entity_impl, PrimaryMap, SecondaryMap};
use stapc_bpf::{ErrorMsg, Format, HistDesc, ProbeKind, StatDesc};
use stapc_frontend::Span;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block(u32);
entity_impl!(Block, "block");

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inst(u32);
entity_impl!(Inst, "inst");

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(u32);
entity_impl!(Value, "v");

/// A string buffer (MAXSTRINGLEN bytes) in scratch memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot(u32);
entity_impl!(Slot, "ss");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// Signed division truncating toward zero. The divisor is known non-zero
    /// (lowering emits the check); `i64::MIN / -1` wraps to `i64::MIN`.
    SDiv,
    /// Signed remainder with the sign of the dividend; `i64::MIN % -1` is 0.
    SRem,
    And,
    Or,
    Xor,
    /// Shifts take an amount known to be in 0..=63 (lowering emits the check).
    Shl,
    AShr,
    LShr,
}

/// Integer comparison conditions (signed and unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntCC {
    Eq,
    Ne,
    Slt,
    Sle,
    Sgt,
    Sge,
    Ult,
    Ule,
    Ugt,
    Uge,
}

// ---- statistics ----
/// Which aggregate `StatRead` computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatOp {
    Count,
    Sum,
    Min,
    Max,
    /// `sum / count`, truncated toward zero.
    Avg,
}

impl StatOp {
    /// The operand of the `stapc_stat_read` helper (bpf/src/helpers.rs).
    pub fn code(self) -> i32 {
        match self {
            StatOp::Count => 0,
            StatOp::Sum => 1,
            StatOp::Min => 2,
            StatOp::Max => 3,
            StatOp::Avg => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StatOp::Count => "count",
            StatOp::Sum => "sum",
            StatOp::Min => "min",
            StatOp::Max => "max",
            StatOp::Avg => "avg",
        }
    }
}

/// Context values of the current event (or of the stapc process, in userspace probes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextOp {
    Pid,
    Tid,
    Uid,
    Gid,
    Cpu,
    KtimeNs,
}

/// String context values (written into a slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrContextOp {
    /// The current task's comm (`execname()`).
    Execname,
}

/// An argument of an output record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutArg {
    Long(Value),
    Str(Slot),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstData {
    Iconst {
        imm: i64,
    },
    Unary {
        op: UnaryOp,
        arg: Value,
    },
    Binary {
        op: BinaryOp,
        args: [Value; 2],
    },
    /// 1 if the condition holds, else 0.
    Icmp {
        cond: IntCC,
        args: [Value; 2],
    },
    /// Load the long scalar global at `offset` of the globals struct.
    LoadGlobal {
        offset: u32,
    },
    StoreGlobal {
        offset: u32,
        arg: Value,
    },
    /// `g += v` whose result is unused: an atomic add.
    AtomicAddGlobal {
        offset: u32,
        arg: Value,
    },
    /// Write a constant string (truncated to MAXSTRINGLEN-1 bytes, NUL-padded) into `dst`.
    StrConst {
        dst: Slot,
        value: String,
    },
    /// Copy the string global at `offset` into `dst`.
    StrLoadGlobal {
        dst: Slot,
        offset: u32,
    },
    StrStoreGlobal {
        offset: u32,
        src: Slot,
    },
    StrCopy {
        dst: Slot,
        src: Slot,
    },
    /// `dst = a . b`, truncated to MAXSTRINGLEN-1 bytes. `dst` may equal `a`.
    StrConcat {
        dst: Slot,
        args: [Slot; 2],
    },
    /// Byte-wise comparison of two strings: -1, 0 or 1 (like `strcmp`'s sign).
    StrCompare {
        args: [Slot; 2],
    },
    /// A context value of the current event.
    Context {
        op: ContextOp,
    },
    StrContext {
        dst: Slot,
        op: StrContextOp,
    },
    /// Send a PRINTF record with format `format` (index into `Module::formats`).
    Printf {
        format: u32,
        args: Vec<OutArg>,
    },
    /// Set the control map's exit flag and send an EXIT record; the handler goes on.
    Exit,

    // ---- statistics ----
    /// `s <<< arg`: add `arg` to statistic `stat` (index into
    /// `Module::stats`) on the current CPU: count, sum, min, max and the
    /// histogram buckets the statistic keeps.
    StatAdd {
        stat: u32,
        arg: Value,
    },
    /// An aggregate of statistic `stat` over every CPU (userspace programs).
    /// `Min`/`Max`/`Avg` of an empty statistic read 0: lowering tests the
    /// count first and raises "empty aggregate".
    StatRead {
        stat: u32,
        op: StatOp,
    },
    /// `delete s`: reset statistic `stat` on every CPU (userspace programs).
    StatClear {
        stat: u32,
    },
    /// `print(@hist_…(s))`: send a HIST record for `Module::hists[hist]`.
    PrintHist {
        hist: u32,
    },

    // ---- terminators (exactly one, last in its block) ----
    Jump {
        dest: Block,
        args: Vec<Value>,
    },
    /// Branch to `then_dest` if `cond` != 0.
    Brif {
        cond: Value,
        then_dest: Block,
        then_args: Vec<Value>,
        else_dest: Block,
        else_args: Vec<Value>,
    },
    /// Leave the handler normally.
    Return,
    /// Raise runtime error `error` (index into `Module::errors`): count it, set
    /// the exit flag, send an ERROR record, leave the handler.
    Trap {
        error: u32,
    },
    /// `error(msg)`: like `Trap`, with the message taken from `msg` at run time
    /// (`error` indexes `Module::errors` for the location).
    TrapMsg {
        error: u32,
        msg: Slot,
    },
}

impl InstData {
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            InstData::Jump { .. }
                | InstData::Brif { .. }
                | InstData::Return
                | InstData::Trap { .. }
                | InstData::TrapMsg { .. }
        )
    }

    /// Whether the instruction defines one SSA value.
    pub fn has_result(&self) -> bool {
        matches!(
            self,
            InstData::Iconst { .. }
                | InstData::Unary { .. }
                | InstData::Binary { .. }
                | InstData::Icmp { .. }
                | InstData::LoadGlobal { .. }
                | InstData::Context { .. }
                | InstData::StrCompare { .. }
                | InstData::StatRead { .. }
        )
    }

    /// SSA values this instruction reads (including branch arguments).
    pub fn args(&self) -> Vec<Value> {
        match self {
            InstData::Unary { arg, .. }
            | InstData::StoreGlobal { arg, .. }
            | InstData::AtomicAddGlobal { arg, .. }
            | InstData::StatAdd { arg, .. } => vec![*arg],
            InstData::Binary { args, .. } | InstData::Icmp { args, .. } => args.to_vec(),
            InstData::Printf { args, .. } => args
                .iter()
                .filter_map(|a| match a {
                    OutArg::Long(v) => Some(*v),
                    OutArg::Str(_) => None,
                })
                .collect(),
            InstData::Jump { args, .. } => args.clone(),
            InstData::Brif {
                cond,
                then_args,
                else_args,
                ..
            } => {
                let mut v = vec![*cond];
                v.extend(then_args);
                v.extend(else_args);
                v
            }
            _ => Vec::new(),
        }
    }

    /// Successor blocks of a terminator.
    pub fn successors(&self) -> Vec<Block> {
        match self {
            InstData::Jump { dest, .. } => vec![*dest],
            InstData::Brif {
                then_dest,
                else_dest,
                ..
            } => vec![*then_dest, *else_dest],
            _ => Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// The result of an instruction.
    Result(Inst),
    /// Parameter `n` of a block.
    Param(Block, u32),
}

#[derive(Clone, Debug, Default)]
pub struct BlockData {
    pub params: Vec<Value>,
    pub insts: Vec<Inst>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotData {
    pub size: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Function {
    pub name: String,
    pub blocks: PrimaryMap<Block, BlockData>,
    /// Block order; the entry block is first.
    pub layout: Vec<Block>,
    pub insts: PrimaryMap<Inst, InstData>,
    pub results: SecondaryMap<Inst, PackedOption<Value>>,
    pub values: PrimaryMap<Value, ValueDef>,
    pub slots: PrimaryMap<Slot, SlotData>,
    pub srclocs: SecondaryMap<Inst, Span>,
}

impl Function {
    pub fn new(name: impl Into<String>) -> Function {
        Function {
            name: name.into(),
            ..Function::default()
        }
    }

    pub fn entry(&self) -> Option<Block> {
        self.layout.first().copied()
    }

    /// A new empty block, appended to the layout.
    pub fn create_block(&mut self) -> Block {
        let b = self.blocks.push(BlockData::default());
        self.layout.push(b);
        b
    }

    pub fn append_block_param(&mut self, block: Block) -> Value {
        let n = self.blocks[block].params.len() as u32;
        let v = self.values.push(ValueDef::Param(block, n));
        self.blocks[block].params.push(v);
        v
    }

    pub fn create_slot(&mut self, size: u32) -> Slot {
        self.slots.push(SlotData { size })
    }

    /// Append an instruction to `block`; returns its result value, if it has one.
    pub fn append(&mut self, block: Block, data: InstData, span: Span) -> Option<Value> {
        let has_result = data.has_result();
        let inst = self.insts.push(data);
        self.blocks[block].insts.push(inst);
        self.srclocs[inst] = span;
        if has_result {
            let v = self.values.push(ValueDef::Result(inst));
            self.results[inst] = v.into();
            Some(v)
        } else {
            None
        }
    }

    pub fn result(&self, inst: Inst) -> Option<Value> {
        self.results[inst].expand()
    }

    /// The terminator of `block`, if it has one.
    pub fn terminator(&self, block: Block) -> Option<Inst> {
        let last = *self.blocks[block].insts.last()?;
        self.insts[last].is_terminator().then_some(last)
    }
}

/// Byte layout of the scalar globals struct (the one entry of the globals map).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalsLayout {
    /// Size of the struct in bytes (a multiple of 8; at least 8).
    pub size: u32,
    /// Initial bytes (initialisers), `size` long.
    pub init: Vec<u8>,
}

/// One probe point's handler.
#[derive(Clone, Debug)]
pub struct ProbeFunction {
    pub kind: ProbeKind,
    /// What `pp()` returns.
    pub point: String,
    pub func: Function,
}

/// Everything the backend needs to build the object.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub source_name: String,
    /// In script order (probe order, then point order within a probe).
    pub probes: Vec<ProbeFunction>,
    pub formats: Vec<Format>,
    pub errors: Vec<ErrorMsg>,
    pub globals: GlobalsLayout,
    pub max_string_len: u32,
    // ---- statistics ----
    /// One per statistic global, in `GlobalId` order (`map` is filled in by
    /// the backend, which places the maps).
    pub stats: Vec<StatDesc>,
    /// One per `print(@hist_…)` site.
    pub hists: Vec<HistDesc>,
}

// ---- helpers added by the midend (methods only; the data types above are the contract) ----

impl InstData {
    /// Whether the instruction only computes its result: no memory writes, no
    /// output, no control flow. Dead-code elimination may drop these when
    /// their result is unused.
    pub fn is_pure(&self) -> bool {
        matches!(
            self,
            InstData::Iconst { .. }
                | InstData::Unary { .. }
                | InstData::Binary { .. }
                | InstData::Icmp { .. }
                | InstData::LoadGlobal { .. }
                | InstData::Context { .. }
                | InstData::StrCompare { .. }
                | InstData::StatRead { .. }
        )
    }

    /// Rewrite every SSA value this instruction reads (branch arguments too).
    pub fn map_values(&mut self, mut f: impl FnMut(Value) -> Value) {
        match self {
            InstData::Unary { arg, .. }
            | InstData::StoreGlobal { arg, .. }
            | InstData::AtomicAddGlobal { arg, .. }
            | InstData::StatAdd { arg, .. } => *arg = f(*arg),
            InstData::Binary { args, .. } | InstData::Icmp { args, .. } => {
                for a in args.iter_mut() {
                    *a = f(*a);
                }
            }
            InstData::Printf { args, .. } => {
                for a in args.iter_mut() {
                    if let OutArg::Long(v) = a {
                        *v = f(*v);
                    }
                }
            }
            InstData::Jump { args, .. } => {
                for a in args.iter_mut() {
                    *a = f(*a);
                }
            }
            InstData::Brif {
                cond,
                then_args,
                else_args,
                ..
            } => {
                *cond = f(*cond);
                for a in then_args.iter_mut().chain(else_args.iter_mut()) {
                    *a = f(*a);
                }
            }
            _ => {}
        }
    }

    /// Every string slot this instruction reads or writes.
    pub fn slots(&self) -> Vec<Slot> {
        match self {
            InstData::StrConst { dst, .. }
            | InstData::StrLoadGlobal { dst, .. }
            | InstData::StrContext { dst, .. } => vec![*dst],
            InstData::StrStoreGlobal { src, .. } => vec![*src],
            InstData::StrCopy { dst, src } => vec![*dst, *src],
            InstData::StrConcat { dst, args } => vec![*dst, args[0], args[1]],
            InstData::StrCompare { args } => args.to_vec(),
            InstData::Printf { args, .. } => args
                .iter()
                .filter_map(|a| match a {
                    OutArg::Str(s) => Some(*s),
                    OutArg::Long(_) => None,
                })
                .collect(),
            InstData::TrapMsg { msg, .. } => vec![*msg],
            _ => Vec::new(),
        }
    }

    /// The outgoing edges of a terminator: (edge index, destination, arguments).
    /// A `Brif` has edge 0 (then) and edge 1 (else), even when both go to the
    /// same block.
    pub fn edges(&self) -> Vec<(usize, Block, &[Value])> {
        match self {
            InstData::Jump { dest, args } => vec![(0, *dest, args.as_slice())],
            InstData::Brif {
                then_dest,
                then_args,
                else_dest,
                else_args,
                ..
            } => vec![
                (0, *then_dest, then_args.as_slice()),
                (1, *else_dest, else_args.as_slice()),
            ],
            _ => Vec::new(),
        }
    }

    /// The argument list of outgoing edge `edge` (see `edges`), to append to
    /// or rewrite.
    pub fn edge_args_mut(&mut self, edge: usize) -> Option<&mut Vec<Value>> {
        match (self, edge) {
            (InstData::Jump { args, .. }, 0) => Some(args),
            (InstData::Brif { then_args, .. }, 0) => Some(then_args),
            (InstData::Brif { else_args, .. }, 1) => Some(else_args),
            _ => None,
        }
    }

    /// Rewrite the destination blocks of a terminator.
    pub fn map_blocks(&mut self, mut f: impl FnMut(Block) -> Block) {
        match self {
            InstData::Jump { dest, .. } => *dest = f(*dest),
            InstData::Brif {
                then_dest,
                else_dest,
                ..
            } => {
                *then_dest = f(*then_dest);
                *else_dest = f(*else_dest);
            }
            _ => {}
        }
    }
}

impl Function {
    /// Insert an instruction at position `index` of `block` (0 = first);
    /// returns its result value, if it has one.
    pub fn insert(
        &mut self,
        block: Block,
        index: usize,
        data: InstData,
        span: Span,
    ) -> Option<Value> {
        let has_result = data.has_result();
        let inst = self.insts.push(data);
        let insts = &mut self.blocks[block].insts;
        insts.insert(index.min(insts.len()), inst);
        self.srclocs[inst] = span;
        if has_result {
            let v = self.values.push(ValueDef::Result(inst));
            self.results[inst] = v.into();
            Some(v)
        } else {
            None
        }
    }

    /// The constant a value is defined as, if it is the result of an `Iconst`.
    pub fn const_value(&self, v: Value) -> Option<i64> {
        match self.values.get(v)? {
            ValueDef::Result(inst) => match self.insts.get(*inst)? {
                InstData::Iconst { imm } => Some(*imm),
                _ => None,
            },
            ValueDef::Param(..) => None,
        }
    }

    /// The instruction defining `v`, if it is an instruction result.
    pub fn value_inst(&self, v: Value) -> Option<Inst> {
        match self.values.get(v)? {
            ValueDef::Result(inst) => Some(*inst),
            ValueDef::Param(..) => None,
        }
    }

    /// Number of instructions in the blocks of the layout.
    pub fn inst_count(&self) -> usize {
        self.layout
            .iter()
            .map(|b| self.blocks[*b].insts.len())
            .sum()
    }

    /// Replace every use of a value by another (instruction operands and
    /// branch arguments), following chains in `subst`.
    pub fn replace_uses(&mut self, subst: &rustc_hash::FxHashMap<Value, Value>) {
        if subst.is_empty() {
            return;
        }
        let resolve = |mut v: Value| {
            let mut n = 0;
            while let Some(&w) = subst.get(&v) {
                if w == v || n > subst.len() {
                    break;
                }
                v = w;
                n += 1;
            }
            v
        };
        for b in self.layout.clone() {
            for &i in &self.blocks[b].insts {
                self.insts[i].map_values(resolve);
            }
        }
    }
}

impl InstData {
    /// Rewrite every slot this instruction names.
    pub fn map_slots(&mut self, mut f: impl FnMut(Slot) -> Slot) {
        match self {
            InstData::StrConst { dst, .. }
            | InstData::StrLoadGlobal { dst, .. }
            | InstData::StrContext { dst, .. } => *dst = f(*dst),
            InstData::StrStoreGlobal { src, .. } => *src = f(*src),
            InstData::StrCopy { dst, src } => {
                *dst = f(*dst);
                *src = f(*src);
            }
            InstData::StrConcat { dst, args } => {
                *dst = f(*dst);
                args[0] = f(args[0]);
                args[1] = f(args[1]);
            }
            InstData::StrCompare { args } => {
                args[0] = f(args[0]);
                args[1] = f(args[1]);
            }
            InstData::Printf { args, .. } => {
                for a in args.iter_mut() {
                    if let OutArg::Str(s) = a {
                        *s = f(*s);
                    }
                }
            }
            InstData::TrapMsg { msg, .. } => *msg = f(*msg),
            _ => {}
        }
    }
}
