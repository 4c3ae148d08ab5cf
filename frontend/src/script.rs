//! The typed, resolved script that sema produces and the midend lowers:
//! every name bound (globals, locals, functions, built-ins), every
//! expression typed, every probe point validated and decoded, `@define`
//! macros and `$1`/`@1` arguments already substituted, `print`/`println`
//! turned into formats.
//!
//! It is a tree (boxed expressions) because every consumer walks it once,
//! top-down; spans travel on every node so later layers can report at the
//! script's own position.

use crate::span::Span;
use cranelift_entity::{entity_impl, PrimaryMap};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlobalId(u32);
entity_impl!(GlobalId, "global");

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId(u32);
entity_impl!(FuncId, "func");

/// A local variable or parameter of one probe or function.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(u32);
entity_impl!(LocalId, "local");

#[derive(Clone, Debug, Default)]
pub struct Script {
    pub globals: PrimaryMap<GlobalId, Global>,
    pub functions: PrimaryMap<FuncId, Function>,
    /// In source order.
    pub probes: Vec<Probe>,
}

/// The type of a scalar value (a local, a key, an array value, an expression).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    Long,
    String,
}

/// What a global holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalType {
    Scalar(ScalarType),
    /// A statistic (`s <<< v`).
    Stats,
    /// An associative array; `value` is `None` for an array of statistics.
    Array {
        keys: Vec<ScalarType>,
        value: Option<ScalarType>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Long(i64),
    String(String),
}

#[derive(Clone, Debug)]
pub struct Global {
    pub name: String,
    pub span: Span,
    pub ty: GlobalType,
    pub init: Option<Literal>,
    /// `global a[N]`: the array's maximum entries (default: MAXMAPENTRIES).
    pub max_entries: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub span: Span,
    pub ty: ScalarType,
}

#[derive(Clone, Debug)]
pub struct Function {
    pub name: String,
    pub span: Span,
    /// The first `params.len()` entries of `locals`, in order.
    pub params: Vec<LocalId>,
    /// `None` when the function returns no value.
    pub ret: Option<ScalarType>,
    pub locals: PrimaryMap<LocalId, Local>,
    pub body: Stmt,
    /// Calls itself directly or through others.
    pub recursive: bool,
}

#[derive(Clone, Debug)]
pub struct Probe {
    pub span: Span,
    /// One handler for several points: `probe a, b { … }`.
    pub points: Vec<ProbePoint>,
    pub locals: PrimaryMap<LocalId, Local>,
    pub body: Stmt,
}

#[derive(Clone, Debug)]
pub struct ProbePoint {
    pub span: Span,
    /// The point as written, normalised (what `pp()` returns), e.g. `timer.ms(100)`.
    pub text: String,
    pub kind: PointKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointKind {
    Begin {
        priority: i64,
    },
    End {
        priority: i64,
    },
    Error {
        priority: i64,
    },
    Never,
    /// Runs like `begin`, then exits.
    Oneshot,
    /// `timer.s/ms/us/ns/hz/jiffies(N)`, as a period; `timer.profile` sets `profile`.
    Timer {
        period_ns: u64,
        profile: bool,
    },
    Tracepoint {
        group: String,
        name: String,
    },
    /// `syscall.NAME[.return]`: the `syscalls:sys_enter_NAME`/`sys_exit_NAME` tracepoint.
    Syscall {
        name: String,
        ret: bool,
    },
    KernelFunction {
        function: String,
        ret: bool,
    },
    Process {
        path: String,
        symbol: String,
        ret: bool,
    },
    Perf {
        type_: u32,
        config: u64,
        sample_period: u64,
    },
}

impl PointKind {
    /// begin/end/error/oneshot/never run in userspace (or not at all).
    pub fn is_userspace(&self) -> bool {
        matches!(
            self,
            PointKind::Begin { .. }
                | PointKind::End { .. }
                | PointKind::Error { .. }
                | PointKind::Oneshot
                | PointKind::Never
        )
    }
}

#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Block(Vec<Stmt>),
    Expr(Expr),
    If {
        cond: Expr,
        then: Box<Stmt>,
        else_: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Box<Stmt>,
    },
    /// `for (init; cond; step) body`; a missing `cond` is true.
    For {
        init: Option<Expr>,
        cond: Option<Expr>,
        step: Option<Expr>,
        body: Box<Stmt>,
    },
    Foreach(Box<Foreach>),
    Break,
    Continue,
    /// Leave the probe handler.
    Next,
    Return(Option<Expr>),
    Delete(Delete),
    Try {
        body: Box<Stmt>,
        catch_var: Option<LocalId>,
        handler: Box<Stmt>,
    },
    Empty,
}

#[derive(Clone, Debug)]
pub struct Foreach {
    /// One local per key column.
    pub keys: Vec<LocalId>,
    /// `foreach (v = [k] in arr)`: the value, bound per iteration.
    pub value: Option<LocalId>,
    pub array: GlobalId,
    pub sort: Option<Sort>,
    pub limit: Option<Expr>,
    pub body: Stmt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub by: SortBy,
    pub descending: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// Key column `n` (0-based).
    Key(usize),
    /// The value (for statistics arrays: the `@count`, as SystemTap does).
    Value,
}

#[derive(Clone, Debug)]
pub enum Delete {
    /// `delete x` on a scalar or statistic: reset to 0 / "" / empty.
    Var(VarRef),
    Element {
        array: GlobalId,
        keys: Vec<Expr>,
    },
    Array(GlobalId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarRef {
    Local(LocalId),
    Global(GlobalId),
}

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Long,
    String,
    /// A call of a function or built-in that returns nothing.
    Void,
}

impl From<ScalarType> for Type {
    fn from(t: ScalarType) -> Type {
        match t {
            ScalarType::Long => Type::Long,
            ScalarType::String => Type::String,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum LValue {
    Var(VarRef),
    Index { array: GlobalId, keys: Vec<Expr> },
}

/// A statistic: a global, or one element of an array of statistics.
#[derive(Clone, Debug)]
pub enum StatRef {
    Global(GlobalId),
    Index { array: GlobalId, keys: Vec<Expr> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    /// `!x`: 1 if x == 0, else 0.
    Not,
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// Signed, truncating; division by 0 is the runtime error `division by 0`.
    Div,
    Mod,
    Shl,
    /// `>>`: arithmetic.
    Shr,
    /// `>>>`: logical.
    LShr,
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalOp {
    And,
    Or,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggOp {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistKind {
    Log,
    Linear {
        start: i64,
        stop: i64,
        interval: i64,
    },
}

/// How a formatted output is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FormatUse {
    /// `printf`, `print`, `println`: to stdout.
    Print,
    /// `sprintf`, `sprint`, `sprintln`: a string value.
    Sprintf,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Number(i64),
    Str(String),
    Var(VarRef),
    /// `arr[k1, k2]` read (missing: 0 or "").
    Index {
        array: GlobalId,
        keys: Vec<Expr>,
    },
    /// `[k1, k2] in arr`.
    In {
        array: GlobalId,
        keys: Vec<Expr>,
    },
    /// `target op= value`; `op` is `None` for plain `=`. For strings only
    /// `=` and `.=` (op = Some(Concat) is expressed as `concat: true`).
    Assign {
        target: LValue,
        op: Option<BinaryOp>,
        concat: bool,
        value: Box<Expr>,
    },
    /// `++x`, `x--`, …
    IncDec {
        target: LValue,
        increment: bool,
        prefix: bool,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// On two longs (signed) or two strings (byte-wise).
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// Short-circuit `&&` / `||`, result 0 or 1.
    Logical(LogicalOp, Box<Expr>, Box<Expr>),
    /// String concatenation `a . b`.
    Concat(Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A script function call.
    Call {
        func: FuncId,
        args: Vec<Expr>,
    },
    /// A built-in function other than the formatting ones.
    Builtin {
        func: Builtin,
        args: Vec<Expr>,
    },
    /// printf/print/println/sprintf/sprint: `format` has escapes decoded and
    /// print/println already turned into conversions (`print("a", 1)` → `"%s%d"`).
    Format {
        format: String,
        args: Vec<Expr>,
        use_: FormatUse,
    },
    /// `print(@hist_log(s))` / `print(@hist_linear(s, …))`.
    PrintHist {
        kind: HistKind,
        stat: StatRef,
    },
    /// `@count(s)` etc.
    Aggregate {
        op: AggOp,
        stat: StatRef,
    },
    /// `s <<< v`.
    StatAdd {
        stat: StatRef,
        value: Box<Expr>,
    },
    /// `$name` of a probe point, resolved (tracepoint field, syscall argument, `$return`).
    Target(TargetVar),
}

/// A resolved `$name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetVar {
    pub name: String,
    pub access: TargetAccess,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetAccess {
    /// A field of the tracepoint's context record at `offset`, `size` bytes.
    Field {
        offset: u32,
        size: u32,
        signed: bool,
    },
    /// Argument `n` (0-based) of a function probe.
    Arg(u32),
    /// The return value of a `.return` probe.
    Return,
}

/// Built-in functions (other than printf-like ones, which are `ExprKind::Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Exit,
    Error,
    // context
    Pid,
    Tid,
    Ppid,
    Uid,
    Gid,
    Euid,
    Execname,
    Cpu,
    Pp,
    Probefunc,
    Name,
    GettimeofdayS,
    GettimeofdayMs,
    GettimeofdayUs,
    GettimeofdayNs,
    KtimeGetNs,
    Jiffies,
    Target,
    // strings
    Strlen,
    Substr,
    Isinstr,
    Strtol,
    StrReplace,
    TextStr,
    // memory
    KernelString,
    UserString,
    KernelLong,
    KernelInt,
    UserLong,
    UserInt,
    IntArg,
    LongArg,
    UintArg,
    UlongArg,
    PointerArg,
    Returnval,
    // numbers
    Abs,
    Min,
    Max,
    Randint,
}
