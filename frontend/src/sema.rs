//! Semantic analysis: AST → `script::Script`.
//!
//! Pass 1 walks every probe and function once: it binds names (locals per
//! probe/function, globals and functions script-wide, built-ins), decodes
//! probe points, and states every typing constraint as a unification of type
//! variables (union-find), which reaches the same fixed point as SystemTap's
//! repeated inference passes in one walk, and remembers for each conflict
//! both places that disagree. Pass 2 builds the typed `Script` from the
//! solved types. Recursion is found with Tarjan's SCC algorithm.

use crate::ast::{self, AssignOp, Ast, BinOp, ExprId, FunctionBody, Item, StmtId, UnOp};
use crate::codes;
use crate::diag::Diagnostic;
use crate::points;
use crate::script::{self as s, Builtin, FuncId, GlobalId, LocalId, ScalarType, Type, VarRef};
use crate::span::Span;
use crate::Options;
use cranelift_entity::{EntityRef, PrimaryMap};
use rustc_hash::FxHashMap;

// ---------------------------------------------------------------- types

/// What a type variable is known to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TK {
    Unknown,
    Long,
    Str,
    Stats,
    Void,
}

fn tk_name(k: TK) -> &'static str {
    match k {
        TK::Unknown => "unknown",
        TK::Long => "long",
        TK::Str => "string",
        TK::Stats => "statistic",
        TK::Void => "no value",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TV(u32);

/// Union-find over type variables; each root knows its kind and where that
/// kind was first decided.
#[derive(Default)]
struct Types {
    parent: Vec<u32>,
    kind: Vec<TK>,
    origin: Vec<Option<Span>>,
}

impl Types {
    fn fresh(&mut self) -> TV {
        let i = self.parent.len() as u32;
        self.parent.push(i);
        self.kind.push(TK::Unknown);
        self.origin.push(None);
        TV(i)
    }

    fn konst(&mut self, k: TK, span: Span) -> TV {
        let v = self.fresh();
        self.kind[v.0 as usize] = k;
        self.origin[v.0 as usize] = Some(span);
        v
    }

    fn find(&mut self, v: TV) -> u32 {
        let mut r = v.0;
        while self.parent[r as usize] != r {
            r = self.parent[r as usize];
        }
        let mut c = v.0;
        while self.parent[c as usize] != r {
            let n = self.parent[c as usize];
            self.parent[c as usize] = r;
            c = n;
        }
        r
    }

    fn kind_of(&mut self, v: TV) -> TK {
        let r = self.find(v);
        self.kind[r as usize]
    }
}

// ---------------------------------------------------------------- resolution records

/// What an expression node resolved to (pass 1 → pass 2).
#[derive(Clone, Debug)]
enum Res {
    None,
    Local(LocalId),
    Global(GlobalId),
    Func(FuncId),
    Builtin(Builtin),
    Format {
        use_: s::FormatUse,
        kind: FmtKind,
    },
    Literal(s::Literal),
    Target(s::TargetVar),
    Agg(s::AggOp),
    Hist,
    /// An error was reported; pass 2 is not run.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FmtKind {
    /// printf / sprintf: the first argument is the format.
    Printf,
    /// print / sprint
    Print,
    /// println / sprintln
    Println,
    /// printd / printdln: the first argument is the delimiter.
    Printd { newline: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GKind {
    Unknown,
    Scalar,
    Array(usize),
}

struct GInfo {
    name: String,
    span: Span,
    kind: GKind,
    kind_span: Option<Span>,
    value: TV,
    keys: Vec<TV>,
    init: Option<s::Literal>,
    max_entries: Option<u32>,
    read: bool,
    written: bool,
}

struct LInfo {
    name: String,
    span: Span,
    tv: TV,
    read: bool,
    written: bool,
}

struct FInfo {
    name: String,
    span: Span,
    decl: usize,
    params: Vec<TV>,
    ret: TV,
    returns_value: bool,
    called: bool,
}

/// Per probe or function: its locals.
#[derive(Default)]
struct Body {
    locals: PrimaryMap<LocalId, LInfo>,
    by_name: FxHashMap<String, LocalId>,
}

/// Context while walking one body.
struct Ctx {
    body: Body,
    func: Option<FuncId>,
    points: Vec<s::PointKind>,
    loops: u32,
    /// Index into `Sema::callers` of this body.
    caller: usize,
}

struct ForeachRes {
    keys: Vec<LocalId>,
    value: Option<LocalId>,
    array: GlobalId,
    sort: Option<s::Sort>,
}

// ---------------------------------------------------------------- built-ins

struct Sig {
    b: Builtin,
    params: &'static [TK],
    ret: TK,
}

fn builtin(name: &str) -> Option<Sig> {
    use Builtin as B;
    use TK::{Long as L, Str as S, Void as V};
    let (b, params, ret): (Builtin, &'static [TK], TK) = match name {
        "exit" => (B::Exit, &[], V),
        "error" => (B::Error, &[S], V),
        "pid" => (B::Pid, &[], L),
        "tid" => (B::Tid, &[], L),
        "ppid" => (B::Ppid, &[], L),
        "uid" => (B::Uid, &[], L),
        "gid" => (B::Gid, &[], L),
        "euid" => (B::Euid, &[], L),
        "execname" => (B::Execname, &[], S),
        "cpu" => (B::Cpu, &[], L),
        "pp" => (B::Pp, &[], S),
        "probefunc" => (B::Probefunc, &[], S),
        "gettimeofday_s" => (B::GettimeofdayS, &[], L),
        "gettimeofday_ms" => (B::GettimeofdayMs, &[], L),
        "gettimeofday_us" => (B::GettimeofdayUs, &[], L),
        "gettimeofday_ns" => (B::GettimeofdayNs, &[], L),
        "ktime_get_ns" => (B::KtimeGetNs, &[], L),
        "jiffies" => (B::Jiffies, &[], L),
        "target" => (B::Target, &[], L),
        "strlen" => (B::Strlen, &[S], L),
        "substr" => (B::Substr, &[S, L, L], S),
        "isinstr" => (B::Isinstr, &[S, S], L),
        "strtol" => (B::Strtol, &[S, L], L),
        "str_replace" => (B::StrReplace, &[S, S, S], S),
        "text_str" => (B::TextStr, &[S], S),
        "kernel_string" => (B::KernelString, &[L], S),
        "user_string" => (B::UserString, &[L], S),
        "kernel_long" => (B::KernelLong, &[L], L),
        "kernel_int" => (B::KernelInt, &[L], L),
        "user_long" => (B::UserLong, &[L], L),
        "user_int" => (B::UserInt, &[L], L),
        "int_arg" => (B::IntArg, &[L], L),
        "long_arg" => (B::LongArg, &[L], L),
        "uint_arg" => (B::UintArg, &[L], L),
        "ulong_arg" => (B::UlongArg, &[L], L),
        "pointer_arg" => (B::PointerArg, &[L], L),
        "returnval" => (B::Returnval, &[], L),
        "abs" => (B::Abs, &[L], L),
        "min" => (B::Min, &[L, L], L),
        "max" => (B::Max, &[L, L], L),
        "randint" => (B::Randint, &[L], L),
        _ => return None,
    };
    Some(Sig { b, params, ret })
}

const BUILTIN_NAMES: &[&str] = &[
    "exit",
    "error",
    "pid",
    "tid",
    "ppid",
    "uid",
    "gid",
    "euid",
    "execname",
    "cpu",
    "pp",
    "probefunc",
    "gettimeofday_s",
    "gettimeofday_ms",
    "gettimeofday_us",
    "gettimeofday_ns",
    "ktime_get_ns",
    "jiffies",
    "target",
    "strlen",
    "substr",
    "isinstr",
    "strtol",
    "str_replace",
    "text_str",
    "kernel_string",
    "user_string",
    "kernel_long",
    "kernel_int",
    "user_long",
    "user_int",
    "int_arg",
    "long_arg",
    "uint_arg",
    "ulong_arg",
    "pointer_arg",
    "returnval",
    "abs",
    "min",
    "max",
    "randint",
    "printf",
    "sprintf",
    "print",
    "println",
    "sprint",
    "sprintln",
    "printd",
    "printdln",
];

fn format_fn(name: &str) -> Option<(s::FormatUse, FmtKind)> {
    use s::FormatUse::{Print as P, Sprintf as S};
    Some(match name {
        "printf" => (P, FmtKind::Printf),
        "sprintf" => (S, FmtKind::Printf),
        "print" => (P, FmtKind::Print),
        "sprint" => (S, FmtKind::Print),
        "println" => (P, FmtKind::Println),
        "sprintln" => (S, FmtKind::Println),
        "printd" => (P, FmtKind::Printd { newline: false }),
        "printdln" => (P, FmtKind::Printd { newline: true }),
        _ => return None,
    })
}

/// Levenshtein distance, for "did you mean" help.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `name`, if close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = name.chars().count().div_ceil(3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        // Cheap length filter keeps this linear-ish for big scripts.
        if c.len().abs_diff(name.len()) > limit {
            continue;
        }
        let d = edit_distance(name, c);
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

// ---------------------------------------------------------------- printf formats

/// One `%` conversion: the argument types it consumes in order.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatSpec {
    /// The format with length modifiers (`l`, `ll`, `h`) removed.
    pub normalized: String,
    pub args: Vec<ScalarType>,
}

pub fn parse_format(f: &str) -> Result<FormatSpec, String> {
    let b: Vec<char> = f.chars().collect();
    let mut out = String::with_capacity(f.len());
    let mut args = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != '%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        out.push('%');
        i += 1;
        while i < b.len() && "-0+ #".contains(b[i]) {
            out.push(b[i]);
            i += 1;
        }
        if i < b.len() && b[i] == '*' {
            args.push(ScalarType::Long);
            out.push('*');
            i += 1;
        } else {
            while i < b.len() && b[i].is_ascii_digit() {
                out.push(b[i]);
                i += 1;
            }
        }
        if i < b.len() && b[i] == '.' {
            out.push('.');
            i += 1;
            if i < b.len() && b[i] == '*' {
                args.push(ScalarType::Long);
                out.push('*');
                i += 1;
            } else {
                while i < b.len() && b[i].is_ascii_digit() {
                    out.push(b[i]);
                    i += 1;
                }
            }
        }
        while i < b.len() && (b[i] == 'l' || b[i] == 'h') {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            return Err("the format ends in the middle of a conversion".into());
        };
        match c {
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' | 'c' | 'p' => args.push(ScalarType::Long),
            's' => args.push(ScalarType::String),
            '%' => {}
            other => return Err(format!("unknown conversion `%{other}`")),
        }
        out.push(c);
        i += 1;
    }
    Ok(FormatSpec {
        normalized: out,
        args,
    })
}

// ---------------------------------------------------------------- the analysis

struct Sema<'a> {
    ast: &'a Ast,
    opts: &'a Options,
    diags: Vec<Diagnostic>,
    ty: Types,
    globals: PrimaryMap<GlobalId, GInfo>,
    gmap: FxHashMap<String, GlobalId>,
    funcs: PrimaryMap<FuncId, FInfo>,
    fmap: FxHashMap<String, FuncId>,
    /// Per expression: its type variable and what it resolved to.
    etv: Vec<Option<TV>>,
    eres: Vec<Res>,
    foreach: FxHashMap<StmtId, ForeachRes>,
    catch_vars: FxHashMap<StmtId, LocalId>,
    /// Call edges per body: bodies are functions first (by FuncId), then probes.
    callers: Vec<Vec<(FuncId, Span)>>,
    /// Per function, after pass 1: part of a call cycle.
    recursive: Vec<bool>,
}

pub fn resolve(ast: &Ast, opts: &Options) -> (Option<s::Script>, Vec<Diagnostic>) {
    let n = ast.exprs.len();
    let mut sm = Sema {
        ast,
        opts,
        diags: Vec::new(),
        ty: Types::default(),
        globals: PrimaryMap::new(),
        gmap: FxHashMap::default(),
        funcs: PrimaryMap::new(),
        fmap: FxHashMap::default(),
        etv: vec![None; n],
        eres: vec![Res::None; n],
        foreach: FxHashMap::default(),
        catch_vars: FxHashMap::default(),
        callers: Vec::new(),
        recursive: Vec::new(),
    };
    sm.declare();
    let (fbodies, pbodies) = sm.pass1();
    sm.check_unused_and_recursion(&pbodies);
    let has_err = sm.diags.iter().any(|d| d.is_error());
    let script = if has_err {
        None
    } else {
        Some(sm.pass2(fbodies, pbodies))
    };
    let mut diags = sm.diags;
    // Errors are reported in source order within each severity class.
    diags.sort_by_key(|d| (d.primary_span().map(|s| (s.file, s.start)), !d.is_error()));
    if script.is_none() && !diags.iter().any(|d| d.is_error()) {
        diags.push(Diagnostic::error(
            codes::SYNTAX,
            "internal: resolution failed without an error",
        ));
    }
    (script, diags)
}

struct ProbeBody {
    item: usize,
    points: Vec<s::ProbePoint>,
    ctx: Body,
}

impl<'a> Sema<'a> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn unsupported(&mut self, span: Span, what: &str) {
        self.err(
            Diagnostic::error(
                codes::UNSUPPORTED,
                format!("not supported by stapc: {what}"),
            )
            .with_primary(span, "not supported"),
        );
    }

    // ----- declarations

    fn declare(&mut self) {
        let ast = self.ast;
        for (idx, item) in ast.items.iter().enumerate() {
            match item {
                Item::Global(g) => {
                    if g.private {
                        self.unsupported(g.span, "`private` globals");
                    }
                    for v in g.vars.iter().filter(|v| v.wrap) {
                        self.unsupported(v.name.span, "wrapping arrays (`global a%`)");
                    }
                    for v in &g.vars {
                        if let Some(&prev) = self.gmap.get(&v.name.name) {
                            let pspan = self.globals[prev].span;
                            self.err(
                                Diagnostic::error(
                                    codes::DUPLICATE,
                                    format!("global `{}` is declared twice", v.name.name),
                                )
                                .with_primary(v.name.span, "declared again here")
                                .with_secondary(pspan, "first declared here"),
                            );
                            continue;
                        }
                        let value = self.ty.fresh();
                        let mut gi = GInfo {
                            name: v.name.name.clone(),
                            span: v.name.span,
                            kind: GKind::Unknown,
                            kind_span: None,
                            value,
                            keys: Vec::new(),
                            init: None,
                            max_entries: None,
                            read: false,
                            written: false,
                        };
                        if let Some(sz) = v.size {
                            match self.const_eval(sz) {
                                Some(n) if n > 0 && n <= u32::MAX as i64 => {
                                    gi.max_entries = Some(n as u32)
                                }
                                Some(n) => self.err(
                                    Diagnostic::error(
                                        codes::BAD_POINT_ARG,
                                        format!("invalid array size {n}"),
                                    )
                                    .with_primary(
                                        ast.espan(sz),
                                        "must be between 1 and 4294967295",
                                    ),
                                ),
                                None => {}
                            }
                        }
                        if let Some(init) = v.init {
                            gi.written = true;
                            let sp = ast.espan(init);
                            match self.literal(init) {
                                Some(lit) => {
                                    let k = match lit {
                                        s::Literal::Long(_) => TK::Long,
                                        s::Literal::String(_) => TK::Str,
                                    };
                                    let c = self.ty.konst(k, sp);
                                    self.unify(value, c, sp);
                                    gi.kind = GKind::Scalar;
                                    gi.kind_span = Some(sp);
                                    gi.init = Some(lit);
                                }
                                None => self.err(
                                    Diagnostic::error(
                                        codes::GLOBAL_INIT,
                                        format!(
                                            "the initialiser of `{}` is not a literal",
                                            v.name.name
                                        ),
                                    )
                                    .with_primary(sp, "expected a number or a string")
                                    .with_help("initialise it in a `probe begin` instead"),
                                ),
                            }
                        }
                        let id = self.globals.push(gi);
                        self.gmap.insert(v.name.name.clone(), id);
                    }
                }
                Item::Function(f) => {
                    if f.private {
                        self.unsupported(f.span, "`private` functions");
                    }
                    if let Some(&prev) = self.fmap.get(&f.name.name) {
                        let pspan = self.funcs[prev].span;
                        self.err(
                            Diagnostic::error(
                                codes::DUPLICATE,
                                format!("function `{}` is defined twice", f.name.name),
                            )
                            .with_primary(f.name.span, "defined again here")
                            .with_secondary(pspan, "first defined here"),
                        );
                        continue;
                    }
                    if format_fn(&f.name.name).is_some() {
                        self.err(
                            Diagnostic::error(
                                codes::DUPLICATE,
                                format!("`{}` is a built-in and cannot be redefined", f.name.name),
                            )
                            .with_primary(f.name.span, "redefines a built-in"),
                        );
                        continue;
                    }
                    let mut params = Vec::new();
                    for (k, p) in f.params.iter().enumerate() {
                        if f.params[..k].iter().any(|q| q.name.name == p.name.name) {
                            self.err(
                                Diagnostic::error(
                                    codes::DUPLICATE,
                                    format!("parameter `{}` appears twice", p.name.name),
                                )
                                .with_primary(p.name.span, "duplicate parameter"),
                            );
                        }
                        params.push(match p.ty {
                            Some(ast::TypeName::Long) => self.ty.konst(TK::Long, p.name.span),
                            Some(ast::TypeName::String) => self.ty.konst(TK::Str, p.name.span),
                            None => self.ty.fresh(),
                        });
                    }
                    let returns_value = f.ret.is_some()
                        || matches!(f.body, FunctionBody::Block(b) if self.has_value_return(b));
                    let ret = match f.ret {
                        Some(ast::TypeName::Long) => self.ty.konst(TK::Long, f.name.span),
                        Some(ast::TypeName::String) => self.ty.konst(TK::Str, f.name.span),
                        None if returns_value => self.ty.fresh(),
                        None => self.ty.konst(TK::Void, f.name.span),
                    };
                    let id = self.funcs.push(FInfo {
                        name: f.name.name.clone(),
                        span: f.name.span,
                        decl: idx,
                        params,
                        ret,
                        returns_value,
                        called: false,
                    });
                    self.fmap.insert(f.name.name.clone(), id);
                }
                Item::Probe(_) => {}
                Item::EmbeddedC { span, .. } => self.unsupported(*span, "embedded C (`%{ … %}`)"),
            }
        }
    }

    /// Does the function body contain `return EXPR` (iteratively, no recursion limits needed).
    fn has_value_return(&self, b: StmtId) -> bool {
        let mut stack = vec![b];
        while let Some(s) = stack.pop() {
            match self.ast.stmt(s) {
                ast::Stmt::Return(Some(_)) => return true,
                ast::Stmt::Block(ss) => stack.extend(ss.iter().copied()),
                ast::Stmt::If { then, else_, .. } => {
                    stack.push(*then);
                    stack.extend(else_.iter().copied());
                }
                ast::Stmt::While { body, .. } | ast::Stmt::For { body, .. } => stack.push(*body),
                ast::Stmt::Foreach(f) => stack.push(f.body),
                ast::Stmt::Try { body, handler, .. } => {
                    stack.push(*body);
                    stack.push(*handler);
                }
                _ => {}
            }
        }
        false
    }

    /// A literal for a global initialiser: number, string, `-number`, `$1`/`@1`.
    fn literal(&mut self, e: ExprId) -> Option<s::Literal> {
        match self.ast.expr(e) {
            ast::Expr::Number(n) => Some(s::Literal::Long(*n)),
            ast::Expr::Str(st) => Some(s::Literal::String(st.clone())),
            ast::Expr::Unary(UnOp::Neg, a) => match self.literal(*a)? {
                s::Literal::Long(n) => Some(s::Literal::Long(n.wrapping_neg())),
                s::Literal::String(_) => None,
            },
            ast::Expr::ScriptArg { n, as_string } => {
                let sp = self.ast.espan(e);
                points::script_arg(*n, *as_string, &self.opts.script_args, sp, &mut self.diags)
            }
            _ => None,
        }
    }

    /// Constant integer expressions (array sizes, histogram bounds).
    fn const_eval(&mut self, e: ExprId) -> Option<i64> {
        let v = self.const_value(e);
        if v.is_none() {
            let sp = self.ast.espan(e);
            self.err(
                Diagnostic::error(codes::NOT_CONSTANT, "a constant number is required here")
                    .with_primary(sp, "not a constant"),
            );
        }
        v
    }

    fn const_value(&mut self, e: ExprId) -> Option<i64> {
        Some(match self.ast.expr(e) {
            ast::Expr::Number(n) => *n,
            ast::Expr::Unary(op, a) => {
                let a = self.const_value(*a)?;
                match op {
                    UnOp::Neg => a.wrapping_neg(),
                    UnOp::Not => i64::from(a == 0),
                    UnOp::BitNot => !a,
                    UnOp::Plus => a,
                }
            }
            ast::Expr::Binary(op, a, b) => {
                let (a, b) = (self.const_value(*a)?, self.const_value(*b)?);
                match op {
                    BinOp::Add => a.wrapping_add(b),
                    BinOp::Sub => a.wrapping_sub(b),
                    BinOp::Mul => a.wrapping_mul(b),
                    BinOp::Div if b != 0 => a.wrapping_div(b),
                    BinOp::Mod if b != 0 => a.wrapping_rem(b),
                    BinOp::Shl if (0..64).contains(&b) => a.wrapping_shl(b as u32),
                    _ => return None,
                }
            }
            ast::Expr::ScriptArg {
                n,
                as_string: false,
            } => {
                let sp = self.ast.espan(e);
                match points::script_arg(*n, false, &self.opts.script_args, sp, &mut self.diags)? {
                    s::Literal::Long(n) => n,
                    s::Literal::String(_) => return None,
                }
            }
            _ => return None,
        })
    }

    // ----- unification

    fn unify(&mut self, a: TV, b: TV, site: Span) -> bool {
        let (ra, rb) = (self.ty.find(a), self.ty.find(b));
        if ra == rb {
            return true;
        }
        let (ka, kb) = (self.ty.kind[ra as usize], self.ty.kind[rb as usize]);
        if ka != TK::Unknown && kb != TK::Unknown && ka != kb {
            let (oa, ob) = (self.ty.origin[ra as usize], self.ty.origin[rb as usize]);
            let d = if ka == TK::Void || kb == TK::Void {
                Diagnostic::error(
                    codes::VOID_VALUE,
                    "a function that returns no value is used as a value",
                )
                .with_primary(
                    site,
                    format!(
                        "a {} is needed here",
                        tk_name(if ka == TK::Void { kb } else { ka })
                    ),
                )
                .with_help("add `return EXPR` to the function, or give it a return type")
            } else {
                let mut d = Diagnostic::error(
                    codes::TYPE_MISMATCH,
                    format!(
                        "type mismatch: expected {}, found {}",
                        tk_name(ka),
                        tk_name(kb)
                    ),
                )
                .with_primary(site, format!("found {}", tk_name(kb)));
                if ka == TK::Stats || kb == TK::Stats {
                    d = d.with_help("read a statistic with @count, @sum, @min, @max or @avg");
                }
                d
            };
            let mut d = d;
            if let Some(oa) = oa.filter(|o| *o != site) {
                d = d.with_secondary(oa, format!("{} because of this", tk_name(ka)));
            }
            if let Some(ob) = ob.filter(|o| *o != site && Some(*o) != oa) {
                d = d.with_secondary(ob, format!("{} because of this", tk_name(kb)));
            }
            self.err(d);
            return false;
        }
        // Union by attaching the unknown side (keeps the known origin).
        let (root, child) = if ka == TK::Unknown {
            (rb, ra)
        } else {
            (ra, rb)
        };
        self.ty.parent[child as usize] = root;
        if self.ty.kind[root as usize] == TK::Unknown && self.ty.origin[root as usize].is_none() {
            self.ty.origin[root as usize] = self.ty.origin[child as usize];
        }
        true
    }

    fn want(&mut self, v: TV, k: TK, site: Span) -> bool {
        let c = self.ty.konst(k, site);
        // The constraint first, so the message says "expected <k>".
        self.unify(c, v, site)
    }

    // ----- pass 1

    fn pass1(&mut self) -> (Vec<Body>, Vec<ProbeBody>) {
        let ast = self.ast;
        let mut fbodies = Vec::new();
        for fid in self.funcs.keys().collect::<Vec<_>>() {
            let Item::Function(f) = &ast.items[self.funcs[fid].decl] else {
                continue;
            };
            self.callers.push(Vec::new());
            let mut ctx = Ctx {
                body: Body::default(),
                func: Some(fid),
                points: Vec::new(),
                loops: 0,
                caller: self.callers.len() - 1,
            };
            for (k, p) in f.params.iter().enumerate() {
                let tv = self.funcs[fid].params[k];
                let id = ctx.body.locals.push(LInfo {
                    name: p.name.name.clone(),
                    span: p.name.span,
                    tv,
                    read: false,
                    written: true,
                });
                ctx.body.by_name.entry(p.name.name.clone()).or_insert(id);
            }
            match &f.body {
                FunctionBody::Block(b) => self.stmt(*b, &mut ctx),
                FunctionBody::EmbeddedC(_) => self.unsupported(f.span, "embedded C functions"),
            }
            self.local_warnings(&ctx.body, f.params.len());
            fbodies.push(ctx.body);
        }
        let mut pbodies = Vec::new();
        for (idx, item) in ast.items.iter().enumerate() {
            let Item::Probe(p) = item else { continue };
            if p.private {
                self.unsupported(p.span, "`private` probes");
            }
            match &p.kind {
                ast::ProbeKind::Plain => {}
                ast::ProbeKind::Alias(c) | ast::ProbeKind::AliasAppend(c) => {
                    let sp = c.first().map_or(p.span, |c| c.span);
                    self.unsupported(sp, "probe aliases");
                    continue;
                }
            }
            let mut pts = Vec::new();
            for pt in &p.points {
                if let Some(c) = pt.condition {
                    self.unsupported(ast.espan(c), "conditional probe points (`if (…)`)");
                }
                if let Some(d) = points::decode(pt, &self.opts.script_args, &mut self.diags) {
                    pts.push(d);
                }
            }
            let all_decoded = pts.len() == p.points.len();
            self.callers.push(Vec::new());
            let mut ctx = Ctx {
                body: Body::default(),
                func: None,
                points: if all_decoded {
                    pts.iter().map(|p| p.kind.clone()).collect()
                } else {
                    Vec::new()
                },
                loops: 0,
                caller: self.callers.len() - 1,
            };
            self.stmt(p.body, &mut ctx);
            // With undecoded points, names like `name` resolve differently; the
            // point error is the one to fix first.
            if all_decoded {
                self.local_warnings(&ctx.body, 0);
            }
            pbodies.push(ProbeBody {
                item: idx,
                points: pts,
                ctx: ctx.body,
            });
        }
        (fbodies, pbodies)
    }

    fn local_warnings(&mut self, b: &Body, nparams: usize) {
        for (k, l) in b.locals.values().enumerate() {
            if l.read && !l.written {
                self.err(
                    Diagnostic::warning(
                        codes::NEVER_WRITTEN,
                        format!("local `{}` is read but never written", l.name),
                    )
                    .with_primary(l.span, "always 0 or \"\" here")
                    .with_help(
                        "assign it first, or declare it `global` if it is shared between probes",
                    ),
                );
            } else if !l.read && k >= nparams && l.written {
                self.err(
                    Diagnostic::warning(
                        codes::UNUSED_LOCAL,
                        format!("local `{}` is assigned but never used", l.name),
                    )
                    .with_primary(l.span, "assigned here"),
                );
            }
            if self.ty.kind_of(l.tv) == TK::Unknown && (l.read || l.written) {
                self.err(
                    Diagnostic::warning(
                        codes::DEFAULT_TYPE,
                        format!(
                            "the type of `{}` could not be inferred; assuming long",
                            l.name
                        ),
                    )
                    .with_primary(l.span, "declared here"),
                );
            }
        }
    }

    fn expr_tv(&mut self, e: ExprId) -> TV {
        match self.etv[e.index()] {
            Some(v) => v,
            None => {
                let v = self.ty.fresh();
                self.etv[e.index()] = Some(v);
                v
            }
        }
    }

    fn set(&mut self, e: ExprId, tv: TV, res: Res) {
        self.etv[e.index()] = Some(tv);
        self.eres[e.index()] = res;
    }

    fn stmt(&mut self, st: StmtId, cx: &mut Ctx) {
        let ast = self.ast;
        let span = ast.sspan(st);
        match ast.stmt(st) {
            ast::Stmt::Block(ss) => {
                let mut warned = false;
                for (k, &s2) in ss.iter().enumerate() {
                    self.stmt(s2, cx);
                    let exits = matches!(
                        ast.stmt(s2),
                        ast::Stmt::Next
                            | ast::Stmt::Return(_)
                            | ast::Stmt::Break
                            | ast::Stmt::Continue
                    );
                    if exits && !warned && k + 1 < ss.len() {
                        warned = true;
                        let what = match ast.stmt(s2) {
                            ast::Stmt::Next => "next",
                            ast::Stmt::Return(_) => "return",
                            ast::Stmt::Break => "break",
                            _ => "continue",
                        };
                        let sp = ast.sspan(ss[k + 1]).to(ast.sspan(ss[ss.len() - 1]));
                        self.err(
                            Diagnostic::warning(codes::UNREACHABLE, "unreachable code")
                                .with_primary(sp, "never runs")
                                .with_secondary(
                                    ast.sspan(s2),
                                    format!("execution leaves here with `{what}`"),
                                ),
                        );
                    }
                }
            }
            ast::Stmt::Expr(e) => {
                self.expr(*e, cx);
            }
            ast::Stmt::If { cond, then, else_ } => {
                self.cond(*cond, cx);
                self.stmt(*then, cx);
                if let Some(e) = else_ {
                    self.stmt(*e, cx);
                }
            }
            ast::Stmt::While { cond, body } => {
                self.cond(*cond, cx);
                cx.loops += 1;
                self.stmt(*body, cx);
                cx.loops -= 1;
            }
            ast::Stmt::For {
                init,
                cond,
                step,
                body,
            } => {
                if let Some(i) = init {
                    self.expr(*i, cx);
                }
                if let Some(c) = cond {
                    self.cond(*c, cx);
                }
                if let Some(s2) = step {
                    self.expr(*s2, cx);
                }
                cx.loops += 1;
                self.stmt(*body, cx);
                cx.loops -= 1;
            }
            ast::Stmt::Foreach(f) => self.foreach(st, f, cx),
            ast::Stmt::Break | ast::Stmt::Continue => {
                if cx.loops == 0 {
                    let what = if matches!(ast.stmt(st), ast::Stmt::Break) {
                        "break"
                    } else {
                        "continue"
                    };
                    self.err(
                        Diagnostic::error(codes::LOOP_CONTROL, format!("`{what}` outside a loop"))
                            .with_primary(span, "not inside while, for or foreach"),
                    );
                }
            }
            ast::Stmt::Next => {}
            ast::Stmt::Return(e) => match cx.func {
                None => self.err(
                    Diagnostic::error(codes::MISPLACED_EXIT, "`return` outside a function")
                        .with_primary(span, "in a probe handler")
                        .with_help("use `next` to leave a probe handler"),
                ),
                Some(f) => {
                    if let Some(e) = e {
                        let tv = self.expr(*e, cx);
                        let ret = self.funcs[f].ret;
                        let sp = ast.espan(*e);
                        self.unify(ret, tv, sp);
                    }
                }
            },
            ast::Stmt::Delete(e) => self.delete(*e, cx),
            ast::Stmt::Try {
                body,
                catch_var,
                handler,
            } => {
                self.stmt(*body, cx);
                if let Some(v) = catch_var {
                    let id = self.local(&v.name, v.span, cx);
                    let lv = &mut cx.body.locals[id];
                    lv.written = true;
                    lv.read = true;
                    let tv = lv.tv;
                    self.want(tv, TK::Str, v.span);
                    self.catch_vars.insert(st, id);
                }
                self.stmt(*handler, cx);
            }
            ast::Stmt::Empty => {}
            ast::Stmt::EmbeddedC(_) => self.unsupported(span, "embedded C (`%{ … %}`)"),
        }
    }

    fn cond(&mut self, c: ExprId, cx: &mut Ctx) {
        let tv = self.expr(c, cx);
        let sp = self.ast.espan(c);
        self.want(tv, TK::Long, sp);
    }

    fn local(&mut self, name: &str, span: Span, cx: &mut Ctx) -> LocalId {
        if let Some(&id) = cx.body.by_name.get(name) {
            return id;
        }
        let tv = self.ty.fresh();
        let id = cx.body.locals.push(LInfo {
            name: name.to_string(),
            span,
            tv,
            read: false,
            written: false,
        });
        cx.body.by_name.insert(name.to_string(), id);
        id
    }

    /// Declare how a global is used; reports a conflict with its first use.
    fn use_global(&mut self, g: GlobalId, kind: GKind, span: Span) -> bool {
        if kind == GKind::Scalar && self.globals[g].max_entries.is_some() {
            let (name, decl) = (self.globals[g].name.clone(), self.globals[g].span);
            self.err(
                Diagnostic::error(
                    codes::KIND_CONFLICT,
                    format!("`{name}` is declared as an array but used as a scalar"),
                )
                .with_primary(span, "used as a scalar here")
                .with_secondary(decl, "declared with a size here"),
            );
            self.globals[g].max_entries = None;
            return false;
        }
        let gi = &mut self.globals[g];
        match (gi.kind, kind) {
            (GKind::Unknown, _) => {
                gi.kind = kind;
                gi.kind_span = Some(span);
                if let GKind::Array(n) = kind {
                    let keys: Vec<TV> = (0..n).map(|_| self.ty.fresh()).collect();
                    self.globals[g].keys = keys;
                }
                true
            }
            (GKind::Scalar, GKind::Scalar) => true,
            (GKind::Array(a), GKind::Array(b)) if a == b => true,
            (GKind::Array(a), GKind::Array(b)) => {
                let (name, first) = (gi.name.clone(), gi.kind_span);
                let mut d = Diagnostic::error(
                    codes::INDEX_ARITY,
                    format!("array `{name}` is used with {b} index(es) here but {a} elsewhere"),
                )
                .with_primary(span, format!("{b} index(es)"));
                if let Some(f) = first {
                    d = d.with_secondary(f, format!("{a} index(es)"));
                }
                self.err(d);
                false
            }
            (was, _) => {
                let (name, first) = (gi.name.clone(), gi.kind_span);
                let what = |k: GKind| {
                    if matches!(k, GKind::Array(_)) {
                        "an array"
                    } else {
                        "a scalar"
                    }
                };
                let mut d = Diagnostic::error(
                    codes::KIND_CONFLICT,
                    format!("`{name}` is used as {} and as {}", what(was), what(kind)),
                )
                .with_primary(span, format!("used as {} here", what(kind)));
                if let Some(f) = first {
                    d = d.with_secondary(f, format!("used as {} here", what(was)));
                }
                self.err(d);
                false
            }
        }
    }

    /// Resolve a plain name used as a value or assignment target.
    fn var(&mut self, e: ExprId, id: &ast::Ident, write: bool, cx: &mut Ctx) -> TV {
        if let Some(&l) = cx.body.by_name.get(&id.name) {
            let li = &mut cx.body.locals[l];
            if write {
                li.written = true;
            } else {
                li.read = true;
            }
            let tv = li.tv;
            self.set(e, tv, Res::Local(l));
            return tv;
        }
        if let Some(&g) = self.gmap.get(&id.name) {
            self.use_global(g, GKind::Scalar, id.span);
            let gi = &mut self.globals[g];
            if write {
                gi.written = true;
            } else {
                gi.read = true;
            }
            let tv = gi.value;
            self.set(e, tv, Res::Global(g));
            return tv;
        }
        if id.name == "name"
            && !cx.points.is_empty()
            && cx
                .points
                .iter()
                .all(|p| matches!(p, s::PointKind::Syscall { .. }))
        {
            if write {
                self.err(
                    Diagnostic::error(
                        codes::NOT_LVALUE,
                        "`name` cannot be assigned in a syscall probe",
                    )
                    .with_primary(id.span, "it is the system call's name"),
                );
            }
            let tv = self.ty.konst(TK::Str, id.span);
            self.set(e, tv, Res::Builtin(Builtin::Name));
            return tv;
        }
        let l = self.local(&id.name, id.span, cx);
        let li = &mut cx.body.locals[l];
        if write {
            li.written = true;
        } else {
            li.read = true;
        }
        let tv = li.tv;
        self.set(e, tv, Res::Local(l));
        tv
    }

    /// Look up a global array for `arr[…]`, `in`, `foreach`, `delete`.
    fn array(&mut self, id: &ast::Ident, nkeys: usize) -> Option<GlobalId> {
        let Some(&g) = self.gmap.get(&id.name) else {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_VARIABLE,
                format!("unknown array `{}`", id.name),
            )
            .with_primary(id.span, "arrays must be declared with `global`");
            if let Some(c) = closest(&id.name, self.gmap.keys().map(|s| s.as_str())) {
                d = d.with_help(format!("did you mean `{c}`?"));
            } else {
                d = d.with_help(format!("add `global {}` at the top of the script", id.name));
            }
            self.err(d);
            return None;
        };
        if self.use_global(g, GKind::Array(nkeys), id.span) {
            Some(g)
        } else {
            None
        }
    }

    fn keys(&mut self, g: GlobalId, keys: &[ExprId], cx: &mut Ctx) {
        for (k, &key) in keys.iter().enumerate() {
            let tv = self.expr(key, cx);
            if let Some(&ktv) = self.globals[g].keys.get(k) {
                let sp = self.ast.espan(key);
                self.unify(ktv, tv, sp);
                if self.ty.kind_of(tv) == TK::Stats {
                    self.err(
                        Diagnostic::error(
                            codes::STATS_MISUSE,
                            "a statistic cannot be an array index",
                        )
                        .with_primary(sp, "statistic"),
                    );
                }
            }
        }
    }

    fn foreach(&mut self, st: StmtId, f: &ast::Foreach, cx: &mut Ctx) {
        let ast = self.ast;
        if let Some(sl) = &f.slice {
            let sp = sl.first().map_or(f.array.span, |&k| ast.espan(k));
            self.unsupported(sp, "`foreach` over an array slice (`arr[k, *]`)");
        }
        let arr = self.array(&f.array, f.keys.len());
        if let Some(g) = arr {
            self.globals[g].read = true;
        }
        let mut keys = Vec::new();
        let mut sort = None;
        let mut sort_span = None;
        for (k, (key, mark)) in f.keys.iter().enumerate() {
            if let Some(&g) = self.gmap.get(&key.name) {
                self.globals[g].read = true;
                self.globals[g].written = true;
                self.err(
                    Diagnostic::error(
                        codes::KIND_CONFLICT,
                        format!("foreach variable `{}` is a global", key.name),
                    )
                    .with_primary(key.span, "must be a local name"),
                );
            }
            let id = self.local(&key.name, key.span, cx);
            // Loop variables need not be used (no "never used" warning).
            cx.body.locals[id].written = true;
            cx.body.locals[id].read = true;
            if let Some(g) = arr {
                let ktv = self.globals[g].keys[k];
                let ltv = cx.body.locals[id].tv;
                self.unify(ktv, ltv, key.span);
            }
            keys.push(id);
            if let Some(m) = mark {
                if sort.is_some() {
                    self.err(
                        Diagnostic::error(codes::SYNTAX, "foreach can sort by only one column")
                            .with_primary(key.span, "second sort mark")
                            .with_secondary(sort_span.unwrap_or(key.span), "first sort mark"),
                    );
                }
                sort = Some(s::Sort {
                    by: s::SortBy::Key(k),
                    descending: *m == ast::SortDir::Desc,
                });
                sort_span = Some(key.span);
            }
        }
        if let Some(m) = f.array_sort {
            if sort.is_some() {
                self.err(
                    Diagnostic::error(codes::SYNTAX, "foreach can sort by only one column")
                        .with_primary(f.array.span, "second sort mark")
                        .with_secondary(sort_span.unwrap_or(f.array.span), "first sort mark"),
                );
            }
            sort = Some(s::Sort {
                by: s::SortBy::Value,
                descending: m == ast::SortDir::Desc,
            });
        }
        let mut value = None;
        if let Some(v) = &f.value {
            if self.gmap.contains_key(&v.name) {
                self.err(
                    Diagnostic::error(
                        codes::KIND_CONFLICT,
                        format!("foreach variable `{}` is a global", v.name),
                    )
                    .with_primary(v.span, "must be a local name"),
                );
            }
            let id = self.local(&v.name, v.span, cx);
            cx.body.locals[id].written = true;
            cx.body.locals[id].read = true;
            if let Some(g) = arr {
                let vtv = self.globals[g].value;
                let ltv = cx.body.locals[id].tv;
                self.unify(ltv, vtv, v.span);
            }
            value = Some(id);
        }
        if let Some(l) = f.limit {
            let tv = self.expr(l, cx);
            self.want(tv, TK::Long, ast.espan(l));
        }
        cx.loops += 1;
        self.stmt(f.body, cx);
        cx.loops -= 1;
        if let Some(g) = arr {
            self.foreach.insert(
                st,
                ForeachRes {
                    keys,
                    value,
                    array: g,
                    sort,
                },
            );
        }
    }

    fn delete(&mut self, e: ExprId, cx: &mut Ctx) {
        let ast = self.ast;
        let sp = ast.espan(e);
        match ast.expr(e) {
            ast::Expr::Var(id) => {
                if let Some(&l) = cx.body.by_name.get(&id.name) {
                    cx.body.locals[l].written = true;
                    let tv = cx.body.locals[l].tv;
                    self.set(e, tv, Res::Local(l));
                } else if let Some(&g) = self.gmap.get(&id.name) {
                    // Scalar, statistic or whole array: decided once kinds are known.
                    self.globals[g].written = true;
                    let tv = self.globals[g].value;
                    self.set(e, tv, Res::Global(g));
                } else {
                    self.var(e, id, true, cx);
                }
            }
            ast::Expr::Index { array, keys } => {
                if let Some(g) = self.array(array, keys.len()) {
                    self.globals[g].written = true;
                    self.keys(g, keys, cx);
                    let tv = self.globals[g].value;
                    self.set(e, tv, Res::Global(g));
                } else {
                    self.set_error(e);
                }
            }
            _ => {
                self.err(
                    Diagnostic::error(
                        codes::NOT_LVALUE,
                        "`delete` needs a variable, an array or an array element",
                    )
                    .with_primary(sp, "cannot be deleted"),
                );
            }
        }
    }

    fn set_error(&mut self, e: ExprId) {
        let tv = self.ty.fresh();
        self.set(e, tv, Res::Error);
    }

    /// An assignment target; returns its type variable.
    fn lvalue(&mut self, e: ExprId, cx: &mut Ctx, also_read: bool) -> TV {
        let ast = self.ast;
        match ast.expr(e) {
            ast::Expr::Var(id) => {
                let tv = self.var(e, id, true, cx);
                if also_read {
                    match self.eres[e.index()] {
                        Res::Local(l) => cx.body.locals[l].read = true,
                        Res::Global(g) => self.globals[g].read = true,
                        _ => {}
                    }
                }
                tv
            }
            ast::Expr::Index { array, keys } => match self.array(array, keys.len()) {
                Some(g) => {
                    self.globals[g].written = true;
                    if also_read {
                        self.globals[g].read = true;
                    }
                    self.keys(g, keys, cx);
                    let tv = self.globals[g].value;
                    self.set(e, tv, Res::Global(g));
                    tv
                }
                None => {
                    self.set_error(e);
                    self.etv[e.index()].unwrap_or(TV(0))
                }
            },
            ast::Expr::Target(_) => {
                self.unsupported(ast.espan(e), "assigning to target variables");
                self.set_error(e);
                self.etv[e.index()].unwrap_or(TV(0))
            }
            _ => {
                self.err(
                    Diagnostic::error(codes::NOT_LVALUE, "cannot assign to this expression")
                        .with_primary(ast.espan(e), "not a variable or array element"),
                );
                let tv = self.expr(e, cx);
                self.set_error(e);
                tv
            }
        }
    }

    /// A statistic operand: `s` or `arr[k]` whose value is a statistic.
    fn stat(&mut self, e: ExprId, cx: &mut Ctx, write: bool) -> bool {
        let ast = self.ast;
        let sp = ast.espan(e);
        let g = match ast.expr(e) {
            ast::Expr::Var(id) => match self.gmap.get(&id.name).copied() {
                Some(g) if !cx.body.by_name.contains_key(&id.name) => {
                    if !self.use_global(g, GKind::Scalar, id.span) {
                        self.set_error(e);
                        return false;
                    }
                    g
                }
                _ => {
                    self.err(
                        Diagnostic::error(
                            codes::STATS_MISUSE,
                            format!("statistic `{}` must be a global", id.name),
                        )
                        .with_primary(sp, "not a global")
                        .with_help(format!("add `global {}`", id.name)),
                    );
                    self.set_error(e);
                    return false;
                }
            },
            ast::Expr::Index { array, keys } => match self.array(array, keys.len()) {
                Some(g) => {
                    self.keys(g, keys, cx);
                    g
                }
                None => {
                    self.set_error(e);
                    return false;
                }
            },
            _ => {
                self.err(
                    Diagnostic::error(
                        codes::STATS_MISUSE,
                        "expected a statistic (a global or an array element)",
                    )
                    .with_primary(sp, "not a statistic"),
                );
                self.expr(e, cx);
                self.set_error(e);
                return false;
            }
        };
        if write {
            self.globals[g].written = true;
        } else {
            self.globals[g].read = true;
        }
        let v = self.globals[g].value;
        self.set(e, v, Res::Global(g));
        self.want(v, TK::Stats, sp)
    }

    fn expr(&mut self, e: ExprId, cx: &mut Ctx) -> TV {
        let ast = self.ast;
        let sp = ast.espan(e);
        match ast.expr(e) {
            ast::Expr::Number(_) => {
                let tv = self.ty.konst(TK::Long, sp);
                self.set(e, tv, Res::None);
                tv
            }
            ast::Expr::Str(_) => {
                let tv = self.ty.konst(TK::Str, sp);
                self.set(e, tv, Res::None);
                tv
            }
            ast::Expr::Var(id) => self.var(e, id, false, cx),
            ast::Expr::Target(name) => {
                let tv = self.ty.konst(TK::Long, sp);
                if name.starts_with('$') {
                    self.unsupported(sp, "`$$vars`-style context variables");
                    self.set(e, tv, Res::Error);
                } else {
                    let r = self.target(name, sp, cx);
                    self.set(e, tv, r);
                }
                tv
            }
            ast::Expr::ScriptArg { n, as_string } => {
                match points::script_arg(
                    *n,
                    *as_string,
                    &self.opts.script_args,
                    sp,
                    &mut self.diags,
                ) {
                    Some(lit) => {
                        let k = if matches!(lit, s::Literal::Long(_)) {
                            TK::Long
                        } else {
                            TK::Str
                        };
                        let tv = self.ty.konst(k, sp);
                        self.set(e, tv, Res::Literal(lit));
                        tv
                    }
                    None => {
                        self.set_error(e);
                        self.expr_tv(e)
                    }
                }
            }
            ast::Expr::Index { array, keys } => match self.array(array, keys.len()) {
                Some(g) => {
                    self.globals[g].read = true;
                    self.keys(g, keys, cx);
                    let tv = self.globals[g].value;
                    self.set(e, tv, Res::Global(g));
                    tv
                }
                None => {
                    for &k in keys {
                        self.expr(k, cx);
                    }
                    self.set_error(e);
                    self.expr_tv(e)
                }
            },
            ast::Expr::Call { name, args } => self.call(e, name, args, cx),
            ast::Expr::AtCall { name, args } => self.at_call(e, name, args, cx),
            ast::Expr::Unary(op, a) => {
                let ta = self.expr(*a, cx);
                if *op == UnOp::Plus {
                    self.want(ta, TK::Long, ast.espan(*a));
                    self.set(e, ta, Res::None);
                    return ta;
                }
                self.want(ta, TK::Long, ast.espan(*a));
                let tv = self.ty.konst(TK::Long, sp);
                self.set(e, tv, Res::None);
                tv
            }
            ast::Expr::Binary(op, a, b) => {
                let ta = self.expr(*a, cx);
                let tb = self.expr(*b, cx);
                let (sa, sb) = (ast.espan(*a), ast.espan(*b));
                let result = match op {
                    BinOp::Concat => {
                        self.want(ta, TK::Str, sa);
                        self.want(tb, TK::Str, sb);
                        TK::Str
                    }
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        self.unify(ta, tb, sb);
                        if self.ty.kind_of(ta) == TK::Stats {
                            self.want(ta, TK::Long, sa);
                        }
                        TK::Long
                    }
                    _ => {
                        self.want(ta, TK::Long, sa);
                        self.want(tb, TK::Long, sb);
                        TK::Long
                    }
                };
                let tv = self.ty.konst(result, sp);
                self.set(e, tv, Res::None);
                tv
            }
            ast::Expr::Assign(op, target, value) => {
                let tval = self.expr(*value, cx);
                let vsp = ast.espan(*value);
                match op {
                    AssignOp::StatAdd => {
                        self.stat(*target, cx, true);
                        self.want(tval, TK::Long, vsp);
                        let tv = self.ty.konst(TK::Long, sp);
                        self.set(e, tv, Res::None);
                        tv
                    }
                    AssignOp::Assign => {
                        let tt = self.lvalue(*target, cx, false);
                        self.unify(tt, tval, vsp);
                        self.set(e, tt, Res::None);
                        tt
                    }
                    AssignOp::Compound(bop) => {
                        let tt = self.lvalue(*target, cx, true);
                        let k = if *bop == BinOp::Concat {
                            TK::Str
                        } else {
                            TK::Long
                        };
                        self.want(tt, k, ast.espan(*target));
                        self.want(tval, k, vsp);
                        self.set(e, tt, Res::None);
                        tt
                    }
                }
            }
            ast::Expr::IncDec { target, .. } => {
                let tt = self.lvalue(*target, cx, true);
                self.want(tt, TK::Long, ast.espan(*target));
                self.set(e, tt, Res::None);
                tt
            }
            ast::Expr::Ternary(c, a, b) => {
                self.cond(*c, cx);
                let ta = self.expr(*a, cx);
                let tb = self.expr(*b, cx);
                self.unify(ta, tb, ast.espan(*b));
                self.set(e, ta, Res::None);
                ta
            }
            ast::Expr::In { keys, array } => {
                match self.array(array, keys.len()) {
                    Some(g) => {
                        self.globals[g].read = true;
                        self.keys(g, keys, cx);
                        let tv = self.ty.konst(TK::Long, sp);
                        self.set(e, tv, Res::Global(g));
                    }
                    None => {
                        for &k in keys {
                            self.expr(k, cx);
                        }
                        self.set_error(e);
                    }
                }
                self.expr_tv(e)
            }
            ast::Expr::Regex { value, pattern, .. } => {
                self.expr(*value, cx);
                self.expr(*pattern, cx);
                self.unsupported(sp, "regular expression matching (`=~`)");
                self.set_error(e);
                self.expr_tv(e)
            }
            ast::Expr::Subscript { base, index } => {
                self.expr(*index, cx);
                if matches!(
                    ast.expr(*base),
                    ast::Expr::Member { .. } | ast::Expr::AtCall { .. }
                ) {
                    // The member access or cast is what is unsupported.
                    self.expr(*base, cx);
                } else {
                    self.unsupported(sp, "indexing target variables (`$p[i]`)");
                }
                self.set_error(e);
                self.expr_tv(e)
            }
            ast::Expr::AddressOf(_) => {
                self.unsupported(sp, "taking the address of a target variable (`&`)");
                self.set_error(e);
                self.expr_tv(e)
            }
            ast::Expr::EmbeddedC(_) => {
                self.unsupported(sp, "embedded C (`%{ … %}`) in an expression");
                self.set_error(e);
                self.expr_tv(e)
            }
            ast::Expr::Pretty { base, .. } => {
                if matches!(
                    ast.expr(*base),
                    ast::Expr::Member { .. }
                        | ast::Expr::AtCall { .. }
                        | ast::Expr::Subscript { .. }
                ) {
                    self.expr(*base, cx);
                } else {
                    self.unsupported(sp, "pretty-printing target values (`$p$`)");
                }
                self.set_error(e);
                self.expr_tv(e)
            }
            ast::Expr::Wildcard => {
                self.unsupported(sp, "wildcard `*` array indexes");
                self.set_error(e);
                self.expr_tv(e)
            }
            ast::Expr::Member { base, .. } => {
                if matches!(ast.expr(*base), ast::Expr::AtCall { .. }) {
                    // `@cast(…)->f`: the cast is what is unsupported.
                    self.expr(*base, cx);
                } else {
                    self.unsupported(sp, "`->` member access on target variables");
                }
                self.set_error(e);
                self.expr_tv(e)
            }
        }
    }

    fn target(&mut self, name: &str, sp: Span, cx: &mut Ctx) -> Res {
        if cx.func.is_some() {
            self.err(
                Diagnostic::error(codes::TARGET_VAR, format!("`${name}` used in a function"))
                    .with_primary(sp, "target variables exist only in probe handlers")
                    .with_help("pass the value to the function as an argument"),
            );
            return Res::Error;
        }
        if cx.points.is_empty() {
            // The points failed to decode (already reported).
            return Res::Error;
        }
        let mut found: Option<s::TargetAccess> = None;
        for p in cx.points.clone() {
            match points::target_var(&p, name) {
                Ok(a) => {
                    if let Some(prev) = &found {
                        if *prev != a {
                            self.err(
                                Diagnostic::error(
                                    codes::TARGET_VAR,
                                    format!(
                                        "`${name}` means different things in this probe's points"
                                    ),
                                )
                                .with_primary(sp, "ambiguous")
                                .with_help("give each point its own probe handler"),
                            );
                            return Res::Error;
                        }
                    }
                    found = Some(a);
                }
                Err(why) => {
                    self.err(
                        Diagnostic::error(codes::TARGET_VAR, format!("cannot resolve `${name}`"))
                            .with_primary(sp, "unknown target variable")
                            .with_note(why),
                    );
                    return Res::Error;
                }
            }
        }
        match found {
            Some(access) => Res::Target(s::TargetVar {
                name: name.to_string(),
                access,
            }),
            None => Res::Error,
        }
    }

    fn call(&mut self, e: ExprId, name: &ast::Ident, args: &[ExprId], cx: &mut Ctx) -> TV {
        let ast = self.ast;
        let sp = ast.espan(e);
        let arity_err = |sm: &mut Self, want: String, got: usize| {
            sm.err(
                Diagnostic::error(
                    codes::ARITY,
                    format!(
                        "`{}` takes {want} argument(s) but {got} were given",
                        name.name
                    ),
                )
                .with_primary(sp, format!("{got} argument(s)")),
            );
        };
        if let Some(&f) = self.fmap.get(&name.name) {
            self.funcs[f].called = true;
            self.callers[cx.caller].push((f, name.span));
            let params = self.funcs[f].params.clone();
            if params.len() != args.len() {
                arity_err(self, params.len().to_string(), args.len());
            }
            for (k, &a) in args.iter().enumerate() {
                let ta = self.expr(a, cx);
                if let Some(&p) = params.get(k) {
                    self.unify(p, ta, ast.espan(a));
                }
            }
            let ret = self.funcs[f].ret;
            self.set(e, ret, Res::Func(f));
            return ret;
        }
        if let Some((use_, kind)) = format_fn(&name.name) {
            return self.format_call(e, name, use_, kind, args, cx);
        }
        if let Some(sig) = builtin(&name.name) {
            if sig.params.len() != args.len() {
                arity_err(self, sig.params.len().to_string(), args.len());
            }
            for (k, &a) in args.iter().enumerate() {
                let ta = self.expr(a, cx);
                if let Some(&pk) = sig.params.get(k) {
                    self.want(ta, pk, ast.espan(a));
                }
            }
            let tv = self.ty.konst(sig.ret, sp);
            self.set(e, tv, Res::Builtin(sig.b));
            return tv;
        }
        for &a in args {
            self.expr(a, cx);
        }
        let mut d = Diagnostic::error(
            codes::UNKNOWN_FUNCTION,
            format!("unknown function `{}`", name.name),
        )
        .with_primary(name.span, "not a script function or a built-in");
        let cands = self
            .fmap
            .keys()
            .map(|s| s.as_str())
            .chain(BUILTIN_NAMES.iter().copied());
        if let Some(c) = closest(&name.name, cands) {
            d = d.with_help(format!("did you mean `{c}`?"));
        }
        self.err(d);
        self.set_error(e);
        self.expr_tv(e)
    }

    fn format_call(
        &mut self,
        e: ExprId,
        name: &ast::Ident,
        use_: s::FormatUse,
        kind: FmtKind,
        args: &[ExprId],
        cx: &mut Ctx,
    ) -> TV {
        let ast = self.ast;
        let sp = ast.espan(e);
        let ret = if use_ == s::FormatUse::Sprintf {
            TK::Str
        } else {
            TK::Void
        };
        let tv = self.ty.konst(ret, sp);
        // print(@hist_log(s)) / print(@hist_linear(…))
        if let [only] = args {
            if let ast::Expr::AtCall {
                name: at,
                args: hargs,
            } = ast.expr(*only)
            {
                if at == "hist_log" || at == "hist_linear" {
                    if kind != FmtKind::Print || use_ != s::FormatUse::Print {
                        self.err(
                            Diagnostic::error(
                                codes::STATS_MISUSE,
                                format!("@{at} can only be printed with `print`"),
                            )
                            .with_primary(sp, format!("use print(@{at}(…))")),
                        );
                        self.set_error(e);
                        return tv;
                    }
                    self.hist(*only, at, hargs, cx);
                    self.set(e, tv, Res::Hist);
                    return tv;
                }
            }
        }
        match kind {
            FmtKind::Printf | FmtKind::Printd { .. } => {
                let Some((&first, rest)) = args.split_first() else {
                    self.err(
                        Diagnostic::error(
                            codes::ARITY,
                            format!("`{}` needs at least one argument", name.name),
                        )
                        .with_primary(sp, "no arguments"),
                    );
                    self.set_error(e);
                    return tv;
                };
                let fsp = ast.espan(first);
                let ast::Expr::Str(fmt) = ast.expr(first) else {
                    let what = if kind == FmtKind::Printf {
                        "format"
                    } else {
                        "delimiter"
                    };
                    self.err(
                        Diagnostic::error(
                            codes::FORMAT_NOT_LITERAL,
                            format!("the {what} of `{}` must be a string literal", name.name),
                        )
                        .with_primary(fsp, "not a literal"),
                    );
                    for &a in args {
                        self.expr(a, cx);
                    }
                    self.set_error(e);
                    return tv;
                };
                let tf = self.ty.konst(TK::Str, fsp);
                self.set(first, tf, Res::None);
                if kind == FmtKind::Printf {
                    match parse_format(fmt) {
                        Ok(spec) => {
                            if spec.args.len() != rest.len() {
                                self.err(
                                    Diagnostic::error(
                                        codes::BAD_FORMAT,
                                        format!(
                                            "the format needs {} argument(s) but {} were given",
                                            spec.args.len(),
                                            rest.len()
                                        ),
                                    )
                                    .with_primary(sp, format!("{} argument(s)", rest.len()))
                                    .with_secondary(
                                        fsp,
                                        format!("{} conversion argument(s)", spec.args.len()),
                                    ),
                                );
                            }
                            for (k, &a) in rest.iter().enumerate() {
                                let ta = self.expr(a, cx);
                                if let Some(t) = spec.args.get(k) {
                                    let want = if *t == ScalarType::Long {
                                        TK::Long
                                    } else {
                                        TK::Str
                                    };
                                    self.want(ta, want, ast.espan(a));
                                }
                            }
                        }
                        Err(msg) => {
                            self.err(
                                Diagnostic::error(
                                    codes::BAD_FORMAT,
                                    format!("invalid format: {msg}"),
                                )
                                .with_primary(fsp, "in this format")
                                .with_help("conversions: %d %i %u %x %X %o %s %c %p %%"),
                            );
                            for &a in rest {
                                self.expr(a, cx);
                            }
                        }
                    }
                } else {
                    for &a in rest {
                        self.value_arg(a, cx);
                    }
                }
            }
            FmtKind::Print | FmtKind::Println => {
                for &a in args {
                    self.value_arg(a, cx);
                }
            }
        }
        self.set(e, tv, Res::Format { use_, kind });
        tv
    }

    /// An argument of print/println: any long or string.
    fn value_arg(&mut self, a: ExprId, cx: &mut Ctx) {
        let ta = self.expr(a, cx);
        match self.ty.kind_of(ta) {
            TK::Stats => {
                let sp = self.ast.espan(a);
                self.want(ta, TK::Long, sp);
            }
            TK::Void => {
                let sp = self.ast.espan(a);
                self.err(
                    Diagnostic::error(
                        codes::VOID_VALUE,
                        "a function that returns no value is used as a value",
                    )
                    .with_primary(sp, "has no value"),
                );
            }
            _ => {}
        }
    }

    fn hist(&mut self, e: ExprId, at: &str, args: &[ExprId], cx: &mut Ctx) {
        let sp = self.ast.espan(e);
        let want = if at == "hist_log" { 1 } else { 4 };
        if args.len() != want {
            self.err(
                Diagnostic::error(
                    codes::ARITY,
                    format!(
                        "@{at} takes {want} argument(s) but {} were given",
                        args.len()
                    ),
                )
                .with_primary(sp, "wrong number of arguments"),
            );
            self.set_error(e);
            return;
        }
        self.stat(args[0], cx, false);
        let vals: Vec<Option<i64>> = args[1..].iter().map(|&a| self.const_eval(a)).collect();
        if let [Some(start), Some(stop), Some(interval)] = vals[..] {
            if interval <= 0 || stop <= start || (stop - start) / interval > 1000 {
                self.err(
                    Diagnostic::error(codes::BAD_POINT_ARG, "invalid @hist_linear bounds")
                        .with_primary(sp, format!("start {start}, stop {stop}, interval {interval}"))
                        .with_help("the interval must be positive, stop above start, and at most 1000 buckets"),
                );
            }
        }
        let tv = self.ty.konst(TK::Void, sp);
        self.set(e, tv, Res::Hist);
    }

    fn at_call(&mut self, e: ExprId, name: &str, args: &[ExprId], cx: &mut Ctx) -> TV {
        let sp = self.ast.espan(e);
        let agg = match name {
            "count" => Some(s::AggOp::Count),
            "sum" => Some(s::AggOp::Sum),
            "min" => Some(s::AggOp::Min),
            "max" => Some(s::AggOp::Max),
            "avg" => Some(s::AggOp::Avg),
            _ => None,
        };
        if let Some(op) = agg {
            let tv = self.ty.konst(TK::Long, sp);
            if args.len() != 1 {
                self.err(
                    Diagnostic::error(
                        codes::ARITY,
                        format!("@{name} takes 1 argument but {} were given", args.len()),
                    )
                    .with_primary(sp, "expected @{name}(statistic)"),
                );
                self.set_error(e);
                return tv;
            }
            self.stat(args[0], cx, false);
            self.set(e, tv, Res::Agg(op));
            return tv;
        }
        let tv = self.ty.fresh();
        match name {
            "hist_log" | "hist_linear" => self.err(
                Diagnostic::error(codes::STATS_MISUSE, format!("@{name} can only be printed"))
                    .with_primary(sp, format!("use print(@{name}(…))")),
            ),
            "cast" | "entry" | "var" | "defined" | "choose_defined" | "probewrite" | "const"
            | "kregister" | "uregister" => self.unsupported(sp, &format!("`@{name}`")),
            _ => {
                let mut d = Diagnostic::error(
                    codes::UNKNOWN_MACRO,
                    format!("unknown macro or built-in `@{name}`"),
                )
                .with_primary(sp, "not defined");
                let cands = [
                    "count",
                    "sum",
                    "min",
                    "max",
                    "avg",
                    "hist_log",
                    "hist_linear",
                ];
                if let Some(c) = closest(name, cands.iter().copied()) {
                    d = d.with_help(format!("did you mean `@{c}`?"));
                } else {
                    d = d.with_help(format!(
                        "define it with `@define {name} %( … %)` before its use"
                    ));
                }
                self.err(d)
            }
        }
        for &a in args {
            self.expr(a, cx);
        }
        self.set(e, tv, Res::Error);
        tv
    }

    // ----- whole-script checks

    fn check_unused_and_recursion(&mut self, pbodies: &[ProbeBody]) {
        for g in self.globals.values() {
            if !g.read && !g.written && g.kind == GKind::Unknown {
                self.diags.push(
                    Diagnostic::warning(
                        codes::UNUSED_GLOBAL,
                        format!("global `{}` is never used", g.name),
                    )
                    .with_primary(g.span, "declared here"),
                );
            } else if g.read && !g.written && g.init.is_none() {
                self.diags.push(
                    Diagnostic::warning(
                        codes::NEVER_WRITTEN,
                        format!("global `{}` is read but never written", g.name),
                    )
                    .with_primary(g.span, "always 0, \"\" or empty"),
                );
            }
        }
        for f in self.funcs.values() {
            if !f.called {
                self.diags.push(
                    Diagnostic::warning(
                        codes::UNUSED_FUNCTION,
                        format!("function `{}` is never called", f.name),
                    )
                    .with_primary(f.span, "defined here"),
                );
            }
        }
        let rec = self.recursion();
        self.recursive = rec.0.clone();
        // Kernel probes may not reach a recursive function.
        let nfuncs = self.funcs.len();
        for (pi, pb) in pbodies.iter().enumerate() {
            // A plain timer whose handler recurses runs in stapc (the midend
            // lowers it as a userspace program).
            let userspace = |k: &crate::script::PointKind| {
                k.is_userspace()
                    || matches!(k, crate::script::PointKind::Timer { profile: false, .. })
            };
            if pb.points.iter().all(|p| userspace(&p.kind)) {
                continue;
            }
            for &(callee, span) in &self.callers[nfuncs + pi].clone() {
                if let Some(r) = rec.1[callee.index()] {
                    let cycle = self.cycle_text(r, &rec.0);
                    self.diags.push(
                        Diagnostic::error(
                            codes::KERNEL_RECURSION,
                            format!(
                                "a kernel probe cannot call the recursive function `{}`",
                                self.funcs[r].name
                            ),
                        )
                        .with_primary(span, "called here")
                        .with_note(format!("recursion: {cycle}"))
                        .with_help(
                            "recursion is allowed only in begin, end and error probes and in \
                             timer.ms/timer.s… probes (which then run in stapc)",
                        ),
                    );
                }
            }
        }
    }

    fn cycle_text(&self, start: FuncId, recursive: &[bool]) -> String {
        // Follow recursive callees until we come back to `start`.
        let mut names = vec![self.funcs[start].name.clone()];
        let mut cur = start;
        let mut seen = vec![false; self.funcs.len()];
        seen[start.index()] = true;
        for _ in 0..self.funcs.len() {
            let next = self.callers[cur.index()]
                .iter()
                .map(|c| c.0)
                .find(|c| *c == start || (recursive[c.index()] && !seen[c.index()]));
            match next {
                Some(n) if n == start => {
                    names.push(self.funcs[start].name.clone());
                    break;
                }
                Some(n) => {
                    seen[n.index()] = true;
                    names.push(self.funcs[n].name.clone());
                    cur = n;
                }
                None => break,
            }
        }
        names.join(" → ")
    }

    /// Tarjan's SCCs (iterative). Returns per function: recursive?, and the
    /// first recursive function reachable from it (itself included).
    fn recursion(&self) -> (Vec<bool>, Vec<Option<FuncId>>) {
        let n = self.funcs.len();
        let succ: Vec<Vec<usize>> = (0..n)
            .map(|i| self.callers[i].iter().map(|c| c.0.index()).collect())
            .collect();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on = vec![false; n];
        let mut stack = Vec::new();
        let mut comp = vec![usize::MAX; n];
        let mut comps: Vec<Vec<usize>> = Vec::new();
        let mut next = 0;
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on[root] = true;
            while let Some(&mut (v, ref mut i)) = work.last_mut() {
                if *i < succ[v].len() {
                    let w = succ[v][*i];
                    *i += 1;
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on[w] = true;
                        work.push((w, 0));
                    } else if on[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    work.pop();
                    if let Some(&(u, _)) = work.last() {
                        low[u] = low[u].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut c = Vec::new();
                        while let Some(w) = stack.pop() {
                            on[w] = false;
                            comp[w] = comps.len();
                            c.push(w);
                            if w == v {
                                break;
                            }
                        }
                        comps.push(c);
                    }
                }
            }
        }
        let mut recursive = vec![false; n];
        for c in &comps {
            let rec = c.len() > 1 || succ[c[0]].contains(&c[0]);
            for &f in c {
                recursive[f] = rec;
            }
        }
        // Components come out callees-first, so one forward sweep propagates.
        let mut reach: Vec<Option<FuncId>> = vec![None; n];
        let mut comp_reach: Vec<Option<FuncId>> = vec![None; comps.len()];
        for (ci, c) in comps.iter().enumerate() {
            let mut r = c.iter().find(|&&f| recursive[f]).map(|&f| FuncId::new(f));
            if r.is_none() {
                for &f in c {
                    for &w in &succ[f] {
                        if comp[w] != ci {
                            if let Some(x) = comp_reach[comp[w]] {
                                r = Some(x);
                            }
                        }
                    }
                }
            }
            comp_reach[ci] = r;
            for &f in c {
                reach[f] = r;
            }
        }
        (recursive, reach)
    }
}

// ---------------------------------------------------------------- pass 2

fn map_binop(op: BinOp) -> Option<s::BinaryOp> {
    Some(match op {
        BinOp::Add => s::BinaryOp::Add,
        BinOp::Sub => s::BinaryOp::Sub,
        BinOp::Mul => s::BinaryOp::Mul,
        BinOp::Div => s::BinaryOp::Div,
        BinOp::Mod => s::BinaryOp::Mod,
        BinOp::Shl => s::BinaryOp::Shl,
        BinOp::Shr => s::BinaryOp::Shr,
        BinOp::LShr => s::BinaryOp::LShr,
        BinOp::BitAnd => s::BinaryOp::And,
        BinOp::BitOr => s::BinaryOp::Or,
        BinOp::BitXor => s::BinaryOp::Xor,
        _ => return None,
    })
}

impl Sema<'_> {
    fn scalar_of(&mut self, tv: TV) -> ScalarType {
        match self.ty.kind_of(tv) {
            TK::Str => ScalarType::String,
            _ => ScalarType::Long,
        }
    }

    fn type_of(&mut self, e: ExprId) -> Type {
        let Some(tv) = self.etv[e.index()] else {
            return Type::Long;
        };
        match self.ty.kind_of(tv) {
            TK::Str => Type::String,
            TK::Void => Type::Void,
            _ => Type::Long,
        }
    }

    fn locals(&mut self, b: &Body) -> PrimaryMap<LocalId, s::Local> {
        let mut out = PrimaryMap::new();
        for l in b.locals.values() {
            let ty = self.scalar_of(l.tv);
            out.push(s::Local {
                name: l.name.clone(),
                span: l.span,
                ty,
            });
        }
        out
    }

    fn pass2(&mut self, fbodies: Vec<Body>, pbodies: Vec<ProbeBody>) -> s::Script {
        let ast = self.ast;
        let mut script = s::Script::default();
        for g in self.globals.keys().collect::<Vec<_>>() {
            let (value, keys, kind) = (
                self.globals[g].value,
                self.globals[g].keys.clone(),
                self.globals[g].kind,
            );
            let stats = self.ty.kind_of(value) == TK::Stats;
            let ty = match kind {
                GKind::Array(_) => s::GlobalType::Array {
                    keys: keys.iter().map(|&k| self.scalar_of(k)).collect(),
                    value: if stats {
                        None
                    } else {
                        Some(self.scalar_of(value))
                    },
                },
                _ if stats => s::GlobalType::Stats,
                _ => s::GlobalType::Scalar(self.scalar_of(value)),
            };
            let gi = &self.globals[g];
            script.globals.push(s::Global {
                name: gi.name.clone(),
                span: gi.span,
                ty,
                init: gi.init.clone(),
                max_entries: gi.max_entries,
            });
        }
        for (fid, body) in self
            .funcs
            .keys()
            .collect::<Vec<_>>()
            .into_iter()
            .zip(fbodies.iter())
        {
            let Item::Function(decl) = &ast.items[self.funcs[fid].decl] else {
                continue;
            };
            let locals = self.locals(body);
            let params = (0..decl.params.len()).map(LocalId::new).collect();
            let ret = if self.funcs[fid].returns_value {
                let r = self.funcs[fid].ret;
                Some(self.scalar_of(r))
            } else {
                None
            };
            let body_stmt = match &decl.body {
                FunctionBody::Block(b) => self.build_stmt(*b),
                FunctionBody::EmbeddedC(_) => s::Stmt {
                    kind: s::StmtKind::Empty,
                    span: decl.span,
                },
            };
            script.functions.push(s::Function {
                name: self.funcs[fid].name.clone(),
                span: self.funcs[fid].span,
                params,
                ret,
                locals,
                body: body_stmt,
                recursive: self.recursive.get(fid.index()).copied().unwrap_or(false),
            });
        }
        for pb in &pbodies {
            let Item::Probe(p) = &ast.items[pb.item] else {
                continue;
            };
            let locals = self.locals(&pb.ctx);
            let body = self.build_stmt(p.body);
            script.probes.push(s::Probe {
                span: p.span,
                points: pb.points.clone(),
                locals,
                body,
            });
        }
        script
    }

    fn build_stmt(&mut self, st: StmtId) -> s::Stmt {
        let ast = self.ast;
        let span = ast.sspan(st);
        let kind = match ast.stmt(st) {
            ast::Stmt::Block(ss) => {
                s::StmtKind::Block(ss.iter().map(|&x| self.build_stmt(x)).collect())
            }
            ast::Stmt::Expr(e) => s::StmtKind::Expr(self.build(*e)),
            ast::Stmt::If { cond, then, else_ } => s::StmtKind::If {
                cond: self.build(*cond),
                then: Box::new(self.build_stmt(*then)),
                else_: else_.map(|e| Box::new(self.build_stmt(e))),
            },
            ast::Stmt::While { cond, body } => s::StmtKind::While {
                cond: self.build(*cond),
                body: Box::new(self.build_stmt(*body)),
            },
            ast::Stmt::For {
                init,
                cond,
                step,
                body,
            } => s::StmtKind::For {
                init: init.map(|e| self.build(e)),
                cond: cond.map(|e| self.build(e)),
                step: step.map(|e| self.build(e)),
                body: Box::new(self.build_stmt(*body)),
            },
            ast::Stmt::Foreach(f) => match self.foreach.remove(&st) {
                Some(r) => s::StmtKind::Foreach(Box::new(s::Foreach {
                    keys: r.keys,
                    value: r.value,
                    array: r.array,
                    sort: r.sort,
                    limit: f.limit.map(|l| self.build(l)),
                    body: self.build_stmt(f.body),
                })),
                None => s::StmtKind::Empty,
            },
            ast::Stmt::Break => s::StmtKind::Break,
            ast::Stmt::Continue => s::StmtKind::Continue,
            ast::Stmt::Next => s::StmtKind::Next,
            ast::Stmt::Return(e) => s::StmtKind::Return(e.map(|e| self.build(e))),
            ast::Stmt::Delete(e) => {
                let d = match (ast.expr(*e), self.eres[e.index()].clone()) {
                    (ast::Expr::Index { keys, .. }, Res::Global(g)) => s::Delete::Element {
                        array: g,
                        keys: keys.iter().map(|&k| self.build(k)).collect(),
                    },
                    (_, Res::Global(g)) if matches!(self.globals[g].kind, GKind::Array(_)) => {
                        s::Delete::Array(g)
                    }
                    (_, Res::Global(g)) => s::Delete::Var(VarRef::Global(g)),
                    (_, Res::Local(l)) => s::Delete::Var(VarRef::Local(l)),
                    _ => {
                        return s::Stmt {
                            kind: s::StmtKind::Empty,
                            span,
                        }
                    }
                };
                s::StmtKind::Delete(d)
            }
            ast::Stmt::Try { body, handler, .. } => s::StmtKind::Try {
                body: Box::new(self.build_stmt(*body)),
                catch_var: self.catch_vars.get(&st).copied(),
                handler: Box::new(self.build_stmt(*handler)),
            },
            ast::Stmt::Empty | ast::Stmt::EmbeddedC(_) => s::StmtKind::Empty,
        };
        s::Stmt { kind, span }
    }

    fn var_ref(&self, e: ExprId) -> Option<VarRef> {
        match self.eres[e.index()] {
            Res::Local(l) => Some(VarRef::Local(l)),
            Res::Global(g) => Some(VarRef::Global(g)),
            _ => None,
        }
    }

    fn build_lvalue(&mut self, e: ExprId) -> s::LValue {
        match (self.ast.expr(e), self.eres[e.index()].clone()) {
            (ast::Expr::Index { keys, .. }, Res::Global(g)) => s::LValue::Index {
                array: g,
                keys: keys.iter().map(|&k| self.build(k)).collect(),
            },
            _ => s::LValue::Var(self.var_ref(e).unwrap_or(VarRef::Local(LocalId::new(0)))),
        }
    }

    fn build_stat(&mut self, e: ExprId) -> s::StatRef {
        match (self.ast.expr(e), self.eres[e.index()].clone()) {
            (ast::Expr::Index { keys, .. }, Res::Global(g)) => s::StatRef::Index {
                array: g,
                keys: keys.iter().map(|&k| self.build(k)).collect(),
            },
            (_, Res::Global(g)) => s::StatRef::Global(g),
            _ => s::StatRef::Global(GlobalId::new(0)),
        }
    }

    fn build(&mut self, e: ExprId) -> s::Expr {
        let ast = self.ast;
        let span = ast.espan(e);
        let ty = self.type_of(e);
        let mk = |kind| s::Expr { kind, ty, span };
        let kind = match ast.expr(e) {
            ast::Expr::Number(n) => s::ExprKind::Number(*n),
            ast::Expr::Str(st) => s::ExprKind::Str(st.clone()),
            ast::Expr::Var(_) => match self.eres[e.index()] {
                Res::Builtin(b) => s::ExprKind::Builtin {
                    func: b,
                    args: Vec::new(),
                },
                _ => s::ExprKind::Var(self.var_ref(e).unwrap_or(VarRef::Local(LocalId::new(0)))),
            },
            ast::Expr::Target(_) => match &self.eres[e.index()] {
                Res::Target(t) => s::ExprKind::Target(t.clone()),
                _ => s::ExprKind::Number(0),
            },
            ast::Expr::ScriptArg { .. } => match &self.eres[e.index()] {
                Res::Literal(s::Literal::Long(n)) => s::ExprKind::Number(*n),
                Res::Literal(s::Literal::String(st)) => s::ExprKind::Str(st.clone()),
                _ => s::ExprKind::Number(0),
            },
            ast::Expr::Index { keys, .. } => match self.eres[e.index()] {
                Res::Global(g) => s::ExprKind::Index {
                    array: g,
                    keys: keys.iter().map(|&k| self.build(k)).collect(),
                },
                _ => s::ExprKind::Number(0),
            },
            ast::Expr::Call { args, .. } => match self.eres[e.index()].clone() {
                Res::Func(f) => s::ExprKind::Call {
                    func: f,
                    args: args.iter().map(|&a| self.build(a)).collect(),
                },
                Res::Builtin(b) => s::ExprKind::Builtin {
                    func: b,
                    args: args.iter().map(|&a| self.build(a)).collect(),
                },
                Res::Format { use_, kind } => self.build_format(use_, kind, args),
                Res::Hist => self.build_hist(args),
                _ => s::ExprKind::Number(0),
            },
            ast::Expr::AtCall { args, .. } => match self.eres[e.index()] {
                Res::Agg(op) if args.len() == 1 => s::ExprKind::Aggregate {
                    op,
                    stat: self.build_stat(args[0]),
                },
                _ => s::ExprKind::Number(0),
            },
            ast::Expr::Unary(op, a) => {
                let inner = self.build(*a);
                match op {
                    UnOp::Plus => return s::Expr { span, ..inner },
                    UnOp::Neg => s::ExprKind::Unary(s::UnaryOp::Neg, Box::new(inner)),
                    UnOp::Not => s::ExprKind::Unary(s::UnaryOp::Not, Box::new(inner)),
                    UnOp::BitNot => s::ExprKind::Unary(s::UnaryOp::BitNot, Box::new(inner)),
                }
            }
            ast::Expr::Binary(op, a, b) => {
                let (x, y) = (Box::new(self.build(*a)), Box::new(self.build(*b)));
                match op {
                    BinOp::Concat => s::ExprKind::Concat(x, y),
                    BinOp::Eq => s::ExprKind::Compare(s::CmpOp::Eq, x, y),
                    BinOp::Ne => s::ExprKind::Compare(s::CmpOp::Ne, x, y),
                    BinOp::Lt => s::ExprKind::Compare(s::CmpOp::Lt, x, y),
                    BinOp::Le => s::ExprKind::Compare(s::CmpOp::Le, x, y),
                    BinOp::Gt => s::ExprKind::Compare(s::CmpOp::Gt, x, y),
                    BinOp::Ge => s::ExprKind::Compare(s::CmpOp::Ge, x, y),
                    BinOp::And => s::ExprKind::Logical(s::LogicalOp::And, x, y),
                    BinOp::Or => s::ExprKind::Logical(s::LogicalOp::Or, x, y),
                    other => {
                        s::ExprKind::Binary(map_binop(*other).unwrap_or(s::BinaryOp::Add), x, y)
                    }
                }
            }
            ast::Expr::Assign(op, target, value) => {
                let v = Box::new(self.build(*value));
                match op {
                    AssignOp::StatAdd => s::ExprKind::StatAdd {
                        stat: self.build_stat(*target),
                        value: v,
                    },
                    AssignOp::Assign => s::ExprKind::Assign {
                        target: self.build_lvalue(*target),
                        op: None,
                        concat: false,
                        value: v,
                    },
                    AssignOp::Compound(BinOp::Concat) => s::ExprKind::Assign {
                        target: self.build_lvalue(*target),
                        op: None,
                        concat: true,
                        value: v,
                    },
                    AssignOp::Compound(b) => s::ExprKind::Assign {
                        target: self.build_lvalue(*target),
                        op: map_binop(*b),
                        concat: false,
                        value: v,
                    },
                }
            }
            ast::Expr::IncDec {
                target,
                increment,
                prefix,
            } => s::ExprKind::IncDec {
                target: self.build_lvalue(*target),
                increment: *increment,
                prefix: *prefix,
            },
            ast::Expr::Ternary(c, a, b) => s::ExprKind::Ternary(
                Box::new(self.build(*c)),
                Box::new(self.build(*a)),
                Box::new(self.build(*b)),
            ),
            ast::Expr::In { keys, .. } => match self.eres[e.index()] {
                Res::Global(g) => s::ExprKind::In {
                    array: g,
                    keys: keys.iter().map(|&k| self.build(k)).collect(),
                },
                _ => s::ExprKind::Number(0),
            },
            ast::Expr::Regex { .. }
            | ast::Expr::Member { .. }
            | ast::Expr::Subscript { .. }
            | ast::Expr::AddressOf(_)
            | ast::Expr::EmbeddedC(_)
            | ast::Expr::Pretty { .. }
            | ast::Expr::Wildcard => s::ExprKind::Number(0),
        };
        mk(kind)
    }

    fn conv(&mut self, e: ExprId) -> &'static str {
        match self.type_of(e) {
            Type::String => "%s",
            _ => "%d",
        }
    }

    fn build_format(&mut self, use_: s::FormatUse, kind: FmtKind, args: &[ExprId]) -> s::ExprKind {
        let ast = self.ast;
        let (format, rest): (String, &[ExprId]) = match kind {
            FmtKind::Printf => {
                let fmt = match args.first().map(|&a| ast.expr(a)) {
                    Some(ast::Expr::Str(f)) => f.clone(),
                    _ => String::new(),
                };
                let norm = parse_format(&fmt).map(|s| s.normalized).unwrap_or(fmt);
                (norm, args.get(1..).unwrap_or(&[]))
            }
            FmtKind::Print | FmtKind::Println => {
                let mut f: String = args.iter().map(|&a| self.conv(a)).collect();
                if kind == FmtKind::Println {
                    f.push('\n');
                }
                (f, args)
            }
            FmtKind::Printd { newline } => {
                let delim = match args.first().map(|&a| ast.expr(a)) {
                    Some(ast::Expr::Str(d)) => d.replace('%', "%%"),
                    _ => String::new(),
                };
                let rest = args.get(1..).unwrap_or(&[]);
                let convs: Vec<&str> = rest.iter().map(|&a| self.conv(a)).collect();
                let mut f = convs.join(&delim);
                if newline {
                    f.push('\n');
                }
                (f, rest)
            }
        };
        s::ExprKind::Format {
            format,
            args: rest.iter().map(|&a| self.build(a)).collect(),
            use_,
        }
    }

    fn build_hist(&mut self, args: &[ExprId]) -> s::ExprKind {
        let ast = self.ast;
        let Some(&h) = args.first() else {
            return s::ExprKind::Number(0);
        };
        let ast::Expr::AtCall { name, args: hargs } = ast.expr(h) else {
            return s::ExprKind::Number(0);
        };
        let Some(&stat) = hargs.first() else {
            return s::ExprKind::Number(0);
        };
        let kind = if name == "hist_log" {
            s::HistKind::Log
        } else {
            let mut v = [0i64; 3];
            for (k, &a) in hargs.iter().skip(1).take(3).enumerate() {
                v[k] = self.const_value(a).unwrap_or(0);
            }
            s::HistKind::Linear {
                start: v[0],
                stop: v[1],
                interval: v[2],
            }
        };
        s::ExprKind::PrintHist {
            kind,
            stat: self.build_stat(stat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse, SourceMap};

    fn run(src: &str, args: &[&str]) -> (Option<s::Script>, Vec<Diagnostic>) {
        let mut sm = SourceMap::new();
        let f = sm.add("t.stp", src);
        let opts = Options {
            script_args: args.iter().map(|a| a.to_string()).collect(),
            ..Options::default()
        };
        let (ast, d) = parse(&sm, f, &opts);
        assert!(d.is_empty(), "{d:?}");
        resolve(&ast, &opts)
    }

    fn ok(src: &str) -> s::Script {
        let (s, d) = run(src, &[]);
        assert!(!d.iter().any(|d| d.is_error()), "{d:?}");
        s.expect("script")
    }

    fn codes_of(src: &str) -> Vec<String> {
        run(src, &[]).1.into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn tapset_constructs_are_rejected_at_the_construct() {
        let cases = [
            ("probe begin { x = &$p->f }", "address"),
            ("probe begin { x = $p[1] }", "indexing target"),
            ("probe begin { x = %{ 1 %} }", "embedded C"),
            ("probe begin { println(@cast(1, \"t\")->f$) }", "@cast"),
            (
                "global a; probe begin { a[1, 2] = 1; delete a[1, *] }",
                "wildcard",
            ),
            (
                "global a; probe begin { a[1, 2] = 1; foreach ([x, y] in a[1, *]) println(x) }",
                "slice",
            ),
            ("global w%; probe begin { w[1] = 1 }", "wrapping"),
            ("probe begin { println(@const(\"PAGE_SIZE\")) }", "@const"),
        ];
        for (src, what) in cases {
            let (_, d) = run(src, &[]);
            let hit = d.iter().find(|d| d.code == codes::UNSUPPORTED);
            let Some(hit) = hit else {
                panic!("{src}: no unsupported error in {d:?}");
            };
            assert!(
                hit.message.starts_with("not supported by stapc: ") && hit.message.contains(what),
                "{src}: {}",
                hit.message
            );
            assert!(hit.primary_span().is_some(), "{src}: no position");
        }
    }

    #[test]
    fn inference_flows_through_functions_arrays_and_globals() {
        let s = ok("global g, arr\n\
            function f(a, b) { arr[b, a] = g; return a }\n\
            probe begin { g = f(\"x\", 2) . \"y\"; foreach ([k, v] in arr) println(k, v) }");
        assert_eq!(
            s.globals[GlobalId::new(0)].ty,
            s::GlobalType::Scalar(ScalarType::String)
        );
        assert_eq!(
            s.globals[GlobalId::new(1)].ty,
            s::GlobalType::Array {
                keys: vec![ScalarType::Long, ScalarType::String],
                value: Some(ScalarType::String)
            }
        );
        let f = &s.functions[FuncId::new(0)];
        assert_eq!(f.ret, Some(ScalarType::String));
        assert_eq!(f.locals[f.params[1]].ty, ScalarType::Long);
    }

    #[test]
    fn print_becomes_format() {
        let s = ok("probe begin { print(\"a\", 1, \"b\"); println(2); x = sprint(3); printf(\"%5ld|%s\", 1, x) }");
        let s::StmtKind::Block(stmts) = &s.probes[0].body.kind else {
            panic!()
        };
        let fmts: Vec<String> = stmts
            .iter()
            .filter_map(|st| match &st.kind {
                s::StmtKind::Expr(e) => match &e.kind {
                    s::ExprKind::Format { format, .. } => Some(format.clone()),
                    s::ExprKind::Assign { value, .. } => match &value.kind {
                        s::ExprKind::Format {
                            format,
                            use_: s::FormatUse::Sprintf,
                            ..
                        } => Some(format.clone()),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(fmts, vec!["%s%d%s", "%d\n", "%d", "%5d|%s"]);
    }

    #[test]
    fn points_decode() {
        let s = ok("probe timer.ms(100), timer.hz(1000), timer.profile, begin(-2), end, error(3), never, oneshot,\n\
            kernel.trace(\"sched_switch\"), syscall.read.return, kernel.function(\"f\").return,\n\
            process(\"/bin/ls\").function(\"main\"), perf.sw.page_faults, perf.type(0).config(1).sample(7) { }");
        let kinds: Vec<s::PointKind> = s.probes[0].points.iter().map(|p| p.kind.clone()).collect();
        use s::PointKind as P;
        assert_eq!(
            kinds,
            vec![
                P::Timer {
                    period_ns: 100_000_000,
                    profile: false
                },
                P::Timer {
                    period_ns: 1_000_000,
                    profile: false
                },
                P::Timer {
                    period_ns: 4_000_000,
                    profile: true
                },
                P::Begin { priority: -2 },
                P::End { priority: 0 },
                P::Error { priority: 3 },
                P::Never,
                P::Oneshot,
                P::Tracepoint {
                    group: "sched".into(),
                    name: "sched_switch".into()
                },
                P::Syscall {
                    name: "read".into(),
                    ret: true
                },
                P::KernelFunction {
                    function: "f".into(),
                    ret: true
                },
                P::Process {
                    path: "/bin/ls".into(),
                    symbol: "main".into(),
                    ret: false
                },
                P::Perf {
                    type_: 1,
                    config: 2,
                    sample_period: 1_000_000
                },
                P::Perf {
                    type_: 0,
                    config: 1,
                    sample_period: 7
                },
            ]
        );
        assert_eq!(s.probes[0].points[0].text, "timer.ms(100)");
        assert_eq!(s.probes[0].points[8].text, "kernel.trace(\"sched_switch\")");
    }

    #[test]
    fn recursion_is_detected() {
        let s = ok(
            "function a(n) { return n ? b(n - 1) : 0 }\nfunction b(n) { return a(n) }\n\
            function c() { return a(1) }\nprobe begin { println(c()) }",
        );
        let rec: Vec<bool> = s.functions.values().map(|f| f.recursive).collect();
        assert_eq!(rec, vec![true, true, false]);
        let (_, d) = run("function a(n) { return a(n) }\nfunction c() { return a(1) }\nprobe timer.profile { println(c()) }", &[]);
        assert!(d.iter().any(|d| d.code == codes::KERNEL_RECURSION), "{d:?}");
    }

    #[test]
    fn script_arguments_substitute() {
        let (s, d) = run(
            "global g = $1\nprobe timer.ms($1) { printf(\"%s %d\", @2, $1 + $#) }",
            &["0x10", "hi"],
        );
        assert!(d.is_empty(), "{d:?}");
        let s = s.expect("script");
        assert_eq!(s.globals[GlobalId::new(0)].init, Some(s::Literal::Long(16)));
        assert_eq!(
            s.probes[0].points[0].kind,
            s::PointKind::Timer {
                period_ns: 16_000_000,
                profile: false
            }
        );
    }

    #[test]
    fn target_variables_resolve() {
        let s = ok("probe syscall.write { println($count) }");
        let s::StmtKind::Block(b) = &s.probes[0].body.kind else {
            panic!()
        };
        let s::StmtKind::Expr(e) = &b[0].kind else {
            panic!()
        };
        let s::ExprKind::Format { args, .. } = &e.kind else {
            panic!()
        };
        assert!(matches!(
            &args[0].kind,
            s::ExprKind::Target(s::TargetVar {
                access: s::TargetAccess::Field {
                    offset: 32,
                    size: 8,
                    ..
                },
                ..
            })
        ));
    }

    #[test]
    fn errors_and_warnings_have_codes() {
        assert!(codes_of("probe begin { x = 1; x = \"a\" }")
            .contains(&codes::TYPE_MISMATCH.to_string()));
        assert!(codes_of("probe begin { foo() }").contains(&codes::UNKNOWN_FUNCTION.to_string()));
        assert!(codes_of("global a\nprobe begin { a[1] = 1; a[1, 2] = 2 }")
            .contains(&codes::INDEX_ARITY.to_string()));
        assert!(codes_of("global u\nprobe begin { exit() }")
            .contains(&codes::UNUSED_GLOBAL.to_string()));
        assert!(codes_of("probe begin { next; exit() }").contains(&codes::UNREACHABLE.to_string()));
    }

    #[test]
    fn did_you_mean_uses_edit_distance() {
        assert_eq!(
            closest("prinln", ["print", "println", "printf"].into_iter()),
            Some("println")
        );
        assert_eq!(closest("zzzzzz", ["print"].into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn formats_parse() {
        let f = parse_format("%-*.*lld %s %%").expect("valid");
        assert_eq!(f.normalized, "%-*.*d %s %%");
        assert_eq!(
            f.args,
            vec![
                ScalarType::Long,
                ScalarType::Long,
                ScalarType::Long,
                ScalarType::String
            ]
        );
        assert!(parse_format("%").is_err());
        assert!(parse_format("%y").is_err());
    }
}
