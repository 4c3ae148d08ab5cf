//! Printers: `-p1` prints the AST back as a script that parses to the same
//! AST (parentheses only where precedence needs them); `-p2` prints the
//! resolved script's globals, functions and probes, SystemTap style.

use crate::ast::*;
use crate::script::{self, GlobalType, PointKind, ScalarType};
use std::fmt::Write;

/// Precedence of an expression as printed (higher binds tighter).
fn prec(e: &Expr) -> u8 {
    match e {
        Expr::Assign(..) => 1,
        Expr::Ternary(..) => 2,
        Expr::Binary(op, ..) => op.prec(),
        Expr::In { .. } => 8,
        Expr::Regex { .. } => 9,
        Expr::Unary(..) | Expr::AddressOf(..) | Expr::IncDec { prefix: true, .. } => 14,
        Expr::IncDec { prefix: false, .. }
        | Expr::Member { .. }
        | Expr::Subscript { .. }
        | Expr::Pretty { .. } => 15,
        // A negative literal prints in hex, so it is still atomic.
        _ => 16,
    }
}

pub fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn print_ast(ast: &Ast) -> String {
    let mut p = AstPrinter {
        ast,
        out: String::new(),
        indent: 0,
    };
    for item in &ast.items {
        p.item(item);
    }
    p.out
}

struct AstPrinter<'a> {
    ast: &'a Ast,
    out: String,
    indent: usize,
}

fn point_arg(a: &PointArg) -> String {
    match a {
        PointArg::Number(n) => n.to_string(),
        PointArg::Str(s) => escape_string(s),
        PointArg::ScriptArg { n, as_string } => {
            format!("{}{n}", if *as_string { '@' } else { '$' })
        }
    }
}

fn components(cs: &[Component]) -> String {
    cs.iter()
        .map(|c| match &c.arg {
            Some(a) => format!("{}({})", c.name, point_arg(a)),
            None => c.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl AstPrinter<'_> {
    fn nl(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Global(g) => {
                if g.private {
                    self.out.push_str("private ");
                }
                self.out.push_str("global ");
                for (k, v) in g.vars.iter().enumerate() {
                    if k > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push_str(&v.name.name);
                    if v.wrap {
                        self.out.push('%');
                    }
                    if let Some(s) = v.size {
                        self.out.push('[');
                        self.expr(s, 1);
                        self.out.push(']');
                    }
                    if let Some(i) = v.init {
                        self.out.push_str(" = ");
                        self.expr(i, 2);
                    }
                }
                self.out.push('\n');
            }
            Item::Function(f) => {
                if f.private {
                    self.out.push_str("private ");
                }
                let _ = write!(self.out, "function {}", f.name.name);
                if let Some(t) = f.ret {
                    let _ = write!(self.out, ":{}", t.as_str());
                }
                self.out.push('(');
                for (k, p) in f.params.iter().enumerate() {
                    if k > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push_str(&p.name.name);
                    if let Some(t) = p.ty {
                        let _ = write!(self.out, ":{}", t.as_str());
                    }
                }
                self.out.push_str(") ");
                match &f.body {
                    FunctionBody::Block(b) => self.stmt(*b),
                    FunctionBody::EmbeddedC(c) => {
                        let _ = write!(self.out, "%{{{c}%}}");
                    }
                }
                self.out.push('\n');
            }
            Item::Probe(p) => {
                if p.private {
                    self.out.push_str("private ");
                }
                self.out.push_str("probe ");
                match &p.kind {
                    ProbeKind::Plain => {}
                    ProbeKind::Alias(c) => {
                        let _ = write!(self.out, "{} = ", components(c));
                    }
                    ProbeKind::AliasAppend(c) => {
                        let _ = write!(self.out, "{} += ", components(c));
                    }
                }
                for (k, pt) in p.points.iter().enumerate() {
                    if k > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push_str(&components(&pt.components));
                    if pt.optional {
                        self.out.push('?');
                    }
                    if pt.sufficient {
                        self.out.push('!');
                    }
                    if let Some(c) = pt.condition {
                        self.out.push_str(" if (");
                        self.expr(c, 1);
                        self.out.push(')');
                    }
                }
                self.out.push(' ');
                self.stmt(p.body);
                if let Some(e) = p.epilogue {
                    self.out.push_str(", ");
                    self.stmt(e);
                }
                self.out.push('\n');
            }
            Item::EmbeddedC { code, .. } => {
                let _ = writeln!(self.out, "%{{{code}%}}");
            }
        }
    }

    fn opt(&mut self, e: Option<ExprId>) {
        if let Some(e) = e {
            self.expr(e, 1);
        }
    }

    fn stmt(&mut self, s: StmtId) {
        match self.ast.stmt(s) {
            Stmt::Block(ss) => {
                self.out.push('{');
                self.indent += 1;
                for &s in ss {
                    self.nl();
                    self.stmt(s);
                }
                self.indent -= 1;
                self.nl();
                self.out.push('}');
            }
            Stmt::Expr(e) => {
                let at = self.out.len();
                self.expr(*e, 1);
                // A statement starting with `%{` is an embedded-C statement;
                // an expression that starts with one needs parentheses.
                if self.out[at..].starts_with("%{") {
                    self.out.truncate(at);
                    self.out.push('(');
                    self.expr(*e, 0);
                    self.out.push(')');
                }
                self.out.push(';');
            }
            Stmt::If { cond, then, else_ } => {
                self.out.push_str("if (");
                self.expr(*cond, 1);
                self.out.push_str(") ");
                self.stmt(*then);
                if let Some(e) = else_ {
                    self.out.push_str(" else ");
                    self.stmt(*e);
                }
            }
            Stmt::While { cond, body } => {
                self.out.push_str("while (");
                self.expr(*cond, 1);
                self.out.push_str(") ");
                self.stmt(*body);
            }
            Stmt::For {
                init,
                cond,
                step,
                body,
            } => {
                self.out.push_str("for (");
                self.opt(*init);
                self.out.push_str("; ");
                self.opt(*cond);
                self.out.push_str("; ");
                self.opt(*step);
                self.out.push_str(") ");
                self.stmt(*body);
            }
            Stmt::Foreach(f) => {
                self.out.push_str("foreach (");
                if let Some(v) = &f.value {
                    let _ = write!(self.out, "{} = ", v.name);
                }
                self.out.push('[');
                for (k, (key, s)) in f.keys.iter().enumerate() {
                    if k > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push_str(&key.name);
                    if let Some(s) = s {
                        self.out.push_str(s.as_str());
                    }
                }
                let _ = write!(self.out, "] in {}", f.array.name);
                if let Some(sl) = &f.slice {
                    self.out.push('[');
                    self.list(sl);
                    self.out.push(']');
                }
                if let Some(s) = f.array_sort {
                    self.out.push_str(s.as_str());
                }
                if let Some(l) = f.limit {
                    self.out.push_str(" limit ");
                    self.expr(l, 1);
                }
                self.out.push_str(") ");
                self.stmt(f.body);
            }
            Stmt::Break => self.out.push_str("break;"),
            Stmt::Continue => self.out.push_str("continue;"),
            Stmt::Next => self.out.push_str("next;"),
            Stmt::Return(e) => {
                self.out.push_str("return");
                if let Some(e) = e {
                    self.out.push(' ');
                    self.expr(*e, 1);
                }
                self.out.push(';');
            }
            Stmt::Delete(e) => {
                self.out.push_str("delete ");
                self.expr(*e, 15);
                self.out.push(';');
            }
            Stmt::Try {
                body,
                catch_var,
                handler,
            } => {
                self.out.push_str("try ");
                self.stmt(*body);
                self.out.push_str(" catch ");
                if let Some(v) = catch_var {
                    let _ = write!(self.out, "({}) ", v.name);
                }
                self.stmt(*handler);
            }
            Stmt::Empty => self.out.push(';'),
            Stmt::EmbeddedC(c) => {
                let _ = write!(self.out, "%{{{c}%}}");
            }
        }
    }

    fn list(&mut self, es: &[ExprId]) {
        for (k, &e) in es.iter().enumerate() {
            if k > 0 {
                self.out.push_str(", ");
            }
            self.expr(e, 1);
        }
    }

    /// Print `e`, in parentheses when it binds looser than `min`.
    fn expr(&mut self, e: ExprId, min: u8) {
        let ex = self.ast.expr(e);
        let paren = prec(ex) < min;
        if paren {
            self.out.push('(');
        }
        match ex {
            Expr::Number(n) => {
                if *n < 0 {
                    let _ = write!(self.out, "{:#x}", *n as u64);
                } else {
                    let _ = write!(self.out, "{n}");
                }
            }
            Expr::Str(s) => self.out.push_str(&escape_string(s)),
            Expr::Var(v) => self.out.push_str(&v.name),
            Expr::Target(t) => {
                let _ = write!(self.out, "${t}");
            }
            Expr::ScriptArg { n, as_string } => {
                let sigil = if *as_string { '@' } else { '$' };
                if *n == u32::MAX {
                    let _ = write!(self.out, "{sigil}#");
                } else {
                    let _ = write!(self.out, "{sigil}{n}");
                }
            }
            Expr::Index { array, keys } => {
                let _ = write!(self.out, "{}[", array.name);
                self.list(keys);
                self.out.push(']');
            }
            Expr::Call { name, args } => {
                let _ = write!(self.out, "{}(", name.name);
                self.list(args);
                self.out.push(')');
            }
            Expr::AtCall { name, args } => {
                let _ = write!(self.out, "@{name}(");
                self.list(args);
                self.out.push(')');
            }
            Expr::Unary(op, a) => {
                self.out.push_str(match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                    UnOp::BitNot => "~",
                    UnOp::Plus => "+",
                });
                self.operand(*a, 14);
            }
            Expr::Binary(op, a, b) => {
                let p = op.prec();
                self.expr(*a, p);
                let _ = write!(self.out, " {} ", op.as_str());
                self.expr(*b, p + 1);
            }
            Expr::Assign(op, a, b) => {
                self.expr(*a, 2);
                let _ = write!(self.out, " {} ", op.as_str());
                self.expr(*b, 1);
            }
            Expr::IncDec {
                target,
                increment,
                prefix,
            } => {
                let s = if *increment { "++" } else { "--" };
                if *prefix {
                    self.out.push_str(s);
                    self.operand(*target, 14);
                } else {
                    self.expr(*target, 15);
                    self.out.push_str(s);
                }
            }
            Expr::Ternary(c, a, b) => {
                self.expr(*c, 3);
                self.out.push_str(" ? ");
                self.expr(*a, 1);
                self.out.push_str(" : ");
                self.expr(*b, 2);
            }
            Expr::In { keys, array } => {
                self.out.push('[');
                self.list(keys);
                let _ = write!(self.out, "] in {}", array.name);
            }
            Expr::Regex {
                value,
                pattern,
                negated,
            } => {
                self.expr(*value, 9);
                self.out.push_str(if *negated { " !~ " } else { " =~ " });
                self.expr(*pattern, 10);
            }
            Expr::Member { base, field } => {
                self.expr(*base, 15);
                let _ = write!(self.out, "->{field}");
            }
            Expr::Subscript { base, index } => {
                // Only these bases take `[` directly; any other is indexed
                // in parentheses (`(a)[0]`), which is how it parses back.
                if matches!(
                    self.ast.expr(*base),
                    Expr::Member { .. }
                        | Expr::Target(_)
                        | Expr::AtCall { .. }
                        | Expr::Subscript { .. }
                ) {
                    self.expr(*base, 15);
                } else {
                    self.out.push('(');
                    self.expr(*base, 0);
                    self.out.push(')');
                }
                self.out.push('[');
                self.expr(*index, 0);
                self.out.push(']');
            }
            Expr::AddressOf(a) => {
                self.out.push('&');
                self.operand(*a, 14);
            }
            Expr::EmbeddedC(c) => {
                let _ = write!(self.out, "%{{{c}%}}");
            }
            Expr::Pretty { base, deep } => {
                if pretty_base(self.ast.expr(*base)) {
                    self.expr(*base, 15);
                } else {
                    self.out.push('(');
                    self.expr(*base, 0);
                    self.out.push(')');
                }
                self.out.push_str(if *deep { "$$" } else { "$" });
            }
            Expr::Wildcard => self.out.push('*'),
        }
        if paren {
            self.out.push(')');
        }
    }

    /// The operand of a prefix operator: a space keeps `- -x` from lexing as
    /// `--x` and `! ~x` from lexing as `!~ x`.
    fn operand(&mut self, e: ExprId, min: u8) {
        let at = self.out.len();
        self.expr(e, min);
        if matches!(
            self.out.as_bytes().get(at),
            Some(b'-' | b'+' | b'~' | b'!' | b'=' | b'&')
        ) {
            self.out.insert(at, ' ');
        }
    }
}

/// Whether `$`/`$$` may follow `e` directly (else it is parenthesized).
/// A number or identifier would swallow the `$` when lexed.
fn pretty_base(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Member { .. } | Expr::Subscript { .. } | Expr::AtCall { .. } | Expr::Target(_)
    )
}

fn scalar(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Long => "long",
        ScalarType::String => "string",
    }
}

fn global_type(t: &GlobalType) -> String {
    match t {
        GlobalType::Scalar(s) => scalar(*s).to_string(),
        GlobalType::Stats => "stats".to_string(),
        GlobalType::Array { keys, value } => {
            let ks: Vec<&str> = keys.iter().map(|k| scalar(*k)).collect();
            format!("{}[{}]", value.map_or("stats", scalar), ks.join(", "))
        }
    }
}

fn literal(l: &script::Literal) -> String {
    match l {
        script::Literal::Long(n) => n.to_string(),
        script::Literal::String(s) => escape_string(s),
    }
}

fn point_kind(k: &PointKind) -> String {
    match k {
        PointKind::Begin { priority } => format!("begin (priority {priority})"),
        PointKind::End { priority } => format!("end (priority {priority})"),
        PointKind::Error { priority } => format!("error (priority {priority})"),
        PointKind::Never => "never".into(),
        PointKind::Oneshot => "oneshot".into(),
        PointKind::Timer { period_ns, profile } => {
            format!(
                "timer period {period_ns} ns{}",
                if *profile { ", every cpu" } else { "" }
            )
        }
        PointKind::Tracepoint { group, name } => format!("tracepoint {group}:{name}"),
        PointKind::Syscall { name, ret } => {
            format!(
                "tracepoint syscalls:sys_{}_{name}",
                if *ret { "exit" } else { "enter" }
            )
        }
        PointKind::KernelFunction { function, ret } => {
            format!("{} {function}", if *ret { "kretprobe" } else { "kprobe" })
        }
        PointKind::Process { path, symbol, ret } => {
            format!(
                "{} {path}:{symbol}",
                if *ret { "uretprobe" } else { "uprobe" }
            )
        }
        PointKind::Perf {
            type_,
            config,
            sample_period,
        } => {
            format!("perf type {type_} config {config} sample {sample_period}")
        }
    }
}

/// `-p2`: `# globals` (`name:type`), `# functions` (signatures and typed
/// bodies), `# probes` (each point with what it resolved to, the handler's
/// locals and typed body).
pub fn print_script(s: &script::Script) -> String {
    let mut out = String::new();
    out.push_str("# globals\n");
    for g in s.globals.values() {
        let _ = write!(out, "{}:{}", g.name, global_type(&g.ty));
        if let Some(n) = g.max_entries {
            let _ = write!(out, " max_entries={n}");
        }
        if let Some(i) = &g.init {
            let _ = write!(out, " = {}", literal(i));
        }
        out.push('\n');
    }
    out.push_str("# functions\n");
    for f in s.functions.values() {
        let params: Vec<String> = f
            .params
            .iter()
            .map(|&p| format!("{}:{}", f.locals[p].name, scalar(f.locals[p].ty)))
            .collect();
        let _ = write!(
            out,
            "{}:{} ({})",
            f.name,
            f.ret.map_or("void", scalar),
            params.join(", ")
        );
        if f.recursive {
            out.push_str(" recursive");
        }
        out.push('\n');
        locals(&mut out, &f.locals, f.params.len());
        let mut bp = BodyPrinter {
            s,
            locals: &f.locals,
            out: &mut out,
            indent: 0,
        };
        bp.stmt(&f.body);
        out.push('\n');
    }
    out.push_str("# probes\n");
    for p in &s.probes {
        for pt in &p.points {
            let _ = writeln!(out, "{} /* <- {} */", pt.text, point_kind(&pt.kind));
        }
        locals(&mut out, &p.locals, 0);
        let mut bp = BodyPrinter {
            s,
            locals: &p.locals,
            out: &mut out,
            indent: 0,
        };
        bp.stmt(&p.body);
        out.push('\n');
    }
    out
}

pub fn builtin_name(b: script::Builtin) -> &'static str {
    use script::Builtin as B;
    match b {
        B::Exit => "exit",
        B::Error => "error",
        B::Pid => "pid",
        B::Tid => "tid",
        B::Ppid => "ppid",
        B::Uid => "uid",
        B::Gid => "gid",
        B::Euid => "euid",
        B::Execname => "execname",
        B::Cpu => "cpu",
        B::Pp => "pp",
        B::Probefunc => "probefunc",
        B::Name => "name",
        B::GettimeofdayS => "gettimeofday_s",
        B::GettimeofdayMs => "gettimeofday_ms",
        B::GettimeofdayUs => "gettimeofday_us",
        B::GettimeofdayNs => "gettimeofday_ns",
        B::KtimeGetNs => "ktime_get_ns",
        B::Jiffies => "jiffies",
        B::Target => "target",
        B::Strlen => "strlen",
        B::Substr => "substr",
        B::Isinstr => "isinstr",
        B::Strtol => "strtol",
        B::StrReplace => "str_replace",
        B::TextStr => "text_str",
        B::KernelString => "kernel_string",
        B::UserString => "user_string",
        B::KernelLong => "kernel_long",
        B::KernelInt => "kernel_int",
        B::UserLong => "user_long",
        B::UserInt => "user_int",
        B::IntArg => "int_arg",
        B::LongArg => "long_arg",
        B::UintArg => "uint_arg",
        B::UlongArg => "ulong_arg",
        B::PointerArg => "pointer_arg",
        B::Returnval => "returnval",
        B::Abs => "abs",
        B::Min => "min",
        B::Max => "max",
        B::Randint => "randint",
    }
}

/// Prints a resolved body: fully parenthesised, every variable annotated
/// with its type, print-family calls shown as the formats they became.
struct BodyPrinter<'a> {
    s: &'a script::Script,
    locals: &'a cranelift_entity::PrimaryMap<script::LocalId, script::Local>,
    out: &'a mut String,
    indent: usize,
}

impl BodyPrinter<'_> {
    fn nl(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn var(&mut self, v: script::VarRef) {
        match v {
            script::VarRef::Local(l) => {
                let l = &self.locals[l];
                let _ = write!(self.out, "{}:{}", l.name, scalar(l.ty));
            }
            script::VarRef::Global(g) => self.out.push_str(&self.s.globals[g].name),
        }
    }

    fn keys(&mut self, keys: &[script::Expr]) {
        self.out.push('[');
        self.list(keys);
        self.out.push(']');
    }

    fn list(&mut self, es: &[script::Expr]) {
        for (k, e) in es.iter().enumerate() {
            if k > 0 {
                self.out.push_str(", ");
            }
            self.expr(e);
        }
    }

    fn stat(&mut self, st: &script::StatRef) {
        match st {
            script::StatRef::Global(g) => self.out.push_str(&self.s.globals[*g].name),
            script::StatRef::Index { array, keys } => {
                self.out.push_str(&self.s.globals[*array].name);
                self.keys(keys);
            }
        }
    }

    fn lvalue(&mut self, l: &script::LValue) {
        match l {
            script::LValue::Var(v) => self.var(*v),
            script::LValue::Index { array, keys } => {
                self.out.push_str(&self.s.globals[*array].name);
                self.keys(keys);
            }
        }
    }

    fn stmt(&mut self, st: &script::Stmt) {
        use script::StmtKind as K;
        match &st.kind {
            K::Block(ss) => {
                self.out.push('{');
                self.indent += 1;
                for s in ss {
                    self.nl();
                    self.stmt(s);
                }
                self.indent -= 1;
                self.nl();
                self.out.push('}');
            }
            K::Expr(e) => self.expr(e),
            K::If { cond, then, else_ } => {
                self.out.push_str("if (");
                self.expr(cond);
                self.out.push_str(") ");
                self.stmt(then);
                if let Some(e) = else_ {
                    self.out.push_str(" else ");
                    self.stmt(e);
                }
            }
            K::While { cond, body } => {
                self.out.push_str("while (");
                self.expr(cond);
                self.out.push_str(") ");
                self.stmt(body);
            }
            K::For {
                init,
                cond,
                step,
                body,
            } => {
                self.out.push_str("for (");
                for (k, e) in [init, cond, step].into_iter().enumerate() {
                    if k > 0 {
                        self.out.push_str("; ");
                    }
                    if let Some(e) = e {
                        self.expr(e);
                    }
                }
                self.out.push_str(") ");
                self.stmt(body);
            }
            K::Foreach(f) => {
                self.out.push_str("foreach (");
                if let Some(v) = f.value {
                    self.var(script::VarRef::Local(v));
                    self.out.push_str(" = ");
                }
                self.out.push('[');
                for (k, key) in f.keys.iter().enumerate() {
                    if k > 0 {
                        self.out.push_str(", ");
                    }
                    self.var(script::VarRef::Local(*key));
                }
                let _ = write!(self.out, "] in {}", self.s.globals[f.array].name);
                if let Some(srt) = f.sort {
                    let dir = if srt.descending { "-" } else { "+" };
                    match srt.by {
                        script::SortBy::Key(k) => {
                            let _ = write!(self.out, " sort key {k} {dir}");
                        }
                        script::SortBy::Value => {
                            let _ = write!(self.out, " sort value {dir}");
                        }
                    }
                }
                if let Some(l) = &f.limit {
                    self.out.push_str(" limit ");
                    self.expr(l);
                }
                self.out.push_str(") ");
                self.stmt(&f.body);
            }
            K::Break => self.out.push_str("break"),
            K::Continue => self.out.push_str("continue"),
            K::Next => self.out.push_str("next"),
            K::Return(e) => {
                self.out.push_str("return");
                if let Some(e) = e {
                    self.out.push(' ');
                    self.expr(e);
                }
            }
            K::Delete(d) => {
                self.out.push_str("delete ");
                match d {
                    script::Delete::Var(v) => self.var(*v),
                    script::Delete::Element { array, keys } => {
                        self.out.push_str(&self.s.globals[*array].name);
                        self.keys(keys);
                    }
                    script::Delete::Array(a) => {
                        let _ = write!(self.out, "{}[*]", self.s.globals[*a].name);
                    }
                }
            }
            K::Try {
                body,
                catch_var,
                handler,
            } => {
                self.out.push_str("try ");
                self.stmt(body);
                self.out.push_str(" catch ");
                if let Some(v) = catch_var {
                    self.out.push('(');
                    self.var(script::VarRef::Local(*v));
                    self.out.push_str(") ");
                }
                self.stmt(handler);
            }
            K::Empty => self.out.push(';'),
        }
    }

    fn expr(&mut self, e: &script::Expr) {
        use script::ExprKind as K;
        match &e.kind {
            K::Number(n) => {
                let _ = write!(self.out, "{n}");
            }
            K::Str(st) => self.out.push_str(&escape_string(st)),
            K::Var(v) => self.var(*v),
            K::Index { array, keys } => {
                self.out.push_str(&self.s.globals[*array].name);
                self.keys(keys);
            }
            K::In { array, keys } => {
                self.out.push('(');
                self.keys(keys);
                let _ = write!(self.out, " in {})", self.s.globals[*array].name);
            }
            K::Assign {
                target,
                op,
                concat,
                value,
            } => {
                self.out.push('(');
                self.lvalue(target);
                let o = if *concat {
                    ".=".to_string()
                } else {
                    op.map_or("=".to_string(), |o| format!("{}=", binop(o)))
                };
                let _ = write!(self.out, " {o} ");
                self.expr(value);
                self.out.push(')');
            }
            K::IncDec {
                target,
                increment,
                prefix,
            } => {
                let o = if *increment { "++" } else { "--" };
                self.out.push('(');
                if *prefix {
                    self.out.push_str(o);
                }
                self.lvalue(target);
                if !*prefix {
                    self.out.push_str(o);
                }
                self.out.push(')');
            }
            K::Unary(op, a) => {
                self.out.push_str(match op {
                    script::UnaryOp::Neg => "-",
                    script::UnaryOp::Not => "!",
                    script::UnaryOp::BitNot => "~",
                });
                self.out.push('(');
                self.expr(a);
                self.out.push(')');
            }
            K::Binary(op, a, b) => self.infix(a, binop(*op), b),
            K::Compare(op, a, b) => {
                let o = match op {
                    script::CmpOp::Eq => "==",
                    script::CmpOp::Ne => "!=",
                    script::CmpOp::Lt => "<",
                    script::CmpOp::Le => "<=",
                    script::CmpOp::Gt => ">",
                    script::CmpOp::Ge => ">=",
                };
                self.infix(a, o, b)
            }
            K::Logical(op, a, b) => self.infix(
                a,
                if *op == script::LogicalOp::And {
                    "&&"
                } else {
                    "||"
                },
                b,
            ),
            K::Concat(a, b) => self.infix(a, ".", b),
            K::Ternary(c, a, b) => {
                self.out.push('(');
                self.expr(c);
                self.out.push_str(" ? ");
                self.expr(a);
                self.out.push_str(" : ");
                self.expr(b);
                self.out.push(')');
            }
            K::Call { func, args } => {
                let _ = write!(self.out, "{}(", self.s.functions[*func].name);
                self.list(args);
                self.out.push(')');
            }
            K::Builtin { func, args } => {
                let _ = write!(self.out, "{}(", builtin_name(*func));
                self.list(args);
                self.out.push(')');
            }
            K::Format { format, args, use_ } => {
                let f = if *use_ == script::FormatUse::Print {
                    "printf"
                } else {
                    "sprintf"
                };
                let _ = write!(self.out, "{f}({}", escape_string(format));
                for a in args {
                    self.out.push_str(", ");
                    self.expr(a);
                }
                self.out.push(')');
            }
            K::PrintHist { kind, stat } => {
                match kind {
                    script::HistKind::Log => self.out.push_str("print(@hist_log("),
                    script::HistKind::Linear { .. } => self.out.push_str("print(@hist_linear("),
                }
                self.stat(stat);
                if let script::HistKind::Linear {
                    start,
                    stop,
                    interval,
                } = kind
                {
                    let _ = write!(self.out, ", {start}, {stop}, {interval}");
                }
                self.out.push_str("))");
            }
            K::Aggregate { op, stat } => {
                let n = match op {
                    script::AggOp::Count => "count",
                    script::AggOp::Sum => "sum",
                    script::AggOp::Min => "min",
                    script::AggOp::Max => "max",
                    script::AggOp::Avg => "avg",
                };
                let _ = write!(self.out, "@{n}(");
                self.stat(stat);
                self.out.push(')');
            }
            K::StatAdd { stat, value } => {
                self.out.push('(');
                self.stat(stat);
                self.out.push_str(" <<< ");
                self.expr(value);
                self.out.push(')');
            }
            K::Target(t) => {
                let _ = write!(self.out, "${}", t.name);
                match &t.access {
                    script::TargetAccess::Field {
                        offset,
                        size,
                        signed,
                    } => {
                        let _ = write!(
                            self.out,
                            "/* field +{offset}, {size} bytes{} */",
                            if *signed { ", signed" } else { "" }
                        );
                    }
                    script::TargetAccess::Arg(n) => {
                        let _ = write!(self.out, "/* arg {n} */");
                    }
                    script::TargetAccess::Return => self.out.push_str("/* return value */"),
                }
            }
        }
    }

    fn infix(&mut self, a: &script::Expr, op: &str, b: &script::Expr) {
        self.out.push('(');
        self.expr(a);
        let _ = write!(self.out, " {op} ");
        self.expr(b);
        self.out.push(')');
    }
}

fn binop(op: script::BinaryOp) -> &'static str {
    use script::BinaryOp as B;
    match op {
        B::Add => "+",
        B::Sub => "-",
        B::Mul => "*",
        B::Div => "/",
        B::Mod => "%",
        B::Shl => "<<",
        B::Shr => ">>",
        B::LShr => ">>>",
        B::And => "&",
        B::Or => "|",
        B::Xor => "^",
    }
}

fn locals(
    out: &mut String,
    locals: &cranelift_entity::PrimaryMap<script::LocalId, script::Local>,
    skip: usize,
) {
    let ls: Vec<String> = locals
        .values()
        .skip(skip)
        .map(|l| format!("{}:{}", l.name, scalar(l.ty)))
        .collect();
    if !ls.is_empty() {
        let _ = writeln!(out, "  locals: {}", ls.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use crate::{parse, print_ast, print_script, resolve, Options, SourceMap};

    fn p2(src: &str) -> String {
        let mut sm = SourceMap::new();
        let f = sm.add("t.stp", src);
        let opts = Options::default();
        let (ast, d) = parse(&sm, f, &opts);
        assert!(d.is_empty(), "{d:?}");
        let (s, d) = resolve(&ast, &opts);
        print_script(&s.unwrap_or_else(|| panic!("{d:?}")))
    }

    #[test]
    fn p2_shows_types_points_and_formats() {
        let out = p2("global a[10], s, t = \"x\"\nfunction f:long(n) { return n * 2 }\n\
                      probe begin, timer.ms(5) { a[1, \"k\"] = f(3); s <<< 1; println(t, @count(s)) }");
        let want = "# globals\na:long[long, string] max_entries=10\ns:stats\nt:string = \"x\"\n\
                    # functions\nf:long (n:long)\n{\n  return (n:long * 2)\n}\n\
                    # probes\nbegin /* <- begin (priority 0) */\ntimer.ms(5) /* <- timer period 5000000 ns */\n\
                    {\n  (a[1, \"k\"] = f(3))\n  (s <<< 1)\n  printf(\"%s%d\\n\", t, @count(s))\n}\n";
        assert_eq!(out, want);
    }

    #[test]
    fn p1_parenthesises_only_where_needed() {
        let mut sm = SourceMap::new();
        let f = sm.add(
            "t.stp",
            "probe begin { x = (1 + 2) * 3 - (4 - 5); y = - -x; z = \"a\\tb\" . \"\\001\" }",
        );
        let (ast, _) = parse(&sm, f, &Options::default());
        assert_eq!(
            print_ast(&ast),
            "probe begin {\n  x = (1 + 2) * 3 - (4 - 5);\n  y = - -x;\n  z = \"a\\tb\" . \"\\001\";\n}\n"
        );
    }
}
