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
use stapc_bpf::{ArgKind, CtxField, ErrorMsg, Format, HistDesc, ProbeKind, StatDesc};
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

impl IntCC {
    /// Whether the condition holds for `a` and `b` (signed or unsigned as named).
    pub fn eval(self, a: i64, b: i64) -> bool {
        let (ua, ub) = (a as u64, b as u64);
        match self {
            IntCC::Eq => a == b,
            IntCC::Ne => a != b,
            IntCC::Slt => a < b,
            IntCC::Sle => a <= b,
            IntCC::Sgt => a > b,
            IntCC::Sge => a >= b,
            IntCC::Ult => ua < ub,
            IntCC::Ule => ua <= ub,
            IntCC::Ugt => ua > ub,
            IntCC::Uge => ua >= ub,
        }
    }
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
    // ---- functions/strings ----
    /// `target()`: the control map's TARGET_PID (`-x PID`).
    Target,
    /// `ppid()` (userspace probes only).
    Ppid,
    /// `euid()` (userspace probes only).
    Euid,
    /// Wall-clock nanoseconds since the Unix epoch (`gettimeofday_*`;
    /// userspace probes only).
    RealtimeNs,
    /// `jiffies()`.
    Jiffies,
    /// A pseudo-random u32 (`randint`).
    Prandom,
}

// ---- functions/strings ----
/// String built-ins (`InstData::StrOp`): which one, with its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrOp {
    /// `strlen(s)`: `srcs = [s]`; result.
    Len,
    /// `substr(s, start, len)`: `srcs = [s]`, `args = [start, len]`; writes dst.
    Substr,
    /// `isinstr(s1, s2)`: `srcs = [s1, s2]`; result 1 or 0.
    Isinstr,
    /// `strtol(s, base)`: `srcs = [s]`, `args = [base]` (checked to be 0 or
    /// 2..=36 before); result.
    Strtol,
    /// `str_replace(s, search, replace)`: `srcs = [s, search, replace]`; writes dst.
    Replace,
    /// `text_str(s)`: `srcs = [s]`; writes dst (escaped).
    TextStr,
}

impl StrOp {
    /// Whether the op writes a string (into `dst`) rather than yielding a value.
    pub fn writes_string(self) -> bool {
        matches!(self, StrOp::Substr | StrOp::Replace | StrOp::TextStr)
    }
}

/// Which memory a `ProbeRead` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemSpace {
    /// Kernel memory (`kernel_string`, `kernel_long`, `kernel_int`).
    Kernel,
    /// The current task's user memory (`user_string`, `user_long`, `user_int`).
    User,
}

/// String context values (written into a slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrContextOp {
    /// The current task's comm (`execname()`).
    Execname,
}

// ---- arrays ----

/// The order of a `foreach`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IterSort {
    /// The map's own order.
    Unsorted,
    /// By key column `column` (0-based), ties broken by the whole key.
    Key { column: u32, descending: bool },
    /// By value, ties broken by the key.
    Value { descending: bool },
}

/// A global associative array of longs or strings: one hash map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayInfo {
    pub name: String,
    pub keys: Vec<ArgKind>,
    pub value: ArgKind,
    pub max_entries: u32,
    /// An array of statistics: its elements are statistic `stat` (index
    /// into `Module::stats`), whose per-CPU hash map is this array's map.
    pub stat: Option<u32>,
}

impl ArrayInfo {
    fn kind_size(kind: ArgKind, msl: u32) -> u32 {
        match kind {
            ArgKind::Long => 8,
            ArgKind::Str => msl,
        }
    }

    /// Bytes of the packed key.
    pub fn key_size(&self, msl: u32) -> u32 {
        self.keys.iter().map(|k| Self::kind_size(*k, msl)).sum()
    }

    /// Offset of key column `col` in the packed key.
    pub fn key_offset(&self, col: usize, msl: u32) -> u32 {
        self.keys
            .iter()
            .take(col)
            .map(|k| Self::kind_size(*k, msl))
            .sum()
    }

    pub fn value_size(&self, msl: u32) -> u32 {
        Self::kind_size(self.value, msl)
    }
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
    /// `StrCompare` of `arg` against a constant string (truncated to
    /// MAXSTRINGLEN-1 bytes): compared word by word against immediates, with
    /// no copy of the constant in memory.
    StrCompareConst {
        arg: Slot,
        value: String,
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

    // ---- arrays ----
    // A key is packed in a key slot (`ArrayInfo::key_size` bytes): long
    // columns 8 bytes LE, string columns MAXSTRINGLEN bytes, zero after the NUL.
    /// Store long key column at `offset` of the key slot `key`.
    KeyStore {
        key: Slot,
        offset: u32,
        arg: Value,
    },
    /// Copy the string `src` into the key column at `offset` of `key`.
    KeyStoreStr {
        key: Slot,
        offset: u32,
        src: Slot,
    },
    /// Read the long key column at `offset` of `key`.
    KeyLoad {
        key: Slot,
        offset: u32,
    },
    /// Copy the string key column at `offset` of `key` into `dst`.
    KeyLoadStr {
        dst: Slot,
        key: Slot,
        offset: u32,
    },
    /// The long value of element `key` of array `array` (index into
    /// `Module::arrays`); 0 when missing.
    ArrayGet {
        array: u32,
        key: Slot,
    },
    /// The string value of element `key` into `dst`; "" when missing.
    ArrayGetStr {
        dst: Slot,
        array: u32,
        key: Slot,
    },
    /// Set a long element; the result is 0, or negative when the map is full.
    ArraySet {
        array: u32,
        key: Slot,
        arg: Value,
    },
    /// Set a string element; the result is 0, or negative when the map is full.
    ArraySetStr {
        array: u32,
        key: Slot,
        src: Slot,
    },
    /// `arr[k] += arg` whose new value is unused: an atomic add on an
    /// existing element, else an insert of `arg`. Result as `ArraySet`.
    ArrayAdd {
        array: u32,
        key: Slot,
        arg: Value,
    },
    /// 1 if element `key` exists, else 0.
    ArrayIn {
        array: u32,
        key: Slot,
    },
    ArrayDelete {
        array: u32,
        key: Slot,
    },
    /// `delete arr`: remove every element.
    ArrayClear {
        array: u32,
    },
    /// Start a `foreach`: snapshot the keys of `array` in `sort` order, at
    /// most `limit` of them (a negative limit: none); the result is an
    /// iterator handle. Userspace programs only.
    ArrayIterStart {
        array: u32,
        sort: IterSort,
        limit: Value,
    },
    /// Write the iterator's next key into `key`: 1, or 0 when it is done.
    ArrayIterNext {
        handle: Value,
        key: Slot,
    },
    /// Release the iterator (after the loop; leaving a handler frees them all).
    ArrayIterEnd {
        handle: Value,
    },
    // ---- functions/strings ----
    /// A string built-in (see `StrOp`). `dst` is `Some` exactly when
    /// `op.writes_string()`; otherwise the instruction has a result.
    StrOp {
        op: StrOp,
        dst: Option<Slot>,
        srcs: Vec<Slot>,
        args: Vec<Value>,
    },
    /// `dst = sprintf(format, args…)` (format indexes `Module::formats`).
    Sprintf {
        dst: Slot,
        format: u32,
        args: Vec<OutArg>,
    },
    /// Call `Module::functions[func]` (a recursive script function, userspace
    /// programs only) with at most `MAX_CALL_ARGS` arguments; the result is
    /// its return value (0 for a function without one). When the callee
    /// raised a runtime error, the caller leaves at once (like `Return`).
    Call {
        func: u32,
        args: Vec<Value>,
    },
    /// Argument `index` of the function being defined (in `Module::functions`).
    Arg {
        index: u32,
    },
    /// A target variable: `size` (1, 2, 4 or 8) bytes of the probe's
    /// context at `offset`, sign-extended when `signed` (kernel probes only).
    LoadCtx {
        offset: u32,
        size: u8,
        signed: bool,
    },
    /// Read `size` bytes of `space` memory at `addr` into slot `dst`
    /// (kernel probes only). With `string`, read a NUL-terminated string of
    /// at most `size` bytes including the NUL, zero-padding the slot. The
    /// result is the helper's: ≥ 0 on success, a negative errno on a fault
    /// (then `dst` is zeroed).
    ProbeRead {
        space: MemSpace,
        dst: Slot,
        addr: Value,
        size: u32,
        string: bool,
    },
    // ---- statistics ----
    /// `s <<< arg`: add `arg` to statistic `stat` (index into
    /// `Module::stats`) on the current CPU: count, sum, min, max and the
    /// histogram buckets the statistic keeps. With a `key` (an element of an
    /// array of statistics) the element is created when missing, and the
    /// result is 0, or negative when the array is full.
    StatAdd {
        stat: u32,
        arg: Value,
        /// The packed key of an element of an array of statistics.
        key: Option<Slot>,
    },
    /// An aggregate of statistic `stat` over every CPU (userspace programs).
    /// `Min`/`Max`/`Avg` of an empty statistic read 0: lowering tests the
    /// count first and raises "empty aggregate".
    StatRead {
        stat: u32,
        op: StatOp,
        key: Option<Slot>,
    },
    /// `delete s`: reset statistic `stat` on every CPU (userspace programs).
    StatClear {
        stat: u32,
    },
    /// `print(@hist_…(s))`: send a HIST record for `Module::hists[hist]`.
    PrintHist {
        hist: u32,
        /// For an element of an array of statistics: its packed key, sent
        /// after the record header.
        key: Option<Slot>,
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
    // ---- functions/strings ----
    /// Return `arg` from a function of `Module::functions`.
    ReturnValue {
        arg: Value,
    },
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
                | InstData::ReturnValue { .. }
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
                | InstData::StrCompareConst { .. }
                // ---- arrays ----
                | InstData::KeyLoad { .. }
                | InstData::ArrayGet { .. }
                | InstData::ArraySet { .. }
                | InstData::ArraySetStr { .. }
                | InstData::ArrayAdd { .. }
                | InstData::ArrayIn { .. }
                | InstData::ArrayIterStart { .. }
                | InstData::ArrayIterNext { .. }
                | InstData::StrOp { dst: None, .. }
                | InstData::Call { .. }
                | InstData::Arg { .. }
                | InstData::LoadCtx { .. }
                | InstData::ProbeRead { .. }
                | InstData::StatRead { .. }
                // An element's status: 0, or negative when the array is full.
                | InstData::StatAdd { key: Some(_), .. }
        )
    }

    /// SSA values this instruction reads (including branch arguments).
    pub fn args(&self) -> Vec<Value> {
        match self {
            InstData::Unary { arg, .. }
            | InstData::StoreGlobal { arg, .. }
            | InstData::AtomicAddGlobal { arg, .. }
            | InstData::StatAdd { arg, .. } => vec![*arg],
            // ---- arrays ----
            InstData::KeyStore { arg, .. }
            | InstData::ArraySet { arg, .. }
            | InstData::ArrayAdd { arg, .. }
            | InstData::ArrayIterStart { limit: arg, .. }
            | InstData::ArrayIterNext { handle: arg, .. }
            | InstData::ArrayIterEnd { handle: arg }
            | InstData::ProbeRead { addr: arg, .. } => vec![*arg],
            InstData::Binary { args, .. } | InstData::Icmp { args, .. } => args.to_vec(),
            InstData::Printf { args, .. } | InstData::Sprintf { args, .. } => args
                .iter()
                .filter_map(|a| match a {
                    OutArg::Long(v) => Some(*v),
                    OutArg::Str(_) => None,
                })
                .collect(),
            InstData::StrOp { args, .. } | InstData::Call { args, .. } => args.clone(),
            InstData::ReturnValue { arg } => vec![*arg],
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
    /// The named context fields (`$name` of a tracepoint) the function
    /// reads, in first-use order: the object records them for the simulator.
    pub ctx_fields: Vec<CtxField>,
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
    /// The script's arrays (arrays), indexed by the `array` of the array
    /// instructions; their maps follow the four runtime maps in this order.
    pub arrays: Vec<ArrayInfo>,
    // ---- functions/strings ----
    /// Functions called with `InstData::Call` (recursive script functions),
    /// indexed by `Call::func`. Argument 0 is the call depth (for
    /// MAXNESTING), the script's parameters follow.
    pub functions: Vec<Function>,
    /// MAXNESTING: the deepest call depth a function of `functions` runs at
    /// (deeper calls trap); each depth gets its own scratch frame.
    pub max_nesting: u32,
    // ---- statistics ----
    /// One per statistic global, in `GlobalId` order (`map` is filled in by
    /// the backend, which places the maps).
    pub stats: Vec<StatDesc>,
    /// One per `print(@hist_…)` site.
    pub hists: Vec<HistDesc>,
}

/// Most arguments of a `Call` (BPF passes five in r1–r5; r1 carries the
/// context).
pub const MAX_CALL_ARGS: usize = 4;

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
                | InstData::StrCompareConst { .. }
                // ---- arrays ----
                | InstData::KeyLoad { .. }
                | InstData::ArrayGet { .. }
                | InstData::ArrayIn { .. }
                | InstData::StrOp { dst: None, .. }
                | InstData::Arg { .. }
                | InstData::LoadCtx { .. }
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
            // ---- arrays ----
            InstData::KeyStore { arg, .. }
            | InstData::ArraySet { arg, .. }
            | InstData::ArrayAdd { arg, .. }
            | InstData::ArrayIterStart { limit: arg, .. }
            | InstData::ArrayIterNext { handle: arg, .. }
            | InstData::ArrayIterEnd { handle: arg }
            | InstData::ProbeRead { addr: arg, .. } => *arg = f(*arg),
            InstData::Binary { args, .. } | InstData::Icmp { args, .. } => {
                for a in args.iter_mut() {
                    *a = f(*a);
                }
            }
            InstData::Printf { args, .. } | InstData::Sprintf { args, .. } => {
                for a in args.iter_mut() {
                    if let OutArg::Long(v) = a {
                        *v = f(*v);
                    }
                }
            }
            InstData::StrOp { args, .. } | InstData::Call { args, .. } => {
                for a in args.iter_mut() {
                    *a = f(*a);
                }
            }
            InstData::ReturnValue { arg } => *arg = f(*arg),
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
            | InstData::StrContext { dst, .. }
            | InstData::ProbeRead { dst, .. } => vec![*dst],
            InstData::StrStoreGlobal { src, .. } => vec![*src],
            InstData::StrCopy { dst, src } => vec![*dst, *src],
            InstData::StrConcat { dst, args } => vec![*dst, args[0], args[1]],
            InstData::StrCompare { args } => args.to_vec(),
            InstData::StrCompareConst { arg, .. } => vec![*arg],
            InstData::Printf { args, .. } => args
                .iter()
                .filter_map(|a| match a {
                    OutArg::Str(s) => Some(*s),
                    OutArg::Long(_) => None,
                })
                .collect(),
            InstData::TrapMsg { msg, .. } => vec![*msg],
            // ---- arrays ----
            InstData::KeyStore { key, .. }
            | InstData::KeyLoad { key, .. }
            | InstData::ArrayGet { key, .. }
            | InstData::ArraySet { key, .. }
            | InstData::ArrayAdd { key, .. }
            | InstData::ArrayIn { key, .. }
            | InstData::ArrayDelete { key, .. }
            | InstData::ArrayIterNext { key, .. } => vec![*key],
            InstData::KeyStoreStr { key, src, .. } | InstData::ArraySetStr { key, src, .. } => {
                vec![*key, *src]
            }
            InstData::KeyLoadStr { dst, key, .. } | InstData::ArrayGetStr { dst, key, .. } => {
                vec![*dst, *key]
            }
            // ---- statistics ----
            InstData::StatAdd { key, .. }
            | InstData::StatRead { key, .. }
            | InstData::PrintHist { key, .. } => key.iter().copied().collect(),
            // ---- functions/strings ----
            InstData::StrOp { dst, srcs, .. } => dst.iter().chain(srcs).copied().collect(),
            InstData::Sprintf { dst, args, .. } => std::iter::once(*dst)
                .chain(args.iter().filter_map(|a| match a {
                    OutArg::Str(s) => Some(*s),
                    OutArg::Long(_) => None,
                }))
                .collect(),
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
            | InstData::StrContext { dst, .. }
            | InstData::ProbeRead { dst, .. } => *dst = f(*dst),
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
            InstData::StrCompareConst { arg, .. } => *arg = f(*arg),
            InstData::Printf { args, .. } => {
                for a in args.iter_mut() {
                    if let OutArg::Str(s) = a {
                        *s = f(*s);
                    }
                }
            }
            InstData::TrapMsg { msg, .. } => *msg = f(*msg),
            // ---- arrays ----
            InstData::KeyStore { key, .. }
            | InstData::KeyLoad { key, .. }
            | InstData::ArrayGet { key, .. }
            | InstData::ArraySet { key, .. }
            | InstData::ArrayAdd { key, .. }
            | InstData::ArrayIn { key, .. }
            | InstData::ArrayDelete { key, .. }
            | InstData::ArrayIterNext { key, .. } => *key = f(*key),
            InstData::KeyStoreStr { key, src, .. } | InstData::ArraySetStr { key, src, .. } => {
                *key = f(*key);
                *src = f(*src);
            }
            InstData::KeyLoadStr { dst, key, .. } | InstData::ArrayGetStr { dst, key, .. } => {
                *dst = f(*dst);
                *key = f(*key);
            }
            // ---- statistics ----
            InstData::StatAdd { key, .. }
            | InstData::StatRead { key, .. }
            | InstData::PrintHist { key, .. } => {
                if let Some(k) = key {
                    *k = f(*k);
                }
            }
            // ---- functions/strings ----
            InstData::StrOp { dst, srcs, .. } => {
                if let Some(d) = dst {
                    *d = f(*d);
                }
                for s in srcs.iter_mut() {
                    *s = f(*s);
                }
            }
            InstData::Sprintf { dst, args, .. } => {
                *dst = f(*dst);
                for a in args.iter_mut() {
                    if let OutArg::Str(s) = a {
                        *s = f(*s);
                    }
                }
            }
            _ => {}
        }
    }
}
