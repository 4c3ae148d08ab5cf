//! Recursive-descent parser from the preprocessed token stream to the `Ast`,
//! with SystemTap's grammar and operator levels. Errors are reported and
//! parsing resumes at the next `;`, `}` or top-level keyword, so one run
//! reports several independent errors.

use crate::ast::*;
use crate::codes;
use crate::diag::Diagnostic;
use crate::lexer::{Kw, Op, TokKind, Token};
use crate::span::{FileId, Span};

/// Statements and parenthesised expressions nested deeper than this are
/// rejected, so that no later recursive walk can overflow the stack.
const MAX_NESTING: u32 = 100;
/// Same for operator chains (`1+1+…`), which nest without recursion here.
const MAX_TREE_DEPTH: u32 = 200;

/// Marks that a diagnostic was already reported; the caller recovers.
struct Reported;
type PResult<T> = Result<T, Reported>;

pub fn parse_tokens(toks: Vec<Token>, file: FileId, text_len: u32) -> (Ast, Vec<Diagnostic>) {
    let toks = join_strings(toks);
    let mut p = Parser {
        toks,
        pos: 0,
        ast: Ast {
            file,
            ..Ast::default()
        },
        diags: Vec::new(),
        nesting: 0,
        depth: Vec::new(),
        eof: Span::new(file, text_len, text_len),
        prev_end: 0,
    };
    p.items();
    (p.ast, p.diags)
}

/// Adjacent string literals are one string, as in C (`"a" "b"` is `"ab"`);
/// SystemTap's tapsets rely on it, e.g. `@arch_syscall_prefix "sys_read"`.
fn join_strings(toks: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(toks.len());
    for t in toks {
        if let (
            TokKind::Str(s),
            Some(Token {
                kind: TokKind::Str(prev),
                span,
            }),
        ) = (&t.kind, out.last_mut())
        {
            prev.push_str(s);
            // Tokens from a macro body come from another file; keep the first
            // token's span then.
            if span.file == t.span.file && span.start <= t.span.start {
                *span = span.to(t.span);
            }
            continue;
        }
        out.push(t);
    }
    out
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    ast: Ast,
    diags: Vec<Diagnostic>,
    nesting: u32,
    /// Tree depth of every expression, indexed like `ast.exprs`.
    depth: Vec<u32>,
    eof: Span,
    prev_end: u32,
}

fn describe(t: Option<&Token>) -> String {
    match t {
        Some(t) => t.kind.to_string(),
        None => "end of file".to_string(),
    }
}

impl Parser {
    // ----- token helpers -----

    fn peek(&self) -> Option<&TokKind> {
        self.toks.get(self.pos).map(|t| &t.kind)
    }

    fn peek_at(&self, k: usize) -> Option<&TokKind> {
        self.toks.get(self.pos + k).map(|t| &t.kind)
    }

    fn span(&self) -> Span {
        self.toks.get(self.pos).map_or(self.eof, |t| t.span)
    }

    fn at_op(&self, op: Op) -> bool {
        self.peek() == Some(&TokKind::Op(op))
    }

    fn at_kw(&self, kw: Kw) -> bool {
        self.peek() == Some(&TokKind::Kw(kw))
    }

    /// Consume the current token; its span (no clone: this is the hot path).
    fn bump(&mut self) -> Option<Span> {
        let span = self.toks.get(self.pos).map(|t| t.span);
        if let Some(sp) = span {
            self.prev_end = sp.end;
            self.pos += 1;
        }
        span
    }

    fn eat_op(&mut self, op: Op) -> bool {
        if self.at_op(op) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// The span from `start` to the end of the last consumed token.
    fn since(&self, start: Span) -> Span {
        Span {
            end: self.prev_end.max(start.start),
            ..start
        }
    }

    fn error_expected(&mut self, what: &str) -> Reported {
        let t = self.toks.get(self.pos);
        let d = Diagnostic::error(
            codes::SYNTAX,
            format!("expected {what}, found {}", describe(t)),
        )
        .with_primary(self.span(), format!("expected {what}"));
        self.diags.push(d);
        Reported
    }

    fn expect_op(&mut self, op: Op) -> PResult<Span> {
        if self.at_op(op) {
            Ok(self.bump().unwrap_or(self.eof))
        } else {
            Err(self.error_expected(&format!("`{}`", op.as_str())))
        }
    }

    /// `)` (or `]`) closing the one opened at `open`.
    fn expect_close(&mut self, op: Op, open: Span) -> PResult<Span> {
        if self.at_op(op) {
            return Ok(self.bump().unwrap_or(self.eof));
        }
        let t = self.toks.get(self.pos);
        let d = Diagnostic::error(
            codes::SYNTAX,
            format!("expected `{}`, found {}", op.as_str(), describe(t)),
        )
        .with_primary(self.span(), format!("expected `{}`", op.as_str()))
        .with_secondary(open, "to close this");
        self.diags.push(d);
        Err(Reported)
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        match self.peek() {
            Some(TokKind::Ident(n)) => {
                let name = n.clone();
                let span = self.span();
                self.bump();
                Ok(Ident { name, span })
            }
            _ => Err(self.error_expected(what)),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            self.diags.push(
                Diagnostic::error(codes::TOO_DEEP, "nesting too deep").with_primary(
                    self.span(),
                    format!("more than {MAX_NESTING} levels of nesting"),
                ),
            );
            self.nesting -= 1;
            // Skip everything: recovery inside such input would only cascade.
            self.pos = self.toks.len();
            return Err(Reported);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn mk(&mut self, e: Expr, span: Span, children: &[ExprId]) -> PResult<ExprId> {
        let d = 1 + children
            .iter()
            .map(|c| self.depth.get(c.as_u32() as usize).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let id = self.ast.add_expr(e, span);
        self.depth.push(d);
        if d > MAX_TREE_DEPTH {
            self.diags.push(
                Diagnostic::error(codes::TOO_DEEP, "expression too deeply nested")
                    .with_primary(span, format!("more than {MAX_TREE_DEPTH} nested operators"))
                    .with_help("split the expression using local variables"),
            );
            return Err(Reported);
        }
        Ok(id)
    }

    fn is_top_kw(&self) -> bool {
        matches!(
            self.peek(),
            Some(TokKind::Kw(
                Kw::Probe | Kw::Function | Kw::Global | Kw::Private
            ))
        )
    }

    // ----- declarations -----

    fn items(&mut self) {
        while self.pos < self.toks.len() {
            let start = self.pos;
            if self.item().is_err() {
                self.recover_top(start);
            }
        }
    }

    /// Skip to the next `probe`, `function` or `global`, always making progress.
    fn recover_top(&mut self, start: usize) {
        if self.pos == start {
            self.bump();
        }
        while self.pos < self.toks.len() && !self.is_top_kw() {
            self.bump();
        }
    }

    fn item(&mut self) -> PResult<()> {
        let start = self.span();
        let private = matches!(self.peek(), Some(TokKind::Kw(Kw::Private)));
        if private {
            self.bump();
        }
        match self.peek() {
            Some(TokKind::Kw(Kw::Global)) => self.global(start, private),
            Some(TokKind::Kw(Kw::Function)) => self.function(start, private),
            Some(TokKind::Kw(Kw::Probe)) => self.probe(start, private),
            // `private NAME`: a private global without the `global` keyword.
            Some(TokKind::Ident(_)) if private => self.global_vars(start, true),
            Some(TokKind::EmbeddedC(c)) if !private => {
                let code = c.clone();
                self.bump();
                self.ast.items.push(Item::EmbeddedC { code, span: start });
                Ok(())
            }
            _ => Err(self.error_expected("`probe`, `function` or `global`")),
        }
    }

    fn global(&mut self, start: Span, private: bool) -> PResult<()> {
        self.bump();
        self.global_vars(start, private)
    }

    /// The variables of a `global` declaration, after the keyword.
    fn global_vars(&mut self, start: Span, private: bool) -> PResult<()> {
        let mut vars = Vec::new();
        loop {
            let name = self.ident("a global variable name")?;
            let wrap = self.eat_op(Op::Percent);
            let mut size = None;
            if self.at_op(Op::LBracket) {
                let open = self.bump().unwrap_or(self.eof);
                size = Some(self.expr()?);
                self.expect_close(Op::RBracket, open)?;
            }
            let mut init = None;
            if self.eat_op(Op::Assign) {
                init = Some(self.ternary()?);
            }
            vars.push(GlobalVar {
                name,
                size,
                init,
                wrap,
            });
            if !self.eat_op(Op::Comma) {
                break;
            }
        }
        self.eat_op(Op::Semi);
        let span = self.since(start);
        self.ast.items.push(Item::Global(GlobalDecl {
            private,
            vars,
            span,
        }));
        Ok(())
    }

    fn type_name(&mut self) -> PResult<TypeName> {
        match self.peek() {
            Some(TokKind::Ident(n)) if n == "long" => {
                self.bump();
                Ok(TypeName::Long)
            }
            Some(TokKind::Ident(n)) if n == "string" => {
                self.bump();
                Ok(TypeName::String)
            }
            _ => Err(self.error_expected("a type (`long` or `string`)")),
        }
    }

    fn function(&mut self, start: Span, private: bool) -> PResult<()> {
        self.bump();
        let name = self.ident("a function name")?;
        let ret = if self.eat_op(Op::Colon) {
            Some(self.type_name()?)
        } else {
            None
        };
        let open = self.expect_op(Op::LParen)?;
        let mut params = Vec::new();
        if !self.at_op(Op::RParen) {
            loop {
                let pname = self.ident("a parameter name")?;
                let ty = if self.eat_op(Op::Colon) {
                    Some(self.type_name()?)
                } else {
                    None
                };
                params.push(Param { name: pname, ty });
                if !self.eat_op(Op::Comma) {
                    break;
                }
            }
        }
        self.expect_close(Op::RParen, open)?;
        let body = match self.peek() {
            Some(TokKind::EmbeddedC(c)) => {
                let c = c.clone();
                self.bump();
                FunctionBody::EmbeddedC(c)
            }
            _ => FunctionBody::Block(self.block()?),
        };
        let span = self.since(start);
        self.ast.items.push(Item::Function(FunctionDecl {
            private,
            name,
            ret,
            params,
            body,
            span,
        }));
        Ok(())
    }

    fn probe(&mut self, start: Span, private: bool) -> PResult<()> {
        self.bump();
        let first = self.point()?;
        let mut kind = ProbeKind::Plain;
        let mut points = Vec::new();
        if self.at_op(Op::Assign) || self.at_op(Op::PlusAssign) {
            let append = self.at_op(Op::PlusAssign);
            self.bump();
            kind = if append {
                ProbeKind::AliasAppend(first.components)
            } else {
                ProbeKind::Alias(first.components)
            };
            points.push(self.point()?);
        } else {
            points.push(first);
        }
        while self.eat_op(Op::Comma) {
            points.push(self.point()?);
        }
        let body = self.block()?;
        let mut epilogue = None;
        if !matches!(kind, ProbeKind::Plain)
            && self.at_op(Op::Comma)
            && matches!(self.peek_at(1), Some(TokKind::Op(Op::LBrace)))
        {
            self.bump();
            epilogue = Some(self.block()?);
        }
        let span = self.since(start);
        self.ast.items.push(Item::Probe(ProbeDecl {
            private,
            kind,
            points,
            body,
            epilogue,
            span,
        }));
        Ok(())
    }

    fn point(&mut self) -> PResult<PointSpec> {
        let start = self.span();
        let mut components = vec![self.component()?];
        while self.eat_op(Op::Dot) {
            components.push(self.component()?);
        }
        let mut optional = false;
        let mut sufficient = false;
        loop {
            if self.eat_op(Op::Question) {
                optional = true;
            } else if self.eat_op(Op::Not) {
                sufficient = true;
            } else {
                break;
            }
        }
        let mut condition = None;
        if self.at_kw(Kw::If) {
            self.bump();
            let open = self.expect_op(Op::LParen)?;
            condition = Some(self.expr()?);
            self.expect_close(Op::RParen, open)?;
        }
        Ok(PointSpec {
            components,
            optional,
            sufficient,
            condition,
            span: self.since(start),
        })
    }

    /// A component name is a run of adjacent identifier, keyword, number and
    /// `*` tokens (`syscall.open*`, `kernel.function("f").return`).
    fn component(&mut self) -> PResult<Component> {
        let start = self.span();
        let mut name = String::new();
        loop {
            let adjacent = name.is_empty()
                || self
                    .toks
                    .get(self.pos)
                    .is_some_and(|t| t.span.start == self.prev_end);
            if !adjacent {
                break;
            }
            match self.peek() {
                Some(TokKind::Ident(n)) => name.push_str(&n.clone()),
                Some(TokKind::Kw(k)) => name.push_str(k.as_str()),
                Some(TokKind::Number(n)) => name.push_str(&n.to_string()),
                Some(TokKind::Op(Op::Star)) => name.push('*'),
                _ => break,
            }
            self.bump();
        }
        if name.is_empty() {
            return Err(self.error_expected("a probe point"));
        }
        let mut arg = None;
        if self.at_op(Op::LParen) {
            let open = self.bump().unwrap_or(self.eof);
            let neg = self.eat_op(Op::Minus);
            arg = Some(match self.peek().cloned() {
                Some(TokKind::Number(n)) => {
                    PointArg::Number(if neg { n.wrapping_neg() } else { n })
                }
                Some(TokKind::Str(s)) if !neg => PointArg::Str(s),
                Some(TokKind::Dollar(d)) if !neg && d.parse::<u32>().is_ok() => {
                    PointArg::ScriptArg {
                        n: d.parse().unwrap_or(0),
                        as_string: false,
                    }
                }
                Some(TokKind::At(d)) if !neg && d.parse::<u32>().is_ok() => PointArg::ScriptArg {
                    n: d.parse().unwrap_or(0),
                    as_string: true,
                },
                _ => return Err(self.error_expected("a number or string argument")),
            });
            self.bump();
            self.expect_close(Op::RParen, open)?;
        }
        Ok(Component {
            name,
            arg,
            span: self.since(start),
        })
    }

    // ----- statements -----

    fn block(&mut self) -> PResult<StmtId> {
        let open = self.expect_op(Op::LBrace)?;
        self.enter()?;
        let mut stmts = Vec::new();
        let mut ok = true;
        loop {
            if self.at_op(Op::RBrace) {
                self.bump();
                break;
            }
            if self.pos >= self.toks.len() || self.is_top_kw() {
                self.expect_close(Op::RBrace, open).ok();
                ok = false;
                break;
            }
            let before = self.pos;
            match self.stmt() {
                Ok(s) => stmts.push(s),
                Err(Reported) => {
                    if !self.recover_stmt(before) {
                        ok = false;
                        break;
                    }
                }
            }
        }
        self.leave();
        let span = self.since(open);
        let id = self.ast.add_stmt(Stmt::Block(stmts), span);
        if ok {
            Ok(id)
        } else {
            Err(Reported)
        }
    }

    /// Skip past the broken statement: to after a `;` or before a `}` at
    /// this level. Returns false when a top-level keyword or the end of the
    /// file came first (the enclosing declaration is abandoned).
    fn recover_stmt(&mut self, before: usize) -> bool {
        if self.pos == before && !self.at_op(Op::RBrace) {
            self.bump();
        }
        let mut depth = 0usize;
        while let Some(k) = self.peek() {
            match k {
                TokKind::Kw(Kw::Probe | Kw::Function | Kw::Global) => return false,
                TokKind::Op(Op::LBrace | Op::LParen | Op::LBracket) => depth += 1,
                TokKind::Op(Op::RBrace) if depth == 0 => return true,
                TokKind::Op(Op::RBrace | Op::RParen | Op::RBracket) => {
                    depth = depth.saturating_sub(1)
                }
                TokKind::Op(Op::Semi) if depth == 0 => {
                    self.bump();
                    return true;
                }
                _ => {}
            }
            self.bump();
        }
        false
    }

    fn stmt(&mut self) -> PResult<StmtId> {
        self.enter()?;
        let r = self.stmt_inner();
        self.leave();
        r
    }

    fn stmt_inner(&mut self) -> PResult<StmtId> {
        let start = self.span();
        let kind = match self.peek() {
            Some(TokKind::Op(Op::LBrace)) => return self.block(),
            Some(TokKind::Op(Op::Semi)) => {
                self.bump();
                Stmt::Empty
            }
            Some(TokKind::EmbeddedC(c)) => {
                let c = c.clone();
                self.bump();
                Stmt::EmbeddedC(c)
            }
            Some(TokKind::Kw(kw)) => match kw {
                Kw::If => {
                    self.bump();
                    let open = self.expect_op(Op::LParen)?;
                    let cond = self.expr()?;
                    self.expect_close(Op::RParen, open)?;
                    let then = self.stmt()?;
                    let else_ = if self.at_kw(Kw::Else) {
                        self.bump();
                        Some(self.stmt()?)
                    } else {
                        None
                    };
                    Stmt::If { cond, then, else_ }
                }
                Kw::While => {
                    self.bump();
                    let open = self.expect_op(Op::LParen)?;
                    let cond = self.expr()?;
                    self.expect_close(Op::RParen, open)?;
                    let body = self.stmt()?;
                    Stmt::While { cond, body }
                }
                Kw::For => {
                    self.bump();
                    let open = self.expect_op(Op::LParen)?;
                    let init = if self.at_op(Op::Semi) {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect_op(Op::Semi)?;
                    let cond = if self.at_op(Op::Semi) {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect_op(Op::Semi)?;
                    let step = if self.at_op(Op::RParen) {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.expect_close(Op::RParen, open)?;
                    let body = self.stmt()?;
                    Stmt::For {
                        init,
                        cond,
                        step,
                        body,
                    }
                }
                Kw::Foreach => self.foreach()?,
                Kw::Break => {
                    self.bump();
                    self.eat_op(Op::Semi);
                    Stmt::Break
                }
                Kw::Continue => {
                    self.bump();
                    self.eat_op(Op::Semi);
                    Stmt::Continue
                }
                Kw::Next => {
                    self.bump();
                    self.eat_op(Op::Semi);
                    Stmt::Next
                }
                Kw::Return => {
                    self.bump();
                    let e = if self.at_op(Op::Semi) || self.at_op(Op::RBrace) {
                        None
                    } else {
                        Some(self.expr()?)
                    };
                    self.eat_op(Op::Semi);
                    Stmt::Return(e)
                }
                Kw::Delete => {
                    self.bump();
                    let e = self.postfix()?;
                    self.eat_op(Op::Semi);
                    Stmt::Delete(e)
                }
                Kw::Try => {
                    self.bump();
                    let body = self.block()?;
                    if !self.at_kw(Kw::Catch) {
                        return Err(self.error_expected("`catch`"));
                    }
                    self.bump();
                    let mut catch_var = None;
                    if self.at_op(Op::LParen) {
                        let open = self.bump().unwrap_or(self.eof);
                        catch_var = Some(self.ident("a variable name for the error message")?);
                        self.expect_close(Op::RParen, open)?;
                    }
                    let handler = self.block()?;
                    Stmt::Try {
                        body,
                        catch_var,
                        handler,
                    }
                }
                _ => return Err(self.error_expected("a statement")),
            },
            _ => {
                let e = self.expr()?;
                self.eat_op(Op::Semi);
                Stmt::Expr(e)
            }
        };
        let span = self.since(start);
        Ok(self.ast.add_stmt(kind, span))
    }

    fn sort_mark(&mut self) -> Option<SortDir> {
        if self.eat_op(Op::Plus) {
            Some(SortDir::Asc)
        } else if self.eat_op(Op::Minus) {
            Some(SortDir::Desc)
        } else {
            None
        }
    }

    /// `foreach ([v =] (k | [k1, k2]) in arr[+|-] [limit N]) stmt`, each key
    /// optionally with a sort mark.
    fn foreach(&mut self) -> PResult<Stmt> {
        self.bump();
        let open = self.expect_op(Op::LParen)?;
        let mut value = None;
        if matches!(self.peek(), Some(TokKind::Ident(_)))
            && self.peek_at(1) == Some(&TokKind::Op(Op::Assign))
        {
            value = Some(self.ident("a variable")?);
            self.bump();
        }
        let mut keys = Vec::new();
        if self.at_op(Op::LBracket) {
            let lb = self.bump().unwrap_or(self.eof);
            loop {
                let k = self.ident("a key variable")?;
                let s = self.sort_mark();
                keys.push((k, s));
                if !self.eat_op(Op::Comma) {
                    break;
                }
            }
            self.expect_close(Op::RBracket, lb)?;
        } else {
            let k = self.ident("a key variable or `[`")?;
            let s = self.sort_mark();
            keys.push((k, s));
        }
        if !self.at_kw(Kw::In) {
            return Err(self.error_expected("`in`"));
        }
        self.bump();
        let array = self.ident("an array name")?;
        let mut array_sort = self.sort_mark();
        let mut slice = None;
        if array_sort.is_none() && self.at_op(Op::LBracket) {
            let lb = self.bump().unwrap_or(self.eof);
            let mut sl = Vec::new();
            loop {
                sl.push(self.index_key()?);
                if !self.eat_op(Op::Comma) {
                    break;
                }
            }
            self.expect_close(Op::RBracket, lb)?;
            slice = Some(sl);
            array_sort = self.sort_mark();
        }
        let limit = if self.at_kw(Kw::Limit) {
            self.bump();
            Some(self.expr()?)
        } else {
            None
        };
        self.expect_close(Op::RParen, open)?;
        let body = self.stmt()?;
        Ok(Stmt::Foreach(Foreach {
            value,
            keys,
            array,
            slice,
            array_sort,
            limit,
            body,
        }))
    }

    // ----- expressions -----

    pub fn expr(&mut self) -> PResult<ExprId> {
        self.enter()?;
        let r = self.assignment();
        self.leave();
        r
    }

    fn assignment(&mut self) -> PResult<ExprId> {
        let lhs = self.ternary()?;
        let op = match self.peek() {
            Some(TokKind::Op(o)) => match o {
                Op::Assign => AssignOp::Assign,
                Op::StatAdd => AssignOp::StatAdd,
                Op::PlusAssign => AssignOp::Compound(BinOp::Add),
                Op::MinusAssign => AssignOp::Compound(BinOp::Sub),
                Op::StarAssign => AssignOp::Compound(BinOp::Mul),
                Op::SlashAssign => AssignOp::Compound(BinOp::Div),
                Op::PercentAssign => AssignOp::Compound(BinOp::Mod),
                Op::ShlAssign => AssignOp::Compound(BinOp::Shl),
                Op::ShrAssign => AssignOp::Compound(BinOp::Shr),
                Op::AndAssign => AssignOp::Compound(BinOp::BitAnd),
                Op::OrAssign => AssignOp::Compound(BinOp::BitOr),
                Op::XorAssign => AssignOp::Compound(BinOp::BitXor),
                Op::DotAssign => AssignOp::Compound(BinOp::Concat),
                _ => return Ok(lhs),
            },
            _ => return Ok(lhs),
        };
        self.bump();
        let rhs = self.expr()?;
        let span = self.ast.espan(lhs).to(self.ast.espan(rhs));
        self.mk(Expr::Assign(op, lhs, rhs), span, &[lhs, rhs])
    }

    fn ternary(&mut self) -> PResult<ExprId> {
        let c = self.binary(3)?;
        if !self.at_op(Op::Question) {
            return Ok(c);
        }
        self.bump();
        let a = self.expr()?;
        self.expect_op(Op::Colon)?;
        self.enter()?;
        let b = self.ternary();
        self.leave();
        let b = b?;
        let span = self.ast.espan(c).to(self.ast.espan(b));
        self.mk(Expr::Ternary(c, a, b), span, &[c, a, b])
    }

    fn binop_at(&self, level: u8) -> Option<BinOp> {
        let Some(TokKind::Op(o)) = self.peek() else {
            return None;
        };
        let op = match o {
            Op::OrOr => BinOp::Or,
            Op::AndAnd => BinOp::And,
            Op::Pipe => BinOp::BitOr,
            Op::Caret => BinOp::BitXor,
            Op::Amp => BinOp::BitAnd,
            Op::EqEq => BinOp::Eq,
            Op::NotEq => BinOp::Ne,
            Op::Lt => BinOp::Lt,
            Op::Le => BinOp::Le,
            Op::Gt => BinOp::Gt,
            Op::Ge => BinOp::Ge,
            Op::Shl => BinOp::Shl,
            Op::Shr => BinOp::Shr,
            Op::LShr => BinOp::LShr,
            Op::Dot => BinOp::Concat,
            Op::Plus => BinOp::Add,
            Op::Minus => BinOp::Sub,
            Op::Star => BinOp::Mul,
            Op::Slash => BinOp::Div,
            Op::Percent => BinOp::Mod,
            _ => return None,
        };
        (op.prec() == level).then_some(op)
    }

    /// Precedence climbing over SystemTap's binary levels; level 8 is
    /// `[k] in arr`, and `=~`/`!~` sit with the comparisons.
    fn binary(&mut self, level: u8) -> PResult<ExprId> {
        if level == 8 {
            return self.in_level();
        }
        if level > 13 {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            if level == 9 && (self.at_op(Op::RegexMatch) || self.at_op(Op::RegexNoMatch)) {
                let negated = self.at_op(Op::RegexNoMatch);
                self.bump();
                let rhs = self.binary(level + 1)?;
                let span = self.ast.espan(lhs).to(self.ast.espan(rhs));
                lhs = self.mk(
                    Expr::Regex {
                        value: lhs,
                        pattern: rhs,
                        negated,
                    },
                    span,
                    &[lhs, rhs],
                )?;
                continue;
            }
            let Some(op) = self.binop_at(level) else {
                break;
            };
            self.bump();
            let rhs = self.binary(level + 1)?;
            let span = self.ast.espan(lhs).to(self.ast.espan(rhs));
            lhs = self.mk(Expr::Binary(op, lhs, rhs), span, &[lhs, rhs])?;
        }
        Ok(lhs)
    }

    fn in_level(&mut self) -> PResult<ExprId> {
        let start = self.span();
        let mut lhs = if self.at_op(Op::LBracket) {
            let open = self.bump().unwrap_or(self.eof);
            let mut keys = Vec::new();
            loop {
                keys.push(self.expr()?);
                if !self.eat_op(Op::Comma) {
                    break;
                }
            }
            self.expect_close(Op::RBracket, open)?;
            if !self.at_kw(Kw::In) {
                return Err(self.error_expected("`in` after a `[…]` key list"));
            }
            self.bump();
            let array = self.ident("an array name")?;
            let span = self.since(start);
            let kids = keys.clone();
            self.mk(Expr::In { keys, array }, span, &kids)?
        } else {
            self.binary(9)?
        };
        while self.at_kw(Kw::In) {
            self.bump();
            let array = self.ident("an array name")?;
            let span = self.since(start);
            lhs = self.mk(
                Expr::In {
                    keys: vec![lhs],
                    array,
                },
                span,
                &[lhs],
            )?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<ExprId> {
        let start = self.span();
        let op = match self.peek() {
            Some(TokKind::Op(Op::Minus)) => Some(UnOp::Neg),
            Some(TokKind::Op(Op::Not)) => Some(UnOp::Not),
            Some(TokKind::Op(Op::Tilde)) => Some(UnOp::BitNot),
            Some(TokKind::Op(Op::Plus)) => Some(UnOp::Plus),
            _ => None,
        };
        if self.at_op(Op::Amp) {
            self.bump();
            self.enter()?;
            let a = self.unary();
            self.leave();
            let a = a?;
            let span = self.since(start);
            return self.mk(Expr::AddressOf(a), span, &[a]);
        }
        if let Some(op) = op {
            self.bump();
            self.enter()?;
            let a = self.unary();
            self.leave();
            let a = a?;
            let span = self.since(start);
            return self.mk(Expr::Unary(op, a), span, &[a]);
        }
        if self.at_op(Op::Incr) || self.at_op(Op::Decr) {
            let increment = self.at_op(Op::Incr);
            self.bump();
            self.enter()?;
            let a = self.unary();
            self.leave();
            let a = a?;
            let span = self.since(start);
            return self.mk(
                Expr::IncDec {
                    target: a,
                    increment,
                    prefix: true,
                },
                span,
                &[a],
            );
        }
        self.postfix()
    }

    fn postfix(&mut self) -> PResult<ExprId> {
        let start = self.span();
        let parenthesized = self.at_op(Op::LParen);
        let mut e = self.primary()?;
        loop {
            if self.at_op(Op::Incr) || self.at_op(Op::Decr) {
                let increment = self.at_op(Op::Incr);
                self.bump();
                let span = self.since(start);
                e = self.mk(
                    Expr::IncDec {
                        target: e,
                        increment,
                        prefix: false,
                    },
                    span,
                    &[e],
                )?;
            } else if self.at_op(Op::Arrow) {
                self.bump();
                // C field names may be script keywords (`->next`).
                let field = match self.peek() {
                    Some(TokKind::Ident(n)) => n.clone(),
                    Some(TokKind::Kw(k)) => k.as_str().to_string(),
                    _ => return Err(self.error_expected("a field name after `->`")),
                };
                self.bump();
                let span = self.since(start);
                // `$` continues a name, so `->f$` lexed as the field `f$`:
                // the trailing `$`/`$$` is the pretty-print suffix.
                let bare = field.trim_end_matches('$');
                let suffix = field.len() - bare.len();
                if (1..=2).contains(&suffix) && !bare.is_empty() {
                    let field = bare.to_string();
                    e = self.mk(Expr::Member { base: e, field }, span, &[e])?;
                    let deep = suffix == 2;
                    e = self.mk(Expr::Pretty { base: e, deep }, span, &[e])?;
                } else {
                    e = self.mk(Expr::Member { base: e, field }, span, &[e])?;
                }
            } else if self.at_op(Op::LBracket)
                && (parenthesized
                    || matches!(
                        self.ast.expr(e),
                        Expr::Member { .. }
                            | Expr::Target(_)
                            | Expr::AtCall { .. }
                            | Expr::Subscript { .. }
                    ))
            {
                let open = self.bump().unwrap_or(self.eof);
                let index = self.expr()?;
                self.expect_close(Op::RBracket, open)?;
                let span = self.since(start);
                e = self.mk(Expr::Subscript { base: e, index }, span, &[e, index])?;
            } else if let Some(deep) = self.pretty_suffix(e, parenthesized) {
                self.bump();
                let span = self.since(start);
                e = self.mk(Expr::Pretty { base: e, deep }, span, &[e])?;
            } else {
                return Ok(e);
            }
        }
    }

    /// A `$` or `$$` right after a target value (no space): pretty-print it.
    fn pretty_suffix(&self, e: ExprId, parenthesized: bool) -> Option<bool> {
        let t = self.toks.get(self.pos)?;
        let deep = match &t.kind {
            TokKind::Dollar(d) if d.is_empty() => false,
            TokKind::Dollar(d) if d == "$" => true,
            _ => return None,
        };
        let base_ok = parenthesized
            || matches!(
                self.ast.expr(e),
                Expr::Member { .. }
                    | Expr::Subscript { .. }
                    | Expr::AtCall { .. }
                    | Expr::Target(_)
            );
        (base_ok && t.span.start == self.prev_end).then_some(deep)
    }

    /// An index of `arr[…]`: an expression, or `*` alone (every key).
    fn index_key(&mut self) -> PResult<ExprId> {
        if self.at_op(Op::Star)
            && matches!(self.peek_at(1), Some(TokKind::Op(Op::Comma | Op::RBracket)))
        {
            let sp = self.bump().unwrap_or(self.eof);
            return self.mk(Expr::Wildcard, sp, &[]);
        }
        self.expr()
    }

    fn args(&mut self) -> PResult<Vec<ExprId>> {
        let open = self.expect_op(Op::LParen)?;
        let mut args = Vec::new();
        if !self.at_op(Op::RParen) {
            loop {
                args.push(self.expr()?);
                if !self.eat_op(Op::Comma) {
                    break;
                }
            }
        }
        self.expect_close(Op::RParen, open)?;
        Ok(args)
    }

    fn primary(&mut self) -> PResult<ExprId> {
        let start = self.span();
        let Some(kind) = self.peek().cloned() else {
            return Err(self.error_expected("an expression"));
        };
        match kind {
            TokKind::Number(n) => {
                self.bump();
                self.mk(Expr::Number(n), start, &[])
            }
            TokKind::Str(s) => {
                self.bump();
                self.mk(Expr::Str(s), start, &[])
            }
            TokKind::EmbeddedC(c) => {
                self.bump();
                self.mk(Expr::EmbeddedC(c), start, &[])
            }
            TokKind::Op(Op::LParen) => {
                self.bump();
                let e = self.expr()?;
                self.expect_close(Op::RParen, start)?;
                Ok(e)
            }
            TokKind::Ident(name) => {
                self.bump();
                let id = Ident { name, span: start };
                if self.at_op(Op::LParen) {
                    let args = self.args()?;
                    let span = self.since(start);
                    let kids = args.clone();
                    self.mk(Expr::Call { name: id, args }, span, &kids)
                } else if self.at_op(Op::LBracket) {
                    let open = self.bump().unwrap_or(self.eof);
                    let mut keys = Vec::new();
                    loop {
                        keys.push(self.index_key()?);
                        if !self.eat_op(Op::Comma) {
                            break;
                        }
                    }
                    self.expect_close(Op::RBracket, open)?;
                    let span = self.since(start);
                    let kids = keys.clone();
                    self.mk(Expr::Index { array: id, keys }, span, &kids)
                } else {
                    self.mk(Expr::Var(id), start, &[])
                }
            }
            TokKind::Dollar(d) => {
                self.bump();
                let e = if d == "#" {
                    Expr::ScriptArg {
                        n: u32::MAX,
                        as_string: false,
                    }
                } else if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) {
                    match d.parse::<u32>() {
                        Ok(n) => Expr::ScriptArg {
                            n,
                            as_string: false,
                        },
                        Err(_) => Expr::ScriptArg {
                            n: u32::MAX - 1,
                            as_string: false,
                        },
                    }
                } else {
                    Expr::Target(d)
                };
                self.mk(e, start, &[])
            }
            TokKind::At(a) => {
                self.bump();
                let e = if a == "#" {
                    Expr::ScriptArg {
                        n: u32::MAX,
                        as_string: true,
                    }
                } else if a.bytes().all(|b| b.is_ascii_digit()) {
                    match a.parse::<u32>() {
                        Ok(n) => Expr::ScriptArg { n, as_string: true },
                        Err(_) => Expr::ScriptArg {
                            n: u32::MAX - 1,
                            as_string: true,
                        },
                    }
                } else {
                    let args = self.args()?;
                    let span = self.since(start);
                    let kids = args.clone();
                    return self.mk(Expr::AtCall { name: a, args }, span, &kids);
                };
                self.mk(e, start, &[])
            }
            _ => Err(self.error_expected("an expression")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{dump, Ast};
    use crate::{parse, Diagnostic, Options, SourceMap};

    fn p(src: &str) -> (Ast, Vec<Diagnostic>) {
        let mut sm = SourceMap::new();
        let f = sm.add("t.stp", src);
        parse(&sm, f, &Options::default())
    }

    fn body(src: &str) -> String {
        let (ast, d) = p(&format!("probe begin {{ {src} }}"));
        assert!(d.is_empty(), "{d:?}");
        let s = dump(&ast);
        let start = s.find('{').unwrap_or(0);
        s[start..].trim_end().to_string()
    }

    /// The tree, and that printing it parses back to the same tree.
    fn round(src: &str) -> String {
        let (ast, d) = p(src);
        assert!(d.is_empty(), "{d:?}");
        let printed = crate::print_ast(&ast);
        let (again, d) = p(&printed);
        assert!(d.is_empty(), "{printed}: {d:?}");
        assert_eq!(dump(&again), dump(&ast), "printed as {printed}");
        dump(&ast)
    }

    #[test]
    fn adjacent_strings_are_one_string() {
        assert_eq!(body("x = \"a\" \"b\"  \"c\""), "{(= x \"abc\") })");
        let d = round("probe kernel.function(\"__x64_\" \"sys_read\") {}");
        assert!(d.contains("\"__x64_sys_read\""), "{d}");
    }

    #[test]
    fn target_expressions_from_tapsets() {
        // `&`, subscripts of members/casts/parenthesized values, keyword fields.
        assert_eq!(
            body("s = & @cast(d, \"dentry\")->d_name; r = $regs->regs[2]; n = $p->next"),
            "{(= s (& (-> (@cast [d \"dentry\" ]) d_name))) (= r (subscript (-> $regs regs) 2)) (= n (-> $p next)) })"
        );
        assert_eq!(body("x = &(a)[0]"), "{(= x (& (subscript a 0))) })");
        // `$`/`$$` right after a value pretty-prints it; with a space it is not a suffix.
        assert_eq!(
            body("println($p->f$, @var(\"v\")->g[0]$$)"),
            "{(call println [(pretty false (-> $p f)) (pretty true (subscript (-> (@var [\"v\" ]) g) 0)) ]) })"
        );
        round("probe begin { x = & &$a->b; y = (1 + 2)[3]; z = ($x)$; w = $a->b[1][2]$$ }");
    }

    #[test]
    fn embedded_c_as_a_value() {
        assert_eq!(
            body("return %{ /* pure */ MAXSTRINGLEN %}"),
            "{(return (C \" /* pure */ MAXSTRINGLEN \")) })"
        );
        // At the start of a statement `%{` is an embedded-C statement, so an
        // expression starting with one prints parenthesized.
        round("function f() { (%{ 1 %} + 2); g(%{ X %}) }");
    }

    #[test]
    fn alias_epilogues_wrapping_globals_private_shorthand() {
        let d = round("probe a.b = kernel.function(\"f\") ? { x = 1 }, { y = 2 }");
        assert!(d.contains("epilogue="), "{d}");
        let d = round("global w%, v%[10] private cve_id");
        assert!(
            d.contains("(w wrap)") && d.contains("(v wrap size=10)"),
            "{d}"
        );
        assert!(d.contains("(global private=true (cve_id))"), "{d}");
        // A plain probe takes no epilogue.
        assert!(!p("probe begin { } , { }").1.is_empty());
    }

    #[test]
    fn dollars_inside_names() {
        // As in SystemTap: `$` continues a name, and `$$$$x` is one target.
        assert_eq!(
            body("a$b = $$$$provider; c = $x$ . $$vars$$"),
            "{(= a$b $$$$provider) (= c (. (pretty false $x) (pretty true $$vars))) })"
        );
        round("probe begin { dtv$p$v = 1; x = ($$parms)$; y = $a$$ }");
    }

    #[test]
    fn wildcards_and_slices() {
        assert_eq!(body("delete a[k, *]"), "{(delete (index a [k * ])) })");
        let d = round("probe begin { foreach ([i, c+] in arr [id, *]) x = 1; foreach (k in b[*]- limit 2) y = 1 }");
        assert!(d.contains("slice=[id * ]"), "{d}");
        // `*` is only a whole index, never part of one.
        assert!(!p("probe begin { a[* 2] = 1 }").1.is_empty());
    }

    #[test]
    fn c_precedence_and_associativity() {
        assert_eq!(body("x = 1 + 2 * 3 - 4"), "{(= x (- (+ 1 (* 2 3)) 4)) })");
        // As in SystemTap, equality and relational operators share one level.
        assert_eq!(
            body("a || b && c | d ^ e & f == g < h << i . j + k * l"),
            "{(|| a (&& b (| c (^ d (& e (< (== f g) (<< h (. i (+ j (* k l)))))))))) })"
        );
        assert_eq!(
            body("a = b = c ? d : e ? f : g"),
            "{(= a (= b (? c d (? e f g)))) })"
        );
        assert_eq!(
            body("-x++ + ! ~y"),
            "{(+ (Neg (incdec true false x)) (Not (BitNot y))) })"
        );
        assert_eq!(body("s <<< 1 + 2"), "{(<<< s (+ 1 2)) })");
    }

    #[test]
    fn in_and_membership() {
        assert_eq!(
            body("if ([1, \"a\"] in arr) x = 2 in arr"),
            "{(if (in [1 \"a\" ] arr) (= x (in [2 ] arr))) })"
        );
    }

    #[test]
    fn foreach_forms() {
        assert_eq!(
            body("foreach (v = [a, b-] in arr limit 5) next"),
            "{(foreach Some(\"v\") [aNone bSome(Desc) ] arrNone 5 next) })"
        );
        assert_eq!(
            body("foreach (k in arr+) break"),
            "{(foreach None [kNone ] arrSome(Asc) _ break) })"
        );
    }

    #[test]
    fn probe_points_and_declarations() {
        let (ast, d) = p("global a = 1, b[100], c = \"x\"\n\
             function f:long(x:string, y) { return 1 }\n\
             probe kernel.function(\"vfs_read\").return?, timer.ms(100), begin(-1), syscall.*.return { }\n\
             probe perf.type(1).config(0).sample(1000) { }");
        assert!(d.is_empty(), "{d:?}");
        let s = dump(&ast);
        assert!(
            s.contains("(global private=false (a init=1) (b size=100) (c init=\"x\"))"),
            "{s}"
        );
        assert!(
            s.contains(
                "(function private=false f Some(Long) (x:Some(String) y:None ) {(return 1) })"
            ),
            "{s}"
        );
        assert!(
            s.contains("kernelNone.functionSome(Str(\"vfs_read\")).returnNone. opt=true"),
            "{s}"
        );
        assert!(s.contains("beginSome(Number(-1))."), "{s}");
        assert!(s.contains("syscallNone.*None.returnNone."), "{s}");
    }

    #[test]
    fn recovery_reports_several_errors() {
        let (ast, d) = p("probe begin { x = ; y = 2 }\nprobe end { if ) }\nfunction f( { }\nprobe error { z = 1 }");
        assert_eq!(d.len(), 3, "{d:?}");
        // The healthy probe after the broken ones still parsed.
        assert!(dump(&ast).contains("(= z 1)"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!(
            "probe begin {{ x = {}1{} }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let (_, d) = p(&src);
        assert_eq!(d[0].code, crate::codes::TOO_DEEP);
        let chain = format!("probe begin {{ x = 1{} }}", " + 1".repeat(5000));
        let (_, d) = p(&chain);
        assert_eq!(d[0].code, crate::codes::TOO_DEEP);
        let blocks = format!("probe begin {}{}", "{".repeat(5000), "}".repeat(5000));
        let (_, d) = p(&blocks);
        assert_eq!(d[0].code, crate::codes::TOO_DEEP);
    }
}
