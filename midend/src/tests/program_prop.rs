//! Property: random structured programs behave the same whatever the
//! pipeline does to them. Each is lowered and run (by the test interpreter)
//! as a userspace probe at -O0 (the reference), at -O2, and as a kernel
//! probe at -O0 and -O2 (loops unrolled); printed values, global adds and
//! the runtime error raised (by message and location) must agree, and the
//! IR must verify at every stage.

use super::interp::run;
use super::*;
use crate::testing::*;
use proptest::prelude::*;
use stapc_frontend::script::*;
use stapc_frontend::Span;

/// Locals 0..VARS are data; VARS.. are loop counters (never assigned by
/// generated bodies, so every loop has a constant trip count).
const VARS: u32 = 3;
const COUNTERS: u32 = 2;
/// String locals, after the counters: they exercise the string passes
/// (constant compares, dead and overwritten stores, copy forwarding).
const SVARS: u32 = 2;

fn str_local(k: u32) -> LocalId {
    local(VARS + COUNTERS + k)
}

fn str_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["", "a", "ab", "b", "ba", "abcdefghij"])
            .prop_map(|s| string(s, sp())),
        (0..SVARS).prop_map(|k| svar(str_local(k), sp())),
    ];
    prop_oneof![
        3 => leaf.clone(),
        1 => (leaf.clone(), leaf).prop_map(|(a, b)| concat(a, b)),
    ]
}

fn sp() -> Span {
    Span::default()
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        prop_oneof![-9i64..9, Just(i64::MIN), Just(i64::MAX), Just(64)].prop_map(|n| num(n, sp())),
        (0..VARS + COUNTERS).prop_map(|v| lvar(local(v), sp())),
    ]
}

fn expr_strategy() -> impl Strategy<Value = Expr> {
    use BinaryOp::*;
    leaf().prop_recursive(3, 24, 2, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec![CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Gt]),
                str_expr(),
                str_expr()
            )
                .prop_map(|(op, a, b)| cmp(op, a, b)),
            (
                prop::sample::select(vec![Add, Sub, Mul, Div, Mod, Shl, Shr, LShr, And, Or, Xor]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| bin(op, a, b)),
            (
                prop::sample::select(vec![
                    CmpOp::Eq,
                    CmpOp::Ne,
                    CmpOp::Lt,
                    CmpOp::Le,
                    CmpOp::Gt,
                    CmpOp::Ge
                ]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| cmp(op, a, b)),
            (
                prop::sample::select(vec![LogicalOp::And, LogicalOp::Or]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| logical(op, a, b)),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, a, b)| ternary(c, a, b)),
            (
                prop::sample::select(vec![UnaryOp::Neg, UnaryOp::Not, UnaryOp::BitNot]),
                inner
            )
                .prop_map(|(op, a)| unary(op, a, sp())),
        ]
    })
}

#[derive(Clone, Debug)]
enum S {
    Assign(u32, Expr),
    AddGlobal(Expr),
    Print(Expr),
    If(Expr, Vec<S>, Vec<S>),
    /// for (counter = 0; counter < n; counter++) body; n = 4 inside another
    /// loop means "the enclosing counter plus one" (a triangular loop).
    Loop(u32, i64, Vec<S>),
    Break,
    Continue,
    AssignStr(u32, Expr),
    AppendStr(u32, Expr),
    PrintStr(Expr),
}

fn stmt_strategy() -> impl Strategy<Value = S> {
    let leaf = prop_oneof![
        3 => (0..VARS, expr_strategy()).prop_map(|(v, e)| S::Assign(v, e)),
        1 => expr_strategy().prop_map(S::AddGlobal),
        2 => expr_strategy().prop_map(S::Print),
        1 => Just(S::Break),
        1 => Just(S::Continue),
        2 => (0..SVARS, str_expr()).prop_map(|(v, e)| S::AssignStr(v, e)),
        1 => (0..SVARS, str_expr()).prop_map(|(v, e)| S::AppendStr(v, e)),
        1 => str_expr().prop_map(S::PrintStr),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            (
                expr_strategy(),
                prop::collection::vec(inner.clone(), 0..3),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(c, a, b)| S::If(c, a, b)),
            (0..COUNTERS, 0i64..4, prop::collection::vec(inner, 1..4))
                .prop_map(|(c, n, b)| S::Loop(c, n, b)),
        ]
    })
}

/// Build statements; `counters` are the loop counters in use (a nested loop
/// must pick another); `in_loop` decides whether break/continue are legal.
fn build(stmts: &[S], total: GlobalId, counters: &mut Vec<u32>, in_loop: bool) -> Vec<Stmt> {
    let mut out = Vec::new();
    for s in stmts {
        match s {
            S::Assign(v, e) => out.push(expr_stmt(assign(
                VarRef::Local(local(*v)),
                None,
                e.clone(),
                sp(),
            ))),
            S::AddGlobal(e) => out.push(expr_stmt(assign(
                VarRef::Global(total),
                Some(BinaryOp::Add),
                e.clone(),
                sp(),
            ))),
            S::Print(e) => out.push(expr_stmt(printf("%d", vec![e.clone()], sp()))),
            S::If(c, a, b) => {
                let a = block(build(a, total, counters, in_loop), sp());
                let b = block(build(b, total, counters, in_loop), sp());
                out.push(if_(c.clone(), a, Some(b), sp()));
            }
            S::Loop(c, n, body) => {
                let Some(c) = (0..COUNTERS)
                    .map(|k| (c + k) % COUNTERS)
                    .find(|k| !counters.contains(k))
                else {
                    continue;
                };
                let var = local(VARS + c);
                let bound = match (n, counters.last()) {
                    (4, Some(&outer)) => {
                        bin(BinaryOp::Add, lvar(local(VARS + outer), sp()), num(1, sp()))
                    }
                    _ => num(*n, sp()),
                };
                counters.push(c);
                let body = block(build(body, total, counters, true), sp());
                counters.pop();
                out.push(for_(
                    Some(assign(VarRef::Local(var), None, num(0, sp()), sp())),
                    Some(cmp(CmpOp::Lt, lvar(var, sp()), bound)),
                    Some(incdec(VarRef::Local(var), true, false, sp())),
                    body,
                    sp(),
                ));
            }
            S::Break if in_loop => out.push(stmt(StmtKind::Break, sp())),
            S::Continue if in_loop => out.push(stmt(StmtKind::Continue, sp())),
            S::Break | S::Continue => {}
            S::AssignStr(v, e) => out.push(expr_stmt(assign(
                VarRef::Local(str_local(*v)),
                None,
                e.clone(),
                sp(),
            ))),
            S::AppendStr(v, e) => out.push(expr_stmt(assign_concat(
                VarRef::Local(str_local(*v)),
                e.clone(),
                sp(),
            ))),
            S::PrintStr(e) => out.push(expr_stmt(printf("%s|", vec![e.clone()], sp()))),
        }
    }
    out
}

fn script(stmts: &[S], kernel: bool) -> ScriptBuilder {
    let mut b = ScriptBuilder::new("r.stp", "global total\nprobe x {}\n");
    let total = b.global("total", ScalarType::Long, None);
    let body = block(build(stmts, total, &mut Vec::new(), false), sp());
    let kind = if kernel {
        PointKind::Timer {
            period_ns: 1000,
            profile: false,
        }
    } else {
        PointKind::Begin { priority: 0 }
    };
    let p = ProbePoint {
        span: sp(),
        text: "x".into(),
        kind,
    };
    let names: Vec<String> = (0..VARS + COUNTERS + SVARS)
        .map(|i| format!("l{i}"))
        .collect();
    let locals: Vec<(&str, ScalarType)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let ty = if i as u32 >= VARS + COUNTERS {
                ScalarType::String
            } else {
                ScalarType::Long
            };
            (n.as_str(), ty)
        })
        .collect();
    b.probe("probe x", vec![p], &locals, body);
    b
}

/// What a run did: the printed text, the global adds, the error as
/// (message, location).
type Outcome = (String, Vec<i64>, Option<(String, String)>);

/// Render a record: the generated formats only use `%d` (and `%%` after
/// literal folding).
fn render(text: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut rest = text;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 2) {
            Some("%") => out.push('%'),
            _ => out.push_str(args.next().map(String::as_str).unwrap_or_default()),
        }
        rest = &rest[(i + 2).min(rest.len())..];
    }
    out.push_str(rest);
    out.push('|');
    out
}

fn outcome(stmts: &[S], kernel: bool, opt: u8) -> Result<Outcome, TestCaseError> {
    let b = script(stmts, kernel);
    let mut m = crate::lower(&b.script, &b.sm, &opts(opt))
        .map_err(|d| TestCaseError::fail(format!("lower: {d:?}")))?;
    prop_assert!(crate::verify_module(&m).is_ok());
    let mut o = opts(opt);
    o.target.insn_limit_override = Some(1_000_000);
    crate::optimize(&mut m, &o).map_err(|d| TestCaseError::fail(format!("optimize: {d:?}")))?;
    prop_assert!(crate::verify_module(&m).is_ok());
    if kernel {
        prop_assert_eq!(
            crate::cfg::Cfg::compute(&m.probes[0].func)
                .back_edges()
                .len(),
            0
        );
    }
    let r = run(&m.probes[0].func, &[]);
    let err = r.trapped.map(|e| {
        let e = &m.errors[e as usize];
        (e.message.clone(), e.location.clone())
    });
    // Format ids and texts differ with pruning and literal folding: compare
    // what a user would see.
    let printed = r
        .printed
        .iter()
        .zip(&r.printed_text)
        .map(|((f, _), a)| render(&m.formats[*f as usize].text, a))
        .collect();
    Ok((printed, r.globals_added, err))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_pipeline_agrees(stmts in prop::collection::vec(stmt_strategy(), 1..6)) {
        let reference = outcome(&stmts, false, 0)?;
        prop_assert_eq!(&outcome(&stmts, false, 2)?, &reference, "userspace -O2");
        prop_assert_eq!(&outcome(&stmts, true, 0)?, &reference, "kernel -O0");
        prop_assert_eq!(&outcome(&stmts, true, 2)?, &reference, "kernel -O2");
    }
}
