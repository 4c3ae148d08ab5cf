//! Test support: build resolved `Script` trees by hand, with spans taken
//! from a real source text so locations (`x.stp:3:10`) come out right.
//! Compiled for this crate's tests and, with the `testing` feature, for
//! other crates' tests. Panics on misuse: it is test code.

use stapc_frontend::script::*;
use stapc_frontend::{FileId, SourceMap, Span};

pub struct ScriptBuilder {
    pub sm: SourceMap,
    pub file: FileId,
    pub script: Script,
}

impl ScriptBuilder {
    pub fn new(name: &str, text: &str) -> ScriptBuilder {
        let mut sm = SourceMap::new();
        let file = sm.add(name, text);
        ScriptBuilder {
            sm,
            file,
            script: Script::default(),
        }
    }

    /// The span of the first occurrence of `needle` in the text.
    pub fn span(&self, needle: &str) -> Span {
        self.span_nth(needle, 0)
    }

    /// The span of occurrence `n` (0-based) of `needle`.
    pub fn span_nth(&self, needle: &str, n: usize) -> Span {
        let text = &self.sm.file(self.file).text;
        let (start, _) = text
            .match_indices(needle)
            .nth(n)
            .unwrap_or_else(|| panic!("{needle:?} (occurrence {n}) not in the test script"));
        Span::new(self.file, start as u32, (start + needle.len()) as u32)
    }

    pub fn global(&mut self, name: &str, ty: ScalarType, init: Option<Literal>) -> GlobalId {
        let span = self.span(name);
        self.script.globals.push(Global {
            name: name.into(),
            span,
            ty: GlobalType::Scalar(ty),
            init,
            max_entries: None,
        })
    }

    pub fn global_of(&mut self, name: &str, ty: GlobalType) -> GlobalId {
        let span = self.span(name);
        self.script.globals.push(Global {
            name: name.into(),
            span,
            ty,
            init: None,
            max_entries: None,
        })
    }

    /// Add a probe; its span is the whole text matched by `whole`.
    pub fn probe(
        &mut self,
        whole: &str,
        points: Vec<ProbePoint>,
        locals: &[(&str, ScalarType)],
        body: Stmt,
    ) {
        let span = self.span(whole);
        let mut map = cranelift_entity::PrimaryMap::new();
        for (name, ty) in locals {
            let lspan = self.sm.file(self.file).text.find(name).map_or(span, |s| {
                Span::new(self.file, s as u32, (s + name.len()) as u32)
            });
            map.push(Local {
                name: (*name).into(),
                span: lspan,
                ty: *ty,
            });
        }
        self.script.probes.push(Probe {
            span,
            points,
            locals: map,
            body,
        });
    }

    pub fn point(&self, text: &str, kind: PointKind) -> ProbePoint {
        ProbePoint {
            span: self.span(text),
            text: text.into(),
            kind,
        }
    }
}

/// The `n`th local of a probe (locals are numbered in the order given).
pub fn local(n: u32) -> LocalId {
    cranelift_entity::EntityRef::new(n as usize)
}

pub fn expr(kind: ExprKind, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}
pub fn num(n: i64, span: Span) -> Expr {
    expr(ExprKind::Number(n), Type::Long, span)
}
pub fn string(s: &str, span: Span) -> Expr {
    expr(ExprKind::Str(s.into()), Type::String, span)
}
pub fn lvar(id: LocalId, span: Span) -> Expr {
    expr(ExprKind::Var(VarRef::Local(id)), Type::Long, span)
}
pub fn svar(id: LocalId, span: Span) -> Expr {
    expr(ExprKind::Var(VarRef::Local(id)), Type::String, span)
}
pub fn gvar(id: GlobalId, ty: Type, span: Span) -> Expr {
    expr(ExprKind::Var(VarRef::Global(id)), ty, span)
}
pub fn bin(op: BinaryOp, a: Expr, b: Expr) -> Expr {
    let span = a.span.to(b.span);
    expr(
        ExprKind::Binary(op, Box::new(a), Box::new(b)),
        Type::Long,
        span,
    )
}
pub fn cmp(op: CmpOp, a: Expr, b: Expr) -> Expr {
    let span = a.span.to(b.span);
    expr(
        ExprKind::Compare(op, Box::new(a), Box::new(b)),
        Type::Long,
        span,
    )
}
pub fn logical(op: LogicalOp, a: Expr, b: Expr) -> Expr {
    let span = a.span.to(b.span);
    expr(
        ExprKind::Logical(op, Box::new(a), Box::new(b)),
        Type::Long,
        span,
    )
}
pub fn unary(op: UnaryOp, a: Expr, span: Span) -> Expr {
    expr(ExprKind::Unary(op, Box::new(a)), Type::Long, span)
}
pub fn concat(a: Expr, b: Expr) -> Expr {
    let span = a.span.to(b.span);
    expr(
        ExprKind::Concat(Box::new(a), Box::new(b)),
        Type::String,
        span,
    )
}
pub fn ternary(c: Expr, a: Expr, b: Expr) -> Expr {
    let span = c.span.to(b.span);
    let ty = a.ty;
    expr(
        ExprKind::Ternary(Box::new(c), Box::new(a), Box::new(b)),
        ty,
        span,
    )
}
pub fn assign(target: VarRef, op: Option<BinaryOp>, value: Expr, span: Span) -> Expr {
    let ty = value.ty;
    expr(
        ExprKind::Assign {
            target: LValue::Var(target),
            op,
            concat: false,
            value: Box::new(value),
        },
        ty,
        span,
    )
}
pub fn assign_concat(target: VarRef, value: Expr, span: Span) -> Expr {
    expr(
        ExprKind::Assign {
            target: LValue::Var(target),
            op: None,
            concat: true,
            value: Box::new(value),
        },
        Type::String,
        span,
    )
}
pub fn incdec(target: VarRef, increment: bool, prefix: bool, span: Span) -> Expr {
    expr(
        ExprKind::IncDec {
            target: LValue::Var(target),
            increment,
            prefix,
        },
        Type::Long,
        span,
    )
}
pub fn builtin(func: Builtin, args: Vec<Expr>, ty: Type, span: Span) -> Expr {
    expr(ExprKind::Builtin { func, args }, ty, span)
}
pub fn printf(format: &str, args: Vec<Expr>, span: Span) -> Expr {
    expr(
        ExprKind::Format {
            format: format.into(),
            args,
            use_: FormatUse::Print,
        },
        Type::Void,
        span,
    )
}

pub fn stmt(kind: StmtKind, span: Span) -> Stmt {
    Stmt { kind, span }
}
pub fn expr_stmt(e: Expr) -> Stmt {
    let span = e.span;
    stmt(StmtKind::Expr(e), span)
}
pub fn block(stmts: Vec<Stmt>, span: Span) -> Stmt {
    stmt(StmtKind::Block(stmts), span)
}
pub fn if_(cond: Expr, then: Stmt, else_: Option<Stmt>, span: Span) -> Stmt {
    stmt(
        StmtKind::If {
            cond,
            then: Box::new(then),
            else_: else_.map(Box::new),
        },
        span,
    )
}
pub fn while_(cond: Expr, body: Stmt, span: Span) -> Stmt {
    stmt(
        StmtKind::While {
            cond,
            body: Box::new(body),
        },
        span,
    )
}
pub fn for_(
    init: Option<Expr>,
    cond: Option<Expr>,
    step: Option<Expr>,
    body: Stmt,
    span: Span,
) -> Stmt {
    stmt(
        StmtKind::For {
            init,
            cond,
            step,
            body: Box::new(body),
        },
        span,
    )
}
