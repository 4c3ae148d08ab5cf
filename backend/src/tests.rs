//! Backend tests: pinned sequences, per-construct properties, and
//! proptest-generated functions run through isel, regalloc (with the
//! checker), emission, and then executed on a tiny BPF interpreter and
//! compared with the IR's meaning.

use proptest::prelude::*;
use stapc_bpf::insn::*;
use stapc_bpf::{helpers, Insn, KernelVersion, MapKind, ProbeKind, Target};
use stapc_frontend::{SourceMap, Span};
use stapc_midend::ir::*;

use crate::testutil::{run_bpf, run_ir, World};
use crate::{checker, compile_function, emit, CompiledFunction};

const MSL: u32 = 64;
const GLOBALS: usize = 64 + 2 * MSL as usize;

fn new_target() -> Target {
    Target::new(KernelVersion::new(6, 18))
}

/// No ring buffer, no ISA v4, no probe_read_kernel.
fn old_target() -> Target {
    Target::new(KernelVersion::new(5, 4))
}

fn sp() -> Span {
    Span::default()
}

fn compile(f: &Function, t: &Target, userspace: bool) -> CompiledFunction {
    let c = compile_function(f, t, MSL, userspace, &SourceMap::new())
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
    checker::check(&c.alloc).unwrap_or_else(|e| panic!("{e}\n{}", c.alloc.physical()));
    check_program(&c.insns);
    c
}

/// Structural properties every program must have.
fn check_program(insns: &[Insn]) {
    if let Err((at, why)) = stapc_bpf::disasm::check_program(insns) {
        panic!(
            "invalid encoding at {at}: {why}\n{}",
            stapc_bpf::disasm::disasm_program(insns)
        );
    }
    let dead = emit::unreachable_insns(insns).expect("a jump leaves the program");
    assert!(dead.is_empty(), "unreachable instructions {dead:?}");
    let mut pc = 0;
    while pc < insns.len() {
        let i = insns[pc];
        let writes_dst = matches!(i.class(), BPF_ALU | BPF_ALU64 | BPF_LDX | BPF_LD);
        assert!(!(writes_dst && i.dst == R10), "r10 written at {pc}");
        assert!(i.dst <= 10 && i.src <= 10 || pc > 0 && insns[pc - 1].is_lddw());
        pc += if i.is_lddw() { 2 } else { 1 };
    }
    assert_eq!(
        insns.last().map(|i| i.code),
        Some(BPF_JMP | BPF_EXIT),
        "must end in exit"
    );
}

/// Run under both semantics and compare what a user can observe.
fn agree(f: &Function, t: &Target, userspace: bool, globals: &[u8]) {
    let c = compile(f, t, userspace);
    let mut want = World::new(GLOBALS);
    want.globals.copy_from_slice(globals);
    let mut got = want.clone();
    run_ir(f, MSL as usize, &mut want).expect("IR run");
    run_bpf(&c.insns, c.scratch_size as usize, &mut got)
        .unwrap_or_else(|e| panic!("bpf run: {e}\n{}", c.alloc.physical()));
    assert_eq!(got, want, "\n{}", c.alloc.physical());
}

fn iconst(f: &mut Function, b: Block, imm: i64) -> Value {
    f.append(b, InstData::Iconst { imm }, sp()).unwrap()
}

fn bin(f: &mut Function, b: Block, op: BinaryOp, x: Value, y: Value) -> Value {
    f.append(b, InstData::Binary { op, args: [x, y] }, sp())
        .unwrap()
}

fn ret(f: &mut Function, b: Block) {
    f.append(b, InstData::Return, sp());
}

fn print(f: &mut Function, b: Block, vals: &[Value]) {
    let args = vals.iter().map(|v| OutArg::Long(*v)).collect();
    f.append(b, InstData::Printf { format: 0, args }, sp());
}

fn count(insns: &[Insn], pred: impl Fn(&Insn) -> bool) -> usize {
    insns.iter().filter(|i| pred(i)).count()
}

fn calls(insns: &[Insn]) -> Vec<i32> {
    insns
        .iter()
        .filter(|i| i.code == BPF_JMP | BPF_CALL)
        .map(|i| i.imm)
        .collect()
}

#[test]
fn empty_handler_is_the_pinned_prologue() {
    let mut f = Function::new("begin_0");
    let b = f.create_block();
    ret(&mut f, b);
    let c = compile(&f, &new_target(), false);
    let map = Insn::ld_map(0, 1);
    let want = vec![
        Insn::st(BPF_W, 10, -8, 0),
        Insn { dst: 1, ..map[0] },
        map[1],
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -8),
        Insn::call(helpers::MAP_LOOKUP_ELEM),
        Insn::jmp_imm(BPF_JEQ, 0, 0, 1),
        Insn::ldx(BPF_DW, 0, 0, 0),
        // Both sides of the exit-flag test reach the shared return (the
        // handler body is empty): no `if r0 != 0 goto +0`.
        Insn::mov64_imm(0, 0),
        Insn::exit(),
    ];
    assert_eq!(c.insns, want, "\n{}", c.alloc.physical());
}

#[test]
fn arithmetic_uses_immediates_and_agrees() {
    for t in [new_target(), old_target()] {
        let mut f = Function::new("k");
        let b = f.create_block();
        let g = f
            .append(b, InstData::LoadGlobal { offset: 0 }, sp())
            .unwrap();
        let c5 = iconst(&mut f, b, 5);
        let big = iconst(&mut f, b, 0x1234_5678_9abc);
        let x = bin(&mut f, b, BinaryOp::Add, c5, g);
        let y = bin(&mut f, b, BinaryOp::Mul, x, big);
        let z = bin(&mut f, b, BinaryOp::Sub, c5, y);
        let s = bin(&mut f, b, BinaryOp::Shl, z, c5);
        let n = f
            .append(
                b,
                InstData::Unary {
                    op: UnaryOp::BitNot,
                    arg: s,
                },
                sp(),
            )
            .unwrap();
        let m = f
            .append(
                b,
                InstData::Unary {
                    op: UnaryOp::Neg,
                    arg: n,
                },
                sp(),
            )
            .unwrap();
        f.append(b, InstData::StoreGlobal { offset: 8, arg: m }, sp());
        f.append(
            b,
            InstData::StoreGlobal {
                offset: 16,
                arg: c5,
            },
            sp(),
        );
        ret(&mut f, b);
        let c = compile(&f, &t, false);
        // `5 + g` commutes to an immediate add; 5 stored with `st`.
        assert!(c
            .insns
            .iter()
            .any(|i| *i == Insn::alu64_imm(BPF_ADD, i.dst, 5)));
        assert!(c
            .insns
            .iter()
            .any(|i| i.code == BPF_ST | BPF_MEM | BPF_DW && i.imm == 5));
        assert!(c
            .insns
            .iter()
            .any(|i| i.code == BPF_ALU64 | BPF_LSH | BPF_K && i.imm == 5));
        assert_eq!(
            count(&c.insns, |i| i.is_lddw() && i.src == 0),
            1,
            "one lddw for the big constant"
        );
        let mut g0 = vec![0u8; GLOBALS];
        g0[..8].copy_from_slice(&(-77i64).to_le_bytes());
        agree(&f, &t, false, &g0);
    }
}

/// `g2 = g0 / d; g3 = g0 % d` with `d` the global g1, or the constant `b`.
fn divmod_fn(b: i64, b_const: bool) -> Function {
    let mut f = Function::new("div");
    let bl = f.create_block();
    let x = f
        .append(bl, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    let y = if b_const {
        iconst(&mut f, bl, b)
    } else {
        f.append(bl, InstData::LoadGlobal { offset: 8 }, sp())
            .unwrap()
    };
    let q = bin(&mut f, bl, BinaryOp::SDiv, x, y);
    let r = bin(&mut f, bl, BinaryOp::SRem, x, y);
    f.append(bl, InstData::StoreGlobal { offset: 16, arg: q }, sp());
    f.append(bl, InstData::StoreGlobal { offset: 24, arg: r }, sp());
    ret(&mut f, bl);
    f
}

#[test]
fn signed_division_has_c_semantics_on_every_isa() {
    let cases = [
        (7, 2),
        (-7, 2),
        (7, -2),
        (-7, -2),
        (i64::MIN, -1),
        (i64::MIN, 1),
        (i64::MIN, i64::MAX),
        (i64::MAX, i64::MIN),
        (0, -5),
        (-1, 3),
    ];
    for t in [new_target(), old_target()] {
        for (a, b) in cases {
            for bc in [false, true] {
                let f = divmod_fn(b, bc);
                let mut g = vec![0u8; GLOBALS];
                g[..8].copy_from_slice(&a.to_le_bytes());
                g[8..16].copy_from_slice(&b.to_le_bytes());
                agree(&f, &t, false, &g);
            }
        }
        let c = compile(&divmod_fn(0, false), &t, false);
        let signed = count(&c.insns, |i| {
            matches!(i.code & 0xf0, BPF_DIV | BPF_MOD) && i.class() == BPF_ALU64 && i.off == 1
        });
        assert_eq!(signed > 0, t.has_isa_v4(), "signed div/mod only on ISA v4");
    }
}

#[test]
fn icmp_materialises_and_fuses_into_brif() {
    // v = (g < 10); store v; if (g s> h) ...
    let mut f = Function::new("k");
    let b = f.create_block();
    let then = f.create_block();
    let els = f.create_block();
    let g = f
        .append(b, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    let h = f
        .append(b, InstData::LoadGlobal { offset: 8 }, sp())
        .unwrap();
    let ten = iconst(&mut f, b, 10);
    let lt = f
        .append(
            b,
            InstData::Icmp {
                cond: IntCC::Ult,
                args: [ten, g],
            },
            sp(),
        )
        .unwrap();
    f.append(
        b,
        InstData::StoreGlobal {
            offset: 16,
            arg: lt,
        },
        sp(),
    );
    let c = f
        .append(
            b,
            InstData::Icmp {
                cond: IntCC::Sgt,
                args: [g, h],
            },
            sp(),
        )
        .unwrap();
    f.append(
        b,
        InstData::Brif {
            cond: c,
            then_dest: then,
            then_args: vec![],
            else_dest: els,
            else_args: vec![],
        },
        sp(),
    );
    let one = iconst(&mut f, then, 1);
    f.append(
        then,
        InstData::StoreGlobal {
            offset: 24,
            arg: one,
        },
        sp(),
    );
    ret(&mut f, then);
    let two = iconst(&mut f, els, 2);
    f.append(
        els,
        InstData::StoreGlobal {
            offset: 24,
            arg: two,
        },
        sp(),
    );
    ret(&mut f, els);
    let comp = compile(&f, &new_target(), false);
    // The fused compare is one register-register signed jump; nothing tests its result against 0.
    let sj = count(&comp.insns, |i| {
        i.class() == BPF_JMP && matches!(i.code & 0xf0, BPF_JSGT | BPF_JSLE) && i.code & BPF_X != 0
    });
    assert_eq!(sj, 1, "\n{}", comp.alloc.physical());
    // The materialised one compares g against the immediate 10 (operands swapped).
    assert!(comp
        .insns
        .iter()
        .any(|i| i.code & 0x0f == BPF_JMP | BPF_K && i.imm == 10));
    for (x, y) in [(3i64, 5i64), (50, -5), (10, 10), (-1, 2)] {
        let mut gl = vec![0u8; GLOBALS];
        gl[..8].copy_from_slice(&x.to_le_bytes());
        gl[8..16].copy_from_slice(&y.to_le_bytes());
        agree(&f, &new_target(), false, &gl);
    }
}

/// A loop whose back edge swaps two block parameters (a parallel-move cycle).
#[test]
fn block_params_swap_through_a_cycle() {
    let mut f = Function::new("k");
    let e = f.create_block();
    let h = f.create_block();
    let body = f.create_block();
    let exit = f.create_block();
    let i = f.append_block_param(h);
    let x = f.append_block_param(h);
    let y = f.append_block_param(h);
    let z = iconst(&mut f, e, 0);
    let a = f
        .append(e, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    let bb = f
        .append(e, InstData::LoadGlobal { offset: 8 }, sp())
        .unwrap();
    f.append(
        e,
        InstData::Jump {
            dest: h,
            args: vec![z, a, bb],
        },
        sp(),
    );
    let n = iconst(&mut f, h, 5);
    let c = f
        .append(
            h,
            InstData::Icmp {
                cond: IntCC::Slt,
                args: [i, n],
            },
            sp(),
        )
        .unwrap();
    f.append(
        h,
        InstData::Brif {
            cond: c,
            then_dest: body,
            then_args: vec![],
            else_dest: exit,
            else_args: vec![],
        },
        sp(),
    );
    let one = iconst(&mut f, body, 1);
    let i2 = bin(&mut f, body, BinaryOp::Add, i, one);
    f.append(
        body,
        InstData::Jump {
            dest: h,
            args: vec![i2, y, x],
        },
        sp(),
    );
    f.append(exit, InstData::StoreGlobal { offset: 16, arg: x }, sp());
    f.append(exit, InstData::StoreGlobal { offset: 24, arg: y }, sp());
    print(&mut f, exit, &[x, y, i]);
    ret(&mut f, exit);
    let mut g = vec![0u8; GLOBALS];
    g[..8].copy_from_slice(&11i64.to_le_bytes());
    g[8..16].copy_from_slice(&22i64.to_le_bytes());
    agree(&f, &new_target(), false, &g);
    agree(&f, &old_target(), false, &g);
}

#[test]
fn brif_arguments_go_through_edge_blocks() {
    let mut f = Function::new("k");
    let e = f.create_block();
    let j = f.create_block();
    let p = f.append_block_param(j);
    let a = f
        .append(e, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    let c7 = iconst(&mut f, e, 7);
    let big = iconst(&mut f, e, -0x7777_0000_0000);
    f.append(
        e,
        InstData::Brif {
            cond: a,
            then_dest: j,
            then_args: vec![c7],
            else_dest: j,
            else_args: vec![big],
        },
        sp(),
    );
    f.append(j, InstData::StoreGlobal { offset: 8, arg: p }, sp());
    ret(&mut f, j);
    for v in [0i64, 1, -3] {
        let mut g = vec![0u8; GLOBALS];
        g[..8].copy_from_slice(&v.to_le_bytes());
        agree(&f, &new_target(), false, &g);
    }
}

#[test]
fn globals_atomics_and_context() {
    let mut f = Function::new("k");
    let b = f.create_block();
    let mut vals = Vec::new();
    for op in [
        ContextOp::Pid,
        ContextOp::Tid,
        ContextOp::Uid,
        ContextOp::Gid,
        ContextOp::Cpu,
        ContextOp::KtimeNs,
    ] {
        vals.push(f.append(b, InstData::Context { op }, sp()).unwrap());
    }
    let one = iconst(&mut f, b, 1);
    f.append(
        b,
        InstData::AtomicAddGlobal {
            offset: 0,
            arg: one,
        },
        sp(),
    );
    f.append(
        b,
        InstData::AtomicAddGlobal {
            offset: 8,
            arg: vals[0],
        },
        sp(),
    );
    print(&mut f, b, &vals);
    ret(&mut f, b);
    let c = compile(&f, &new_target(), false);
    assert_eq!(
        count(&c.insns, |i| i.code == BPF_STX | BPF_ATOMIC | BPF_DW
            && i.imm == 0),
        // the two global adds, and the output-drop counter of the print
        3
    );
    assert_eq!(
        calls(&c.insns),
        vec![1, 1, 1, 14, 14, 15, 15, 8, 5, helpers::RINGBUF_OUTPUT],
        "control, globals, scratch lookups; six context helpers; output"
    );
    for t in [new_target(), old_target()] {
        let mut g = vec![0u8; GLOBALS];
        g[..8].copy_from_slice(&41i64.to_le_bytes());
        agree(&f, &t, false, &g);
        agree(&f, &t, true, &g);
    }
}

#[test]
fn only_used_maps_are_looked_up() {
    let mut f = Function::new("k");
    let b = f.create_block();
    let x = f
        .append(b, InstData::Context { op: ContextOp::Pid }, sp())
        .unwrap();
    let _unused = bin(&mut f, b, BinaryOp::Add, x, x);
    ret(&mut f, b);
    let c = compile(&f, &new_target(), false);
    assert_eq!(
        calls(&c.insns),
        vec![helpers::MAP_LOOKUP_ELEM, helpers::GET_CURRENT_PID_TGID]
    );
    assert!(
        !c.insns
            .iter()
            .any(|i| i.code == BPF_ALU64 | BPF_ADD | BPF_X),
        "dead add removed"
    );
}

fn strings_fn(a: &str, b: &str, kind: usize) -> Function {
    let mut f = Function::new("s");
    let bl = f.create_block();
    let s0 = f.create_slot(MSL);
    let s1 = f.create_slot(MSL);
    let s2 = f.create_slot(MSL);
    f.append(
        bl,
        InstData::StrConst {
            dst: s0,
            value: a.into(),
        },
        sp(),
    );
    f.append(
        bl,
        InstData::StrConst {
            dst: s1,
            value: b.into(),
        },
        sp(),
    );
    match kind {
        0 => {
            f.append(
                bl,
                InstData::StrConcat {
                    dst: s2,
                    args: [s0, s1],
                },
                sp(),
            );
        }
        1 => {
            f.append(
                bl,
                InstData::StrConcat {
                    dst: s0,
                    args: [s0, s1],
                },
                sp(),
            );
            f.append(bl, InstData::StrCopy { dst: s2, src: s0 }, sp());
        }
        2 => {
            f.append(
                bl,
                InstData::StrConcat {
                    dst: s1,
                    args: [s0, s1],
                },
                sp(),
            );
            f.append(bl, InstData::StrCopy { dst: s2, src: s1 }, sp());
        }
        3 => {
            f.append(
                bl,
                InstData::StrConcat {
                    dst: s0,
                    args: [s0, s0],
                },
                sp(),
            );
            f.append(bl, InstData::StrCopy { dst: s2, src: s0 }, sp());
        }
        _ => {
            f.append(
                bl,
                InstData::StrConcat {
                    dst: s2,
                    args: [s1, s1],
                },
                sp(),
            );
        }
    }
    let c01 = f
        .append(bl, InstData::StrCompare { args: [s0, s1] }, sp())
        .unwrap();
    let c10 = f
        .append(bl, InstData::StrCompare { args: [s1, s0] }, sp())
        .unwrap();
    let c22 = f
        .append(bl, InstData::StrCompare { args: [s2, s2] }, sp())
        .unwrap();
    f.append(
        bl,
        InstData::StrStoreGlobal {
            offset: 64,
            src: s2,
        },
        sp(),
    );
    f.append(
        bl,
        InstData::StrLoadGlobal {
            dst: s1,
            offset: 64 + MSL,
        },
        sp(),
    );
    f.append(
        bl,
        InstData::Printf {
            format: 3,
            args: vec![
                OutArg::Long(c01),
                OutArg::Str(s2),
                OutArg::Long(c10),
                OutArg::Str(s1),
                OutArg::Long(c22),
            ],
        },
        sp(),
    );
    ret(&mut f, bl);
    f
}

#[test]
fn strings_agree_in_kernel_and_userspace() {
    let long = "x".repeat(50);
    let cases = [
        ("", ""),
        ("abc", "abd"),
        ("abc", "ab"),
        ("hello, ", "world"),
        ("0123456789abcdef", "0123456789abcdef!"),
        (long.as_str(), long.as_str()),
        ("\u{e9}t\u{e9}", "zz"),
    ];
    for (a, b) in cases {
        for kind in 0..5 {
            let f = strings_fn(a, b, kind);
            let mut g = vec![0u8; GLOBALS];
            g[64 + MSL as usize..64 + MSL as usize + 4].copy_from_slice(b"glob");
            for t in [new_target(), old_target()] {
                agree(&f, &t, false, &g);
                agree(&f, &t, true, &g);
            }
        }
    }
    let k = compile(&strings_fn("a", "b", 0), &new_target(), false);
    assert!(calls(&k.insns).contains(&helpers::PROBE_READ_KERNEL_STR));
    // MAXSTRINGLEN-byte copies are one helper call in kernel programs.
    assert!(calls(&k.insns).contains(&helpers::PROBE_READ_KERNEL));
    let old = compile(&strings_fn("a", "b", 0), &old_target(), false);
    assert!(
        calls(&old.insns).contains(&helpers::PROBE_READ)
            && calls(&old.insns).contains(&helpers::PROBE_READ_STR)
    );
    assert!(
        !calls(&k.insns).iter().any(|c| *c >= helpers::STAPC_BASE),
        "no stapc helpers in kernel code"
    );
    let u = compile(&strings_fn("a", "b", 0), &new_target(), true);
    assert!(calls(&u.insns).contains(&helpers::STAPC_STR_CONCAT));
    assert!(calls(&u.insns).contains(&helpers::STAPC_STR_COMPARE));
    assert!(
        !calls(&u.insns).contains(&helpers::PROBE_READ_KERNEL),
        "userspace copies words"
    );
}

#[test]
fn str_const_uses_two_word_stores_for_wide_chunks() {
    let mut f = Function::new("s");
    let bl = f.create_block();
    let s0 = f.create_slot(MSL);
    f.append(
        bl,
        InstData::StrConst {
            dst: s0,
            value: "abcdefgh".into(),
        },
        sp(),
    );
    ret(&mut f, bl);
    let c = compile(&f, &new_target(), false);
    let words = count(&c.insns, |i| {
        i.code == BPF_ST | BPF_MEM | BPF_W && i.dst != 10
    });
    let dwords = count(&c.insns, |i| i.code == BPF_ST | BPF_MEM | BPF_DW);
    assert_eq!(
        (words, dwords),
        (2, MSL as usize / 8 - 1),
        "\n{}",
        c.alloc.physical()
    );
    assert!(!c.insns.iter().any(|i| i.is_lddw() && i.src == 0));
}

fn exit_trap_fn(with_msg: bool) -> Function {
    let mut f = Function::new("k");
    let b = f.create_block();
    let t = f.create_block();
    let e = f.create_block();
    let s = f.create_slot(MSL);
    f.append(
        b,
        InstData::StrContext {
            dst: s,
            op: StrContextOp::Execname,
        },
        sp(),
    );
    let g = f
        .append(b, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    f.append(
        b,
        InstData::Brif {
            cond: g,
            then_dest: t,
            then_args: vec![],
            else_dest: e,
            else_args: vec![],
        },
        sp(),
    );
    if with_msg {
        f.append(t, InstData::TrapMsg { error: 2, msg: s }, sp());
    } else {
        f.append(t, InstData::Trap { error: 2 }, sp());
    }
    f.append(
        e,
        InstData::Printf {
            format: 1,
            args: vec![OutArg::Str(s)],
        },
        sp(),
    );
    f.append(e, InstData::Exit, sp());
    ret(&mut f, e);
    f
}

#[test]
fn exit_trap_and_execname() {
    for with_msg in [false, true] {
        let f = exit_trap_fn(with_msg);
        for v in [0i64, 1] {
            let mut gl = vec![0u8; GLOBALS];
            gl[..8].copy_from_slice(&v.to_le_bytes());
            for tg in [new_target(), old_target()] {
                agree(&f, &tg, false, &gl);
            }
        }
        // A second run after exit/error does nothing.
        let c = compile(&f, &new_target(), false);
        let mut w = World::new(GLOBALS);
        w.control[0] = 1;
        run_bpf(&c.insns, c.scratch_size as usize, &mut w).unwrap();
        assert!(w.records.is_empty());
    }
}

#[test]
fn line_table_follows_spans() {
    let mut sm = SourceMap::new();
    let file = sm.add("x.stp", "probe begin {\n  x = 1\n  printf(\"%d\", x)\n}\n");
    let mut f = Function::new("begin_0");
    let b = f.create_block();
    let one = f
        .append(b, InstData::Iconst { imm: 1 }, Span::new(file, 20, 21))
        .unwrap();
    f.append(
        b,
        InstData::StoreGlobal {
            offset: 0,
            arg: one,
        },
        Span::new(file, 16, 21),
    );
    f.append(
        b,
        InstData::Printf {
            format: 0,
            args: vec![OutArg::Long(one)],
        },
        Span::new(file, 24, 40),
    );
    f.append(b, InstData::Return, Span::new(file, 40, 41));
    let c = compile_function(&f, &new_target(), MSL, true, &sm).unwrap();
    let lines: Vec<(u32, u32)> = c.lines.iter().map(|l| (l.line, l.col)).collect();
    assert_eq!(
        lines.first(),
        Some(&(2, 7)),
        "prologue is attributed to the first statement"
    );
    assert!(
        lines.contains(&(2, 3)) && lines.contains(&(3, 3)),
        "{lines:?}"
    );
    assert!(c.lines.windows(2).all(|w| w[0].insn < w[1].insn));
    let store = c
        .insns
        .iter()
        .position(|i| i.code == BPF_ST | BPF_MEM | BPF_DW && i.imm == 1)
        .unwrap();
    assert_eq!(crate::emit::unreachable_insns(&c.insns), Ok(vec![]));
    let prog = stapc_bpf::Program {
        fields: Vec::new(),
        name: "p".into(),
        kind: ProbeKind::Begin { priority: 0 },
        point: "begin".into(),
        insns: c.insns.clone(),
        lines: c.lines.clone(),
    };
    assert_eq!(prog.line_of(store as u32).map(|l| l.line), Some(2));
}

#[test]
fn compile_builds_the_runtime_maps() {
    let mut m = Module {
        source_name: "x.stp".into(),
        max_string_len: MSL,
        ..Module::default()
    };
    m.globals = GlobalsLayout {
        size: 16,
        init: vec![1; 16],
    };
    m.formats.push(stapc_bpf::Format {
        text: "%s\n".into(),
        args: vec![stapc_bpf::ArgKind::Str],
    });
    for (kind, name) in [
        (ProbeKind::Begin { priority: 0 }, "begin_0"),
        (
            ProbeKind::Timer {
                period_ns: 1,
                profile: false,
            },
            "timer_1",
        ),
    ] {
        let mut f = Function::new(name);
        let b = f.create_block();
        let s = f.create_slot(MSL);
        f.append(
            b,
            InstData::StrConst {
                dst: s,
                value: "hi".into(),
            },
            sp(),
        );
        f.append(
            b,
            InstData::Printf {
                format: 0,
                args: vec![OutArg::Str(s)],
            },
            sp(),
        );
        ret(&mut f, b);
        m.probes.push(ProbeFunction {
            kind,
            point: name.into(),
            func: f,
        });
    }
    let o = crate::compile(&m, &new_target(), &SourceMap::new()).unwrap();
    let names: Vec<&str> = o.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stapc_globals",
            "stapc_control",
            "stapc_scratch",
            "stapc_output"
        ]
    );
    assert_eq!(o.maps[0].init, vec![(vec![0; 4], vec![1; 16])]);
    assert_eq!(o.maps[2].kind, MapKind::PerCpuArray);
    assert!(o.maps[2].value_size >= 2 * MSL + 8 && o.maps[2].value_size & 7 == 0);
    assert_eq!(o.maps[3].kind, MapKind::RingBuf);
    assert_eq!(
        (o.control_map, o.output_map, o.license.as_str()),
        (1, 3, "GPL")
    );
    assert_eq!(o.programs[1].name, "timer_1");
    let old = crate::compile(&m, &old_target(), &SourceMap::new()).unwrap();
    assert_eq!(old.maps[3].kind, MapKind::PerfEventArray);
    assert!(calls(&old.programs[1].insns).contains(&helpers::PERF_EVENT_OUTPUT));
}

#[test]
fn malformed_ir_is_an_error_not_a_panic() {
    let mut f = Function::new("bad");
    let b = f.create_block();
    f.append(b, InstData::Iconst { imm: 1 }, sp());
    assert!(compile_function(&f, &new_target(), MSL, false, &SourceMap::new()).is_err());
    let mut f = Function::new("bad2");
    let b = f.create_block();
    let j = f.create_block();
    f.append_block_param(j);
    f.append(
        b,
        InstData::Jump {
            dest: j,
            args: vec![],
        },
        sp(),
    );
    ret(&mut f, j);
    assert!(compile_function(&f, &new_target(), MSL, false, &SourceMap::new()).is_err());
    assert!(compile_function(
        &Function::new("empty"),
        &new_target(),
        MSL,
        false,
        &SourceMap::new()
    )
    .is_err());
    let mut f = Function::new("msl");
    let b = f.create_block();
    ret(&mut f, b);
    assert!(compile_function(&f, &new_target(), 12, false, &SourceMap::new()).is_err());
}

#[test]
fn too_many_live_values_is_a_stack_error() {
    let mut f = Function::new("huge");
    let b = f.create_block();
    let vals: Vec<Value> = (0..80)
        .map(|_| {
            f.append(
                b,
                InstData::Context {
                    op: ContextOp::KtimeNs,
                },
                sp(),
            )
            .unwrap()
        })
        .collect();
    for chunk in vals.chunks(8) {
        print(&mut f, b, chunk);
    }
    ret(&mut f, b);
    match compile_function(&f, &new_target(), MSL, false, &SourceMap::new()) {
        Err(crate::BackendError::StackOverflow {
            bytes, limit: 512, ..
        }) => assert!(bytes > 512),
        other => panic!(
            "expected a stack error, got {:?}",
            other.map(|c| c.alloc.stack_size())
        ),
    }
}

#[test]
fn unreachable_ir_blocks_are_not_emitted() {
    let mut f = Function::new("k");
    let b = f.create_block();
    let dead = f.create_block();
    let one = iconst(&mut f, b, 1);
    let t = f.create_block();
    f.append(
        b,
        InstData::Brif {
            cond: one,
            then_dest: t,
            then_args: vec![],
            else_dest: dead,
            else_args: vec![],
        },
        sp(),
    );
    f.append(dead, InstData::Trap { error: 0 }, sp());
    ret(&mut f, t);
    let c = compile(&f, &new_target(), false);
    assert!(!c
        .insns
        .iter()
        .any(|i| i.code == BPF_STX | BPF_ATOMIC | BPF_DW));
}

// ---- generated functions ----

#[derive(Clone, Debug)]
enum Op {
    Const(i64),
    Bin(usize, usize, usize),
    Un(bool, usize),
    Cmp(usize, usize, usize),
    Ctx(usize),
    Load(u8),
    Store(u8, usize),
    Atomic(u8, usize),
    Diamond(usize, usize, usize, usize, usize),
    Loop(u8, usize, usize, bool),
    TrapIf(usize, usize),
    Print(Vec<usize>),
}

const BINOPS: [BinaryOp; 11] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::SDiv,
    BinaryOp::SRem,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Xor,
    BinaryOp::Shl,
    BinaryOp::AShr,
    BinaryOp::LShr,
];
const CCS: [IntCC; 10] = [
    IntCC::Eq,
    IntCC::Ne,
    IntCC::Slt,
    IntCC::Sle,
    IntCC::Sgt,
    IntCC::Sge,
    IntCC::Ult,
    IntCC::Ule,
    IntCC::Ugt,
    IntCC::Uge,
];
const CTX: [ContextOp; 6] = [
    ContextOp::Pid,
    ContextOp::Tid,
    ContextOp::Uid,
    ContextOp::Gid,
    ContextOp::Cpu,
    ContextOp::KtimeNs,
];

fn op_strategy() -> impl Strategy<Value = Op> {
    let idx = 0usize..64;
    let konst = prop_oneof![
        -3i64..300,
        any::<i64>(),
        Just(i64::MIN),
        Just(-1i64),
        Just(i32::MAX as i64 + 1),
        Just(i32::MIN as i64)
    ];
    prop_oneof![
        konst.prop_map(Op::Const),
        (0usize..11, idx.clone(), idx.clone()).prop_map(|(o, a, b)| Op::Bin(o, a, b)),
        (any::<bool>(), idx.clone()).prop_map(|(n, a)| Op::Un(n, a)),
        (0usize..10, idx.clone(), idx.clone()).prop_map(|(c, a, b)| Op::Cmp(c, a, b)),
        (0usize..6).prop_map(Op::Ctx),
        (0u8..8).prop_map(Op::Load),
        (0u8..8, idx.clone()).prop_map(|(o, a)| Op::Store(o, a)),
        (0u8..8, idx.clone()).prop_map(|(o, a)| Op::Atomic(o, a)),
        (0usize..10, idx.clone(), idx.clone(), 0usize..11, 0usize..11)
            .prop_map(|(c, a, b, x, y)| Op::Diamond(c, a, b, x, y)),
        (0u8..5, idx.clone(), idx.clone(), any::<bool>())
            .prop_map(|(n, a, b, s)| Op::Loop(n, a, b, s)),
        (idx.clone(), idx.clone()).prop_map(|(a, b)| Op::TrapIf(a, b)),
        proptest::collection::vec(idx, 0..5).prop_map(Op::Print),
    ]
}

/// `op` applied to `a`, `b` with the IR's preconditions made true
/// (non-zero divisors, shift amounts in range).
fn safe_bin(f: &mut Function, b: Block, op: BinaryOp, x: Value, y: Value) -> Value {
    match op {
        BinaryOp::SDiv | BinaryOp::SRem => {
            let one = iconst(f, b, 1);
            let nz = bin(f, b, BinaryOp::Or, y, one);
            bin(f, b, op, x, nz)
        }
        BinaryOp::Shl | BinaryOp::AShr | BinaryOp::LShr => {
            let m = iconst(f, b, 63);
            let amt = bin(f, b, BinaryOp::And, y, m);
            bin(f, b, op, x, amt)
        }
        _ => bin(f, b, op, x, y),
    }
}

fn build(ops: &[Op]) -> Function {
    build_keeping(ops, usize::MAX)
}

/// Like `build`, printing only the last `keep` values at the end.
fn build_keeping(ops: &[Op], keep: usize) -> Function {
    let mut f = Function::new("gen");
    let mut b = f.create_block();
    let mut pool = vec![iconst(&mut f, b, 7)];
    pool.push(
        f.append(b, InstData::LoadGlobal { offset: 0 }, sp())
            .unwrap(),
    );
    pool.push(
        f.append(b, InstData::LoadGlobal { offset: 8 }, sp())
            .unwrap(),
    );
    let pick = |pool: &Vec<Value>, i: usize| pool[i % pool.len()];
    for op in ops {
        match op {
            Op::Const(c) => pool.push(iconst(&mut f, b, *c)),
            Op::Bin(o, x, y) => {
                let (x, y) = (pick(&pool, *x), pick(&pool, *y));
                let v = safe_bin(&mut f, b, BINOPS[*o], x, y);
                pool.push(v);
            }
            Op::Un(neg, x) => {
                let op = if *neg { UnaryOp::Neg } else { UnaryOp::BitNot };
                pool.push(
                    f.append(
                        b,
                        InstData::Unary {
                            op,
                            arg: pick(&pool, *x),
                        },
                        sp(),
                    )
                    .unwrap(),
                );
            }
            Op::Cmp(c, x, y) => {
                let args = [pick(&pool, *x), pick(&pool, *y)];
                pool.push(
                    f.append(
                        b,
                        InstData::Icmp {
                            cond: CCS[*c],
                            args,
                        },
                        sp(),
                    )
                    .unwrap(),
                );
            }
            Op::Ctx(k) => pool.push(
                f.append(b, InstData::Context { op: CTX[*k] }, sp())
                    .unwrap(),
            ),
            Op::Load(o) => pool.push(
                f.append(
                    b,
                    InstData::LoadGlobal {
                        offset: u32::from(*o) * 8,
                    },
                    sp(),
                )
                .unwrap(),
            ),
            Op::Store(o, x) => {
                f.append(
                    b,
                    InstData::StoreGlobal {
                        offset: u32::from(*o) * 8,
                        arg: pick(&pool, *x),
                    },
                    sp(),
                );
            }
            Op::Atomic(o, x) => {
                f.append(
                    b,
                    InstData::AtomicAddGlobal {
                        offset: u32::from(*o) * 8,
                        arg: pick(&pool, *x),
                    },
                    sp(),
                );
            }
            Op::Diamond(c, x, y, o1, o2) => {
                let (x, y) = (pick(&pool, *x), pick(&pool, *y));
                let cond = f
                    .append(
                        b,
                        InstData::Icmp {
                            cond: CCS[*c],
                            args: [x, y],
                        },
                        sp(),
                    )
                    .unwrap();
                let (t, e, j) = (f.create_block(), f.create_block(), f.create_block());
                let p = f.append_block_param(j);
                f.append(
                    b,
                    InstData::Brif {
                        cond,
                        then_dest: t,
                        then_args: vec![],
                        else_dest: e,
                        else_args: vec![],
                    },
                    sp(),
                );
                let r1 = safe_bin(&mut f, t, BINOPS[*o1], x, y);
                f.append(
                    t,
                    InstData::Jump {
                        dest: j,
                        args: vec![r1],
                    },
                    sp(),
                );
                let r2 = safe_bin(&mut f, e, BINOPS[*o2], y, x);
                let k = f
                    .append(e, InstData::Context { op: ContextOp::Cpu }, sp())
                    .unwrap();
                let r2 = bin(&mut f, e, BinaryOp::Add, r2, k);
                f.append(
                    e,
                    InstData::Jump {
                        dest: j,
                        args: vec![r2],
                    },
                    sp(),
                );
                b = j;
                pool.push(p);
            }
            Op::Loop(n, x, y, swap) => {
                let (x0, y0) = (pick(&pool, *x), pick(&pool, *y));
                let (h, body, exit) = (f.create_block(), f.create_block(), f.create_block());
                let i = f.append_block_param(h);
                let px = f.append_block_param(h);
                let py = f.append_block_param(h);
                let z = iconst(&mut f, b, 0);
                f.append(
                    b,
                    InstData::Jump {
                        dest: h,
                        args: vec![z, x0, y0],
                    },
                    sp(),
                );
                let nn = iconst(&mut f, h, i64::from(*n));
                let c = f
                    .append(
                        h,
                        InstData::Icmp {
                            cond: IntCC::Slt,
                            args: [i, nn],
                        },
                        sp(),
                    )
                    .unwrap();
                f.append(
                    h,
                    InstData::Brif {
                        cond: c,
                        then_dest: body,
                        then_args: vec![],
                        else_dest: exit,
                        else_args: vec![],
                    },
                    sp(),
                );
                let one = iconst(&mut f, body, 1);
                let i2 = bin(&mut f, body, BinaryOp::Add, i, one);
                let args = if *swap {
                    vec![i2, py, px]
                } else {
                    let k = f
                        .append(
                            body,
                            InstData::Context {
                                op: ContextOp::KtimeNs,
                            },
                            sp(),
                        )
                        .unwrap();
                    let s = bin(&mut f, body, BinaryOp::Xor, px, k);
                    let s = bin(&mut f, body, BinaryOp::Add, s, x0);
                    vec![i2, py, s]
                };
                f.append(body, InstData::Jump { dest: h, args }, sp());
                b = exit;
                pool.extend([i, px, py]);
            }
            Op::TrapIf(x, y) => {
                let args = [pick(&pool, *x), pick(&pool, *y)];
                let c = f
                    .append(
                        b,
                        InstData::Icmp {
                            cond: IntCC::Eq,
                            args,
                        },
                        sp(),
                    )
                    .unwrap();
                let (t, e) = (f.create_block(), f.create_block());
                f.append(
                    b,
                    InstData::Brif {
                        cond: c,
                        then_dest: t,
                        then_args: vec![],
                        else_dest: e,
                        else_args: vec![],
                    },
                    sp(),
                );
                f.append(t, InstData::Trap { error: 1 }, sp());
                b = e;
            }
            Op::Print(xs) => {
                let vals: Vec<Value> = xs.iter().map(|x| pick(&pool, *x)).collect();
                print(&mut f, b, &vals);
            }
        }
    }
    // Keep everything live to the end: maximal register pressure.
    let live = &pool[pool.len().saturating_sub(keep)..];
    for chunk in live.chunks(7) {
        print(&mut f, b, chunk);
    }
    ret(&mut f, b);
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_functions_allocate_check_and_agree(
        ops in proptest::collection::vec(op_strategy(), 1..40),
        g in proptest::collection::vec(any::<u8>(), GLOBALS),
        userspace in any::<bool>(),
        old in any::<bool>(),
    ) {
        let f = build(&ops);
        let t = if old { old_target() } else { new_target() };
        agree(&f, &t, userspace, &g);
    }

    #[test]
    fn wide_straight_line_code_spills_correctly(
        consts in proptest::collection::vec(any::<i64>(), 12..26),
        calls_every in 1usize..6,
    ) {
        // Every value stays live across helper calls until the final prints.
        let mut f = Function::new("wide");
        let b = f.create_block();
        let mut vals = Vec::new();
        for (k, c) in consts.iter().enumerate() {
            let g = f.append(b, InstData::LoadGlobal { offset: (k % 8) as u32 * 8 }, sp()).unwrap();
            let x = iconst(&mut f, b, *c);
            vals.push(bin(&mut f, b, BinaryOp::Xor, g, x));
            if k % calls_every == 0 {
                vals.push(f.append(b, InstData::Context { op: ContextOp::KtimeNs }, sp()).unwrap());
            }
        }
        for chunk in vals.clone().chunks(9) {
            print(&mut f, b, chunk);
        }
        ret(&mut f, b);
        let c = compile(&f, &new_target(), false);
        prop_assert!(c.alloc.spill_slots > 0, "expected spills");
        prop_assert!(c.alloc.stack_size() <= 512);
        agree(&f, &new_target(), false, &[3u8; GLOBALS]);
    }
}

fn pressure_fn(n: usize) -> Function {
    let mut f = Function::new("pressure");
    let b = f.create_block();
    let vals: Vec<Value> = (0..n)
        .map(|k| {
            let g = f
                .append(
                    b,
                    InstData::LoadGlobal {
                        offset: (k % 8) as u32 * 8,
                    },
                    sp(),
                )
                .unwrap();
            let t = f
                .append(
                    b,
                    InstData::Context {
                        op: ContextOp::KtimeNs,
                    },
                    sp(),
                )
                .unwrap();
            bin(&mut f, b, BinaryOp::Add, g, t)
        })
        .collect();
    for chunk in vals.chunks(6) {
        print(&mut f, b, chunk);
    }
    ret(&mut f, b);
    f
}

#[test]
fn checker_rejects_values_left_in_clobbered_registers() {
    let c = compile(&pressure_fn(3), &new_target(), false);
    let mut rejected = 0;
    for v in 0..c.alloc.regs.len() {
        if matches!(c.alloc.regs[v], Some(6..=9)) {
            let mut bad = c.alloc.clone();
            bad.regs[v] = Some(2);
            rejected += usize::from(checker::check(&bad).is_err());
            bad.regs[v] = Some(10);
            assert!(checker::check(&bad).is_err(), "r10 must never be allocated");
        }
    }
    assert!(
        rejected > 0,
        "moving call-crossing values into r2 must be caught"
    );
}

#[test]
fn checker_rejects_wrong_reloads_and_swapped_registers() {
    let c = compile(&pressure_fn(12), &new_target(), false);
    assert!(c.alloc.spill_slots > 1);
    // Reload from the wrong slot.
    let mut bad = c.alloc.clone();
    let n = bad.spill_slots;
    for b in bad.vcode.blocks.values_mut() {
        for i in &mut b.insts {
            if let crate::vcode::VInst::Reload { slot, .. } = i {
                *slot = (*slot + 1) % n;
            }
        }
    }
    assert!(checker::check(&bad).is_err());
    // Two simultaneously live values swapped in one place only.
    let mut found = false;
    'outer: for b in c.alloc.vcode.order.clone() {
        for (k, inst) in c.alloc.vcode.blocks[b].insts.iter().enumerate() {
            if let crate::vcode::VInst::Alu {
                src: crate::vcode::Src::Reg(crate::vcode::Reg::V(x)),
                dst,
                ..
            } = inst
            {
                for y in 0..c.alloc.regs.len() {
                    let (rx, ry) = (c.alloc.regs[x.as_u32() as usize], c.alloc.regs[y]);
                    if ry.is_some()
                        && ry != rx
                        && Some(*dst)
                            != Some(crate::vcode::Reg::V(crate::vcode::VReg::from_u32(y as u32)))
                    {
                        let mut bad = c.alloc.clone();
                        bad.vcode.blocks[b].insts[k].map_regs(|r| {
                            if r == crate::vcode::Reg::V(*x) {
                                crate::vcode::Reg::V(crate::vcode::VReg::from_u32(y as u32))
                            } else {
                                r
                            }
                        });
                        bad.canonical[y] = c.alloc.canonical[x.as_u32() as usize];
                        if checker::check(&bad).is_err() {
                            found = true;
                            break 'outer;
                        }
                    }
                }
            }
        }
    }
    assert!(
        found,
        "reading a value from another value's register must be caught"
    );
}

#[test]
fn print_vcode_shows_every_stage() {
    let mut m = Module {
        max_string_len: MSL,
        ..Module::default()
    };
    m.probes.push(ProbeFunction {
        kind: ProbeKind::Begin { priority: 0 },
        point: "begin".into(),
        func: pressure_fn(2),
    });
    let text = crate::print_vcode(&m, &new_target()).unwrap();
    assert!(
        text.starts_with("vcode pressure {\nL0:\n    v0 = r1\n"),
        "{text}"
    );
    assert!(
        text.contains("; allocated (0 spill slots, 8 bytes of stack)"),
        "{text}"
    );
    assert!(text.contains("r1 = map[stapc_control] ll"), "{text}");
    assert!(text.contains("call ringbuf_output/4"), "{text}");
}

#[test]
fn pinned_kernel_handler() {
    // g0 += 1 (plain), if g0 s> 10 raise error 0, else printf(fmt 2, g0).
    let mut f = Function::new("timer_0");
    let b = f.create_block();
    let t = f.create_block();
    let e = f.create_block();
    let g = f
        .append(b, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    let one = iconst(&mut f, b, 1);
    let x = bin(&mut f, b, BinaryOp::Add, g, one);
    f.append(b, InstData::StoreGlobal { offset: 0, arg: x }, sp());
    let ten = iconst(&mut f, b, 10);
    let c = f
        .append(
            b,
            InstData::Icmp {
                cond: IntCC::Sgt,
                args: [x, ten],
            },
            sp(),
        )
        .unwrap();
    f.append(
        b,
        InstData::Brif {
            cond: c,
            then_dest: t,
            then_args: vec![],
            else_dest: e,
            else_args: vec![],
        },
        sp(),
    );
    f.append(t, InstData::Trap { error: 0 }, sp());
    print(&mut f, e, &[x]);
    ret(&mut f, e);
    let c = compile(&f, &new_target(), false);
    let names = [
        "stapc_globals",
        "stapc_control",
        "stapc_scratch",
        "stapc_output",
    ];
    let text =
        stapc_bpf::disasm::disasm_program_with_maps(&c.insns, |i| names.get(i as usize).copied());
    assert_eq!(text, PINNED_KERNEL_HANDLER, "\n{text}");
}

/// `timer_0` of `pinned_kernel_handler`, as bpftool would print it.
const PINNED_KERNEL_HANDLER: &str = r#"   0: *(u32 *)(r10 - 8) = 0
   1: r1 = map[stapc_control] ll
   3: r2 = r10
   4: r2 += -8
   5: call 1
   6: r6 = r0
   7: if r6 == 0 goto +48
   8: r0 = *(u64 *)(r6 + 0)
   9: if r0 != 0 goto +46
  10: r1 = map[stapc_globals] ll
  12: r2 = r10
  13: r2 += -8
  14: call 1
  15: r7 = r0
  16: if r7 == 0 goto +39
  17: r1 = map[stapc_scratch] ll
  19: r2 = r10
  20: r2 += -8
  21: call 1
  22: r8 = r0
  23: if r8 == 0 goto +32
  24: r0 = *(u64 *)(r7 + 0)
  25: r9 = r0
  26: r9 += 1
  27: *(u64 *)(r7 + 0) = r9
  28: if r9 s<= 10 goto +15
  29: r0 = 1
  30: lock *(u64 *)(r6 + 8) += r0
  31: *(u64 *)(r6 + 0) = 1
  32: *(u32 *)(r8 + 0) = 3
  33: *(u32 *)(r8 + 4) = 0
  34: r1 = map[stapc_output] ll
  36: r2 = r8
  37: r3 = 8
  38: r4 = 0
  39: call 130
  40: if r0 s>= 0 goto +2
  41: r0 = 1
  42: lock *(u64 *)(r6 + 24) += r0
  43: goto +12
  44: *(u32 *)(r8 + 0) = 1
  45: *(u32 *)(r8 + 4) = 0
  46: *(u64 *)(r8 + 8) = r9
  47: r1 = map[stapc_output] ll
  49: r2 = r8
  50: r3 = 16
  51: r4 = 0
  52: call 130
  53: if r0 s>= 0 goto +2
  54: r0 = 1
  55: lock *(u64 *)(r6 + 24) += r0
  56: r0 = 0
  57: exit
"#;

// ---- the real kernel verifier ----

/// Why kernel tests cannot run here, if they cannot.
fn kernel_skip_reason() -> Option<String> {
    stapc_loader::can_load_bpf().err()
}

/// Load `funcs` as kernel programs of one object; the kernel verifier's log on rejection.
fn kernel_accepts(funcs: Vec<Function>, t: &Target) -> Result<(), String> {
    let mut m = Module {
        source_name: "<test>".into(),
        max_string_len: MSL,
        ..Module::default()
    };
    m.globals = GlobalsLayout {
        size: GLOBALS as u32,
        init: vec![0; GLOBALS],
    };
    for (k, mut func) in funcs.into_iter().enumerate() {
        func.name = format!("p{k}");
        let kind = if k % 2 == 0 {
            ProbeKind::Timer {
                period_ns: 1_000_000,
                profile: false,
            }
        } else {
            ProbeKind::Kprobe {
                function: "do_nothing".into(),
                ret: false,
            }
        };
        m.probes.push(ProbeFunction {
            kind,
            point: "test".into(),
            func,
        });
    }
    let obj = crate::compile(&m, t, &SourceMap::new()).map_err(|d| format!("{d:?}"))?;
    match stapc_loader::load(&obj) {
        Ok(_) => Ok(()),
        Err(e) => {
            let which = format!("{e}");
            let name = obj.programs.iter().find(|p| which.contains(&p.name));
            let listing = name
                .map(|p| stapc_bpf::disasm::disasm_program(&p.insns))
                .unwrap_or_default();
            Err(format!("{which}\n{listing}"))
        }
    }
}

fn construct_functions() -> Vec<Function> {
    let mut fs = vec![
        divmod_fn(0, false),
        divmod_fn(-1, true),
        pressure_fn(4),
        pressure_fn(12),
        {
            let mut f = Function::new("x");
            let b = f.create_block();
            ret(&mut f, b);
            f
        },
    ];
    for kind in 0..5 {
        fs.push(strings_fn("abc", "defgh", kind));
    }
    fs.push(exit_trap_fn(false));
    fs.push(exit_trap_fn(true));
    fs
}

#[test]
fn kernel_verifier_accepts_every_construct() {
    if let Some(why) = kernel_skip_reason() {
        println!("skipping: cannot load BPF here: {why}");
        return;
    }
    for t in [new_target(), old_target()] {
        if let Err(e) = kernel_accepts(construct_functions(), &t) {
            panic!("kernel {}: {e}", t.kernel);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn kernel_verifier_accepts_generated_functions(
        ops in proptest::collection::vec(op_strategy(), 1..30),
        old in any::<bool>(),
    ) {
        if kernel_skip_reason().is_none() {
            let t = if old { old_target() } else { new_target() };
            let r = kernel_accepts(vec![build(&ops)], &t);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}

#[test]
fn kernel_harness_reports_rejections() {
    if let Some(why) = kernel_skip_reason() {
        println!("skipping: cannot load BPF here: {why}");
        return;
    }
    let mut m = Module {
        source_name: "<test>".into(),
        max_string_len: MSL,
        ..Module::default()
    };
    m.globals = GlobalsLayout {
        size: GLOBALS as u32,
        init: vec![0; GLOBALS],
    };
    let kind = ProbeKind::Timer {
        period_ns: 1_000_000,
        profile: false,
    };
    m.probes.push(ProbeFunction {
        kind,
        point: "t".into(),
        func: divmod_fn(0, false),
    });
    let mut obj = crate::compile(&m, &new_target(), &SourceMap::new()).unwrap();
    assert!(stapc_loader::load(&obj).is_ok());
    // Push a store to the globals out of the map value: the kernel must say no.
    let p = &mut obj.programs[0].insns;
    let k = p
        .iter()
        .position(|i| i.code == BPF_STX | BPF_MEM | BPF_DW)
        .unwrap();
    p[k].off = 4000;
    let err = stapc_loader::load(&obj).unwrap_err().to_string();
    assert!(err.contains("invalid access to map value"), "{err}");
}

/// Replace context reads (which differ between the kernel and the IR
/// interpreter) with constants.
fn without_context(mut f: Function) -> Function {
    for data in f.insts.values_mut() {
        if let InstData::Context { op } = data {
            *data = InstData::Iconst {
                imm: 1000 + *op as i64,
            };
        }
    }
    f
}

/// Run `f` in the kernel (as a raw tracepoint program, through
/// BPF_PROG_TEST_RUN) against `w`: the maps start from `w` and are read back.
fn run_in_kernel(f: &Function, t: &Target, w: &mut World) -> Result<(), String> {
    let mut m = Module {
        source_name: "<test>".into(),
        max_string_len: MSL,
        ..Module::default()
    };
    m.globals = GlobalsLayout {
        size: GLOBALS as u32,
        init: w.globals.clone(),
    };
    let kind = ProbeKind::Timer {
        period_ns: 1_000_000,
        profile: false,
    };
    m.probes.push(ProbeFunction {
        kind,
        point: "t".into(),
        func: f.clone(),
    });
    let obj = crate::compile(&m, t, &SourceMap::new()).map_err(|d| format!("{d:?}"))?;
    let maps: Vec<stapc_loader::Map> = obj
        .maps
        .iter()
        .map(stapc_loader::Map::create_and_init)
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    maps[1]
        .update(&[0; 4], &w.control, 0)
        .map_err(|e| e.to_string())?;
    use std::os::fd::AsRawFd;
    let fds: Vec<_> = maps.iter().map(|m| m.fd().as_raw_fd()).collect();
    let p = &obj.programs[0];
    let insns = stapc_loader::patch_map_fds(&p.name, &p.insns, &fds).map_err(|e| e.to_string())?;
    let fd = stapc_loader::load_program(&stapc_loader::ProgramSpec {
        name: &p.name,
        point: &p.point,
        prog_type: stapc_bpf::ProgramType::RawTracepoint,
        expected_attach_type: 0,
        insns: &insns,
        license: "GPL",
        lines: None,
    })
    .map_err(|e| e.to_string())?;
    use std::os::fd::AsFd;
    let r = stapc_loader::test_run(fd.as_fd(), &[0u8; 8]).map_err(|e| e.to_string())?;
    if r.retval != 0 {
        return Err(format!("returned {}", r.retval));
    }
    let read = |m: &stapc_loader::Map| -> Result<Vec<u8>, String> {
        m.lookup(&[0; 4])
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no entry".to_string())
    };
    w.globals = read(&maps[0])?;
    w.control = read(&maps[1])?;
    let mut reader = stapc_loader::RingBufReader::new(&maps[3]).map_err(|e| e.to_string())?;
    reader.read(|rec| w.records.push(rec.to_vec()));
    Ok(())
}

/// Ring buffer but no ISA v4: the signed division expansion.
fn mid_target() -> Target {
    Target::new(KernelVersion::new(5, 10))
}

fn kernel_agrees(f: &Function, globals: &[u8]) -> Result<(), String> {
    kernel_agrees_on(f, &new_target(), globals)?;
    kernel_agrees_on(f, &mid_target(), globals)
}

fn kernel_agrees_on(f: &Function, t: &Target, globals: &[u8]) -> Result<(), String> {
    let mut want = World::new(GLOBALS);
    want.globals.copy_from_slice(globals);
    let mut got = want.clone();
    run_ir(f, MSL as usize, &mut want)?;
    run_in_kernel(f, t, &mut got)?;
    if got != want {
        return Err(format!(
            "kernel {} differs:\n{got:?}\nIR {want:?}",
            t.kernel
        ));
    }
    Ok(())
}

#[test]
fn kernel_runs_constructs_like_the_ir_says() {
    if let Some(why) = kernel_skip_reason() {
        println!("skipping: cannot load BPF here: {why}");
        return;
    }
    let mut g = vec![0u8; GLOBALS];
    for (a, b) in [(7i64, -2i64), (i64::MIN, -1), (-9, 4)] {
        g[..8].copy_from_slice(&a.to_le_bytes());
        g[8..16].copy_from_slice(&b.to_le_bytes());
        kernel_agrees(&divmod_fn(0, false), &g).unwrap();
    }
    let long = "y".repeat(60);
    for (a, b) in [
        ("abc", "abd"),
        ("", "x"),
        ("hello ", "world"),
        (long.as_str(), "tail"),
    ] {
        for kind in 0..5 {
            kernel_agrees(&strings_fn(a, b, kind), &g)
                .unwrap_or_else(|e| panic!("{a:?} {b:?} {kind}: {e}"));
        }
    }
    kernel_agrees(&without_context(pressure_fn(12)), &g).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn kernel_runs_generated_functions_like_the_ir_says(
        ops in proptest::collection::vec(op_strategy(), 1..30),
        g in proptest::collection::vec(any::<u8>(), GLOBALS),
    ) {
        if kernel_skip_reason().is_none() {
            let r = kernel_agrees(&without_context(build(&ops)), &g);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}

// ---- the simulator ----

/// Run `f` as the only program of an object on the simulator, with an
/// event context matching the IR interpreter's context values.
fn run_on_sim(f: &Function, t: &Target, userspace: bool, w: &mut World) -> Result<(), String> {
    use crate::testutil::{COMM, CPU, KTIME, PID_TGID, UID_GID};
    use stapc_sim::MapStore;
    let mut m = Module {
        source_name: "<test>".into(),
        max_string_len: MSL,
        ..Module::default()
    };
    m.globals = GlobalsLayout {
        size: GLOBALS as u32,
        init: w.globals.clone(),
    };
    let kind = if userspace {
        ProbeKind::Begin { priority: 0 }
    } else {
        ProbeKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        }
    };
    m.probes.push(ProbeFunction {
        kind,
        point: "t".into(),
        func: f.clone(),
    });
    let obj = crate::compile(&m, t, &SourceMap::new()).map_err(|d| format!("{d:?}"))?;
    // CPU is 3 in the event context: the per-CPU maps need that many.
    let mut store = stapc_sim::SimMaps::new(&obj.maps, 4).map_err(|e| e.to_string())?;
    for (i, map) in obj.maps.iter().enumerate() {
        for (k, v) in &map.init {
            store
                .update(i as u32, k, v, 0, None)
                .map_err(|e| e.to_string())?;
        }
    }
    store
        .update(1, &[0; 4], &w.control, 0, None)
        .map_err(|e| e.to_string())?;
    let mut machine =
        stapc_sim::Machine::new(Box::new(store), stapc_sim::MachineOptions::default());
    machine.set_event(stapc_sim::EventContext {
        pid: (PID_TGID >> 32) as u32,
        tid: PID_TGID as u32,
        uid: UID_GID as u32,
        gid: (UID_GID >> 32) as u32,
        comm: String::from_utf8_lossy(COMM).into_owned(),
        cpu: CPU as u32,
        time_ns: KTIME,
        ..Default::default()
    });
    let code = stapc_sim::Code::new(&obj.programs[0].insns);
    let ctx = if userspace { vec![] } else { vec![0u8; 128] };
    let out = machine.run(&code, &ctx).map_err(|e| format!("{e:?}"))?;
    if out.r0 != 0 {
        return Err(format!("returned {}", out.r0));
    }
    let store = machine.store_mut();
    let get = |s: &mut dyn MapStore, map| -> Result<Vec<u8>, String> {
        s.lookup(map, &[0; 4], 0)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "no entry".to_string())
    };
    w.globals = get(store, 0)?;
    w.control = get(store, 1)?;
    w.records.extend(store.drain(3).map_err(|e| e.to_string())?);
    Ok(())
}

fn sim_agrees(f: &Function, t: &Target, userspace: bool, globals: &[u8]) -> Result<(), String> {
    let mut want = World::new(GLOBALS);
    want.globals.copy_from_slice(globals);
    let mut got = want.clone();
    run_ir(f, MSL as usize, &mut want)?;
    run_on_sim(f, t, userspace, &mut got)?;
    if got != want {
        return Err(format!(
            "sim differs (kernel {}, userspace {userspace}):\n{got:?}\nIR {want:?}",
            t.kernel
        ));
    }
    Ok(())
}

#[test]
fn sim_runs_constructs_like_the_ir_says() {
    let mut g = vec![0u8; GLOBALS];
    for t in [new_target(), mid_target(), old_target()] {
        for userspace in [false, true] {
            for (a, b) in [(7i64, -2i64), (i64::MIN, -1), (-9, 4)] {
                g[..8].copy_from_slice(&a.to_le_bytes());
                g[8..16].copy_from_slice(&b.to_le_bytes());
                sim_agrees(&divmod_fn(0, false), &t, userspace, &g).unwrap();
            }
            for (a, b) in [
                ("abc", "abd"),
                ("", "x"),
                ("hello ", "world"),
                ("\u{e9}", "e"),
            ] {
                for kind in 0..5 {
                    sim_agrees(&strings_fn(a, b, kind), &t, userspace, &g)
                        .unwrap_or_else(|e| panic!("{a:?} {b:?} {kind}: {e}"));
                }
            }
            for v in [0i64, 1] {
                g[..8].copy_from_slice(&v.to_le_bytes());
                sim_agrees(&exit_trap_fn(false), &t, userspace, &g).unwrap();
                sim_agrees(&exit_trap_fn(true), &t, userspace, &g).unwrap();
            }
            sim_agrees(&pressure_fn(12), &t, userspace, &g).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn sim_runs_generated_functions_like_the_ir_says(
        ops in proptest::collection::vec(op_strategy(), 1..40),
        g in proptest::collection::vec(any::<u8>(), GLOBALS),
        userspace in any::<bool>(),
        which in 0usize..3,
    ) {
        let t = [new_target(), mid_target(), old_target()][which];
        let r = sim_agrees(&build(&ops), &t, userspace, &g);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

#[test]
fn shared_reloads_are_correct_at_any_window() {
    for n in [6, 12, 20] {
        let f = pressure_fn(n);
        let layout = crate::isel::scratch_layout(&f, MSL, false).unwrap();
        let vc = crate::isel::lower(&f, &new_target(), MSL, false, &layout).unwrap();
        let plain = crate::regalloc::allocate_with(&vc, 512, 0).unwrap();
        checker::check(&plain).unwrap();
        for window in [1, 8, usize::MAX] {
            match crate::regalloc::allocate_with(&vc, 512, window) {
                Ok(a) => {
                    checker::check(&a).unwrap_or_else(|e| panic!("window {window}: {e}"));
                }
                Err(e) => assert!(matches!(e, crate::BackendError::Regalloc { .. }), "{e}"),
            }
        }
    }
}

#[test]
fn objects_round_trip_through_elf() {
    let mut m = Module {
        source_name: "x.stp".into(),
        max_string_len: MSL,
        ..Module::default()
    };
    m.globals = GlobalsLayout {
        size: GLOBALS as u32,
        init: (0..GLOBALS).map(|i| i as u8).collect(),
    };
    m.formats.push(stapc_bpf::Format {
        text: "%d\n".into(),
        args: vec![stapc_bpf::ArgKind::Long],
    });
    m.errors.push(stapc_bpf::ErrorMsg {
        message: "division by 0".into(),
        location: "x.stp:1:1".into(),
    });
    let kinds = [
        ProbeKind::Begin { priority: 0 },
        ProbeKind::Timer {
            period_ns: 1_000_000,
            profile: false,
        },
        ProbeKind::Tracepoint {
            group: "sched".into(),
            name: "sched_switch".into(),
        },
        ProbeKind::End { priority: 0 },
    ];
    for (k, kind) in kinds.into_iter().enumerate() {
        let mut func = [
            pressure_fn(6),
            strings_fn("a", "b", 1),
            exit_trap_fn(true),
            divmod_fn(0, false),
        ][k]
            .clone();
        func.name = format!("p{k}");
        m.probes.push(ProbeFunction {
            kind,
            point: format!("point{k}"),
            func,
        });
    }
    for t in [new_target(), old_target()] {
        let obj = crate::compile(&m, &t, &SourceMap::new()).unwrap();
        let bytes = stapc_bpf::elf::write(&obj).unwrap();
        assert_eq!(stapc_bpf::elf::read(&bytes).unwrap(), obj);
    }
}

#[test]
fn programs_longer_than_a_jump_offset_still_compile() {
    // ~35k instructions: more than a 16-bit jump reaches.
    let mut ops = Vec::new();
    for k in 0..2300usize {
        ops.push(Op::Diamond(k % 10, k % 5, k % 7, k % 3, (k / 3) % 3));
        ops.push(Op::Store((k % 8) as u8, k % 9));
    }
    let f = build_keeping(&ops, 4);
    let mut g = vec![0u8; GLOBALS];
    g[..8].copy_from_slice(&5i64.to_le_bytes());
    let mut want = World::new(GLOBALS);
    want.globals.copy_from_slice(&g);
    run_ir(&f, MSL as usize, &mut want).unwrap();
    // ISA v4: far jumps become gotol; before: returns are placed in reach.
    for t in [new_target(), mid_target()] {
        let t = Target {
            privileged: true,
            ..t
        };
        let c = compile_function(&f, &t, MSL, false, &SourceMap::new()).unwrap();
        assert!(c.insns.len() > i16::MAX as usize, "{}", c.insns.len());
        let gotols = count(&c.insns, |i| i.code == BPF_JMP32 | BPF_JA);
        assert_eq!(gotols > 0, t.has_isa_v4(), "{gotols} gotol");
        check_program(&c.insns);
        let mut got = World::new(GLOBALS);
        got.globals.copy_from_slice(&g);
        run_bpf(&c.insns, c.scratch_size as usize, &mut got).unwrap();
        assert_eq!(got, want);
    }
    // The unprivileged limit is reported, not a jump-range failure.
    match compile_function(&f, &new_target(), MSL, false, &SourceMap::new()) {
        Err(crate::BackendError::TooManyInsns { limit: 4096, .. }) => {}
        other => panic!(
            "expected the instruction limit, got {:?}",
            other.map(|c| c.insns.len())
        ),
    }
}

fn arb_inst() -> impl Strategy<Value = InstData> {
    use cranelift_entity::EntityRef;
    let v = (0usize..40).prop_map(Value::new);
    let bl = (0usize..6).prop_map(Block::new);
    let sl = (0usize..4).prop_map(Slot::new);
    let vs = proptest::collection::vec(v.clone(), 0..3);
    prop_oneof![
        any::<i64>().prop_map(|imm| InstData::Iconst { imm }),
        (0usize..11, v.clone(), v.clone()).prop_map(|(o, a, b)| InstData::Binary {
            op: BINOPS[o],
            args: [a, b]
        }),
        (0usize..10, v.clone(), v.clone()).prop_map(|(c, a, b)| InstData::Icmp {
            cond: CCS[c],
            args: [a, b]
        }),
        (0u32..400).prop_map(|offset| InstData::LoadGlobal { offset }),
        (0u32..400, v.clone()).prop_map(|(offset, arg)| InstData::StoreGlobal { offset, arg }),
        (0u32..400, v.clone()).prop_map(|(offset, arg)| InstData::AtomicAddGlobal { offset, arg }),
        (sl.clone(), ".{0,20}").prop_map(|(dst, value)| InstData::StrConst { dst, value }),
        (sl.clone(), sl.clone(), sl.clone())
            .prop_map(|(dst, a, b)| InstData::StrConcat { dst, args: [a, b] }),
        (sl.clone(), sl.clone()).prop_map(|(a, b)| InstData::StrCompare { args: [a, b] }),
        // Constants with zero words, immediates and 64-bit words; some
        // prefixes of each other (`[ab]` letters) so every outcome happens.
        (sl.clone(), "[ab]{0,3}|[ab]{4,12}|[a-z\\x80-\\xff]{0,70}")
            .prop_map(|(arg, value)| InstData::StrCompareConst { arg, value }),
        (sl.clone(), 0u32..400).prop_map(|(dst, offset)| InstData::StrLoadGlobal { dst, offset }),
        (0usize..6).prop_map(|k| InstData::Context { op: CTX[k] }),
        (sl.clone()).prop_map(|dst| InstData::StrContext {
            dst,
            op: StrContextOp::Execname
        }),
        (vs.clone(), sl.clone()).prop_map(|(vs, s)| InstData::Printf {
            format: 0,
            args: vs
                .into_iter()
                .map(OutArg::Long)
                .chain([OutArg::Str(s)])
                .collect()
        }),
        Just(InstData::Exit),
        (bl.clone(), vs.clone()).prop_map(|(dest, args)| InstData::Jump { dest, args }),
        (v.clone(), bl.clone(), vs.clone(), bl.clone(), vs.clone()).prop_map(
            |(cond, t, ta, e, ea)| {
                InstData::Brif {
                    cond,
                    then_dest: t,
                    then_args: ta,
                    else_dest: e,
                    else_args: ea,
                }
            }
        ),
        Just(InstData::Return),
        (0u32..3).prop_map(|error| InstData::Trap { error }),
        (0u32..3, sl).prop_map(|(error, msg)| InstData::TrapMsg { error, msg }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_ir_never_panics(
        blocks in proptest::collection::vec(
            (0usize..3, proptest::collection::vec(arb_inst(), 0..8)), 1..6),
        slots in 0usize..4,
        msl in prop_oneof![Just(8u32), Just(64), Just(13), Just(0)],
        userspace in any::<bool>(),
    ) {
        let mut f = Function::new("arb");
        let ids: Vec<Block> = blocks.iter().map(|_| f.create_block()).collect();
        for _ in 0..slots {
            f.create_slot(msl);
        }
        for (b, (params, insts)) in ids.iter().zip(blocks) {
            for _ in 0..params {
                f.append_block_param(*b);
            }
            for i in insts {
                f.append(*b, i, sp());
            }
        }
        for t in [new_target(), old_target()] {
            let _ = compile_function(&f, &t, msl, userspace, &SourceMap::new());
        }
    }
}

/// Parallel moves beyond swaps: a 3-cycle, a duplicated source, a constant
/// and a parameter passed to itself, all on one back edge.
#[test]
fn block_params_rotate_duplicate_and_take_constants() {
    let mut f = Function::new("rot");
    let e = f.create_block();
    let h = f.create_block();
    let body = f.create_block();
    let exit = f.create_block();
    let params: Vec<Value> = (0..6).map(|_| f.append_block_param(h)).collect();
    let (i, a, b, c, d, keep) = (
        params[0], params[1], params[2], params[3], params[4], params[5],
    );
    let init: Vec<Value> = (0..6)
        .map(|k| {
            f.append(e, InstData::LoadGlobal { offset: 8 * k }, sp())
                .unwrap()
        })
        .collect();
    let zero = iconst(&mut f, e, 0);
    let mut args = init.clone();
    args[0] = zero;
    f.append(e, InstData::Jump { dest: h, args }, sp());
    let n = iconst(&mut f, h, 7);
    let cond = f
        .append(
            h,
            InstData::Icmp {
                cond: IntCC::Slt,
                args: [i, n],
            },
            sp(),
        )
        .unwrap();
    f.append(
        h,
        InstData::Brif {
            cond,
            then_dest: body,
            then_args: vec![],
            else_dest: exit,
            else_args: vec![],
        },
        sp(),
    );
    let one = iconst(&mut f, body, 1);
    let i2 = bin(&mut f, body, BinaryOp::Add, i, one);
    let big = iconst(&mut f, body, 0x1_0000_0001);
    // (i, a, b, c, d, keep) <- (i + 1, b, c, a, a, keep) on odd steps via a
    // diamond, (i + 1, c, a, b, big, keep) on even ones.
    let odd = f.create_block();
    let even = f.create_block();
    let bit = bin(&mut f, body, BinaryOp::And, i, one);
    f.append(
        body,
        InstData::Brif {
            cond: bit,
            then_dest: odd,
            then_args: vec![],
            else_dest: even,
            else_args: vec![],
        },
        sp(),
    );
    f.append(
        odd,
        InstData::Jump {
            dest: h,
            args: vec![i2, b, c, a, a, keep],
        },
        sp(),
    );
    f.append(
        even,
        InstData::Jump {
            dest: h,
            args: vec![i2, c, a, b, big, keep],
        },
        sp(),
    );
    print(&mut f, exit, &[i, a, b, c, d, keep]);
    ret(&mut f, exit);
    let g: Vec<u8> = (0..GLOBALS).map(|k| (k * 7 + 1) as u8).collect();
    for t in [new_target(), old_target()] {
        agree(&f, &t, false, &g);
        sim_agrees(&f, &t, true, &g).unwrap();
    }
}

#[test]
fn every_program_jumps_in_range_has_no_dead_code_and_never_writes_r10() {
    let mut count = 0;
    for t in [new_target(), mid_target(), old_target()] {
        for userspace in [false, true] {
            for f in construct_functions() {
                // `compile` runs `check_program`: encodings, jump targets
                // inside the program, reachability of every slot, no r10 writes.
                let c = compile(&f, &t, userspace);
                count += c.insns.len();
                for (pc, i) in c.insns.iter().enumerate() {
                    if i.class() == BPF_JMP && !matches!(i.code & 0xf0, BPF_CALL | BPF_EXIT) {
                        let target = pc as i64 + 1 + i64::from(i.off);
                        assert!((0..c.insns.len() as i64).contains(&target), "jump at {pc}");
                    }
                }
            }
        }
    }
    assert!(count > 1000);
}

/// A branch over a 35k-instruction region: `gotol` on ISA v4 (run in the
/// kernel when possible), a clear error before it.
#[test]
fn branches_beyond_16_bits_use_gotol_on_isa_v4() {
    let mut f = Function::new("far");
    let b = f.create_block();
    let big = f.create_block();
    let done = f.create_block();
    let g = f
        .append(b, InstData::LoadGlobal { offset: 0 }, sp())
        .unwrap();
    f.append(
        b,
        InstData::Brif {
            cond: g,
            then_dest: big,
            then_args: vec![],
            else_dest: done,
            else_args: vec![],
        },
        sp(),
    );
    for k in 0..35_000u32 {
        let c = iconst(&mut f, big, i64::from(k));
        f.append(
            big,
            InstData::StoreGlobal {
                offset: 8 + (k % 7) * 8,
                arg: c,
            },
            sp(),
        );
    }
    f.append(
        big,
        InstData::Jump {
            dest: done,
            args: vec![],
        },
        sp(),
    );
    print(&mut f, done, &[g]);
    ret(&mut f, done);
    let t = Target {
        privileged: true,
        ..new_target()
    };
    let c = compile_function(&f, &t, MSL, false, &SourceMap::new()).unwrap();
    assert!(c.insns.iter().any(|i| i.code == BPF_JMP32 | BPF_JA));
    check_program(&c.insns);
    for v in [0i64, 1] {
        let mut gl = vec![0u8; GLOBALS];
        gl[..8].copy_from_slice(&v.to_le_bytes());
        agree(&f, &t, false, &gl);
        if kernel_skip_reason().is_none() {
            kernel_agrees_on(&f, &t, &gl).unwrap();
        }
    }
    let old = Target {
        privileged: true,
        ..mid_target()
    };
    assert!(matches!(
        compile_function(&f, &old, MSL, false, &SourceMap::new()),
        Err(crate::BackendError::BranchOutOfRange { .. })
    ));
}

#[test]
fn stack_errors_point_at_the_probe_and_say_what_to_do() {
    let mut sm = SourceMap::new();
    let file = sm.add("x.stp", "probe timer.ms(1) { lots }\n");
    let mut f = Function::new("huge");
    let b = f.create_block();
    let vals: Vec<Value> = (0..80)
        .map(|_| {
            f.append(
                b,
                InstData::Context {
                    op: ContextOp::KtimeNs,
                },
                Span::new(file, 20, 24),
            )
            .unwrap()
        })
        .collect();
    for chunk in vals.chunks(8) {
        print(&mut f, b, chunk);
    }
    ret(&mut f, b);
    let mut m = Module {
        max_string_len: MSL,
        ..Module::default()
    };
    let kind = ProbeKind::Timer {
        period_ns: 1_000_000,
        profile: false,
    };
    m.probes.push(ProbeFunction {
        kind,
        point: "timer.ms(1)".into(),
        func: f,
    });
    let d = crate::compile(&m, &new_target(), &sm).unwrap_err();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "B0002");
    assert_eq!(d[0].primary_span(), Some(Span::new(file, 20, 24)));
    assert!(d[0]
        .help
        .as_deref()
        .is_some_and(|h| h.contains("fewer values")));
    // A layout naming a block that does not exist is an error, not a panic.
    let mut bad = Function::new("bad");
    bad.layout.push(Block::from_u32(7));
    m.probes[0].func = bad;
    assert!(crate::compile(&m, &new_target(), &sm).is_err());
}

// ---- statistics ----

fn stat_desc(log: bool, linear: Option<(i64, i64, i64)>) -> stapc_bpf::StatDesc {
    stapc_bpf::StatDesc {
        name: "s".into(),
        map: 4,
        keys: vec![],
        log,
        linear,
    }
}

/// `s <<< v` for each value (passed through a global, so not a constant),
/// then a histogram print.
fn stat_fn(values: &[i64]) -> Function {
    let mut f = Function::new("k");
    let b = f.create_block();
    for (k, &v) in values.iter().enumerate() {
        let off = 8 * (k as u32 % 8);
        let c = iconst(&mut f, b, v);
        f.append(
            b,
            InstData::StoreGlobal {
                offset: off,
                arg: c,
            },
            sp(),
        );
        let x = f
            .append(b, InstData::LoadGlobal { offset: off }, sp())
            .unwrap();
        f.append(
            b,
            InstData::StatAdd {
                stat: 0,
                arg: x,
                key: None,
            },
            sp(),
        );
    }
    f.append(b, InstData::PrintHist { hist: 0, key: None }, sp());
    ret(&mut f, b);
    f
}

fn stat_agree(values: &[i64], desc: stapc_bpf::StatDesc, t: &Target) {
    let f = stat_fn(values);
    let c = crate::compile_function_with(
        &f,
        t,
        MSL,
        false,
        std::slice::from_ref(&desc),
        &SourceMap::new(),
    )
    .unwrap_or_else(|e| panic!("compile failed: {e}"));
    checker::check(&c.alloc).unwrap();
    check_program(&c.insns);
    let mut want = World::new(GLOBALS);
    want.stats = vec![(desc.clone(), vec![0; desc.value_size() as usize])];
    let mut got = want.clone();
    run_ir(&f, MSL as usize, &mut want).expect("IR run");
    run_bpf(&c.insns, c.scratch_size as usize, &mut got)
        .unwrap_or_else(|e| panic!("bpf run: {e}\n{}", c.alloc.physical()));
    assert_eq!(got, want, "\n{}", c.alloc.physical());
}

#[test]
fn stat_add_counts_and_buckets_extremes() {
    let values = [
        0,
        1,
        -1,
        2,
        3,
        1000,
        -1000,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
        49,
        50,
        59,
        60,
        -3,
    ];
    for t in [new_target(), old_target()] {
        stat_agree(&values, stat_desc(true, Some((0, 50, 10))), &t);
        stat_agree(
            &values,
            stat_desc(false, Some((-1 << 40, 1 << 40, 1 << 33))),
            &t,
        );
        stat_agree(&values, stat_desc(true, None), &t);
        stat_agree(&values, stat_desc(false, None), &t);
    }
}

#[test]
fn stat_add_is_branch_free_in_the_log_bucket() {
    // Lookup, count/sum/min/max, log bucket: the verifier should see few
    // paths, so the number of conditional jumps stays small.
    let f = stat_fn(&[5]);
    let desc = stat_desc(true, None);
    let c = crate::compile_function_with(&f, &new_target(), MSL, false, &[desc], &SourceMap::new())
        .unwrap();
    let jumps = count(&c.insns, |i| {
        i.class() == BPF_JMP && !matches!(i.code & 0xf0, BPF_JA | BPF_CALL | BPF_EXIT)
    });
    // prologue (control NULL, exit flag, globals NULL, scratch NULL),
    // stat NULL, first value, min, max, log index bound, output dropped.
    assert!(jumps <= 10, "{jumps} conditional jumps");
    assert!(
        c.insns.len() as u64 <= stapc_midend::budget::STAT_ADD_COST + 60,
        "{}",
        c.insns.len()
    );
}

#[test]
fn stat_add_cost_matches_the_midend_budget() {
    let desc = stat_desc(true, Some((-50, 50, 10)));
    let len = |values: &[i64]| {
        let f = stat_fn(values);
        crate::compile_function_with(
            &f,
            &new_target(),
            MSL,
            false,
            std::slice::from_ref(&desc),
            &SourceMap::new(),
        )
        .unwrap()
        .insns
        .len() as i64
    };
    // One value: the StatAdd, plus the globals lookup (6) and the global
    // store/load of the value (3).
    let one = len(&[5]) - len(&[]) - 9;
    let budget = stapc_midend::budget::STAT_ADD_COST as i64;
    assert!((one - budget).abs() <= 4, "{one} vs {budget}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn stat_add_agrees_with_the_reference(
        values in proptest::collection::vec(
            prop_oneof![any::<i64>(), -300i64..300, (0u32..64).prop_map(|k| 1i64 << k)],
            1..6,
        ),
        start in -100i64..100,
        width in 1i64..200,
        interval in 1i64..40,
    ) {
        let desc = stat_desc(true, Some((start, start + width, interval)));
        stat_agree(&values, desc, &new_target());
    }
}
// ---- arrays ----
mod arrays;
