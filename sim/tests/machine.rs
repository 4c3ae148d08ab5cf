//! Instruction-level tests of the interpreter: every class with pinned
//! results, and every kind of fault.

mod common;

use bpf::insn::*;
use bpf::{Insn, MapKind};
use common::*;
use stapc_sim::memory::RegionKind;
use stapc_sim::{Code, ExecError};

#[test]
fn alu64_register_ops() {
    assert_eq!(alu64(BPF_ADD, 5, 7), 12);
    assert_eq!(alu64(BPF_ADD, -1, 1), 0);
    assert_eq!(alu64(BPF_SUB, 5, 7), -2i64 as u64);
    assert_eq!(alu64(BPF_MUL, 1 << 40, 1 << 30), 0); // wraps
    assert_eq!(alu64(BPF_MUL, -3, 5), -15i64 as u64);
    assert_eq!(alu64(BPF_DIV, 100, 7), 14);
    assert_eq!(alu64(BPF_DIV, -1, 2), u64::MAX / 2); // unsigned
    assert_eq!(alu64(BPF_DIV, 5, 0), 0);
    assert_eq!(alu64(BPF_MOD, 100, 7), 2);
    assert_eq!(alu64(BPF_MOD, 5, 0), 5);
    assert_eq!(alu64(BPF_OR, 0xf0, 0x0f), 0xff);
    assert_eq!(alu64(BPF_AND, 0xf0, 0x3c), 0x30);
    assert_eq!(alu64(BPF_XOR, 0xff, 0x0f), 0xf0);
    assert_eq!(alu64(BPF_LSH, 1, 63), 1 << 63);
    assert_eq!(alu64(BPF_LSH, 1, 65), 2); // masked to 6 bits
    assert_eq!(alu64(BPF_RSH, -1, 60), 0xf);
    assert_eq!(alu64(BPF_ARSH, -16, 2), -4i64 as u64);
    assert_eq!(alu64(BPF_MOV, 3, 9), 9);
}

#[test]
fn alu64_immediate_ops_sign_extend() {
    let p = |op: u8, a: i64, imm: i32| {
        run(&prog![
            Insn::lddw(0, a),
            Insn::alu64_imm(op, 0, imm),
            Insn::exit()
        ])
    };
    assert_eq!(p(BPF_ADD, 1, -2), u64::MAX);
    assert_eq!(p(BPF_MOV, 0, -1), u64::MAX);
    assert_eq!(p(BPF_AND, -1, -16), !15u64);
    assert_eq!(p(BPF_DIV, 9, 0), 0);
    assert_eq!(p(BPF_MOD, 9, 0), 9);
    assert_eq!(p(BPF_RSH, 256, 4), 16);
    assert_eq!(p(BPF_NEG, 5, 0), -5i64 as u64);
}

#[test]
fn alu32_ops_zero_extend() {
    assert_eq!(alu32(BPF_ADD, 0xffff_ffff, 1), 0);
    assert_eq!(alu32(BPF_ADD, 0x1_0000_0005, 1), 6);
    assert_eq!(alu32(BPF_SUB, 0, 1), 0xffff_ffff);
    assert_eq!(alu32(BPF_MUL, 0x10000, 0x10000), 0);
    assert_eq!(alu32(BPF_DIV, -1, 2), 0x7fff_ffff);
    assert_eq!(alu32(BPF_DIV, 7, 0), 0);
    assert_eq!(alu32(BPF_MOD, 0x1_0000_0007, 0), 7); // dst truncated, kept
    assert_eq!(alu32(BPF_MOD, 7, 4), 3);
    assert_eq!(alu32(BPF_LSH, 1, 33), 2); // masked to 5 bits
    assert_eq!(alu32(BPF_RSH, -1, 28), 0xf);
    assert_eq!(alu32(BPF_ARSH, 0x8000_0000, 4), 0xf800_0000);
    assert_eq!(alu32(BPF_MOV, 0, -1), 0xffff_ffff);
    assert_eq!(alu32(BPF_OR, 0xf_0000_0000, 1), 1);
    assert_eq!(alu32(BPF_XOR, 3, 1), 2);
    assert_eq!(alu32(BPF_AND, 3, 2), 2);
    assert_eq!(
        run(&prog![
            Insn::lddw(0, 5),
            Insn::alu32_imm(BPF_NEG, 0, 0),
            Insn::exit()
        ]),
        0xffff_fffb
    );
    assert_eq!(
        run(&prog![Insn::lddw(0, -1), mov32_imm(0, -2), Insn::exit()]),
        0xffff_fffe
    );
}

#[test]
fn signed_division_and_modulo() {
    let sdiv = |a: i64, b: i64| {
        run(&prog![
            Insn::lddw(0, a),
            Insn::lddw(1, b),
            Insn::sdiv64_reg(0, 1),
            Insn::exit()
        ]) as i64
    };
    let smod = |a: i64, b: i64| {
        run(&prog![
            Insn::lddw(0, a),
            Insn::lddw(1, b),
            Insn::smod64_reg(0, 1),
            Insn::exit()
        ]) as i64
    };
    assert_eq!(sdiv(7, -3), -2);
    assert_eq!(smod(7, -3), 1);
    assert_eq!(sdiv(-7, 2), -3);
    assert_eq!(smod(-7, 2), -1);
    assert_eq!(sdiv(5, 0), 0);
    assert_eq!(smod(5, 0), 5);
    assert_eq!(sdiv(i64::MIN, -1), i64::MIN);
    assert_eq!(smod(i64::MIN, -1), 0);
    // 32-bit and immediate forms.
    let sdiv32k = Insn::new(BPF_ALU | BPF_DIV | BPF_K, 0, 0, 1, -3);
    assert_eq!(
        run(&prog![Insn::lddw(0, 7), sdiv32k, Insn::exit()]),
        (-2i32) as u32 as u64
    );
    let smod32x = Insn::new(BPF_ALU | BPF_MOD | BPF_X, 0, 1, 1, 0);
    assert_eq!(
        run(&prog![
            Insn::lddw(0, -7),
            Insn::mov64_imm(1, 0),
            smod32x,
            Insn::exit()
        ]),
        0xffff_fff9
    );
    let sdiv64k = Insn::new(BPF_ALU64 | BPF_DIV | BPF_K, 0, 0, 1, -2);
    assert_eq!(
        run(&prog![Insn::lddw(0, 9), sdiv64k, Insn::exit()]),
        -4i64 as u64
    );
}

#[test]
fn sign_extending_moves_and_byte_swaps() {
    let movsx = |off: i16, alu64: bool| {
        let class = if alu64 { BPF_ALU64 } else { BPF_ALU };
        run(&prog![
            Insn::lddw(1, 0x1234_5678_9abc_def0),
            Insn::new(class | BPF_MOV | BPF_X, 0, 1, off, 0),
            Insn::exit()
        ])
    };
    assert_eq!(movsx(8, true), 0xffff_ffff_ffff_fff0);
    assert_eq!(movsx(16, true), 0xffff_ffff_ffff_def0);
    assert_eq!(movsx(32, true), 0xffff_ffff_9abc_def0);
    assert_eq!(movsx(8, false), 0xffff_fff0);
    assert_eq!(movsx(16, false), 0xffff_def0);
    let end = |class: u8, src: u8, width: i32| {
        run(&prog![
            Insn::lddw(0, 0x0102_0304_0506_0708),
            Insn::new(class | BPF_END | src, 0, 0, 0, width),
            Insn::exit()
        ])
    };
    assert_eq!(end(BPF_ALU, BPF_X, 16), 0x0807); // be16
    assert_eq!(end(BPF_ALU, BPF_X, 32), 0x0807_0605);
    assert_eq!(end(BPF_ALU, BPF_X, 64), 0x0807_0605_0403_0201);
    assert_eq!(end(BPF_ALU, BPF_K, 16), 0x0708); // le16 truncates
    assert_eq!(end(BPF_ALU, BPF_K, 32), 0x0506_0708);
    assert_eq!(end(BPF_ALU, BPF_K, 64), 0x0102_0304_0506_0708);
    assert_eq!(end(BPF_ALU64, BPF_K, 16), 0x0807); // bswap
    assert_eq!(end(BPF_ALU64, BPF_K, 32), 0x0807_0605);
    assert_eq!(end(BPF_ALU64, BPF_K, 64), 0x0807_0605_0403_0201);
}

/// (op, a, b, taken as 64-bit, taken as 32-bit)
const JUMPS: &[(u8, i64, i64, bool, bool)] = &[
    (BPF_JEQ, 5, 5, true, true),
    (BPF_JEQ, 0x1_0000_0005, 5, false, true),
    (BPF_JNE, 5, 6, true, true),
    (BPF_JGT, -1, 1, true, true),
    (BPF_JGT, 1, 1, false, false),
    (BPF_JGE, 1, 1, true, true),
    (BPF_JLT, 1, -1, true, true),
    (BPF_JLE, 2, 1, false, false),
    (BPF_JSGT, -1, 1, false, false),
    (BPF_JSGT, 2, -1, true, true),
    (BPF_JSGE, -1, -1, true, true),
    (BPF_JSLT, -5, 3, true, true),
    (BPF_JSLT, 0x8000_0000, 0, false, true),
    (BPF_JSLE, 3, 3, true, true),
    (BPF_JSET, 6, 2, true, true),
    (BPF_JSET, 0x1_0000_0000, 0x1_0000_0000, true, false),
];

#[test]
fn every_jump_condition() {
    for &(op, a, b, t64, t32) in JUMPS {
        for (class, want) in [(BPF_JMP, t64), (BPF_JMP32, t32)] {
            // Register form.
            let p = prog![
                Insn::lddw(1, a),
                Insn::lddw(2, b),
                Insn::mov64_imm(0, 0),
                Insn::new(class | op | BPF_X, 1, 2, 1, 0),
                Insn::exit(),
                Insn::mov64_imm(0, 1),
                Insn::exit(),
            ];
            assert_eq!(
                run(&p) == 1,
                want,
                "op {op:#x} class {class} {a:#x} {b:#x} (reg)"
            );
            // Immediate form, when b fits (sign-extended for 64-bit).
            if let Ok(imm) = i32::try_from(b) {
                let p = prog![
                    Insn::lddw(1, a),
                    Insn::mov64_imm(0, 0),
                    Insn::new(class | op | BPF_K, 1, 0, 1, imm),
                    Insn::exit(),
                    Insn::mov64_imm(0, 1),
                    Insn::exit(),
                ];
                assert_eq!(
                    run(&p) == 1,
                    want,
                    "op {op:#x} class {class} {a:#x} {b:#x} (imm)"
                );
            }
        }
    }
}

#[test]
fn ja_gotol_and_backward_loops() {
    let gotol = Insn::new(BPF_JMP32 | BPF_JA, 0, 0, 0, 1);
    assert_eq!(
        run(&prog![
            Insn::mov64_imm(0, 1),
            gotol,
            Insn::mov64_imm(0, 2),
            Insn::exit()
        ]),
        1
    );
    assert_eq!(
        run(&prog![
            Insn::mov64_imm(0, 1),
            Insn::ja(1),
            Insn::mov64_imm(0, 2),
            Insn::exit()
        ]),
        1
    );
    // r0 = sum 1..=10 with a backward jump.
    let p = prog![
        Insn::mov64_imm(0, 0),
        Insn::mov64_imm(1, 10),
        Insn::alu64_reg(BPF_ADD, 0, 1),
        Insn::alu64_imm(BPF_SUB, 1, 1),
        Insn::jmp_imm(BPF_JNE, 1, 0, -3),
        Insn::exit(),
    ];
    assert_eq!(run(&p), 55);
}

#[test]
fn lddw_and_memory_of_every_size() {
    assert_eq!(
        run(&prog![Insn::lddw(0, 0x1122_3344_5566_7788), Insn::exit()]),
        0x1122_3344_5566_7788
    );
    let p = prog![
        Insn::lddw(1, 0x8182_8384_8586_8788u64 as i64),
        Insn::stx(BPF_DW, 10, 1, -8),
        Insn::ldx(BPF_B, 2, 10, -8),  // 0x88
        Insn::ldx(BPF_H, 3, 10, -8),  // 0x8788
        Insn::ldx(BPF_W, 4, 10, -8),  // 0x85868788
        Insn::ldx(BPF_DW, 5, 10, -8), // all
        Insn::mov64_reg(0, 2),
        Insn::alu64_reg(BPF_ADD, 0, 3),
        Insn::alu64_reg(BPF_ADD, 0, 4),
        Insn::alu64_reg(BPF_SUB, 0, 5),
        Insn::exit(),
    ];
    let expect = 0x88u64
        .wrapping_add(0x8788)
        .wrapping_add(0x8586_8788)
        .wrapping_sub(0x8182_8384_8586_8788);
    assert_eq!(run(&p), expect);
    // Sign-extending loads.
    for (size, want) in [(BPF_B, -0x78i64), (BPF_H, -0x7878), (BPF_W, -0x7a79_7878)] {
        let p = prog![
            Insn::lddw(1, 0x8182_8384_8586_8788u64 as i64),
            Insn::stx(BPF_DW, 10, 1, -8),
            Insn::new(BPF_LDX | BPF_MEMSX | size, 0, 10, -8, 0),
            Insn::exit(),
        ];
        assert_eq!(run(&p) as i64, want, "size {size:#x}");
    }
    // Stores of every size, immediate and register.
    let p = prog![
        Insn::st(BPF_DW, 10, -8, -1),
        Insn::st(BPF_W, 10, -8, 0),
        Insn::st(BPF_H, 10, -8, 0x1234),
        Insn::mov64_imm(1, 0x56),
        Insn::stx(BPF_B, 10, 1, -8),
        Insn::mov64_imm(1, 0x77),
        Insn::stx(BPF_H, 10, 1, -2),
        Insn::stx(BPF_W, 10, 1, -16),
        Insn::ldx(BPF_DW, 0, 10, -8),
        Insn::exit(),
    ];
    assert_eq!(run(&p), 0x0077_ffff_0000_1256);
}

#[test]
fn atomics_32_and_64_bit() {
    // (op, width, initial, operand, expected memory, expected fetched)
    type Case = (i32, u8, u64, u64, u64, Option<u64>);
    let cases: &[Case] = &[
        (0x00, BPF_DW, 10, 5, 15, None),
        (BPF_FETCH, BPF_DW, 10, 5, 15, Some(10)),
        (0x40, BPF_DW, 0xf0, 0x0f, 0xff, None),
        (0x40 | BPF_FETCH, BPF_W, 0xf0, 0x0f, 0xff, Some(0xf0)),
        (0x50, BPF_W, 0xff, 0x0f, 0x0f, None),
        (0x50 | BPF_FETCH, BPF_DW, 0xff, 0x0f, 0x0f, Some(0xff)),
        (0xa0, BPF_DW, 0xff, 0x0f, 0xf0, None),
        (0xa0 | BPF_FETCH, BPF_W, 0xff, 0x0f, 0xf0, Some(0xff)),
        (BPF_XCHG, BPF_DW, 1, 2, 2, Some(1)),
        (BPF_XCHG, BPF_W, 1, 0x1_0000_0002, 2, Some(1)),
        (0x00, BPF_W, 0xffff_ffff, 1, 0, None), // 32-bit add wraps in its word
    ];
    for &(op, w, init, operand, mem, fetched) in cases {
        let p = prog![
            Insn::lddw(1, init as i64),
            Insn::stx(BPF_DW, 10, 1, -8),
            Insn::lddw(2, operand as i64),
            Insn::atomic(w, 10, 2, -8, op),
            Insn::ldx(BPF_DW, 0, 10, -8),
            Insn::stx(BPF_DW, 10, 2, -16),
            Insn::exit(),
        ];
        let got = run(&p);
        let width_mask = if w == BPF_W { 0xffff_ffffu64 } else { u64::MAX };
        assert_eq!(
            got,
            (init & !width_mask) | (mem & width_mask),
            "op {op:#x} w {w:#x}"
        );
        let p2 = prog![
            Insn::lddw(1, init as i64),
            Insn::stx(BPF_DW, 10, 1, -8),
            Insn::lddw(2, operand as i64),
            Insn::atomic(w, 10, 2, -8, op),
            Insn::mov64_reg(0, 2),
            Insn::exit(),
        ];
        assert_eq!(
            run(&p2),
            fetched.unwrap_or(operand),
            "fetch of op {op:#x} w {w:#x}"
        );
    }
    // cmpxchg: stores when r0 matches, always returns the old value in r0.
    for (w, r0, want_mem) in [
        (BPF_DW, 7i64, 9u64),
        (BPF_DW, 8, 7),
        (BPF_W, 0x1_0000_0007, 9),
    ] {
        let p = prog![
            Insn::mov64_imm(1, 7),
            Insn::stx(BPF_DW, 10, 1, -8),
            Insn::mov64_imm(2, 9),
            Insn::lddw(0, r0),
            Insn::atomic(w, 10, 2, -8, BPF_CMPXCHG),
            Insn::mov64_reg(3, 0),
            Insn::ldx(BPF_DW, 0, 10, -8),
            Insn::alu64_imm(BPF_LSH, 0, 8),
            Insn::alu64_reg(BPF_OR, 0, 3),
            Insn::exit(),
        ];
        assert_eq!(run(&p), (want_mem << 8) | 7, "cmpxchg w {w:#x} r0 {r0:#x}");
    }
}

#[test]
fn bpf_to_bpf_calls_preserve_callee_saved() {
    let p = prog![
        Insn::mov64_imm(6, 6),
        Insn::mov64_imm(1, 20),
        Insn::st(BPF_DW, 10, -8, 100),
        Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 4),
        Insn::alu64_reg(BPF_ADD, 0, 6), // + 6
        Insn::ldx(BPF_DW, 1, 10, -8),
        Insn::alu64_reg(BPF_ADD, 0, 1), // + 100 (caller's stack intact)
        Insn::exit(),
        // func: r0 = r1 * 2, clobbers r6 and its own stack
        Insn::mov64_reg(0, 1),
        Insn::alu64_imm(BPF_MUL, 0, 2),
        Insn::mov64_imm(6, 99),
        Insn::st(BPF_DW, 10, -8, 5),
        Insn::exit(),
    ];
    assert_eq!(run(&p), 40 + 6 + 100);
}

#[test]
fn call_depth_is_limited_to_eight_frames() {
    // Recursion: each level calls itself until the limit.
    let p = prog![
        Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, -1),
        Insn::exit()
    ];
    assert!(matches!(exec(&p), Err(ExecError::CallDepth { pc: 0 })));
    // Seven nested calls (eight frames) are fine.
    let mut p = Vec::new();
    for _ in 0..7 {
        p.push(Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1));
        p.push(Insn::exit());
    }
    p.push(Insn::mov64_imm(0, 3));
    p.push(Insn::exit());
    assert_eq!(run(&p), 3);
}

#[test]
fn callx_through_a_function_pointer_and_a_helper_id() {
    let ld_func = |dst: u8, rel: i32| {
        [
            Insn::new(BPF_LD | BPF_IMM | BPF_DW, dst, 4, 0, rel),
            Insn::new(0, 0, 0, 0, 0),
        ]
    };
    let p = prog![
        ld_func(2, 3),
        Insn::new(BPF_JMP | BPF_CALL | BPF_X, 2, 0, 0, 0),
        Insn::exit(),
        Insn::mov64_imm(0, 42),
        Insn::exit(),
    ];
    assert_eq!(run(&p), 42);
    let p = prog![
        Insn::mov64_imm(2, 8),
        Insn::new(BPF_JMP | BPF_CALL | BPF_X, 2, 0, 0, 0),
        Insn::exit()
    ];
    assert_eq!(run(&p), 0); // get_smp_processor_id
}

#[test]
fn map_handles_and_map_values_by_lddw() {
    let mut m = machine(&[map(MapKind::Array, 4, 8, 1)]);
    let p = prog![
        [
            Insn::new(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_VALUE, 0, 0),
            Insn::new(0, 0, 0, 0, 4)
        ],
        Insn::st(BPF_W, 1, 0, 77),
        Insn::ldx(BPF_W, 0, 1, 0),
        Insn::exit(),
    ];
    assert_eq!(m.run(&Code::new(&p), &[]).unwrap().r0, 77);
    // The store was written back: the value's bytes 4..8 hold 77.
    let v = m
        .store_mut()
        .lookup(0, &0u32.to_le_bytes(), 0)
        .unwrap()
        .unwrap();
    assert_eq!(&v[4..8], &77u32.to_le_bytes());
    // A map handle is not memory.
    let p = prog![Insn::ld_map(1, 0), Insn::ldx(BPF_B, 0, 1, 0), Insn::exit()];
    let e = m.run(&Code::new(&p), &[]).unwrap_err();
    assert!(
        matches!(e, ExecError::Memory { pc: 2, ref fault } if fault.region == Some(RegionKind::Map { map: 0 })),
        "{e}"
    );
    let p = prog![Insn::ld_map(1, 5), Insn::exit()];
    assert!(matches!(
        m.run(&Code::new(&p), &[]),
        Err(ExecError::BadMapReference { pc: 0, .. })
    ));
}

#[test]
fn input_memory_and_context() {
    let mut m = machine(&[]);
    let p = prog![
        Insn::ldx(BPF_W, 0, 1, 4),
        Insn::alu64_reg(BPF_ADD, 0, 2),
        Insn::exit()
    ];
    let r = m
        .run_with_memory(&Code::new(&p), Some(&[0, 0, 0, 0, 1, 2, 0, 0]))
        .unwrap();
    assert_eq!(r.r0, 0x0201 + 8);
    assert_eq!(r.executed, 3);
    // The context is read-only.
    let p = prog![Insn::st(BPF_B, 1, 0, 1), Insn::exit()];
    let e = m.run(&Code::new(&p), &[0; 8]).unwrap_err();
    assert!(
        matches!(e, ExecError::Memory { pc: 0, ref fault } if fault.region == Some(RegionKind::Context))
    );
}

#[test]
fn faults_are_errors_with_locations() {
    // NULL dereference.
    let e = exec(&prog![
        Insn::mov64_imm(1, 0),
        Insn::ldx(BPF_DW, 0, 1, 0),
        Insn::exit()
    ])
    .unwrap_err();
    assert!(matches!(e, ExecError::Memory { pc: 1, ref fault } if fault.region.is_none()));
    assert_eq!(e.pc(), 1);
    assert!(e.to_string().contains("insn 1"), "{e}");
    // Past the top of the stack.
    let e = exec(&prog![Insn::ldx(BPF_DW, 0, 10, 0), Insn::exit()]).unwrap_err();
    assert!(
        matches!(e, ExecError::Memory { pc: 0, ref fault } if fault.region == Some(RegionKind::Stack { frame: 0 }) && fault.offset == 512)
    );
    // Below the bottom of the stack.
    assert!(matches!(
        exec(&prog![Insn::st(BPF_DW, 10, -520, 1), Insn::exit()]),
        Err(ExecError::Memory { .. })
    ));
    // Fuel.
    let mut m = machine(&[]);
    m.set_fuel(100);
    let e = m
        .run_with_memory(&Code::new(&[Insn::ja(-1)]), None)
        .unwrap_err();
    assert_eq!(e, ExecError::FuelExhausted { pc: 0, fuel: 100 });
    // Falling off the end, invalid opcodes, bad jumps, unknown helpers, r10 writes.
    assert_eq!(
        exec(&[Insn::mov64_imm(0, 1)]),
        Err(ExecError::FellOffEnd { pc: 1 })
    );
    assert!(matches!(
        exec(&[Insn::new(0xff, 0, 0, 0, 0)]),
        Err(ExecError::InvalidInstruction {
            pc: 0,
            code: 0xff,
            ..
        })
    ));
    assert!(matches!(
        exec(&[Insn::ja(5), Insn::exit()]),
        Err(ExecError::InvalidInstruction { pc: 0, .. })
    ));
    assert!(matches!(
        exec(&[Insn::call(9999), Insn::exit()]),
        Err(ExecError::UnknownHelper { pc: 0, id: 9999 })
    ));
    assert!(matches!(
        exec(&[Insn::mov64_imm(10, 0), Insn::exit()]),
        Err(ExecError::InvalidInstruction { .. })
    ));
    // A jump into the middle of lddw.
    let p = prog![Insn::ja(1), Insn::lddw(0, 1), Insn::exit()];
    assert!(matches!(
        exec(&p),
        Err(ExecError::InvalidInstruction { pc: 2, .. })
    ));
    // lddw cut short.
    assert!(matches!(
        exec(&[Insn::lddw(0, 1)[0]]),
        Err(ExecError::InvalidInstruction { pc: 0, .. })
    ));
    // Legacy packet access.
    assert!(matches!(
        exec(&[
            Insn::new(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 0),
            Insn::exit()
        ]),
        Err(ExecError::InvalidInstruction { .. })
    ));
    // Unknown atomic op.
    assert!(matches!(
        exec(&[Insn::atomic(BPF_DW, 10, 1, -8, 0x33), Insn::exit()]),
        Err(ExecError::InvalidInstruction { .. })
    ));
}

#[test]
fn unreachable_bad_encodings_do_not_matter() {
    let p = prog![
        Insn::mov64_imm(0, 4),
        Insn::exit(),
        Insn::new(0xff, 0, 0, 0, 0)
    ];
    assert_eq!(run(&p), 4);
}

#[test]
fn reads_of_never_written_registers_fault() {
    // r0 is never written before `or r0, r10` (the suite's negative/error.data).
    let e = exec(&[Insn::alu64_reg(BPF_OR, 0, 10), Insn::exit()]).unwrap_err();
    assert_eq!(e, ExecError::UninitRegister { pc: 0, reg: 0 });
    assert!(e.to_string().contains("r0"));
    // exit without setting r0.
    assert_eq!(
        exec(&[Insn::exit()]),
        Err(ExecError::UninitRegister { pc: 0, reg: 0 })
    );
    // r1–r5 after a helper call.
    let p = [Insn::call(8), Insn::mov64_reg(0, 1), Insn::exit()];
    assert_eq!(exec(&p), Err(ExecError::UninitRegister { pc: 1, reg: 1 }));
    // Written on one path only: allowed (the read may see a value).
    let p = prog![
        Insn::mov64_imm(1, 0),
        Insn::jmp_imm(BPF_JEQ, 2, 0, 1),
        Insn::mov64_imm(6, 5),
        Insn::mov64_reg(0, 6),
        Insn::exit(),
    ];
    assert!(exec(&p).is_ok());
    // r6 in a callee is not the caller's r6.
    let p = prog![
        Insn::mov64_imm(6, 1),
        Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1),
        Insn::exit(),
        Insn::mov64_reg(0, 6),
        Insn::exit(),
    ];
    assert_eq!(exec(&p), Err(ExecError::UninitRegister { pc: 3, reg: 6 }));
}

#[test]
fn reserved_fields_must_be_zero() {
    let bad = [
        Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 1, 0, 1), // mov imm with src
        Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 1, 1), // mov imm with off
        Insn::new(BPF_LDX | BPF_MEM | BPF_DW, 0, 10, -8, 1), // ldx with imm
        Insn::new(BPF_JMP | BPF_JA, 1, 0, 0, 0),            // ja with dst
        Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 1),          // exit with imm
        Insn::new(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1, 0, 7), // add reg with imm
    ];
    for b in bad {
        let p = [
            Insn::mov64_imm(0, 0),
            Insn::mov64_imm(1, 0),
            b,
            Insn::exit(),
        ];
        assert!(
            matches!(
                exec(&p),
                Err(ExecError::InvalidInstruction {
                    pc: 2,
                    reason: "a reserved field is not zero",
                    ..
                })
            ),
            "{b:?}"
        );
    }
}

// ---- functions/strings ----

/// `r1` levels of recursion, each with its own stack slot: returns the depth.
fn countdown() -> Vec<Insn> {
    vec![
        // if r1 == 0 return 0
        Insn::jmp_imm(BPF_JNE, 1, 0, 2),
        Insn::mov64_imm(0, 0),
        Insn::exit(),
        // keep n on this frame's stack, recurse with n - 1, add 1
        Insn::stx(BPF_DW, 10, 1, -8),
        Insn::alu64_imm(BPF_SUB, 1, 1),
        Insn::new(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, -6),
        Insn::alu64_imm(BPF_ADD, 0, 1),
        Insn::ldx(BPF_DW, 1, 10, -8),
        Insn::exit(),
    ]
}

#[test]
fn userspace_frame_limit_allows_deep_recursion() {
    let code = Code::new(&countdown());
    // Kernel default: 8 frames.
    let mut m = machine(&[]);
    assert_eq!(m.run_with_args(&code, [7, 0, 0, 0, 0]).map(|o| o.r0), Ok(7));
    assert!(matches!(
        m.run_with_args(&code, [8, 0, 0, 0, 0]),
        Err(ExecError::CallDepth { .. })
    ));
    // Raised (as the session does for userspace programs).
    m.set_max_frames(stapc_sim::memory::MAX_STACK_FRAMES);
    assert_eq!(
        m.run_with_args(&code, [200, 0, 0, 0, 0]).map(|o| o.r0),
        Ok(200)
    );
    assert!(matches!(
        m.run_with_args(
            &code,
            [stapc_sim::memory::MAX_STACK_FRAMES as u64, 0, 0, 0, 0]
        ),
        Err(ExecError::CallDepth { .. })
    ));
}
