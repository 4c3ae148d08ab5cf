//! The preprocessor, on the token stream: `@define` macros (with `@param`
//! substitution), `@NAME(…)` expansion and `%( COND %? THEN %: ELSE %)`
//! conditionals over `kernel_v`, `kernel_vr`, `arch`, `runtime`,
//! `systemtap_v`, `systemtap_privilege`, `guru_mode`, kernel config options
//! `CONFIG_*` (stapc does not read the kernel config: only `CONFIG_64BIT` is known, from
//! `arch`; every other option compares as not set, i.e. `""`), script
//! arguments `$#`/`$N`/`@N` and literals (`%( 1 == 0 %? … %)`).
//!
//! Macros may also come from a library of `.stpm` files
//! ([`preprocess_with_library`]), as SystemTap's tapset macros do.
//!
//! Expanded tokens keep the spans of the macro body they came from, so an
//! error inside a macro points at its definition.

use crate::codes;
use crate::diag::Diagnostic;
use crate::lexer::{Op, TokKind, Token};
use crate::span::Span;
use crate::Options;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

/// Expansion deeper than this is a recursive macro.
const MAX_DEPTH: u32 = 64;
/// Macro expansions producing more tokens than this (in all, over the whole
/// script) are a runaway (exponential) macro. Real scripts and the tapset
/// library produce a few thousand; a megabyte of source holds about 250,000.
const MAX_EXPANDED_TOKENS: usize = 200_000;
/// More expansions than this is a runaway macro, even if each is small.
const MAX_EXPANSIONS: u32 = 20_000;
/// After this many errors, macro expansion stops: a broken macro used many
/// times would otherwise report the same mistake once per expansion.
const MAX_ERRORS: usize = 100;

struct Macro {
    params: Vec<String>,
    body: Vec<Token>,
}

struct Pre<'a> {
    opts: &'a Options,
    macros: FxHashMap<String, Macro>,
    diags: Vec<Diagnostic>,
    /// Macro expansions so far; a runaway (recursive or exponential) macro
    /// stops all expansion once it passes `MAX_EXPANSIONS`.
    expansions: u32,
    /// Tokens produced by macro expansion so far (see `MAX_EXPANDED_TOKENS`).
    expanded_tokens: usize,
    aborted: bool,
}

/// Run the preprocessor over a lexed file.
pub fn preprocess(toks: Vec<Token>, opts: &Options) -> (Vec<Token>, Vec<Diagnostic>) {
    preprocess_with_library(&[], toks, opts)
}

/// Run the preprocessor over a lexed file after reading the macro
/// definitions of `library` (lexed `.stpm` files, in order; a later
/// definition of a name replaces an earlier one). A macro file holds only
/// `@define`s, optionally inside conditionals; anything else in it is an error.
pub fn preprocess_with_library(
    library: &[Vec<Token>],
    toks: Vec<Token>,
    opts: &Options,
) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut p = Pre {
        opts,
        macros: FxHashMap::default(),
        diags: Vec::new(),
        expansions: 0,
        expanded_tokens: 0,
        aborted: false,
    };
    for lib in library {
        let mut stray = Vec::new();
        p.run(lib, 0, &mut stray);
        if let Some(t) = stray.first() {
            p.diags.push(
                Diagnostic::error(
                    codes::BAD_DEFINE,
                    format!("unexpected {} in a macro file", t.kind),
                )
                .with_primary(t.span, "not inside a `@define`")
                .with_note("a tapset `.stpm` file may only define macros"),
            );
        }
    }
    // Most scripts use no preprocessor feature: hand the tokens back untouched.
    let needed = toks.iter().any(|t| match &t.kind {
        TokKind::At(n) => n == "define" || p.macros.contains_key(n),
        TokKind::Op(op) => matches!(
            op,
            Op::CondOpen | Op::CondThen | Op::CondElse | Op::CondClose
        ),
        _ => false,
    });
    if !needed {
        return (toks, p.diags);
    }
    let mut out = Vec::with_capacity(toks.len());
    p.run(&toks, 0, &mut out);
    (out, p.diags)
}

fn is_op(t: &Token, op: Op) -> bool {
    t.kind == TokKind::Op(op)
}

/// Index of the token closing the conditional or macro body that starts
/// after an opening `%(` at `start` (nested `%( … %)` pairs skipped), plus the
/// positions of this level's `%?` and `%:`.
struct Group {
    then_at: Option<usize>,
    else_at: Option<usize>,
    close: Option<usize>,
}

fn find_group(toks: &[Token], start: usize) -> Group {
    let mut depth = 0usize;
    let mut g = Group {
        then_at: None,
        else_at: None,
        close: None,
    };
    let mut i = start;
    while i < toks.len() {
        match &toks[i].kind {
            TokKind::Op(Op::CondOpen) => depth += 1,
            TokKind::Op(Op::CondClose) => {
                if depth == 0 {
                    g.close = Some(i);
                    return g;
                }
                depth -= 1;
            }
            TokKind::Op(Op::CondThen) if depth == 0 && g.then_at.is_none() => g.then_at = Some(i),
            TokKind::Op(Op::CondElse) if depth == 0 && g.else_at.is_none() => g.else_at = Some(i),
            _ => {}
        }
        i += 1;
    }
    g
}

impl Pre<'_> {
    fn run(&mut self, toks: &[Token], depth: u32, out: &mut Vec<Token>) {
        let mut i = 0;
        while i < toks.len() {
            // After a runaway expansion, nested levels stop; the top level
            // keeps the rest of the file (minus macro calls) so parsing goes on.
            if self.aborted && depth > 0 {
                return;
            }
            let t = &toks[i];
            if self.aborted && matches!(&t.kind, TokKind::At(n) if self.macros.contains_key(n)) {
                i += 1;
                continue;
            }
            match &t.kind {
                TokKind::At(name) if name == "define" => i = self.define(toks, i),
                TokKind::At(name) if self.macros.contains_key(name) => {
                    i = self.expand(toks, i, depth, out);
                }
                TokKind::Op(Op::CondOpen) => i = self.conditional(toks, i, depth, out),
                TokKind::Op(op @ (Op::CondThen | Op::CondElse | Op::CondClose)) => {
                    self.diags.push(
                        Diagnostic::error(
                            codes::BAD_CONDITIONAL,
                            format!("`{}` outside a preprocessor conditional", op.as_str()),
                        )
                        .with_primary(t.span, "no matching `%(`"),
                    );
                    i += 1;
                }
                _ => {
                    out.push(t.clone());
                    i += 1;
                }
            }
        }
    }

    /// Macro bodies have grown past `MAX_EXPANDED_TOKENS` in all: stop all
    /// expansion, pointing at the call that crossed the limit.
    fn runaway(&mut self, at: Span) {
        self.aborted = true;
        self.diags.push(
            Diagnostic::error(
                codes::MACRO_DEPTH,
                "macro expansion produces too many tokens".to_string(),
            )
            .with_primary(at, "the limit was reached expanding this")
            .with_note(format!(
                "macros may expand to at most {MAX_EXPANDED_TOKENS} tokens in all; \
                 a macro that uses its argument twice and is nested doubles each time"
            )),
        );
    }

    /// `@define NAME %( body %)` or `@define NAME(a, b) %( body %)`.
    fn define(&mut self, toks: &[Token], at: usize) -> usize {
        let start = toks[at].span;
        let mut i = at + 1;
        let name = match toks.get(i).map(|t| &t.kind) {
            Some(TokKind::Ident(n)) => n.clone(),
            Some(TokKind::Kw(k)) => k.as_str().to_string(),
            _ => {
                self.bad_define(toks, i, start, "expected a macro name after `@define`");
                return self.skip_past_group(toks, i);
            }
        };
        i += 1;
        let mut params = Vec::new();
        if toks.get(i).is_some_and(|t| is_op(t, Op::LParen)) {
            i += 1;
            loop {
                match toks.get(i).map(|t| &t.kind) {
                    Some(TokKind::Ident(p)) => {
                        params.push(p.clone());
                        i += 1;
                    }
                    Some(TokKind::Op(Op::RParen)) if params.is_empty() => {}
                    _ => {
                        self.bad_define(toks, i, start, "expected a parameter name");
                        return self.skip_past_group(toks, i);
                    }
                }
                match toks.get(i).map(|t| &t.kind) {
                    Some(TokKind::Op(Op::Comma)) => i += 1,
                    Some(TokKind::Op(Op::RParen)) => {
                        i += 1;
                        break;
                    }
                    _ => {
                        self.bad_define(
                            toks,
                            i,
                            start,
                            "expected `,` or `)` in the parameter list",
                        );
                        return self.skip_past_group(toks, i);
                    }
                }
            }
        }
        if !toks.get(i).is_some_and(|t| is_op(t, Op::CondOpen)) {
            self.bad_define(toks, i, start, "expected `%(` to start the macro body");
            return self.skip_past_group(toks, i);
        }
        let g = find_group(toks, i + 1);
        let Some(close) = g.close else {
            self.diags.push(
                Diagnostic::error(
                    codes::BAD_DEFINE,
                    format!("macro `{name}` has no closing `%)`"),
                )
                .with_primary(toks[i].span, "body starts here"),
            );
            return toks.len();
        };
        self.macros.insert(
            name,
            Macro {
                params,
                body: toks[i + 1..close].to_vec(),
            },
        );
        close + 1
    }

    fn bad_define(&mut self, toks: &[Token], i: usize, start: Span, msg: &str) {
        let span = toks.get(i).map_or(start, |t| t.span);
        self.diags.push(
            Diagnostic::error(codes::BAD_DEFINE, format!("malformed `@define`: {msg}"))
                .with_primary(span, "here")
                .with_help(
                    "write `@define NAME %( tokens %)` or `@define NAME(a, b) %( … @a … %)`",
                ),
        );
    }

    /// After a malformed definition, skip its body if one follows soon.
    fn skip_past_group(&self, toks: &[Token], i: usize) -> usize {
        let mut j = i;
        while j < toks.len() && j < i + 16 {
            if is_op(&toks[j], Op::CondOpen) {
                return find_group(toks, j + 1).close.map_or(toks.len(), |c| c + 1);
            }
            j += 1;
        }
        i.max(1).min(toks.len())
    }

    /// `@NAME` or `@NAME(args…)`: substitute and preprocess the body again.
    fn expand(&mut self, toks: &[Token], at: usize, depth: u32, out: &mut Vec<Token>) -> usize {
        let TokKind::At(name) = &toks[at].kind else {
            return at + 1;
        };
        let call_span = toks[at].span;
        self.expansions += 1;
        if self.diags.len() >= MAX_ERRORS {
            self.aborted = true;
            self.diags.push(
                Diagnostic::error(
                    codes::MACRO_DEPTH,
                    format!("too many errors; macro `@{name}` and the rest are not expanded"),
                )
                .with_primary(call_span, "expansion stopped here")
                .with_note(format!(
                    "expansion stops after {MAX_ERRORS} preprocessor errors; fix the first ones"
                )),
            );
            return toks.len();
        }
        if self.expansions > MAX_EXPANSIONS {
            self.aborted = true;
            self.diags.push(
                Diagnostic::error(
                    codes::MACRO_DEPTH,
                    format!("macro `@{name}` expands too many times"),
                )
                .with_primary(call_span, "expanded here")
                .with_note(format!(
                    "expansion stopped after {MAX_EXPANSIONS} macro expansions"
                )),
            );
            return toks.len();
        }
        if depth >= MAX_DEPTH {
            self.aborted = true;
            self.diags.push(
                Diagnostic::error(
                    codes::MACRO_DEPTH,
                    format!("macro `@{name}` expands too deeply"),
                )
                .with_primary(call_span, "expanded here")
                .with_note(format!(
                    "expansion stopped after {MAX_DEPTH} nested macros; is the macro recursive?"
                )),
            );
            return toks.len();
        }
        let Some(m) = self.macros.get(name) else {
            return at + 1;
        };
        let nparams = m.params.len();
        let mut i = at + 1;
        let mut args: Vec<Vec<Token>> = Vec::new();
        if nparams > 0 {
            if !toks.get(i).is_some_and(|t| is_op(t, Op::LParen)) {
                self.diags.push(
                    Diagnostic::error(
                        codes::MACRO_ARITY,
                        format!("macro `@{name}` takes {nparams} argument(s) but none were given"),
                    )
                    .with_primary(call_span, "expected `(` after the macro name"),
                );
                return i;
            }
            i += 1;
            let mut cur = Vec::new();
            let mut level = 0usize;
            loop {
                let Some(t) = toks.get(i) else {
                    self.diags.push(
                        Diagnostic::error(
                            codes::MACRO_ARITY,
                            format!("unclosed argument list of `@{name}`"),
                        )
                        .with_primary(call_span, "called here"),
                    );
                    return toks.len();
                };
                i += 1;
                match &t.kind {
                    TokKind::Op(Op::LParen | Op::LBracket | Op::LBrace) => level += 1,
                    TokKind::Op(Op::RParen) if level == 0 => {
                        args.push(std::mem::take(&mut cur));
                        break;
                    }
                    TokKind::Op(Op::RParen | Op::RBracket | Op::RBrace) => {
                        level = level.saturating_sub(1)
                    }
                    TokKind::Op(Op::Comma) if level == 0 => {
                        args.push(std::mem::take(&mut cur));
                        continue;
                    }
                    _ => {}
                }
                cur.push(t.clone());
            }
            if args.len() == 1 && args[0].is_empty() && nparams == 0 {
                args.clear();
            }
            if args.len() != nparams {
                self.diags.push(
                    Diagnostic::error(
                        codes::MACRO_ARITY,
                        format!(
                            "macro `@{name}` takes {nparams} argument(s) but {} were given",
                            args.len()
                        ),
                    )
                    .with_primary(call_span.to(toks[i - 1].span), "called here"),
                );
                return i;
            }
        }
        let Some(m) = self.macros.get(name) else {
            return i;
        };
        // Every expansion's substituted body counts against the budget, before
        // it is built: the output of an expansion is never larger, and
        // building the bodies is where a runaway macro spends its time.
        let size: usize = m
            .body
            .iter()
            .map(|t| match &t.kind {
                TokKind::At(p) => m
                    .params
                    .iter()
                    .position(|q| q == p)
                    .map_or(1, |k| args[k].len()),
                _ => 1,
            })
            .sum();
        self.expanded_tokens += size;
        if self.expanded_tokens > MAX_EXPANDED_TOKENS {
            self.runaway(call_span);
            return i;
        }
        let mut body = Vec::with_capacity(size);
        for t in &m.body {
            match &t.kind {
                TokKind::At(p) => match m.params.iter().position(|q| q == p) {
                    Some(k) => body.extend(args[k].iter().cloned()),
                    None => body.push(t.clone()),
                },
                _ => body.push(t.clone()),
            }
        }
        self.run(&body, depth + 1, out);
        i
    }

    /// `%( COND %? THEN [%: ELSE] %)`.
    fn conditional(
        &mut self,
        toks: &[Token],
        at: usize,
        depth: u32,
        out: &mut Vec<Token>,
    ) -> usize {
        let open = toks[at].span;
        let g = find_group(toks, at + 1);
        let Some(close) = g.close else {
            self.diags.push(
                Diagnostic::error(
                    codes::BAD_CONDITIONAL,
                    "preprocessor conditional has no closing `%)`",
                )
                .with_primary(open, "opened here"),
            );
            return toks.len();
        };
        let Some(then_at) = g.then_at else {
            self.diags.push(
                Diagnostic::error(
                    codes::BAD_CONDITIONAL,
                    "preprocessor conditional has no `%?`",
                )
                .with_primary(
                    open.to(toks[close].span),
                    "expected `%( condition %? tokens %)`",
                ),
            );
            return close + 1;
        };
        let else_at = g.else_at.filter(|&e| e > then_at);
        // The condition may itself use macros; expand them first.
        let mut cond = Vec::new();
        self.run(&toks[at + 1..then_at], depth + 1, &mut cond);
        let value = if cond.is_empty() {
            self.diags.push(
                Diagnostic::error(codes::BAD_CONDITION, "empty preprocessor condition")
                    .with_primary(
                        open.to(toks[then_at].span),
                        "expected e.g. `kernel_v >= \"5.0\"`",
                    ),
            );
            false
        } else {
            let mut ev = CondEval {
                toks: &cond,
                pos: 0,
                opts: self.opts,
                diags: &mut self.diags,
            };
            let v = ev.or();
            if ev.pos < cond.len() && v.is_some() {
                let sp = cond[ev.pos].span;
                self.diags.push(
                    Diagnostic::error(
                        codes::BAD_CONDITION,
                        "unexpected token in preprocessor condition",
                    )
                    .with_primary(sp, "expected `&&`, `||` or `%?`"),
                );
            }
            v.unwrap_or(false)
        };
        let branch = if value {
            &toks[then_at + 1..else_at.unwrap_or(close)]
        } else {
            match else_at {
                Some(e) => &toks[e + 1..close],
                None => &[],
            }
        };
        self.run(branch, depth, out);
        close + 1
    }
}

/// Evaluates a condition: `or := and ('||' and)*`, `and := cmp ('&&' cmp)*`,
/// `cmp := NAME OP LITERAL | '(' or ')'`. `None` means an error was reported.
struct CondEval<'a, 'd> {
    toks: &'a [Token],
    pos: usize,
    opts: &'a Options,
    diags: &'d mut Vec<Diagnostic>,
}

impl CondEval<'_, '_> {
    fn peek_op(&self, op: Op) -> bool {
        self.toks.get(self.pos).is_some_and(|t| is_op(t, op))
    }

    fn or(&mut self) -> Option<bool> {
        let mut v = self.and()?;
        while self.peek_op(Op::OrOr) {
            self.pos += 1;
            let r = self.and()?;
            v = v || r;
        }
        Some(v)
    }

    fn and(&mut self) -> Option<bool> {
        let mut v = self.cmp()?;
        while self.peek_op(Op::AndAnd) {
            self.pos += 1;
            let r = self.cmp()?;
            v = v && r;
        }
        Some(v)
    }

    fn err(&mut self, msg: &str, label: &str) -> Option<bool> {
        let span = self
            .toks
            .get(self.pos)
            .or(self.toks.last())
            .map(|t| t.span)
            .unwrap_or_default();
        self.diags.push(
            Diagnostic::error(codes::BAD_CONDITION, msg.to_string())
                .with_primary(span, label.to_string())
                .with_help("conditions compare a variable (kernel_v, kernel_vr, arch, runtime, systemtap_v, systemtap_privilege, guru_mode, CONFIG_*), `$#`, `$N`, `@N` or a literal with a literal, e.g. `kernel_v >= \"5.8\"`"),
        );
        None
    }

    fn cmp(&mut self) -> Option<bool> {
        if self.peek_op(Op::LParen) {
            self.pos += 1;
            let v = self.or()?;
            if !self.peek_op(Op::RParen) {
                return self.err("expected `)` in preprocessor condition", "here");
            }
            self.pos += 1;
            return Some(v);
        }
        let lhs = self.operand()?;
        let op = match self.toks.get(self.pos).map(|t| &t.kind) {
            Some(TokKind::Op(o @ (Op::Lt | Op::Le | Op::EqEq | Op::NotEq | Op::Ge | Op::Gt))) => *o,
            _ => {
                return self.err(
                    "expected a comparison operator",
                    "expected one of < <= == != >= >",
                )
            }
        };
        let op_at = self.pos;
        self.pos += 1;
        let rhs = self.operand()?;
        let ord_of = |o: Ordering| match op {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::EqEq => o == Ordering::Equal,
            Op::NotEq => o != Ordering::Equal,
            Op::Ge => o != Ordering::Less,
            _ => o == Ordering::Greater,
        };
        let eq_op = matches!(op, Op::EqEq | Op::NotEq);
        match (lhs, rhs) {
            (CondVal::Num(a), CondVal::Num(b)) => Some(ord_of(a.cmp(&b))),
            // A version on either side: numeric component-wise order, or a
            // `*` pattern match for `==`/`!=`.
            (CondVal::Version(a), CondVal::Version(b) | CondVal::Text(b))
            | (CondVal::Text(b), CondVal::Version(a)) => {
                if eq_op && b.contains('*') {
                    return Some(glob_match(&b, &a) == (op == Op::EqEq));
                }
                Some(ord_of(compare_versions(&a, &b)))
            }
            (CondVal::Text(a), CondVal::Text(b)) => {
                // The variable is on the left by convention (`arch == "x86*"`),
                // so the right side is the pattern.
                if eq_op {
                    Some(glob_match(&b, &a) == (op == Op::EqEq))
                } else {
                    Some(ord_of(a.cmp(&b)))
                }
            }
            _ => {
                self.pos = op_at;
                self.err(
                    "cannot compare a number with a string in a preprocessor condition",
                    "compares a number with a string",
                )
            }
        }
    }

    /// One side of a comparison: a literal, `$#`, `$N`, `@N` or a condition
    /// variable.
    fn operand(&mut self) -> Option<CondVal> {
        let Some(t) = self.toks.get(self.pos) else {
            return self
                .err("expected a condition variable", "here")
                .map(|_| CondVal::Num(0));
        };
        let v = match &t.kind {
            TokKind::Number(n) => CondVal::Num(*n),
            TokKind::Str(s) => CondVal::Text(s.clone()),
            TokKind::Op(Op::Minus) => match self.toks.get(self.pos + 1).map(|t| &t.kind) {
                Some(TokKind::Number(n)) => {
                    self.pos += 1;
                    CondVal::Num(n.wrapping_neg())
                }
                _ => return self.err("expected a number after `-`", "here").map(|_| CondVal::Num(0)),
            },
            TokKind::Dollar(d) if d == "#" => CondVal::Num(self.opts.script_args.len() as i64),
            TokKind::Dollar(d) | TokKind::At(d) if d.parse::<usize>().is_ok() => {
                let k = d.parse::<usize>().unwrap_or(0);
                let Some(arg) = k.checked_sub(1).and_then(|k| self.opts.script_args.get(k)) else {
                    return self
                        .err(
                            &format!("script argument {k} is not given"),
                            &format!("the script has {} argument(s)", self.opts.script_args.len()),
                        )
                        .map(|_| CondVal::Num(0));
                };
                if matches!(t.kind, TokKind::At(_)) {
                    CondVal::Text(arg.clone())
                } else {
                    match crate::lexer::parse_number(arg.trim()).ok() {
                        Some(n) => CondVal::Num(n),
                        None => {
                            return self
                                .err(
                                    &format!("script argument ${k} (`{arg}`) is not a number"),
                                    "used as a number here; `@N` reads it as a string",
                                )
                                .map(|_| CondVal::Num(0))
                        }
                    }
                }
            }
            TokKind::Ident(name) => match self.variable(name) {
                Some(v) => v,
                None => {
                    return self
                        .err(
                            &format!("unknown preprocessor condition variable `{name}`"),
                            "not one of kernel_v, kernel_vr, arch, runtime, systemtap_v, systemtap_privilege, guru_mode, CONFIG_*",
                        )
                        .map(|_| CondVal::Num(0))
                }
            },
            _ => return self.err("expected a condition variable", "here").map(|_| CondVal::Num(0)),
        };
        self.pos += 1;
        Some(v)
    }

    /// The value of a condition variable, `None` if there is no such variable.
    fn variable(&self, name: &str) -> Option<CondVal> {
        let (maj, min) = self.opts.kernel_version;
        Some(match name {
            "kernel_v" | "kernel_vr" => CondVal::Version(format!("{maj}.{min}.0")),
            "systemtap_v" => CondVal::Version(SYSTEMTAP_VERSION.to_string()),
            "arch" => CondVal::Text(self.opts.arch.clone()),
            "runtime" => CondVal::Text("bpf".to_string()),
            // stapc runs scripts with full privileges and no guru mode.
            "systemtap_privilege" => CondVal::Text("stapdev".to_string()),
            "guru_mode" => CondVal::Num(0),
            _ => CondVal::Text(kernel_config(name, &self.opts.arch)?.to_string()),
        })
    }
}

/// The SystemTap language version stapc implements, for `systemtap_v`: the
/// version of the tapset library it is tested against (tests/tapset.rs).
pub const SYSTEMTAP_VERSION: &str = "4.8";

/// What a condition operand evaluates to.
enum CondVal {
    Num(i64),
    Text(String),
    /// Compared as a dotted version, not as text.
    Version(String),
}

/// The value of kernel config option `name` (`CONFIG_…`) as SystemTap sees it:
/// `"y"`, `"m"`, or `""` when not set. stapc does not read the target kernel's
/// config, so only `CONFIG_64BIT` (known from the architecture) is set; every
/// other option compares as not set. `None`: `name` is no config option.
fn kernel_config(name: &str, arch: &str) -> Option<&'static str> {
    let opt = name.strip_prefix("CONFIG_")?;
    if opt.is_empty() {
        return None;
    }
    let is_64 = matches!(
        arch,
        "x86_64"
            | "aarch64"
            | "arm64"
            | "riscv64"
            | "ppc64"
            | "ppc64le"
            | "powerpc64"
            | "s390x"
            | "mips64"
            | "loongarch64"
    );
    Some(if opt == "64BIT" && is_64 { "y" } else { "" })
}

/// Compares dotted versions numerically component by component (`5.10` >
/// `5.9`); a missing component counts as 0, non-numeric parts compare as text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |s: &str| -> Vec<String> { s.split(['.', '-']).map(str::to_string).collect() };
    let (pa, pb) = (split(a), split(b));
    for k in 0..pa.len().max(pb.len()) {
        let x = pa.get(k).map_or("0", |s| s.as_str());
        let y = pb.get(k).map_or("0", |s| s.as_str());
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// One element of a glob pattern.
enum GlobElem {
    Star,
    Any,
    Char(char),
    /// `[ym]`, `[a-z]`, `[!x]`: (negated, ranges).
    Class(bool, Vec<(char, char)>),
}

fn glob_compile(pat: &str) -> Vec<GlobElem> {
    let cs: Vec<char> = pat.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '*' => out.push(GlobElem::Star),
            '?' => out.push(GlobElem::Any),
            '[' => {
                // A class runs to the next `]` (a `]` right after `[` or `[!`
                // is a member); without one, `[` is literal.
                let mut j = i + 1;
                let neg = cs.get(j) == Some(&'!') || cs.get(j) == Some(&'^');
                if neg {
                    j += 1;
                }
                let first = j;
                while j < cs.len() && (cs[j] != ']' || j == first) {
                    j += 1;
                }
                if j >= cs.len() {
                    out.push(GlobElem::Char('['));
                } else {
                    let mut ranges = Vec::new();
                    let mut k = first;
                    while k < j {
                        if k + 2 < j && cs[k + 1] == '-' {
                            ranges.push((cs[k], cs[k + 2]));
                            k += 3;
                        } else {
                            ranges.push((cs[k], cs[k]));
                            k += 1;
                        }
                    }
                    out.push(GlobElem::Class(neg, ranges));
                    i = j;
                }
            }
            c => out.push(GlobElem::Char(c)),
        }
        i += 1;
    }
    out
}

/// Shell-style match with `*`, `?` and `[…]` classes (`arch == "x86*"`,
/// `CONFIG_NFS_V4 == "[ym]"`). Linear backtracking over the last `*`.
fn glob_match(pat: &str, s: &str) -> bool {
    let p = glob_compile(pat);
    let s: Vec<char> = s.chars().collect();
    let one = |e: &GlobElem, c: char| match e {
        GlobElem::Any => true,
        GlobElem::Char(x) => *x == c,
        GlobElem::Class(neg, r) => r.iter().any(|&(a, b)| a <= c && c <= b) != *neg,
        GlobElem::Star => false,
    };
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && matches!(p[pi], GlobElem::Star) {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && one(&p[pi], s[si]) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|e| matches!(e, GlobElem::Star))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;
    use crate::span::FileId;

    fn pp(s: &str) -> (String, Vec<Diagnostic>) {
        let (t, d) = lex(s, FileId(0));
        assert!(d.is_empty());
        let (t, d) = preprocess(t, &Options::default());
        let text: Vec<String> = t
            .iter()
            .map(|t| match &t.kind {
                TokKind::Ident(s) => s.clone(),
                TokKind::Number(n) => n.to_string(),
                TokKind::Str(s) => format!("{s:?}"),
                TokKind::Op(o) => o.as_str().to_string(),
                other => format!("{other}"),
            })
            .collect();
        (text.join(" "), d)
    }

    #[test]
    fn macros_expand_with_params() {
        let (t, d) = pp("@define SQ(x) %( (@x * @x) %) @define G %( \"hi\" %) a = @SQ(1 + 2) . @G");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(t, "a = ( 1 + 2 * 1 + 2 ) . \"hi\"");
    }

    #[test]
    fn nested_macros_and_recursion_limit() {
        let (t, _) = pp("@define A %( 1 %) @define B(x) %( @x + @A %) @B(@A)");
        assert_eq!(t, "1 + 1");
        let (_, d) = pp("@define R %( @R %) @R");
        assert_eq!(d[0].code, codes::MACRO_DEPTH);
        let (_, d) = pp("@define F(a) %( @a %) @F(1, 2)");
        assert_eq!(d[0].code, codes::MACRO_ARITY);
    }

    #[test]
    fn conditionals_on_version_arch_runtime() {
        let (t, d) = pp(
            "%( kernel_v >= \"5.10\" %? a %: b %) %( kernel_v < \"6.1.1\" && arch == \"x86*\" %? c %) \
             %( runtime != \"bpf\" || kernel_vr == \"6.1\" %? %( arch == \"arm64\" %? d %: e %) %: f %)",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(t, "a c e");
    }

    fn pp_with(s: &str, opts: &Options) -> (String, Vec<Diagnostic>) {
        let (t, d) = lex(s, FileId(0));
        assert!(d.is_empty());
        let (t, d) = preprocess(t, opts);
        let text: Vec<String> = t.iter().map(|t| format!("{}", t.kind)).collect();
        (text.join(" "), d)
    }

    #[test]
    fn systemtap_condition_variables() {
        let (t, d) = pp(&format!(
            "%( systemtap_v >= \"4.0\" && systemtap_v < \"10\" %? a %: b %) \
             %( systemtap_privilege != \"stapusr\" %? c %) %( guru_mode == 0 %? d %) \
             %( CONFIG_64BIT == \"y\" %? e %) %( CONFIG_NFS_V4 == \"[ym]\" %? f %: g %) \
             %( CONFIG_COMPAT != \"y\" %? h %) %( 1 == 0 %? i %: j %) %( -1 < 2 %? k %) \
             %( \"{SYSTEMTAP_VERSION}\" == systemtap_v %? l %)"
        ));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(t, "a c d e g h j k l");
    }

    #[test]
    fn script_arguments_in_conditions() {
        let opts = Options {
            script_args: vec!["7".into(), "abc".into()],
            ..Options::default()
        };
        let (t, d) = pp_with(
            "%( $# >= 2 %? a %) %( $# == 3 %? b %: c %) %( $1 > 5 %? d %) %( @2 == \"a*\" %? e %) \
             x = %( $# >= 1 %? @1 %: \"\" %)",
            &opts,
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            t,
            "identifier `a` identifier `c` identifier `d` identifier `e` identifier `x` `=` `@1`"
        );
        // `$2` is not a number; `$3` is not given; a number is no string.
        for bad in [
            "%( $2 == 1 %? a %)",
            "%( @3 == \"\" %? a %)",
            "%( 1 == \"1\" %? a %)",
        ] {
            let (_, d) = pp_with(bad, &opts);
            assert_eq!(d.len(), 1, "{bad}: {d:?}");
            assert_eq!(d[0].code, codes::BAD_CONDITION);
        }
    }

    #[test]
    fn glob_classes() {
        assert!(glob_match("[ym]", "m") && !glob_match("[ym]", "n") && !glob_match("[ym]", ""));
        assert!(glob_match("x86*", "x86_64") && glob_match("*64", "x86_64"));
        assert!(
            glob_match("a?c", "abc") && glob_match("[!a]b", "cb") && !glob_match("[!a]b", "ab")
        );
        assert!(glob_match("[a-c]*[0-9]", "b_9") && glob_match("[", "["));
    }

    #[test]
    fn library_macros_come_first() {
        let (lib, d) = lex(
            "@define P %( %( systemtap_v >= \"3.0\" %? private %) %) @define Q(x) %( @x + 1 %)",
            FileId(1),
        );
        assert!(d.is_empty());
        let (t, _) = lex("@P global g; y = @Q(2)", FileId(0));
        let (out, d) = preprocess_with_library(&[lib], t, &Options::default());
        assert!(d.is_empty(), "{d:?}");
        let text: Vec<String> = out.iter().map(|t| format!("{}", t.kind)).collect();
        assert_eq!(text.join(" "), "keyword `private` keyword `global` identifier `g` `;` identifier `y` `=` number `2` `+` number `1`");
        // The `+` came from the library file.
        assert_eq!(out[8].span.file, FileId(1));
        // Anything but definitions in a macro file is an error there.
        let (lib, _) = lex("@define A %( 1 %) oops", FileId(1));
        let (t, _) = lex("x", FileId(0));
        let (_, d) = preprocess_with_library(&[lib], t, &Options::default());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, codes::BAD_DEFINE);
        assert_eq!(d[0].primary_span().map(|s| s.file), Some(FileId(1)));
    }

    #[test]
    fn bad_conditions_are_reported() {
        let (_, d) = pp("%( foo == \"1\" %? a %)");
        assert_eq!(d[0].code, codes::BAD_CONDITION);
        let (_, d) = pp("%( kernel_v > \"1\" a %)");
        assert_eq!(d[0].code, codes::BAD_CONDITIONAL);
        let (_, d) = pp("x %)");
        assert_eq!(d[0].code, codes::BAD_CONDITIONAL);
    }

    #[test]
    fn version_order_is_numeric() {
        assert_eq!(compare_versions("5.10", "5.9"), Ordering::Greater);
        assert_eq!(compare_versions("6.1.0", "6.1"), Ordering::Equal);
        assert_eq!(compare_versions("2.6.32-100", "2.6.32"), Ordering::Greater);
    }
}

#[cfg(test)]
mod runaway_tests {
    use super::*;
    use crate::lexer::lex;
    use crate::span::FileId;

    /// A macro whose body uses itself twice would expand 2^64 times; it must
    /// stop quickly with one error.
    #[test]
    fn exponential_macro_stops_fast() {
        let (t, _) = lex("@define L %( @L + @L %) x = @L", FileId(0));
        let start = std::time::Instant::now();
        let (_, d) = preprocess(t, &Options::default());
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].code, codes::MACRO_DEPTH);
        let (t, _) = lex("@define A %( 1 %) @define B %( @A @A @A @A @A @A @A @A %) @define C %( @B @B @B @B @B @B @B @B %) \
                          @define D %( @C @C @C @C @C @C @C @C %) @define E %( @D @D @D @D @D @D @D @D %) \
                          @define F %( @E @E @E @E @E @E @E @E %) @define G %( @F @F @F @F @F @F @F @F %) @G", FileId(0));
        let (_, d) = preprocess(t, &Options::default());
        assert_eq!(d.len(), 1, "{d:?}");
    }
}
