//! Properties of the mini-verifier over generated programs: random bytecode
//! never panics it; random valid programs (ALU, stack, helper calls,
//! branches, map lookups) are accepted, and one planted defect is reported
//! with its message; limits and target changes behave like the kernel's.

use bpf::insn::*;
use bpf::{KernelVersion, MapDef, MapKind, ProgramType, Target};
use proptest::prelude::*;
use stapc_sim::verifier::corpus::{generate, generate_bounds, generate_wild, Defect, Expect};
use stapc_sim::verifier::{verify, VerifierErrorKind, VerifyOptions};

fn maps() -> Vec<MapDef> {
    let m = |name: &str, kind, k, v, max| MapDef {
        name: name.into(),
        kind,
        key_size: k,
        value_size: v,
        max_entries: max,
        init: vec![],
    };
    vec![
        m("h", MapKind::Hash, 4, 16, 64),
        m("a", MapKind::Array, 4, 64, 1),
        m("rb", MapKind::RingBuf, 0, 0, 4096),
        m("pe", MapKind::PerfEventArray, 4, 4, 0),
    ]
}

fn opts(kernel: (u32, u32), privileged: bool, prog_type: ProgramType) -> VerifyOptions {
    let mut target = Target::new(KernelVersion::new(kernel.0, kernel.1));
    target.privileged = privileged;
    VerifyOptions {
        target,
        prog_type,
        userspace: prog_type == ProgramType::Syscall,
    }
}

fn prog_type() -> impl Strategy<Value = ProgramType> {
    prop_oneof![
        Just(ProgramType::SocketFilter),
        Just(ProgramType::Kprobe),
        Just(ProgramType::Tracepoint),
        Just(ProgramType::PerfEvent),
        Just(ProgramType::RawTracepoint),
        Just(ProgramType::Syscall),
    ]
}

fn kernel() -> impl Strategy<Value = (u32, u32)> {
    prop_oneof![
        Just((4, 14)),
        Just((5, 4)),
        Just((5, 15)),
        Just((6, 1)),
        Just((6, 18))
    ]
}

/// Opcodes of real instructions, so random programs get past decoding.
const CODES: &[u8] = &[
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f,
    0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd7, 0x04, 0x0c, 0x14, 0x24, 0x34, 0x44,
    0x54, 0x64, 0x74, 0x84, 0x94, 0xa4, 0xb4, 0xbc, 0xc4, 0xd4, 0xdc, 0x05, 0x15, 0x1d, 0x25, 0x2d,
    0x35, 0x45, 0x55, 0x5d, 0x65, 0x75, 0xa5, 0xad, 0xb5, 0xc5, 0xd5, 0x16, 0x1e, 0x26, 0xa6, 0x06,
    0x85, 0x95, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73,
    0x7b, 0xc3, 0xdb, 0x18, 0x00, 0x20, 0x28, 0x30, 0x40, 0x50,
];

fn near_valid_insn() -> impl Strategy<Value = Insn> {
    (
        prop::sample::select(CODES),
        0u8..11,
        prop_oneof![0u8..11, Just(1u8), Just(2u8)],
        prop_oneof![-520i16..64, Just(0i16), -4i16..4],
        prop_oneof![
            Just(0i32),
            -16i32..70,
            Just(1),
            Just(5),
            Just(7),
            Just(14),
            Just(130),
            Just(131),
            Just(132),
            any::<i32>()
        ],
    )
        .prop_map(|(code, dst, src, off, imm)| Insn::new(code, dst, src, off, imm))
}

fn raw_insn() -> impl Strategy<Value = Insn> {
    (any::<u8>(), 0u8..16, 0u8..16, any::<i16>(), any::<i32>())
        .prop_map(|(c, d, s, o, i)| Insn::new(c, d, s, o, i))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_bytecode_never_panics(
        insns in prop::collection::vec(raw_insn(), 0..40),
        pt in prog_type(),
        k in kernel(),
        privileged in any::<bool>(),
    ) {
        let _ = verify(&insns, &maps(), &opts(k, privileged, pt));
    }

    #[test]
    fn near_valid_bytecode_never_panics(
        mut insns in prop::collection::vec(near_valid_insn(), 1..48),
        pt in prog_type(),
        k in kernel(),
        privileged in any::<bool>(),
    ) {
        // Most random programs fail the shape checks; end with an exit so
        // more of them reach the simulation.
        insns.push(Insn::exit());
        let r = verify(&insns, &maps(), &opts(k, privileged, pt));
        if let Err(e) = r {
            prop_assert!(!e.message.is_empty() && !e.explanation.is_empty());
            prop_assert!(e.insn < insns.len());
        }
    }

    #[test]
    fn wild_programs_never_panic_and_explain_rejections(seed in any::<u64>()) {
        let p = if seed % 2 == 0 { generate_wild(seed) } else { generate_bounds(seed) };
        let o = VerifyOptions { target: p.target, prog_type: p.prog_type, userspace: false };
        if let Err(e) = verify(&p.insns, &p.maps, &o) {
            prop_assert!(e.insn < p.insns.len() && !e.explanation.is_empty() && !e.state.is_empty());
        }
    }

    #[test]
    fn generated_programs_are_accepted(seed in any::<u64>()) {
        let p = generate(seed, None);
        let o = VerifyOptions { target: p.target, prog_type: p.prog_type, userspace: false };
        let r = verify(&p.insns, &p.maps, &o);
        prop_assert!(r.is_ok(), "{}: {:?}\n{}", p.name, r.err(), bpf::disasm::disasm_program(&p.insns));
    }

    #[test]
    fn generated_defects_are_found(seed in any::<u64>(), d in 0usize..4) {
        let defect = Defect::ALL[d];
        let p = generate(seed, Some(defect));
        let o = VerifyOptions { target: p.target, prog_type: p.prog_type, userspace: false };
        match verify(&p.insns, &p.maps, &o) {
            Ok(_) => prop_assert!(false, "{} accepted", p.name),
            Err(e) => {
                prop_assert!(e.message.contains(defect.message()), "{}: {}", p.name, e.message);
                // The defect is planted just before the final `r0 = r6; exit`.
                prop_assert!(e.insn + 3 >= p.insns.len(), "{}: insn {} of {}: {}", p.name, e.insn, p.insns.len(), e.message);
            }
        }
    }
}

/// A fixed set of generated programs (also loaded by the kernel comparison).
#[test]
fn two_hundred_generated_programs_get_their_verdicts() {
    let mut n = 0;
    for seed in 0..200u64 {
        let defect = if seed % 2 == 0 {
            None
        } else {
            Some(Defect::ALL[(seed / 2 % 4) as usize])
        };
        let p = generate(seed, defect);
        let o = VerifyOptions {
            target: p.target,
            prog_type: p.prog_type,
            userspace: false,
        };
        let r = verify(&p.insns, &p.maps, &o);
        match (&p.expect, r) {
            (Expect::Accept, Ok(_)) => n += 1,
            (Expect::Reject(m), Err(e)) if e.message.contains(m.as_str()) => n += 1,
            (_, r) => panic!("{}: {r:?}", p.name),
        }
    }
    assert_eq!(n, 200);
}

#[test]
fn instruction_limit_follows_the_target() {
    let mut insns = vec![Insn::mov64_imm(0, 0); 4096];
    insns.push(Insn::exit());
    let portable = opts((6, 18), false, ProgramType::Kprobe);
    let e = verify(&insns, &[], &portable).unwrap_err();
    assert_eq!(e.kind, VerifierErrorKind::ProgramSize);
    assert_eq!(
        e.message,
        "program of 4097 instructions exceeds the limit of 4096"
    );
    assert!(verify(&insns, &[], &opts((6, 18), true, ProgramType::Kprobe)).is_ok());
    // Before 5.2 even root has 4096.
    assert!(verify(&insns, &[], &opts((5, 1), true, ProgramType::Kprobe)).is_err());
    let mut over = portable.clone();
    over.target.insn_limit_override = Some(10);
    let e = verify(&insns[4080..], &[], &over).unwrap_err();
    assert!(e.message.contains("limit of 10"), "{}", e.message);
    // Userspace programs run on the simulator: no kernel size limit.
    let user = VerifyOptions {
        prog_type: ProgramType::Syscall,
        userspace: true,
        ..portable.clone()
    };
    assert!(verify(&insns, &[], &user).is_ok());
    let e = verify(&[], &[], &portable).unwrap_err();
    assert_eq!(e.kind, VerifierErrorKind::ProgramSize);
}

#[test]
fn loops_depend_on_the_kernel() {
    // r0 = 0; loop { r0 += 1 } while r0 < 10; exit
    let insns = [
        Insn::mov64_imm(0, 0),
        Insn::alu64_imm(BPF_ADD, 0, 1),
        Insn::jmp_imm(BPF_JLT, 0, 10, -2),
        Insn::exit(),
    ];
    let e = verify(&insns, &[], &opts((5, 2), true, ProgramType::Kprobe)).unwrap_err();
    assert_eq!(
        (e.kind, e.insn, e.message.as_str()),
        (VerifierErrorKind::BackEdge, 2, "back-edge from insn 2 to 1")
    );
    let s = verify(&insns, &[], &opts((5, 3), true, ProgramType::Kprobe)).unwrap();
    // Ten iterations of two instructions, plus entry and exit.
    assert!(s.processed_insns >= 20 && s.processed_insns < 40, "{s:?}");
}

#[test]
fn rejection_carries_state_and_explanation() {
    // The brief's example: an unchecked lookup result.
    let mut insns = vec![
        Insn::st(BPF_W, 10, -4, 0),
        Insn::mov64_reg(2, 10),
        Insn::alu64_imm(BPF_ADD, 2, -4),
    ];
    insns.extend(Insn::ld_map(1, 0));
    insns.push(Insn::call(1));
    insns.push(Insn::ldx(BPF_DW, 0, 0, 0));
    insns.push(Insn::exit());
    let e = verify(&insns, &maps(), &opts((6, 18), true, ProgramType::Kprobe)).unwrap_err();
    assert_eq!(e.insn, 6);
    assert_eq!(e.message, "R0 invalid mem access 'map_value_or_null'");
    assert_eq!(e.kind, VerifierErrorKind::InvalidMemAccess);
    // The 6.6+ log format, as 6.18 prints it for this program.
    assert_eq!(
        e.state,
        "R0=map_value_or_null(id=1,map=h,ks=4,vs=16) R10=fp0 fp-8=0000????"
    );
    // The format before 6.6 (and the brief's example).
    let old = verify(&insns, &maps(), &opts((6, 1), true, ProgramType::Kprobe)).unwrap_err();
    assert!(
        old.state
            .contains("R0=map_value_or_null(id=1,off=0,ks=4,vs=16)")
            && old.state.contains("R10=fp0"),
        "{}",
        old.state
    );
    assert!(e.explanation.contains("NULL"), "{}", e.explanation);
    let shown = e.to_string();
    assert!(
        shown.starts_with("insn 6: R0 invalid mem access"),
        "{shown}"
    );
}

#[test]
fn pruning_keeps_branchy_programs_linear() {
    // 200 independent `if (rand > k) r6 = k` diamonds: without pruning this
    // is 2^200 paths; with it, a few instructions per diamond.
    let mut insns = vec![Insn::mov64_imm(6, 0)];
    for k in 0..200 {
        insns.push(Insn::call(7));
        insns.push(Insn::jmp_imm(BPF_JGT, 0, k * 10, 1));
        insns.push(Insn::mov64_imm(6, k));
    }
    insns.push(Insn::mov64_imm(0, 0));
    insns.push(Insn::exit());
    let s = verify(&insns, &[], &opts((6, 18), true, ProgramType::Kprobe)).unwrap();
    assert!(s.processed_insns < 5_000, "{s:?}");
    assert!(s.states > 0 && s.peak_states >= 1, "{s:?}");
}
