//! The syntax tree as parsed: expressions and statements live in arenas
//! (`PrimaryMap`) with their spans in side tables, declarations in a list in
//! source order. Nothing is resolved or typed yet; that is sema's job.

use crate::span::{FileId, Span};
use cranelift_entity::{entity_impl, PrimaryMap, SecondaryMap};
use std::fmt::Write;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(u32);
entity_impl!(ExprId, "expr");

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StmtId(u32);
entity_impl!(StmtId, "stmt");

/// A name with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Ast {
    pub file: FileId,
    pub exprs: PrimaryMap<ExprId, Expr>,
    pub expr_spans: SecondaryMap<ExprId, Span>,
    pub stmts: PrimaryMap<StmtId, Stmt>,
    pub stmt_spans: SecondaryMap<StmtId, Span>,
    /// Top-level declarations in source order.
    pub items: Vec<Item>,
}

impl Ast {
    pub fn add_expr(&mut self, e: Expr, span: Span) -> ExprId {
        let id = self.exprs.push(e);
        self.expr_spans[id] = span;
        id
    }

    pub fn add_stmt(&mut self, s: Stmt, span: Span) -> StmtId {
        let id = self.stmts.push(s);
        self.stmt_spans[id] = span;
        id
    }

    pub fn expr(&self, id: ExprId) -> &Expr {
        &self.exprs[id]
    }

    pub fn stmt(&self, id: StmtId) -> &Stmt {
        &self.stmts[id]
    }

    pub fn espan(&self, id: ExprId) -> Span {
        self.expr_spans[id]
    }

    pub fn sspan(&self, id: StmtId) -> Span {
        self.stmt_spans[id]
    }
}

#[derive(Clone, Debug)]
pub enum Item {
    Global(GlobalDecl),
    Function(FunctionDecl),
    Probe(ProbeDecl),
    /// `%{ … %}` at top level.
    EmbeddedC {
        code: String,
        span: Span,
    },
}

#[derive(Clone, Debug)]
pub struct GlobalDecl {
    pub private: bool,
    pub vars: Vec<GlobalVar>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct GlobalVar {
    pub name: Ident,
    /// `global arr[N]`.
    pub size: Option<ExprId>,
    pub init: Option<ExprId>,
    /// `global arr%`: when full, a new entry replaces the oldest.
    pub wrap: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeName {
    Long,
    String,
}

impl TypeName {
    pub fn as_str(self) -> &'static str {
        match self {
            TypeName::Long => "long",
            TypeName::String => "string",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    pub ty: Option<TypeName>,
}

#[derive(Clone, Debug)]
pub enum FunctionBody {
    Block(StmtId),
    EmbeddedC(String),
}

#[derive(Clone, Debug)]
pub struct FunctionDecl {
    pub private: bool,
    pub name: Ident,
    pub ret: Option<TypeName>,
    pub params: Vec<Param>,
    pub body: FunctionBody,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// `probe a, b { }`
    Plain,
    /// `probe name = a, b { }`
    Alias(Vec<Component>),
    /// `probe name += a { }`
    AliasAppend(Vec<Component>),
}

#[derive(Clone, Debug)]
pub struct ProbeDecl {
    pub private: bool,
    pub kind: ProbeKind,
    pub points: Vec<PointSpec>,
    pub body: StmtId,
    /// `probe a = b { prologue }, { epilogue }`: an alias's handler that runs
    /// after the user's handler.
    pub epilogue: Option<StmtId>,
    pub span: Span,
}

/// One probe point as written: `kernel.function("f").return?`.
#[derive(Clone, Debug)]
pub struct PointSpec {
    pub components: Vec<Component>,
    /// `?`: optional.
    pub optional: bool,
    /// `!`: sufficient.
    pub sufficient: bool,
    /// `point if (cond)`.
    pub condition: Option<ExprId>,
    pub span: Span,
}

/// `name` or `name(arg)`; `name` may contain `*` wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub arg: Option<PointArg>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointArg {
    Number(i64),
    Str(String),
    /// `$1` / `@1`, substituted by sema.
    ScriptArg {
        n: u32,
        as_string: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
    Plus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Shl,
    Shr,
    LShr,
    BitAnd,
    BitOr,
    BitXor,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::LShr => ">>>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Concat => ".",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    /// Binding strength; higher binds tighter (SystemTap's grammar levels).
    pub fn prec(self) -> u8 {
        match self {
            BinOp::Or => 3,
            BinOp::And => 4,
            BinOp::BitOr => 5,
            BinOp::BitXor => 6,
            BinOp::BitAnd => 7,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 9,
            BinOp::Shl | BinOp::Shr | BinOp::LShr => 10,
            BinOp::Concat => 11,
            BinOp::Add | BinOp::Sub => 12,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 13,
        }
    }
}

/// `=`, `+=`, …, `.=`, and `<<<` (which SystemTap parses as an assignment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Assign,
    Compound(BinOp),
    StatAdd,
}

impl AssignOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignOp::Assign => "=",
            AssignOp::StatAdd => "<<<",
            AssignOp::Compound(op) => match op {
                BinOp::Add => "+=",
                BinOp::Sub => "-=",
                BinOp::Mul => "*=",
                BinOp::Div => "/=",
                BinOp::Mod => "%=",
                BinOp::Shl => "<<=",
                BinOp::Shr => ">>=",
                BinOp::BitAnd => "&=",
                BinOp::BitOr => "|=",
                BinOp::BitXor => "^=",
                BinOp::Concat => ".=",
                _ => "?=",
            },
        }
    }
}

#[derive(Clone, Debug)]
pub enum Expr {
    Number(i64),
    Str(String),
    Var(Ident),
    /// `$name`, `$$vars` (text after the first `$`).
    Target(String),
    /// `$1` (number) / `@1` (string); `$#`/`@#` have `n == u32::MAX`.
    ScriptArg {
        n: u32,
        as_string: bool,
    },
    /// `arr[k1, k2]`.
    Index {
        array: Ident,
        keys: Vec<ExprId>,
    },
    /// `f(args)`.
    Call {
        name: Ident,
        args: Vec<ExprId>,
    },
    /// `@count(s)`, `@hist_log(s)`, `@cast(…)`, `@entry(…)`, `@var("x")`,
    /// `@defined(…)`: name without `@`.
    AtCall {
        name: String,
        args: Vec<ExprId>,
    },
    Unary(UnOp, ExprId),
    Binary(BinOp, ExprId, ExprId),
    Assign(AssignOp, ExprId, ExprId),
    /// `++x`/`--x` (`prefix`) or `x++`/`x--`.
    IncDec {
        target: ExprId,
        increment: bool,
        prefix: bool,
    },
    Ternary(ExprId, ExprId, ExprId),
    /// `[k1, k2] in arr` (a single key may be written without brackets).
    In {
        keys: Vec<ExprId>,
        array: Ident,
    },
    /// `s =~ "re"` / `s !~ "re"`.
    Regex {
        value: ExprId,
        pattern: ExprId,
        negated: bool,
    },
    /// `$ptr->field`.
    Member {
        base: ExprId,
        field: String,
    },
    /// `$ptr->arr[2]`, `$argv[1]`: indexing a target (C) value, not a
    /// script array.
    Subscript {
        base: ExprId,
        index: ExprId,
    },
    /// `&$ptr->field`: the address of a target (C) value.
    AddressOf(ExprId),
    /// `%{ C %}` used as a value (`return %{ MAXSTRINGLEN %}`).
    EmbeddedC(String),
    /// `$p$` / `$p$$` (`deep`): a target value pretty-printed as a string.
    Pretty {
        base: ExprId,
        deep: bool,
    },
    /// `*` as an array index: every key in that position (`delete a[k, *]`).
    Wildcard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

impl SortDir {
    pub fn as_str(self) -> &'static str {
        match self {
            SortDir::Asc => "+",
            SortDir::Desc => "-",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Foreach {
    /// `foreach (v = [k] in arr)`.
    pub value: Option<Ident>,
    /// Key variables with their optional sort marks `k+`/`k-`.
    pub keys: Vec<(Ident, Option<SortDir>)>,
    pub array: Ident,
    /// `foreach ([a, b] in arr[x, *])`: only the entries whose keys match
    /// (`*` matches any key).
    pub slice: Option<Vec<ExprId>>,
    /// `arr+`/`arr-`: sort by value.
    pub array_sort: Option<SortDir>,
    pub limit: Option<ExprId>,
    pub body: StmtId,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Block(Vec<StmtId>),
    Expr(ExprId),
    If {
        cond: ExprId,
        then: StmtId,
        else_: Option<StmtId>,
    },
    While {
        cond: ExprId,
        body: StmtId,
    },
    For {
        init: Option<ExprId>,
        cond: Option<ExprId>,
        step: Option<ExprId>,
        body: StmtId,
    },
    Foreach(Foreach),
    Break,
    Continue,
    Next,
    Return(Option<ExprId>),
    /// `delete x`, `delete arr[k]`, `delete arr`.
    Delete(ExprId),
    Try {
        body: StmtId,
        catch_var: Option<Ident>,
        handler: StmtId,
    },
    Empty,
    EmbeddedC(String),
}

/// A span-free, arena-id-free rendering of the tree, for comparing two ASTs
/// structurally (the round-trip property tests).
pub fn dump(ast: &Ast) -> String {
    let mut d = Dumper {
        ast,
        out: String::new(),
    };
    for item in &ast.items {
        d.item(item);
        d.out.push('\n');
    }
    d.out
}

struct Dumper<'a> {
    ast: &'a Ast,
    out: String,
}

impl Dumper<'_> {
    fn item(&mut self, item: &Item) {
        match item {
            Item::Global(g) => {
                let _ = write!(self.out, "(global private={}", g.private);
                for v in &g.vars {
                    let _ = write!(self.out, " ({}", v.name.name);
                    if v.wrap {
                        self.out.push_str(" wrap");
                    }
                    if let Some(s) = v.size {
                        self.out.push_str(" size=");
                        self.expr(s);
                    }
                    if let Some(i) = v.init {
                        self.out.push_str(" init=");
                        self.expr(i);
                    }
                    self.out.push(')');
                }
                self.out.push(')');
            }
            Item::Function(f) => {
                let _ = write!(
                    self.out,
                    "(function private={} {} {:?} (",
                    f.private, f.name.name, f.ret
                );
                for p in &f.params {
                    let _ = write!(self.out, "{}:{:?} ", p.name.name, p.ty);
                }
                self.out.push_str(") ");
                match &f.body {
                    FunctionBody::Block(s) => self.stmt(*s),
                    FunctionBody::EmbeddedC(c) => {
                        let _ = write!(self.out, "(C {c:?})");
                    }
                }
                self.out.push(')');
            }
            Item::Probe(p) => {
                let _ = write!(
                    self.out,
                    "(probe private={} {:?} (",
                    p.private,
                    strip_kind(&p.kind)
                );
                for pt in &p.points {
                    self.out.push('(');
                    for c in &pt.components {
                        let _ = write!(self.out, "{}{:?}.", c.name, c.arg);
                    }
                    let _ = write!(self.out, " opt={} suff={}", pt.optional, pt.sufficient);
                    if let Some(c) = pt.condition {
                        self.out.push_str(" if=");
                        self.expr(c);
                    }
                    self.out.push(')');
                }
                self.out.push_str(") ");
                self.stmt(p.body);
                if let Some(e) = p.epilogue {
                    self.out.push_str(" epilogue=");
                    self.stmt(e);
                }
                self.out.push(')');
            }
            Item::EmbeddedC { code, .. } => {
                let _ = write!(self.out, "(C {code:?})");
            }
        }
    }

    fn opt_expr(&mut self, e: Option<ExprId>) {
        match e {
            Some(e) => self.expr(e),
            None => self.out.push('_'),
        }
    }

    fn exprs(&mut self, es: &[ExprId]) {
        self.out.push('[');
        for &e in es {
            self.expr(e);
            self.out.push(' ');
        }
        self.out.push(']');
    }

    fn stmt(&mut self, s: StmtId) {
        match self.ast.stmt(s) {
            Stmt::Block(ss) => {
                self.out.push('{');
                for &s in ss {
                    self.stmt(s);
                    self.out.push(' ');
                }
                self.out.push('}');
            }
            Stmt::Expr(e) => self.expr(*e),
            Stmt::If { cond, then, else_ } => {
                self.out.push_str("(if ");
                self.expr(*cond);
                self.out.push(' ');
                self.stmt(*then);
                if let Some(e) = else_ {
                    self.out.push_str(" else ");
                    self.stmt(*e);
                }
                self.out.push(')');
            }
            Stmt::While { cond, body } => {
                self.out.push_str("(while ");
                self.expr(*cond);
                self.out.push(' ');
                self.stmt(*body);
                self.out.push(')');
            }
            Stmt::For {
                init,
                cond,
                step,
                body,
            } => {
                self.out.push_str("(for ");
                self.opt_expr(*init);
                self.out.push(' ');
                self.opt_expr(*cond);
                self.out.push(' ');
                self.opt_expr(*step);
                self.out.push(' ');
                self.stmt(*body);
                self.out.push(')');
            }
            Stmt::Foreach(f) => {
                let _ = write!(
                    self.out,
                    "(foreach {:?} [",
                    f.value.as_ref().map(|v| &v.name)
                );
                for (k, s) in &f.keys {
                    let _ = write!(self.out, "{}{:?} ", k.name, s);
                }
                let _ = write!(self.out, "] {}{:?} ", f.array.name, f.array_sort);
                if let Some(sl) = &f.slice {
                    self.out.push_str("slice=");
                    self.exprs(sl);
                    self.out.push(' ');
                }
                self.opt_expr(f.limit);
                self.out.push(' ');
                self.stmt(f.body);
                self.out.push(')');
            }
            Stmt::Break => self.out.push_str("break"),
            Stmt::Continue => self.out.push_str("continue"),
            Stmt::Next => self.out.push_str("next"),
            Stmt::Return(e) => {
                self.out.push_str("(return ");
                self.opt_expr(*e);
                self.out.push(')');
            }
            Stmt::Delete(e) => {
                self.out.push_str("(delete ");
                self.expr(*e);
                self.out.push(')');
            }
            Stmt::Try {
                body,
                catch_var,
                handler,
            } => {
                self.out.push_str("(try ");
                self.stmt(*body);
                let _ = write!(
                    self.out,
                    " catch {:?} ",
                    catch_var.as_ref().map(|v| &v.name)
                );
                self.stmt(*handler);
                self.out.push(')');
            }
            Stmt::Empty => self.out.push(';'),
            Stmt::EmbeddedC(c) => {
                let _ = write!(self.out, "(C {c:?})");
            }
        }
    }

    fn expr(&mut self, e: ExprId) {
        match self.ast.expr(e) {
            Expr::Number(n) => {
                let _ = write!(self.out, "{n}");
            }
            Expr::Str(s) => {
                let _ = write!(self.out, "{s:?}");
            }
            Expr::Var(v) => self.out.push_str(&v.name),
            Expr::Target(t) => {
                let _ = write!(self.out, "${t}");
            }
            Expr::ScriptArg { n, as_string } => {
                let _ = write!(self.out, "(arg {n} {as_string})");
            }
            Expr::Index { array, keys } => {
                let _ = write!(self.out, "(index {} ", array.name);
                self.exprs(keys);
                self.out.push(')');
            }
            Expr::Call { name, args } => {
                let _ = write!(self.out, "(call {} ", name.name);
                self.exprs(args);
                self.out.push(')');
            }
            Expr::AtCall { name, args } => {
                let _ = write!(self.out, "(@{name} ");
                self.exprs(args);
                self.out.push(')');
            }
            Expr::Unary(op, a) => {
                let _ = write!(self.out, "({op:?} ");
                self.expr(*a);
                self.out.push(')');
            }
            Expr::Binary(op, a, b) => {
                let _ = write!(self.out, "({} ", op.as_str());
                self.expr(*a);
                self.out.push(' ');
                self.expr(*b);
                self.out.push(')');
            }
            Expr::Assign(op, a, b) => {
                let _ = write!(self.out, "({} ", op.as_str());
                self.expr(*a);
                self.out.push(' ');
                self.expr(*b);
                self.out.push(')');
            }
            Expr::IncDec {
                target,
                increment,
                prefix,
            } => {
                let _ = write!(self.out, "(incdec {increment} {prefix} ");
                self.expr(*target);
                self.out.push(')');
            }
            Expr::Ternary(c, a, b) => {
                self.out.push_str("(? ");
                self.expr(*c);
                self.out.push(' ');
                self.expr(*a);
                self.out.push(' ');
                self.expr(*b);
                self.out.push(')');
            }
            Expr::In { keys, array } => {
                self.out.push_str("(in ");
                self.exprs(keys);
                let _ = write!(self.out, " {})", array.name);
            }
            Expr::Regex {
                value,
                pattern,
                negated,
            } => {
                let _ = write!(self.out, "(regex {negated} ");
                self.expr(*value);
                self.out.push(' ');
                self.expr(*pattern);
                self.out.push(')');
            }
            Expr::Member { base, field } => {
                self.out.push_str("(-> ");
                self.expr(*base);
                let _ = write!(self.out, " {field})");
            }
            Expr::Subscript { base, index } => {
                self.out.push_str("(subscript ");
                self.expr(*base);
                self.out.push(' ');
                self.expr(*index);
                self.out.push(')');
            }
            Expr::AddressOf(a) => {
                self.out.push_str("(& ");
                self.expr(*a);
                self.out.push(')');
            }
            Expr::EmbeddedC(c) => {
                let _ = write!(self.out, "(C {c:?})");
            }
            Expr::Pretty { base, deep } => {
                let _ = write!(self.out, "(pretty {deep} ");
                self.expr(*base);
                self.out.push(')');
            }
            Expr::Wildcard => self.out.push('*'),
        }
    }
}

fn strip_kind(k: &ProbeKind) -> String {
    let comps = |cs: &[Component]| {
        cs.iter()
            .map(|c| format!("{}{:?}", c.name, c.arg))
            .collect::<Vec<_>>()
            .join(".")
    };
    match k {
        ProbeKind::Plain => "plain".into(),
        ProbeKind::Alias(c) => format!("alias {}", comps(c)),
        ProbeKind::AliasAppend(c) => format!("alias+= {}", comps(c)),
    }
}
