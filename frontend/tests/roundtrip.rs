//! Property tests: for generated ASTs, parse(print_ast(ast)) is the same
//! tree (compared with `ast::dump`, which ignores spans and arena ids); and
//! arbitrary token soup never makes the frontend panic.

use proptest::prelude::*;
use stapc_frontend::ast::*;
use stapc_frontend::{parse, print_ast, render, resolve, DiagFormat, Options, SourceMap, Span};

#[derive(Clone, Debug)]
enum G {
    Num(i64),
    Str(String),
    Var(String),
    Target(String),
    Arg(u32, bool),
    Index(String, Vec<G>),
    Call(String, Vec<G>),
    At(String, Vec<G>),
    Un(UnOp, Box<G>),
    Bin(BinOp, Box<G>, Box<G>),
    Asg(AssignOp, Box<G>, Box<G>),
    IncDec(Box<G>, bool, bool),
    Tern(Box<G>, Box<G>, Box<G>),
    In(Vec<G>, String),
    Member(Box<G>, String),
    Subscript(Box<G>, Box<G>),
    AddrOf(Box<G>),
    EmbC(String),
    Pretty(Box<G>, bool),
    Wildcard,
}

#[derive(Clone, Debug)]
enum S {
    Block(Vec<S>),
    Expr(G),
    If(G, Box<S>, Option<Box<S>>),
    While(G, Box<S>),
    For(Option<G>, Option<G>, Option<G>, Box<S>),
    Foreach(
        Option<String>,
        Vec<(String, Option<SortDir>)>,
        String,
        Option<SortDir>,
        Option<G>,
        Box<S>,
    ),
    Break,
    Next,
    Return(Option<G>),
    Delete(G),
    Try(Box<S>, Option<String>, Box<S>),
    Empty,
}

const KEYWORDS: &[&str] = &[
    "probe", "global", "function", "if", "else", "while", "for", "foreach", "in", "limit", "break",
    "continue", "next", "return", "delete", "try", "catch", "private",
];

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("not a keyword", |s| !KEYWORDS.contains(&s.as_str()))
}

fn binop() -> impl Strategy<Value = BinOp> {
    use BinOp::*;
    prop::sample::select(vec![
        Add, Sub, Mul, Div, Mod, Shl, Shr, LShr, BitAnd, BitOr, BitXor, Concat, Eq, Ne, Lt, Le, Gt,
        Ge, And, Or,
    ])
}

fn assignop() -> impl Strategy<Value = AssignOp> {
    use BinOp::*;
    prop_oneof![
        Just(AssignOp::Assign),
        Just(AssignOp::StatAdd),
        prop::sample::select(vec![
            Add, Sub, Mul, Div, Mod, Shl, Shr, BitAnd, BitOr, BitXor, Concat
        ])
        .prop_map(AssignOp::Compound),
    ]
}

fn expr() -> impl Strategy<Value = G> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(G::Num),
        "[ -~\\n\\t\\x01é]{0,8}".prop_map(G::Str),
        ident().prop_map(G::Var),
        ident().prop_map(G::Target),
        (1u32..20, any::<bool>()).prop_map(|(n, s)| G::Arg(n, s)),
        "[ a-z0-9_*/]{0,8}".prop_map(G::EmbC),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        let list = prop::collection::vec(inner.clone(), 1..3);
        prop_oneof![
            (ident(), list.clone()).prop_map(|(a, k)| G::Index(a, k)),
            (ident(), prop::collection::vec(inner.clone(), 0..3)).prop_map(|(a, k)| G::Call(a, k)),
            (ident(), list.clone()).prop_map(|(a, k)| G::At(a, k)),
            (
                prop::sample::select(vec![UnOp::Neg, UnOp::Not, UnOp::BitNot, UnOp::Plus]),
                inner.clone()
            )
                .prop_map(|(o, a)| G::Un(o, Box::new(a))),
            (binop(), inner.clone(), inner.clone()).prop_map(|(o, a, b)| G::Bin(
                o,
                Box::new(a),
                Box::new(b)
            )),
            (assignop(), inner.clone(), inner.clone()).prop_map(|(o, a, b)| G::Asg(
                o,
                Box::new(a),
                Box::new(b)
            )),
            (inner.clone(), any::<bool>(), any::<bool>()).prop_map(|(a, i, p)| G::IncDec(
                Box::new(a),
                i,
                p
            )),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| G::Tern(
                Box::new(a),
                Box::new(b),
                Box::new(c)
            )),
            (list.clone(), ident()).prop_map(|(k, a)| G::In(k, a)),
            (inner.clone(), inner.clone())
                .prop_map(|(b, i)| G::Subscript(Box::new(b), Box::new(i))),
            inner.clone().prop_map(|a| G::AddrOf(Box::new(a))),
            (inner.clone(), any::<bool>()).prop_map(|(b, d)| G::Pretty(Box::new(b), d)),
            // `*` is only an index: `a[k, *]`.
            (ident(), list).prop_map(|(a, mut k)| {
                k.push(G::Wildcard);
                G::Index(a, k)
            }),
            (inner, ident()).prop_map(|(b, f)| G::Member(Box::new(b), f)),
        ]
    })
}

fn sort() -> impl Strategy<Value = Option<SortDir>> {
    prop::option::of(prop::sample::select(vec![SortDir::Asc, SortDir::Desc]))
}

/// A statement that may be an `if` branch followed by `else` (not an else-less `if`).
fn stmt() -> impl Strategy<Value = S> {
    let leaf = prop_oneof![
        expr().prop_map(S::Expr),
        Just(S::Break),
        Just(S::Next),
        Just(S::Empty),
        prop::option::of(expr()).prop_map(S::Return),
        expr().prop_map(S::Delete),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        // An `if` then-branch that ends in an else-less `if` would take the
        // `else` (the dangling-else rule); the parser never builds such trees.
        let safe = inner
            .clone()
            .prop_map(|s| if open_if(&s) { S::Block(vec![s]) } else { s });
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(S::Block),
            (expr(), safe, prop::option::of(inner.clone())).prop_map(|(c, t, e)| S::If(
                c,
                Box::new(t),
                e.map(Box::new)
            )),
            (expr(), inner.clone()).prop_map(|(c, b)| S::While(c, Box::new(b))),
            (
                prop::option::of(expr()),
                prop::option::of(expr()),
                prop::option::of(expr()),
                inner.clone()
            )
                .prop_map(|(a, b, c, d)| S::For(a, b, c, Box::new(d))),
            (
                prop::option::of(ident()),
                prop::collection::vec((ident(), sort()), 1..3),
                ident(),
                sort(),
                prop::option::of(expr()),
                inner.clone()
            )
                .prop_map(|(v, k, a, s, l, b)| S::Foreach(v, k, a, s, l, Box::new(b))),
            (inner.clone(), prop::option::of(ident()), inner).prop_map(|(b, v, h)| S::Try(
                Box::new(S::Block(vec![b])),
                v,
                Box::new(S::Block(vec![h]))
            )),
        ]
    })
}

fn open_if(s: &S) -> bool {
    match s {
        S::If(_, _, None) => true,
        S::If(_, _, Some(e)) => open_if(e),
        S::While(_, b) | S::For(_, _, _, b) | S::Foreach(_, _, _, _, _, b) => open_if(b),
        _ => false,
    }
}

fn id(name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: Span::default(),
    }
}

fn build_e(ast: &mut Ast, g: &G) -> ExprId {
    let e = match g {
        G::Num(n) => Expr::Number(*n),
        G::Str(s) => Expr::Str(s.clone()),
        G::Var(v) => Expr::Var(id(v)),
        G::Target(t) => Expr::Target(t.clone()),
        G::Arg(n, s) => Expr::ScriptArg {
            n: *n,
            as_string: *s,
        },
        G::Index(a, k) => Expr::Index {
            array: id(a),
            keys: k.iter().map(|x| build_e(ast, x)).collect(),
        },
        G::Call(a, k) => Expr::Call {
            name: id(a),
            args: k.iter().map(|x| build_e(ast, x)).collect(),
        },
        G::At(a, k) => Expr::AtCall {
            name: a.clone(),
            args: k.iter().map(|x| build_e(ast, x)).collect(),
        },
        G::Un(o, a) => Expr::Unary(*o, build_e(ast, a)),
        G::Bin(o, a, b) => Expr::Binary(*o, build_e(ast, a), build_e(ast, b)),
        G::Asg(o, a, b) => Expr::Assign(*o, build_e(ast, a), build_e(ast, b)),
        G::IncDec(a, i, p) => Expr::IncDec {
            target: build_e(ast, a),
            increment: *i,
            prefix: *p,
        },
        G::Tern(a, b, c) => Expr::Ternary(build_e(ast, a), build_e(ast, b), build_e(ast, c)),
        G::In(k, a) => Expr::In {
            keys: k.iter().map(|x| build_e(ast, x)).collect(),
            array: id(a),
        },
        G::Member(b, f) => Expr::Member {
            base: build_e(ast, b),
            field: f.clone(),
        },
        G::Subscript(b, i) => Expr::Subscript {
            base: build_e(ast, b),
            index: build_e(ast, i),
        },
        G::AddrOf(a) => Expr::AddressOf(build_e(ast, a)),
        G::EmbC(c) => Expr::EmbeddedC(c.clone()),
        G::Pretty(b, deep) => Expr::Pretty {
            base: build_e(ast, b),
            deep: *deep,
        },
        G::Wildcard => Expr::Wildcard,
    };
    ast.add_expr(e, Span::default())
}

fn build_s(ast: &mut Ast, s: &S) -> StmtId {
    let st = match s {
        S::Block(ss) => Stmt::Block(ss.iter().map(|x| build_s(ast, x)).collect()),
        S::Expr(e) => Stmt::Expr(build_e(ast, e)),
        S::If(c, t, e) => {
            let cond = build_e(ast, c);
            let then = build_s(ast, t);
            let else_ = e.as_ref().map(|e| build_s(ast, e));
            Stmt::If { cond, then, else_ }
        }
        S::While(c, b) => {
            let cond = build_e(ast, c);
            Stmt::While {
                cond,
                body: build_s(ast, b),
            }
        }
        S::For(a, b, c, d) => {
            let init = a.as_ref().map(|x| build_e(ast, x));
            let cond = b.as_ref().map(|x| build_e(ast, x));
            let step = c.as_ref().map(|x| build_e(ast, x));
            Stmt::For {
                init,
                cond,
                step,
                body: build_s(ast, d),
            }
        }
        S::Foreach(v, k, a, srt, l, b) => {
            let limit = l.as_ref().map(|x| build_e(ast, x));
            Stmt::Foreach(Foreach {
                value: v.as_deref().map(id),
                keys: k.iter().map(|(n, s)| (id(n), *s)).collect(),
                array: id(a),
                slice: None,
                array_sort: *srt,
                limit,
                body: build_s(ast, b),
            })
        }
        S::Break => Stmt::Break,
        S::Next => Stmt::Next,
        S::Return(e) => Stmt::Return(e.as_ref().map(|x| build_e(ast, x))),
        S::Delete(e) => Stmt::Delete(build_e(ast, e)),
        S::Try(b, v, h) => {
            let body = build_s(ast, b);
            let handler = build_s(ast, h);
            Stmt::Try {
                body,
                catch_var: v.as_deref().map(id),
                handler,
            }
        }
        S::Empty => Stmt::Empty,
    };
    ast.add_stmt(st, Span::default())
}

fn comp(name: String, arg: Option<PointArg>) -> Component {
    Component {
        name,
        arg,
        span: Span::default(),
    }
}

fn point_arg() -> impl Strategy<Value = Option<PointArg>> {
    prop::option::of(prop_oneof![
        any::<i64>().prop_map(PointArg::Number),
        "[a-z:/]{0,6}".prop_map(PointArg::Str),
        (1u32..9, any::<bool>()).prop_map(|(n, s)| PointArg::ScriptArg { n, as_string: s }),
    ])
}

fn script() -> impl Strategy<Value = Ast> {
    let global = (
        any::<bool>(),
        prop::collection::vec(
            (ident(), prop::option::of(expr()), prop::option::of(expr())),
            1..3,
        ),
    );
    let function = (
        ident(),
        prop::collection::vec(ident(), 0..3),
        prop::collection::vec(stmt(), 0..3),
    );
    let probe = (
        prop::collection::vec(prop::collection::vec((ident(), point_arg()), 1..3), 1..3),
        any::<bool>(),
        prop::collection::vec(stmt(), 0..4),
    );
    (
        prop::collection::vec(global, 0..2),
        prop::collection::vec(function, 0..2),
        prop::collection::vec(probe, 1..3),
    )
        .prop_map(|(gs, fs, ps)| {
            let mut ast = Ast::default();
            for (private, vars) in gs {
                let vars = vars
                    .iter()
                    .map(|(n, size, init)| GlobalVar {
                        name: id(n),
                        size: size.as_ref().map(|x| build_e(&mut ast, x)),
                        init: init.as_ref().map(|x| build_e(&mut ast, x)),
                        // Varies with the generated name: `global x%` too.
                        wrap: n.len() % 2 == 0,
                    })
                    .collect();
                ast.items.push(Item::Global(GlobalDecl {
                    private,
                    vars,
                    span: Span::default(),
                }));
            }
            for (name, params, body) in fs {
                let b = build_s(&mut ast, &S::Block(body));
                let params = params
                    .iter()
                    .enumerate()
                    .map(|(k, p)| Param {
                        name: id(p),
                        ty: [None, Some(TypeName::Long), Some(TypeName::String)][k % 3],
                    })
                    .collect();
                ast.items.push(Item::Function(FunctionDecl {
                    private: false,
                    name: id(&name),
                    ret: Some(TypeName::Long),
                    params,
                    body: FunctionBody::Block(b),
                    span: Span::default(),
                }));
            }
            for (points, optional, body) in ps {
                let b = build_s(&mut ast, &S::Block(body));
                let points = points
                    .into_iter()
                    .map(|cs| PointSpec {
                        components: cs.into_iter().map(|(n, a)| comp(n, a)).collect(),
                        optional,
                        sufficient: false,
                        condition: None,
                        span: Span::default(),
                    })
                    .collect();
                ast.items.push(Item::Probe(ProbeDecl {
                    private: false,
                    kind: ProbeKind::Plain,
                    points,
                    body: b,
                    epilogue: None,
                    span: Span::default(),
                }));
            }
            ast
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_identity(ast in script()) {
        let text = print_ast(&ast);
        let mut sm = SourceMap::new();
        let f = sm.add("gen.stp", text.clone());
        let (parsed, diags) = parse(&sm, f, &Options::default());
        prop_assert!(diags.iter().all(|d| !d.is_error()), "errors:\n{}\nin:\n{}", render(&diags, &sm, DiagFormat::Plain), text);
        prop_assert_eq!(dump(&parsed), dump(&ast), "printed:\n{}", text);
        // Printing is a fixed point too.
        prop_assert_eq!(print_ast(&parsed), text);
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(vec![
        "probe", "begin", "end", "global", "function", "f", "x", "arr", "s", "(", ")", "{", "}", "[", "]",
        ",", ";", "=", "+=", ".=", "<<<", "+", "-", "*", "/", "%", ".", "?", ":", "!", "~", "++", "--",
        "if", "else", "while", "for", "foreach", "in", "limit", "try", "catch", "delete", "return", "next",
        "break", "1", "0x10", "\"s\"", "$1", "@1", "$x", "@count", "@hist_log", "@define", "%(", "%?",
        "%:", "%)", "kernel_v", ">=", "\"5.0\"", "timer", "ms", "printf", "\"%d\"", "print", "&&", "||",
        "->", "=~", "@cast", "%{ c %}", "syscall", "read", "$fd", "#c\n", "/*", "*/", "\"", "@M",
    ]), 0..60)) {
        let text = toks.join(" ");
        let mut sm = SourceMap::new();
        let f = sm.add("soup.stp", text);
        let opts = Options::default();
        let (ast, mut diags) = parse(&sm, f, &opts);
        let _ = print_ast(&ast);
        let (script, d2) = resolve(&ast, &opts);
        if let Some(s) = &script {
            let _ = stapc_frontend::print_script(s);
        }
        diags.extend(d2);
        let _ = render(&diags, &sm, DiagFormat::Plain);
        let _ = render(&diags, &sm, DiagFormat::Json);
    }
}
