//! Property: unrolling a constant loop in a kernel probe computes exactly
//! what the same loop computes when kept (userspace), for random starts,
//! limits, steps and comparisons — including zero-trip loops, loops that
//! never end (which must be refused, never unrolled wrongly) and a `break`.

use super::*;
use crate::testing::*;
use proptest::prelude::*;
use stapc_frontend::script::*;

const SRC: &str = "global total
probe timer.ms(1) { for (i = 1; i < 8; i += 1) { if (i == 5) break; total += i } }
";

fn build(
    start: i64,
    op: CmpOp,
    limit: i64,
    step: i64,
    brk: Option<i64>,
    kernel: bool,
) -> ScriptBuilder {
    let mut b = ScriptBuilder::new("p.stp", SRC);
    let total = b.global("total", ScalarType::Long, None);
    let i = local(0);
    let init = assign(
        VarRef::Local(i),
        None,
        num(start, b.span("1;")),
        b.span("i = 1"),
    );
    let cond = cmp(op, lvar(i, b.span("i <")), num(limit, b.span("8")));
    let stepx = assign(
        VarRef::Local(i),
        Some(BinaryOp::Add),
        num(step, b.span("1)")),
        b.span("i += 1"),
    );
    let mut body = vec![expr_stmt(assign(
        VarRef::Global(total),
        Some(BinaryOp::Add),
        lvar(i, b.span("i }")),
        b.span("total += i"),
    ))];
    if let Some(k) = brk {
        body.insert(
            0,
            if_(
                cmp(CmpOp::Eq, lvar(i, b.span("i ==")), num(k, b.span("5"))),
                stmt(StmtKind::Break, b.span("break")),
                None,
                b.span("if (i == 5) break"),
            ),
        );
    }
    let floop = for_(
        Some(init),
        Some(cond),
        Some(stepx),
        block(body, b.span("{ if")),
        b.span("for"),
    );
    let kind = if kernel {
        PointKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        }
    } else {
        PointKind::Begin { priority: 0 }
    };
    let p = b.point("timer.ms(1)", kind);
    b.probe(
        "probe timer.ms(1)",
        vec![p],
        &[("i", ScalarType::Long)],
        block(vec![floop], b.span("{ for")),
    );
    b
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn unrolled_loops_compute_what_real_loops_compute(
        start in -12i64..12,
        op in cmp_op(),
        limit in -12i64..12,
        step in prop::sample::select(vec![-3i64, -2, -1, 1, 2, 3]),
        brk in prop::option::of(-12i64..12),
        opt in prop::sample::select(vec![0u8, 2]),
    ) {
        let kernel = build(start, op, limit, step, brk, true);
        let mut m = lower_ok(&kernel);
        let mut o = opts(opt);
        o.target.insn_limit_override = Some(20_000);
        match crate::optimize(&mut m, &o) {
            Ok(()) => {
                prop_assert!(crate::verify_module(&m).is_ok());
                prop_assert_eq!(crate::cfg::Cfg::compute(&m.probes[0].func).back_edges().len(), 0);
                let unrolled = super::interp::run(&m.probes[0].func, &[]);
                let user = build(start, op, limit, step, brk, false);
                let mut mu = lower_ok(&user);
                crate::optimize(&mut mu, &opts(opt)).unwrap();
                let kept = super::interp::run(&mu.probes[0].func, &[]);
                prop_assert_eq!(unrolled, kept);
            }
            Err(errs) => {
                // Refused: only because the counter never reaches the limit
                // within the budget (the loop runs "forever" by wrapping).
                prop_assert_eq!(errs.len(), 1);
                prop_assert_eq!(errs[0].code.as_str(), crate::budget::E_BUDGET);
            }
        }
    }
}
