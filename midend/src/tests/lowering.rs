//! Lowering of each construct, asserted on the printed IR.

use super::*;
use crate::testing::*;
use stapc_frontend::script::*;

fn begin(b: &ScriptBuilder) -> ProbePoint {
    b.point("begin", PointKind::Begin { priority: 0 })
}

#[test]
fn arithmetic_and_division_check() {
    let src = "probe begin { x = 7; printf(\"%d\\n\", x / 2 + x % y) }";
    let mut b = ScriptBuilder::new("x.stp", src);
    let (x, y) = (local(0), local(1));
    let div = bin(
        BinaryOp::Div,
        lvar(x, b.span_nth("x", 1)),
        num(2, b.span("2")),
    );
    let rem = bin(
        BinaryOp::Mod,
        lvar(x, b.span_nth("x", 2)),
        lvar(y, b.span("y")),
    );
    let body = block(
        vec![
            expr_stmt(assign(
                VarRef::Local(x),
                None,
                num(7, b.span("7")),
                b.span("x = 7"),
            )),
            expr_stmt(printf(
                "%d\n",
                vec![bin(BinaryOp::Add, div, rem)],
                b.span("printf"),
            )),
        ],
        b.span("{ x = 7; printf(\"%d\\n\", x / 2 + x % y) }"),
    );
    let p = begin(&b);
    b.probe(
        src,
        vec![p],
        &[("x", ScalarType::Long), ("y", ScalarType::Long)],
        body,
    );
    let m = lower_ok(&b);
    let text = crate::print_module(&m);
    assert_eq!(
        text,
        "; module x.stp
; max_string_len 64
globals size 8
format0 = \"%d\\n\" (long)
error0 = \"division by 0\" near operator '%' at x.stp:1:47

function begin_0 {   ; probe begin  (stapc/begin)
block0:
    v0 = iconst 0
    v1 = iconst 7
    v2 = iconst 2
    v3 = sdiv v1, v2
    v4 = iconst 0
    v5 = icmp eq v0, v4
    brif v5, block1, block2
block1:
    trap error0
block2:
    v6 = srem v1, v0
    v7 = iadd v3, v6
    printf format0(v7)
    return
}
"
    );
}

/// A begin probe over the whole text with the given locals and statements.
fn begin_probe(b: &mut ScriptBuilder, locals: &[(&str, ScalarType)], stmts: Vec<Stmt>) {
    let text = b.sm.file(b.file).text.clone();
    let sp = b.span(text.trim_end());
    let p = ProbePoint {
        span: sp,
        text: "begin".into(),
        kind: PointKind::Begin { priority: 0 },
    };
    b.probe(text.trim_end(), vec![p], locals, block(stmts, sp));
}

/// The `for` statement of the begin probe built by `while_for_break_continue_in_userspace`.
fn stmts_for(b: &ScriptBuilder) -> Stmt {
    match &b.script.probes[0].body.kind {
        StmtKind::Block(stmts) => stmts[0].clone(),
        _ => panic!("not a block"),
    }
}

fn run_begin(b: &ScriptBuilder, opt: u8) -> super::interp::Run {
    let mut m = lower_ok(b);
    crate::optimize(&mut m, &opts(opt)).unwrap();
    crate::verify_module(&m).unwrap();
    super::interp::run(&m.probes[0].func, &[])
}

fn printed(r: &super::interp::Run) -> Vec<Vec<i64>> {
    r.printed.iter().map(|p| p.1.clone()).collect()
}

#[test]
fn probe_points_become_named_programs_of_the_right_kind() {
    let src = "probe begin, end { exit() } probe never {} probe oneshot {} probe timer.s(1) {} \
               probe syscall.read.return {} probe kernel.function(\"f\") {} \
               probe process(\"/bin/x\").function(\"main\") {} probe perf.sw.cpu_clock {}";
    let mut b = ScriptBuilder::new("p.stp", src);
    let empty = |b: &ScriptBuilder, t: &str| block(vec![], b.span(t));
    let ex = expr_stmt(builtin(Builtin::Exit, vec![], Type::Void, b.span("exit()")));
    let pts = vec![
        b.point("begin", PointKind::Begin { priority: 0 }),
        b.point("end", PointKind::End { priority: 0 }),
    ];
    b.probe(
        "probe begin, end { exit() }",
        pts,
        &[],
        block(vec![ex], b.span("{ exit() }")),
    );
    let kinds = [
        ("never", PointKind::Never),
        ("oneshot", PointKind::Oneshot),
        (
            "timer.s(1)",
            PointKind::Timer {
                period_ns: 1_000_000_000,
                profile: false,
            },
        ),
        (
            "syscall.read.return",
            PointKind::Syscall {
                name: "read".into(),
                ret: true,
            },
        ),
        (
            "kernel.function(\"f\")",
            PointKind::KernelFunction {
                function: "f".into(),
                ret: false,
            },
        ),
        (
            "process(\"/bin/x\").function(\"main\")",
            PointKind::Process {
                path: "/bin/x".into(),
                symbol: "main".into(),
                ret: false,
            },
        ),
        (
            "perf.sw.cpu_clock",
            PointKind::Perf {
                type_: 1,
                config: 0,
                sample_period: 1000,
            },
        ),
    ];
    for (text, kind) in kinds {
        let p = b.point(text, kind);
        let body = empty(&b, "{}");
        b.probe(text, vec![p], &[], body);
    }
    let m = lower_ok(&b);
    let names: Vec<&str> = m.probes.iter().map(|p| p.func.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "begin_0",
            "end_1",
            "oneshot_2",
            "timer_3",
            "syscall_4",
            "kprobe_5",
            "uprobe_6",
            "perf_7"
        ]
    );
    assert_eq!(
        m.probes[2].kind,
        stapc_bpf::ProbeKind::Begin { priority: 0 }
    );
    assert_eq!(
        m.probes[4].kind,
        stapc_bpf::ProbeKind::Tracepoint {
            group: "syscalls".into(),
            name: "sys_exit_read".into()
        }
    );
    assert_eq!(m.probes[4].point, "syscall.read.return");
    assert!(
        matches!(m.probes[5].kind, stapc_bpf::ProbeKind::Kprobe { ref function, ret: false } if function == "f")
    );
    // oneshot: exit at the end.
    let text = crate::print_module(&m);
    assert!(text.contains("function oneshot_2 {   ; probe oneshot  (stapc/begin)\nblock0:\n    exit\n    return\n}"), "{text}");
}

#[test]
fn globals_layout_and_initialisers() {
    let src =
        "global a = 10, s = \"init\", arr, c; probe begin { c = a; s = \"x\"; printf(\"%s\", s) }";
    let mut b = ScriptBuilder::new("g.stp", src);
    let a = b.global("a", ScalarType::Long, Some(Literal::Long(10)));
    let s = b.global(
        "s",
        ScalarType::String,
        Some(Literal::String("init".into())),
    );
    b.global_of(
        "arr",
        GlobalType::Array {
            keys: vec![ScalarType::Long],
            value: Some(ScalarType::Long),
        },
    );
    let c = b.global("c", ScalarType::Long, None);
    let stmts = vec![
        expr_stmt(assign(
            VarRef::Global(c),
            None,
            gvar(a, Type::Long, b.span_nth("a", 3)),
            b.span("c = a"),
        )),
        expr_stmt(assign(
            VarRef::Global(s),
            None,
            string("x", b.span("\"x\"")),
            b.span("s = \"x\""),
        )),
        expr_stmt(printf(
            "%s",
            vec![gvar(s, Type::String, b.span("s)"))],
            b.span("printf"),
        )),
    ];
    let p = b.point("begin", PointKind::Begin { priority: 0 });
    b.probe("probe begin", vec![p], &[], block(stmts, b.span("{ c = a")));
    let m = lower_ok(&b);
    assert_eq!(m.globals.size, 8 + 64 + 8);
    assert_eq!(&m.globals.init[0..8], &10i64.to_le_bytes());
    assert_eq!(&m.globals.init[8..13], b"init\0");
    assert!(m.globals.init[13..].iter().all(|&x| x == 0));
    let text = crate::print_module(&m);
    assert!(text.starts_with("; module g.stp\n; max_string_len 64\nglobals size 80\n    +0: 0a00000000000000\n    +8: 696e697400000000\nformat0 = \"%s\" (str)\n"), "{text}");
    assert!(text.contains("    v0 = load_global +0\n    store_global +72, v0\n    str_const ss0, \"x\"\n    str_store_global +8, ss0\n    str_load_global ss0, +8\n    printf format0(ss0)\n"), "{text}");
}

#[test]
fn strings_concat_compare_and_slot_reuse() {
    let src = "a = \"foo\"; b = \"bar\"; c = a . b; c .= \"!\"; printf(\"%s %d\\n\", c, a < b)";
    let mut b = ScriptBuilder::new("s.stp", src);
    let (la, lb, lc) = (local(0), local(1), local(2));
    let stmts = vec![
        expr_stmt(assign(
            VarRef::Local(la),
            None,
            string("foo", b.span("\"foo\"")),
            b.span("a = \"foo\""),
        )),
        expr_stmt(assign(
            VarRef::Local(lb),
            None,
            string("bar", b.span("\"bar\"")),
            b.span("b = \"bar\""),
        )),
        expr_stmt(assign(
            VarRef::Local(lc),
            None,
            concat(svar(la, b.span_nth("a", 3)), svar(lb, b.span_nth("b", 3))),
            b.span("c = a . b"),
        )),
        expr_stmt(assign_concat(
            VarRef::Local(lc),
            string("!", b.span("\"!\"")),
            b.span("c .= \"!\""),
        )),
        expr_stmt(printf(
            "%s %d\n",
            vec![
                svar(lc, b.span_nth("c", 2)),
                cmp(CmpOp::Lt, svar(la, b.span("a <")), svar(lb, b.span("b)"))),
            ],
            b.span("printf"),
        )),
    ];
    begin_probe(
        &mut b,
        &[
            ("a", ScalarType::String),
            ("b", ScalarType::String),
            ("c", ScalarType::String),
        ],
        stmts,
    );
    let m = lower_ok(&b);
    assert_eq!(
        funcs(&m),
        "function begin_0 {   ; probe begin  (stapc/begin)
    ss0 = slot 64
    ss1 = slot 64
    ss2 = slot 64
    ss3 = slot 64
block0:
    str_const ss3, \"\"
    str_const ss2, \"\"
    str_const ss1, \"\"
    str_const ss0, \"foo\"
    str_copy ss1, ss0
    str_const ss0, \"bar\"
    str_copy ss2, ss0
    str_concat ss0, ss1, ss2
    str_copy ss3, ss0
    str_const ss0, \"!\"
    str_concat ss3, ss3, ss0
    v0 = str_compare ss1, ss2
    v1 = iconst 0
    v2 = icmp slt v0, v1
    printf format0(ss3, v2)
    return
}
"
    );
    assert_eq!(
        m.formats[0].args,
        vec![stapc_bpf::ArgKind::Str, stapc_bpf::ArgKind::Long]
    );
}

#[test]
fn if_else_ternary_and_short_circuit_compute_the_right_values() {
    let src = "x = 5; if (x > 3) y = 1 else y = 2; printf(\"%d %d %d %d\", y, x ? 10 : 20, 0 && x, 0 || x)";
    let mut b = ScriptBuilder::new("c.stp", src);
    let (x, y) = (local(0), local(1));
    let stmts = vec![
        expr_stmt(assign(
            VarRef::Local(x),
            None,
            num(5, b.span("5")),
            b.span("x = 5"),
        )),
        if_(
            cmp(CmpOp::Gt, lvar(x, b.span("x >")), num(3, b.span("3"))),
            expr_stmt(assign(
                VarRef::Local(y),
                None,
                num(1, b.span("1")),
                b.span("y = 1"),
            )),
            Some(expr_stmt(assign(
                VarRef::Local(y),
                None,
                num(2, b.span("2")),
                b.span("y = 2"),
            ))),
            b.span("if (x > 3) y = 1 else y = 2"),
        ),
        expr_stmt(printf(
            "%d %d %d %d",
            vec![
                lvar(y, b.span("y,")),
                ternary(
                    lvar(x, b.span("x ?")),
                    num(10, b.span("10")),
                    num(20, b.span("20")),
                ),
                logical(
                    LogicalOp::And,
                    num(0, b.span("0 &&")),
                    lvar(x, b.span("x,")),
                ),
                logical(LogicalOp::Or, num(0, b.span("0 ||")), lvar(x, b.span("x)"))),
            ],
            b.span("printf"),
        )),
    ];
    begin_probe(
        &mut b,
        &[("x", ScalarType::Long), ("y", ScalarType::Long)],
        stmts,
    );
    for opt in [0, 2] {
        assert_eq!(printed(&run_begin(&b, opt)), vec![vec![1, 10, 0, 1]]);
    }
    // At -O2 everything is constant.
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(2)).unwrap();
    assert_eq!(
        m.probes[0].func.layout.len(),
        1,
        "{}",
        crate::print_module(&m)
    );
}

#[test]
fn while_for_break_continue_in_userspace() {
    // for (i = 0; i < 10; i++) { if (i == 2) continue; if (i == 6) break; printf(i) }
    // x = 0; while (x < 100) x = x * 2 + 1; printf(x)
    let src =
        "for (i = 0; i < 10; i++) { if (i == 2) continue; if (i == 6) break; printf(\"%d\", i) } \
               x = 0; while (x < 100) x = x * 2 + 1; printf(\"%d\", x)";
    let mut b = ScriptBuilder::new("l.stp", src);
    let (i, x) = (local(0), local(1));
    let body = block(
        vec![
            if_(
                cmp(CmpOp::Eq, lvar(i, b.span("i == 2")), num(2, b.span("2"))),
                stmt(StmtKind::Continue, b.span("continue")),
                None,
                b.span("if (i == 2) continue"),
            ),
            if_(
                cmp(CmpOp::Eq, lvar(i, b.span("i == 6")), num(6, b.span("6"))),
                stmt(StmtKind::Break, b.span("break")),
                None,
                b.span("if (i == 6) break"),
            ),
            expr_stmt(printf("%d", vec![lvar(i, b.span("i)"))], b.span("printf"))),
        ],
        b.span("{ if"),
    );
    let stmts = vec![
        for_(
            Some(assign(VarRef::Local(i), None, num(0, b.span("0")), b.span("i = 0"))),
            Some(cmp(CmpOp::Lt, lvar(i, b.span("i <")), num(10, b.span("10")))),
            Some(incdec(VarRef::Local(i), true, false, b.span("i++"))),
            body,
            b.span("for (i = 0; i < 10; i++) { if (i == 2) continue; if (i == 6) break; printf(\"%d\", i) }"),
        ),
        expr_stmt(assign(VarRef::Local(x), None, num(0, b.span("0;")), b.span("x = 0"))),
        while_(
            cmp(CmpOp::Lt, lvar(x, b.span("x <")), num(100, b.span("100"))),
            expr_stmt(assign(
                VarRef::Local(x),
                None,
                bin(
                    BinaryOp::Add,
                    bin(BinaryOp::Mul, lvar(x, b.span("x *")), num(2, b.span("2 +"))),
                    num(1, b.span("1;")),
                ),
                b.span("x = x * 2 + 1"),
            )),
            b.span("while (x < 100) x = x * 2 + 1"),
        ),
        expr_stmt(printf("%d", vec![lvar(x, b.span("x)"))], b.span_nth("printf", 1))),
    ];
    begin_probe(
        &mut b,
        &[("i", ScalarType::Long), ("x", ScalarType::Long)],
        stmts,
    );
    for opt in [0, 2] {
        assert_eq!(
            printed(&run_begin(&b, opt)),
            vec![vec![0], vec![1], vec![3], vec![4], vec![5], vec![127]]
        );
    }
    // As a kernel probe the for loop (with its break and continue) unrolls,
    // but `x = x * 2 + 1` is no constant-step counter: the loop rule names it.
    let mut k = ScriptBuilder::new("l.stp", src);
    k.script = b.script.clone();
    k.script.probes[0].points[0].kind = PointKind::Timer {
        period_ns: 1000,
        profile: false,
    };
    let mut m = lower_ok(&k);
    let errs = crate::optimize(&mut m, &opts(2)).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(k.sm.location(errs[0].primary_span().unwrap()), "l.stp:1:94");
    assert!(
        errs[0].labels[0].message.contains("constant step"),
        "{:?}",
        errs[0]
    );
    // Without the while loop, the unrolled for loop prints the same.
    k.script.probes[0].body = block(vec![stmts_for(&b)], b.span("for"));
    let mut m = lower_ok(&k);
    crate::optimize(&mut m, &opts(2)).unwrap();
    crate::verify_module(&m).unwrap();
    let r = super::interp::run(&m.probes[0].func, &[]);
    assert_eq!(
        printed(&r),
        vec![vec![0], vec![1], vec![3], vec![4], vec![5]]
    );
}

#[test]
fn globals_increment_atomically_in_statement_position_only() {
    let src = "g++; g -= 2; x = g++; printf(\"%d\", x)";
    let mut b = ScriptBuilder::new("a.stp", src);
    let g = b.global("g", ScalarType::Long, None);
    let x = local(0);
    let stmts = vec![
        expr_stmt(incdec(VarRef::Global(g), true, false, b.span("g++"))),
        expr_stmt(assign(
            VarRef::Global(g),
            Some(BinaryOp::Sub),
            num(2, b.span("2")),
            b.span("g -= 2"),
        )),
        expr_stmt(assign(
            VarRef::Local(x),
            None,
            incdec(VarRef::Global(g), true, false, b.span_nth("g++", 1)),
            b.span("x = g++"),
        )),
        expr_stmt(printf("%d", vec![lvar(x, b.span("x)"))], b.span("printf"))),
    ];
    begin_probe(&mut b, &[("x", ScalarType::Long)], stmts);
    let m = lower_ok(&b);
    assert_eq!(
        funcs(&m),
        "function begin_0 {   ; probe begin  (stapc/begin)
block0:
    v0 = iconst 1
    atomic_add_global +0, v0
    v1 = iconst 2
    v2 = ineg v1
    atomic_add_global +0, v2
    v3 = load_global +0
    v4 = iconst 1
    v5 = iadd v3, v4
    store_global +0, v5
    printf format0(v3)
    return
}
"
    );
}

#[test]
fn shifts_are_checked_unless_the_amount_is_a_small_constant() {
    let src = "printf(\"%d %d %d\", x << 2, -16 >> y, -16 >>> 60)";
    let mut b = ScriptBuilder::new("sh.stp", src);
    let x = local(0);
    let y = b.global("y", ScalarType::Long, None);
    let args = vec![
        bin(BinaryOp::Shl, lvar(x, b.span("x")), num(2, b.span("2"))),
        bin(
            BinaryOp::Shr,
            num(-16, b.span("-16")),
            gvar(y, Type::Long, b.span("y")),
        ),
        bin(
            BinaryOp::LShr,
            num(-16, b.span_nth("-16", 1)),
            num(60, b.span("60")),
        ),
    ];
    let st = vec![expr_stmt(printf("%d %d %d", args, b.span("printf")))];
    begin_probe(&mut b, &[("x", ScalarType::Long)], st);
    let m = lower_ok(&b);
    assert_eq!(m.errors.len(), 1);
    assert_eq!(
        m.errors[0].message,
        "shift amount out of range (must be 0 to 63)"
    );
    assert_eq!(m.errors[0].location, "near operator '>>' at sh.stp:1:32");
    assert_eq!(printed(&run_begin(&b, 2)), vec![vec![0, -16, 15]]);
}

#[test]
fn division_by_a_zero_variable_traps_with_the_operator_location() {
    let src = "global z\nprobe begin { printf(\"%d\\n\", 10 / z) }";
    let mut b = ScriptBuilder::new("d.stp", src);
    let z = b.global("z", ScalarType::Long, None);
    let e = bin(
        BinaryOp::Div,
        num(10, b.span("10")),
        gvar(z, Type::Long, b.span_nth("z", 1)),
    );
    let p = b.point("begin", PointKind::Begin { priority: 0 });
    b.probe(
        "probe begin",
        vec![p],
        &[],
        block(
            vec![expr_stmt(printf("%d\n", vec![e], b.span("printf")))],
            b.span("{ printf"),
        ),
    );
    let m = lower_ok(&b);
    assert_eq!(m.errors[0].location, "near operator '/' at d.stp:2:33");
    for opt in [0, 2] {
        let r = run_begin(&b, opt);
        assert_eq!(r.trapped, Some(0));
        assert!(r.printed.is_empty());
    }
    // Dividing by a non-zero constant needs no check.
    let mut b2 = ScriptBuilder::new("d.stp", "x / 3");
    let e = bin(
        BinaryOp::Div,
        lvar(local(0), b2.span("x")),
        num(3, b2.span("3")),
    );
    begin_probe(&mut b2, &[("x", ScalarType::Long)], vec![expr_stmt(e)]);
    assert!(lower_ok(&b2).errors.is_empty());
}

#[test]
fn error_and_next_end_the_handler() {
    let src = "probe begin { error(\"fatal thing\"); next; s = \"a\"; error(s) }";
    let mut b = ScriptBuilder::new("e.stp", src);
    let s = local(0);
    let stmts = vec![
        expr_stmt(builtin(
            Builtin::Error,
            vec![string("fatal thing", b.span("\"fatal thing\""))],
            Type::Void,
            b.span("error(\"fatal thing\")"),
        )),
        stmt(StmtKind::Next, b.span("next")),
        expr_stmt(assign(
            VarRef::Local(s),
            None,
            string("a", b.span("\"a\"")),
            b.span("s = \"a\""),
        )),
        expr_stmt(builtin(
            Builtin::Error,
            vec![svar(s, b.span("s)"))],
            Type::Void,
            b.span("error(s)"),
        )),
    ];
    let p = b.point("begin", PointKind::Begin { priority: 0 });
    b.probe(
        "probe begin",
        vec![p],
        &[("s", ScalarType::String)],
        block(stmts, b.span("{ error")),
    );
    let m = lower_ok(&b);
    assert_eq!(
        m.errors,
        vec![stapc_bpf::ErrorMsg {
            message: "fatal thing".into(),
            location: "near identifier 'error' at e.stp:1:15".into()
        }]
    );
    // Everything after the first error() is unreachable and gone.
    assert!(
        funcs(&m).ends_with("block0:\n    str_const ss0, \"\"\n    trap error0\n}\n"),
        "{}",
        funcs(&m)
    );
}

#[test]
fn unassigned_locals_read_zero_and_context_builtins() {
    let src = "printf(\"%d %d %s\", x, pid(), execname())";
    let mut b = ScriptBuilder::new("u.stp", src);
    let args = vec![
        lvar(local(0), b.span("x")),
        builtin(Builtin::Pid, vec![], Type::Long, b.span("pid()")),
        builtin(
            Builtin::Execname,
            vec![],
            Type::String,
            b.span("execname()"),
        ),
    ];
    let st = vec![expr_stmt(printf("%d %d %s", args, b.span("printf")))];
    begin_probe(&mut b, &[("x", ScalarType::Long)], st);
    let m = lower_ok(&b);
    assert!(funcs(&m).contains("    v0 = iconst 0\n    v1 = context pid\n    str_context ss0, execname\n    printf format0(v0, v1, ss0)\n"), "{}", funcs(&m));
}

#[test]
fn formats_are_deduplicated() {
    let src = "printf(\"%d\", 1); printf(\"%d\", 2); printf(\"%s\", \"x\")";
    let mut b = ScriptBuilder::new("f.stp", src);
    let stmts = vec![
        expr_stmt(printf("%d", vec![num(1, b.span("1"))], b.span("printf"))),
        expr_stmt(printf(
            "%d",
            vec![num(2, b.span("2"))],
            b.span_nth("printf", 1),
        )),
        expr_stmt(printf(
            "%s",
            vec![string("x", b.span("\"x\""))],
            b.span_nth("printf", 2),
        )),
    ];
    begin_probe(&mut b, &[], stmts);
    let m = lower_ok(&b);
    assert_eq!(m.formats.len(), 2);
}

#[test]
fn unsupported_constructs_are_diagnostics_at_their_span() {
    let src =
        "probe begin, end { a[1] = 2; f(); foreach (k in a) {}; x = sprintf(\"%d\", 1); s <<< 1 }";
    let mut b = ScriptBuilder::new("n.stp", src);
    let arr = b.global_of(
        "a",
        GlobalType::Array {
            keys: vec![ScalarType::Long],
            value: Some(ScalarType::Long),
        },
    );
    let st = b.global_of("s", GlobalType::Stats);
    b.script.functions.push(Function {
        name: "f".into(),
        span: b.span("f()"),
        params: vec![],
        // Recursive functions get real calls, but not with strings yet.
        ret: Some(ScalarType::String),
        locals: Default::default(),
        body: block(vec![], b.span("{}")),
        recursive: true,
    });
    let f = cranelift_entity::EntityRef::new(0);
    let stmts = vec![
        expr_stmt(expr(
            ExprKind::Assign {
                target: LValue::Index {
                    array: arr,
                    keys: vec![num(1, b.span("1"))],
                },
                op: None,
                concat: false,
                value: Box::new(num(2, b.span("2"))),
            },
            Type::Long,
            b.span("a[1] = 2"),
        )),
        expr_stmt(expr(
            ExprKind::Call {
                func: f,
                args: vec![],
            },
            Type::Void,
            b.span("f()"),
        )),
        stmt(
            StmtKind::Foreach(Box::new(Foreach {
                keys: vec![local(1)],
                value: None,
                array: arr,
                sort: None,
                limit: None,
                body: block(vec![], b.span("{}")),
            })),
            b.span("foreach (k in a) {}"),
        ),
        expr_stmt(assign(
            VarRef::Local(local(0)),
            None,
            expr(
                ExprKind::Format {
                    format: "%d".into(),
                    args: vec![num(1, b.span_nth("1", 1))],
                    use_: FormatUse::Sprintf,
                },
                Type::String,
                b.span("sprintf(\"%d\", 1)"),
            ),
            b.span("x = sprintf"),
        )),
        // Statistics are supported; kernel-probe reads are not (tested below).
        expr_stmt(expr(
            ExprKind::StatAdd {
                stat: StatRef::Global(st),
                value: Box::new(num(1, b.span_nth("1", 2))),
            },
            Type::Void,
            b.span("s <<< 1"),
        )),
    ];
    let pts = vec![
        b.point("begin", PointKind::Begin { priority: 0 }),
        b.point("end", PointKind::End { priority: 0 }),
    ];
    b.probe(
        src,
        pts,
        &[("x", ScalarType::String), ("k", ScalarType::Long)],
        block(stmts, b.span("{ a[1]")),
    );
    let errs = lower_err(&b);
    let got: Vec<(String, String)> = errs
        .iter()
        .map(|d| (d.message.clone(), b.sm.location(d.primary_span().unwrap())))
        .collect();
    assert_eq!(
        got,
        vec![(
            "not yet supported by stapc: string parameters or results of recursive functions (`f`)"
                .to_string(),
            "n.stp:1:30".to_string()
        ),]
    );
    assert!(errs.iter().all(|d| d.code == crate::lower::E_UNSUPPORTED));
}

#[test]
fn source_locations_can_be_printed() {
    let src = "x = 7";
    let mut b = ScriptBuilder::new("loc.stp", src);
    let st = vec![expr_stmt(assign(
        VarRef::Local(local(0)),
        None,
        num(7, b.span("7")),
        b.span("x = 7"),
    ))];
    begin_probe(&mut b, &[("x", ScalarType::Long)], st);
    let m = lower_ok(&b);
    let text = crate::print_module_with(&m, Some(&b.sm));
    assert!(
        text.contains("    v0 = iconst 7                        ; loc.stp:1:5\n"),
        "{text}"
    );
}

fn text_of(r: &super::interp::Run) -> Vec<String> {
    r.printed_text.iter().map(|a| a.join(" ")).collect()
}

#[test]
fn try_catch_routes_errors_to_the_handler() {
    // The shape of conformance/try_catch.stp.
    let src = "try { println(\"in try\"); error(\"boom\"); println(\"not reached\") } catch (msg) { printf(\"caught: %s\", msg) } \
               try { z = 0; printf(\"%d\", 10 / z) } catch (m) { printf(\"caught: %s\", m) } \
               try { try { error(\"inner\") } catch { println(\"inner caught\") } error(\"outer\") } catch (m2) { printf(\"outer caught: %s\", m2) }";
    let mut b = ScriptBuilder::new("t.stp", src);
    let (msg, z, m, m2) = (local(0), local(1), local(2), local(3));
    let pr = |b: &ScriptBuilder, t: &str, n: usize| {
        printf(&format!("{t}\n"), vec![], b.span_nth("println", n))
    };
    let err = |b: &ScriptBuilder, t: &str| {
        let call = format!("error(\"{t}\")");
        builtin(
            Builtin::Error,
            vec![string(t, b.span(&format!("\"{t}\"")))],
            Type::Void,
            b.span(&call),
        )
    };
    let try1 = stmt(
        StmtKind::Try {
            body: Box::new(block(
                vec![
                    expr_stmt(pr(&b, "in try", 0)),
                    expr_stmt(err(&b, "boom")),
                    expr_stmt(pr(&b, "not reached", 1)),
                ],
                b.span("{ println(\"in try\")"),
            )),
            catch_var: Some(msg),
            handler: Box::new(expr_stmt(printf(
                "caught: %s",
                vec![svar(msg, b.span("msg)"))],
                b.span("printf"),
            ))),
        },
        b.span("try { println"),
    );
    let try2 = stmt(
        StmtKind::Try {
            body: Box::new(block(
                vec![
                    expr_stmt(assign(
                        VarRef::Local(z),
                        None,
                        num(0, b.span("0")),
                        b.span("z = 0"),
                    )),
                    expr_stmt(printf(
                        "%d",
                        vec![bin(
                            BinaryOp::Div,
                            num(10, b.span("10")),
                            lvar(z, b.span("z)")),
                        )],
                        b.span_nth("printf", 1),
                    )),
                ],
                b.span("{ z = 0"),
            )),
            catch_var: Some(m),
            handler: Box::new(expr_stmt(printf(
                "caught: %s",
                vec![svar(m, b.span("m)"))],
                b.span_nth("printf", 2),
            ))),
        },
        b.span("try { z"),
    );
    let inner = stmt(
        StmtKind::Try {
            body: Box::new(expr_stmt(err(&b, "inner"))),
            catch_var: None,
            handler: Box::new(expr_stmt(pr(&b, "inner caught", 2))),
        },
        b.span("try { error(\"inner\")"),
    );
    let try3 = stmt(
        StmtKind::Try {
            body: Box::new(block(
                vec![inner, expr_stmt(err(&b, "outer"))],
                b.span("{ try { error"),
            )),
            catch_var: Some(m2),
            handler: Box::new(expr_stmt(printf(
                "outer caught: %s",
                vec![svar(m2, b.span("m2)"))],
                b.span_nth("printf", 3),
            ))),
        },
        b.span("try { try"),
    );
    let locals = [
        ("msg", ScalarType::String),
        ("z", ScalarType::Long),
        ("m", ScalarType::String),
        ("m2", ScalarType::String),
    ];
    begin_probe(&mut b, &locals, vec![try1, try2, try3]);
    for opt in [0, 2] {
        let r = run_begin(&b, opt);
        assert_eq!(r.trapped, None);
        assert_eq!(text_of(&r), ["", "boom", "division by 0", "", "outer"]);
    }
    // Nothing escapes: no runtime error is left in the module.
    assert!(lower_ok(&b).errors.is_empty());
}

#[test]
fn script_functions_are_inlined_with_per_call_locals() {
    // function greet:string(who:string) { return "hi " . who }
    // function counter(n) { acc = 0; for (i = 1; i <= n; i++) acc += i; return acc }
    // function nothing() { }
    let src = "function greet:string(who:string) { return \"hi \" . who } \
               function counter(n) { acc = 0; for (i = 1; i <= n; i++) acc += i; return acc } \
               function nothing() { } \
               probe begin { printf(\"%s\", greet(\"bob\")); printf(\"%d %d\", counter(10), counter(3)); nothing() }";
    let mut b = ScriptBuilder::new("fn.stp", src);
    let locals = |list: &[(&str, ScalarType)], b: &ScriptBuilder| {
        let mut map = cranelift_entity::PrimaryMap::new();
        for (name, ty) in list {
            map.push(Local {
                name: (*name).into(),
                span: b.span(name),
                ty: *ty,
            });
        }
        map
    };
    let who = local(0);
    let greet = Function {
        name: "greet".into(),
        span: b.span("greet"),
        params: vec![who],
        ret: Some(ScalarType::String),
        locals: locals(&[("who", ScalarType::String)], &b),
        body: stmt(
            StmtKind::Return(Some(concat(
                string("hi ", b.span("\"hi \"")),
                svar(who, b.span("who }")),
            ))),
            b.span("return \"hi \" . who"),
        ),
        recursive: false,
    };
    let (n, acc, i) = (local(0), local(1), local(2));
    let counter = Function {
        name: "counter".into(),
        span: b.span("counter"),
        params: vec![n],
        ret: Some(ScalarType::Long),
        locals: locals(
            &[
                ("n", ScalarType::Long),
                ("acc", ScalarType::Long),
                ("i", ScalarType::Long),
            ],
            &b,
        ),
        body: block(
            vec![
                expr_stmt(assign(
                    VarRef::Local(acc),
                    None,
                    num(0, b.span("0")),
                    b.span("acc = 0"),
                )),
                for_(
                    Some(assign(
                        VarRef::Local(i),
                        None,
                        num(1, b.span("1")),
                        b.span("i = 1"),
                    )),
                    Some(cmp(
                        CmpOp::Le,
                        lvar(i, b.span("i <=")),
                        lvar(n, b.span("n;")),
                    )),
                    Some(incdec(VarRef::Local(i), true, false, b.span("i++"))),
                    expr_stmt(assign(
                        VarRef::Local(acc),
                        Some(BinaryOp::Add),
                        lvar(i, b.span("i;")),
                        b.span("acc += i"),
                    )),
                    b.span("for (i = 1; i <= n; i++) acc += i"),
                ),
                stmt(
                    StmtKind::Return(Some(lvar(acc, b.span("acc }")))),
                    b.span("return acc"),
                ),
            ],
            b.span("{ acc = 0"),
        ),
        recursive: false,
    };
    let nothing = Function {
        name: "nothing".into(),
        span: b.span("nothing"),
        params: vec![],
        ret: None,
        locals: Default::default(),
        body: block(vec![], b.span("{ }")),
        recursive: false,
    };
    let fg = b.script.functions.push(greet);
    let fc = b.script.functions.push(counter);
    let fnn = b.script.functions.push(nothing);
    let call = |f, args, ty, sp| expr(ExprKind::Call { func: f, args }, ty, sp);
    let stmts = vec![
        expr_stmt(printf(
            "%s",
            vec![call(
                fg,
                vec![string("bob", b.span("\"bob\""))],
                Type::String,
                b.span("greet(\"bob\")"),
            )],
            b.span("printf"),
        )),
        expr_stmt(printf(
            "%d %d",
            vec![
                call(
                    fc,
                    vec![num(10, b.span("10"))],
                    Type::Long,
                    b.span("counter(10)"),
                ),
                call(
                    fc,
                    vec![num(3, b.span("3)"))],
                    Type::Long,
                    b.span("counter(3)"),
                ),
            ],
            b.span_nth("printf", 1),
        )),
        expr_stmt(call(fnn, vec![], Type::Void, b.span("nothing()"))),
    ];
    let p = b.point("begin", PointKind::Begin { priority: 0 });
    b.probe(
        "probe begin",
        vec![p],
        &[],
        block(stmts, b.span("{ printf")),
    );
    for opt in [0, 2] {
        let r = run_begin(&b, opt);
        assert_eq!(text_of(&r), ["hi bob", "55 6"]);
    }
    // In a kernel probe the loops of both calls unroll (n is a constant
    // argument), and -O2 folds everything.
    b.script.probes[0].points[0].kind = PointKind::Timer {
        period_ns: 1000,
        profile: false,
    };
    let mut m = lower_ok(&b);
    crate::optimize(&mut m, &opts(2)).unwrap();
    crate::verify_module(&m).unwrap();
    let f = &m.probes[0].func;
    assert_eq!(text_of(&super::interp::run(f, &[])), ["hi bob", "55 6"]);
    assert!(funcs(&m).contains("v"), "{}", funcs(&m));
    assert!(
        crate::print_module(&m).contains("iconst 55"),
        "{}",
        crate::print_module(&m)
    );
}

#[test]
fn error_with_a_computed_message_traps_with_it() {
    let src = "s = \"a\"; error(s)";
    let mut b = ScriptBuilder::new("e.stp", src);
    let s = local(0);
    let stmts = vec![
        expr_stmt(assign(
            VarRef::Local(s),
            None,
            string("a", b.span("\"a\"")),
            b.span("s = \"a\""),
        )),
        expr_stmt(builtin(
            Builtin::Error,
            vec![svar(s, b.span("s)"))],
            Type::Void,
            b.span("error(s)"),
        )),
    ];
    begin_probe(&mut b, &[("s", ScalarType::String)], stmts);
    let m = lower_ok(&b);
    assert_eq!(
        m.errors[0].location,
        "near identifier 'error' at e.stp:1:10"
    );
    assert!(
        funcs(&m).contains("    trap_msg error0, ss1\n"),
        "{}",
        funcs(&m)
    );
}

#[test]
fn point_constants_and_abs_min_max() {
    let src = "probe syscall.read, syscall.write { printf(\"%s %s %d %d %d\", name(), pp(), abs(x), min(x, 3), max(x, 3)) }";
    let mut b = ScriptBuilder::new("n.stp", src);
    let g = b.global("x", ScalarType::Long, None);
    let args = vec![
        builtin(Builtin::Name, vec![], Type::String, b.span("name()")),
        builtin(Builtin::Pp, vec![], Type::String, b.span("pp()")),
        builtin(
            Builtin::Abs,
            vec![gvar(g, Type::Long, b.span("x)"))],
            Type::Long,
            b.span("abs(x)"),
        ),
        builtin(
            Builtin::Min,
            vec![gvar(g, Type::Long, b.span("x, 3)")), num(3, b.span("3"))],
            Type::Long,
            b.span("min(x, 3)"),
        ),
        builtin(
            Builtin::Max,
            vec![
                gvar(g, Type::Long, b.span_nth("x, 3)", 1)),
                num(3, b.span_nth("3", 1)),
            ],
            Type::Long,
            b.span("max(x, 3)"),
        ),
    ];
    let body = block(
        vec![expr_stmt(printf("%s %s %d %d %d", args, b.span("printf")))],
        b.span("{ printf"),
    );
    let pts = vec![
        b.point(
            "syscall.read",
            PointKind::Syscall {
                name: "read".into(),
                ret: false,
            },
        ),
        b.point(
            "syscall.write",
            PointKind::Syscall {
                name: "write".into(),
                ret: false,
            },
        ),
    ];
    b.probe(src, pts, &[], body);
    for opt in [0, 2] {
        let mut m = lower_ok(&b);
        crate::optimize(&mut m, &opts(opt)).unwrap();
        let r0 = super::interp::run(&m.probes[0].func, &[-5]);
        let r1 = super::interp::run(&m.probes[1].func, &[7]);
        assert_eq!(text_of(&r0), ["read syscall.read 5 -5 3"]);
        assert_eq!(text_of(&r1), ["write syscall.write 7 3 7"]);
    }
}

#[test]
fn literal_printf_arguments_fold_into_the_format_at_o2() {
    let src = "printf(\"%d %s %5s %% %s\\n\", 42, \"a%b\", \"x\", s)";
    let mut b = ScriptBuilder::new("pf.stp", src);
    let s = local(0);
    let args = vec![
        num(42, b.span("42")),
        string("a%b", b.span("\"a%b\"")),
        string("x", b.span("\"x\"")),
        svar(s, b.span("s)")),
    ];
    let st = vec![expr_stmt(printf(
        "%d %s %5s %% %s\n",
        args,
        b.span("printf"),
    ))];
    begin_probe(&mut b, &[("s", ScalarType::String)], st);
    let m = crate::lower(&b.script, &b.sm, &opts(2)).unwrap();
    assert_eq!(m.formats[0].text, "42 a%%b %5s %% %s\n");
    assert_eq!(
        m.formats[0].args,
        vec![stapc_bpf::ArgKind::Str, stapc_bpf::ArgKind::Str]
    );
    // -O0 keeps the script's format.
    let m0 = lower_ok(&b);
    assert_eq!(m0.formats[0].text, "%d %s %5s %% %s\n");
    assert_eq!(m0.formats[0].args.len(), 4);
}

#[test]
fn delete_resets_scalars() {
    let src = "x = 5; delete x; delete g; printf(\"%d\", x)";
    let mut b = ScriptBuilder::new("del.stp", src);
    let g = b.global("g", ScalarType::Long, Some(Literal::Long(3)));
    let x = local(0);
    let stmts = vec![
        expr_stmt(assign(
            VarRef::Local(x),
            None,
            num(5, b.span("5")),
            b.span("x = 5"),
        )),
        stmt(
            StmtKind::Delete(Delete::Var(VarRef::Local(x))),
            b.span("delete x"),
        ),
        stmt(
            StmtKind::Delete(Delete::Var(VarRef::Global(g))),
            b.span("delete g"),
        ),
        expr_stmt(printf("%d", vec![lvar(x, b.span("x)"))], b.span("printf"))),
    ];
    begin_probe(&mut b, &[("x", ScalarType::Long)], stmts);
    assert_eq!(
        funcs(&lower_ok(&b)),
        "function begin_0 {   ; probe begin  (stapc/begin)
block0:
    v0 = iconst 5
    v1 = iconst 0
    v2 = iconst 0
    store_global +0, v2
    printf format0(v1)
    return
}
"
    );
}

#[test]
fn very_deep_nesting_is_a_diagnostic_not_a_crash() {
    // 5000 nested additions in one expression, lowered on a small stack.
    let src = "x";
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut b = ScriptBuilder::new("deep.stp", src);
            let mut e = num(1, b.span("x"));
            for _ in 0..5000 {
                e = bin(BinaryOp::Add, e, num(1, b.span("x")));
            }
            let st = vec![expr_stmt(printf("%d", vec![e], b.span("x")))];
            begin_probe(&mut b, &[], st);
            let errs = crate::lower(&b.script, &b.sm, &opts(0)).unwrap_err();
            assert!(
                errs[0].message.contains("nested this deeply"),
                "{:?}",
                errs[0]
            );
            // The tree itself is dropped iteratively enough: leak it to keep
            // the test about lowering.
            std::mem::forget(b);
        })
        .unwrap();
    handle.join().unwrap();
}
