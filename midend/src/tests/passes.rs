//! Loops, unrolling, the kernel loop rule and the budget, on the shapes of
//! the conformance scripts; and each scalar pass.

use super::*;
use crate::ir::{Function, InstData};
use crate::testing::*;
use stapc_frontend::script::*;

const CONST_LOOP: &str = "global total
probe timer.ms(1) {
  for (i = 1; i <= 8; i++) total += i
  printf(\"total=%d\\n\", total)
  exit()
}
";

/// `for (i = START; i CMP LIMIT; i++) total += i` in a timer probe.
fn const_loop(
    src: &str,
    start: i64,
    cmp_op: CmpOp,
    limit: i64,
    body_mul: Option<i64>,
) -> ScriptBuilder {
    let mut b = ScriptBuilder::new("k.stp", src);
    let total = b.global("total", ScalarType::Long, None);
    let i = local(0);
    let init = assign(
        VarRef::Local(i),
        None,
        num(start, b.span("1")),
        b.span("i = 1"),
    );
    let cond = cmp(cmp_op, lvar(i, b.span_nth("i", 2)), num(limit, b.span("8")));
    let step = incdec(VarRef::Local(i), true, false, b.span("i++"));
    let mut rhs = lvar(i, b.span_nth("i", 4));
    if let Some(k) = body_mul {
        rhs = bin(BinaryOp::Mul, rhs, num(k, b.span("8")));
    }
    let add = assign(
        VarRef::Global(total),
        Some(BinaryOp::Add),
        rhs,
        b.span("total += i"),
    );
    let floop = for_(
        Some(init),
        Some(cond),
        Some(step),
        expr_stmt(add),
        b.span("for (i = 1; i <= 8; i++) total += i"),
    );
    let pr = printf(
        "total=%d\n",
        vec![gvar(total, Type::Long, b.span_nth("total", 3))],
        b.span("printf"),
    );
    let ex = builtin(Builtin::Exit, vec![], Type::Void, b.span("exit()"));
    let body = block(
        vec![floop, expr_stmt(pr), expr_stmt(ex)],
        b.span("{\n  for"),
    );
    let p = b.point(
        "timer.ms(1)",
        PointKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        },
    );
    b.probe(
        "probe timer.ms(1)",
        vec![p],
        &[("i", ScalarType::Long)],
        body,
    );
    b
}

fn back_edges(f: &Function) -> usize {
    crate::cfg::Cfg::compute(f).back_edges().len()
}

fn atomic_adds(f: &Function) -> Vec<i64> {
    let mut out = Vec::new();
    for &b in &f.layout {
        for &i in &f.blocks[b].insts {
            if let InstData::AtomicAddGlobal { arg, .. } = f.insts[i] {
                out.push(f.const_value(arg).unwrap_or(i64::MIN));
            }
        }
    }
    out
}

#[test]
fn for_loop_lowers_to_a_real_loop_with_block_params() {
    let b = const_loop(CONST_LOOP, 1, CmpOp::Le, 8, None);
    let m = lower_ok(&b);
    let f = &m.probes[0].func;
    assert_eq!(m.probes[0].func.name, "timer_0");
    assert_eq!(back_edges(f), 1);
    assert_eq!(
        funcs(&m),
        "function timer_0 {   ; probe timer.ms(1)  (perf_event)
block0:
    v0 = iconst 1
    jump block1(v0)
block1(v1):
    v2 = iconst 8
    v3 = icmp sle v1, v2
    brif v3, block2, block4
block2:
    atomic_add_global +0, v1
    jump block3
block3:
    v4 = iconst 1
    v5 = iadd v1, v4
    jump block1(v5)
block4:
    v6 = load_global +0
    printf format0(v6)
    exit
    return
}
"
    );
    crate::verify_module(&m).unwrap();
}

#[test]
fn constant_kernel_loop_is_unrolled_and_folded() {
    for opt in [0, 2] {
        let b = const_loop(CONST_LOOP, 1, CmpOp::Le, 8, None);
        let mut m = lower_ok(&b);
        crate::optimize(&mut m, &opts(opt)).unwrap();
        let f = &m.probes[0].func;
        assert_eq!(back_edges(f), 0, "O{opt}\n{}", crate::print_module(&m));
        crate::verify_module(&m).unwrap();
        if opt == 2 {
            assert_eq!(atomic_adds(f), vec![1, 2, 3, 4, 5, 6, 7, 8]);
            // Straight-line code: one block.
            assert_eq!(f.layout.len(), 1, "{}", crate::print_module(&m));
        } else {
            assert_eq!(atomic_adds(f).len(), 8);
        }
    }
}

#[test]
fn zero_trip_and_downward_loops() {
    // i = 1; i <= 0: never runs.
    let b = const_loop(CONST_LOOP, 1, CmpOp::Le, 0, None);
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(2)).unwrap();
    assert_eq!(atomic_adds(&m.probes[0].func), Vec::<i64>::new());
    // i = 1; i != 8 with i++: 7 trips.
    let b = const_loop(CONST_LOOP, 1, CmpOp::Ne, 8, None);
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(2)).unwrap();
    assert_eq!(atomic_adds(&m.probes[0].func), vec![1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn userspace_probes_keep_real_loops() {
    let mut b = const_loop(CONST_LOOP, 1, CmpOp::Le, 8, None);
    b.script.probes[0].points[0].kind = PointKind::Begin { priority: 0 };
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(2)).unwrap();
    assert_eq!(back_edges(&m.probes[0].func), 1);
    crate::verify_module(&m).unwrap();
}

#[test]
fn budget_error_names_the_loop_and_the_limit() {
    let src = "# stapc-args: --target-kernel 4.14
global total
probe timer.ms(1) {
  for (i = 1; i <= 8; i++) total += i
  printf(\"total=%d\\n\", total)
  exit()
}
";
    let b = const_loop(src, 0, CmpOp::Lt, 5000, Some(3));
    let mut m = lower_ok(&b);
    let errs = crate::optimize(&mut m, &opts(2)).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let d = &errs[0];
    assert!(d.message.contains("4096"), "{}", d.message);
    assert!(
        d.message.starts_with("probe timer.ms(1) needs about "),
        "{}",
        d.message
    );
    let label = &d.labels[0];
    assert!(label.primary);
    assert_eq!(b.sm.location(label.span), "k.stp:4:3");
    assert!(
        label.message.contains("unrolled 5000 times"),
        "{}",
        label.message
    );
    // The function was not blown up by a partial unroll.
    assert!(m.probes[0].func.inst_count() < 100);
}

#[test]
fn privileged_target_allows_the_big_loop() {
    let b = const_loop(CONST_LOOP, 0, CmpOp::Lt, 5000, Some(3));
    let mut m = lower_ok(&b);
    let mut o = opts(2);
    o.target = stapc_bpf::Target::new(stapc_bpf::KernelVersion::new(6, 1));
    o.target.privileged = true;
    crate::optimize(&mut m, &o).unwrap();
    let adds = atomic_adds(&m.probes[0].func);
    assert_eq!(adds.len(), 5000);
    assert_eq!(adds[4999], 4999 * 3);
}

#[test]
fn unbounded_kernel_loop_is_an_error_at_the_loop() {
    let src = "global n, limit_v = 1000
probe timer.ms(1) {
  i = 0
  while (i < limit_v) i++
  n += i
}
";
    let mut b = ScriptBuilder::new("u.stp", src);
    let n = b.global("n", ScalarType::Long, None);
    let lim = b.global("limit_v", ScalarType::Long, Some(Literal::Long(1000)));
    let i = local(0);
    let body = block(
        vec![
            expr_stmt(assign(
                VarRef::Local(i),
                None,
                num(0, b.span("0")),
                b.span("i = 0"),
            )),
            while_(
                cmp(
                    CmpOp::Lt,
                    lvar(i, b.span_nth("i", 4)),
                    gvar(lim, Type::Long, b.span_nth("limit_v", 1)),
                ),
                expr_stmt(incdec(VarRef::Local(i), true, false, b.span("i++"))),
                b.span("while (i < limit_v) i++"),
            ),
            expr_stmt(assign(
                VarRef::Global(n),
                Some(BinaryOp::Add),
                lvar(i, b.span("i\n}")),
                b.span("n += i"),
            )),
        ],
        b.span("{\n  i = 0"),
    );
    let p = b.point(
        "timer.ms(1)",
        PointKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        },
    );
    b.probe(
        "probe timer.ms(1)",
        vec![p],
        &[("i", ScalarType::Long)],
        body,
    );
    let mut m = lower_ok(&b);
    assert_eq!(&m.globals.init[8..16], &1000i64.to_le_bytes());
    let errs = crate::optimize(&mut m, &opts(2)).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].code, crate::E_UNBOUNDED_LOOP);
    assert!(errs[0].message.contains("loop"));
    assert_eq!(b.sm.location(errs[0].primary_span().unwrap()), "u.stp:4:3");
    assert!(errs[0].help.as_deref().unwrap_or("").contains("constant"));
}

#[test]
fn loop_value_used_after_the_loop_is_repaired() {
    // i = 0; while (i < 3) i++; n += i  (kernel): after unrolling, n += 3.
    let src = "global n
probe timer.ms(1) {
  i = 0
  while (i < 3) i++
  n += i
}
";
    let mut b = ScriptBuilder::new("r.stp", src);
    let n = b.global("n", ScalarType::Long, None);
    let i = local(0);
    let body = block(
        vec![
            expr_stmt(assign(
                VarRef::Local(i),
                None,
                num(0, b.span("0")),
                b.span("i = 0"),
            )),
            while_(
                cmp(CmpOp::Lt, lvar(i, b.span_nth("i", 4)), num(3, b.span("3"))),
                expr_stmt(incdec(VarRef::Local(i), true, false, b.span("i++"))),
                b.span("while (i < 3) i++"),
            ),
            expr_stmt(assign(
                VarRef::Global(n),
                Some(BinaryOp::Add),
                lvar(i, b.span("i\n}")),
                b.span("n += i"),
            )),
        ],
        b.span("{\n  i = 0"),
    );
    let p = b.point(
        "timer.ms(1)",
        PointKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        },
    );
    b.probe(
        "probe timer.ms(1)",
        vec![p],
        &[("i", ScalarType::Long)],
        body,
    );
    for opt in [0, 2] {
        let mut m = lower_ok(&b);
        crate::optimize(&mut m, &opts(opt)).unwrap();
        crate::verify_module(&m).unwrap();
        let f = &m.probes[0].func;
        assert_eq!(back_edges(f), 0);
        if opt == 2 {
            assert_eq!(atomic_adds(f), vec![3], "{}", crate::print_module(&m));
        }
        let r = super::interp::run(f, &[]);
        assert_eq!(r.globals_added, vec![3]);
    }
}

// ---- the scalar passes, one by one, on hand-built IR ----

use crate::ir::{BinaryOp as IrBin, OutArg};
use crate::passes;
use stapc_frontend::Span;

fn fblock(f: &mut Function) -> crate::ir::Block {
    f.create_block()
}

#[test]
fn constant_folding_follows_c_and_leaves_division_by_zero() {
    let s = Span::default();
    let mut f = Function::new("f");
    let b = fblock(&mut f);
    let a = f.append(b, InstData::Iconst { imm: -7 }, s).unwrap();
    let two = f.append(b, InstData::Iconst { imm: 2 }, s).unwrap();
    let zero = f.append(b, InstData::Iconst { imm: 0 }, s).unwrap();
    let q = f
        .append(
            b,
            InstData::Binary {
                op: IrBin::SDiv,
                args: [a, two],
            },
            s,
        )
        .unwrap();
    let r = f
        .append(
            b,
            InstData::Binary {
                op: IrBin::SRem,
                args: [a, two],
            },
            s,
        )
        .unwrap();
    let min = f.append(b, InstData::Iconst { imm: i64::MIN }, s).unwrap();
    let m1 = f.append(b, InstData::Iconst { imm: -1 }, s).unwrap();
    let w = f
        .append(
            b,
            InstData::Binary {
                op: IrBin::SDiv,
                args: [min, m1],
            },
            s,
        )
        .unwrap();
    let z = f
        .append(
            b,
            InstData::Binary {
                op: IrBin::SDiv,
                args: [a, zero],
            },
            s,
        )
        .unwrap();
    let sh = f.append(b, InstData::Iconst { imm: 64 }, s).unwrap();
    let bad = f
        .append(
            b,
            InstData::Binary {
                op: IrBin::Shl,
                args: [a, sh],
            },
            s,
        )
        .unwrap();
    let args = [q, r, w, z, bad].iter().map(|v| OutArg::Long(*v)).collect();
    f.append(b, InstData::Printf { format: 0, args }, s);
    f.append(b, InstData::Return, s);
    assert!(passes::fold_constants(&mut f));
    assert_eq!(f.const_value(q), Some(-3));
    assert_eq!(f.const_value(r), Some(-1));
    assert_eq!(f.const_value(w), Some(i64::MIN));
    assert_eq!(f.const_value(z), None);
    assert_eq!(f.const_value(bad), None);
    crate::verify_function(&f).unwrap();
}

#[test]
fn branch_folding_and_unreachable_removal() {
    let s = Span::default();
    let mut f = Function::new("f");
    let b0 = fblock(&mut f);
    let b1 = fblock(&mut f);
    let b2 = fblock(&mut f);
    let c = f.append(b0, InstData::Iconst { imm: 0 }, s).unwrap();
    f.append(
        b0,
        InstData::Brif {
            cond: c,
            then_dest: b1,
            then_args: vec![],
            else_dest: b2,
            else_args: vec![],
        },
        s,
    );
    f.append(b1, InstData::Exit, s);
    f.append(b1, InstData::Return, s);
    f.append(b2, InstData::Return, s);
    assert!(passes::fold_branches(&mut f));
    assert_eq!(
        f.insts[f.terminator(b0).unwrap()],
        InstData::Jump {
            dest: b2,
            args: vec![]
        }
    );
    assert!(passes::eliminate_unreachable_code(&mut f));
    assert_eq!(f.layout, vec![b0, b2]);
    assert!(!passes::eliminate_unreachable_code(&mut f));
    crate::verify_function(&f).unwrap();
}

#[test]
fn dce_keeps_side_effects_and_drops_dead_values_and_params() {
    let s = Span::default();
    let mut f = Function::new("f");
    let b0 = fblock(&mut f);
    let b1 = fblock(&mut f);
    let p = f.append_block_param(b1);
    let dead = f.append(b0, InstData::Iconst { imm: 1 }, s).unwrap();
    let _dead2 = f
        .append(
            b0,
            InstData::Binary {
                op: IrBin::Add,
                args: [dead, dead],
            },
            s,
        )
        .unwrap();
    let live = f.append(b0, InstData::Iconst { imm: 2 }, s).unwrap();
    f.append(
        b0,
        InstData::StoreGlobal {
            offset: 0,
            arg: live,
        },
        s,
    );
    let _unused_load = f.append(b0, InstData::LoadGlobal { offset: 0 }, s);
    f.append(
        b0,
        InstData::Jump {
            dest: b1,
            args: vec![dead],
        },
        s,
    );
    f.append(
        b1,
        InstData::Binary {
            op: IrBin::Mul,
            args: [p, p],
        },
        s,
    );
    f.append(b1, InstData::Return, s);
    assert!(passes::eliminate_dead_code(&mut f));
    crate::verify_function(&f).unwrap();
    assert_eq!(
        crate::print_function(&f, None),
        "function f {\nblock0:\n    v3 = iconst 2\n    store_global +0, v3\n    jump block1\nblock1:\n    return\n}\n"
    );
}

#[test]
fn block_merging_and_trivial_params() {
    let s = Span::default();
    let mut f = Function::new("f");
    let b0 = fblock(&mut f);
    let b1 = fblock(&mut f);
    let b2 = fblock(&mut f);
    let p1 = f.append_block_param(b1);
    let v = f.append(b0, InstData::Iconst { imm: 4 }, s).unwrap();
    f.append(
        b0,
        InstData::Jump {
            dest: b1,
            args: vec![v],
        },
        s,
    );
    f.append(b1, InstData::StoreGlobal { offset: 0, arg: p1 }, s);
    f.append(
        b1,
        InstData::Jump {
            dest: b2,
            args: vec![],
        },
        s,
    );
    f.append(b2, InstData::Return, s);
    assert!(passes::merge_blocks(&mut f));
    crate::verify_function(&f).unwrap();
    assert_eq!(
        crate::print_function(&f, None),
        "function f {\nblock0:\n    v1 = iconst 4\n    store_global +0, v1\n    return\n}\n"
    );
}

#[test]
fn proptest_like_smoke_of_interp() {
    // The interpreter agrees with C on the classic cases.
    use super::interp::binary;
    assert_eq!(binary(IrBin::SDiv, 7, -3), Some(-2));
    assert_eq!(binary(IrBin::SRem, 7, -3), Some(1));
    assert_eq!(binary(IrBin::SRem, i64::MIN, -1), Some(0));
    assert_eq!(binary(IrBin::LShr, -16, 60), Some(15));
}

#[test]
fn trip_counts_see_through_constant_arithmetic_at_o0() {
    // for (i = 2 * 3; i < 4 << 1; i += 1 + 0) total += i   →  6, 7
    let mut b = const_loop(CONST_LOOP, 0, CmpOp::Lt, 0, None);
    let StmtKind::Block(stmts) = &mut b.script.probes[0].body.kind else {
        panic!()
    };
    let StmtKind::For {
        init, cond, step, ..
    } = &mut stmts[0].kind
    else {
        panic!()
    };
    let s = Span::default();
    let i = local(0);
    *init = Some(assign(
        VarRef::Local(i),
        None,
        bin(BinaryOp::Mul, num(2, s), num(3, s)),
        s,
    ));
    *cond = Some(cmp(
        CmpOp::Lt,
        lvar(i, s),
        bin(BinaryOp::Shl, num(4, s), num(1, s)),
    ));
    *step = Some(assign(
        VarRef::Local(i),
        Some(BinaryOp::Add),
        bin(BinaryOp::Add, num(1, s), num(0, s)),
        s,
    ));
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(0)).unwrap();
    let r = super::interp::run(&m.probes[0].func, &[]);
    assert_eq!(r.globals_added, vec![6, 7]);
}

#[test]
fn budget_error_points_at_the_costliest_statement() {
    let src = "probe timer.s(1) { x = 1; s = s . s . s . s . s . s . s . s . s . s . s . s; printf(\"%d%s\", x, s) }";
    let mut b = ScriptBuilder::new("b.stp", src);
    let (x, s) = (local(0), local(1));
    let mut chain = svar(s, b.span("s ."));
    for _ in 0..11 {
        chain = concat(chain, svar(s, b.span("s;")));
    }
    let chain_stmt = expr_stmt(assign(
        VarRef::Local(s),
        None,
        chain,
        b.span("s = s . s . s . s . s . s . s . s . s . s . s . s"),
    ));
    let stmts = vec![
        expr_stmt(assign(
            VarRef::Local(x),
            None,
            num(1, b.span("1")),
            b.span("x = 1"),
        )),
        chain_stmt,
        expr_stmt(printf(
            "%d%s",
            vec![lvar(x, b.span("x, s)")), svar(s, b.span("s)"))],
            b.span("printf"),
        )),
    ];
    let p = b.point(
        "timer.s(1)",
        PointKind::Timer {
            period_ns: 1_000_000_000,
            profile: false,
        },
    );
    b.probe(
        src,
        vec![p],
        &[("x", ScalarType::Long), ("s", ScalarType::String)],
        block(stmts, b.span("{ x")),
    );
    let mut m = lower_ok(&b);
    let mut o = opts(2);
    o.target.insn_limit_override = Some(200);
    let errs = crate::optimize(&mut m, &o).unwrap_err();
    assert_eq!(errs.len(), 1);
    let d = &errs[0];
    assert_eq!(d.code, crate::budget::E_BUDGET);
    assert!(
        d.message.starts_with("probe timer.s(1) needs about "),
        "{}",
        d.message
    );
    assert!(
        d.message
            .ends_with("BPF instructions, more than the 200 the target allows"),
        "{}",
        d.message
    );
    let primary = d.labels.iter().find(|l| l.primary).unwrap();
    assert_eq!(b.sm.location(primary.span), "b.stp:1:27");
    assert!(
        primary.message.starts_with("this costs ~"),
        "{}",
        primary.message
    );
    // The same program fits the default limit.
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(2)).unwrap();
}

#[test]
fn dead_string_stores_are_removed() {
    let s = Span::default();
    let mut f = Function::new("f");
    let b = fblock(&mut f);
    let (a, t, r) = (f.create_slot(64), f.create_slot(64), f.create_slot(64));
    f.append(
        b,
        InstData::StrConst {
            dst: a,
            value: "x".into(),
        },
        s,
    );
    f.append(b, InstData::StrCopy { dst: t, src: a }, s); // t never read: goes, then a
    f.append(
        b,
        InstData::StrConcat {
            dst: t,
            args: [t, a],
        },
        s,
    );
    f.append(
        b,
        InstData::StrConst {
            dst: r,
            value: "kept".into(),
        },
        s,
    );
    f.append(
        b,
        InstData::Printf {
            format: 0,
            args: vec![OutArg::Str(r)],
        },
        s,
    );
    f.append(b, InstData::Return, s);
    assert!(passes::eliminate_dead_slot_stores(&mut f));
    assert_eq!(
        crate::print_function(&f, None),
        "function f {\n    ss0 = slot 64\n    ss1 = slot 64\n    ss2 = slot 64\nblock0:\n    str_const ss2, \"kept\"\n    printf format0(ss2)\n    return\n}\n"
    );
}

#[test]
fn the_unroll_decision_counts_iterations_after_folding() {
    // 1000 trips of `total += i * 8`: ~17 instructions per iteration as
    // written, ~2 once the counter is a constant in each copy. It fits 4096.
    let b = const_loop(CONST_LOOP, 0, CmpOp::Lt, 1000, Some(8));
    for opt in [0, 2] {
        let mut m = lower_ok(&b);
        crate::optimize(&mut m, &opts(opt)).unwrap();
        let f = &m.probes[0].func;
        assert_eq!(atomic_adds(f).len(), 1000);
        assert_eq!(atomic_adds(f)[999], 999 * 8);
        let est = crate::budget::function_cost(f, &opts(opt).target, 64);
        assert!(est < 2200, "{est}");
    }
}

#[test]
fn unrolling_is_capped_even_when_the_target_would_allow_it() {
    let b = const_loop(CONST_LOOP, 0, CmpOp::Lt, 200_000, None);
    let mut m = lower_ok(&b);
    let mut o = opts(2);
    o.target.insn_limit_override = Some(1_000_000);
    let errs = crate::optimize(&mut m, &o).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("runs 200000 times"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[0].message.contains("more than stapc unrolls (400000)"),
        "{}",
        errs[0].message
    );
    assert!(m.probes[0].func.inst_count() < 100);
}

#[test]
fn triangular_nested_loops_unroll_outer_first() {
    // for (i = 0; i < 4; i++) for (j = 0; j < i; j++) total += i * 10 + j
    let src = "for (i = 0; i < 4; i++) for (j = 0; j < i; j++) total += i * 10 + j";
    let mut b = ScriptBuilder::new("t.stp", src);
    let total = b.global("total", ScalarType::Long, None);
    let (i, j) = (local(0), local(1));
    let s = Span::default();
    let inner = for_(
        Some(assign(VarRef::Local(j), None, num(0, s), s)),
        Some(cmp(CmpOp::Lt, lvar(j, s), lvar(i, s))),
        Some(incdec(VarRef::Local(j), true, false, s)),
        expr_stmt(assign(
            VarRef::Global(total),
            Some(BinaryOp::Add),
            bin(
                BinaryOp::Add,
                bin(BinaryOp::Mul, lvar(i, s), num(10, s)),
                lvar(j, s),
            ),
            s,
        )),
        b.span("for (j"),
    );
    let outer = for_(
        Some(assign(VarRef::Local(i), None, num(0, s), s)),
        Some(cmp(CmpOp::Lt, lvar(i, s), num(4, s))),
        Some(incdec(VarRef::Local(i), true, false, s)),
        inner,
        b.span(src),
    );
    let p = ProbePoint {
        span: s,
        text: "timer.ms(1)".into(),
        kind: PointKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        },
    };
    b.probe(
        src,
        vec![p],
        &[("i", ScalarType::Long), ("j", ScalarType::Long)],
        block(vec![outer], s),
    );
    for opt in [0, 2] {
        let mut m = lower_ok(&b);
        crate::optimize(&mut m, &opts(opt)).unwrap();
        crate::verify_module(&m).unwrap();
        let r = super::interp::run(&m.probes[0].func, &[]);
        assert_eq!(r.globals_added, vec![10, 20, 21, 30, 31, 32]);
    }
}

#[test]
fn jump_threading_bypasses_forwarding_blocks() {
    let s = Span::default();
    let mut f = Function::new("f");
    let b0 = fblock(&mut f);
    let b1 = fblock(&mut f);
    let b2 = fblock(&mut f);
    let b3 = fblock(&mut f);
    let p = f.append_block_param(b3);
    let c = f.append(b0, InstData::LoadGlobal { offset: 0 }, s).unwrap();
    let one = f.append(b0, InstData::Iconst { imm: 1 }, s).unwrap();
    f.append(
        b0,
        InstData::Brif {
            cond: c,
            then_dest: b1,
            then_args: vec![],
            else_dest: b2,
            else_args: vec![],
        },
        s,
    );
    f.append(
        b1,
        InstData::Jump {
            dest: b3,
            args: vec![one],
        },
        s,
    );
    f.append(
        b2,
        InstData::Jump {
            dest: b3,
            args: vec![c],
        },
        s,
    );
    f.append(b3, InstData::StoreGlobal { offset: 0, arg: p }, s);
    f.append(b3, InstData::Return, s);
    assert!(passes::thread_jumps(&mut f));
    // The then edge is threaded; the else edge would reach block3 with
    // other arguments, so it stays.
    assert_eq!(
        f.insts[f.terminator(b0).unwrap()],
        InstData::Brif {
            cond: c,
            then_dest: b3,
            then_args: vec![one],
            else_dest: b2,
            else_args: vec![]
        }
    );
    passes::eliminate_unreachable_code(&mut f);
    crate::verify_function(&f).unwrap();
    assert_eq!(f.layout, vec![b0, b2, b3]);
}
